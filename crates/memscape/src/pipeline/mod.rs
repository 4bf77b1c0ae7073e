//! The whole flow on one screen: load a dataset, take a nested training subset, build the exact
//! denoiser, sample, write a run directory. Everything the command line does is a call here.
//!
//! This module holds the training set; `sample` samples one, `map` measures the phase map over
//! K, and `results` holds the map's documents and tables (their items are re-exported here).

mod sample;
mod classify;
mod landscape;
mod bifurcate;
mod hopfield;
mod map;
mod results;

pub use bifurcate::{
    BifurcateRequest, BifurcationDocument, BifurcationEvents, CuspDocument, GridCounts, bifurcate,
    cusps, parameter_name,
};
pub use classify::{ClassifyRequest, ClassifyRun, ClassifySummary, classify};
pub use hopfield::{
    HopfieldModel, HopfieldRequest, HopfieldResult, MAX_HOPFIELD_PATTERNS, hopfield,
};
pub use landscape::{
    AttractorRecovery, BasinMapRecord, BasinWeight, CensusRecord, ExactDocument, ExactGrids,
    ExactGridsRecord, ExactLandscape, ExactLandscapeRequest, GridsRecord, LANDSCAPE_DEFAULTS,
    LandscapeCounts, LandscapeDefaults, LandscapeGrids, LandscapeRequest, MapLandscape, OwnCensus,
    SamplesRecord, SegmentEnergy, SigmaEvent, SigmaSide, SigmaTrace, TrainedDocument,
    TrainedLandscape, check_sigma_range, exact_landscape, own_census, sigma_trace,
    trained_landscape,
};
pub use map::{
    EMBEDDING_HEADER, GivenModels, MAP_DEFAULTS, MapDefaults, MapPlan, MapPoint, MapRequest,
    MapRow, MapRun, ModelCapacities, NONLINEAR_HEADER, Settling, map, map_models,
};
pub use results::{
    CapacitySummary, ClusterTable, ExactQualityRow, MapLandscapes, MapNetworks, MapResults,
    PhaseRow, TrainedSummary,
};
pub use sample::{SampleRequest, SampleRun, sample};

use crate::analysis::samples::support::MIN_HELDOUT;
use crate::dataset::subset::Split;
use crate::dataset::{DataSpec, Patterns};
use crate::error::Result;

/// A dataset's pool, split into a nested training set of size K and a held-out set.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub pool_size: usize,
    pub split: Split,
    pub train: Patterns,
    pub heldout: Patterns,
}

/// Loads `data` and takes the first `k` of the seeded permutation (nested across K), keeping
/// the last `holdout` points aside (`None`: [`default_holdout`]).
///
/// ```
/// use memscape::dataset::DataSpec;
/// use memscape::pipeline::training_set;
///
/// let data = DataSpec::parse("circle:n=500")?;
/// let small = training_set(&data, 5, Some(100), 42)?;
/// let large = training_set(&data, 50, Some(100), 42)?;
/// // nested: the first 5 of the 50 are the 5; the held-out tail is the same
/// assert_eq!(small.train.points, large.train.points.slice(ndarray::s![..5, ..]));
/// assert_eq!(small.heldout.points, large.heldout.points);
/// assert_eq!((small.heldout.num_patterns(), small.pool_size), (100, 500));
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A dataset that cannot be loaded, or `k` plus the held-out points above the pool.
pub fn training_set(
    data: &DataSpec,
    k: usize,
    holdout: Option<usize>,
    subset_seed: u64,
) -> Result<TrainingSet> {
    let pool = data.load()?;
    let holdout = holdout.unwrap_or_else(|| default_holdout(pool.num_patterns(), k));
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

/// Held-out points `map` keeps aside by default.
pub const DEFAULT_HOLDOUT: usize = 1000;

/// Held-out points by default: min([`DEFAULT_HOLDOUT`], pool − largest K), and none when that
/// is below [`MIN_HELDOUT`].
///
/// ```
/// use memscape::pipeline::default_holdout;
///
/// // a pool of 70,000 MNIST images mapped up to K = 4096 keeps 1000 aside
/// assert_eq!(default_holdout(70_000, 4096), 1000);
/// // too small a pool keeps none rather than a held-out set too small to calibrate on
/// assert_eq!(default_holdout(1000, 999), 0);
/// ```
pub fn default_holdout(pool: usize, largest_k: usize) -> usize {
    let h = DEFAULT_HOLDOUT.min(pool.saturating_sub(largest_k));
    if h >= MIN_HELDOUT { h } else { 0 }
}
