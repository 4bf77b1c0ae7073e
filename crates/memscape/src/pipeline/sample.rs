//! Sampling one training set: the exact empirical model (or a trained network) from a seeded
//! sampler, with trajectories when asked, written as a run directory.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use super::{TrainingSet, training_set};
use crate::dataset::subset::DEFAULT_SUBSET_SEED;
use crate::dataset::{DEFAULT_DATA, DataSpec, data_scale};
use crate::denoiser::Arithmetic;
use crate::denoiser::{Denoiser, EmpiricalDenoiser, Float, PruneStats, Pruning};
use crate::error::{Error, Result};
use crate::sampler::{self, SamplerConfig, SamplingPlan, TrajectoryRecorder, default_sigma_range};
use crate::store::{Manifest, RunDir};

/// A sampling request as a user gives it; `None` means "the documented default".
#[derive(Debug, Clone, Serialize)]
pub struct SampleRequest {
    pub data: DataSpec,
    pub k: usize,
    pub subset_seed: u64,
    pub holdout: usize,
    pub precision: Arithmetic,
    /// Whether the exact denoiser may skip negligible patterns ([`Pruning`]).
    pub pruning: Pruning,
    pub plan: SamplingPlan,
    /// End with a step to sigma = 0, i.e. return D(y, sigma_min).
    pub final_denoise: bool,
    pub num_samples: usize,
    /// Record the trajectories of the first this many samples.
    pub record_trajectories: usize,
}

impl Default for SampleRequest {
    /// `memscape sample`'s defaults: the default dataset and subset seed ([`DEFAULT_DATA`],
    /// [`DEFAULT_SUBSET_SEED`]), no
    /// held-out points, the f64 exact denoiser with pruning where it pays, the default sampler
    /// ([`SamplingPlan::default`]) ending in D(y, sigma_min), 1000 samples and no trajectories,
    /// at K = 16 (the command asks for `--k`).
    fn default() -> Self {
        SampleRequest {
            data: DataSpec::parse(DEFAULT_DATA).expect("the default dataset parses"),
            k: 16,
            subset_seed: DEFAULT_SUBSET_SEED,
            holdout: 0,
            precision: Arithmetic::F64,
            pruning: Pruning::Auto,
            plan: SamplingPlan::default(),
            final_denoise: true,
            num_samples: 1000,
            record_trajectories: 0,
        }
    }
}

/// A finished sampling run.
#[derive(Debug)]
pub struct SampleRun {
    pub request: SampleRequest,
    pub sampler: SamplerConfig,
    pub training: TrainingSet,
    pub samples: Array2<f64>,
    pub trajectories: Option<TrajectoryRecorder>,
    /// What pruning achieved (the exact model only).
    pub pruning: Option<PruneStats>,
    pub timings: BTreeMap<String, f64>,
}

/// Samples the exact empirical model of the training set, or `trained` (a network trained on
/// data of the same dimension) when given.
///
/// ```
/// use memscape::dataset::DataSpec;
/// use memscape::denoiser::Arithmetic;
/// use memscape::pipeline::{SampleRequest, sample};
/// use memscape::sampler::SamplingPlan;
///
/// // 50 samples of the exact model of 5 points of the unit circle
/// let request = SampleRequest {
///     data: DataSpec::parse("circle")?,
///     k: 5,
///     subset_seed: 42,
///     holdout: 0,
///     precision: Arithmetic::F64,
///     pruning: Default::default(),
///     plan: SamplingPlan::default(),
///     final_denoise: true,
///     num_samples: 50,
///     record_trajectories: 0,
/// };
/// let run = sample(request, None)?;
/// assert_eq!(run.samples.dim(), (50, 2));
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A dataset that does not load, K larger than its pool, a plan that breaks a rule, or the sampler's errors.
pub fn sample(request: SampleRequest, trained: Option<&dyn Denoiser>) -> Result<SampleRun> {
    if request.num_samples == 0 {
        return Err(Error::invalid("num_samples", "≥ 1", 0));
    }
    let mut timings = BTreeMap::new();
    let clock = Instant::now();
    let training = training_set(
        &request.data,
        request.k,
        Some(request.holdout),
        request.subset_seed,
    )?;
    timings.insert("load_s".into(), clock.elapsed().as_secs_f64());
    let (default_max, default_min) = default_sigma_range(data_scale(training.train.points.view()));
    let sampler = request
        .plan
        .config(default_max, default_min, request.final_denoise)?;
    let sigmas = sampler.schedule.sigmas()?;
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
    let pruning = request.pruning;
    let (samples, pruning) = match (trained, request.precision) {
        (Some(net), _) => {
            let samples = match recorder.as_mut() {
                Some(r) => sampler::sample(net, dim, n, &sampler, r)?,
                None => sampler::sample(net, dim, n, &sampler, &mut ())?,
            };
            (samples, None)
        }
        (None, Arithmetic::F64) => {
            sample_exact_in::<f64>(points, pruning, n, &sampler, recorder.as_mut())?
        }
        (None, Arithmetic::F32) => {
            sample_exact_in::<f32>(points, pruning, n, &sampler, recorder.as_mut())?
        }
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
        pruning,
        timings,
    })
}

/// Samples the exact model of `patterns` in precision `T`, recording trajectories if asked;
/// returns the samples and what pruning achieved, where it ran.
fn sample_exact_in<T: Float>(
    patterns: ArrayView2<f64>,
    pruning: Pruning,
    n: usize,
    sampler: &SamplerConfig,
    recorder: Option<&mut TrajectoryRecorder>,
) -> Result<(Array2<f64>, Option<PruneStats>)> {
    let denoiser = EmpiricalDenoiser::<T>::new(patterns)?.with_pruning(pruning);
    let dim = patterns.ncols();
    let samples = match recorder {
        Some(r) => sampler::sample(&denoiser, dim, n, sampler, r),
        None => sampler::sample(&denoiser, dim, n, sampler, &mut ()),
    }?;
    let stats = denoiser
        .pruning_tolerance()
        .map(|_| denoiser.pruning_stats());
    Ok((samples, stats))
}

impl SampleRun {
    /// Writes `samples.npy`, `train.npy`, `train_indices.json`, `trajectories.npy` and
    /// `sigmas.npy` (when recorded) and `manifest.json`; returns the manifest.
    ///
    /// ```
    /// use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{SampleRequest, sample};
    /// use memscape::store::{Manifest, RunDir};
    ///
    /// // 50 samples of the exact model of 5 points of the circle, the first 2 with trajectories
    /// let request = SampleRequest {
    ///     data: DataSpec::parse("circle")?,
    ///     k: 5,
    ///     num_samples: 50,
    ///     record_trajectories: 2,
    ///     ..Default::default()
    /// };
    /// let run = sample(request, None)?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-sample-{}", std::process::id()));
    /// let manifest = run.write(&RunDir::create(&dir)?, vec!["memscape".into(), "sample".into()])?;
    /// let expected = ["samples.npy", "train.npy", "train_indices.json", "trajectories.npy", "sigmas.npy", "manifest.json"];
    /// assert_eq!(manifest.files, expected);
    /// // the training set's positions in the pool, and the manifest, read back
    /// let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    /// let indices: Vec<usize> = serde_json::from_str(&read("train_indices.json")).unwrap();
    /// assert_eq!(indices, run.training.split.train_indices(5)?);
    /// let back: Manifest = serde_json::from_str(&read("manifest.json")).unwrap();
    /// assert_eq!(back.seeds["subset"], run.request.subset_seed);
    /// assert_eq!(back.config["num_patterns"], 5);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir, command: Vec<String>) -> Result<Manifest> {
        let clock = Instant::now();
        let config = serde_json::json!({
            "request": self.request,
            "sampler": self.sampler,
            "num_patterns": self.training.train.num_patterns(),
            "dim": self.training.train.dim(),
            "pool_size": self.training.pool_size,
            "pruning": self.pruning,
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
