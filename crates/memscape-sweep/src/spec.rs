//! The sweep spec: a TOML file whose `[axes]` span a grid of cells. Every cell is one model at
//! one training-set size K of one phase map (`memscape map`), resolved to a full configuration
//! and named by a hash of it.
//!
//! ```toml
//! [axes]                      # every combination is a cell
//! data = ["circle"]           # dataset specs, as map's --data
//! k = [2, 9, 90]              # training-set sizes
//! seed = [0, 1]               # seeds the sampler and the network's training (default [0])
//! model = ["exact", "mlp"]    # exact, mlp, unet (default ["exact"])
//! intervention = ["none", "wd"]  # names from [interventions] (default ["none"])
//! train_steps = [300, 1000]   # training length of the networks (default [4000])
//!
//! [map]                       # the sampler and the classification, as map's flags
//! n_samples = 300             # (defaults: those of `memscape map`)
//! steps = 40
//!
//! [train]                     # the network and its training (defaults: TrainConfig's)
//! width = 64
//! depth = 2
//!
//! [interventions.wd]          # an intervention: fields of [train] it overrides
//! weight_decay = 0.01
//! ```
//!
//! With `study = "dynamics"` (top level) a cell is instead one network at one (K, training seed) of
//! `memscape dynamics`, trained once and measured at every checkpoint; the `[dynamics]` table then
//! takes that command's settings (`checkpoints`, `fmem_level`, `gen_level`, `attractors`,
//! `spur_level`, `max_groups`, `eigenvalues`, `trace`, `sampler_seed`, `grid_k`), the seed axis
//! gives the training seeds, and `collect` assembles one study per (data, model, steps),
//! interventions beside the baseline.
//!
//! In a map study the exact model is part of every sweep, as of every map, and ignores the training
//! axes: it has one cell per (data, K, seed). A network cell trains with `seed` as its training
//! seed and samples with it as the sampler's seed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::{DataSpec, Patterns};
use memscape::denoiser::Pruning;
use memscape::noise::{NoiseProcess, Spacing};
use memscape::pipeline::{MAP_DEFAULTS, MapPlan, MapRequest, default_holdout};
use memscape::sampler::{SAMPLER_DEFAULTS, SamplerKind, SamplingPlan};
use memscape_train::dynamics::{
    AttractorRequest, DYNAMICS_DEFAULTS, DynamicsPlan, DynamicsRequest,
};
use memscape_train::train::OverrideError;
use memscape_train::{Architecture, TrainConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, SweepError};

/// Version of the cell configuration's layout: part of every cell id, so a change that alters
/// what a configuration means never reuses an old result.
pub const CELL_LAYOUT: u32 = 1;

/// The axes as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Axes {
    data: Vec<String>,
    k: Vec<usize>,
    #[serde(default = "default_seeds")]
    seed: Vec<u64>,
    #[serde(default = "default_models")]
    model: Vec<String>,
    #[serde(default = "default_interventions")]
    intervention: Vec<String>,
    #[serde(default = "default_train_steps")]
    train_steps: Vec<usize>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_models() -> Vec<String> {
    vec!["exact".into()]
}
fn default_interventions() -> Vec<String> {
    vec![NO_INTERVENTION.into()]
}
fn default_train_steps() -> Vec<usize> {
    vec![MAP_DEFAULTS.train_steps]
}

/// The intervention that changes nothing; always defined.
pub const NO_INTERVENTION: &str = "none";

/// The `[map]` table: what `memscape map` takes as flags, with its defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MapSettings {
    /// Samples per cell.
    pub n_samples: usize,
    /// Noise levels of the sampler.
    pub steps: usize,
    /// Integrator: em, ddim or heun; `eta` is DDIM's stochasticity.
    pub sampler: String,
    pub eta: f64,
    /// Noise process: ve, vp or vp-cosine.
    pub process: String,
    /// Grid spacing: karras, geometric or linear-t.
    pub spacing: String,
    /// Noise range (defaults: 10 × and 0.02 × the data's RMS norm).
    pub sigma_max: Option<f64>,
    pub sigma_min: Option<f64>,
    /// Rows per denoiser call (never changes the result).
    pub batch_size: usize,
    /// Seed of the permutation whose first K points are the training set.
    pub subset_seed: u64,
    /// Bootstrap resamples of the confidence intervals.
    pub resamples: usize,
    /// Thresholds: a distance, "auto", "calibrated" or "calibrated:q" (absent: automatic).
    pub delta_m: Option<ThresholdText>,
    pub delta_s: Option<ThresholdText>,
    /// Held-out points (absent: min(1000, pool − largest K of the axis)).
    pub holdout: Option<usize>,
    pub support_quantile: f64,
    /// The exact denoiser's pruning: "off", "auto" or { tolerance = t }.
    pub pruning: Pruning,
}

impl Default for MapSettings {
    fn default() -> Self {
        let (map, sampler) = (MAP_DEFAULTS, SAMPLER_DEFAULTS);
        MapSettings {
            n_samples: map.n_samples,
            steps: map.steps,
            sampler: sampler.sampler.into(),
            eta: sampler.eta,
            process: sampler.process.into(),
            spacing: sampler.spacing.into(),
            sigma_max: None,
            sigma_min: None,
            batch_size: sampler.batch_size,
            subset_seed: map.subset_seed,
            resamples: map.resamples,
            delta_m: None,
            delta_s: None,
            holdout: None,
            support_quantile: map.support_quantile,
            pruning: Pruning::Auto,
        }
    }
}

/// What the cells of a sweep compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Study {
    /// A cell is one model at one K of `memscape map`.
    #[default]
    Map,
    /// A cell is one network at one (K, training seed) of `memscape dynamics`: trained once,
    /// measured at every checkpoint.
    Dynamics,
}

/// The `[dynamics]` table: what `memscape dynamics` takes as flags besides the sampler's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicsSettings {
    /// Log-spaced checkpoints per training run, where samples are drawn and classified.
    pub checkpoints: usize,
    /// tau_mem is where f_mem first reaches this level.
    pub fmem_level: f64,
    /// tau_gen (sample quality) is the first checkpoint within 1 + this share of its minimum.
    pub gen_level: f64,
    /// The attractor census at every checkpoint (and tau_spur).
    pub attractors: bool,
    pub spur_level: f64,
    /// Newton–Krylov runs per checkpoint from at most this many groups of settled samples.
    pub max_groups: usize,
    /// Rightmost Jacobian eigenvalues per fixed point (default min(6, dimension)).
    pub eigenvalues: Option<usize>,
    /// Every unit's fixed points followed from checkpoint to checkpoint (`dynamics --trace`):
    /// their births, and tau_spur from births. Needs `attractors`.
    pub trace: bool,
    /// The sampler's seed (the seed axis gives the training seeds).
    pub sampler_seed: u64,
    /// Keep the first seed's samples at every checkpoint of this K, for the grid figure.
    pub grid_k: Option<usize>,
}

impl Default for DynamicsSettings {
    fn default() -> Self {
        let a = AttractorRequest::default();
        DynamicsSettings {
            checkpoints: DYNAMICS_DEFAULTS.checkpoints,
            fmem_level: DYNAMICS_DEFAULTS.fmem_level,
            gen_level: DYNAMICS_DEFAULTS.gen_level,
            attractors: true,
            spur_level: a.spur_level,
            max_groups: a.max_groups,
            eigenvalues: None,
            trace: false,
            sampler_seed: 0,
            grid_k: None,
        }
    }
}

impl DynamicsSettings {
    /// The census of every checkpoint on data of dimension `dim` (none when switched off);
    /// the error is the rule `eigenvalues` broke.
    fn attractor_request(
        &self,
        dim: usize,
    ) -> std::result::Result<Option<AttractorRequest>, String> {
        if !self.attractors {
            return Ok(None);
        }
        let eigenvalues = match self.eigenvalues {
            Some(e) if e > dim || e == 0 => {
                return Err(format!(
                    "must be in 1..={dim} (the data's dimension), got {e}"
                ));
            }
            Some(e) => e,
            None => AttractorRequest::default().eigenvalues.min(dim),
        };
        Ok(Some(AttractorRequest {
            spur_level: self.spur_level,
            max_groups: self.max_groups,
            eigenvalues,
            census: Default::default(),
            trace: self.trace,
        }))
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    study: Study,
    axes: Axes,
    #[serde(default)]
    map: MapSettings,
    dynamics: Option<DynamicsSettings>,
    #[serde(default)]
    train: toml::Table,
    #[serde(default)]
    interventions: BTreeMap<String, toml::Table>,
}

/// One cell, fully resolved: a model at one K of one map, or a network at one (K, training
/// seed) of a dynamics study.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The first 16 hex digits of SHA-256 of the canonical JSON of `config`.
    pub id: String,
    /// The axes' values of this cell (`intervention` and `train_steps` are `None` for exact).
    pub data: String,
    pub k: usize,
    pub seed: u64,
    pub model: String,
    pub intervention: Option<String>,
    pub train_steps: Option<usize>,
    /// Everything the cell's result depends on.
    pub config: CellConfig,
}

/// What a cell computes.
#[derive(Debug, Clone, Serialize)]
pub struct CellConfig {
    pub layout: u32,
    pub k: usize,
    pub work: Work,
}

/// A cell's work.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "study", rename_all = "lowercase")]
pub enum Work {
    /// One K of the map `request` (whose `ks` is `[k]`): the exact model, or a network trained
    /// with `train`.
    Map {
        request: MapRequest,
        train: Option<TrainConfig>,
    },
    /// One (K, training seed) of the study `request`: its `ks` is `[k]`, `seeds` is 1 and
    /// `train.seed` is the seed.
    Dynamics { request: DynamicsRequest },
}

/// A parsed, checked sweep: its cells in a fixed order (data, seed, model, intervention,
/// steps, K).
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    /// The file's text, kept in the store.
    pub text: String,
    pub cells: Vec<Cell>,
    /// Each dataset of the `data` axis, as written, loaded once.
    pub pools: HashMap<String, Arc<Patterns>>,
}

const MODELS: [&str; 3] = ["exact", "mlp", "unet"];
/// [train] keys set elsewhere, and where.
const AXIS_KEYS: [(&str, &str); 4] = [
    ("seed", "[axes] seed"),
    ("steps", "[axes] train_steps"),
    ("architecture", "[axes] model"),
    ("checkpoints", "[dynamics] checkpoints (1 in a map study)"),
];

impl Spec {
    /// Reads and checks `path`, loading each dataset once to resolve held-out sizes and to
    /// check K and the models against it.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| SweepError::Spec {
            path: path.to_path_buf(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, text)
    }

    /// Parses the text of a spec file at `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self> {
        let err = |key: &str, message: String| SweepError::Spec {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let file: SpecFile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!("line {}: ", text[..s.start].matches('\n').count() + 1));
            err(
                "",
                format!("{}{}", line.unwrap_or_default(), e.message().trim()),
            )
        })?;
        let dynamics = checked(&file, path)?;
        let axes = &file.axes;
        let base = sampling_plan(&file.map).map_err(|e| err("map", e.to_string()))?;
        let thresholds = ThresholdSpec {
            delta_m: threshold(file.map.delta_m.clone()).map_err(|m| err("map.delta_m", m))?,
            delta_s: threshold(file.map.delta_s.clone()).map_err(|m| err("map.delta_s", m))?,
            ..Default::default()
        };
        let mut ks = axes.k.clone();
        ks.sort_unstable();
        ks.dedup();
        let largest = *ks.last().expect("non-empty");
        let exact = "exact".to_string();
        let mut cells: Vec<Cell> = vec![];
        let mut pools = HashMap::new();
        for data_text in &axes.data {
            let data = DataSpec::parse(data_text).map_err(|e| err("axes.data", e.to_string()))?;
            let pool = Arc::new(data.load().map_err(|e| err("axes.data", e.to_string()))?);
            let holdout = file
                .map
                .holdout
                .unwrap_or_else(|| default_holdout(pool.num_patterns(), largest));
            if largest + holdout > pool.num_patterns() {
                return Err(err(
                    "axes.k",
                    format!(
                        "must leave {holdout} held-out points of the {} in {data_text:?}: largest K is {largest}",
                        pool.num_patterns()
                    ),
                ));
            }
            let models: Vec<&String> = match dynamics {
                None => std::iter::once(&exact)
                    .chain(axes.model.iter().filter(|m| *m != "exact"))
                    .collect(),
                Some(_) => axes.model.iter().collect(),
            };
            let attractors = dynamics
                .as_ref()
                .map(|d| d.attractor_request(pool.dim()))
                .transpose()
                .map_err(|m| err("dynamics.eigenvalues", m))?
                .flatten();
            let first = cells.len();
            for &seed in &axes.seed {
                for &model in &models {
                    let variants: Vec<(Option<&String>, Option<usize>)> = if model == "exact" {
                        vec![(None, None)]
                    } else {
                        if pool.image_shape.is_none() && model == "unet" {
                            return Err(err(
                                "axes.model",
                                format!(
                                    "\"unet\" needs image data, and {data_text:?} is not images"
                                ),
                            ));
                        }
                        axes.intervention
                            .iter()
                            .flat_map(|i| axes.train_steps.iter().map(move |&s| (Some(i), Some(s))))
                            .collect()
                    };
                    for (intervention, steps) in variants {
                        let train = match (intervention, steps) {
                            (Some(i), Some(s)) => Some(
                                train_config(
                                    &file,
                                    model,
                                    i,
                                    s,
                                    seed,
                                    dynamics.as_ref().map_or(1, |d| d.checkpoints),
                                    pool.image_shape,
                                )
                                .map_err(|(key, m)| err(&key, m))?,
                            ),
                            _ => None,
                        };
                        for &k in &ks {
                            let work = match (&dynamics, &train) {
                                (Some(d), Some(train)) => Work::Dynamics {
                                    request: DynamicsRequest {
                                        data: data.clone(),
                                        ks: vec![k],
                                        seeds: 1,
                                        train: train.clone(),
                                        subset_seed: file.map.subset_seed,
                                        holdout,
                                        support_quantile: file.map.support_quantile,
                                        plan: SamplingPlan {
                                            seed: d.sampler_seed,
                                            ..base
                                        },
                                        num_samples: file.map.n_samples,
                                        thresholds,
                                        fmem_level: d.fmem_level,
                                        gen_level: d.gen_level,
                                        resamples: file.map.resamples,
                                        grid_k: d.grid_k.filter(|&g| g == k),
                                        attractors,
                                    },
                                },
                                _ => Work::Map {
                                    request: MapRequest {
                                        data: data.clone(),
                                        ks: vec![k],
                                        subset_seed: file.map.subset_seed,
                                        plan: SamplingPlan { seed, ..base },
                                        num_samples: file.map.n_samples,
                                        thresholds,
                                        resamples: file.map.resamples,
                                        nonlinear: vec![],
                                        holdout: Some(holdout),
                                        support_quantile: file.map.support_quantile,
                                        pruning: file.map.pruning,
                                        census: Default::default(),
                                    },
                                    train: train.clone(),
                                },
                            };
                            let config = CellConfig {
                                layout: CELL_LAYOUT,
                                k,
                                work,
                            };
                            cells.push(Cell {
                                id: cell_id(&config),
                                data: data_text.clone(),
                                k,
                                seed,
                                model: model.clone(),
                                intervention: intervention.cloned(),
                                train_steps: steps,
                                config,
                            });
                        }
                    }
                }
            }
            // the sampler's noise range and the split, checked once per dataset
            match &cells[first].config.work {
                Work::Map { request, .. } => {
                    MapPlan::with_pool(request.clone(), pool.clone()).map(drop)
                }
                Work::Dynamics { request } => {
                    DynamicsPlan::with_pool(request.clone(), pool.clone()).map(drop)
                }
            }
            .map_err(|e| {
                err(
                    if dynamics.is_some() {
                        "dynamics"
                    } else {
                        "map"
                    },
                    e.to_string(),
                )
            })?;
            if let Some(g) = dynamics.as_ref().and_then(|d| d.grid_k)
                && !ks.contains(&g)
            {
                return Err(err(
                    "dynamics.grid_k",
                    format!("must be one of [axes] k {ks:?}, got {g}"),
                ));
            }
            pools.insert(data_text.clone(), pool);
        }
        let mut seen = std::collections::HashSet::new();
        cells.retain(|c| seen.insert(c.id.clone()));
        Ok(Spec {
            path: path.to_path_buf(),
            text,
            cells,
            pools,
        })
    }
}

/// Checks the rules a spec must keep before any data is loaded; returns the dynamics settings
/// of a dynamics study.
fn checked(file: &SpecFile, path: &Path) -> Result<Option<DynamicsSettings>> {
    let err = |key: &str, message: String| SweepError::Spec {
        path: path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let axes = &file.axes;
    for (name, len) in [
        ("data", axes.data.len()),
        ("k", axes.k.len()),
        ("seed", axes.seed.len()),
        ("model", axes.model.len()),
        ("intervention", axes.intervention.len()),
        ("train_steps", axes.train_steps.len()),
    ] {
        if len == 0 {
            return Err(err(
                &format!("axes.{name}"),
                "must be a non-empty list, got []".into(),
            ));
        }
    }
    if let Some(m) = axes.model.iter().find(|m| !MODELS.contains(&m.as_str())) {
        return Err(err(
            "axes.model",
            format!("must be one of exact, mlp, unet, got {m:?}"),
        ));
    }
    if let Some(&k) = axes.k.iter().find(|&&k| k < 2) {
        return Err(err("axes.k", format!("must be ≥ 2 everywhere, got {k}")));
    }
    if let Some(&s) = axes.train_steps.iter().find(|&&s| s == 0) {
        return Err(err("axes.train_steps", format!("must be ≥ 1, got {s}")));
    }
    for (key, axis) in AXIS_KEYS {
        if file.train.contains_key(key) {
            return Err(err(
                &format!("train.{key}"),
                format!("is set by {axis}; remove it here"),
            ));
        }
    }
    let known = TrainConfig::override_keys(&reserved_keys());
    let check_keys =
        |table: &toml::Table, section: &str| match table.keys().find(|k| !known.contains(k)) {
            Some(k) => Err(err(
                &format!("{section}.{k}"),
                format!("unknown training field (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        };
    check_keys(&file.train, "train")?;
    for (name, table) in &file.interventions {
        check_keys(table, &format!("interventions.{name}"))?;
    }
    if let Some(i) = axes
        .intervention
        .iter()
        .find(|i| *i != NO_INTERVENTION && !file.interventions.contains_key(*i))
    {
        return Err(err(
            "axes.intervention",
            format!("names an intervention with no [interventions.{i}] table: {i:?}"),
        ));
    }
    match (file.study, &file.dynamics) {
        (Study::Map, Some(_)) => Err(err(
            "dynamics",
            "is read only with study = \"dynamics\"".into(),
        )),
        (Study::Map, None) => Ok(None),
        (Study::Dynamics, d) => {
            if axes.model.iter().any(|m| m == "exact") {
                return Err(err(
                    "axes.model",
                    "must name networks (mlp, unet) in a dynamics study: exact is not trained"
                        .into(),
                ));
            }
            let d = d.clone().unwrap_or_default();
            if d.trace && !d.attractors {
                return Err(err(
                    "dynamics.trace",
                    "needs attractors = true (the census it follows), got attractors = false"
                        .into(),
                ));
            }
            Ok(Some(d))
        }
    }
}

/// A cell's id: the first 16 hex digits of SHA-256 of its configuration's JSON (struct fields
/// in declaration order, so the text is canonical for a given layout).
fn cell_id(config: &CellConfig) -> String {
    let json = serde_json::to_string(config).expect("a configuration serialises");
    let digest = Sha256::digest(json.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The [`TrainConfig`] fields an axis or the data sets: those a spec may not set.
fn reserved_keys() -> Vec<&'static str> {
    AXIS_KEYS
        .iter()
        .map(|(key, _)| *key)
        .chain(["image_shape"])
        .collect()
}

/// The training configuration of one cell: [train], then the intervention's overrides, then
/// the axes' values; checked. Errors name the TOML key.
fn train_config(
    file: &SpecFile,
    model: &str,
    intervention: &str,
    steps: usize,
    seed: u64,
    checkpoints: usize,
    image_shape: Option<(usize, usize)>,
) -> std::result::Result<TrainConfig, (String, String)> {
    let mut table = file.train.clone();
    if let Some(overrides) = file.interventions.get(intervention) {
        table.extend(overrides.clone());
    }
    let section = if intervention == NO_INTERVENTION {
        "train".to_string()
    } else {
        format!("train or interventions.{intervention}")
    };
    // JSON has no NaN or infinity (they would read as an absent Option), so refuse them here
    if let Some((key, v)) = table.iter().find_map(|(k, v)| match v {
        toml::Value::Float(f) if !f.is_finite() => Some((k, f)),
        _ => None,
    }) {
        return Err((
            format!("{section}.{key}"),
            format!("must be finite, got {v}"),
        ));
    }
    let overrides = match serde_json::to_value(table).expect("a TOML table serialises") {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a TOML table is a JSON object"),
    };
    let mut config = TrainConfig::default()
        .with_overrides(overrides, &reserved_keys())
        .map_err(|e| match e {
            // (unknown keys are refused by name when the spec is read)
            OverrideError::Unknown { key, known } => (
                format!("{section}.{key}"),
                format!("unknown training field (known: {})", known.join(", ")),
            ),
            OverrideError::Invalid { key, message } => (format!("{section}.{key}"), message),
        })?;
    config.architecture = match model {
        "unet" => Architecture::Unet,
        _ => Architecture::Mlp,
    };
    config.steps = steps;
    config.seed = seed;
    config.checkpoints = checkpoints;
    config.image_shape = image_shape;
    config.validate().map_err(|e| (section, e.to_string()))?;
    config.image_shape = None;
    Ok(config)
}

/// A threshold as a spec writes it: a number, or text the CLI's `--delta-m` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThresholdText {
    Number(f64),
    Text(String),
}

fn threshold(value: Option<ThresholdText>) -> std::result::Result<Threshold, String> {
    let rule = |e: memscape::Error| match e {
        memscape::Error::InvalidParameter { rule, value, .. } => {
            format!("must be {rule}, got {value}")
        }
        e => e.to_string(),
    };
    match value {
        None => Ok(Threshold::Auto),
        Some(ThresholdText::Number(v)) if v.is_finite() && v > 0.0 => Ok(Threshold::Value(v)),
        Some(ThresholdText::Number(v)) => Threshold::parse("", &v.to_string()).map_err(rule),
        Some(ThresholdText::Text(t)) => Threshold::parse("", &t).map_err(rule),
    }
}

/// The sampler of [map], with seed 0 (each cell sets its own).
fn sampling_plan(m: &MapSettings) -> memscape::Result<SamplingPlan> {
    let process = NoiseProcess::parse(&m.process)?;
    let spacing = Spacing::parse(&m.spacing)?;
    if m.n_samples < 2 {
        return Err(memscape::Error::invalid("n_samples", "≥ 2", m.n_samples));
    }
    if m.batch_size == 0 {
        return Err(memscape::Error::invalid("batch_size", "≥ 1", 0));
    }
    Ok(SamplingPlan {
        kind: SamplerKind::parse(&m.sampler, m.eta)?,
        process,
        spacing,
        sigma_max: m.sigma_max,
        sigma_min: m.sigma_min,
        num_steps: m.steps,
        seed: 0,
        batch_size: m.batch_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each default stated once (issue 29): a map cell of a spec that sets nothing but its axes
    /// asks the library for `MapRequest::default()` at its K, with the held-out size `map`
    /// would choose, and a network cell trains for `MAP_DEFAULTS.train_steps`.
    #[test]
    fn a_map_cell_without_settings_is_the_library_default_request() {
        let text = "[axes]\ndata = [\"circle\"]\nk = [9]\nmodel = [\"exact\", \"mlp\"]\n";
        let spec = Spec::parse(Path::new("s.toml"), text.into()).unwrap();
        assert_eq!(spec.cells.len(), 2);
        let pool = spec.pools["circle"].num_patterns();
        for cell in &spec.cells {
            let Work::Map { request, train } = &cell.config.work else {
                unreachable!("a map study")
            };
            assert_eq!(request.holdout, Some(default_holdout(pool, 9)));
            let expected = MapRequest {
                ks: vec![9],
                holdout: request.holdout,
                ..MapRequest::default()
            };
            assert_eq!(
                serde_json::to_value(request).unwrap(),
                serde_json::to_value(&expected).unwrap()
            );
            if let Some(train) = train {
                assert_eq!(train.steps, MAP_DEFAULTS.train_steps);
                assert_eq!(cell.train_steps, Some(MAP_DEFAULTS.train_steps));
            }
        }
    }

    /// A spec's thresholds are read as the CLI's flags: numbers, "auto" and "calibrated[:q]",
    /// and a bad one is refused naming its key.
    #[test]
    fn spec_thresholds_take_the_flags_forms() {
        let axes = "[axes]\ndata = [\"circle\"]\nk = [9]\nmodel = [\"exact\"]\n";
        let text = format!("{axes}[map]\ndelta_m = \"calibrated:0.05\"\ndelta_s = 0.01\n");
        let spec = Spec::parse(Path::new("s.toml"), text).unwrap();
        let Work::Map { request, .. } = &spec.cells[0].config.work else {
            unreachable!("a map study")
        };
        assert_eq!(request.thresholds.delta_m, Threshold::Calibrated(0.05));
        assert_eq!(request.thresholds.delta_s, Threshold::Value(0.01));
        for (value, message) in [
            (
                "\"calibrated:2\"",
                "must be calibrated:q with q in (0, 1), got calibrated:2",
            ),
            (
                "-1",
                "must be a number > 0, \"auto\" or \"calibrated[:q]\", got -1",
            ),
        ] {
            let text = format!("{axes}[map]\ndelta_m = {value}\n");
            let e = Spec::parse(Path::new("s.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("map.delta_m") && e.contains(message), "{e}");
        }
    }
}
