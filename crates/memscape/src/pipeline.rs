//! The whole flow on one screen: load a dataset, take a nested training subset, build the exact
//! denoiser, sample, write a run directory. Everything the command line does is a call here.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use crate::dataset::subset::Split;
use crate::dataset::{DataSpec, Patterns};
use crate::denoiser::{EmpiricalDenoiser, Float};
use crate::error::{Error, Result};
use crate::noise::{NoiseProcess, Schedule, Spacing};
use crate::sampler::{self, SamplerConfig, SamplerKind, TrajectoryRecorder};
use crate::store::{Manifest, RunDir};

/// Arithmetic precision of the exact denoiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F64,
    F32,
}

/// A dataset's pool, split into a nested training set of size K and a held-out set.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub pool_size: usize,
    pub split: Split,
    pub train: Patterns,
    pub heldout: Patterns,
}

/// Loads `data` and takes the first `k` of the seeded permutation (nested across K), keeping
/// the last `holdout` points aside.
pub fn training_set(
    data: &DataSpec,
    k: usize,
    holdout: usize,
    subset_seed: u64,
) -> Result<TrainingSet> {
    let pool = data.load()?;
    let split = Split::new(pool.num_patterns(), holdout, subset_seed)?;
    let train = split.train(&pool, k)?;
    let heldout = split.heldout(&pool);
    Ok(TrainingSet {
        pool_size: pool.num_patterns(),
        split,
        train,
        heldout,
    })
}

/// The data's scale: the root-mean-square norm of the patterns, √(mean |ξ|²).
pub fn data_scale(patterns: &Array2<f64>) -> f64 {
    (patterns.mapv(|v| v * v).sum() / patterns.nrows() as f64).sqrt()
}

/// Default noise range for data of RMS norm `scale`: sigma_max = 10·scale, so the N(0,
/// sigma_max² I) prior is within KL ≈ E|ξ|²/(2 sigma_max²) = 0.005 nats of p_sigma_max; sigma_min
/// = 1e-3·scale, well inside the memorization regime of the exact model.
pub fn default_sigma_range(scale: f64) -> (f64, f64) {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    (10.0 * scale, 1e-3 * scale)
}

/// A sampling request as a user gives it; `None` means "the documented default".
#[derive(Debug, Clone, Serialize)]
pub struct SampleRequest {
    pub data: DataSpec,
    pub k: usize,
    pub subset_seed: u64,
    pub holdout: usize,
    pub precision: Precision,
    pub kind: SamplerKind,
    pub process: NoiseProcess,
    pub spacing: Spacing,
    pub sigma_max: Option<f64>,
    pub sigma_min: Option<f64>,
    pub num_steps: usize,
    pub final_denoise: bool,
    pub num_samples: usize,
    pub seed: u64,
    pub batch_size: usize,
    /// Record the trajectories of the first this many samples.
    pub record_trajectories: usize,
}

/// A finished sampling run.
#[derive(Debug)]
pub struct SampleRun {
    pub request: SampleRequest,
    pub sampler: SamplerConfig,
    pub training: TrainingSet,
    pub samples: Array2<f64>,
    pub trajectories: Option<TrajectoryRecorder>,
    pub timings: BTreeMap<String, f64>,
}

/// Samples the exact empirical model of the training set.
pub fn sample_exact(request: SampleRequest) -> Result<SampleRun> {
    if request.num_samples == 0 {
        return Err(Error::invalid("--n", "≥ 1", 0));
    }
    let mut timings = BTreeMap::new();
    let clock = Instant::now();
    let training = training_set(
        &request.data,
        request.k,
        request.holdout,
        request.subset_seed,
    )?;
    timings.insert("load_s".into(), clock.elapsed().as_secs_f64());
    let (default_max, default_min) = default_sigma_range(data_scale(&training.train.points));
    let schedule = Schedule {
        process: request.process,
        spacing: request.spacing,
        sigma_max: request.sigma_max.unwrap_or(default_max),
        sigma_min: request.sigma_min.unwrap_or(default_min),
        num_steps: request.num_steps,
        final_denoise: request.final_denoise,
    };
    let sigmas = schedule.sigmas()?;
    let sampler = SamplerConfig {
        kind: request.kind,
        schedule,
        seed: request.seed,
        batch_size: request.batch_size,
    };
    let dim = training.train.dim();
    let clock = Instant::now();
    let mut recorder = (request.record_trajectories > 0).then(|| {
        TrajectoryRecorder::new(
            request.record_trajectories.min(request.num_samples),
            dim,
            &sigmas,
        )
    });
    let points = training.train.points.view();
    let n = request.num_samples;
    let samples = match request.precision {
        Precision::F64 => sample_exact_in::<f64>(points, n, &sampler, recorder.as_mut())?,
        Precision::F32 => sample_exact_in::<f32>(points, n, &sampler, recorder.as_mut())?,
    };
    if let Some(r) = recorder.as_mut() {
        sampler::finish_trajectories(r, samples.view());
    }
    timings.insert("sample_s".into(), clock.elapsed().as_secs_f64());
    Ok(SampleRun {
        request,
        sampler,
        training,
        samples,
        trajectories: recorder,
        timings,
    })
}

/// Samples the exact model of `patterns` in precision `T`, recording trajectories if asked.
fn sample_exact_in<T: Float>(
    patterns: ArrayView2<f64>,
    n: usize,
    sampler: &SamplerConfig,
    recorder: Option<&mut TrajectoryRecorder>,
) -> Result<Array2<f64>> {
    let denoiser = EmpiricalDenoiser::<T>::new(patterns)?;
    let dim = patterns.ncols();
    match recorder {
        Some(r) => sampler::sample(&denoiser, dim, n, sampler, r),
        None => sampler::sample(&denoiser, dim, n, sampler, &mut ()),
    }
}

impl SampleRun {
    /// Writes `samples.npy`, `train.npy`, `train_indices.json`, `trajectories.npy` and
    /// `sigmas.npy` (when recorded) and `manifest.json`; returns the manifest.
    pub fn write(&self, out: &RunDir, command: Vec<String>) -> Result<Manifest> {
        let clock = Instant::now();
        let config = serde_json::json!({
            "request": self.request,
            "sampler": self.sampler,
            "num_patterns": self.training.train.num_patterns(),
            "dim": self.training.train.dim(),
            "pool_size": self.training.pool_size,
        });
        let mut manifest = Manifest::new(command, config);
        manifest.seeds.insert("sampler".into(), self.sampler.seed);
        manifest
            .seeds
            .insert("subset".into(), self.request.subset_seed);
        out.write_npy("samples.npy", &self.samples)?;
        out.write_npy("train.npy", &self.training.train.points)?;
        out.write_json(
            "train_indices.json",
            &self.training.split.train_indices(self.request.k)?,
        )?;
        manifest.files = vec![
            "samples.npy".into(),
            "train.npy".into(),
            "train_indices.json".into(),
        ];
        if let Some(r) = &self.trajectories {
            out.write_npy("trajectories.npy", &r.trajectories)?;
            out.write_npy("sigmas.npy", &ndarray::Array1::from(r.sigmas.clone()))?;
            manifest
                .files
                .extend(["trajectories.npy".into(), "sigmas.npy".into()]);
        }
        manifest.timings = self.timings.clone();
        manifest
            .timings
            .insert("write_s".into(), clock.elapsed().as_secs_f64());
        manifest.files.push("manifest.json".into());
        out.write_json("manifest.json", &manifest)?;
        Ok(manifest)
    }
}
