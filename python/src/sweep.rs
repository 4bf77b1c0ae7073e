//! Sweeps from Python: run a spec's cells here, read its status, collect its run directories,
//! in the folder `memscape sweep` uses (`out`, else `runs/sweep-<spec stem>`), so that both see
//! one store.

use std::path::{Path, PathBuf};

use memscape_sweep::collect::write_collection;
use memscape_sweep::error::SweepError;
use memscape_sweep::run::{CellRunner, SweepDir, run_cells, status};
use memscape_sweep::slurm::array_holds;
use memscape_sweep::spec::{Cell, Spec};
use memscape_sweep::store::Store;
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;

use crate::{count, interruptible, json};
use memscape::store::sorted_json;

/// A sweep error as the Python exception of its kind, with the library's one line.
fn sweep_err(e: SweepError) -> PyErr {
    match e {
        SweepError::Memscape(e) => crate::py_err(e),
        SweepError::Spec { ref path, .. } if !path.exists() => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        other => PyValueError::new_err(other.to_string()),
    }
}

/// The spec, its sweep's folder and store.
fn open(spec: &Path, out: Option<PathBuf>) -> Result<(Spec, SweepDir, Store), SweepError> {
    let parsed = Spec::read(spec)?;
    let dir = SweepDir::new(out.unwrap_or_else(|| SweepDir::default_for(spec)));
    let store = dir.open()?;
    Ok((parsed, dir, store))
}

/// Runs the spec's cells not yet done here, `jobs` at once; the sweep's status as JSON. Ctrl-C
/// stops it: no more cells are claimed, the cells in flight stop at their next progress step and
/// are released to the next run unrecorded (their folders are rewritten when they run again),
/// and `KeyboardInterrupt` is raised.
#[pyfunction]
#[pyo3(signature = (spec, *, out, jobs))]
pub(crate) fn sweep_run(
    py: Python<'_>,
    spec: PathBuf,
    out: Option<PathBuf>,
    jobs: Option<i64>,
) -> PyResult<String> {
    let jobs = match jobs {
        Some(j) => count("jobs", j, 1)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    interruptible(py, || -> Result<String, SweepError> {
        let (spec, dir, store) = open(&spec, out)?;
        store.set_spec(&spec.text)?;
        let held = array_holds(&store)?.cells;
        let runner = CellRunner::new(dir.clone(), &spec);
        let cells: Vec<&Cell> = spec.cells.iter().collect();
        run_cells(&runner, &store, &cells, &held, jobs)?;
        Ok(json(&status(&spec, &store, &held)?))
    })?
    .map_err(sweep_err)
}

/// The sweep's status as JSON: cells done, running, failed, pending, and the errors.
#[pyfunction]
#[pyo3(signature = (spec, *, out))]
pub(crate) fn sweep_status(spec: PathBuf, out: Option<PathBuf>) -> PyResult<String> {
    (|| -> Result<String, SweepError> {
        let (spec, _, store) = open(&spec, out)?;
        let held = array_holds(&store)?.cells;
        Ok(json(&status(&spec, &store, &held)?))
    })()
    .map_err(sweep_err)
}

/// Collects the sweep's finished cells into run directories under its folder's `collect/`;
/// `collect.json`'s document as JSON.
#[pyfunction]
#[pyo3(signature = (spec, *, out, command))]
pub(crate) fn sweep_collect(
    py: Python<'_>,
    spec: PathBuf,
    out: Option<PathBuf>,
    command: Vec<String>,
) -> PyResult<String> {
    interruptible(py, || -> Result<String, SweepError> {
        let (spec, dir, store) = open(&spec, out)?;
        let (_, summary) = write_collection(&spec, &dir, &store, command, |_| {})?;
        Ok(json(&sorted_json(&summary)))
    })?
    .map_err(sweep_err)
}
