//! Reads a memscape run directory, never recomputing anything: the manifest and the arrays and
//! tables beside it. A missing or corrupt file is reported by name, and the rest stays readable,
//! so a report can draw what is there and say what is not. It also writes a study's whole run
//! directory from results the library has computed ([`write_map`], [`write_dynamics`]): their
//! documents, then the figures and the report drawn from what was written.

mod attractors;
mod bifurcation;
mod census;
mod dynamics;
mod embedding;
mod html;
mod images;
mod landscape;
mod phase;
mod rf;
mod trace;
mod write;

use std::path::{Path, PathBuf};

pub use bifurcation::bifurcation_figure;
pub use dynamics::dynamics_figure;
pub use embedding::embedding_figure;
pub use html::{Report, report, write_report};
pub use images::image_grid_figure;
pub use landscape::landscape_figures;
pub use phase::phase_figure;
pub use rf::rf_figures;
pub use trace::trace_figure;
pub use write::{WriteError, write_dynamics, write_map};

use memscape::pipeline::{ExactDocument, MapResults, TrainedDocument};
use memscape::store::Manifest;
use memscape_train::dynamics::DynamicsResults;
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;

/// Draws every figure of a `map` run (phase diagram, embeddings, image grids) or a `dynamics`
/// run (the (K, step) map, image grids) from its tables and arrays; other runs draw their own.
/// Returns the files written.
pub fn run_figures(dir: &Path) -> Result<Vec<String>, RunFileError> {
    let mut figures = match RunReader::open(dir)?.results()? {
        Some(Results::Map(_)) => {
            let mut f = phase_figure(dir)?;
            f.extend(census::census_figure(dir)?);
            f.extend(embedding_figure(dir)?);
            f
        }
        Some(Results::Dynamics(_)) => {
            let mut f = dynamics_figure(dir)?;
            f.extend(attractors::attractor_figures(dir)?);
            f
        }
        None => return Ok(vec![]),
    };
    figures.extend(image_grid_figure(dir)?);
    Ok(figures)
}

/// A problem with one file of a run directory.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    #[error("{}: missing", path.display())]
    Missing { path: PathBuf },
    #[error("{}: corrupt ({reason})", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

/// A run's `results.json`: a phase map's or a dynamics study's.
#[derive(Debug, Clone)]
pub enum Results {
    Map(Box<MapResults>),
    Dynamics(Box<DynamicsResults>),
}

/// A run's `attractors.json`: an exact landscape's, or a trained network's census.
#[derive(Debug, Clone)]
pub enum Attractors {
    Exact(Box<ExactDocument>),
    Trained(Box<TrainedDocument>),
}

/// Which document a run's `results.json` or `attractors.json` is, from the keys only it has.
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(default)]
    capacities: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    tau_mem: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    model: Option<String>,
}

/// `value` as a run's documents write it (`null` for none or NaN).
pub(crate) fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("a document's field serialises")
}

/// The name serde gives a unit variant ("off_support").
pub(crate) fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_string(),
    }
}

/// A run directory opened for reading.
#[derive(Debug, Clone)]
pub struct RunReader {
    dir: PathBuf,
}

/// One listed file's state: an array's shape, `None` for other files, or why it did not read.
pub type FileState = Result<Option<Vec<usize>>, RunFileError>;

/// What a run directory holds: its manifest (when readable) and each listed file's state.
#[derive(Debug)]
pub struct RunInventory {
    pub manifest: Result<Manifest, RunFileError>,
    pub files: Vec<(String, FileState)>,
}

impl RunReader {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RunFileError> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(RunFileError::Missing { path: dir });
        }
        Ok(RunReader { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf, RunFileError> {
        let p = self.dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(RunFileError::Missing { path: p })
        }
    }

    /// Parses a JSON file of the run.
    pub fn json(&self, name: &str) -> Result<serde_json::Value, RunFileError> {
        self.document(name)
    }

    /// `results.json` as the document it is (`None`: neither a map's nor a dynamics study's).
    pub fn results(&self) -> Result<Option<Results>, RunFileError> {
        let value = self.json("results.json")?;
        let probe: Probe = self.typed("results.json", value.clone())?;
        Ok(if probe.capacities.is_some() {
            Some(Results::Map(self.typed("results.json", value)?))
        } else if probe.tau_mem.is_some() {
            Some(Results::Dynamics(self.typed("results.json", value)?))
        } else {
            None
        })
    }

    /// `attractors.json` as the document it is.
    pub fn attractors(&self) -> Result<Attractors, RunFileError> {
        let value = self.json("attractors.json")?;
        let probe: Probe = self.typed("attractors.json", value.clone())?;
        Ok(if probe.model.as_deref() == Some("trained") {
            Attractors::Trained(self.typed("attractors.json", value)?)
        } else {
            Attractors::Exact(self.typed("attractors.json", value)?)
        })
    }

    /// `value`, read from the run's file `name`, as `T` (corrupt when it is not one).
    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        value: serde_json::Value,
    ) -> Result<T, RunFileError> {
        serde_json::from_value(value).map_err(|e| RunFileError::Corrupt {
            path: self.dir.join(name),
            reason: e.to_string(),
        })
    }

    /// Reads a JSON file of the run as the typed document `T` (a file that does not parse as
    /// `T` is corrupt).
    pub fn document<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, RunFileError> {
        let p = self.path(name)?;
        let text = std::fs::read_to_string(&p).map_err(|e| RunFileError::Corrupt {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| RunFileError::Corrupt {
            path: p,
            reason: e.to_string(),
        })
    }

    /// Reads an f64 `.npy` array of the run.
    pub fn array(&self, name: &str) -> Result<ArrayD<f64>, RunFileError> {
        let p = self.path(name)?;
        let f = std::fs::File::open(&p).map_err(|e| RunFileError::Corrupt {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        ArrayD::<f64>::read_npy(f).map_err(|e| RunFileError::Corrupt {
            path: p,
            reason: e.to_string(),
        })
    }

    /// The manifest and, for every file it lists, whether it reads (and an array's shape).
    pub fn inventory(&self) -> RunInventory {
        let manifest: Result<Manifest, RunFileError> = self.document("manifest.json");
        let names: Vec<String> = manifest
            .as_ref()
            .map(|m| m.files.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n != "manifest.json" && n != "report.html")
            .collect();
        let files = names
            .into_iter()
            .map(|name| {
                let state = if name.ends_with(".npy") {
                    self.array(&name).map(|a| Some(a.shape().to_vec()))
                } else if name.ends_with(".json") {
                    self.json(&name).map(|_| None)
                } else {
                    self.path(&name).map(|_| None)
                };
                (name, state)
            })
            .collect();
        RunInventory { manifest, files }
    }
}

impl RunInventory {
    /// Files that failed to read.
    pub fn problems(&self) -> Vec<&RunFileError> {
        self.manifest
            .as_ref()
            .err()
            .into_iter()
            .chain(self.files.iter().filter_map(|(_, s)| s.as_ref().err()))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// Every file is a drawn figure: SVGs start with `<svg` and hold shapes, PNGs decode and
    /// have more than 20 distinct colours (not blank).
    pub(crate) fn assert_drawn(dir: &std::path::Path, files: &[String]) {
        for f in files {
            let path = dir.join(f);
            if f.ends_with(".svg") {
                let svg = std::fs::read_to_string(&path).unwrap();
                assert!(
                    svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                    "{f}"
                );
                assert!(
                    svg.contains("<rect") || svg.contains("<path") || svg.contains("<polyline"),
                    "{f}"
                );
            } else {
                let png = image::open(&path).unwrap().to_rgb8();
                let distinct: std::collections::HashSet<[u8; 3]> =
                    png.pixels().map(|p| p.0).collect();
                assert!(distinct.len() > 20, "{f} is blank");
            }
        }
    }

    use super::*;
    use ndarray_npy::WriteNpyExt;

    #[test]
    fn inventory_names_missing_and_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("manifest.json"), r#"{"files": ["samples.npy", "train.npy", "broken.npy", "table.json", "manifest.json"]}"#).unwrap();
        ndarray::Array2::<f64>::zeros((3, 2))
            .write_npy(std::fs::File::create(d.join("samples.npy")).unwrap())
            .unwrap();
        std::fs::write(d.join("broken.npy"), b"\x93NUMPY garbage").unwrap();
        std::fs::write(d.join("table.json"), b"{\"a\": 1}").unwrap();
        let inv = RunReader::open(d).unwrap().inventory();
        assert!(inv.manifest.is_ok());
        assert_eq!(inv.files[0].0, "samples.npy");
        assert_eq!(inv.files[0].1.as_ref().unwrap(), &Some(vec![3, 2]));
        assert!(inv.files[3].1.is_ok(), "table.json reads");
        let problems: Vec<String> = inv.problems().iter().map(|e| e.to_string()).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].ends_with("train.npy: missing"), "{problems:?}");
        assert!(problems[1].contains("broken.npy: corrupt"), "{problems:?}");
        assert!(RunReader::open(d.join("nope")).is_err());
    }
}
