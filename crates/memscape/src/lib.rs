//! memscape: diffusion models as associative memories.
//!
//! ```text
//! dataset ──► noise ──► denoiser ──► sampler ──► analysis ──► store
//!  (K×d       (VE, VP;   (exact AM =   (Euler–     (classify,   (run dir,
//!  patterns)   sigmas)    one modern-   Maruyama,   attractors)  manifest,
//!                         Hopfield      DDIM,                    arrays)
//!                         update)       Heun)
//! ```
//!
//! Conventions (all conversions live in [`units`]): `sigma` is the noise level in data units;
//! `beta = 1/sigma²` is the inverse temperature in Ramsauer's convention, so the exact
//! denoiser is `D(x, sigma) = Σ_μ softmax_μ(−beta |x − ξ_μ|²/2) ξ_μ`; VP states are VE states
//! of `y = x/√alpha_bar` with `sigma² = (1 − alpha_bar)/alpha_bar`; diffusion time `t` lives
//! only in [`noise`]; training progress is a `step`.
//!
//! Modules are declared in flow order, the shared foundations (`error`, `numbers`,
//! `units`, `rng`, `progress`) first; a stage imports only earlier stages, and inside a stage a module imports
//! only modules declared before it (`tests/layering.rs` checks both).

pub mod error;
pub mod numbers;
pub mod units;
pub mod rng;
pub mod progress;
pub mod dataset;
pub mod noise;
pub mod denoiser;
pub mod hopfield;
pub mod sampler;
pub mod analysis;
pub mod store;
pub mod pipeline;

pub use error::{Error, Result};
