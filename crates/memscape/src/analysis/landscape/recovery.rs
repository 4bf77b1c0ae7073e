//! Basins of any denoiser's attractors by recovery, and relative energies along paths
//! (Pham et al. 2025, pham.md §1.5–1.7, done better).
//!
//! **Critical level.** Trial i noises the attractor a along a fixed Gaussian direction z_i,
//! `x = a + s z_i`, integrates the probability-flow ODE `dx/dσ = (x − D(x, σ))/σ` from σ = s
//! down to the attractor's σ_a (Euler, geometric steps; Pham et al. use 20 DDIM steps), settles
//! at σ_a, and is *recovered* when it ends within delta of a. Its critical level s_i is located
//! by bisection in log s (Pham et al. walk a fixed stride of t), assuming recovery along one
//! trial's ray is monotone (exact when the basin is a half-space, as below). The recovery rate
//! at s is the share of trials with s_i > s, so the critical level at rate θ (Pham: 0.9) is
//! the (1 − θ) quantile of the s_i; its 95% interval resamples the trials.
//!
//! **Implied radius.** A flat basin boundary at distance r is crossed by the kick s z with
//! probability Φ(−r/s), so the rate is θ at s* when `r = s* Φ⁻¹(θ)`. For two patterns at
//! distance D the basin of a memory at m from the midpoint is the half-space beyond it, so
//! r = m exactly (theory.md §5). Pham et al.'s radius ‖x_0 − x_t‖ is about `s* √d`, reported
//! as `displacement`; it measures the noise, not the basin.
//!
//! **Relative energy.** `E(x) = −σ² log p_σ(x)`, so that ∇E = x − D(x, σ) (Tweedie;
//! theory.md §1; the exact model's E(x; beta = 1/σ²) up to a constant). Along the segment
//! γ(τ) = a + τ (b − a), `E(γ(τ)) − E(a) = ∫_0^τ (γ − D(γ)) · (b − a) dτ'`, by composite
//! 3-point Gauss–Legendre quadrature. For a DDPM step, σ comes from
//! [`crate::noise::DdpmSchedule`], whose ᾱ = Π(1 − β_i) (the paper's code takes Π β_i).

use ndarray::{Array1, ArrayView1, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::settle::{SettleConfig, settle};
use crate::analysis::samples::classify::percentile_interval;
use crate::denoiser::Denoiser;
use crate::error::{Error, Result};
use crate::hopfield::normal_cdf;
use crate::noise::VpSchedule;
use crate::rng::{fill_normal, stream};

/// How recovery is measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecoveryConfig {
    /// Noise directions (Pham et al.: 10).
    pub trials: usize,
    /// Recovery rate θ that defines the critical level (Pham et al.: 0.9).
    pub rate: f64,
    /// A trial is recovered when it settles within this distance of the attractor.
    pub delta: f64,
    /// Noise levels searched, [lo, hi] (VE sigma, data units).
    pub bracket: [f64; 2],
    /// Bisection stops when hi/lo < 1 + this.
    pub rel_tol: f64,
    /// Euler steps of the reverse ODE from s down to the attractor's sigma.
    pub ode_steps: usize,
    pub settle: SettleConfig,
    pub resamples: usize,
    pub seed: u64,
}

impl RecoveryConfig {
    /// Checks every field; errors name the field.
    ///
    /// ```
    /// use memscape::analysis::landscape::recovery::RecoveryConfig;
    /// use memscape::analysis::landscape::settle::SettleConfig;
    ///
    /// let config = RecoveryConfig {
    ///     trials: 10, rate: 0.9, delta: 0.1, bracket: [0.01, 5.0], rel_tol: 0.01, ode_steps: 20,
    ///     settle: SettleConfig::unit_step(1e-10, 1000), resamples: 50, seed: 0,
    /// };
    /// assert!(config.validate().is_ok());
    /// let upside_down = RecoveryConfig { bracket: [5.0, 0.01], ..config };
    /// assert_eq!(upside_down.validate().unwrap_err().to_string(), "bracket must be 0 < lo < hi < ∞, got [5, 0.01]");
    /// assert!(RecoveryConfig { rate: 1.0, ..config }.validate().unwrap_err().to_string().starts_with("rate"));
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule, named.
    pub fn validate(&self) -> Result<()> {
        if self.trials < 2 {
            return Err(Error::invalid("trials", "≥ 2", self.trials));
        }
        if !(self.rate > 0.0 && self.rate < 1.0) {
            return Err(Error::invalid("rate", "in (0, 1)", self.rate));
        }
        for (what, v) in [("delta", self.delta), ("rel_tol", self.rel_tol)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(what, "a finite number > 0", v));
            }
        }
        let [lo, hi] = self.bracket;
        if !(lo > 0.0 && hi > lo && hi.is_finite()) {
            return Err(Error::invalid(
                "bracket",
                "0 < lo < hi < ∞",
                format!("[{lo}, {hi}]"),
            ));
        }
        Ok(())
    }
}

/// The critical level of one attractor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovery {
    /// s*: the noise level at which the recovery rate falls to `rate`.
    #[serde(deserialize_with = "crate::numbers::null_as_nan")]
    pub critical_sigma: f64,
    #[serde(deserialize_with = "crate::numbers::null_as_nan_pair")]
    pub ci: [f64; 2],
    /// The diffusion time of s* on DDPM's linear schedule (VP SDE with beta 0.1..20).
    #[serde(deserialize_with = "crate::numbers::null_as_nan")]
    pub critical_t: f64,
    /// s* Φ⁻¹(rate): the distance to a flat basin boundary (see the module doc).
    #[serde(deserialize_with = "crate::numbers::null_as_nan")]
    pub radius: f64,
    #[serde(deserialize_with = "crate::numbers::null_as_nan_pair")]
    pub radius_ci: [f64; 2],
    /// s* √d: the typical distance of the noised point (Pham et al.'s radius).
    #[serde(deserialize_with = "crate::numbers::null_as_nan")]
    pub displacement: f64,
    /// Each trial's critical level, clamped to the bracket.
    pub trial_levels: Vec<f64>,
    /// Trials recovered even at the bracket's top, and not recovered at its bottom.
    pub censored_high: usize,
    pub censored_low: usize,
    /// Denoiser calls spent.
    pub calls: usize,
}

/// Φ⁻¹(p) by bisection on Φ (to 1e-14).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0_f64, 40.0_f64);
    while hi - lo > 1e-14 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The q-quantile of `values` with linear interpolation between order statistics (Hyndman &
/// Fan type 7, NumPy's default).
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < v.len() {
        v[i] + frac * (v[i + 1] - v[i])
    } else {
        v[i]
    }
}

/// Whether the attractor `a` (a fixed point at `sigma`) comes back from `a + s z`.
fn recovered(
    denoiser: &(impl Denoiser + ?Sized),
    a: ArrayView1<f64>,
    z: ArrayView1<f64>,
    s: f64,
    sigma: f64,
    config: &RecoveryConfig,
    calls: &mut usize,
) -> bool {
    let mut x = (&a + &(&z * s)).insert_axis(Axis(0));
    if s > sigma {
        let n = config.ode_steps.max(1);
        let ratio = (sigma / s).powf(1.0 / n as f64);
        let mut level = s;
        for _ in 0..n {
            let next = level * ratio;
            let d = denoiser.denoise(x.view(), level);
            // Euler: x ← x + (next − level) (x − D)/level
            x = &x + &((&x - &d) * ((next - level) / level));
            level = next;
        }
        *calls += n;
    }
    let end = settle(denoiser, x.view(), sigma, &config.settle);
    *calls += end.iterations;
    let dist = (&end.points.row(0) - &a).mapv(|v| v * v).sum().sqrt();
    dist <= config.delta
}

/// The critical level of the attractor `a` of `denoiser` at `sigma` (module doc).
///
/// ```
/// use memscape::analysis::landscape::recovery::{RecoveryConfig, recovery};
/// use memscape::analysis::landscape::settle::SettleConfig;
/// use memscape::denoiser::EmpiricalDenoiser;
/// use ndarray::array;
///
/// // a memory of two patterns 2 apart: noise well below the half-distance is recovered from
/// let den = EmpiricalDenoiser::<f64>::new(array![[-1.0], [1.0]].view())?;
/// let config = RecoveryConfig {
///     trials: 16,
///     rate: 0.9,
///     delta: 0.1,
///     bracket: [0.01, 5.0],
///     rel_tol: 0.01,
///     ode_steps: 50,
///     settle: SettleConfig::unit_step(1e-10, 10_000),
///     resamples: 50,
///     seed: 0,
/// };
/// let r = recovery(&den, array![1.0].view(), 0.05, &config)?;
/// assert!(r.critical_sigma > 0.05 && r.critical_sigma < 5.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A configuration that breaks a rule ([`RecoveryConfig::validate`]), or a sigma that is not finite and > 0.
pub fn recovery(
    denoiser: &(impl Denoiser + ?Sized),
    a: ArrayView1<f64>,
    sigma: f64,
    config: &RecoveryConfig,
) -> Result<Recovery> {
    config.validate()?;
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(Error::invalid("sigma", "a finite number > 0", sigma));
    }
    let d = a.len();
    let [lo0, hi0] = config.bracket;
    let per_trial: Vec<(f64, i8, usize)> = (0..config.trials)
        .into_par_iter()
        .map(|i| {
            let mut z = Array1::<f64>::zeros(d);
            fill_normal(
                &mut stream(config.seed, i as u64),
                z.as_slice_mut().expect("contiguous"),
            );
            let mut calls = 0;
            let mut ok = |s: f64| recovered(denoiser, a, z.view(), s, sigma, config, &mut calls);
            if ok(hi0) {
                return (hi0, 1, calls);
            }
            if !ok(lo0) {
                return (lo0, -1, calls);
            }
            let (mut lo, mut hi) = (lo0, hi0);
            while hi / lo > 1.0 + config.rel_tol {
                let mid = (lo * hi).sqrt();
                if ok(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            ((lo * hi).sqrt(), 0, calls)
        })
        .collect();
    let levels: Vec<f64> = per_trial.iter().map(|t| t.0).collect();
    let q = 1.0 - config.rate;
    let critical = quantile(&levels, q);
    let boot: Vec<f64> = (0..config.resamples)
        .map(|b| {
            let mut r = stream(config.seed ^ 0xB0075, b as u64);
            let drawn: Vec<f64> = (0..levels.len())
                .map(|_| levels[rand::RngExt::random_range(&mut r, 0..levels.len())])
                .collect();
            quantile(&drawn, q)
        })
        .collect();
    let ci = percentile_interval(boot);
    let z = normal_quantile(config.rate);
    Ok(Recovery {
        critical_sigma: critical,
        ci,
        critical_t: VpSchedule::DDPM_LINEAR.t_from_sigma(critical),
        radius: critical * z,
        radius_ci: ci.map(|c| c * z),
        displacement: critical * (d as f64).sqrt(),
        censored_high: per_trial.iter().filter(|t| t.1 == 1).count(),
        censored_low: per_trial.iter().filter(|t| t.1 == -1).count(),
        calls: per_trial.iter().map(|t| t.2).sum(),
        trial_levels: levels,
    })
}

/// The energy profile along a segment.
#[derive(Debug, Clone, Serialize)]
pub struct EnergyPath {
    /// Path parameters τ ∈ [0, 1] at the segment ends.
    pub taus: Vec<f64>,
    /// E(γ(τ)) − E(a) at each τ.
    pub energy: Vec<f64>,
    /// E(b) − E(a).
    pub delta: f64,
    /// max_τ E(γ(τ)) − E(a): the barrier along the segment.
    pub barrier: f64,
}

/// E(γ(τ)) − E(a) along γ(τ) = a + τ (b − a) for the denoiser at `sigma` (module doc):
/// composite 3-point Gauss–Legendre over `segments` pieces, one denoiser call.
pub(crate) fn path_energy(
    denoiser: &(impl Denoiser + ?Sized),
    a: ArrayView1<f64>,
    b: ArrayView1<f64>,
    sigma: f64,
    segments: usize,
) -> Result<EnergyPath> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(Error::invalid("sigma", "a finite number > 0", sigma));
    }
    if segments == 0 {
        return Err(Error::invalid("segments", "≥ 1", 0));
    }
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            what: "path end".into(),
            expected: vec![a.len()],
            got: vec![b.len()],
        });
    }
    // Gauss–Legendre nodes and weights on [0, 1]
    let r = (0.6_f64).sqrt();
    let nodes = [(1.0 - r) / 2.0, 0.5, (1.0 + r) / 2.0];
    let weights = [5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0];
    let dir = &b - &a;
    let h = 1.0 / segments as f64;
    let points = ndarray::Array2::from_shape_fn((3 * segments, a.len()), |(i, j)| {
        let tau = h * ((i / 3) as f64 + nodes[i % 3]);
        a[j] + tau * dir[j]
    });
    let denoised = denoiser.denoise(points.view(), sigma);
    let slope = (&points - &denoised).dot(&dir);
    let (mut taus, mut energy) = (vec![0.0], vec![0.0]);
    for seg in 0..segments {
        let add: f64 = (0..3).map(|q| weights[q] * slope[3 * seg + q]).sum::<f64>() * h;
        taus.push(h * (seg + 1) as f64);
        energy.push(energy[seg] + add);
    }
    Ok(EnergyPath {
        delta: *energy.last().expect("≥ 1 segment"),
        barrier: energy.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        taus,
        energy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::two_points;
    use crate::denoiser::{EmpiricalDenoiser, Landscape};
    use crate::noise::DdpmSchedule;

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        // Φ⁻¹(0.9) = 1.2815515655446004, Φ⁻¹(0.975) = 1.959963984540054 (R's qnorm)
        assert!((normal_quantile(0.9) - 1.2815515655446004).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-12);
        assert!((quantile(&[3.0, 1.0, 2.0, 4.0], 0.5) - 2.5).abs() < 1e-15);
    }

    #[test]
    fn recovery_basin_of_two_patterns_matches_the_half_space() {
        // two patterns ±(D/2) e₁ in d = 100, D = 3, beta = 1 > 4/D²: the memory at m e₁ has
        // the half-space x₁ > 0 as its basin (the flow keeps the sign of x₁: the ODE and the
        // settling move x₁ toward (D/2) tanh(beta_σ (D/2) x₁), of the same sign). So trial i is
        // recovered iff s z_i1 > −m: its critical level is m / |z_i1| when z_i1 < 0, and none
        // (recovered at every level) otherwise. The rate at s is Φ(m/s): s* = m / Φ⁻¹(θ) and
        // the implied radius is m (theory.md §5; pham.md §1.5 for the procedure).
        let (dist, beta, d) = (3.0, 1.0, 100);
        let patterns = two_points(dist, d);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let sigma = 1.0 / f64::sqrt(beta);
        let m = crate::analysis::landscape::fixed::tests::two_pattern_memory(dist, beta);
        let mut a = Array1::zeros(d);
        a[0] = m;
        let config = RecoveryConfig {
            trials: 400,
            rate: 0.9,
            delta: 0.1,
            bracket: [1e-3, 1e3],
            rel_tol: 1e-7,
            ode_steps: 20,
            settle: SettleConfig::unit_step(1e-10, 10_000),
            resamples: 400,
            seed: 7,
        };
        let r = recovery(&exact, a.view(), sigma, &config).unwrap();
        // per trial, exactly: the level is m/|z₁| (to the bisection's 1e-7) or censored high
        let mut negative = 0;
        for (i, &level) in r.trial_levels.iter().enumerate() {
            let mut z = Array1::<f64>::zeros(d);
            fill_normal(&mut stream(7, i as u64), z.as_slice_mut().unwrap());
            if z[0] < 0.0 && m / -z[0] < 1e3 {
                negative += 1;
                assert!(
                    (level / (m / -z[0]) - 1.0).abs() < 1e-6,
                    "trial {i}: {level} vs {}",
                    m / -z[0]
                );
            } else {
                assert_eq!(level, 1e3);
            }
        }
        assert_eq!(r.censored_high, 400 - negative);
        // the estimate against the analytic threshold: within its 95% interval (seed 7)
        let analytic = m / normal_quantile(0.9);
        assert!(
            r.ci[0] <= analytic && analytic <= r.ci[1],
            "{analytic} not in {:?}",
            r.ci
        );
        assert!((r.radius_ci[0]..=r.radius_ci[1]).contains(&m));
        assert!((r.critical_sigma / analytic - 1.0).abs() < 0.15);
    }

    #[test]
    fn path_energy_matches_the_exact_landscape() {
        // the exact model's E(x; beta) difference between two points and the profile along
        // the segment, from the denoiser alone, to 1e-9 (64 segments of a smooth integrand);
        // at the sigma of DDPM step 10, whose alpha_bar is Π(1 − β_i)
        let patterns = crate::rng::normal_matrix(5, 8, 3);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let ddpm = DdpmSchedule::LINEAR;
        let sigma = ddpm.sigma(300);
        let land = Landscape::new(patterns.view(), 1.0 / (sigma * sigma)).unwrap();
        let (a, b) = (patterns.row(0), patterns.row(3));
        let path = path_energy(&exact, a, b, sigma, 64).unwrap();
        let e = |t: f64| land.energy((&a + &(&(&b - &a) * t)).view()) - land.energy(a);
        assert!(
            (path.delta - e(1.0)).abs() < 1e-9,
            "{} vs {}",
            path.delta,
            e(1.0)
        );
        for (t, v) in path.taus.iter().zip(&path.energy) {
            assert!((v - e(*t)).abs() < 1e-9);
        }
        let grid_max = (0..=64)
            .map(|i| e(i as f64 / 64.0))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!((path.barrier - grid_max).abs() < 1e-9 && path.barrier > 0.0);
    }
}
