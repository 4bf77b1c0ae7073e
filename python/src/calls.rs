//! One library call each: sampling, settling, fixed points and their stability, the trained
//! and exact landscapes, bifurcations, Hopfield baselines, classification, capacities and the
//! datasets.

use crate::denoisers::{Batched, Model};
use crate::given;
use crate::{
    Matrix, OrRaise, count, interruptible, invalid, json, matrix, point, seed_of, sigma_of,
};
use memscape::analysis::landscape::attractor::CensusSettings;
use memscape::analysis::landscape::fixed::{self, FixedPointConfig};
use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle as settle_points};
use memscape::analysis::samples::capacity::capacities as capacities_of;
use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::{DataSpec, data_scale};
use memscape::denoiser::{Arithmetic, Denoiser};
use memscape::error::require_positive;
use memscape::noise::{NoiseProcess, Schedule, Spacing};
use memscape::pipeline::{
    BifurcateRequest, ClassifyRequest, ClassifyRun, ExactLandscapeRequest, HopfieldModel,
    HopfieldRequest, LANDSCAPE_DEFAULTS, LandscapeRequest, bifurcate as bifurcate_study,
    classify as classify_study, cusps, exact_landscape as exact_landscape_study,
    hopfield as hopfield_study, trained_landscape, training_set as split_pool,
};
use memscape::sampler::{self, SamplerConfig, SamplerKind, default_sigma_range};
use memscape::store::sorted_json;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Draws `n` samples with the reverse-time sampler (see `memscape.sample`).
#[pyfunction]
#[pyo3(signature = (denoiser, n, *, dim, seed, steps, sigma_min, sigma_max, sampler, eta,
    process, spacing, batch_size, final_denoise))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample<'py>(
    py: Python<'py>,
    denoiser: &Bound<'py, PyAny>,
    n: i64,
    dim: Option<i64>,
    seed: i64,
    steps: i64,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    sampler: &str,
    eta: f64,
    process: &str,
    spacing: &str,
    batch_size: i64,
    final_denoise: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let model = Model::of(denoiser)?;
    let n = count("n", n, 1)?;
    let dim = model.dim(dim)?;
    let (default_max, default_min) = match model.exact() {
        Some(e) => {
            let (max, min) = default_sigma_range(data_scale(e.patterns.view()));
            (Some(max), Some(min))
        }
        None => (None, None),
    };
    let needed = |what: &str, given: Option<f64>, default: Option<f64>| {
        given.or(default).ok_or_else(|| {
            invalid(
                what,
                "given for a network or a callable (memscape cannot see its training data)",
                "None",
            )
        })
    };
    let schedule = Schedule {
        process: NoiseProcess::parse(process).or_raise()?,
        spacing: Spacing::parse(spacing).or_raise()?,
        sigma_max: needed("sigma_max", sigma_max, default_max)?,
        sigma_min: needed("sigma_min", sigma_min, default_min)?,
        num_steps: count("steps", steps, 1)?,
        final_denoise,
    };
    schedule.validate().or_raise()?;
    let config = SamplerConfig {
        kind: SamplerKind::parse(sampler, eta).or_raise()?,
        schedule,
        seed: seed_of(seed)?,
        batch_size: count("batch_size", batch_size, 1)?,
    };
    let samples =
        interruptible(py, || sampler::sample(&model, dim, n, &config, &mut ()))?.or_raise()?;
    model.check()?;
    Ok(samples.into_pyarray(py))
}

/// Carries each row of `x` to its attractor: `x ← D(x, sigma)` (method "unit") or the flow
/// dx/ds = D(x) − x (method "flow"); "auto" takes the unit step for the exact model, the flow
/// otherwise. Returns the end points, each one's status, the most steps any took and the
/// denoiser rows each spent.
#[pyfunction]
#[pyo3(signature = (denoiser, x, sigma, *, tolerance, max_iterations, method, margin, max_step, batch_size,
    gather))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn settle<'py>(
    py: Python<'py>,
    denoiser: &Bound<'py, PyAny>,
    x: PyReadonlyArray2<'py, f64>,
    sigma: f64,
    tolerance: Option<f64>,
    max_iterations: Option<i64>,
    method: &str,
    margin: Option<f64>,
    max_step: Option<f64>,
    batch_size: i64,
    gather: i64,
) -> PyResult<(Matrix<'py>, Vec<&'static str>, usize, Vec<usize>)> {
    let model = Model::of(denoiser)?;
    let batched = Batched::of(&model, batch_size)?;
    let x = matrix(&x, "x", model.own_dim())?;
    let sigma = sigma_of(sigma)?;
    let scale = model.scale(x);
    let exact = model.exact().is_some();
    let flow = match method {
        "auto" => !exact,
        "unit" => false,
        "flow" => true,
        other => {
            return Err(invalid(
                "method",
                "one of auto, unit, flow",
                format!("{other:?}"),
            ));
        }
    };
    let arithmetic = model.arithmetic();
    let mut config = if flow {
        SettleConfig::flow(scale, arithmetic)
    } else {
        SettleConfig::unit_step(arithmetic.settle_tolerance(scale), 500)
    };
    if let Some(t) = tolerance {
        config.tolerance = require_positive("tolerance", t).or_raise()?;
    }
    if let Some(m) = max_iterations {
        config.max_iterations = count("max_iterations", m, 1)?;
    }
    if let Some(m) = margin {
        config.margin = m;
    }
    if let Some(m) = max_step {
        config.max_step = m;
    }
    config.validate().or_raise()?;
    let threads = given::gather_threads(&[&model], gather)?;
    let settled = interruptible(py, || {
        given::with_gathered(&batched, threads, |den| {
            settle_points(den, x, sigma, &config)
        })
    })?;
    model.check()?;
    let settled = settled.or_raise()?;
    let status = settled
        .status
        .iter()
        .map(|s| match s {
            SettleStatus::Converged => "converged",
            SettleStatus::Neutral => "neutral",
            SettleStatus::Unconverged => "unconverged",
            SettleStatus::NonFinite => "non_finite",
        })
        .collect();
    Ok((
        settled.points.into_pyarray(py),
        status,
        settled.iterations,
        settled.evaluations,
    ))
}

/// The search's configuration: defaults for the data scale and arithmetic, then overrides.
pub(crate) fn fixed_config(
    model: &Model,
    points: ArrayView2<f64>,
    scale: Option<f64>,
    float32: Option<bool>,
    eigenvalues: Option<i64>,
    seed: i64,
) -> PyResult<FixedPointConfig> {
    let scale = match scale {
        Some(s) => require_positive("scale", s).or_raise()?,
        None => model.scale(points),
    };
    let arithmetic = match float32 {
        Some(true) => Arithmetic::F32,
        Some(false) => Arithmetic::F64,
        None => model.arithmetic(),
    };
    let defaults = FixedPointConfig::for_scale(scale, arithmetic);
    let config = FixedPointConfig {
        eigenvalues: match eigenvalues {
            Some(e) => count("eigenvalues", e, 0)?,
            None => defaults.eigenvalues.min(points.ncols()),
        },
        seed: seed_of(seed)?,
        ..defaults
    };
    config.validate(points.ncols()).or_raise()?;
    Ok(config)
}

/// Newton–Krylov from every row of `starts`, merged, each point's stability analysed; the
/// `FixedPointSet` as JSON.
#[pyfunction]
#[pyo3(signature = (denoiser, starts, sigma, *, scale, float32, eigenvalues, seed, batch_size,
    gather))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fixed_points(
    py: Python<'_>,
    denoiser: &Bound<'_, PyAny>,
    starts: PyReadonlyArray2<'_, f64>,
    sigma: f64,
    scale: Option<f64>,
    float32: Option<bool>,
    eigenvalues: Option<i64>,
    seed: i64,
    batch_size: i64,
    gather: i64,
) -> PyResult<String> {
    let model = Model::of(denoiser)?;
    let batched = Batched::of(&model, batch_size)?;
    let starts = matrix(&starts, "starts", model.own_dim())?;
    if starts.nrows() == 0 {
        return Err(invalid("starts", "at least one row", "an empty array"));
    }
    let sigma = sigma_of(sigma)?;
    let config = fixed_config(&model, starts, scale, float32, eigenvalues, seed)?;
    let threads = given::gather_threads(&[&model], gather)?;
    let set = interruptible(py, || {
        given::with_gathered(&batched, threads, |den| {
            fixed::fixed_points(den, sigma, starts, &config)
        })
    })?;
    model.check()?;
    let set = set.or_raise()?.or_raise()?;
    Ok(json(&set))
}

/// The landscape of a denoiser at one noise level, as `memscape attractors --checkpoint`
/// measures it (`memscape::pipeline::trained_landscape`): the `attractors.json` document, the
/// samples the census started from, and on 2-D data the energy, score and basin grids.
#[pyfunction]
#[pyo3(signature = (denoiser, train, heldout, sigma, *, samples, eigenvalues, recovery, trials,
    seed, margin, batch_size, gather))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn landscape<'py>(
    py: Python<'py>,
    denoiser: &Bound<'py, PyAny>,
    train: PyReadonlyArray2<'py, f64>,
    heldout: Option<PyReadonlyArray2<'py, f64>>,
    sigma: f64,
    samples: i64,
    eigenvalues: Option<i64>,
    recovery: i64,
    trials: i64,
    seed: i64,
    margin: Option<f64>,
    batch_size: i64,
    gather: i64,
) -> PyResult<(
    String,
    Matrix<'py>,
    Option<(Matrix<'py>, Bound<'py, PyArray3<f64>>, Matrix<'py>)>,
)> {
    let model = Model::of(denoiser)?;
    let batched = Batched::of(&model, batch_size)?;
    let train = matrix(&train, "train", model.own_dim())?;
    let d = train.ncols();
    let no_heldout = Array2::<f64>::zeros((0, d));
    let heldout = match &heldout {
        Some(h) => matrix(h, "heldout", Some(d))?,
        None => no_heldout.view(),
    };
    let eigenvalues = match eigenvalues {
        Some(e) => count("eigenvalues", e, 0)?,
        None => LANDSCAPE_DEFAULTS.eigenvalues_for(d),
    };
    let mut census = CensusSettings::default();
    if let Some(m) = margin {
        census.margin = m;
    }
    let request = LandscapeRequest {
        sigma: sigma_of(sigma)?,
        samples: count("samples", samples, 1)?,
        eigenvalues,
        recovery: count("recovery", recovery, 0)?,
        trials: count("trials", trials, 1)?,
        seed: seed_of(seed)?,
        census,
    };
    let threads = given::gather_threads(&[&model], gather)?;
    let t = interruptible(py, || {
        given::with_gathered(&batched, threads, |den| {
            trained_landscape(den, train, heldout, &request)
        })
    })?;
    model.check()?;
    let t = t.or_raise()?.or_raise()?;
    let step = match &model {
        Model::Network(n) => Some(n.get().meta.step),
        _ => None,
    };
    let document = json(&sorted_json(&t.document(step, None)));
    let grids = t.grids.map(|g| {
        (
            g.energy.into_pyarray(py),
            g.score.into_pyarray(py),
            g.basins.into_pyarray(py),
        )
    });
    Ok((document, t.samples.into_pyarray(py), grids))
}

/// The exact landscape of `patterns` at inverse temperature `beta`, as `memscape attractors`
/// measures it without a checkpoint (`memscape::pipeline::exact_landscape`): the
/// `attractors.json` document, and on 2-D data the basin map, energy and score grids and the
/// stopped samples.
#[pyfunction]
#[pyo3(signature = (patterns, beta, *, random_starts, basin_starts, samples, seed))]
#[allow(clippy::type_complexity)]
pub(crate) fn exact_landscape<'py>(
    py: Python<'py>,
    patterns: PyReadonlyArray2<'py, f64>,
    beta: f64,
    random_starts: i64,
    basin_starts: i64,
    samples: i64,
    seed: i64,
) -> PyResult<(
    String,
    Option<(
        Matrix<'py>,
        Matrix<'py>,
        Bound<'py, PyArray3<f64>>,
        Option<Matrix<'py>>,
    )>,
)> {
    let patterns = matrix(&patterns, "patterns", None)?;
    let request = ExactLandscapeRequest {
        beta: require_positive("beta", beta).or_raise()?,
        random_starts: count("random_starts", random_starts, 0)?,
        basin_starts: count("basin_starts", basin_starts, 0)?,
        samples: count("samples", samples, 0)?,
        seed: seed_of(seed)?,
    };
    let l = interruptible(py, || exact_landscape_study(patterns, &request))?.or_raise()?;
    let document = json(&sorted_json(&l.document()));
    let grids = l.grids.map(|g| {
        (
            g.basin_map.into_pyarray(py),
            g.energy.into_pyarray(py),
            g.score.into_pyarray(py),
            g.samples.map(|(s, _)| s.into_pyarray(py)),
        )
    });
    Ok((document, grids))
}

/// Events, branches and counts of the exact landscape of `patterns` along beta or one
/// pattern's weight (`memscape::pipeline::bifurcate`), or with `cusp_weights` the curves of
/// folds in (beta, w) and their cusps (`memscape::pipeline::cusps`): `bifurcations.json`'s or
/// `cusps.json`'s document.
#[pyfunction]
#[pyo3(signature = (patterns, beta_from, beta_to, *, weight_of, weight_to, steps, tolerance,
    random_starts, cusp_weights))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn bifurcate(
    py: Python<'_>,
    patterns: PyReadonlyArray2<'_, f64>,
    beta_from: f64,
    beta_to: f64,
    weight_of: Option<i64>,
    weight_to: f64,
    steps: i64,
    tolerance: f64,
    random_starts: i64,
    cusp_weights: Option<Vec<f64>>,
) -> PyResult<String> {
    let patterns = matrix(&patterns, "patterns", None)?;
    let request = BifurcateRequest {
        beta_from,
        beta_to,
        weight_of: weight_of.map(|w| count("weight_of", w, 0)).transpose()?,
        weight_to,
        steps: count("steps", steps, 1)?,
        tolerance,
        random_starts: count("random_starts", random_starts, 0)?,
    };
    let document = interruptible(py, || match &cusp_weights {
        Some(weights) => cusps(patterns, &request, weights).map(|d| json(&sorted_json(&d))),
        None => bifurcate_study(patterns, &request).map(|d| json(&sorted_json(&d))),
    })?
    .or_raise()?;
    Ok(document)
}

/// A classical, dense or modern Hopfield baseline beside its theory
/// (`memscape::pipeline::hopfield`): `HopfieldResult` as JSON.
#[pyfunction]
#[pyo3(signature = (model, alpha, *, n, degree, nets, per_net, flip, seed))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn hopfield(
    py: Python<'_>,
    model: &str,
    alpha: f64,
    n: i64,
    degree: i64,
    nets: i64,
    per_net: i64,
    flip: f64,
    seed: i64,
) -> PyResult<String> {
    let model = match model {
        "classical" => HopfieldModel::Classical,
        "dense" => HopfieldModel::Dense,
        "modern" => HopfieldModel::Modern,
        other => {
            return Err(invalid(
                "model",
                "classical, dense or modern",
                format!("{other:?}"),
            ));
        }
    };
    let request = HopfieldRequest {
        model,
        n: count("n", n, 1)?,
        alpha,
        degree: u32::try_from(count("degree", degree, 0)?)
            .map_err(|_| invalid("degree", "an integer below 2^32", degree))?,
        nets: count("nets", nets, 1)?,
        per_net: count("per_net", per_net, 1)?,
        flip,
        seed: seed_of(seed)?,
    };
    let result = interruptible(py, || hopfield_study(&request))?.or_raise()?;
    Ok(json(&sorted_json(&result)))
}

/// The rightmost eigenvalues of the denoiser's Jacobian at one point; `Stability` as JSON.
#[pyfunction]
#[pyo3(signature = (denoiser, x, sigma, *, scale, float32, eigenvalues, seed, batch_size))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn stability(
    py: Python<'_>,
    denoiser: &Bound<'_, PyAny>,
    x: PyReadonlyArray1<'_, f64>,
    sigma: f64,
    scale: Option<f64>,
    float32: Option<bool>,
    eigenvalues: Option<i64>,
    seed: i64,
    batch_size: i64,
) -> PyResult<String> {
    let model = Model::of(denoiser)?;
    let batched = Batched::of(&model, batch_size)?;
    let x = point(&x, "x", model.own_dim())?;
    let sigma = sigma_of(sigma)?;
    let config = fixed_config(
        &model,
        x.insert_axis(Axis(0)),
        scale,
        float32,
        eigenvalues,
        seed,
    )?;
    let s = interruptible(py, || {
        fixed::stability(&batched, sigma, x, &config, config.seed)
    })?;
    model.check()?;
    Ok(json(&s))
}

/// Classifies `samples` against `train` (memscape classify); per-sample arrays and the summary.
#[pyfunction]
#[pyo3(signature = (train, samples, *, samples_b, heldout, delta_m, delta_s, f_mem_ratio,
    support_quantile, resamples, seed))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn classify<'py>(
    py: Python<'py>,
    train: PyReadonlyArray2<'py, f64>,
    samples: PyReadonlyArray2<'py, f64>,
    samples_b: Option<PyReadonlyArray2<'py, f64>>,
    heldout: Option<PyReadonlyArray2<'py, f64>>,
    delta_m: &str,
    delta_s: &str,
    f_mem_ratio: f64,
    support_quantile: f64,
    resamples: i64,
    seed: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let train = matrix(&train, "train", None)?;
    let d = Some(train.ncols());
    let samples = matrix(&samples, "samples", d)?;
    if samples.nrows() == 0 {
        return Err(invalid("samples", "at least one row", "an empty array"));
    }
    let samples_b = samples_b
        .as_ref()
        .map(|b| matrix(b, "samples_b", d))
        .transpose()?;
    let heldout = heldout
        .as_ref()
        .map(|h| matrix(h, "heldout", d))
        .transpose()?;
    let spec = ThresholdSpec {
        delta_m: Threshold::parse("delta_m", delta_m).or_raise()?,
        delta_s: Threshold::parse("delta_s", delta_s).or_raise()?,
        f_mem_ratio,
    };
    let request = ClassifyRequest {
        thresholds: spec,
        support_quantile,
        resamples: count("resamples", resamples, 1)?,
        seed: seed_of(seed)?,
    };
    let ClassifyRun {
        classification: c,
        fractions: f,
        summary,
    } = py
        .detach(|| classify_study(train, samples, samples_b, heldout, &request))
        .or_raise()?;
    let out = PyDict::new(py);
    out.set_item(
        "classes",
        c.classes.iter().map(|k| k.name()).collect::<Vec<_>>(),
    )?;
    out.set_item("d_train", c.d_train.into_pyarray(py))?;
    out.set_item("d_train2", c.d_train2.into_pyarray(py))?;
    out.set_item(
        "nearest_train",
        Array1::from_iter(c.nearest_train.iter().map(|&i| i as i64)).into_pyarray(py),
    )?;
    out.set_item("d_sample", c.d_sample.into_pyarray(py))?;
    out.set_item(
        "ratio_memorized",
        Array1::from(c.ratio_memorized).into_pyarray(py),
    )?;
    out.set_item("d_support", c.d_support.map(|d| d.into_pyarray(py)))?;
    out.set_item("summary", json(&summary))?;
    out.set_item("fractions", json(&f))?;
    Ok(out)
}

/// Memorization and generalization capacities and the spurious peak from fractions over K.
#[pyfunction]
pub(crate) fn capacities(
    ks: Vec<i64>,
    memorized: Vec<f64>,
    spurious: Vec<f64>,
    generalized: Vec<f64>,
) -> PyResult<String> {
    if ks.is_empty() {
        return Err(invalid("ks", "a non-empty list", "[]"));
    }
    for (what, v) in [
        ("memorized", &memorized),
        ("spurious", &spurious),
        ("generalized", &generalized),
    ] {
        if v.len() != ks.len() {
            return Err(invalid(
                what,
                &format!("one fraction per K ({} values)", ks.len()),
                format!("{} values", v.len()),
            ));
        }
        if let Some(x) = v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
            return Err(invalid(what, "fractions in [0, 1]", x));
        }
    }
    if ks.windows(2).any(|w| w[0] >= w[1]) || ks[0] < 1 {
        return Err(invalid(
            "ks",
            "a strictly increasing list of integers ≥ 1",
            format!("{ks:?}"),
        ));
    }
    let ks: Vec<usize> = ks.iter().map(|&k| k as usize).collect();
    Ok(json(&capacities_of(
        &ks,
        &memorized,
        &spurious,
        &generalized,
    )))
}

/// A dataset as Python gets it: points, labels or None, image shape or None.
pub(crate) type Loaded<'py> = (
    Matrix<'py>,
    Option<Bound<'py, PyArray1<u32>>>,
    Option<(usize, usize)>,
);

/// Loads a dataset by spec: (points, labels or None, image shape or None).
#[pyfunction]
pub(crate) fn load_dataset<'py>(py: Python<'py>, spec: &str) -> PyResult<Loaded<'py>> {
    let spec = DataSpec::parse(spec).or_raise()?;
    let p = py.detach(|| spec.load()).or_raise()?;
    Ok((
        p.points.into_pyarray(py),
        p.labels.map(|l| Array1::from(l).into_pyarray(py)),
        p.image_shape,
    ))
}

/// The nested training set of size `k` and the held-out tail, as `map` and `sample` take them.
#[pyfunction]
pub(crate) fn training_set<'py>(
    py: Python<'py>,
    spec: &str,
    k: i64,
    holdout: Option<i64>,
    subset_seed: i64,
) -> PyResult<(Matrix<'py>, Matrix<'py>)> {
    let spec = DataSpec::parse(spec).or_raise()?;
    let k = count("k", k, 1)?;
    let holdout = holdout.map(|h| count("holdout", h, 0)).transpose()?;
    let seed = count("subset_seed", subset_seed, 0)? as u64;
    let t = py
        .detach(|| split_pool(&spec, k, holdout, seed))
        .or_raise()?;
    Ok((
        t.train.points.into_pyarray(py),
        t.heldout.points.into_pyarray(py),
    ))
}
