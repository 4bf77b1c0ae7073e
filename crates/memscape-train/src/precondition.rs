//! EDM-style preconditioning (Karras et al. 2022, Table 1 and eq. 7–8) and [`Preconditioned`],
//! which turns a raw network `F(c_in x, c_noise)` into a memscape [`Denoiser`], so every
//! sampler and analysis runs on trained models unchanged. Two parametrisations:
//!
//! ```text
//! D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma))
//! c_in = 1 / √(sigma² + sigma_data²),   c_noise = ln(sigma) / 4,   lambda(sigma) c_out² = 1
//! edm:      c_skip = sigma_data² / (sigma² + sigma_data²),   c_out = sigma sigma_data / √(sigma² + sigma_data²)
//! epsilon:  c_skip = 1,  c_out = −sigma  (F predicts the noise: DDPM, Table 1's VP column;
//!           lambda = 1/sigma², Pham et al.'s toy loss |s sigma + z|²)
//! ```
//!
//! For centred data of covariance sigma_data² I (the circle, for one), EDM's c_skip is the
//! Wiener coefficient and removes from the target every part linear in the input, so only the
//! network's non-affine part can fit it; the epsilon target keeps a linear part. An MLP whose
//! input weights were initialised by the first layer's whole fan-in was nearly affine in its
//! input and sat on EDM's plateau for thousands of steps; the first layer now initialises its
//! input by its own fan-in ([`crate::mlp::Mlp::init_parameters`]), and EDM learns. memscape
//! keeps `epsilon` as the default, which its recorded results use.

use memscape::denoiser::Denoiser;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parametrization {
    /// EDM's mix of signal and noise, of unit variance for N(0, sigma_data²) data.
    Edm,
    /// The noise itself (epsilon prediction).
    Epsilon,
}

/// Preconditioning for data of standard deviation `sigma_data`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Preconditioning {
    pub sigma_data: f64,
    pub parametrization: Parametrization,
}

impl Preconditioning {
    /// Skip-connection weight: the posterior-mean coefficient for N(0, sigma_data²) data.
    pub fn c_skip(&self, sigma: f64) -> f64 {
        if self.parametrization == Parametrization::Epsilon {
            return 1.0;
        }
        let sd2 = self.sigma_data * self.sigma_data;
        sd2 / (sigma * sigma + sd2)
    }

    /// Output scale: keeps the network's target at unit variance.
    pub fn c_out(&self, sigma: f64) -> f64 {
        if self.parametrization == Parametrization::Epsilon {
            return -sigma;
        }
        sigma * self.sigma_data / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }

    /// Input scale: keeps the network's input at unit variance.
    pub fn c_in(&self, sigma: f64) -> f64 {
        1.0 / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }

    /// Noise-level conditioning.
    pub fn c_noise(&self, sigma: f64) -> f64 {
        sigma.ln() / 4.0
    }

    /// Inverse of [`Self::c_noise`].
    pub fn sigma_from_c_noise(&self, c_noise: f64) -> f64 {
        (4.0 * c_noise).exp()
    }

    /// Loss weight lambda(sigma) of EDM eq. 8.
    pub fn loss_weight(&self, sigma: f64) -> f64 {
        if self.parametrization == Parametrization::Epsilon {
            return 1.0 / (sigma * sigma);
        }
        (sigma * sigma + self.sigma_data * self.sigma_data) / (sigma * self.sigma_data).powi(2)
    }

    /// The network's regression target for clean `x0` seen at `x = x0 + sigma n`:
    /// `(x0 − c_skip x) / c_out` (EDM eq. 8).
    pub fn target(&self, x: ArrayView2<f64>, x0: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        (&x0 - &(&x * self.c_skip(sigma))) / self.c_out(sigma)
    }
}

/// A raw network `F(input, c_noise)` wrapped with preconditioning into a denoiser.
pub struct Preconditioned<F> {
    pub net: F,
    pub preconditioning: Preconditioning,
}

impl<F> Denoiser for Preconditioned<F>
where
    F: Fn(ArrayView2<f64>, f64) -> Array2<f64> + Sync,
{
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        let p = &self.preconditioning;
        let input = &x * p.c_in(sigma);
        let f = (self.net)(input.view(), p.c_noise(sigma));
        &x * p.c_skip(sigma) + f * p.c_out(sigma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscape::denoiser::EmpiricalDenoiser;
    use memscape::rng::normal_matrix as random;

    #[test]
    fn edm_identities() {
        let p = Preconditioning {
            sigma_data: 0.5,
            parametrization: Parametrization::Edm,
        };
        for sigma in [0.002, 0.1, 0.5, 3.0, 80.0] {
            // the effective target has unit weight: lambda c_out² = 1 (EDM Appendix B.6)
            assert!((p.loss_weight(sigma) * p.c_out(sigma).powi(2) - 1.0).abs() < 1e-12);
            // c_skip² sigma_d² ... the target variance for x0 ~ N(0, sd²):
            // Var[(x0 − c_skip (x0 + sigma n))/c_out] = ((1 − c_skip)² sd² + c_skip² sigma²)/c_out² = 1
            let (cs, co, sd) = (p.c_skip(sigma), p.c_out(sigma), p.sigma_data);
            let var = ((1.0 - cs).powi(2) * sd * sd + cs * cs * sigma * sigma) / (co * co);
            assert!((var - 1.0).abs() < 1e-12, "sigma {sigma}: {var}");
            assert!((p.sigma_from_c_noise(p.c_noise(sigma)) - sigma).abs() < 1e-12 * sigma);
        }
    }

    #[test]
    fn epsilon_parametrisation_predicts_the_noise() {
        let p = Preconditioning {
            sigma_data: 0.8,
            parametrization: Parametrization::Epsilon,
        };
        let x0 = random(3, 2, 4);
        let n = random(3, 2, 5);
        for sigma in [0.01, 0.7, 20.0] {
            assert!((p.loss_weight(sigma) * p.c_out(sigma).powi(2) - 1.0).abs() < 1e-12);
            let x = &x0 + &(&n * sigma);
            let t = p.target(x.view(), x0.view(), sigma);
            assert!((t - &n).mapv(f64::abs).sum() < 1e-9, "sigma {sigma}");
        }
    }

    #[test]
    fn zero_network_is_the_gaussian_posterior_mean() {
        // For N(0, sd²) data, E[x0 | x] = sd²/(sigma² + sd²) x = c_skip x: F = 0 is optimal.
        let p = Preconditioning {
            sigma_data: 1.3,
            parametrization: Parametrization::Edm,
        };
        let den = Preconditioned {
            net: |x: ArrayView2<f64>, _| Array2::zeros(x.raw_dim()),
            preconditioning: p,
        };
        let x = random(4, 3, 1);
        let sigma = 0.7;
        let want = &x * (1.69 / (0.49 + 1.69));
        assert!((den.denoise(x.view(), sigma) - want).mapv(f64::abs).sum() < 1e-12);
    }

    #[test]
    fn ideal_network_reproduces_the_exact_denoiser() {
        let patterns = random(30, 4, 2);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        for parametrization in [Parametrization::Edm, Parametrization::Epsilon] {
            let p = Preconditioning {
                sigma_data: 1.0,
                parametrization,
            };
            // F*(u, c_noise) = (D(x) − c_skip x)/c_out with x = u/c_in: the optimum of EDM's loss.
            let ideal = |u: ArrayView2<f64>, c_noise: f64| {
                let sigma = p.sigma_from_c_noise(c_noise);
                let x = &u / p.c_in(sigma);
                p.target(x.view(), exact.denoise(x.view(), sigma).view(), sigma)
            };
            let den = Preconditioned {
                net: ideal,
                preconditioning: p,
            };
            let x = random(10, 4, 3) * 2.0;
            for sigma in [0.05, 0.6, 4.0] {
                let diff =
                    (den.denoise(x.view(), sigma) - exact.denoise(x.view(), sigma)).mapv(f64::abs);
                assert!(diff.iter().all(|&v| v < 1e-10), "sigma {sigma}");
            }
        }
    }
}
