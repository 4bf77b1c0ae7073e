//! The studies: the map over K and the training dynamics (with their training configurations
//! and sampling plans read from Python's arguments), the defaults both read, and progress.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::denoisers::Model;
use crate::{OrRaise, count, given, interruptible, invalid, json, seed_of};
use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::DataSpec;
use memscape::denoiser::{Denoiser, Pruning, TrainedModel};
use memscape::noise::{NoiseProcess, Spacing};
use memscape::pipeline::{
    BifurcateRequest, ClassifyRequest, ExactLandscapeRequest, GivenModels, HopfieldRequest,
    LANDSCAPE_DEFAULTS, LandscapeDefaults, MAP_DEFAULTS, MapDefaults, MapNetworks, MapRequest,
    MapRun, Settling, map as map_study, map_models,
};
use memscape::sampler::{SAMPLER_DEFAULTS, SamplerDefaults, SamplerKind, SamplingPlan};
use memscape::store::RunDir;
use memscape_report::{WriteError, write_dynamics, write_map};
use memscape_train::dynamics::{
    AttractorRecord, AttractorRequest, DYNAMICS_DEFAULTS, DynamicsDefaults, DynamicsRequest,
    DynamicsResults, GivenUnit, dynamics as dynamics_study, given_dynamics,
};
use memscape_train::folder::CheckpointFolder;
use memscape_train::train::OverrideError;
use memscape_train::{Architecture, KeepingTrainer, NetworkTrainer, TrainConfig};
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `TrainConfig` fields the calls set themselves (from the model, the data and their own
/// arguments), so a `train` dict may not.
pub(crate) const SET_BY_CALL: [&str; 4] = ["architecture", "steps", "checkpoints", "image_shape"];

/// A training configuration: `TrainConfig`'s defaults, the keys of `overrides` (JSON), then
/// the architecture and length. Unknown keys are refused by name.
pub(crate) fn train_config(
    overrides: &str,
    architecture: Architecture,
    steps: usize,
    checkpoints: usize,
) -> PyResult<TrainConfig> {
    let given: serde_json::Map<String, serde_json::Value> = serde_json::from_str(overrides)
        .map_err(|e| invalid("train", "a dict of TrainConfig fields", e))?;
    let mut config = TrainConfig::default()
        .with_overrides(given, &SET_BY_CALL)
        .map_err(|e| match e {
            OverrideError::Unknown { key, known } => invalid(
                "train",
                &format!("a dict with keys among {known:?}"),
                format!("key {key:?}"),
            ),
            OverrideError::Invalid { key, message } => invalid(
                "train",
                "a dict of TrainConfig fields of their types",
                format!("{key}: {message}"),
            ),
        })?;
    config.architecture = architecture;
    config.steps = steps;
    config.checkpoints = checkpoints;
    Ok(config)
}

pub(crate) fn architecture(model: &str) -> PyResult<Option<Architecture>> {
    match model {
        "exact" => Ok(None),
        "mlp" => Ok(Some(Architecture::Mlp)),
        "unet" => Ok(Some(Architecture::Unet)),
        other => Err(invalid(
            "model",
            "one of exact, mlp, unet",
            format!("{other:?}"),
        )),
    }
}

/// The sampling plan of `map` and `dynamics`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    steps: i64,
    seed: i64,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    sampler: &str,
    eta: f64,
    process: &str,
    spacing: &str,
    batch_size: i64,
) -> PyResult<SamplingPlan> {
    Ok(SamplingPlan {
        kind: SamplerKind::parse(sampler, eta).or_raise()?,
        process: NoiseProcess::parse(process).or_raise()?,
        spacing: Spacing::parse(spacing).or_raise()?,
        sigma_max,
        sigma_min,
        num_steps: count("steps", steps, 1)?,
        seed: seed_of(seed)?,
        batch_size: count("batch_size", batch_size, 1)?,
    })
}

pub(crate) fn ks_of(ks: Vec<i64>) -> PyResult<Vec<usize>> {
    if ks.is_empty() || ks[0] < 1 || ks.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            "ks",
            "a non-empty, strictly increasing list of integers ≥ 1",
            format!("{ks:?}"),
        ));
    }
    Ok(ks.iter().map(|&k| k as usize).collect())
}

/// The studies' defaults, stated once in the library ([`MAP_DEFAULTS`], [`SAMPLER_DEFAULTS`],
/// [`LANDSCAPE_DEFAULTS`], [`DYNAMICS_DEFAULTS`] and the requests' `Default`s), as a JSON
/// document `{"map", "sampler", "landscape", "dynamics", "classify", "exact_landscape",
/// "bifurcate", "hopfield"}`: the package's functions take their signatures' defaults from it,
/// as the command line's flags do.
#[pyfunction]
pub(crate) fn defaults() -> String {
    #[derive(serde::Serialize)]
    struct Defaults {
        map: MapDefaults,
        sampler: SamplerDefaults,
        landscape: LandscapeDefaults,
        dynamics: DynamicsDefaults,
        classify: ClassifyRequest,
        exact_landscape: ExactLandscapeRequest,
        bifurcate: BifurcateRequest,
        hopfield: HopfieldRequest,
    }
    json(&Defaults {
        map: MAP_DEFAULTS,
        sampler: SAMPLER_DEFAULTS,
        landscape: LANDSCAPE_DEFAULTS,
        dynamics: DYNAMICS_DEFAULTS,
        classify: ClassifyRequest::default(),
        exact_landscape: ExactLandscapeRequest::default(),
        bifurcate: BifurcateRequest::default(),
        hopfield: HopfieldRequest::default(),
    })
}

/// The phase map over K (memscape map): its results document (`MapResults`, as the CLI's
/// `results.json`) and arrays.
#[pyfunction]
#[pyo3(signature = (data, ks, *, model, subset_seed, num_samples, steps, seed, sigma_min,
    sigma_max, sampler, eta, process, spacing, batch_size, delta_m, delta_s, resamples,
    holdout, support_quantile, train_steps, train, out, command, models=None, training_sets=None,
    heldout=None, image_shape=None, settle="flow", gather=0))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn map<'py>(
    py: Python<'py>,
    data: &str,
    ks: Vec<i64>,
    model: &str,
    subset_seed: i64,
    num_samples: i64,
    steps: i64,
    seed: i64,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    sampler: &str,
    eta: f64,
    process: &str,
    spacing: &str,
    batch_size: i64,
    delta_m: &str,
    delta_s: &str,
    resamples: i64,
    holdout: Option<i64>,
    support_quantile: f64,
    train_steps: i64,
    train: &str,
    out: Option<PathBuf>,
    command: Vec<String>,
    models: Option<Vec<(i64, Bound<'py, PyAny>)>>,
    training_sets: Option<BTreeMap<i64, PyReadonlyArray2<'py, f64>>>,
    heldout: Option<PyReadonlyArray2<'py, f64>>,
    image_shape: Option<(usize, usize)>,
    settle: &str,
    gather: i64,
) -> PyResult<Bound<'py, PyDict>> {
    // given models: the data, K list, model and training arguments are not read
    let trainer = match models {
        Some(_) => None,
        None => architecture(model)?
            .map(|a| -> PyResult<KeepingTrainer> {
                Ok(KeepingTrainer::new(NetworkTrainer {
                    config: train_config(train, a, count("train_steps", train_steps, 1)?, 1)?,
                }))
            })
            .transpose()?,
    };
    let (data, ks) = match &models {
        Some(given) => (
            DataSpec::Given {
                source: "Python arrays".into(),
            },
            given::ks_of("models", given)?,
        ),
        None => (DataSpec::parse(data).or_raise()?, ks_of(ks)?),
    };
    let request = MapRequest {
        data,
        ks,
        subset_seed: count("subset_seed", subset_seed, 0)? as u64,
        plan: plan(
            steps, seed, sigma_min, sigma_max, sampler, eta, process, spacing, batch_size,
        )?,
        num_samples: count("num_samples", num_samples, 2)?,
        thresholds: ThresholdSpec {
            delta_m: Threshold::parse("delta_m", delta_m).or_raise()?,
            delta_s: Threshold::parse("delta_s", delta_s).or_raise()?,
            ..Default::default()
        },
        resamples: count("resamples", resamples, 1)?,
        nonlinear: vec![],
        holdout: holdout.map(|h| count("holdout", h, 0)).transpose()?,
        support_quantile,
        pruning: Pruning::Auto,
        census: Default::default(),
    };
    if let Some(t) = &trainer
        && t.trainer.config.architecture == Architecture::Unet
    {
        TrainConfig {
            image_shape: request.data.load().or_raise()?.image_shape,
            ..t.trainer.config.clone()
        }
        .validate()
        .or_raise()?;
    }
    if let Some(given) = models {
        let ks = given::ks_of("models", &given)?;
        let sets = training_sets.ok_or_else(|| {
            invalid(
                "training_sets",
                "given with models (one array per K)",
                "None",
            )
        })?;
        let sets = given::training_sets(&ks, sets, heldout, image_shape)?;
        let dim = sets.train(ks[0]).or_raise()?.dim();
        let models = given::models(&given, dim)?;
        let name = given::model_name(&models.iter().map(|m| &m.1).collect::<Vec<_>>());
        let request = MapRequest {
            holdout: None,
            ..request
        };
        let model_refs: Vec<&Model> = models.iter().map(|m| &m.1).collect();
        let threads = given::gather_threads(&model_refs, gather)?;
        let batched = given::batched(model_refs, batch_size)?;
        let settling = match settle {
            "flow" => Settling::Flow,
            "unit-step" => Settling::UnitStep,
            other => {
                return Err(invalid(
                    "settle",
                    "\"flow\" or \"unit-step\"",
                    format!("{other:?}"),
                ));
            }
        };
        let config = serde_json::json!({"models": name, "source": "Python", "settle": settle});
        let run = interruptible(py, || {
            given::with_all_gathered(&batched, threads, |refs| {
                let given = GivenModels {
                    name,
                    models: refs.to_vec(),
                    settling,
                    config,
                };
                map_models(request, sets, given)
            })
        })?;
        for (_, m) in &models {
            m.check()?;
        }
        let run = run.or_raise()?.or_raise()?;
        let at = |k: usize| -> Option<Box<dyn Denoiser>> {
            let m = &models.iter().find(|m| m.0 == k)?.1;
            Some(Box::new(Python::attach(|py| m.clone_ref(py))))
        };
        let networks = MapNetworks {
            name,
            step: 0,
            at: Box::new(|k| Ok(at(k))),
        };
        return map_output(py, run, Some(&networks), out, command);
    }
    let run = interruptible(py, || {
        map_study(request, trainer.as_ref().map(|t| t as &dyn TrainedModel))
    })?
    .or_raise()?;
    let networks = trainer.as_ref().map(KeepingTrainer::networks);
    map_output(py, run, networks.as_ref(), out, command)
}

/// A map's document and arrays, and with `out` its run directory, whose `results.json` the
/// document then is (landscapes included).
fn map_output<'py>(
    py: Python<'py>,
    run: MapRun,
    networks: Option<&MapNetworks>,
    out: Option<PathBuf>,
    command: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let results = match &out {
        Some(dir) => {
            py.detach(|| {
                let dir = RunDir::create(dir)?;
                let landscapes = run.landscapes(networks)?;
                write_map(&dir, &run, landscapes, command)
            })
            .map_err(written)?
            .0
        }
        None => run.results(),
    };
    let out = PyDict::new(py);
    out.set_item("results", json(&results))?;
    out.set_item("phase_csv", run.phase_csv())?;
    out.set_item("sampler", json(&run.sampler))?;
    let models: Vec<String> = run.rows.iter().map(|r| r.model.clone()).collect();
    let ks: Vec<usize> = run.rows.iter().map(|r| r.k).collect();
    out.set_item("models", models)?;
    out.set_item("ks", ks)?;
    out.set_item(
        "samples",
        run.samples
            .into_iter()
            .map(|s| s.into_pyarray(py))
            .collect::<Vec<_>>(),
    )?;
    out.set_item(
        "attractors",
        run.attractors
            .into_iter()
            .map(|s| s.into_pyarray(py))
            .collect::<Vec<_>>(),
    )?;
    out.set_item("train", run.train.into_pyarray(py))?;
    Ok(out)
}

/// The training-dynamics study (memscape dynamics): rows per (K, seed, checkpoint) and taus.
#[pyfunction]
#[pyo3(signature = (data, ks, *, model, seeds, subset_seed, holdout, train_steps,
    checkpoints, num_samples, steps, seed, sigma_min, sigma_max, sampler, eta, process,
    spacing, batch_size, fmem_level, gen_level, resamples, support_quantile, attractors,
    spur_level, attractor_groups, eigenvalues, train, out, command, units=None, folder=None,
    training_sets=None, heldout=None, image_shape=None, gather=0, trace=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dynamics<'py>(
    py: Python<'py>,
    data: &str,
    ks: Vec<i64>,
    model: &str,
    seeds: i64,
    subset_seed: i64,
    holdout: i64,
    train_steps: i64,
    checkpoints: i64,
    num_samples: i64,
    steps: i64,
    seed: i64,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    sampler: &str,
    eta: f64,
    process: &str,
    spacing: &str,
    batch_size: i64,
    fmem_level: f64,
    gen_level: f64,
    resamples: i64,
    support_quantile: f64,
    attractors: bool,
    spur_level: f64,
    attractor_groups: i64,
    eigenvalues: Option<i64>,
    train: &str,
    out: Option<PathBuf>,
    command: Vec<String>,
    units: Option<Vec<given::GivenUnitArg<'py>>>,
    folder: Option<PathBuf>,
    training_sets: Option<BTreeMap<i64, PyReadonlyArray2<'py, f64>>>,
    heldout: Option<PyReadonlyArray2<'py, f64>>,
    image_shape: Option<(usize, usize)>,
    gather: i64,
    trace: bool,
) -> PyResult<String> {
    let trains = folder.is_none() && units.is_none();
    if trace && !(trains && attractors) {
        return Err(invalid(
            "trace",
            "networks the study trains, with attractors (given checkpoints carry no weights to trace between)",
            "True",
        ));
    }
    let arch = match architecture(model)? {
        Some(a) => a,
        None if !trains => Architecture::Mlp,
        None => {
            return Err(invalid(
                "model",
                "mlp or unet (the exact model does not train)",
                "\"exact\"",
            ));
        }
    };
    // the networks: trained here on `data`, read from a folder, or given
    let folder = folder
        .map(|dir| py.detach(|| CheckpointFolder::read(&dir)))
        .transpose()
        .or_raise()?;
    let given = match (&folder, units, training_sets) {
        (Some(_), _, _) | (None, None, _) => None,
        (None, Some(units), Some(sets)) => {
            let ks = given::ks_of(
                "checkpoints",
                &units.iter().map(|u| (u.0, ())).collect::<Vec<_>>(),
            )?;
            let sets = given::training_sets(&ks, sets, heldout, image_shape)?;
            Some((ks, sets, units))
        }
        (None, Some(_), None) => {
            return Err(invalid(
                "training_sets",
                "given with checkpoints (one array per K)",
                "None",
            ));
        }
    };
    let (data, ks, sets) = match (&folder, &given) {
        (Some(f), _) => (
            DataSpec::Given {
                source: f.dir.display().to_string(),
            },
            f.ks(),
            Some(f.sets.clone()),
        ),
        (None, Some((ks, sets, _))) => (
            DataSpec::Given {
                source: "Python arrays".into(),
            },
            ks.clone(),
            Some(sets.clone()),
        ),
        (None, None) => (DataSpec::parse(data).or_raise()?, ks_of(ks)?, None),
    };
    let loaded = match &sets {
        Some(s) => s.train(ks[0]).or_raise()?,
        None => py.detach(|| data.load()).or_raise()?,
    };
    let dim = loaded.dim();
    let eigenvalues = match eigenvalues {
        Some(e) if e as usize > dim || e < 1 => {
            return Err(invalid(
                "eigenvalues",
                &format!("between 1 and the data's dimension {dim}"),
                e,
            ));
        }
        Some(e) => e as usize,
        None => AttractorRequest::default().eigenvalues.min(dim),
    };
    // as the command: on image data, the middle K keeps its sample grid
    let grid_k = loaded.image_shape.map(|_| ks[ks.len() / 2]);
    let mut request = DynamicsRequest {
        data,
        ks,
        seeds: count("seeds", seeds, 1)?,
        train: TrainConfig {
            image_shape: loaded.image_shape,
            ..train_config(
                train,
                arch,
                count("train_steps", train_steps, 1)?,
                count("checkpoints", checkpoints, 1)?,
            )?
        },
        subset_seed: count("subset_seed", subset_seed, 0)? as u64,
        holdout: count("holdout", holdout, 0)?,
        support_quantile,
        plan: plan(
            steps, seed, sigma_min, sigma_max, sampler, eta, process, spacing, batch_size,
        )?,
        num_samples: count("num_samples", num_samples, 2)?,
        thresholds: ThresholdSpec::default(),
        fmem_level,
        gen_level,
        resamples: count("resamples", resamples, 1)?,
        grid_k,
        attractors: attractors.then_some(AttractorRequest {
            spur_level,
            max_groups: count("attractor_groups", attractor_groups, 1)?,
            eigenvalues,
            census: Default::default(),
            trace,
        }),
    };
    if let Some(s) = &sets {
        request.holdout = s.holdout();
    }
    if let Some(f) = &folder {
        request.train.architecture = f.units[0].checkpoints[0].2.network.architecture();
    }
    let run = match (folder, given) {
        (Some(f), _) => {
            let units = f.given_units();
            interruptible(py, || given_dynamics(request, f.sets.clone(), &units))?.or_raise()?
        }
        (None, Some((_, sets, units))) => {
            let mut models = vec![];
            for (k, seed, checkpoints) in &units {
                if *seed < 0 {
                    return Err(invalid("checkpoints", "keyed by (K, seed ≥ 0)", seed));
                }
                let mut steps = vec![];
                for (step, d) in checkpoints {
                    let model = Model::of(d)?;
                    given::check_dim(&format!("checkpoints[({k}, {seed})]"), &model, dim)?;
                    steps.push((count("step", *step, 0)?, model));
                }
                steps.sort_by_key(|s| s.0);
                models.push((*k as usize, *seed as u64, steps));
            }
            models.sort_by_key(|m| (m.0, m.1));
            for &k in &request.ks {
                let of_k: Vec<(usize, &Model)> = models
                    .iter()
                    .filter(|m| m.0 == k)
                    .flat_map(|m| m.2.iter().map(|(s, d)| (*s, d)))
                    .collect();
                given::check_architectures(&format!("checkpoints[K={k}]"), &of_k)?;
            }
            let all: Vec<&Model> = models
                .iter()
                .flat_map(|m| m.2.iter().map(|s| &s.1))
                .collect();
            let threads = given::gather_threads(&all, gather)?;
            let batched = given::batched(all, batch_size)?;
            let run = interruptible(py, || {
                given::with_all_gathered(&batched, threads, |refs| {
                    let mut refs = refs.iter();
                    let units: Vec<GivenUnit> = models
                        .iter()
                        .map(|m| GivenUnit {
                            k: m.0,
                            seed: m.1,
                            checkpoints: m
                                .2
                                .iter()
                                .map(|s| (s.0, *refs.next().expect("one per checkpoint")))
                                .collect(),
                        })
                        .collect();
                    given_dynamics(request, sets, &units)
                })
            })?;
            for m in models.iter().flat_map(|m| &m.2) {
                m.1.check()?;
            }
            run.or_raise()?.or_raise()?
        }
        (None, None) => {
            request.train.validate().or_raise()?;
            interruptible(py, || dynamics_study(request, |_, _, _, _| Ok(())))?.or_raise()?
        }
    };
    /// `results.json`'s document (flat rows, the timescales and their levels), with every
    /// checkpoint's attractors beside it.
    #[derive(serde::Serialize)]
    struct Study<'a> {
        #[serde(flatten)]
        results: DynamicsResults,
        attractors: &'a [AttractorRecord],
    }
    // with a run directory, the results are its results.json (with the interventions table)
    let results = match &out {
        Some(dir) => {
            py.detach(|| {
                let dir = RunDir::create(dir)?;
                write_dynamics(&dir, ("none", &run), &[], vec![], command)
            })
            .map_err(written)?
            .0
        }
        None => run.results(),
    };
    Ok(json(&Study {
        results,
        attractors: &run.attractors,
    }))
}

/// A run directory that could not be written, as the exception of its kind.
fn written(e: WriteError) -> PyErr {
    match e {
        WriteError::Library(e) => crate::py_err(e),
        other => pyo3::exceptions::PyOSError::new_err(other.to_string()),
    }
}

/// Progress hooks forward a task's advance at most this often (and always its end).
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Sends the library's progress to `callback(event, id, name, value)` from now on: event
/// "start" (value: total units, 0 unknown), "advance" (value: units done; at most every
/// 0.1 s per task, and the last) or "finish"; `None` stops it. A callback that raises is
/// reported as unraisable and does not stop the work.
#[pyfunction]
pub(crate) fn set_progress(callback: Option<Py<PyAny>>) {
    use memscape::progress::{Event, set_hook};
    let Some(callback) = callback else {
        set_hook(None);
        return;
    };
    let tasks: Mutex<std::collections::HashMap<u64, (u64, Instant)>> = Mutex::default();
    set_hook(Some(std::sync::Arc::new(move |event: &Event| {
        let args = {
            let mut tasks = tasks.lock().unwrap_or_else(|e| e.into_inner());
            match *event {
                Event::Start { id, name, total } => {
                    tasks.insert(id, (total, Instant::now()));
                    ("start", id, Some(name.to_string()), total)
                }
                Event::Advance { id, done } => match tasks.get_mut(&id) {
                    Some((total, last))
                        if done >= *total || last.elapsed() >= PROGRESS_INTERVAL =>
                    {
                        *last = Instant::now();
                        ("advance", id, None, done)
                    }
                    _ => return,
                },
                Event::Finish { id } => {
                    tasks.remove(&id);
                    ("finish", id, None, 0)
                }
            }
        };
        Python::attach(|py| {
            if let Err(e) = callback.call1(py, args) {
                e.write_unraisable(py, None);
            }
        });
    })));
}
