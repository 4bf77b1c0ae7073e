//! `memscape._memscape`: the library's calls for Python. NumPy arrays come in as read-only
//! views (no copy) and go out by moving the Rust array into NumPy (no copy); every call that
//! computes releases the GIL. A denoiser is a built-in `ExactDenoiser` or any Python
//! callable `denoise(x, sigma) -> ndarray`, which is called with the GIL held (so a PyTorch
//! model on the user's GPU runs through memscape's samplers and analyses). Library errors
//! become `ValueError` (a missing file `FileNotFoundError`, a failed write `OSError`) with the
//! library's one line: the parameter, the rule and the value. The Python layer
//! (`memscape/__init__.py`) adds defaults, docs, dataclasses and pandas.

mod calls;
mod denoisers;
mod given;
mod studies;
mod sweep;

use std::sync::Mutex;
use std::time::Duration;

use memscape::error::{Error, require_finite, require_positive};
use ndarray::{ArrayView1, ArrayView2, Axis};
use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;

use denoisers::*;

/// A float64 NumPy matrix handed to Python.
pub(crate) type Matrix<'py> = Bound<'py, PyArray2<f64>>;

/// A library error as the Python exception of its kind, with the library's message.
pub(crate) fn py_err(e: Error) -> PyErr {
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

pub(crate) fn invalid(what: &str, rule: &str, value: impl ToString) -> PyErr {
    py_err(Error::invalid(what, rule, value))
}

/// A count given from Python (a negative int is a rule broken, not an overflow).
pub(crate) fn count(what: &str, value: i64, least: i64) -> PyResult<usize> {
    if value < least {
        return Err(invalid(what, &format!("an integer ≥ {least}"), value));
    }
    Ok(value as usize)
}

pub(crate) fn seed_of(value: i64) -> PyResult<u64> {
    Ok(count("seed", value, 0)? as u64)
}

/// A matrix argument, checked finite, with `columns` columns when given.
/// `x` read by the package's one input rule for points, `memscape.<reader>` (`_matrix`: any
/// array-like of numbers, a torch tensor on any device, an image stack flattened to rows, as a
/// float64 (n, d) array; `_vector`: one point), before extracting; errors name `what`.
pub(crate) fn read_by<'py>(
    reader: &str,
    x: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Bound<'py, PyAny>> {
    x.py().import("memscape")?.getattr(reader)?.call1((x, what))
}

pub(crate) fn as_points<'py>(
    x: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArray2<'py, f64>> {
    read_by("_matrix", x, what)?.extract()
}

pub(crate) fn matrix<'a>(
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
pub(crate) fn point<'a>(
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

pub(crate) fn sigma_of(sigma: f64) -> PyResult<f64> {
    require_positive("sigma", sigma).or_raise()
}

pub(crate) fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("results serialise")
}

/// How often a long call looks for Ctrl-C (Python's signal handlers) while the library works.
pub(crate) const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// Long calls in progress (from any Python thread): the interrupt flag is cleared when the
/// first starts and when the last ends, so one call never clears another's Ctrl-C.
pub(crate) static ACTIVE_CALLS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The main thread's stack size, for the worker that runs a long call.
pub(crate) const WORKER_STACK: usize = 8 << 20;

/// Runs long library work `f` on a worker thread while Python's thread, without the GIL,
/// runs the signal handlers every [`SIGNAL_POLL`] (and wakes as soon as the work ends): when
/// one raises (Ctrl-C: `KeyboardInterrupt`), the library is interrupted
/// ([`memscape::progress::interrupt`]) and unwinds at its next progress step or denoiser
/// probe, and the call raises that exception. Ctrl-C stops every memscape call in progress;
/// those in other Python threads raise `KeyboardInterrupt` too. Progress callbacks and Python
/// denoisers run on the worker's threads, so neither can swallow the interrupt.
pub(crate) fn interruptible<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
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

#[pymodule]
fn _memscape(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<ExactDenoiser>()?;
    m.add_class::<ScoreNetwork>()?;
    m.add_function(wrap_pyfunction!(denoisers::train_network, m)?)?;
    m.add_function(wrap_pyfunction!(calls::sample, m)?)?;
    m.add_function(wrap_pyfunction!(calls::settle, m)?)?;
    m.add_function(wrap_pyfunction!(calls::fixed_points, m)?)?;
    m.add_function(wrap_pyfunction!(calls::stability, m)?)?;
    m.add_function(wrap_pyfunction!(calls::landscape, m)?)?;
    m.add_function(wrap_pyfunction!(calls::exact_landscape, m)?)?;
    m.add_function(wrap_pyfunction!(calls::bifurcate, m)?)?;
    m.add_function(wrap_pyfunction!(calls::hopfield, m)?)?;
    m.add_function(wrap_pyfunction!(calls::classify, m)?)?;
    m.add_function(wrap_pyfunction!(calls::capacities, m)?)?;
    m.add_function(wrap_pyfunction!(calls::load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(calls::training_set, m)?)?;
    m.add_function(wrap_pyfunction!(studies::defaults, m)?)?;
    m.add_function(wrap_pyfunction!(studies::map, m)?)?;
    m.add_function(wrap_pyfunction!(studies::dynamics, m)?)?;
    m.add_function(wrap_pyfunction!(studies::set_progress, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_status, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_collect, m)?)?;
    Ok(())
}
