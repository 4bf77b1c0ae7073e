//! `memscape._memscape`: the library's calls for Python. NumPy arrays come in as read-only
//! views (no copy) and go out by moving the Rust array into NumPy (no copy); every call that
//! computes releases the GIL. A denoiser is a built-in `ExactDenoiser` or any Python
//! callable `denoise(x, sigma) -> ndarray`, which is called with the GIL held (so a PyTorch
//! model on the user's GPU runs through memscape's samplers and analyses). Library errors
//! become `ValueError` (a missing file `FileNotFoundError`, a failed write `OSError`) with the
//! library's one line: the parameter, the rule and the value. The Python layer
//! (`memscape/__init__.py`) adds defaults, docs, dataclasses and pandas.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use memscape::analysis::landscape::attractor::CensusSettings;
use memscape::analysis::landscape::fixed::{self, FixedPointConfig};
use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle as settle_points};
use memscape::analysis::samples::capacity::capacities as capacities_of;
use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::{DataSpec, data_scale};
use memscape::denoiser::{
    Arithmetic, Denoiser, EmpiricalDenoiser, Landscape, Pruning, TrainedModel,
};
use memscape::error::{Error, require_finite, require_positive};
use memscape::noise::{NoiseProcess, Schedule, Spacing};
use memscape::pipeline::{
    BifurcateRequest, ClassifyRequest, ClassifyRun, ExactLandscapeRequest, HopfieldModel,
    HopfieldRequest, LANDSCAPE_DEFAULTS, LandscapeDefaults, LandscapeRequest, MAP_DEFAULTS,
    MapDefaults, MapRequest, bifurcate as bifurcate_study, classify as classify_study, cusps,
    exact_landscape as exact_landscape_study, hopfield as hopfield_study, map as map_study,
    trained_landscape, training_set as split_pool,
};
use memscape::sampler::{
    self, SAMPLER_DEFAULTS, SamplerConfig, SamplerDefaults, SamplerKind, SamplingPlan,
    default_sigma_range,
};
use memscape::store::sorted_json;
use memscape_train::dynamics::{
    AttractorRecord, AttractorRequest, DYNAMICS_DEFAULTS, DynamicsDefaults, DynamicsRequest,
    DynamicsResults, dynamics as dynamics_study,
};
use memscape_train::train::OverrideError;
use memscape_train::{Architecture, CheckpointMeta, NetworkTrainer, ScoreModel, TrainConfig};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods, ToPyArray,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A float64 NumPy matrix handed to Python.
type Matrix<'py> = Bound<'py, PyArray2<f64>>;

/// A library error as the Python exception of its kind, with the library's message.
fn py_err(e: Error) -> PyErr {
    match &e {
        Error::File { path, .. } if !path.exists() => PyFileNotFoundError::new_err(e.to_string()),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for memscape::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

fn invalid(what: &str, rule: &str, value: impl ToString) -> PyErr {
    py_err(Error::invalid(what, rule, value))
}

/// A count given from Python (a negative int is a rule broken, not an overflow).
fn count(what: &str, value: i64, least: i64) -> PyResult<usize> {
    if value < least {
        return Err(invalid(what, &format!("an integer ≥ {least}"), value));
    }
    Ok(value as usize)
}

fn seed_of(value: i64) -> PyResult<u64> {
    Ok(count("seed", value, 0)? as u64)
}

/// A matrix argument, checked finite, with `columns` columns when given.
/// `x` read by the package's one input rule for points, `memscape.<reader>` (`_matrix`: any
/// array-like of numbers, a torch tensor on any device, an image stack flattened to rows, as a
/// float64 (n, d) array; `_vector`: one point), before extracting; errors name `what`.
fn read_by<'py>(reader: &str, x: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    x.py().import("memscape")?.getattr(reader)?.call1((x, what))
}

fn as_points<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, f64>> {
    read_by("_matrix", x, what)?.extract()
}

fn matrix<'a>(
    a: &'a PyReadonlyArray2<'_, f64>,
    what: &str,
    columns: Option<usize>,
) -> PyResult<ArrayView2<'a, f64>> {
    let v = a.as_array();
    if let Some(d) = columns
        && v.ncols() != d
    {
        return Err(invalid(
            what,
            &format!("an (n, {d}) array (the data's dimension is {d})"),
            format!("an array of shape {:?}", v.shape()),
        ));
    }
    require_finite(what, v).or_raise()?;
    Ok(v)
}

/// A point argument (a view, no copy), checked finite, of dimension `dim` when given.
fn point<'a>(
    a: &'a PyReadonlyArray1<'_, f64>,
    what: &str,
    dim: Option<usize>,
) -> PyResult<ArrayView1<'a, f64>> {
    let v = a.as_array();
    if let Some(d) = dim
        && v.len() != d
    {
        return Err(invalid(what, &format!("a point of dimension {d}"), v.len()));
    }
    require_finite(what, v.insert_axis(Axis(0))).or_raise()?;
    Ok(v)
}

fn sigma_of(sigma: f64) -> PyResult<f64> {
    require_positive("sigma", sigma).or_raise()
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("results serialise")
}

/// The exact denoiser in either arithmetic.
enum Exact {
    F64(EmpiricalDenoiser<f64>),
    F32(EmpiricalDenoiser<f32>),
}

impl Denoiser for Exact {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        match self {
            Exact::F64(d) => d.denoise(x, sigma),
            Exact::F32(d) => d.denoise(x, sigma),
        }
    }

    fn arithmetic(&self) -> Arithmetic {
        match self {
            Exact::F64(_) => Arithmetic::F64,
            Exact::F32(_) => Arithmetic::F32,
        }
    }
}

/// The exact denoiser of the empirical distribution of K patterns: one modern-Hopfield update,
/// `D(x, sigma) = Σ_μ softmax_μ(−|x − ξ_μ|² / 2sigma²) ξ_μ` (theory.md §1).
#[pyclass(frozen, module = "memscape._memscape")]
struct ExactDenoiser {
    exact: Exact,
    patterns: Array2<f64>,
    precision: &'static str,
}

impl ExactDenoiser {
    /// `x` (a view of the caller's array, no copy) and `sigma`, checked.
    fn checked<'a>(
        &self,
        x: &'a PyReadonlyArray2<'_, f64>,
        sigma: f64,
    ) -> PyResult<(ArrayView2<'a, f64>, f64)> {
        let x = matrix(x, "x", Some(self.patterns.ncols()))?;
        Ok((x, sigma_of(sigma)?))
    }
}

#[pymethods]
impl ExactDenoiser {
    #[new]
    #[pyo3(signature = (patterns, precision = "f64", pruning = None))]
    fn new(
        patterns: &Bound<'_, PyAny>,
        precision: &str,
        pruning: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let patterns = as_points(patterns, "patterns")?;
        let points = matrix(&patterns, "patterns", None)?;
        let pruning = match pruning {
            None => Pruning::Auto,
            Some(p) if p.extract::<String>().is_ok_and(|s| s == "auto") => Pruning::Auto,
            Some(p) if p.extract::<String>().is_ok_and(|s| s == "off") => Pruning::Off,
            Some(p) => match p.extract::<f64>() {
                Ok(t) => Pruning::tolerance(t).or_raise()?,
                Err(_) => {
                    return Err(invalid(
                        "pruning",
                        "\"auto\", \"off\" or a tolerance in (0, 1)",
                        p.repr()?,
                    ));
                }
            },
        };
        let (exact, precision) = match precision {
            "f64" => (
                Exact::F64(
                    EmpiricalDenoiser::new(points)
                        .or_raise()?
                        .with_pruning(pruning),
                ),
                "f64",
            ),
            "f32" => (
                Exact::F32(
                    EmpiricalDenoiser::new(points)
                        .or_raise()?
                        .with_pruning(pruning),
                ),
                "f32",
            ),
            other => {
                return Err(invalid(
                    "precision",
                    "\"f64\" or \"f32\"",
                    format!("{other:?}"),
                ));
            }
        };
        Ok(ExactDenoiser {
            exact,
            patterns: points.to_owned(),
            precision,
        })
    }

    /// `D(x, sigma)` for every row of `x` (n × d).
    fn denoise<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = as_points(x, "x")?;
        let (x, sigma) = self.checked(&x, sigma)?;
        Ok(py.detach(|| self.exact.denoise(x, sigma)).into_pyarray(py))
    }

    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.denoise(py, x, sigma)
    }

    /// The score `∇ log p_sigma(x) = (D(x, sigma) − x) / sigma²` (Tweedie).
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = as_points(x, "x")?;
        let (x, sigma) = self.checked(&x, sigma)?;
        let s = py.detach(|| memscape::denoiser::score(&self.exact, x, sigma));
        Ok(s.into_pyarray(py))
    }

    /// The energy `E(x; beta) = −(1/beta) log Σ_μ exp(−beta |x − ξ_μ|²/2)` of each row at
    /// beta = 1/sigma² (theory.md §1): `−sigma² log p_sigma(x)` up to a constant, whose gradient
    /// is `x − D(x, sigma)`.
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = as_points(x, "x")?;
        let (x, sigma) = self.checked(&x, sigma)?;
        let landscape = Landscape::new(self.patterns.view(), 1.0 / (sigma * sigma)).or_raise()?;
        let e: Array1<f64> = py.detach(|| {
            x.axis_iter(Axis(0))
                .map(|row| landscape.energy(row))
                .collect()
        });
        Ok(e.into_pyarray(py))
    }

    /// The Hessian of the energy at one point `x` (d,): `I − beta Cov_w(ξ)`.
    fn hessian<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x: PyReadonlyArray1<'_, f64> = read_by("_vector", x, "x")?.extract()?;
        let x = point(&x, "x", Some(self.patterns.ncols()))?;
        let sigma = sigma_of(sigma)?;
        let landscape = Landscape::new(self.patterns.view(), 1.0 / (sigma * sigma)).or_raise()?;
        Ok(py.detach(|| landscape.hessian(x)).into_pyarray(py))
    }

    /// The K × d patterns (a copy).
    #[getter]
    fn patterns<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.patterns.to_pyarray(py)
    }

    #[getter]
    fn dim(&self) -> usize {
        self.patterns.ncols()
    }

    #[getter]
    fn num_patterns(&self) -> usize {
        self.patterns.nrows()
    }

    /// The data's RMS norm √(mean |ξ|²), the unit of the default noise range and tolerances.
    #[getter]
    fn scale(&self) -> f64 {
        data_scale(self.patterns.view())
    }

    #[getter]
    fn precision(&self) -> &'static str {
        self.precision
    }

    fn __repr__(&self) -> String {
        format!(
            "ExactDenoiser(K={}, d={}, precision={:?})",
            self.patterns.nrows(),
            self.patterns.ncols(),
            self.precision
        )
    }
}

/// A score network trained by memscape (an MLP, or a U-Net on images), with its checkpoint
/// metadata: a built-in denoiser `D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)` computing
/// in float32.
#[pyclass(frozen, module = "memscape._memscape")]
struct ScoreNetwork {
    model: ScoreModel,
    meta: CheckpointMeta,
    losses: Vec<f32>,
}

#[pymethods]
impl ScoreNetwork {
    /// Reads a checkpoint (`.safetensors` of `memscape train`, `map` or `dynamics`).
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let (model, meta) = py.detach(|| ScoreModel::load(&path)).or_raise()?;
        Ok(ScoreNetwork {
            model,
            meta,
            losses: vec![],
        })
    }

    /// Writes the checkpoint (safetensors with PyTorch-style names and memscape's metadata),
    /// atomically.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| self.model.save(&path, &self.meta)).or_raise()
    }

    /// `D(x, sigma)` for every row of `x` (n × d).
    fn denoise<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Matrix<'py>> {
        let x = as_points(x, "x")?;
        let x = matrix(&x, "x", Some(self.model.network.dim()))?;
        let sigma = sigma_of(sigma)?;
        Ok(py.detach(|| self.model.denoise(x, sigma)).into_pyarray(py))
    }

    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sigma: f64,
    ) -> PyResult<Matrix<'py>> {
        self.denoise(py, x, sigma)
    }

    /// "mlp" or "unet".
    #[getter]
    fn architecture(&self) -> &'static str {
        self.model.network.architecture().name()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.model.network.dim()
    }

    /// Optimiser steps taken.
    #[getter]
    fn step(&self) -> usize {
        self.meta.step
    }

    #[getter]
    fn num_parameters(&self) -> usize {
        self.model.network.num_parameters()
    }

    /// The checkpoint's provenance: the training configuration and data description (JSON).
    #[getter]
    fn training(&self) -> String {
        json(&self.meta.training)
    }

    /// The mini-batch loss of every step (empty for a loaded checkpoint).
    #[getter]
    fn losses<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.losses.to_pyarray(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "ScoreNetwork({}, d={}, step={}, {} parameters)",
            self.architecture(),
            self.dim(),
            self.meta.step,
            self.num_parameters()
        )
    }
}

/// Trains a score network on `train` (memscape train): `TrainConfig`'s defaults, the fields in
/// `config` (JSON), the architecture and the number of steps.
#[pyfunction]
#[pyo3(signature = (train, *, model, steps, image_shape, config))]
fn train_network(
    py: Python<'_>,
    train: PyReadonlyArray2<'_, f64>,
    model: &str,
    steps: i64,
    image_shape: Option<(usize, usize)>,
    config: &str,
) -> PyResult<ScoreNetwork> {
    let Some(arch) = architecture(model)? else {
        return Err(invalid(
            "model",
            "mlp or unet (the exact model does not train)",
            "\"exact\"",
        ));
    };
    let points = matrix(&train, "train", None)?;
    let config = TrainConfig {
        image_shape,
        ..train_config(config, arch, count("steps", steps, 1)?, 1)?
    };
    let mut last = None;
    let run = interruptible(py, || {
        memscape_train::train(&config, points, None, |_, meta, _| {
            last = Some(meta.clone());
            Ok(())
        })
    })?
    .or_raise()?;
    Ok(ScoreNetwork {
        model: run.model,
        meta: last.expect("the last step is a checkpoint"),
        losses: run.losses,
    })
}

/// How often a long call looks for Ctrl-C (Python's signal handlers) while the library works.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// Long calls in progress (from any Python thread): the interrupt flag is cleared when the
/// first starts and when the last ends, so one call never clears another's Ctrl-C.
static ACTIVE_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The main thread's stack size, for the worker that runs a long call.
const WORKER_STACK: usize = 8 << 20;

/// Runs long library work `f` on a worker thread while Python's thread, without the GIL,
/// runs the signal handlers every [`SIGNAL_POLL`] (and wakes as soon as the work ends): when
/// one raises (Ctrl-C: `KeyboardInterrupt`), the library is interrupted
/// ([`memscape::progress::interrupt`]) and unwinds at its next progress step or denoiser
/// probe, and the call raises that exception. Ctrl-C stops every memscape call in progress;
/// those in other Python threads raise `KeyboardInterrupt` too. Progress callbacks and Python
/// denoisers run on the worker's threads, so neither can swallow the interrupt.
fn interruptible<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    use memscape::progress::{Interrupted, clear_interrupt, interrupt};
    use std::sync::atomic::Ordering;
    if ACTIVE_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
        clear_interrupt();
    }
    let out = std::thread::scope(|scope| {
        let (ended, wait) = std::sync::mpsc::channel::<()>();
        let wait = Mutex::new(wait); // shared with the GIL-free wait below
        let worker = std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, move || {
                let value = f();
                drop(ended); // wakes the wait below (as does unwinding)
                value
            })
            .map_err(|e| PyOSError::new_err(format!("cannot start a worker thread: {e}")))?;
        let mut raised = None;
        while !worker.is_finished() {
            let _ = py.detach(|| {
                wait.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .recv_timeout(SIGNAL_POLL)
            });
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                interrupt();
                raised = Some(e);
            }
        }
        match (py.detach(|| worker.join()), raised) {
            (Ok(value), None) => Ok(value),
            (Ok(_), Some(e)) => Err(e),
            (Err(payload), Some(e)) if payload.is::<Interrupted>() => Err(e),
            (Err(payload), None) if payload.is::<Interrupted>() => {
                Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                    "interrupted: Ctrl-C during another memscape call",
                ))
            }
            (Err(payload), _) => std::panic::resume_unwind(payload),
        }
    });
    if ACTIVE_CALLS.fetch_sub(1, Ordering::SeqCst) == 1 {
        clear_interrupt();
    }
    out
}

/// A Python callable `denoise(x, sigma) -> array` as a denoiser. Each call takes the GIL,
/// hands the rows over as a fresh float64 array, and reads back an (n, d) array (anything
/// `numpy.asarray` turns into one). The first exception is kept and raised when the library
/// call returns; after it the callable is not called again (the rows come back as NaN).
struct Callable {
    function: Py<PyAny>,
    error: Mutex<Option<PyErr>>,
}

impl Callable {
    /// Calls the function and checks what it returns: an array of the input's shape (its own
    /// shape quoted otherwise), every value finite (the first row that is not, named).
    fn call(&self, py: Python<'_>, x: ArrayView2<f64>, sigma: f64) -> PyResult<Array2<f64>> {
        let out = self.function.call1(py, (x.to_pyarray(py), sigma))?;
        let out = out.bind(py);
        let array: numpy::PyReadonlyArrayDyn<'_, f64> = match out.extract() {
            Ok(a) => a,
            Err(_) => {
                let not_an_array = |_| {
                    let kind = out.get_type().name().map_or("?".into(), |n| n.to_string());
                    invalid(
                        "denoiser output",
                        "an array of floats (a torch tensor on the CPU, a NumPy array, a list)",
                        format!("{kind} object"),
                    )
                };
                py.import("numpy")?
                    .getattr("asarray")?
                    .call1((out, "float64"))
                    .map_err(not_an_array)?
                    .extract()
                    .map_err(not_an_array)?
            }
        };
        if array.shape() != x.shape() {
            return Err(invalid(
                "denoiser output",
                &format!("an array of the input's shape {:?}", x.shape()),
                format!("shape {:?}", array.shape()),
            ));
        }
        let values = array
            .as_array()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("two axes, as checked")
            .to_owned();
        if let Some((row, v)) = values
            .rows()
            .into_iter()
            .enumerate()
            .find_map(|(i, r)| r.iter().find(|v| !v.is_finite()).map(|&v| (i, v)))
        {
            return Err(invalid(
                "denoiser output",
                "finite (no NaN or infinity)",
                format!(
                    "{v} in row {row} at sigma {}",
                    memscape::error::number(sigma)
                ),
            ));
        }
        Ok(values)
    }

    /// Raises the first exception the callable raised, if any.
    fn check(&self) -> PyResult<()> {
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Denoiser for Callable {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        memscape::progress::check_interrupt();
        let failed = || Array2::from_elem(x.raw_dim(), f64::NAN);
        if self
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return failed();
        }
        Python::attach(|py| {
            self.call(py, x, sigma).unwrap_or_else(|e| {
                let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(e);
                failed()
            })
        })
    }
}

/// A denoiser argument: the built-in exact one, or a Python callable.
enum Model {
    Exact(Py<ExactDenoiser>),
    Network(Py<ScoreNetwork>),
    Callable(Callable),
}

impl Denoiser for Model {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        match self {
            Model::Exact(e) => e.get().exact.denoise(x, sigma),
            Model::Network(n) => n.get().model.denoise(x, sigma),
            Model::Callable(c) => c.denoise(x, sigma),
        }
    }

    /// A Python callable is taken to compute in f32, as networks on accelerators do.
    fn arithmetic(&self) -> Arithmetic {
        match self {
            Model::Exact(e) => e.get().exact.arithmetic(),
            Model::Network(n) => n.get().model.arithmetic(),
            Model::Callable(_) => Arithmetic::F32,
        }
    }
}

/// A denoiser called on at most `rows` rows at a time: a larger call is cut into chunks (a GPU
/// model's memory) and put back together. Rows are denoised independently, so no result
/// changes.
struct Batched<'a> {
    model: &'a Model,
    rows: usize,
}

impl Batched<'_> {
    fn of(model: &Model, batch_size: i64) -> PyResult<Batched<'_>> {
        Ok(Batched {
            model,
            rows: count("batch_size", batch_size, 1)?,
        })
    }
}

impl Denoiser for Batched<'_> {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        if x.nrows() <= self.rows {
            return self.model.denoise(x, sigma);
        }
        let parts: Vec<Array2<f64>> = x
            .axis_chunks_iter(Axis(0), self.rows)
            .map(|chunk| self.model.denoise(chunk, sigma))
            .collect();
        let views: Vec<ArrayView2<f64>> = parts.iter().map(|p| p.view()).collect();
        ndarray::concatenate(Axis(0), &views).expect("chunks of one width")
    }

    fn arithmetic(&self) -> Arithmetic {
        self.model.arithmetic()
    }
}

impl Model {
    fn of(denoiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(e) = denoiser.cast::<ExactDenoiser>() {
            return Ok(Model::Exact(e.clone().unbind()));
        }
        if let Ok(n) = denoiser.cast::<ScoreNetwork>() {
            return Ok(Model::Network(n.clone().unbind()));
        }
        if !denoiser.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "denoiser must be an ExactDenoiser, a ScoreNetwork or a callable \
                 denoise(x, sigma) -> ndarray, got {}",
                denoiser.get_type().name()?
            )));
        }
        Ok(Model::Callable(Callable {
            function: denoiser.clone().unbind(),
            error: Mutex::new(None),
        }))
    }

    fn exact(&self) -> Option<&ExactDenoiser> {
        match self {
            Model::Exact(e) => Some(e.get()),
            _ => None,
        }
    }

    /// The dimension of a built-in denoiser's points.
    fn own_dim(&self) -> Option<usize> {
        match self {
            Model::Exact(e) => Some(e.get().patterns.ncols()),
            Model::Network(n) => Some(n.get().model.network.dim()),
            Model::Callable(_) => None,
        }
    }

    /// The dimension: a built-in denoiser's own (checked against `dim` when given), else `dim`.
    fn dim(&self, dim: Option<i64>) -> PyResult<usize> {
        match (self.own_dim(), dim) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(d)) if d > 0 && d as usize == own => Ok(own),
            (Some(own), Some(d)) => Err(invalid(
                "dim",
                &format!("the denoiser's dimension {own} (or None)"),
                d,
            )),
            (None, Some(d)) => count("dim", d, 1),
            (None, None) => Err(invalid(
                "dim",
                "given for a callable denoiser (the dimension of its points)",
                "None",
            )),
        }
    }

    /// The data scale: the exact model's patterns', else the RMS norm of `points`.
    fn scale(&self, points: ArrayView2<f64>) -> f64 {
        match self.exact() {
            Some(e) => data_scale(e.patterns.view()),
            None => data_scale(points),
        }
    }

    /// Raises what a callable raised.
    fn check(&self) -> PyResult<()> {
        match self {
            Model::Callable(c) => c.check(),
            Model::Exact(_) | Model::Network(_) => Ok(()),
        }
    }
}

/// Draws `n` samples with the reverse-time sampler (see `memscape.sample`).
#[pyfunction]
#[pyo3(signature = (denoiser, n, *, dim, seed, steps, sigma_min, sigma_max, sampler, eta,
    process, spacing, batch_size, final_denoise))]
#[allow(clippy::too_many_arguments)]
fn sample<'py>(
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
#[pyo3(signature = (denoiser, x, sigma, *, tolerance, max_iterations, method, margin, max_step, batch_size))]
#[allow(clippy::too_many_arguments)]
fn settle<'py>(
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
    let settled = interruptible(py, || settle_points(&batched, x, sigma, &config))?;
    model.check()?;
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
fn fixed_config(
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
#[pyo3(signature = (denoiser, starts, sigma, *, scale, float32, eigenvalues, seed, batch_size))]
#[allow(clippy::too_many_arguments)]
fn fixed_points(
    py: Python<'_>,
    denoiser: &Bound<'_, PyAny>,
    starts: PyReadonlyArray2<'_, f64>,
    sigma: f64,
    scale: Option<f64>,
    float32: Option<bool>,
    eigenvalues: Option<i64>,
    seed: i64,
    batch_size: i64,
) -> PyResult<String> {
    let model = Model::of(denoiser)?;
    let batched = Batched::of(&model, batch_size)?;
    let starts = matrix(&starts, "starts", model.own_dim())?;
    if starts.nrows() == 0 {
        return Err(invalid("starts", "at least one row", "an empty array"));
    }
    let sigma = sigma_of(sigma)?;
    let config = fixed_config(&model, starts, scale, float32, eigenvalues, seed)?;
    let set =
        interruptible(py, || fixed::fixed_points(&batched, sigma, starts, &config))?.or_raise()?;
    model.check()?;
    Ok(json(&set))
}

/// The landscape of a denoiser at one noise level, as `memscape attractors --checkpoint`
/// measures it (`memscape::pipeline::trained_landscape`): the `attractors.json` document, the
/// samples the census started from, and on 2-D data the energy, score and basin grids.
#[pyfunction]
#[pyo3(signature = (denoiser, train, heldout, sigma, *, samples, eigenvalues, recovery, trials,
    seed, margin, batch_size))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn landscape<'py>(
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
    let t =
        interruptible(py, || trained_landscape(&batched, train, heldout, &request))?.or_raise()?;
    model.check()?;
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
fn exact_landscape<'py>(
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
fn bifurcate(
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
fn hopfield(
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
fn stability(
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
fn classify<'py>(
    py: Python<'py>,
    train: PyReadonlyArray2<'py, f64>,
    samples: PyReadonlyArray2<'py, f64>,
    samples_b: Option<PyReadonlyArray2<'py, f64>>,
    heldout: Option<PyReadonlyArray2<'py, f64>>,
    delta_m: Option<f64>,
    delta_s: Option<f64>,
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
        delta_m: Threshold::given("delta_m", delta_m).or_raise()?,
        delta_s: Threshold::given("delta_s", delta_s).or_raise()?,
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
fn capacities(
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
type Loaded<'py> = (
    Matrix<'py>,
    Option<Bound<'py, PyArray1<u32>>>,
    Option<(usize, usize)>,
);

/// Loads a dataset by spec: (points, labels or None, image shape or None).
#[pyfunction]
fn load_dataset<'py>(py: Python<'py>, spec: &str) -> PyResult<Loaded<'py>> {
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
fn training_set<'py>(
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

/// `TrainConfig` fields the calls set themselves (from the model, the data and their own
/// arguments), so a `train` dict may not.
const SET_BY_CALL: [&str; 4] = ["architecture", "steps", "checkpoints", "image_shape"];

/// A training configuration: `TrainConfig`'s defaults, the keys of `overrides` (JSON), then
/// the architecture and length. Unknown keys are refused by name.
fn train_config(
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

fn architecture(model: &str) -> PyResult<Option<Architecture>> {
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
fn plan(
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

fn ks_of(ks: Vec<i64>) -> PyResult<Vec<usize>> {
    if ks.is_empty() || ks[0] < 1 || ks.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            "ks",
            "a non-empty, strictly increasing list of integers ≥ 1",
            format!("{ks:?}"),
        ));
    }
    Ok(ks.iter().map(|&k| k as usize).collect())
}

/// The map's, the sampler's and the trained landscape's defaults, stated once in the library
/// ([`MAP_DEFAULTS`], [`SAMPLER_DEFAULTS`], [`LANDSCAPE_DEFAULTS`]), as a JSON document
/// `{"map": …, "sampler": …, "landscape": …}`: `memscape.map` and `memscape.landscape` take
/// their signatures' defaults from it, as the command line's flags do.
#[pyfunction]
fn defaults() -> String {
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
    holdout, support_quantile, train_steps, train))]
#[allow(clippy::too_many_arguments)]
fn map<'py>(
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
    delta_m: Option<f64>,
    delta_s: Option<f64>,
    resamples: i64,
    holdout: Option<i64>,
    support_quantile: f64,
    train_steps: i64,
    train: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let trainer = architecture(model)?
        .map(|a| -> PyResult<NetworkTrainer> {
            Ok(NetworkTrainer {
                config: train_config(train, a, count("train_steps", train_steps, 1)?, 1)?,
            })
        })
        .transpose()?;
    let request = MapRequest {
        data: DataSpec::parse(data).or_raise()?,
        ks: ks_of(ks)?,
        subset_seed: count("subset_seed", subset_seed, 0)? as u64,
        plan: plan(
            steps, seed, sigma_min, sigma_max, sampler, eta, process, spacing, batch_size,
        )?,
        num_samples: count("num_samples", num_samples, 2)?,
        thresholds: ThresholdSpec {
            delta_m: Threshold::given("delta_m", delta_m).or_raise()?,
            delta_s: Threshold::given("delta_s", delta_s).or_raise()?,
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
        && t.config.architecture == Architecture::Unet
    {
        TrainConfig {
            image_shape: request.data.load().or_raise()?.image_shape,
            ..t.config.clone()
        }
        .validate()
        .or_raise()?;
    }
    let run = interruptible(py, || {
        map_study(request, trainer.as_ref().map(|t| t as &dyn TrainedModel))
    })?
    .or_raise()?;
    let out = PyDict::new(py);
    out.set_item("results", json(&run.results()))?;
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
    spur_level, attractor_groups, eigenvalues, train))]
#[allow(clippy::too_many_arguments)]
fn dynamics(
    py: Python<'_>,
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
) -> PyResult<String> {
    let Some(arch) = architecture(model)? else {
        return Err(invalid(
            "model",
            "mlp or unet (the exact model does not train)",
            "\"exact\"",
        ));
    };
    let data = DataSpec::parse(data).or_raise()?;
    let loaded = py.detach(|| data.load()).or_raise()?;
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
    let request = DynamicsRequest {
        data,
        ks: ks_of(ks)?,
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
        grid_k: None,
        attractors: attractors.then_some(AttractorRequest {
            spur_level,
            max_groups: count("attractor_groups", attractor_groups, 1)?,
            eigenvalues,
            census: Default::default(),
        }),
    };
    request.train.validate().or_raise()?;
    let run = interruptible(py, || dynamics_study(request, |_, _, _, _| Ok(())))?.or_raise()?;
    /// `results.json`'s document (flat rows, the timescales and their levels), with every
    /// checkpoint's attractors beside it.
    #[derive(serde::Serialize)]
    struct Study<'a> {
        #[serde(flatten)]
        results: DynamicsResults,
        attractors: &'a [AttractorRecord],
    }
    Ok(json(&Study {
        results: run.results(),
        attractors: &run.attractors,
    }))
}

/// Progress hooks forward a task's advance at most this often (and always its end).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Sends the library's progress to `callback(event, id, name, value)` from now on: event
/// "start" (value: total units, 0 unknown), "advance" (value: units done; at most every
/// 0.1 s per task, and the last) or "finish"; `None` stops it. A callback that raises is
/// reported as unraisable and does not stop the work.
#[pyfunction]
fn set_progress(callback: Option<Py<PyAny>>) {
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

#[pymodule]
fn _memscape(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<ExactDenoiser>()?;
    m.add_class::<ScoreNetwork>()?;
    m.add_function(wrap_pyfunction!(train_network, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(settle, m)?)?;
    m.add_function(wrap_pyfunction!(fixed_points, m)?)?;
    m.add_function(wrap_pyfunction!(stability, m)?)?;
    m.add_function(wrap_pyfunction!(landscape, m)?)?;
    m.add_function(wrap_pyfunction!(exact_landscape, m)?)?;
    m.add_function(wrap_pyfunction!(bifurcate, m)?)?;
    m.add_function(wrap_pyfunction!(hopfield, m)?)?;
    m.add_function(wrap_pyfunction!(classify, m)?)?;
    m.add_function(wrap_pyfunction!(capacities, m)?)?;
    m.add_function(wrap_pyfunction!(load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(training_set, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(map, m)?)?;
    m.add_function(wrap_pyfunction!(dynamics, m)?)?;
    m.add_function(wrap_pyfunction!(set_progress, m)?)?;
    Ok(())
}
