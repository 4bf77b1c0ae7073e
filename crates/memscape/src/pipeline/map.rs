//! The phase map over K: a plan resolved once from the request (pool, nested split, held-out
//! data, sampler, settling), one measured point per model and K, and their assembly into rows
//! and capacities.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::default_holdout;
use crate::analysis::landscape::attractor::{
    CensusConfig, CensusSettings, CensusSummary, SaddleSearch, census,
};
use crate::analysis::samples::capacity::{
    Capacities, CapacityIntervals, capacities, capacity_intervals,
};
use crate::analysis::samples::classify::{
    Class, Classification, Fractions, Resolved, ThresholdSpec, classify, fractions,
};
use crate::analysis::samples::cluster::{ClusterCounts, cluster_samples};
use crate::analysis::samples::embed::Nonlinear;
use crate::analysis::samples::support::{
    self, MIN_HELDOUT, Quality, SUPPORT_QUANTILE, SupportCalibration, SupportGate,
};
use crate::dataset::subset::{DEFAULT_SUBSET_SEED, Split};
use crate::dataset::{DEFAULT_DATA, DataSpec, ExactQuality, Patterns, data_scale};
use crate::denoiser::{Denoiser, EmpiricalDenoiser, PruneStats, Pruning, TrainedModel};
use crate::error::{Error, Result};
use crate::numbers::field;
use crate::sampler::{self, MAP_SIGMA_MIN, SamplerConfig, SamplingPlan, default_sigma_range};

/// A phase map over K: for each training-set size, sample the exact model down to a final
/// noise level sigma_min, ending with the denoised estimate D(y, sigma_min), and classify those
/// samples (Pham et al.'s measurement). Each sample is also carried to the attractor it sits in
/// (iterating D at sigma_min) to count the distinct attractors reached.
#[derive(Debug, Clone, Serialize)]
pub struct MapRequest {
    pub data: DataSpec,
    /// Training-set sizes, ascending.
    pub ks: Vec<usize>,
    pub subset_seed: u64,
    /// The sampler; its sigma_min defaults to [`MAP_SIGMA_MIN`] × the data scale here.
    pub plan: SamplingPlan,
    pub num_samples: usize,
    pub thresholds: ThresholdSpec,
    /// Bootstrap resamples for the confidence intervals.
    pub resamples: usize,
    /// Nonlinear maps (t-SNE, UMAP) of the exact model at its spurious peak, besides the PCA.
    pub nonlinear: Vec<Nonlinear>,
    /// Held-out points (the tail of the permutation) that calibrate the support gate and
    /// score sample quality; `None`: min(1000, pool − largest K), and no gate when that is
    /// below [`MIN_HELDOUT`].
    pub holdout: Option<usize>,
    /// Quantile of the held-out distances past which a sample is off-support.
    pub support_quantile: f64,
    /// Whether the exact denoiser may skip negligible patterns ([`Pruning`]).
    pub pruning: Pruning,
    /// The attractor census of every K: margin and settling.
    #[serde(default)]
    pub census: CensusSettings,
}

/// The phase map's defaults as its users state them: `memscape map`'s flags, the sweep spec's
/// `[map]` table and axes, and Python's `map()` all read this one value (issue 29: each default
/// stated once); the sampler's are [`sampler::SAMPLER_DEFAULTS`]. [`MapRequest::default`] is
/// built from both.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MapDefaults {
    /// Dataset spec ([`DataSpec::parse`]).
    pub data: &'static str,
    /// Training-set sizes: log-spaced from 2 to 1000.
    pub ks: &'static [usize],
    /// The model mapped beside the exact one: a network trained at every K.
    pub model: &'static str,
    pub subset_seed: u64,
    pub n_samples: usize,
    /// Noise levels of the sampler.
    pub steps: usize,
    pub resamples: usize,
    /// Training steps of the network at every K.
    pub train_steps: usize,
    pub support_quantile: f64,
}

/// See [`MapDefaults`].
pub const MAP_DEFAULTS: MapDefaults = MapDefaults {
    data: DEFAULT_DATA,
    ks: &[2, 3, 5, 9, 16, 28, 50, 90, 160, 280, 500, 1000],
    model: "mlp",
    subset_seed: DEFAULT_SUBSET_SEED,
    n_samples: 2000,
    steps: 100,
    resamples: 200,
    train_steps: 4000,
    support_quantile: SUPPORT_QUANTILE,
};

impl MapDefaults {
    /// The K list as the command line writes it: `2,3,5,…`.
    ///
    /// ```
    /// use memscape::pipeline::MAP_DEFAULTS;
    ///
    /// assert_eq!(MAP_DEFAULTS.ks_text(), "2,3,5,9,16,28,50,90,160,280,500,1000");
    /// ```
    pub fn ks_text(&self) -> String {
        crate::numbers::list_text(self.ks)
    }
}

impl Default for MapRequest {
    /// [`MAP_DEFAULTS`] and [`sampler::SAMPLER_DEFAULTS`]: automatic thresholds, the held-out set and
    /// noise range chosen from the data, pruning where it pays, no nonlinear maps.
    fn default() -> Self {
        let d = MAP_DEFAULTS;
        MapRequest {
            data: DataSpec::parse(d.data).expect("the default dataset parses"),
            ks: d.ks.to_vec(),
            subset_seed: d.subset_seed,
            plan: SamplingPlan {
                num_steps: d.steps,
                ..SamplingPlan::default()
            },
            num_samples: d.n_samples,
            thresholds: ThresholdSpec::default(),
            resamples: d.resamples,
            nonlinear: vec![],
            holdout: None,
            support_quantile: d.support_quantile,
            pruning: Pruning::Auto,
            census: CensusSettings::default(),
        }
    }
}

/// Points in a nonlinear map: the first (up to) half patterns, then samples.
const NONLINEAR_POINTS: usize = 1000;

/// Rightmost Jacobian eigenvalues per fixed point in a map's census (at most the dimension).
const MAP_EIGENVALUES: usize = 6;
/// Groups of settled samples a map's census analyses at each K, the most populated first (a
/// memorizing model at large K has one per pattern reached; the samples of the others are
/// reported as not analysed).
const MAP_GROUPS: usize = 256;

/// One K of a phase map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRow {
    pub k: usize,
    pub model: String,
    pub fractions: Fractions,
    /// Distinct attractors reached (stable points and manifolds that hold samples).
    pub num_attractors: usize,
    /// Share of samples whose settling converged (or settled on a near-neutral set).
    pub settled: f64,
    /// The attractor census at sigma_min: counts by kind (saddles from the midpoints of
    /// neighbouring stable points), basins, the unsettled share.
    pub census: Option<CensusSummary>,
    /// Clusters of the settled samples: DBSCAN and single linkage at the automatic threshold,
    /// HDBSCAN
    /// (an independent count of the attractors, each labelled by its samples' majority class).
    pub clusters: [ClusterCounts; 3],
    pub thresholds: Resolved,
    /// The support gate's calibration at this K (none without held-out data).
    pub support: Option<SupportCalibration>,
    /// Kernel MMD² of the samples against held-out data, with real data's floor.
    pub quality: Option<Quality>,
    /// The exact quality of the samples where the data's distribution is known, and that of
    /// the held-out points ([`DataSpec::exact_quality`]).
    pub exact_quality: Option<ExactQuality>,
    pub exact_quality_heldout: Option<f64>,
    /// What pruning achieved, where the exact denoiser pruned (sampling and settling).
    pub pruning: Option<PruneStats>,
    pub seconds: f64,
}

/// A finished phase map, with the arrays behind it. Rows, samples, attractors and labels run
/// over the exact model's K first, then the trained model's.
#[derive(Debug)]
pub struct MapRun {
    pub request: MapRequest,
    /// The trained model's configuration, when one was mapped.
    pub trained: Option<serde_json::Value>,
    pub sampler: SamplerConfig,
    pub rows: Vec<MapRow>,
    /// Capacities per model, the exact one first.
    pub models: Vec<ModelCapacities>,
    pub samples: Vec<Array2<f64>>,
    pub attractors: Vec<Array2<f64>>,
    pub classifications: Vec<Classification>,
    /// `embedding.csv` rows of the exact model (see `embedding_rows`).
    pub embedding: Vec<Vec<String>>,
    /// `embedding_nonlinear.csv` rows ([`NONLINEAR_HEADER`]); empty when none was asked for.
    pub nonlinear: Vec<Vec<String>>,
    /// The training set of the largest K (`train.npy`; the first K rows are the set of K).
    pub train: Array2<f64>,
    /// (height, width) when the patterns are images.
    pub image_shape: Option<(usize, usize)>,
    pub timings: BTreeMap<String, f64>,
}

/// One model's samples at one K, measured: the row, the raw samples, where they settle, and
/// their labels. A point is a function of its plan's request and K alone, so a sweep can
/// compute it on any machine and [`MapPlan::assemble`] the map later. The arrays are not
/// serialized: a sweep keeps them in `.npy` files beside its store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapPoint {
    pub row: MapRow,
    #[serde(skip)]
    pub samples: Array2<f64>,
    #[serde(skip)]
    pub attractors: Array2<f64>,
    pub classification: Classification,
    /// The census attractor each sample settles into (None: unsettled).
    pub attractor_of: Vec<Option<usize>>,
    /// DBSCAN cluster of each sample (`None`: noise).
    pub cluster_of: Vec<Option<usize>>,
    /// `embedding.csv` rows ([`EMBEDDING_HEADER`]); the exact model's only, else empty.
    #[serde(deserialize_with = "rows_or_text")]
    pub embedding: Vec<Vec<String>>,
}

/// CSV rows, also from the CSV text that sweep stores written before the rows were typed hold
/// (`point.json`'s `embedding`).
fn rows_or_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Rows(Vec<Vec<String>>),
        Text(String),
    }
    match Stored::deserialize(d)? {
        Stored::Rows(rows) => Ok(rows),
        Stored::Text(text) => csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.map(|r| r.iter().map(String::from).collect()))
            .collect::<std::result::Result<_, _>>()
            .map_err(serde::de::Error::custom),
    }
}

/// The capacities of one model's rows, with bootstrap intervals.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCapacities {
    pub model: String,
    pub capacities: Capacities,
    pub ci: CapacityIntervals,
}

impl ModelCapacities {
    fn of(model: &str, ks: &[usize], points: &[&MapPoint], resamples: usize, seed: u64) -> Self {
        let column = |f: fn(&Fractions) -> f64| {
            points
                .iter()
                .map(|m| f(&m.row.fractions))
                .collect::<Vec<f64>>()
        };
        let classes: Vec<&[Class]> = points
            .iter()
            .map(|m| m.classification.classes.as_slice())
            .collect();
        ModelCapacities {
            model: model.to_string(),
            capacities: capacities(
                ks,
                &column(|f| f.memorized.value),
                &column(|f| f.spurious.value),
                &column(|f| f.generalized.value),
            ),
            ci: capacity_intervals(ks, &classes, resamples, seed),
        }
    }
}

/// What every point of a phase map shares, resolved once from its request: the pool, the
/// seeded split and its held-out tail, the support gate's data, the sampler and settling.
#[derive(Debug)]
pub struct MapPlan {
    pub request: MapRequest,
    pool: Arc<Patterns>,
    split: Split,
    /// Held-out points, resolved (0: no support gate).
    pub holdout: usize,
    heldout: Array2<f64>,
    pub sampler: SamplerConfig,
    /// The data's RMS norm, which sets the settling tolerances.
    scale: f64,
}

impl MapPlan {
    /// Checks the request, loads the data and resolves the held-out set and the sampler.
    ///
    /// # Errors
    /// A K list that is not increasing with every K ≥ 2, fewer than 2 samples, a held-out size
    /// between 0 and the gate's minimum, census settings that break a rule, or a pool smaller
    /// than the largest K.
    ///
    /// ```
    /// use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// use memscape::sampler::{MAP_SIGMA_MIN, SamplingPlan};
    ///
    /// // a brief map of the unit circle at K = 2 and 4, without held-out points
    /// let request = MapRequest {
    ///     data: DataSpec::parse("circle")?,
    ///     ks: vec![2, 4],
    ///     num_samples: 20,
    ///     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    ///     resamples: 10,
    ///     holdout: Some(0),
    ///     ..MapRequest::default()
    /// };
    /// let plan = MapPlan::new(request.clone())?;
    /// assert_eq!(plan.holdout, 0);
    /// // sigma_min is MAP_SIGMA_MIN times the data's RMS norm, 1 on the unit circle
    /// assert!((plan.sampler.schedule.sigma_min - MAP_SIGMA_MIN).abs() < 1e-12);
    /// // by default 1000 of the circle's 10,000 points are held out
    /// let default_holdout = MapPlan::new(MapRequest { holdout: None, ..request.clone() })?;
    /// assert_eq!(default_holdout.holdout, 1000);
    /// // K must increase
    /// let e = MapPlan::new(MapRequest { ks: vec![4, 2], ..request }).unwrap_err();
    /// assert!(e.to_string().starts_with("k must be"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn new(request: MapRequest) -> Result<Self> {
        let pool = Arc::new(request.data.load()?);
        Self::with_pool(request, pool)
    }

    /// [`MapPlan::new`] on a pool already loaded from `request.data`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// // one pool for two maps with different subset seeds
    /// let pool = Arc::new(request.data.load()?);
    /// let a = MapPlan::with_pool(request.clone(), Arc::clone(&pool))?;
    /// let b = MapPlan::with_pool(MapRequest { subset_seed: 7, ..request.clone() }, Arc::clone(&pool))?;
    /// assert_ne!(a.train(4)?.points, b.train(4)?.points);
    /// // the circle's 10,000 points hold no training set of 20,000
    /// let e = MapPlan::with_pool(MapRequest { ks: vec![2, 20_000], ..request }, pool).unwrap_err();
    /// assert!(e.to_string().starts_with("k must be"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MapPlan::new`].
    pub fn with_pool(request: MapRequest, pool: Arc<Patterns>) -> Result<Self> {
        if request.ks.is_empty() || request.ks.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "k",
                "a non-empty, strictly increasing list",
                format!("{:?}", request.ks),
            ));
        }
        if request.ks[0] < 2 {
            return Err(Error::invalid(
                "k",
                "≥ 2 everywhere (f_mem needs two training points)",
                request.ks[0],
            ));
        }
        if request.num_samples < 2 {
            return Err(Error::invalid("num_samples", "≥ 2", request.num_samples));
        }
        request.census.validate()?;
        let largest = *request.ks.last().expect("non-empty");
        let holdout = match request.holdout {
            Some(h) => h,
            None => default_holdout(pool.num_patterns(), largest),
        };
        if holdout > 0 && holdout < MIN_HELDOUT {
            return Err(Error::invalid(
                "holdout",
                format!("0 or at least {MIN_HELDOUT} (to calibrate the support gate)"),
                holdout,
            ));
        }
        let split = Split::new(pool.num_patterns(), holdout, request.subset_seed)?;
        split.train_indices(largest)?;
        let heldout = split.heldout(&pool).points;
        let scale = data_scale(pool.points.view());
        let (default_max, _) = default_sigma_range(scale);
        let sampler = request
            .plan
            .config(default_max, MAP_SIGMA_MIN * scale, true)?;
        Ok(MapPlan {
            request,
            pool,
            split,
            holdout,
            heldout,
            sampler,
            scale,
        })
    }

    /// The training set of size `k` (the first `k` of the seeded permutation).
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let plan = MapPlan::new(request)?;
    /// // nested: the set of 2 is the first 2 of the set of 4
    /// let (small, large) = (plan.train(2)?, plan.train(4)?);
    /// assert_eq!(small.points, large.points.slice(ndarray::s![..2, ..]));
    /// assert!(plan.train(20_000).is_err()); // the circle has 10,000 points
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// `k` larger than the pool.
    pub fn train(&self, k: usize) -> Result<Patterns> {
        self.split.train(&self.pool, k)
    }

    /// The support gate of the training set of `k`, when there is held-out data.
    fn gate(&self, train: &Patterns) -> Result<Option<SupportGate>> {
        (self.holdout > 0)
            .then(|| {
                SupportGate::calibrate(
                    train.points.view(),
                    self.heldout.view(),
                    self.request.support_quantile,
                )
            })
            .transpose()
    }

    /// The exact model at `k`: sampled, settled, classified, with its embedding rows.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let point = MapPlan::new(request)?.measure_exact(4)?;
    /// assert_eq!((point.row.k, point.row.model.as_str()), (4, "exact"));
    /// assert_eq!(point.samples.dim(), (20, 2));
    /// // the exact model memorizes: its samples settle on at most K attractors
    /// assert!(point.row.fractions.memorized.value >= 0.9, "{:?}", point.row.fractions);
    /// assert!(point.row.num_attractors <= 4);
    /// // embedding rows: the 4 patterns, then the 20 samples
    /// assert_eq!(point.embedding.len(), 24);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The sampler's, the classification's or the census's errors.
    pub fn measure_exact(&self, k: usize) -> Result<MapPoint> {
        let train = self.train(k)?;
        let gate = self.gate(&train)?;
        let den =
            EmpiricalDenoiser::<f64>::new(train.points.view())?.with_pruning(self.request.pruning);
        let mut m = self.measure("exact", &den, &train, gate.as_ref(), true)?;
        m.row.pruning = den.pruning_tolerance().map(|_| den.pruning_stats());
        m.embedding = embedding_rows(
            k,
            &train.points,
            &m.samples,
            &m.classification,
            &m.attractor_of,
            &m.cluster_of,
        )?;
        Ok(m)
    }

    /// `model` trained at `k`, then sampled, settled and classified like the exact model.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::dataset::Patterns;
    /// use memscape::denoiser::{Denoiser, TrainedModel};
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    /// use ndarray::{Array2, ArrayView2, Axis};
    ///
    /// // a "network" that learns only its training set's mean: D(x, sigma) = mean
    /// struct Mean;
    /// impl TrainedModel for Mean {
    ///     fn name(&self) -> &'static str {
    ///         "mean"
    ///     }
    ///     fn fit(&self, train: &Patterns) -> memscape::Result<Box<dyn Denoiser>> {
    ///         let mean = train.points.mean_axis(Axis(0)).expect("K ≥ 2");
    ///         Ok(Box::new(move |x: ArrayView2<f64>, _sigma: f64| {
    ///             Array2::from_shape_fn(x.raw_dim(), |(_, j)| mean[j])
    ///         }))
    ///     }
    ///     fn config(&self) -> serde_json::Value {
    ///         serde_json::json!({ "model": "mean" })
    ///     }
    /// }
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let point = MapPlan::new(request)?.measure_trained(4, &Mean)?;
    /// assert_eq!((point.row.k, point.row.model.as_str()), (4, "mean"));
    /// // every sample is the mean, away from the patterns on the circle: one spurious attractor
    /// assert_eq!(point.row.fractions.spurious.value, 1.0);
    /// assert_eq!(point.row.num_attractors, 1);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The model's training errors, and as [`Self::measure_exact`].
    pub fn measure_trained(&self, k: usize, model: &dyn TrainedModel) -> Result<MapPoint> {
        let train = self.train(k)?;
        let gate = self.gate(&train)?;
        let clock = Instant::now();
        let net = model.fit(&train)?;
        let fit_s = clock.elapsed().as_secs_f64();
        let mut m = self.measure(model.name(), net.as_ref(), &train, gate.as_ref(), false)?;
        m.row.seconds += fit_s;
        Ok(m)
    }

    /// Samples `den`, classifies the samples against `train`, and runs the attractor census
    /// from them at sigma_min (the exact model's, with its unit step, or a network's).
    fn measure(
        &self,
        model: &str,
        den: &(impl Denoiser + ?Sized),
        train: &Patterns,
        gate: Option<&SupportGate>,
        exact: bool,
    ) -> Result<MapPoint> {
        let (request, sampler) = (&self.request, &self.sampler);
        let clock = Instant::now();
        let k = train.num_patterns();
        let raw = sampler::sample(den, train.dim(), request.num_samples, sampler, &mut ())?;
        let c = classify(
            train.points.view(),
            raw.view(),
            None,
            &request.thresholds,
            gate,
        )?;
        let eigenvalues = MAP_EIGENVALUES.min(train.dim());
        let (delta_s, delta_m) = (c.thresholds.delta_s, c.thresholds.delta_m);
        let mut config = if exact {
            CensusConfig::exact(den.arithmetic(), self.scale, delta_s, delta_m, eigenvalues)
        } else {
            CensusConfig::trained(den.arithmetic(), self.scale, delta_s, delta_m, eigenvalues)
        };
        config.fixed.max_arnoldi = train.dim().min(config.fixed.max_arnoldi);
        config.fixed.asymmetry_probes = 0;
        config.fixed.seed = request.plan.seed ^ k as u64;
        config.saddle_search = SaddleSearch::Midpoints;
        config.max_groups = MAP_GROUPS;
        config.resamples = request.resamples;
        request.census.apply(&mut config)?;
        let landscape = census(
            den,
            train.points.view(),
            raw.view(),
            sampler.schedule.sigma_min,
            gate,
            &config,
        )?;
        let heldout = gate.map(|_| self.heldout.view());
        let quality = heldout
            .map(|h| support::quality(raw.view(), h))
            .transpose()?;
        let exact_quality = request.data.exact_quality(raw.view());
        let exact_quality_heldout = heldout
            .and_then(|h| request.data.exact_quality(h))
            .map(|q| q.value);
        let ([cluster_of, _, _], clusters) =
            cluster_samples(landscape.settled_points.view(), &c.classes)?;
        Ok(MapPoint {
            row: MapRow {
                k,
                model: model.to_string(),
                fractions: fractions(&c, request.resamples, request.plan.seed ^ k as u64),
                num_attractors: landscape.attractors_reached(),
                settled: landscape.settled as f64 / request.num_samples as f64,
                census: Some(CensusSummary::of(&landscape)),
                clusters,
                thresholds: c.thresholds,
                support: c.support,
                quality,
                exact_quality,
                exact_quality_heldout,
                pruning: None,
                seconds: clock.elapsed().as_secs_f64(),
            },
            samples: raw,
            attractor_of: landscape.sample_attractor,
            attractors: landscape.settled_points,
            classification: c,
            cluster_of,
            embedding: vec![],
        })
    }

    /// The map from its points: the exact model's at every K of the request, then, when
    /// `trained` names a model's configuration, that model's at every K. Capacities,
    /// intervals and the nonlinear maps are computed here.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// // the points may be measured anywhere (a sweep's machines), then assembled in K order
    /// let plan = MapPlan::new(request.clone())?;
    /// let (two, four) = (plan.measure_exact(2)?, plan.measure_exact(4)?);
    /// let run = plan.assemble(vec![two, four.clone()], None, BTreeMap::new())?;
    /// assert_eq!(run.rows.iter().map(|r| r.k).collect::<Vec<_>>(), [2, 4]);
    /// assert_eq!((run.models.len(), run.models[0].model.as_str()), (1, "exact"));
    /// assert_eq!(run.train.nrows(), 4); // the largest K's training set
    /// // a K of the request without its point
    /// let e = MapPlan::new(request)?.assemble(vec![four], None, BTreeMap::new()).unwrap_err();
    /// assert!(e.to_string().starts_with("points"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// Points missing for a K of the request, or the capacities' and embeddings' errors.
    pub fn assemble(
        self,
        points: Vec<MapPoint>,
        trained: Option<serde_json::Value>,
        mut timings: BTreeMap<String, f64>,
    ) -> Result<MapRun> {
        let request = &self.request;
        let ks = &request.ks;
        let models: Vec<String> = points.iter().fold(vec![], |mut names, p| {
            if !names.contains(&p.row.model) {
                names.push(p.row.model.clone());
            }
            names
        });
        if models.first().map(String::as_str) != Some("exact") {
            return Err(Error::invalid(
                "points",
                "the exact model's points first",
                models.join(", "),
            ));
        }
        let seed = request.plan.seed;
        let mut capacities = vec![];
        for name in &models {
            let of: Vec<&MapPoint> = points.iter().filter(|p| &p.row.model == name).collect();
            let at: Vec<usize> = of.iter().map(|p| p.row.k).collect();
            if &at != ks {
                return Err(Error::invalid(
                    "points",
                    format!("one per K of the request {ks:?}, in order, for each model"),
                    format!("{name} at {at:?}"),
                ));
            }
            capacities.push(ModelCapacities::of(name, ks, &of, request.resamples, seed));
        }
        let largest = *ks.last().expect("non-empty");
        let peak_k = capacities[0].capacities.spurious_peak_k;
        let nonlinear = match points.iter().find(|m| m.row.k == peak_k) {
            Some(m) if !request.nonlinear.is_empty() => {
                let clock = Instant::now();
                let rows = nonlinear_rows(&request.nonlinear, &self.train(peak_k)?, m, seed)?;
                timings.insert("nonlinear_s".into(), clock.elapsed().as_secs_f64());
                rows
            }
            _ => vec![],
        };
        let train = self.train(largest)?.points;
        let (mut rows, mut samples, mut attractors, mut classifications) =
            (vec![], vec![], vec![], vec![]);
        let mut embedding = vec![];
        for m in points {
            rows.push(m.row);
            samples.push(m.samples);
            attractors.push(m.attractors);
            classifications.push(m.classification);
            embedding.extend(m.embedding);
        }
        Ok(MapRun {
            trained,
            sampler: self.sampler,
            rows,
            models: capacities,
            samples,
            attractors,
            classifications,
            embedding,
            nonlinear,
            train,
            image_shape: self.pool.image_shape,
            timings,
            request: self.request,
        })
    }
}

/// Runs the phase map of the exact model and, when given, of a model trained at every K.
///
/// ```
/// use memscape::pipeline::{MapRequest, map};
///
/// // The exact model of the default data (the unit circle) at K = 2 and 5, briefly sampled:
/// // it memorizes, and its samples settle on the patterns (at most K attractors; patterns
/// // closer than 2 sigma_min share one).
/// let mut request = MapRequest {
///     ks: vec![2, 5],
///     num_samples: 200,
///     resamples: 20,
///     ..MapRequest::default()
/// };
/// request.plan.num_steps = 40;
/// let run = map(request, None)?;
/// for row in &run.rows {
///     assert!(row.fractions.memorized.value >= 0.9, "K = {}: {:?}", row.k, row.fractions);
///     assert!(row.fractions.spurious.value <= 0.05 && row.num_attractors <= row.k);
/// }
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A request that does not check out (its K list, sample count, held-out size, sampler,
/// thresholds or census settings), a dataset that cannot be loaded, and the errors of the
/// trained model.
pub fn map(request: MapRequest, trained: Option<&dyn TrainedModel>) -> Result<MapRun> {
    let clock = Instant::now();
    let plan = MapPlan::new(request)?;
    let mut timings = BTreeMap::from([("load_s".to_string(), clock.elapsed().as_secs_f64())]);
    let (mut exact, mut other) = (vec![], vec![]);
    let models = 1 + usize::from(trained.is_some());
    let progress = crate::progress::Task::start(
        "map (model × K points)",
        (models * plan.request.ks.len()) as u64,
    );
    for &k in &plan.request.ks {
        exact.push(plan.measure_exact(k)?);
        progress.advance(1);
        if let Some(model) = trained {
            other.push(plan.measure_trained(k, model)?);
            progress.advance(1);
        }
    }
    drop(progress);
    exact.extend(other);
    let mut run = plan.assemble(exact, trained.map(|t| t.config()), BTreeMap::new())?;
    timings.append(&mut run.timings);
    timings.insert("total_s".into(), clock.elapsed().as_secs_f64());
    run.timings = timings;
    Ok(run)
}

/// Header of `embedding_nonlinear.csv`.
pub const NONLINEAR_HEADER: &str = "method,k,kind,index,x,y,class,cluster";

/// Nonlinear maps of patterns and samples of one K: up to [`NONLINEAR_POINTS`] / 2 patterns,
/// then samples to fill [`NONLINEAR_POINTS`].
fn nonlinear_rows(
    methods: &[Nonlinear],
    train: &Patterns,
    m: &MapPoint,
    seed: u64,
) -> Result<Vec<Vec<String>>> {
    let np = train.num_patterns().min(NONLINEAR_POINTS / 2);
    let ns = m.samples.nrows().min(NONLINEAR_POINTS - np);
    let both = ndarray::concatenate(
        ndarray::Axis(0),
        &[
            train.points.slice(ndarray::s![..np, ..]),
            m.samples.slice(ndarray::s![..ns, ..]),
        ],
    )
    .expect("same dimension");
    let k = m.row.k;
    let mut rows = vec![];
    for method in methods {
        let y = method.layout(both.view(), seed)?;
        let name = method.name();
        for i in 0..np {
            rows.push(vec![
                name.to_string(),
                k.to_string(),
                "pattern".into(),
                i.to_string(),
                y[[i, 0]].to_string(),
                y[[i, 1]].to_string(),
                String::new(),
                String::new(),
            ]);
        }
        for i in 0..ns {
            rows.push(vec![
                name.to_string(),
                k.to_string(),
                "sample".into(),
                i.to_string(),
                y[[np + i, 0]].to_string(),
                y[[np + i, 1]].to_string(),
                m.classification.classes[i].name().to_string(),
                field(m.cluster_of[i]),
            ]);
        }
    }
    Ok(rows)
}

/// Header of `embedding.csv`.
pub const EMBEDDING_HEADER: &str = "k,kind,index,pc1,pc2,class,attractor,cluster";

/// CSV rows of a joint PCA of patterns and samples ([`EMBEDDING_HEADER`]): `attractor` is the
/// census attractor each sample settles into (empty: unsettled), `cluster` its DBSCAN cluster
/// (empty: noise).
fn embedding_rows(
    k: usize,
    patterns: &Array2<f64>,
    samples: &Array2<f64>,
    c: &Classification,
    attractor_of: &[Option<usize>],
    cluster_of: &[Option<usize>],
) -> Result<Vec<Vec<String>>> {
    let both = ndarray::concatenate(ndarray::Axis(0), &[patterns.view(), samples.view()])
        .expect("same dimension");
    let dims = both.ncols().min(2);
    let (proj, _) = crate::analysis::samples::embed::pca(both.view(), dims)?;
    let pc = |i: usize, j: usize| if j < dims { proj[[i, j]] } else { 0.0 };
    let mut rows = vec![];
    for i in 0..patterns.nrows() {
        rows.push(vec![
            k.to_string(),
            "pattern".into(),
            i.to_string(),
            pc(i, 0).to_string(),
            pc(i, 1).to_string(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for (i, ((class, attractor), cluster)) in c
        .classes
        .iter()
        .zip(attractor_of)
        .zip(cluster_of)
        .enumerate()
    {
        let r = patterns.nrows() + i;
        rows.push(vec![
            k.to_string(),
            "sample".into(),
            i.to_string(),
            pc(r, 0).to_string(),
            pc(r, 1).to_string(),
            class.name().to_string(),
            field(*attractor),
            field(*cluster),
        ]);
    }
    Ok(rows)
}
