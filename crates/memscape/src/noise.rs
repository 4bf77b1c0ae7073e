//! Stage 2: noise processes and the sigma grids samplers walk down.
//!
//! Every sampler runs in VE coordinates `y = x / s(t)` with noise level `sigma(t)` (Karras et
//! al. 2022, "EDM", eq. 4 and Table 1): for VE `s = 1`, for VP `s = √alpha_bar` and
//! `sigma² = (1 − alpha_bar)/alpha_bar` ([`crate::units`]). Under this change of variables the
//! VP forward SDE `dx = −½ vp_beta(t) x dt + √vp_beta(t) dW` becomes the VE SDE
//! `dy = √(dσ²/dt) dW`, so one set of samplers serves both; a process fixes the prior and how
//! diffusion time `t` maps to `sigma`. Diffusion time `t` lives only in this module.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units::{alpha_bar_from_sigma, sigma_from_alpha_bar};

/// The VP noise schedule `alpha_bar(t)`, t ∈ [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "schedule", rename_all = "lowercase")]
pub enum VpSchedule {
    /// Song et al. (2021) VP SDE, the continuous limit of DDPM's linear betas:
    /// `vp_beta(t) = vp_beta_min + t (vp_beta_max − vp_beta_min)`,
    /// `alpha_bar(t) = exp(−vp_beta_min t − ½ (vp_beta_max − vp_beta_min) t²)`.
    /// DDPM's 1e-4..0.02 over 1000 steps is `vp_beta_min = 0.1, vp_beta_max = 20`.
    Linear { vp_beta_min: f64, vp_beta_max: f64 },
    /// Nichol & Dhariwal (2021): `alpha_bar(t) = f(t)/f(0)`, `f(t) = cos²((t + s)/(1 + s) · π/2)`.
    Cosine { s: f64 },
}

impl VpSchedule {
    pub const DDPM_LINEAR: VpSchedule = VpSchedule::Linear {
        vp_beta_min: 0.1,
        vp_beta_max: 20.0,
    };
    pub const COSINE: VpSchedule = VpSchedule::Cosine { s: 0.008 };

    /// `alpha_bar(t)`.
    pub fn alpha_bar(&self, t: f64) -> f64 {
        match *self {
            VpSchedule::Linear {
                vp_beta_min,
                vp_beta_max,
            } => (-vp_beta_min * t - 0.5 * (vp_beta_max - vp_beta_min) * t * t).exp(),
            VpSchedule::Cosine { s } => cosine_f(t, s) / cosine_f(0.0, s),
        }
    }

    /// `vp_beta(t) = −d log alpha_bar / dt`.
    pub fn vp_beta(&self, t: f64) -> f64 {
        match *self {
            VpSchedule::Linear {
                vp_beta_min,
                vp_beta_max,
            } => vp_beta_min + t * (vp_beta_max - vp_beta_min),
            VpSchedule::Cosine { s } => {
                let a = (t + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2;
                std::f64::consts::PI / (1.0 + s) * a.tan()
            }
        }
    }

    /// The time at which `alpha_bar(t) = alpha_bar`, the inverse of [`Self::alpha_bar`].
    pub fn t_from_alpha_bar(&self, alpha_bar: f64) -> f64 {
        match *self {
            VpSchedule::Linear {
                vp_beta_min,
                vp_beta_max,
            } => {
                let d = vp_beta_max - vp_beta_min;
                let c = -alpha_bar.ln();
                if d.abs() < 1e-15 {
                    c / vp_beta_min
                } else {
                    (-vp_beta_min + (vp_beta_min * vp_beta_min + 2.0 * d * c).sqrt()) / d
                }
            }
            VpSchedule::Cosine { s } => {
                (1.0 + s)
                    * std::f64::consts::FRAC_2_PI
                    * (alpha_bar * cosine_f(0.0, s)).sqrt().acos()
                    - s
            }
        }
    }

    /// VE-equivalent noise level at time t: `sigma(t) = √((1 − alpha_bar)/alpha_bar)`.
    pub fn sigma(&self, t: f64) -> f64 {
        sigma_from_alpha_bar(self.alpha_bar(t))
    }

    /// The time with VE-equivalent noise `sigma`.
    pub fn t_from_sigma(&self, sigma: f64) -> f64 {
        self.t_from_alpha_bar(alpha_bar_from_sigma(sigma))
    }
}

/// DDPM's discrete schedule (Ho et al. 2020): betas linear from `beta_1` to `beta_T` over
/// `steps`, `alpha_bar_t = Π_{i ≤ t} (1 − beta_i)` (steps counted from 0, as diffusers counts
/// them). Pham et al.'s relative-energy code takes Π beta_i instead (pham.md §1.7), which makes
/// the noise std at step 0 0.99995 instead of 0.01.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DdpmSchedule {
    pub beta_1: f64,
    pub beta_t: f64,
    pub steps: usize,
}

impl DdpmSchedule {
    /// diffusers' `DDPMScheduler` default, as Pham et al. train with: 1e-4 to 0.02 over 1000.
    pub const LINEAR: DdpmSchedule = DdpmSchedule {
        beta_1: 1e-4,
        beta_t: 0.02,
        steps: 1000,
    };

    /// beta at step `t` (0-based).
    pub fn beta(&self, t: usize) -> f64 {
        let frac = if self.steps > 1 {
            t as f64 / (self.steps - 1) as f64
        } else {
            0.0
        };
        self.beta_1 + frac * (self.beta_t - self.beta_1)
    }

    /// `alpha_bar_t = Π_{i=0}^{t} (1 − beta_i)`.
    pub fn alpha_bar(&self, t: usize) -> f64 {
        (0..=t).map(|i| 1.0 - self.beta(i)).product()
    }

    /// The VE-equivalent noise level of step t, `√((1 − alpha_bar)/alpha_bar)`.
    pub fn sigma(&self, t: usize) -> f64 {
        sigma_from_alpha_bar(self.alpha_bar(t))
    }
}

fn cosine_f(t: f64, s: f64) -> f64 {
    ((t + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
        .cos()
        .powi(2)
}

/// A forward noising process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "process", rename_all = "lowercase")]
pub enum NoiseProcess {
    /// Variance exploding: `x_sigma = x_0 + sigma z`; diffusion time `sigma(t) = sigma_max √t`
    /// (Song et al. 2021's VE SDE as Pham et al. run it).
    Ve,
    /// Variance preserving: `x_t = √alpha_bar(t) x_0 + √(1 − alpha_bar(t)) z`.
    Vp(VpSchedule),
}

impl NoiseProcess {
    /// The process named `ve`, `vp` (DDPM's linear schedule, vp_beta 0.1 → 20) or `vp-cosine`
    /// (Nichol & Dhariwal's cosine schedule); errors name the parameter `process`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "ve" => Ok(NoiseProcess::Ve),
            "vp" => Ok(NoiseProcess::Vp(VpSchedule::DDPM_LINEAR)),
            "vp-cosine" => Ok(NoiseProcess::Vp(VpSchedule::COSINE)),
            other => Err(Error::invalid(
                "process",
                "one of ve, vp, vp-cosine",
                format!("{other:?}"),
            )),
        }
    }

    /// Standard deviation of the prior the sampler starts from, in VE coordinates `y`:
    /// VE starts from N(0, sigma_max² I); VP from x_T ~ N(0, I), i.e. y_T ~ N(0, (1 + sigma_max²) I).
    pub fn prior_std(&self, sigma_max: f64) -> f64 {
        match self {
            NoiseProcess::Ve => sigma_max,
            NoiseProcess::Vp(_) => (1.0 + sigma_max * sigma_max).sqrt(),
        }
    }

    /// The scale `s(sigma)` that maps VE coordinates back to the process's own state:
    /// `x = s y` (1 for VE, √alpha_bar for VP).
    pub fn scale(&self, sigma: f64) -> f64 {
        match self {
            NoiseProcess::Ve => 1.0,
            NoiseProcess::Vp(_) => alpha_bar_from_sigma(sigma).sqrt(),
        }
    }

    /// Noising a clean point: `x_t = s (x_0 + sigma z)` in the process's own coordinates.
    pub fn forward(&self, x0: f64, sigma: f64, z: f64) -> f64 {
        self.scale(sigma) * (x0 + sigma * z)
    }
}

/// How the sigma grid is spaced between `sigma_max` and `sigma_min`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "spacing", rename_all = "kebab-case")]
pub enum Spacing {
    /// Uniform in log sigma.
    Geometric,
    /// Karras et al. (2022) eq. 5: `sigma_i = (sigma_max^(1/rho) + i/(n−1) (sigma_min^(1/rho) − sigma_max^(1/rho)))^rho`.
    Karras { rho: f64 },
    /// Uniform in the process's diffusion time t (VE: `sigma = sigma_max √t`; VP: its schedule).
    LinearT,
}

impl Spacing {
    /// The spacing named `karras` (rho = 7), `geometric` or `linear-t`; errors name the
    /// parameter `spacing`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "karras" => Ok(Spacing::Karras { rho: 7.0 }),
            "geometric" => Ok(Spacing::Geometric),
            "linear-t" => Ok(Spacing::LinearT),
            other => Err(Error::invalid(
                "spacing",
                "one of karras, geometric, linear-t",
                format!("{other:?}"),
            )),
        }
    }
}

/// A complete discretisation: process, spacing, range, number of steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub process: NoiseProcess,
    pub spacing: Spacing,
    pub sigma_max: f64,
    pub sigma_min: f64,
    pub num_steps: usize,
    /// Append a last step to sigma = 0, which returns the denoiser's estimate D(y, sigma_min).
    pub final_denoise: bool,
}

impl Schedule {
    /// Checks the ranges: 0 < sigma_min < sigma_max, num_steps ≥ 1, rho > 0.
    pub fn validate(&self) -> Result<()> {
        crate::error::require_positive("sigma_min", self.sigma_min)?;
        crate::error::require_positive("sigma_max", self.sigma_max)?;
        if self.sigma_min >= self.sigma_max {
            return Err(Error::invalid(
                "sigma_min",
                format!("< sigma_max ({})", self.sigma_max),
                self.sigma_min,
            ));
        }
        if self.num_steps == 0 {
            return Err(Error::invalid("steps", "≥ 1", 0));
        }
        if let Spacing::Karras { rho } = self.spacing {
            crate::error::require_positive("rho", rho)?;
        }
        Ok(())
    }

    /// The descending noise levels: `num_steps` values from `sigma_max` to `sigma_min`
    /// (one value, `sigma_max`, when `num_steps = 1`), then 0 if `final_denoise`.
    pub fn sigmas(&self) -> Result<Vec<f64>> {
        self.validate()?;
        let n = self.num_steps;
        let frac = |i: usize| {
            if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            }
        };
        let (hi, lo) = (self.sigma_max, self.sigma_min);
        let mut sigmas: Vec<f64> = (0..n)
            .map(|i| {
                let f = frac(i);
                match (self.spacing, self.process) {
                    (Spacing::Geometric, _) => hi * (lo / hi).powf(f),
                    (Spacing::Karras { rho }, _) => {
                        let (a, b) = (hi.powf(1.0 / rho), lo.powf(1.0 / rho));
                        (a + f * (b - a)).powf(rho)
                    }
                    (Spacing::LinearT, NoiseProcess::Ve) => {
                        let t_min = (lo / hi).powi(2);
                        hi * (1.0 + f * (t_min - 1.0)).sqrt()
                    }
                    (Spacing::LinearT, NoiseProcess::Vp(schedule)) => {
                        let (t_hi, t_lo) = (schedule.t_from_sigma(hi), schedule.t_from_sigma(lo));
                        schedule.sigma(t_hi + f * (t_lo - t_hi))
                    }
                }
            })
            .collect();
        // pin the ends against round-off
        sigmas[0] = hi;
        if n > 1 {
            sigmas[n - 1] = lo;
        }
        if self.final_denoise {
            sigmas.push(0.0);
        }
        Ok(sigmas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddpm_alpha_bar_is_the_product_of_one_minus_beta() {
        // step 0: alpha_bar = 1 − 1e-4, so the noise std √(1 − alpha_bar) = 0.01; Pham et al.'s
        // Π beta gives alpha_bar = 1e-4 and std 0.99995 (pham.md §1.7)
        let ddpm = DdpmSchedule::LINEAR;
        assert!(((1.0 - ddpm.alpha_bar(0)).sqrt() - 0.01).abs() < 1e-15);
        let wrong: f64 = (0..=0).map(|i| ddpm.beta(i)).product();
        assert!(((1.0 - wrong).sqrt() - 0.99995).abs() < 1e-6);
        assert!((ddpm.beta(999) - 0.02).abs() < 1e-15);
        // the continuous VP SDE with vp_beta 0.1..20 is its limit: at t = (step + 1)/1000,
        // log alpha_bar agrees to 5% at step 10 and 1% from step 100 (a left sum of a linear
        // beta against its integral, which differ by about half a step)
        for (step, tol) in [
            (10, 0.05),
            (100, 0.01),
            (300, 0.01),
            (600, 0.01),
            (999, 0.01),
        ] {
            let (discrete, continuous) = (
                ddpm.alpha_bar(step).ln(),
                VpSchedule::DDPM_LINEAR
                    .alpha_bar((step + 1) as f64 / 1000.0)
                    .ln(),
            );
            assert!(
                (discrete / continuous - 1.0).abs() < tol,
                "{step}: {discrete} vs {continuous}"
            );
        }
    }

    fn schedule(process: NoiseProcess, spacing: Spacing) -> Schedule {
        Schedule {
            process,
            spacing,
            sigma_max: 80.0,
            sigma_min: 0.002,
            num_steps: 18,
            final_denoise: true,
        }
    }

    #[test]
    fn grids_descend_from_max_to_min_then_zero() {
        for process in [
            NoiseProcess::Ve,
            NoiseProcess::Vp(VpSchedule::DDPM_LINEAR),
            NoiseProcess::Vp(VpSchedule::COSINE),
        ] {
            for spacing in [
                Spacing::Geometric,
                Spacing::Karras { rho: 7.0 },
                Spacing::LinearT,
            ] {
                let s = schedule(process, spacing).sigmas().unwrap();
                assert_eq!(s.len(), 19);
                assert_eq!((s[0], s[17], s[18]), (80.0, 0.002, 0.0));
                assert!(
                    s.windows(2).all(|w| w[0] > w[1]),
                    "{process:?} {spacing:?}: {s:?}"
                );
                // every interior level follows the spacing's rule: the coordinate in which the
                // grid is uniform (ln sigma; sigma^(1/rho), Karras et al. 2022 eq. 5; t, with
                // sigma² ∝ t for VE and the schedule's own t(sigma) for VP) steps evenly
                let coordinate = |sigma: f64| match (spacing, process) {
                    (Spacing::Geometric, _) => sigma.ln(),
                    (Spacing::Karras { rho }, _) => sigma.powf(1.0 / rho),
                    (Spacing::LinearT, NoiseProcess::Ve) => (sigma / 80.0).powi(2),
                    (Spacing::LinearT, NoiseProcess::Vp(v)) => v.t_from_sigma(sigma),
                };
                let u: Vec<f64> = s[..18].iter().map(|&v| coordinate(v)).collect();
                let step = (u[17] - u[0]) / 17.0;
                for (i, w) in u.windows(2).enumerate() {
                    assert!(
                        ((w[1] - w[0]) - step).abs() <= 1e-9 * step.abs().max(u[0].abs()),
                        "{process:?} {spacing:?}: step {i} is {} not {step}",
                        w[1] - w[0]
                    );
                }
            }
        }
    }

    #[test]
    fn karras_matches_edm_reference() {
        // EDM (Karras et al. 2022) 18-step grid, sigma_max 80, sigma_min 0.002, rho 7: the
        // second value is (80^(1/7) + (0.002^(1/7) − 80^(1/7))/17)^7 = 57.5859... (k-diffusion
        // get_sigmas_karras gives 57.58595).
        let s = schedule(NoiseProcess::Ve, Spacing::Karras { rho: 7.0 })
            .sigmas()
            .unwrap();
        assert!((s[1] - 57.585_95).abs() < 1e-4, "{}", s[1]);
    }

    #[test]
    fn vp_schedules_invert_and_are_monotone() {
        for sch in [VpSchedule::DDPM_LINEAR, VpSchedule::COSINE] {
            let mut last = 1.0 + 1e-12;
            for i in 0..=100 {
                let t = i as f64 / 100.0 * 0.99;
                let ab = sch.alpha_bar(t);
                assert!(ab < last && ab > 0.0);
                last = ab;
                assert!((sch.t_from_alpha_bar(ab) - t).abs() < 1e-9, "{sch:?} t={t}");
                // vp_beta = −d log alpha_bar / dt by central differences
                if t > 0.01 {
                    let h = 1e-6;
                    let fd = -(sch.alpha_bar(t + h).ln() - sch.alpha_bar(t - h).ln()) / (2.0 * h);
                    // central difference at h = 1e-6: round-off ~1e-16 |ln ᾱ| / h plus
                    // truncation h² times the third derivative of ln ᾱ; measured ≤ 3.3e-9
                    // relative over both schedules, the bound leaves a factor of 30
                    assert!((fd - sch.vp_beta(t)).abs() < 1e-7 * sch.vp_beta(t).max(1.0));
                }
            }
            assert!((sch.alpha_bar(0.0) - 1.0).abs() < 1e-15);
        }
        // alpha_bar(T) ≈ 0 (the test candle lacked, style brief §6.4): DDPM linear ends at 4.3e-5.
        assert!(VpSchedule::DDPM_LINEAR.alpha_bar(1.0) < 5e-5);
        assert!(VpSchedule::COSINE.alpha_bar(1.0) < 1e-30);
        // DDPM's discrete alpha_bar at step 1000 of linear 1e-4..0.02 is 4.04e-5; the continuous
        // limit gives 4.3e-5: same order, as it should be.
        let discrete: f64 = (0..1000)
            .map(|i| 1.0 - (1e-4 + (0.02 - 1e-4) * i as f64 / 999.0))
            .product();
        assert!((discrete / VpSchedule::DDPM_LINEAR.alpha_bar(1.0) - 1.0).abs() < 0.1);
    }

    #[test]
    fn invalid_ranges_name_the_flag() {
        let mut s = schedule(NoiseProcess::Ve, Spacing::Geometric);
        s.sigma_min = -0.1;
        assert_eq!(
            s.sigmas().unwrap_err().to_string(),
            "sigma_min must be > 0 and finite, got -0.1"
        );
        s.sigma_min = 100.0;
        assert!(
            s.sigmas()
                .unwrap_err()
                .to_string()
                .contains("< sigma_max (80)")
        );
    }
}
