//! A trained network's landscape at one noise level ([`trained_landscape`]): the census of its
//! own samples stopped at sigma, the recovery levels and relative energies of its largest
//! basins, the 2-D grids, and its `attractors.json` ([`TrainedDocument`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ndarray::{Array2, Array3, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::attractor::{
    Attractor, Census, CensusConfig, CensusCost, CensusSettings, EulerCheck, KindCounts,
    UnsettledCounts, census,
};
use crate::analysis::landscape::basin::{grid_points, padded_box};
use crate::analysis::landscape::recovery::{Recovery, RecoveryConfig, path_energy, recovery};
use crate::analysis::landscape::settle::{SettleConfig, settle};
use crate::analysis::samples::classify::{Resolved, ThresholdSpec};
use crate::analysis::samples::distance::squared_distance;
use crate::analysis::samples::support::{
    MIN_HELDOUT, SUPPORT_QUANTILE, SupportCalibration, SupportGate,
};
use crate::dataset::data_scale;
use crate::denoiser::Denoiser;
use crate::error::{Error, Result, require_positive};
use crate::sampler::stopped_samples;
use crate::store::{RunDir, sorted_json};

/// Grid of the 2-D basin map (its points settle for at most `BASIN_MAP_ITERATIONS`).
pub(super) const BASIN_MAP_RESOLUTION: usize = 51;
pub(super) const BASIN_MAP_ITERATIONS: usize = 500;
/// Grid of the 2-D energy (integrated along grid lines) and of the score arrows.
pub(super) const ENERGY_RESOLUTION: usize = 101;
pub(super) const SCORE_RESOLUTION: usize = 21;

/// The trained landscape's defaults as users state them: `memscape attractors`' flags and
/// Python's `landscape()` read this one value.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LandscapeDefaults {
    pub samples: usize,
    /// Rightmost Jacobian eigenvalues per fixed point, capped at the dimension
    /// ([`Self::eigenvalues_for`]).
    pub eigenvalues: usize,
    pub recovery: usize,
    pub trials: usize,
    pub seed: u64,
}

/// See [`LandscapeDefaults`].
pub const LANDSCAPE_DEFAULTS: LandscapeDefaults = LandscapeDefaults {
    samples: 500,
    eigenvalues: 10,
    recovery: 4,
    trials: 32,
    seed: 0,
};

impl LandscapeDefaults {
    /// The default number of eigenvalues for data of dimension `d`.
    ///
    /// ```
    /// use memscape::pipeline::LANDSCAPE_DEFAULTS;
    ///
    /// // 10 on MNIST's 784 dimensions, both of them on 2-D data
    /// assert_eq!(LANDSCAPE_DEFAULTS.eigenvalues_for(784), 10);
    /// assert_eq!(LANDSCAPE_DEFAULTS.eigenvalues_for(2), 2);
    /// ```
    pub fn eigenvalues_for(&self, d: usize) -> usize {
        self.eigenvalues.min(d)
    }
}

/// What the trained landscape is measured with.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LandscapeRequest {
    /// The noise level.
    pub sigma: f64,
    /// Samples stopped at sigma: the census's starts (at least 1).
    pub samples: usize,
    /// Rightmost Jacobian eigenvalues per fixed point (at most the dimension).
    pub eigenvalues: usize,
    /// Critical recovery levels of the stable points with the largest basins, this many.
    pub recovery: usize,
    /// Noise directions per recovery level.
    pub trials: usize,
    /// Seeds the sampler, the census's Arnoldi starts and the recovery trials.
    pub seed: u64,
    /// The census's margin and settling.
    pub census: CensusSettings,
}

impl Default for LandscapeRequest {
    /// [`LANDSCAPE_DEFAULTS`] and the census's default margin and settling, at sigma = 0.1: a
    /// level a caller replaces with the one studied (`memscape attractors --checkpoint` asks
    /// for it). The eigenvalues are capped at the data's dimension where the request is used
    /// ([`LandscapeDefaults::eigenvalues_for`]).
    fn default() -> Self {
        let d = LANDSCAPE_DEFAULTS;
        LandscapeRequest {
            sigma: 0.1,
            samples: d.samples,
            eigenvalues: d.eigenvalues,
            recovery: d.recovery,
            trials: d.trials,
            seed: d.seed,
            census: CensusSettings::default(),
        }
    }
}

/// The critical recovery level of one attractor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttractorRecovery {
    /// Its position in the census's attractors.
    pub attractor: usize,
    pub recovery: Recovery,
}

/// The energy along the segment from the largest basin's stable point to another.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SegmentEnergy {
    pub from: usize,
    pub to: usize,
    /// E(to) − E(from).
    pub delta: f64,
    /// The highest E − E(from) along the segment.
    pub barrier: f64,
}

/// The 2-D grids of a landscape.
#[derive(Debug, Clone)]
pub struct LandscapeGrids {
    /// [x_min, x_max, y_min, y_max]: the patterns' padded box.
    pub bounds: [f64; 4],
    /// E = −sigma² log p_sigma, 101 × 101, row = y.
    pub energy: Array2<f64>,
    /// The score (D − x)/sigma², 21 × 21 × 2.
    pub score: Array3<f64>,
    /// Position in the census's attractors of the point each grid point settles within
    /// delta_s of, −1 elsewhere; 51 × 51.
    pub basins: Array2<f64>,
    /// The training points the grids are drawn over.
    pub patterns: Array2<f64>,
}

/// A trained network's landscape at one noise level.
#[derive(Debug, Clone)]
pub struct TrainedLandscape {
    pub request: LandscapeRequest,
    /// The samples the census started from.
    pub samples: Array2<f64>,
    /// Denoiser rows spent drawing them.
    pub sampling_rows: usize,
    pub thresholds: Resolved,
    /// The support gate's calibration, where there were enough held-out points.
    pub support_gate: Option<SupportCalibration>,
    pub census: Census,
    pub config: CensusConfig,
    pub recovery_config: RecoveryConfig,
    pub recoveries: Vec<AttractorRecovery>,
    pub energies: Vec<SegmentEnergy>,
    /// On 2-D data.
    pub grids: Option<LandscapeGrids>,
    pub seconds: f64,
}

impl LandscapeRequest {
    /// Checks the request against training data of dimension `d` and the held-out points
    /// (before any denoiser call); errors name the parameter.
    ///
    /// ```
    /// use memscape::pipeline::LandscapeRequest;
    /// use ndarray::Array2;
    ///
    /// let none = Array2::<f64>::zeros((0, 2));
    /// // the defaults ask for 10 eigenvalues: more than 2-D data has
    /// let e = LandscapeRequest::default().validate(2, none.view()).unwrap_err();
    /// assert!(e.to_string().starts_with("eigenvalues must be at most the data's dimension 2"), "{e}");
    /// let request = LandscapeRequest { eigenvalues: 2, ..Default::default() };
    /// request.validate(2, none.view())?;
    /// let e = LandscapeRequest { sigma: -1.0, ..request }.validate(2, none.view()).unwrap_err();
    /// assert!(e.to_string().starts_with("sigma"), "{e}");
    /// // held-out points of another dimension
    /// let e = request.validate(2, Array2::zeros((5, 3)).view()).unwrap_err();
    /// assert!(e.to_string().starts_with("heldout"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule, or held-out points of another dimension, named.
    pub fn validate(&self, d: usize, heldout: ArrayView2<f64>) -> Result<()> {
        require_positive("sigma", self.sigma)?;
        if self.samples == 0 {
            return Err(Error::invalid(
                "samples",
                "≥ 1 (the census starts from them)",
                0,
            ));
        }
        if self.eigenvalues > d {
            return Err(Error::invalid(
                "eigenvalues",
                format!("at most the data's dimension {d}"),
                self.eigenvalues,
            ));
        }
        if heldout.nrows() > 0 && heldout.ncols() != d {
            return Err(Error::ShapeMismatch {
                what: "heldout".into(),
                expected: vec![heldout.nrows(), d],
                got: heldout.shape().to_vec(),
            });
        }
        self.census.validate()
    }
}

/// A network's census from its own samples ([`own_census`]), with what it was made with.
#[derive(Debug, Clone)]
pub struct OwnCensus {
    /// The samples stopped at sigma: the census's starts.
    pub samples: Array2<f64>,
    /// Denoiser rows the sampling spent.
    pub sampling_rows: usize,
    pub thresholds: Resolved,
    pub gate: Option<SupportGate>,
    pub config: CensusConfig,
    pub census: Census,
}

/// The census of `model` at `request.sigma` from `request.samples` of its own samples stopped
/// there (Heun, 50 steps), against `train`, with the support gate of `heldout` when it has at
/// least [`MIN_HELDOUT`] points: the first stage of [`trained_landscape`], and what a training
/// trace reads at each checkpoint.
///
/// # Errors
/// A request that does not check out ([`LandscapeRequest::validate`], before any denoiser
/// call), and the errors of the sampler and the census.
pub fn own_census(
    model: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    request: &LandscapeRequest,
) -> Result<OwnCensus> {
    let (d, sigma) = (train.ncols(), request.sigma);
    request.validate(d, heldout)?;
    let scale = data_scale(train);
    // the network's samples, stopped at this sigma (their denoiser rows counted)
    let sampled = AtomicUsize::new(0);
    let counting = |x: ArrayView2<f64>, s: f64| {
        sampled.fetch_add(x.nrows(), Ordering::Relaxed);
        model.denoise(x, s)
    };
    let (samples, _) = stopped_samples(
        &counting,
        train,
        request.samples,
        sigma,
        ("heun", 50, false),
        request.seed,
    )?;
    let sampling_rows = sampled.load(Ordering::Relaxed);
    let thresholds = ThresholdSpec::default().resolve(train, None)?;
    let gate = (heldout.nrows() >= MIN_HELDOUT)
        .then(|| SupportGate::calibrate(train, heldout, SUPPORT_QUANTILE))
        .transpose()?;
    let mut config = CensusConfig::trained(
        model.arithmetic(),
        scale,
        thresholds.delta_s,
        thresholds.delta_m,
        request.eigenvalues,
    );
    config.fixed.max_arnoldi = d.min(config.fixed.max_arnoldi);
    config.fixed.seed = request.seed;
    request.census.apply(&mut config)?;
    let census = census(model, train, samples.view(), sigma, gate.as_ref(), &config)?;
    Ok(OwnCensus {
        samples,
        sampling_rows,
        thresholds,
        gate,
        config,
        census,
    })
}

/// The census of `model` at `request.sigma` from its own samples, the recovery levels and
/// relative energies of its largest basins, and on 2-D data the grids. `heldout` calibrates the
/// support gate when it has at least [`MIN_HELDOUT`] points (fewer: no gate).
///
/// # Errors
/// A request that does not check out ([`LandscapeRequest::validate`], before any denoiser
/// call), fewer than two distinct training points, and the errors of the sampler, the census
/// and the recovery runs.
///
/// ```
/// use memscape::analysis::landscape::attractor::CensusSettings;
/// use memscape::denoiser::EmpiricalDenoiser;
/// use memscape::pipeline::{LandscapeRequest, trained_landscape};
/// use ndarray::{Array2, array};
///
/// // any denoiser in place of a network: the exact one of three far patterns has three memories
/// let train = array![[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]];
/// let network = EmpiricalDenoiser::<f64>::new(train.view())?;
/// let request = LandscapeRequest {
///     sigma: 0.2,
///     samples: 60,
///     eigenvalues: 2,
///     recovery: 0,
///     trials: 4,
///     seed: 0,
///     census: CensusSettings::default(),
/// };
/// let l = trained_landscape(&network, train.view(), Array2::zeros((0, 2)).view(), &request)?;
/// assert_eq!(l.census.counts.memory, 3);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn trained_landscape(
    model: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    request: &LandscapeRequest,
) -> Result<TrainedLandscape> {
    let (d, sigma) = (train.ncols(), request.sigma);
    let clock = Instant::now();
    let OwnCensus {
        samples,
        sampling_rows,
        thresholds,
        gate,
        config,
        census: c,
    } = own_census(model, train, heldout, request)?;
    let scale = data_scale(train);
    // recovery levels of the stable points with the largest basins
    let mut stable: Vec<usize> = (0..c.attractors.len())
        .filter(|&i| c.attractors[i].index == Some(0) && c.attractors[i].certified)
        .collect();
    stable.sort_by(|&a, &b| c.attractors[b].basin.total_cmp(&c.attractors[a].basin));
    let recovery_config = RecoveryConfig {
        trials: request.trials,
        rate: 0.9,
        delta: thresholds.delta_m,
        bracket: [1e-3 * scale, 10.0 * scale],
        rel_tol: 1e-3,
        ode_steps: 20,
        settle: config.settle,
        resamples: 200,
        seed: request.seed,
    };
    let mut recoveries = vec![];
    for &i in stable.iter().take(request.recovery) {
        let a = ArrayView1::from(&c.attractors[i].x);
        recoveries.push(AttractorRecovery {
            attractor: i,
            recovery: recovery(model, a, sigma, &recovery_config)?,
        });
    }
    let mut energies = vec![];
    if let Some(&first) = stable.first() {
        let a = ArrayView1::from(&c.attractors[first].x);
        for &j in stable.iter().skip(1) {
            let b = ArrayView1::from(&c.attractors[j].x);
            let path = path_energy(model, a, b, sigma, 32)?;
            energies.push(SegmentEnergy {
                from: first,
                to: j,
                delta: path.delta,
                barrier: path.barrier,
            });
        }
    }
    let seconds = clock.elapsed().as_secs_f64();
    let grids = (d == 2).then(|| {
        let bounds = padded_box(train);
        let (energy, score) = energy_and_score(model, sigma, bounds);
        let basins = trained_basin_map(model, sigma, bounds, &c, &config);
        LandscapeGrids {
            bounds,
            energy,
            score,
            basins,
            patterns: train.to_owned(),
        }
    });
    Ok(TrainedLandscape {
        request: *request,
        samples,
        sampling_rows,
        thresholds,
        support_gate: gate.map(|g| g.calibration),
        census: c,
        config,
        recovery_config,
        recoveries,
        energies,
        grids,
        seconds,
    })
}

/// `attractors.json` of a trained landscape (written with its keys sorted): the census's
/// attractors and counts at sigma, its bookkeeping, the recovery levels and segment energies,
/// the thresholds, and on 2-D data where the grids are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainedDocument {
    /// "trained".
    pub model: String,
    pub checkpoint: Option<PathBuf>,
    pub step: Option<usize>,
    pub sigma: f64,
    pub beta: f64,
    pub critical_points: Vec<Attractor>,
    pub counts: KindCounts,
    pub census: CensusRecord,
    pub recovery: Vec<AttractorRecovery>,
    pub energies: Vec<SegmentEnergy>,
    pub thresholds: Resolved,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grids: Option<GridsRecord>,
}

/// The census's bookkeeping in a trained landscape's `attractors.json`. Fields older documents
/// lack read as empty (`config` as none, the cost ratios as NaN: unknown).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CensusRecord {
    /// Denoiser rows the sampler spent, and the census's rows against them.
    pub sampling_rows: usize,
    #[serde(
        default = "crate::numbers::nan",
        deserialize_with = "crate::numbers::null_as_nan"
    )]
    pub rows_to_sampling: f64,
    pub groups: usize,
    pub neutral_sets: usize,
    pub settled: usize,
    pub unsettled: usize,
    pub unsettled_share: f64,
    pub unsettled_ci: [f64; 2],
    pub unsettled_reasons: UnsettledCounts,
    pub unconverged_starts: usize,
    pub cost: CensusCost,
    pub rows: usize,
    #[serde(
        default = "crate::numbers::nan",
        deserialize_with = "crate::numbers::null_as_nan"
    )]
    pub rows_per_settled_sample: f64,
    pub euler: Option<EulerCheck>,
    /// The configuration, for the record: none where a document's is of a form this version
    /// no longer reads (before the census's margin, the settling flow and the polish).
    #[serde(deserialize_with = "crate::numbers::readable_or_none")]
    pub config: Option<CensusConfig>,
    pub num_samples: usize,
    pub support_gate: Option<SupportCalibration>,
}

/// Where a trained landscape's 2-D grids are and what they hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridsRecord {
    pub bounds: [f64; 4],
    pub energy: String,
    pub score: String,
    pub basins: String,
}

impl TrainedLandscape {
    /// The `attractors.json` document (and `--json` output), with the network's training
    /// `step` and `checkpoint` file for the record (null where unknown).
    ///
    /// ```
    /// # use memscape::analysis::landscape::attractor::CensusSettings;
    /// # use memscape::denoiser::EmpiricalDenoiser;
    /// # use memscape::pipeline::{LandscapeRequest, trained_landscape};
    /// # use ndarray::{Array2, array};
    /// // `l`: trained_landscape's example, the exact denoiser of three far patterns in place of
    /// // a network, at sigma = 0.2 from 60 samples
    /// # let train = array![[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]];
    /// # let network = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// # let request = LandscapeRequest {
    /// #     sigma: 0.2,
    /// #     samples: 60,
    /// #     eigenvalues: 2,
    /// #     recovery: 0,
    /// #     trials: 4,
    /// #     seed: 0,
    /// #     census: CensusSettings::default(),
    /// # };
    /// # let l = trained_landscape(&network, train.view(), Array2::zeros((0, 2)).view(), &request)?;
    /// let doc = l.document(Some(7), None);
    /// assert_eq!((doc.model.as_str(), doc.step, doc.checkpoint), ("trained", Some(7), None));
    /// assert!((doc.beta - 25.0).abs() < 1e-9); // 1/sigma²
    /// assert_eq!(doc.counts.memory, 3);
    /// assert_eq!(doc.census.num_samples, 60);
    /// assert!(doc.grids.is_some()); // 2-D data
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn document(&self, step: Option<usize>, checkpoint: Option<&PathBuf>) -> TrainedDocument {
        let c = &self.census;
        let sigma = self.request.sigma;
        TrainedDocument {
            model: "trained".into(),
            checkpoint: checkpoint.cloned(),
            step,
            sigma,
            beta: 1.0 / (sigma * sigma),
            critical_points: c.attractors.clone(),
            counts: c.counts,
            census: CensusRecord {
                sampling_rows: self.sampling_rows,
                rows_to_sampling: c.cost.total() as f64 / self.sampling_rows.max(1) as f64,
                groups: c.groups,
                neutral_sets: c.neutral_sets,
                settled: c.settled,
                unsettled: c.unsettled,
                unsettled_share: c.unsettled_share,
                unsettled_ci: c.unsettled_ci,
                unsettled_reasons: c.unsettled_reasons,
                unconverged_starts: c.unconverged_starts,
                cost: c.cost,
                rows: c.cost.total(),
                rows_per_settled_sample: c.rows_per_settled_sample(),
                euler: c.euler,
                config: Some(self.config),
                num_samples: self.request.samples,
                support_gate: self.support_gate,
            },
            recovery: self.recoveries.clone(),
            energies: self.energies.clone(),
            thresholds: self.thresholds,
            seconds: self.seconds,
            grids: self.grids.as_ref().map(|g| GridsRecord {
                bounds: g.bounds,
                energy: format!(
                    "energy_grid.npy ({ENERGY_RESOLUTION} × {ENERGY_RESOLUTION}, row = y): E = −sigma² log p_sigma, integrated along grid lines from the lower-left corner (path dependent where the learned field has curl)"
                ),
                score: format!(
                    "score_grid.npy ({SCORE_RESOLUTION} × {SCORE_RESOLUTION} × 2, (D − x)/sigma²)"
                ),
                basins: format!(
                    "basin_map.npy ({BASIN_MAP_RESOLUTION} × {BASIN_MAP_RESOLUTION}): position in critical_points of the point each grid point settles within delta_s of, −1 elsewhere (at most {BASIN_MAP_ITERATIONS} iterations)"
                ),
            }),
        }
    }

    /// Writes `samples.npy`, on 2-D data `energy_grid.npy`, `score_grid.npy`, `basin_map.npy`
    /// and `patterns.npy`, then `attractors.json` ([`Self::document`]); returns the files in
    /// that order.
    ///
    /// ```
    /// use memscape::pipeline::TrainedDocument;
    /// use memscape::store::RunDir;
    /// # use memscape::analysis::landscape::attractor::CensusSettings;
    /// # use memscape::denoiser::EmpiricalDenoiser;
    /// # use memscape::pipeline::{LandscapeRequest, trained_landscape};
    /// # use ndarray::{Array2, array};
    ///
    /// // `l`: trained_landscape's example, the exact denoiser of three far patterns in place of
    /// // a network, at sigma = 0.2 from 60 samples
    /// # let train = array![[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]];
    /// # let network = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// # let request = LandscapeRequest {
    /// #     sigma: 0.2,
    /// #     samples: 60,
    /// #     eigenvalues: 2,
    /// #     recovery: 0,
    /// #     trials: 4,
    /// #     seed: 0,
    /// #     census: CensusSettings::default(),
    /// # };
    /// # let l = trained_landscape(&network, train.view(), Array2::zeros((0, 2)).view(), &request)?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-trained-{}", std::process::id()));
    /// let files = l.write(&RunDir::create(&dir)?, Some(7), None)?;
    /// assert_eq!(files[..2], ["attractors.json", "samples.npy"]);
    /// assert!(files.iter().all(|f| dir.join(f).is_file())); // the grids too: 2-D data
    /// // it reads back as the report reads it
    /// let text = std::fs::read_to_string(dir.join("attractors.json")).unwrap();
    /// let back: TrainedDocument = serde_json::from_str(&text).unwrap();
    /// assert_eq!((back.step, back.counts.memory), (Some(7), 3));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(
        &self,
        out: &RunDir,
        step: Option<usize>,
        checkpoint: Option<&PathBuf>,
    ) -> Result<Vec<String>> {
        let mut files = vec!["attractors.json".to_string(), "samples.npy".to_string()];
        out.write_npy("samples.npy", &self.samples)?;
        if let Some(g) = &self.grids {
            out.write_npy("energy_grid.npy", &g.energy)?;
            out.write_npy("score_grid.npy", &g.score)?;
            out.write_npy("basin_map.npy", &g.basins)?;
            out.write_npy("patterns.npy", &g.patterns)?;
            files.extend(
                [
                    "energy_grid.npy",
                    "score_grid.npy",
                    "basin_map.npy",
                    "patterns.npy",
                ]
                .map(String::from),
            );
        }
        out.write_json(
            "attractors.json",
            &sorted_json(&self.document(step, checkpoint)),
        )?;
        Ok(files)
    }
}

/// E = −sigma² log p_sigma on a grid, from ∇E = x − D(x) by the trapezoid rule along the first
/// column then along each row (exact for a gradient field), and the score (D − x)/sigma² on a
/// coarser grid.
pub(super) fn energy_and_score(
    model: &(impl Denoiser + ?Sized),
    sigma: f64,
    bounds: [f64; 4],
) -> (Array2<f64>, Array3<f64>) {
    let n = ENERGY_RESOLUTION;
    let pts = grid_points(bounds, n);
    let g = &pts - &model.denoise(pts.view(), sigma);
    let [x0, x1, y0, y1] = bounds;
    let (dx, dy) = ((x1 - x0) / (n - 1) as f64, (y1 - y0) / (n - 1) as f64);
    let mut e = Array2::<f64>::zeros((n, n));
    for r in 1..n {
        e[[r, 0]] = e[[r - 1, 0]] + 0.5 * (g[[(r - 1) * n, 1]] + g[[r * n, 1]]) * dy;
    }
    for r in 0..n {
        for c in 1..n {
            e[[r, c]] = e[[r, c - 1]] + 0.5 * (g[[r * n + c - 1, 0]] + g[[r * n + c, 0]]) * dx;
        }
    }
    let m = SCORE_RESOLUTION;
    let coarse = grid_points(bounds, m);
    let s = (model.denoise(coarse.view(), sigma) - &coarse) / (sigma * sigma);
    let score = Array3::from_shape_fn((m, m, 2), |(r, c, j)| s[[r * m + c, j]]);
    (e, score)
}

/// Each grid point settled, labelled by the census point it ends within delta_s of (−1: none).
pub(super) fn trained_basin_map(
    model: &(impl Denoiser + ?Sized),
    sigma: f64,
    bounds: [f64; 4],
    c: &Census,
    config: &CensusConfig,
) -> Array2<f64> {
    let n = BASIN_MAP_RESOLUTION;
    let pts = grid_points(bounds, n);
    let settled = settle(
        model,
        pts.view(),
        sigma,
        &SettleConfig {
            max_iterations: BASIN_MAP_ITERATIONS,
            ..config.settle
        },
    );
    let radius = config.group_radius.max(config.fixed.merge);
    Array2::from_shape_fn((n, n), |(r, col)| {
        let p = settled.points.row(r * n + col);
        c.attractors
            .iter()
            .position(|a| squared_distance(&a.x, p).sqrt() <= radius)
            .map_or(-1.0, |i| i as f64)
    })
}
