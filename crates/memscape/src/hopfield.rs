//! Hopfield baselines on ±1 patterns ξ_μ ∈ {−1, 1}^N (theory.md §3–4).
//!
//! ```text
//! classical   W = (1/N) Σ_μ ξ_μ ξ_μᵀ, W_ii = 0; s_i ← sgn(h_i), h = W s; E = −½ Σ_{i≠j} W_ij s_i s_j
//!             load alpha = K/N; one-step error P(ξ_i h_i(ξ) < 0) ≈ Φ(−1/√alpha);
//!             AGS (T = 0, replica symmetric): m = erf(y), √(2 alpha) = erf(y)/y − (2/√π) e^{−y²},
//!             alpha_c = 0.137906
//! dense       F(z) = z^n (Krotov & Hopfield 2016): s_i ← sgn Σ_μ [F(ξ_μi + r_μi) − F(−ξ_μi + r_μi)],
//!             r_μi = Σ_{j≠i} ξ_μj s_j; one-step error Φ(−√(N^{n−1} / ((2n−3)!! K)))
//! modern      F = exp (Demircigil et al. 2017): the same rule with e^z; K = e^{alpha N} patterns
//!             with a fraction rho of flipped bits are corrected in one sweep if
//!             alpha < I(1 − 2 rho)/2, I(x) = ((1+x) ln(1+x) + (1−x) ln(1−x))/2.
//!             Continuous (Ramsauer et al. 2020): x ← X softmax(beta Xᵀ x), the exact denoiser
//!             ([`crate::denoiser`]) of equal-norm patterns.
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::RngExt;

use crate::rng::stream;

/// The classical network with Hebbian weights.
#[derive(Debug, Clone)]
pub struct Classical {
    pub weights: Array2<f64>,
}

impl Classical {
    /// W = (1/N) Σ ξ ξᵀ with zero diagonal.
    pub fn hebbian(patterns: ArrayView2<f64>) -> Self {
        let n = patterns.ncols();
        let mut weights = patterns.t().dot(&patterns) / n as f64;
        weights.diag_mut().fill(0.0);
        Classical { weights }
    }

    /// E = −½ Σ_{i≠j} W_ij s_i s_j.
    pub fn energy(&self, s: ArrayView1<f64>) -> f64 {
        -0.5 * s.dot(&self.weights.dot(&s))
    }

    /// Asynchronous zero-temperature dynamics in a random order per sweep (stream `seed`), until
    /// a sweep flips nothing; returns whether it reached a fixed point within `max_sweeps`.
    pub fn run_async(&self, s: &mut Array1<f64>, seed: u64, max_sweeps: usize) -> bool {
        let n = s.len();
        let mut h = self.weights.dot(&*s);
        let mut rng = stream(seed, 0);
        let mut order: Vec<usize> = (0..n).collect();
        for _ in 0..max_sweeps {
            for i in (1..n).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            let mut flips = 0;
            for &i in &order {
                let new = if h[i] > 0.0 {
                    1.0
                } else if h[i] < 0.0 {
                    -1.0
                } else {
                    s[i]
                };
                if new != s[i] {
                    let delta = new - s[i];
                    s[i] = new;
                    h.scaled_add(delta, &self.weights.column(i));
                    flips += 1;
                }
            }
            if flips == 0 {
                return true;
            }
        }
        false
    }

    /// Synchronous dynamics s ← sgn(W s); returns whether it reached a fixed point.
    pub fn run_sync(&self, s: &mut Array1<f64>, max_steps: usize) -> bool {
        for _ in 0..max_steps {
            let h = self.weights.dot(&*s);
            let next: Array1<f64> = h
                .iter()
                .zip(s.iter())
                .map(|(&hi, &si)| {
                    if hi > 0.0 {
                        1.0
                    } else if hi < 0.0 {
                        -1.0
                    } else {
                        si
                    }
                })
                .collect();
            if next == *s {
                return true;
            }
            *s = next;
        }
        false
    }

    /// Whether `s` is a fixed point: every bit agrees with its field.
    pub fn is_fixed_point(&self, s: ArrayView1<f64>) -> bool {
        self.weights
            .dot(&s)
            .iter()
            .zip(s)
            .all(|(&h, &si)| h * si > 0.0)
    }
}

/// The overlap m = (1/N) Σ a_i b_i.
pub fn overlap(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.dot(&b) / a.len() as f64
}

/// Fraction of the bits of the stored patterns that one update would flip: ξ_μi h_i(ξ_μ) < 0.
pub fn unstable_bit_fraction(net: &Classical, patterns: ArrayView2<f64>) -> f64 {
    let fields = patterns.dot(&net.weights);
    let unstable = fields
        .iter()
        .zip(patterns.iter())
        .filter(|(h, x)| **h * **x < 0.0)
        .count();
    unstable as f64 / patterns.len() as f64
}

/// The symmetric mixture sgn(ξ_a + ξ_b + …) of an odd number of patterns.
pub fn mixture(patterns: ArrayView2<f64>, members: &[usize]) -> Array1<f64> {
    let sum = members
        .iter()
        .fold(Array1::zeros(patterns.ncols()), |acc: Array1<f64>, &m| {
            acc + patterns.row(m)
        });
    sum.mapv(|v| {
        if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            1.0
        }
    })
}

/// Standard normal CDF Φ(x) = erfc(−x/√2)/2.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// erfc(x): 1 − erf(x) from the Taylor series of erf for |x| ≤ 3 (to ~1e-15), and the continued
/// fraction erfc(z) = e^{−z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))) beyond, accurate in
/// the far tail.
pub fn erfc(x: f64) -> f64 {
    if x.abs() <= 3.0 {
        let (mut term, mut sum, x2) = (x, x, x * x);
        for k in 1..200 {
            term *= -x2 / k as f64;
            let add = term / (2 * k + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        1.0 - sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        let z = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (z + f);
        }
        let tail = (-z * z).exp() / (std::f64::consts::PI.sqrt() * (z + f));
        if x > 0.0 { tail } else { 2.0 - tail }
    }
}

/// erf(x) = 1 − erfc(x).
pub fn erf(x: f64) -> f64 {
    1.0 - erfc(x)
}

/// Amit–Gutfreund–Sompolinsky retrieval overlap at load alpha (T = 0, replica symmetric): the
/// largest root y of √(2 alpha) = erf(y)/y − (2/√π) e^{−y²}, m = erf(y); None above alpha_c.
pub fn ags_overlap(alpha: f64) -> Option<f64> {
    let g = |y: f64| {
        erf(y) / y - 2.0 / std::f64::consts::PI.sqrt() * (-y * y).exp() - (2.0 * alpha).sqrt()
    };
    // g rises then falls in y; its maximum is near y = 1.51. Bisect on the falling side.
    let (peak, _) = (1..=4000)
        .map(|i| i as f64 * 0.001 + 0.5)
        .map(|y| (y, g(y)))
        .fold(
            (0.0, f64::NEG_INFINITY),
            |m, p| if p.1 > m.1 { p } else { m },
        );
    if g(peak) < 0.0 {
        return None;
    }
    let (mut lo, mut hi) = (peak, 50.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    Some(erf(0.5 * (lo + hi)))
}

/// The largest alpha with a retrieval solution (AGS: 0.137906).
pub fn ags_critical_alpha() -> f64 {
    let (mut lo, mut hi) = (0.1, 0.2);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if ags_overlap(mid).is_some() {
            lo = mid
        } else {
            hi = mid
        }
    }
    0.5 * (lo + hi)
}

/// Interaction functions of dense associative memories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interaction {
    /// F(z) = z^n (Krotov & Hopfield 2016).
    Polynomial(u32),
    /// F(z) = e^z (Demircigil et al. 2017).
    Exponential,
}

/// The dense update of bit i: sgn Σ_μ [F(ξ_μi + r_μi) − F(−ξ_μi + r_μi)], r_μi = ξ_μ·s − ξ_μi s_i.
/// `overlaps[μ] = ξ_μ · s`.
pub fn dense_bit(
    patterns: ArrayView2<f64>,
    overlaps: &[f64],
    s: ArrayView1<f64>,
    i: usize,
    f: Interaction,
) -> f64 {
    let column = patterns.column(i);
    let diff = match f {
        Interaction::Polynomial(n) => column
            .iter()
            .zip(overlaps)
            .map(|(&x, &m)| {
                let r = m - x * s[i];
                (x + r).powi(n as i32) - (-x + r).powi(n as i32)
            })
            .sum::<f64>(),
        Interaction::Exponential => {
            // Σ e^{r+ξ} − Σ e^{r−ξ}, in log-sum-exp form
            let plus: Vec<f64> = column
                .iter()
                .zip(overlaps)
                .map(|(&x, &m)| m - x * s[i] + x)
                .collect();
            let minus: Vec<f64> = column
                .iter()
                .zip(overlaps)
                .map(|(&x, &m)| m - x * s[i] - x)
                .collect();
            let lse = |v: &[f64]| {
                let mx = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                mx + v.iter().map(|u| (u - mx).exp()).sum::<f64>().ln()
            };
            lse(&plus) - lse(&minus)
        }
    };
    if diff > 0.0 {
        1.0
    } else if diff < 0.0 {
        -1.0
    } else {
        s[i]
    }
}

/// Fraction of the bits of `states` (rows) that one dense update flips.
pub fn dense_unstable_bit_fraction(
    patterns: ArrayView2<f64>,
    states: ArrayView2<f64>,
    f: Interaction,
) -> f64 {
    let mut unstable = 0usize;
    for s in states.rows() {
        let overlaps: Vec<f64> = patterns.rows().into_iter().map(|p| p.dot(&s)).collect();
        unstable += (0..s.len())
            .filter(|&i| dense_bit(patterns, &overlaps, s, i, f) != s[i])
            .count();
    }
    unstable as f64 / states.len() as f64
}

/// Signal-to-noise one-step error of F(z) = z^n with K random patterns in N bits:
/// Φ(−√(N^{n−1} / ((2n−3)!! K))) (n = 2 gives the classical Φ(−1/√alpha)).
pub fn dense_error_theory(n_bits: usize, k: usize, n: u32) -> f64 {
    let double_factorial: f64 = (1..=(2 * n as i64 - 3))
        .rev()
        .step_by(2)
        .map(|v| v as f64)
        .product::<f64>()
        .max(1.0);
    normal_cdf(-((n_bits as f64).powi(n as i32 - 1) / (double_factorial * k as f64)).sqrt())
}

/// Demircigil et al.'s sufficient capacity bound: alpha < I(1 − 2 rho)/2.
pub fn demircigil_bound(rho: f64) -> f64 {
    let x = 1.0 - 2.0 * rho;
    let term = |v: f64| if v > 0.0 { v * v.ln() } else { 0.0 };
    0.5 * 0.5 * (term(1.0 + x) + term(1.0 - x))
}

/// Lambert W₀ by Halley's iteration (x ≥ −1/e).
pub fn lambert_w0(x: f64) -> f64 {
    let mut w = if x < 1.0 {
        x
    } else {
        x.ln() - x.ln().ln().max(0.0)
    };
    for _ in 0..100 {
        let e = w.exp();
        let f = w * e - x;
        let step = f / (e * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0));
        w -= step;
        if step.abs() < 1e-15 * (1.0 + w.abs()) {
            break;
        }
    }
    w
}

/// Ramsauer et al.'s storage-capacity constant c for (beta, K, d, p) (theorem 3; theory.md §4):
/// a = 2/(d−1)·(1 + ln(2 beta K² p (d−1))), b = 2K² beta/5, c = b / W₀(exp(a + ln b)).
pub fn ramsauer_c(beta: f64, k: f64, d: f64, p: f64) -> f64 {
    let a = 2.0 / (d - 1.0) * (1.0 + (2.0 * beta * k * k * p * (d - 1.0)).ln());
    let b = 2.0 * k * k * beta / 5.0;
    b / lambert_w0((a + b.ln()).exp())
}

/// Mean retrieval overlap of the classical network at load alpha: `nets` networks of N bits,
/// async dynamics started from `per_net` stored patterns each (theory.md §3 simulation table).
pub fn classical_retrieval(
    n_bits: usize,
    alpha: f64,
    nets: usize,
    per_net: usize,
    seed: u64,
) -> f64 {
    let k = ((alpha * n_bits as f64).round() as usize).max(1);
    let mut total = 0.0;
    for net_seed in 0..nets as u64 {
        let patterns = crate::dataset::synthetic::binary(
            k,
            n_bits,
            seed.wrapping_mul(1000).wrapping_add(net_seed),
        );
        let net = Classical::hebbian(patterns.view());
        for mu in 0..per_net.min(k) {
            let mut s = patterns.row(mu).to_owned();
            net.run_async(&mut s, net_seed * 1000 + mu as u64, 200);
            total += overlap(s.view(), patterns.row(mu));
        }
    }
    total / (nets * per_net.min(k)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::binary;

    #[test]
    fn ags_numbers() {
        // theory.md §3: alpha_c = 0.137906 (1e-5); m(0.10) = 0.99800, m(0.13) = 0.98721.
        assert!(
            (ags_critical_alpha() - 0.137906).abs() < 1e-5,
            "{}",
            ags_critical_alpha()
        );
        assert!((ags_overlap(0.10).unwrap() - 0.99800).abs() < 1e-5);
        assert!((ags_overlap(0.13).unwrap() - 0.98721).abs() < 1e-5);
        assert!(ags_overlap(0.14).is_none());
    }

    /// P(ξ_i h_i < 0) at a stored pattern of a Hebbian network with W_ii = 0, exactly:
    /// N ξ_i h_i = (N − 1) + S with S a sum of M = (K − 1)(N − 1) independent ±1 terms, so the bit
    /// is unstable when S = 2B − M < −(N − 1), B ~ Binomial(M, 1/2). theory.md §7.14's values
    /// are this probability's Gaussian limit Φ(−1/√α).
    fn exact_unstable_probability(n: usize, k: usize) -> f64 {
        let m = ((k - 1) * (n - 1)) as f64;
        // the largest B with 2B − M < −(N − 1)
        let top = ((m - n as f64 + 1.0) / 2.0).ceil() - 1.0;
        // ln C(M, top) − M ln 2, then the tail term by term downwards
        let mut log_term = (1..=top as usize)
            .map(|i| ((m - top + i as f64) / i as f64).ln())
            .sum::<f64>()
            - m * std::f64::consts::LN_2;
        let mut total = 0.0;
        let mut b = top;
        while b >= 0.0 && log_term > -60.0 {
            total += log_term.exp();
            log_term += (b / (m - b + 1.0)).ln();
            b -= 1.0;
        }
        total
    }

    #[test]
    fn one_step_stability_matches_signal_to_noise() {
        // theory.md §7.14: N = 1000, alpha 0.10 / 0.138 / 0.20: unstable fractions 7.8e-4 /
        // 3.55e-3 / 1.27e-2 (the Gaussian limit Φ(−1/√α)). The finite-N value is the binomial
        // tail above: 7.37e-4 / 3.44e-3 / 1.245e-2 (the diagonal W_ii = 0 leaves K − 1 patterns
        // and N − 1 sites in the crosstalk). The bits of one network share its patterns and are
        // correlated, so the band is 3 standard errors of the mean over 12 networks (1.2e6 to
        // 2.4e6 bits), from their spread, not the binomial band of independent bits.
        for (alpha, limit) in [(0.10f64, 7.8e-4), (0.138, 3.55e-3), (0.20, 1.27e-2)] {
            assert!((normal_cdf(-1.0 / alpha.sqrt()) - limit).abs() < 0.01 * limit);
            let k = (alpha * 1000.0) as usize;
            let exact = exact_unstable_probability(1000, k);
            let nets = 12;
            let fracs: Vec<f64> = (0..nets)
                .map(|s| {
                    let p = binary(k, 1000, 10 + s as u64);
                    unstable_bit_fraction(&Classical::hebbian(p.view()), p.view())
                })
                .collect();
            let mean = fracs.iter().sum::<f64>() / nets as f64;
            let var = fracs.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (nets - 1) as f64;
            let band = 3.0 * (var / nets as f64).sqrt();
            assert!(
                (mean - exact).abs() < band,
                "alpha {alpha}: {mean} vs {exact} ± {band}"
            );
        }
    }

    #[test]
    fn retrieval_curve_matches_the_reference_table() {
        // theory.md §3 simulation table, N = 1000: 0.05 → 1.000, 0.10 → 0.998, 0.12 → 0.993
        // (±0.02); 0.138 → 0.972 (±0.08).
        for (alpha, m, tol) in [
            (0.05, 1.000, 0.02),
            (0.10, 0.998, 0.02),
            (0.12, 0.993, 0.02),
            (0.138, 0.972, 0.08),
        ] {
            let got = classical_retrieval(1000, alpha, 3, 10, 1);
            assert!((got - m).abs() <= tol, "alpha {alpha}: {got}");
        }
    }

    #[test]
    fn three_mixtures_are_fixed_points_and_two_mixtures_are_not() {
        // theory.md §7.16: N = 1000, alpha = 0.01: sgn(ξ1+ξ2+ξ3) is an exact fixed point with
        // overlaps 0.5 ± 0.05 and E/N = −0.375 + P/(2N) ± 0.02; no single flip lowers E.
        let (n, k) = (1000, 10);
        let p = binary(k, n, 3);
        let net = Classical::hebbian(p.view());
        let m3 = mixture(p.view(), &[0, 1, 2]);
        assert!(net.is_fixed_point(m3.view()));
        for mu in 0..3 {
            assert!((overlap(m3.view(), p.row(mu)) - 0.5).abs() < 0.05);
        }
        let e = net.energy(m3.view()) / n as f64;
        assert!(
            (e - (-0.375 + k as f64 / (2.0 * n as f64))).abs() < 0.02,
            "{e}"
        );
        // index 0 in the discrete sense: every single flip raises E (ΔE = 2 s_i h_i > 0)
        let h = net.weights.dot(&m3);
        assert!(h.iter().zip(&m3).all(|(hi, si)| hi * si > 0.0));
        let mut m2 = &p.row(0) + &p.row(1);
        m2.mapv_inplace(|v| if v >= 0.0 { 1.0 } else { -1.0 });
        assert!(!net.is_fixed_point(m2.view()));
    }

    #[test]
    fn dense_memories_unstable_bits_and_capacity() {
        // F(z) = z³: N = 60, K = 600: theory Φ(−√(N²/(3K))) = Φ(−1.414) = 0.0786 (Krotov &
        // Hopfield 2016, signal-to-noise). The bits of one network share its patterns and are
        // strongly correlated (one network's 36,000 bits gave 0.0742 with seed 5), so the
        // fraction is averaged over 10 networks and the band is 3 standard errors from their
        // spread (measured: 0.0819 ± 0.0013). The limit formula is leading order: with the exact
        // crosstalk variance at N = 60, (K − 1) E[(6a² + 2)²] for the overlap a of 59 random
        // bits, the Gaussian value is 0.0812, inside the same band.
        let theory = dense_error_theory(60, 600, 3);
        assert!((theory - 0.0786).abs() < 1e-3, "{theory}");
        let nets = 10;
        let fracs: Vec<f64> = (0..nets)
            .map(|s| {
                let p = binary(600, 60, 100 + s);
                dense_unstable_bit_fraction(p.view(), p.view(), Interaction::Polynomial(3))
            })
            .collect();
        let mean = fracs.iter().sum::<f64>() / nets as f64;
        let var = fracs.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (nets - 1) as f64;
        let band = 3.0 * (var / nets as f64).sqrt();
        assert!((mean - theory).abs() < band, "{mean} vs {theory} ± {band}");
        assert!(
            (dense_error_theory(1000, 100, 2) - normal_cdf(-1.0 / 0.1f64.sqrt())).abs() < 1e-12
        );
        // exponential: K = e^{0.3 N} patterns, N = 20 (alpha = 0.3 < ln2/2): all stored patterns stable
        let (n, k) = (20, (0.3f64 * 20.0).exp() as usize);
        let p = binary(k, n, 6);
        assert_eq!(
            dense_unstable_bit_fraction(
                p.view(),
                p.slice(ndarray::s![..60, ..]),
                Interaction::Exponential
            ),
            0.0
        );
    }

    #[test]
    fn demircigil_and_ramsauer_constants() {
        // theory.md §4: I(1−2rho)/2 = 0.3466 / 0.2473 / 0.1840 / 0.0964 at rho = 0 / 0.05 / 0.1 / 0.2
        for (rho, v) in [(0.0, 0.3466), (0.05, 0.2473), (0.1, 0.1840), (0.2, 0.0964)] {
            assert!(
                (demircigil_bound(rho) - v).abs() < 1e-4,
                "rho {rho}: {}",
                demircigil_bound(rho)
            );
        }
        // theory.md §7.18: c(1,3,20,1e-3) = 3.1546, c(1,1,75,1e-3) = 1.3719 (4 digits)
        assert!(
            (ramsauer_c(1.0, 3.0, 20.0, 1e-3) - 3.1546).abs() < 1e-4,
            "{}",
            ramsauer_c(1.0, 3.0, 20.0, 1e-3)
        );
        assert!(
            (ramsauer_c(1.0, 1.0, 75.0, 1e-3) - 1.3719).abs() < 1e-4,
            "{}",
            ramsauer_c(1.0, 1.0, 75.0, 1e-3)
        );
        assert!((lambert_w0(1.0) - 0.567_143_290_409_783_8).abs() < 1e-14);
    }
}
