//! Stage 4: samplers over any [`Denoiser`], in VE coordinates `y` walking down a descending
//! sigma grid ([`crate::noise::Schedule::sigmas`]). Each is its algorithm, one comment per step,
//! in f64 (EDM's habit). VP processes use the same code: the VP reverse SDE and probability-flow
//! ODE become the VE ones under `y = x/√alpha_bar` ([`crate::noise`] docs); only the prior and
//! the grid differ.
//!
//! Sample `i` draws its prior and every noise vector from ChaCha stream `i` of the seed, so a
//! sample does not depend on the batch it ran in or on the thread count.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView2, Axis, s};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::denoiser::{Denoiser, ode_derivative};
use crate::error::{Error, Result};
use crate::noise::{NoiseProcess, Schedule, Spacing};
use crate::rng;

/// Which integrator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum SamplerKind {
    /// Euler–Maruyama on the reverse SDE (Song et al. 2021; Pham et al.'s toy sampler):
    /// `y ← y + (σ² − σ'²) ∇log p_σ(y) + √(σ² − σ'²) z`, no noise on a last step to σ' = 0.
    EulerMaruyama,
    /// DDIM (Song, Meng & Ermon 2021) with stochasticity `eta` ∈ [0, 1]: eta = 0 is the
    /// deterministic Euler step of the probability-flow ODE, eta = 1 ancestral DDPM.
    Ddim { eta: f64 },
    /// Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Algorithm 1).
    Heun,
}

impl SamplerKind {
    /// Parses `em`, `ddim` (with `eta`), `heun`.
    pub fn parse(name: &str, eta: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&eta) {
            return Err(Error::invalid("eta", "in [0, 1]", eta));
        }
        match name {
            "em" | "euler-maruyama" => Ok(SamplerKind::EulerMaruyama),
            "ddim" => Ok(SamplerKind::Ddim { eta }),
            "heun" => Ok(SamplerKind::Heun),
            other => Err(Error::invalid("sampler", "one of em, ddim, heun", other)),
        }
    }
}

/// One step as an [`Observer`] sees it: the state before the update and the denoiser's output.
pub struct Step<'a> {
    /// Step number, 0 at sigma_max.
    pub i: usize,
    pub sigma: f64,
    pub sigma_next: f64,
    /// Global sample indices of the rows of `y`.
    pub rows: Range<usize>,
    pub y: ArrayView2<'a, f64>,
    pub denoised: ArrayView2<'a, f64>,
}

/// Listens to every step of a sampler (k-diffusion's callback); analysis hooks in here rather
/// than forking a sampler.
pub trait Observer {
    fn observe(&mut self, step: &Step);
}

impl Observer for () {
    fn observe(&mut self, _: &Step) {}
}

/// Records the states `y` of the first `num_samples` samples at every grid value:
/// `trajectories[[step, sample, coordinate]]`; the last step holds the final samples once
/// [`finish_trajectories`] has run.
#[derive(Debug, Clone)]
pub struct TrajectoryRecorder {
    pub trajectories: Array3<f64>,
    pub sigmas: Vec<f64>,
}

impl TrajectoryRecorder {
    /// Room for `num_samples` trajectories over a grid of `sigmas` in dimension `dim`.
    pub fn new(num_samples: usize, dim: usize, sigmas: &[f64]) -> Self {
        TrajectoryRecorder {
            trajectories: Array3::zeros((sigmas.len(), num_samples, dim)),
            sigmas: sigmas.to_vec(),
        }
    }

    fn record(&mut self, i: usize, rows: Range<usize>, y: ArrayView2<f64>) {
        let n = self.trajectories.shape()[1];
        for (r, row) in rows.zip(y.rows()) {
            if r < n {
                self.trajectories.slice_mut(s![i, r, ..]).assign(&row);
            }
        }
    }
}

impl Observer for TrajectoryRecorder {
    fn observe(&mut self, step: &Step) {
        self.record(step.i, step.rows.clone(), step.y);
    }
}

/// Everything a sampler needs besides the denoiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    pub schedule: Schedule,
    pub seed: u64,
    /// Rows per denoiser call; never changes the result.
    pub batch_size: usize,
}

/// Default final noise level of the studies (`map`, `dynamics`), relative to the data's RMS
/// norm: training points closer than 2 × 0.02 = 0.04 merge into one attractor (beta d² < 4,
/// theory.md §5), as in Pham et al.'s toy, which stops at sigma ≈ 0.03.
pub const MAP_SIGMA_MIN: f64 = 0.02;

/// Default noise range for data of RMS norm `scale`: sigma_max = 10·scale, so the N(0,
/// sigma_max² I) prior is within KL ≈ E|ξ|²/(2 sigma_max²) = 0.005 nats of p_sigma_max; sigma_min
/// = 1e-3·scale, well inside the memorization regime of the exact model.
pub fn default_sigma_range(scale: f64) -> (f64, f64) {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    (10.0 * scale, 1e-3 * scale)
}

/// The sampler's defaults as its users state them: the flags of `sample`, `map` and `dynamics`,
/// the sweep spec's `[map]` table and Python's `map()` read this one value (issue 29: each
/// default stated once; Python's `sample()` and `dynamics()` still state their own). Names are those [`SamplerKind::parse`], [`NoiseProcess::parse`]
/// and [`Spacing::parse`] take.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SamplerDefaults {
    pub sampler: &'static str,
    /// DDIM's stochasticity (unused by the other integrators).
    pub eta: f64,
    pub process: &'static str,
    pub spacing: &'static str,
    /// Noise levels of one sampling run (`memscape sample`; the studies use their own).
    pub steps: usize,
    pub seed: u64,
    pub batch_size: usize,
}

/// See [`SamplerDefaults`].
pub const SAMPLER_DEFAULTS: SamplerDefaults = SamplerDefaults {
    sampler: "em",
    eta: 0.0,
    process: "ve",
    spacing: "karras",
    steps: 200,
    seed: 0,
    batch_size: 1024,
};

/// The sampler as a user gives it: integrator, noise grid, seed; `None` means "the documented
/// default" of the command that uses it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SamplingPlan {
    pub kind: SamplerKind,
    pub process: NoiseProcess,
    pub spacing: Spacing,
    pub sigma_max: Option<f64>,
    pub sigma_min: Option<f64>,
    pub num_steps: usize,
    pub seed: u64,
    /// Rows per denoiser call; never changes the result.
    pub batch_size: usize,
}

impl Default for SamplingPlan {
    /// [`SAMPLER_DEFAULTS`], with the noise range left to the data.
    fn default() -> Self {
        let d = SAMPLER_DEFAULTS;
        SamplingPlan {
            kind: SamplerKind::parse(d.sampler, d.eta).expect("the default integrator parses"),
            process: NoiseProcess::parse(d.process).expect("the default process parses"),
            spacing: Spacing::parse(d.spacing).expect("the default spacing parses"),
            sigma_max: None,
            sigma_min: None,
            num_steps: d.steps,
            seed: d.seed,
            batch_size: d.batch_size,
        }
    }
}

impl SamplingPlan {
    /// The resolved sampler, with these defaults for the noise range; checks the grid.
    pub fn config(
        &self,
        default_sigma_max: f64,
        default_sigma_min: f64,
        final_denoise: bool,
    ) -> Result<SamplerConfig> {
        let schedule = Schedule {
            process: self.process,
            spacing: self.spacing,
            sigma_max: self.sigma_max.unwrap_or(default_sigma_max),
            sigma_min: self.sigma_min.unwrap_or(default_sigma_min),
            num_steps: self.num_steps,
            final_denoise,
        };
        schedule.validate()?;
        Ok(SamplerConfig {
            kind: self.kind,
            schedule,
            seed: self.seed,
            batch_size: self.batch_size,
        })
    }
}

/// `n` samples of `den` from sigma_max = max(10 × the data scale, 2 sigma) down to `sigma`
/// (Karras spacing, VE), with the integrator `kind` (as [`SamplerKind::parse`] reads it, eta 0),
/// `steps` noise levels and, with `final_denoise`, a last step to D(y, sigma); and the sampler's
/// configuration. The landscapes' samples: stopped where the landscape is measured.
///
/// # Errors
/// An unknown integrator, a noise grid that does not check out (sigma not finite and positive,
/// no steps), and the sampler's errors.
pub fn stopped_samples(
    den: &(impl Denoiser + ?Sized),
    patterns: ArrayView2<f64>,
    n: usize,
    sigma: f64,
    (kind, steps, final_denoise): (&str, usize, bool),
    seed: u64,
) -> Result<(Array2<f64>, SamplerConfig)> {
    let scale = crate::dataset::data_scale(patterns);
    let (sigma_max, _) = default_sigma_range(scale);
    let plan = SamplingPlan {
        kind: SamplerKind::parse(kind, 0.0)?,
        process: NoiseProcess::Ve,
        spacing: Spacing::Karras { rho: 7.0 },
        sigma_max: Some(sigma_max.max(2.0 * sigma)),
        sigma_min: Some(sigma),
        num_steps: steps,
        seed,
        batch_size: SAMPLER_DEFAULTS.batch_size,
    };
    let sampler = plan.config(sigma_max, sigma, final_denoise)?;
    let samples = sample(den, patterns.ncols(), n, &sampler, &mut ())?;
    Ok((samples, sampler))
}

/// Draws `n` samples in R^dim. Returns them in data coordinates `y` (for VP, `x = √alpha_bar y`;
/// with `final_denoise` the last grid value is 0 and `y` is `D(y, sigma_min)`).
pub fn sample(
    denoiser: &(impl Denoiser + ?Sized),
    dim: usize,
    n: usize,
    config: &SamplerConfig,
    observer: &mut impl Observer,
) -> Result<Array2<f64>> {
    let sigmas = config.schedule.sigmas()?;
    if config.batch_size == 0 {
        return Err(Error::invalid("batch_size", "≥ 1", 0));
    }
    let prior_std = config.schedule.process.prior_std(sigmas[0]);
    let mut out = Array2::zeros((n, dim));
    let progress =
        crate::progress::Task::start("sampling (sample-steps)", (n * (sigmas.len() - 1)) as u64);
    let mut start = 0;
    while start < n {
        let rows = start..(start + config.batch_size).min(n);
        let mut streams: Vec<ChaCha8Rng> = rows
            .clone()
            .map(|i| rng::stream(config.seed, i as u64))
            .collect();
        let mut y = Array2::zeros((rows.len(), dim));
        fill_normal(&mut y, &mut streams, prior_std);
        for (i, w) in sigmas.windows(2).enumerate() {
            y = step(
                denoiser,
                config.kind,
                y,
                w[0],
                w[1],
                i,
                rows.clone(),
                &mut streams,
                observer,
            );
            progress.advance(rows.len() as u64);
        }
        out.slice_mut(s![rows.clone(), ..]).assign(&y);
        start = rows.end;
    }
    Ok(out)
}

/// Records the final samples as the last step of a [`TrajectoryRecorder`].
pub fn finish_trajectories(recorder: &mut TrajectoryRecorder, samples: ArrayView2<f64>) {
    let last = recorder.sigmas.len() - 1;
    let n = recorder.trajectories.shape()[1].min(samples.nrows());
    recorder.record(last, 0..n, samples.slice(s![..n, ..]));
}

/// `y += scale · z`, each row's z drawn from that row's stream.
fn fill_normal(y: &mut Array2<f64>, streams: &mut [ChaCha8Rng], scale: f64) {
    for (mut row, rng) in y.axis_iter_mut(Axis(0)).zip(streams) {
        for v in row.iter_mut() {
            *v += scale * rng::normal(rng);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    denoiser: &(impl Denoiser + ?Sized),
    kind: SamplerKind,
    y: Array2<f64>,
    sigma: f64,
    sigma_next: f64,
    i: usize,
    rows: Range<usize>,
    streams: &mut [ChaCha8Rng],
    observer: &mut impl Observer,
) -> Array2<f64> {
    // Denoise at the current level.
    let denoised = denoiser.denoise(y.view(), sigma);
    observer.observe(&Step {
        i,
        sigma,
        sigma_next,
        rows,
        y: y.view(),
        denoised: denoised.view(),
    });
    match kind {
        SamplerKind::EulerMaruyama => {
            // Drift: (σ² − σ'²) ∇log p_σ(y) = (1 − σ'²/σ²)(D − y).
            let frac = 1.0 - (sigma_next * sigma_next) / (sigma * sigma);
            let mut next = &y + &((&denoised - &y) * frac);
            // Diffusion: √(σ² − σ'²) z, except on a last step to σ' = 0 (its mean).
            if sigma_next > 0.0 {
                fill_normal(
                    &mut next,
                    streams,
                    (sigma * sigma - sigma_next * sigma_next).sqrt(),
                );
            }
            next
        }
        SamplerKind::Ddim { eta } => {
            // Split σ' into a deterministic part σ_down and fresh noise σ_up (k-diffusion's
            // get_ancestral_step; equal to DDIM's σ_η in VE coordinates).
            let sigma_up = (eta
                * (sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next)
                    / (sigma * sigma))
                    .sqrt())
            .min(sigma_next);
            let sigma_down = (sigma_next * sigma_next - sigma_up * sigma_up).sqrt();
            // y' = D + σ_down ε̂ + σ_up z with ε̂ = (y − D)/σ.
            let mut next = &denoised + &((&y - &denoised) * (sigma_down / sigma));
            if sigma_up > 0.0 {
                fill_normal(&mut next, streams, sigma_up);
            }
            next
        }
        SamplerKind::Heun => {
            // Euler step on dy/dσ = (y − D)/σ.
            let d = ode_derivative(y.view(), denoised.view(), sigma);
            let euler = &y + &(&d * (sigma_next - sigma));
            if sigma_next == 0.0 {
                return euler;
            }
            // Second-order correction with the slope at the end of the step.
            let denoised_next = denoiser.denoise(euler.view(), sigma_next);
            let d_next = ode_derivative(euler.view(), denoised_next.view(), sigma_next);
            &y + &((&d + &d_next) * (0.5 * (sigma_next - sigma)))
        }
    }
}
