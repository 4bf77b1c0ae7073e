//! Stage 3: denoisers. A denoiser maps noisy points and a noise level to the posterior mean,
//! `D(x, sigma) = E[x_0 | x_0 + sigma z = x]` (VE coordinates, data units). The score of the
//! noised density follows from Tweedie's formula, `∇ log p_sigma(x) = (D(x, sigma) − x)/sigma²`
//! (theory.md §1).
//!
//! [`Denoiser`] has one required method, and closures implement it, so oracle tests can pass analytic
//! denoisers as closures (candle's `Module` pattern).

pub mod float;
pub mod pruning;
pub mod empirical;
pub mod energy;
pub mod gather;

use ndarray::{Array2, ArrayView2};

use crate::dataset::Patterns;
use crate::error::Result;

pub use empirical::EmpiricalDenoiser;
pub use energy::Landscape;
pub use float::{Arithmetic, Float};
pub use pruning::{PruneStats, Pruning};

/// `D(x, sigma)` for every row of `x` (N×d), in VE coordinates.
pub trait Denoiser: Sync {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64>;

    /// The arithmetic `denoise` computes in, which sets the tolerances of settling and Newton
    /// on it ([`Arithmetic`]). f64 unless the denoiser says otherwise.
    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::F64
    }
}

impl<F> Denoiser for F
where
    F: Fn(ArrayView2<f64>, f64) -> Array2<f64> + Sync,
{
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        self(x, sigma)
    }
}

/// A model that learns a denoiser from K patterns (a score network: memscape-train); `map`
/// and `dynamics` sample it beside the exact one.
pub trait TrainedModel: Sync {
    /// Its name in tables and file names ("mlp").
    fn name(&self) -> &'static str;
    /// Trains on `train` (K patterns, with their image shape) and returns the denoiser.
    fn fit(&self, train: &Patterns) -> Result<Box<dyn Denoiser>>;
    /// Its configuration, for the manifest.
    fn config(&self) -> serde_json::Value;
}

/// The score `∇ log p_sigma(x) = (D(x, sigma) − x) / sigma²` (Tweedie; theory.md §1).
pub fn score(denoiser: &(impl Denoiser + ?Sized), x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
    let d = denoiser.denoise(x, sigma);
    (d - x) / (sigma * sigma)
}

/// The probability-flow ODE derivative `dy/dsigma = (y − D(y, sigma)) / sigma` (Karras et al.
/// 2022, eq. 3 with s = 1; k-diffusion's `to_d`).
pub fn ode_derivative(y: ArrayView2<f64>, denoised: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
    (&y - &denoised) / sigma
}
