//! The phase map over K: a plan resolved once from the request (pool, nested split, held-out
//! data, sampler, settling), one measured point per model and K, and their assembly into rows
//! and capacities.

mod plan;

pub use plan::*;

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::attractor::{CensusSettings, CensusSummary};
use crate::analysis::samples::capacity::{
    Capacities, CapacityIntervals, capacities, capacity_intervals,
};
use crate::analysis::samples::chance::Chance;
use crate::analysis::samples::classify::{
    Class, Classification, Fractions, Resolved, ThresholdSpec,
};
use crate::analysis::samples::cluster::ClusterCounts;
use crate::analysis::samples::embed::Nonlinear;
use crate::analysis::samples::fidelity::Fidelity;
use crate::analysis::samples::support::{Quality, SUPPORT_QUANTILE, SupportCalibration};
use crate::dataset::subset::DEFAULT_SUBSET_SEED;
use crate::dataset::subset::TrainingSets;
use crate::dataset::{DEFAULT_DATA, DataSpec, ExactQuality};
use crate::denoiser::{Denoiser, PruneStats, Pruning, TrainedModel};
use crate::error::{Error, Result};

use crate::sampler::{SamplerConfig, SamplingPlan};

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
    /// The sampler; its sigma_min defaults to [`crate::sampler::MAP_SIGMA_MIN`] × the data scale here.
    pub plan: SamplingPlan,
    pub num_samples: usize,
    pub thresholds: ThresholdSpec,
    /// Bootstrap resamples for the confidence intervals.
    pub resamples: usize,
    /// Nonlinear maps (t-SNE, UMAP) of the exact model at its spurious peak, besides the PCA.
    pub nonlinear: Vec<Nonlinear>,
    /// Held-out points (the tail of the permutation) that calibrate the support gate and
    /// score sample quality; `None`: min(1000, pool − largest K), and no gate when that is
    /// below [`crate::analysis::samples::support::MIN_HELDOUT`].
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
/// stated once); the sampler's are [`crate::sampler::SAMPLER_DEFAULTS`]. [`MapRequest::default`] is
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
    /// [`MAP_DEFAULTS`] and [`crate::sampler::SAMPLER_DEFAULTS`]: automatic thresholds, the held-out set and
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
    /// The chance levels of held-out draws classified as samples at this K, and the excess
    /// over them (none without held-out data).
    #[serde(default)]
    pub chance: Option<Chance>,
    /// Kernel MMD² of the samples against held-out data, with real data's floor.
    pub quality: Option<Quality>,
    /// The Fréchet distance of the samples to held-out data (with its floor), precision and
    /// recall, in the data's own space (none without held-out data).
    #[serde(default)]
    pub fidelity: Option<Fidelity>,
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
    let config = trained.map(|t| t.config());
    let other = trained.map(|t| move |plan: &MapPlan, k| plan.measure_trained(k, t));
    run(plan, clock, other, config)
}

/// How the samples of a given model settle in its census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Settling {
    /// The probability-flow ODE towards sigma → 0: any model (trained networks settle so).
    Flow,
    /// The unit step x ← D(x) (CCCP), as the exact model settles: for models where it
    /// converges (the exact model, kernel models); it diverges where the Jacobian has an
    /// eigenvalue below −1.
    UnitStep,
}

/// Models the caller gives, one per K, as [`map_models`] maps them.
pub struct GivenModels<'a> {
    /// Their name in the tables, other than "exact" (the exact model's rows are beside them).
    pub name: &'a str,
    /// One per K of the request, in K order.
    pub models: Vec<&'a dyn Denoiser>,
    pub settling: Settling,
    /// What they are, for the manifest.
    pub config: serde_json::Value,
}

/// The phase map of models the caller gives, one per K of `request.ks` (trained elsewhere, or
/// any denoiser), on their training sets, beside the exact model of each set: the given
/// model's rows follow the exact model's, as a trained model's do in [`map`].
///
/// ```
/// use std::collections::BTreeMap;
///
/// use memscape::dataset::DataSpec;
/// use memscape::dataset::subset::TrainingSets;
/// use memscape::denoiser::{Denoiser, EmpiricalDenoiser};
/// use memscape::pipeline::{GivenModels, MapPlan, MapRequest, Settling, map_models};
///
/// let mut request = MapRequest { ks: vec![2, 5], num_samples: 50, resamples: 10, holdout: Some(0), ..MapRequest::default() };
/// request.plan.num_steps = 20;
/// // K = 2 and 5 patterns of the unit circle, and a model per K that always answers the
/// // first pattern
/// let drawn = MapPlan::new(request.clone())?;
/// let train = BTreeMap::from([(2, drawn.train(2)?), (5, drawn.train(5)?)]);
/// let sets = TrainingSets::given(&request.ks, train, None)?;
/// struct First(Vec<f64>);
/// impl Denoiser for First {
///     fn denoise(&self, x: ndarray::ArrayView2<f64>, _: f64) -> ndarray::Array2<f64> {
///         ndarray::Array2::from_shape_fn(x.raw_dim(), |(_, j)| self.0[j])
///     }
/// }
/// let (a, b) = (First(drawn.train(2)?.points.row(0).to_vec()), First(drawn.train(5)?.points.row(0).to_vec()));
/// let request = MapRequest { data: DataSpec::Given { source: "example".into() }, ..request };
/// let given = GivenModels {
///     name: "first",
///     models: vec![&a, &b],
///     settling: Settling::Flow,
///     config: serde_json::Value::Null,
/// };
/// let run = map_models(request, sets, given)?;
/// assert_eq!(run.rows.iter().map(|r| (r.k, r.model.as_str())).collect::<Vec<_>>(),
///            [(2, "exact"), (5, "exact"), (2, "first"), (5, "first")]);
/// // every sample of the constant model is the first pattern: memorized
/// assert_eq!(run.rows[3].fractions.memorized.value, 1.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A model count other than the K count, a name that is "exact" or empty, and as
/// [`MapPlan::given`] and [`map`].
pub fn map_models(
    request: MapRequest,
    sets: TrainingSets,
    given: GivenModels<'_>,
) -> Result<MapRun> {
    let clock = Instant::now();
    if given.models.len() != request.ks.len() {
        return Err(Error::invalid(
            "models",
            format!("one per K of {:?}", request.ks),
            format!("{} models", given.models.len()),
        ));
    }
    if given.name == "exact" || given.name.is_empty() {
        return Err(Error::invalid(
            "model",
            "a non-empty name other than \"exact\" (the exact model's rows are beside it)",
            format!("{:?}", given.name),
        ));
    }
    let plan = MapPlan::given(request, sets)?;
    let ks = plan.request.ks.clone();
    let GivenModels {
        name,
        models,
        settling,
        config,
    } = given;
    let other = move |plan: &MapPlan, k: usize| {
        let i = ks.iter().position(|&x| x == k).expect("a K of the request");
        plan.measure_model(k, name, models[i], settling)
    };
    run(plan, clock, Some(other), Some(config))
}

/// Measures the exact model and, when given, another at every K, and assembles the map.
fn run(
    plan: MapPlan,
    clock: Instant,
    mut other: Option<impl FnMut(&MapPlan, usize) -> Result<MapPoint>>,
    config: Option<serde_json::Value>,
) -> Result<MapRun> {
    let mut timings = BTreeMap::from([("load_s".to_string(), clock.elapsed().as_secs_f64())]);
    let (mut exact, mut others) = (vec![], vec![]);
    let models = 1 + usize::from(other.is_some());
    let progress = crate::progress::Task::start(
        "map (model × K points)",
        (models * plan.request.ks.len()) as u64,
    );
    for &k in &plan.request.ks {
        exact.push(plan.measure_exact(k)?);
        progress.advance(1);
        if let Some(measure) = other.as_mut() {
            others.push(measure(&plan, k)?);
            progress.advance(1);
        }
    }
    drop(progress);
    exact.extend(others);
    let mut run = plan.assemble(exact, config, BTreeMap::new())?;
    timings.append(&mut run.timings);
    timings.insert("total_s".into(), clock.elapsed().as_secs_f64());
    run.timings = timings;
    Ok(run)
}
