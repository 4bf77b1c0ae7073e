//! The denoisers Python hands in: the built-in `ExactDenoiser` (either arithmetic), a
//! memscape `ScoreNetwork` (loaded or trained here), any callable `denoise(x, sigma)`, and the
//! batching that caps the rows of each call.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::studies::{architecture, train_config};
use crate::{
    Matrix, OrRaise, as_points, count, interruptible, invalid, json, matrix, point, read_by,
    sigma_of,
};
use memscape::dataset::data_scale;
use memscape::denoiser::{Arithmetic, Denoiser, EmpiricalDenoiser, Landscape, Pruning};
use memscape::error::Error;
use memscape_train::safetensors::Tensor;
use memscape_train::{CheckpointMeta, ScoreModel, TrainConfig};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods, ToPyArray,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The exact denoiser in either arithmetic.
pub(crate) enum Exact {
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
pub(crate) struct ExactDenoiser {
    exact: Exact,
    pub(crate) patterns: Array2<f64>,
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
    pub(crate) fn dim(&self) -> usize {
        self.patterns.ncols()
    }

    #[getter]
    fn num_patterns(&self) -> usize {
        self.patterns.nrows()
    }

    /// The data's RMS norm √(mean |ξ|²), the unit of the default noise range and tolerances.
    #[getter]
    pub(crate) fn scale(&self) -> f64 {
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
pub(crate) struct ScoreNetwork {
    model: ScoreModel,
    pub(crate) meta: CheckpointMeta,
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

    /// A network from its tensors, named as its checkpoint names them (a PyTorch state dict's
    /// names: `layers.{i}.weight`, `fourier.frequencies`; the U-Net's as the reference module's),
    /// and its checkpoint metadata as JSON (`format`, `mlp` or `unet`, `preconditioning`,
    /// `step`, `ema`, `training`): what `memscape.torch.save_checkpoint` writes.
    #[staticmethod]
    fn from_tensors(
        tensors: BTreeMap<String, PyReadonlyArrayDyn<'_, f32>>,
        meta: &str,
    ) -> PyResult<Self> {
        let meta: CheckpointMeta = serde_json::from_str(meta)
            .map_err(|e| invalid("meta", "checkpoint metadata as JSON", e))?;
        let tensors: BTreeMap<String, Tensor> = tensors
            .into_iter()
            .map(|(name, a)| {
                let a = a.as_array();
                let tensor = Tensor {
                    shape: a.shape().to_vec(),
                    data: a.iter().copied().collect(),
                };
                (name, tensor)
            })
            .collect();
        let bad = |why: String| Error::invalid("tensors", "a memscape network's tensors", why);
        let model = ScoreModel::from_tensors(&meta, &tensors, &bad).or_raise()?;
        Ok(ScoreNetwork {
            model,
            meta,
            losses: vec![],
        })
    }

    /// The network's tensors by checkpoint name (float32 arrays of their shapes).
    fn tensors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, shape, range) in self.model.network.tensors() {
            let a = ndarray::ArrayD::from_shape_vec(shape, self.model.params[range].to_vec())
                .expect("a tensor's shape holds its range");
            out.set_item(name, a.into_pyarray(py))?;
        }
        if let memscape_train::Network::Mlp(mlp) = &self.model.network {
            out.set_item("fourier.frequencies", mlp.frequencies.to_pyarray(py))?;
        }
        Ok(out)
    }

    /// The checkpoint metadata (JSON).
    #[getter]
    fn meta(&self) -> String {
        json(&self.meta)
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
    pub(crate) fn dim(&self) -> usize {
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
pub(crate) fn train_network(
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

/// A Python callable `denoise(x, sigma) -> array` as a denoiser. Each call takes the GIL,
/// hands the rows over as a fresh float64 array, and reads back an (n, d) array (anything
/// `numpy.asarray` turns into one). The first exception is kept and raised when the library
/// call returns; after it the callable is not called again (the rows come back as NaN).
pub(crate) struct Callable {
    function: Py<PyAny>,
    error: Mutex<Option<PyErr>>,
    /// float32 unless the callable's `precision` attribute says "float64".
    arithmetic: Arithmetic,
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
    pub(crate) fn check(&self) -> PyResult<()> {
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
pub(crate) enum Model {
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

    /// A Python callable is taken to compute in f32, as networks on accelerators do, unless its
    /// `precision` attribute is "float64".
    fn arithmetic(&self) -> Arithmetic {
        match self {
            Model::Exact(e) => e.get().exact.arithmetic(),
            Model::Network(n) => n.get().model.arithmetic(),
            Model::Callable(c) => c.arithmetic,
        }
    }
}

/// A denoiser called on at most `rows` rows at a time: a larger call is cut into chunks (a GPU
/// model's memory) and put back together. Rows are denoised independently, so no result
/// changes.
pub(crate) struct Batched<'a> {
    model: &'a Model,
    rows: usize,
}

impl Batched<'_> {
    pub(crate) fn of(model: &Model, batch_size: i64) -> PyResult<Batched<'_>> {
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
    pub(crate) fn of(denoiser: &Bound<'_, PyAny>) -> PyResult<Self> {
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
        let arithmetic = match denoiser.getattr_opt("precision")? {
            None => Arithmetic::F32,
            Some(p) => match p.extract::<String>().ok().as_deref() {
                Some("float32") => Arithmetic::F32,
                Some("float64") => Arithmetic::F64,
                _ => {
                    return Err(invalid(
                        "denoiser.precision",
                        "\"float32\" or \"float64\" (the arithmetic the callable computes in)",
                        p.repr()?,
                    ));
                }
            },
        };
        Ok(Model::Callable(Callable {
            function: denoiser.clone().unbind(),
            error: Mutex::new(None),
            arithmetic,
        }))
    }

    pub(crate) fn exact(&self) -> Option<&ExactDenoiser> {
        match self {
            Model::Exact(e) => Some(e.get()),
            _ => None,
        }
    }

    /// The dimension of a built-in denoiser's points.
    pub(crate) fn own_dim(&self) -> Option<usize> {
        match self {
            Model::Exact(e) => Some(e.get().patterns.ncols()),
            Model::Network(n) => Some(n.get().model.network.dim()),
            Model::Callable(_) => None,
        }
    }

    /// The dimension: a built-in denoiser's own (checked against `dim` when given), else `dim`.
    pub(crate) fn dim(&self, dim: Option<i64>) -> PyResult<usize> {
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
    pub(crate) fn scale(&self, points: ArrayView2<f64>) -> f64 {
        match self.exact() {
            Some(e) => data_scale(e.patterns.view()),
            None => data_scale(points),
        }
    }

    /// A `ScoreNetwork`'s architecture ("mlp", "unet"); None for other denoisers.
    pub(crate) fn architecture(&self) -> Option<&'static str> {
        match self {
            Model::Network(n) => Some(n.get().model.network.architecture().name()),
            Model::Exact(_) | Model::Callable(_) => None,
        }
    }

    /// Another handle on the same denoiser (a callable's errors are its own).
    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Model {
        match self {
            Model::Exact(e) => Model::Exact(e.clone_ref(py)),
            Model::Network(n) => Model::Network(n.clone_ref(py)),
            Model::Callable(c) => Model::Callable(Callable {
                function: c.function.clone_ref(py),
                error: Mutex::new(None),
                arithmetic: c.arithmetic,
            }),
        }
    }

    /// Raises what a callable raised.
    pub(crate) fn check(&self) -> PyResult<()> {
        match self {
            Model::Callable(c) => c.check(),
            Model::Exact(_) | Model::Network(_) => Ok(()),
        }
    }
}
