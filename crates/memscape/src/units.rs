//! Every conversion between noise level, inverse temperature and diffusion schedules.
//!
//! Conventions (ARCHITECTURE.md; theory.md §0–§1). Keep all factor-2 decisions here:
//!
//! ```text
//! sigma     noise level in data units: the VE marginal is p_sigma(x) = (1/K) Σ_μ N(x; ξ_μ, sigma² I)
//! beta      inverse temperature, convention R (Ramsauer): w = softmax_μ(−beta |x − ξ_μ|² / 2)
//!           beta = 1 / sigma²
//! beta'     Pham et al.'s convention P: E = −(1/beta') log Σ exp(−beta' |x − ξ|²), beta' = beta / 2
//! alpha_bar VP/DDPM: x_t = √alpha_bar x_0 + √(1 − alpha_bar) ε; on y = x/√alpha_bar it is VE with
//!           sigma² = (1 − alpha_bar)/alpha_bar, hence beta = alpha_bar/(1 − alpha_bar)
//! ```

use serde::{Deserialize, Serialize};

/// Inverse temperature in convention R: the empirical denoiser's weights are
/// `softmax_μ(−beta |x − ξ_μ|² / 2)`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Beta(pub f64);

impl Beta {
    /// `beta = 1 / sigma²` (convention R; theory.md §1, VE Tweedie).
    pub fn from_sigma(sigma: f64) -> Self {
        Beta(1.0 / (sigma * sigma))
    }

    /// `beta = alpha_bar / (1 − alpha_bar)`, the VP signal-to-noise ratio (theory.md §1, VP).
    pub fn from_alpha_bar(alpha_bar: f64) -> Self {
        Beta(alpha_bar / (1.0 - alpha_bar))
    }

    /// From Pham et al.'s beta' (convention P, `E = −(1/beta') log Σ exp(−beta' |x − ξ|²)`):
    /// `beta = 2 beta'`.
    pub fn from_pham(beta_pham: f64) -> Self {
        Beta(2.0 * beta_pham)
    }

    /// Pham et al.'s beta' = beta / 2.
    pub fn to_pham(self) -> f64 {
        self.0 / 2.0
    }

    /// The noise level with this inverse temperature, `sigma = beta^(−1/2)`.
    pub fn sigma(self) -> f64 {
        self.0.sqrt().recip()
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// VE noise level equivalent to a VP `alpha_bar`: `sigma² = (1 − alpha_bar) / alpha_bar`.
pub fn sigma_from_alpha_bar(alpha_bar: f64) -> f64 {
    ((1.0 - alpha_bar) / alpha_bar).sqrt()
}

/// Inverse of [`sigma_from_alpha_bar`]: `alpha_bar = 1 / (1 + sigma²)`.
pub fn alpha_bar_from_sigma(sigma: f64) -> f64 {
    1.0 / (1.0 + sigma * sigma)
}

/// The critical inverse temperature of two patterns at distance `distance`: the midpoint stops
/// being a minimum and the pair splits into two memories at `beta_c = 4 / D²`
/// (supercritical pitchfork; theory.md §5, Popoviciu bound attained for K = 2).
pub fn two_point_critical_beta(distance: f64) -> f64 {
    4.0 / (distance * distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pham_two_point_threshold_is_ours() {
        // pham.md §1.1: the midpoint of two patterns at distance d is a minimum iff beta' d² < 2
        // (their convention P). Ours (theory.md §5): beta_c = 4 / D². They are one threshold.
        for d in [0.1, 0.5, 1.0, 2.0, 7.5] {
            let beta_pham_c = 2.0 / (d * d);
            let ours = Beta::from_pham(beta_pham_c).value();
            assert!((ours - two_point_critical_beta(d)).abs() <= 1e-12 * ours);
            // and back: sigma_c = D / 2
            assert!((Beta(ours).sigma() - d / 2.0).abs() <= 1e-12);
        }
    }

    #[test]
    fn vp_and_ve_views_agree() {
        for ab in [1e-4, 0.1, 0.5, 0.9, 0.9999] {
            let s = sigma_from_alpha_bar(ab);
            assert!((alpha_bar_from_sigma(s) - ab).abs() <= 1e-12);
            let beta = Beta::from_alpha_bar(ab).value();
            assert!((beta - Beta::from_sigma(s).value()).abs() <= 1e-9 * beta);
        }
    }
}
