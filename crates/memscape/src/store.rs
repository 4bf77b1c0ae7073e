//! Stage 7: the run directory. Every file is written to a temporary sibling and renamed into
//! place, so a file is either its old self or complete, never half-written, and a failed run
//! loses nothing already there.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{ArrayBase, Data, Dimension};
use ndarray_npy::WriteNpyExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The library version and the git revision it was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = env!("MEMSCAPE_GIT_REVISION");

/// `value` as JSON with every object's keys sorted (serde_json's maps are sorted), whatever
/// the order of its struct's fields: the form `attractors.json`, `bifurcations.json`,
/// `cusps.json` and a dynamics study's `results.json` have always been written in (a map's
/// `results.json` and every `manifest.json` keep their structs' order).
pub fn sorted_json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("a run's documents serialise")
}

/// A CSV table built row by row and written through `csv::Writer`, which quotes a field where
/// it needs it. Fields are text: numbers as Rust's `Display` writes them ([`crate::numbers::field`] for an
/// optional one), so every table of a run reads the same way.
pub struct CsvTable(csv::Writer<Vec<u8>>);

impl CsvTable {
    /// A table with the comma-separated column names of `header`.
    pub fn new(header: &str) -> Self {
        let mut table = CsvTable(csv::Writer::from_writer(vec![]));
        table.row(header.split(','));
        table
    }

    /// The text of a table of `rows` under `header`.
    pub fn of<R, S>(header: &str, rows: impl IntoIterator<Item = R>) -> String
    where
        R: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut table = CsvTable::new(header);
        for row in rows {
            table.row(row);
        }
        table.into_string()
    }

    /// Appends one row.
    pub fn row<S: AsRef<[u8]>>(&mut self, fields: impl IntoIterator<Item = S>) {
        self.0
            .write_record(fields)
            .expect("a CSV row into memory cannot fail");
    }

    /// The table's text so far; more rows may follow.
    pub fn text(&mut self) -> String {
        self.0.flush().expect("a CSV table in memory flushes");
        String::from_utf8(self.0.get_ref().clone()).expect("CSV of UTF-8 fields")
    }

    /// The table's text.
    pub fn into_string(self) -> String {
        let bytes = self.0.into_inner().expect("a CSV table in memory flushes");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields")
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::file(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// A run directory (`--out`). Each file of a run is written once: the names written through
/// it (and its clones) are kept, and a second write of one name is a bug that debug builds,
/// and so the tests, stop at.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    /// Each name written through this run, and whether it is rewritten as the run goes.
    written: std::sync::Arc<std::sync::Mutex<BTreeMap<String, bool>>>,
}

impl RunDir {
    /// Opens `path`, creating it (and its parents) if needed.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if path.exists() && !path.is_dir() {
            return Err(Error::file(
                &path,
                "the output folder must be a directory, and this is a file",
            ));
        }
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(RunDir {
            path,
            written: Default::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes an array as `.npy` (f64, C order).
    pub fn write_npy<S, D>(&self, name: &str, array: &ArrayBase<S, D>) -> Result<PathBuf>
    where
        S: Data<Elem = f64>,
        D: Dimension,
    {
        let mut bytes = Vec::new();
        array
            .write_npy(&mut bytes)
            .map_err(|e| Error::file(self.path.join(name), e.to_string()))?;
        self.write_bytes(name, &bytes)
    }

    /// Writes a value as pretty JSON.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<PathBuf> {
        let mut text = serde_json::to_string_pretty(value).expect("serialisable");
        text.push('\n');
        self.write_bytes(name, text.as_bytes())
    }

    /// Writes a file that the run rewrites as it goes (a table that grows with the
    /// checkpoints, so an interrupted run keeps it); the only kind written more than once.
    pub fn rewrite_bytes(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        self.record(name, true);
        self.write_file(name, bytes)
    }

    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        self.record(name, false);
        self.write_file(name, bytes)
    }

    /// Notes a write of `name`; debug builds stop at a second write of a file written once,
    /// and at a name written both ways.
    fn record(&self, name: &str, rewritten: bool) {
        let before = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), rewritten);
        debug_assert!(
            before.is_none() || (rewritten && before == Some(true)),
            "{name} written twice in one run of {:?}",
            self.path
        );
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let p = self.path.join(name);
        write_atomic(&p, bytes)?;
        Ok(p)
    }
}

/// Provenance of a run: `manifest.json`. Fields a stored manifest lacks read as empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// The command line as run.
    pub command: Vec<String>,
    pub version: String,
    pub git_revision: String,
    /// The resolved configuration: every default filled in.
    pub config: serde_json::Value,
    pub seeds: BTreeMap<String, u64>,
    /// Wall-clock seconds per stage.
    pub timings: BTreeMap<String, f64>,
    /// Files of the run, relative to its folder.
    pub files: Vec<String>,
    pub conventions: String,
    pub threads: usize,
}

impl Manifest {
    pub fn new(command: Vec<String>, config: serde_json::Value) -> Self {
        Manifest {
            command,
            version: VERSION.into(),
            git_revision: GIT_REVISION.into(),
            config,
            seeds: BTreeMap::new(),
            timings: BTreeMap::new(),
            files: Vec::new(),
            conventions: "sigma: noise level in data units; beta = 1/sigma^2 (Ramsauer, weights softmax(-beta|x-xi|^2/2)); VP states are VE states of y = x/sqrt(alpha_bar)".into(),
            threads: rayon::current_num_threads(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second write of one name in one run stops debug builds, and so every test that runs
    /// a command; a file rewritten on purpose as a run goes uses `rewrite_bytes`.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "x.json written twice in one run")]
    fn a_file_written_twice_in_one_run_stops_debug_builds() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        run.write_json("x.json", &1).unwrap();
        run.clone().write_json("x.json", &2).unwrap();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "x.csv written twice in one run")]
    fn a_file_written_once_may_not_be_rewritten_too() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        run.write_bytes("x.csv", b"1").unwrap();
        run.rewrite_bytes("x.csv", b"2").unwrap();
    }

    #[test]
    fn a_progress_file_may_be_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        run.rewrite_bytes("evals.csv", b"1").unwrap();
        let p = run.rewrite_bytes("evals.csv", b"12").unwrap();
        assert_eq!(std::fs::read(p).unwrap(), b"12");
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path().join("a/b")).unwrap();
        let p = run
            .write_json("x.json", &serde_json::json!({"v": 1}))
            .unwrap();
        write_atomic(&p, b"{\"v\": 2}").unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().contains("\"v\": 2"));
        let leftovers: Vec<_> = std::fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(
            RunDir::create(dir.path().join("file"))
                .unwrap_err()
                .to_string()
                .contains("must be a directory")
        );
    }
}
