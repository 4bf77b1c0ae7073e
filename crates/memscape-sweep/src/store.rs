//! The sweep store: one SQLite file per sweep (`sweep.db`, WAL journal), and one per Slurm
//! array task (`tasks/*.db`, rollback journal, safe on network file systems), merged into the
//! sweep's store by every command that reads it.
//!
//! A finished cell is written in one transaction, after its arrays are in place beside the
//! store (written atomically by [`memscape::store::RunDir`]), so a `kill -9` at any moment
//! loses at most the cells in flight. The schema is in `docs/sweep-store.md`; bump
//! [`SCHEMA_VERSION`] when it changes, and a store of another version is refused.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, SweepError};
use crate::spec::Cell;

/// The layout of the tables below.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    data             TEXT NOT NULL,
    k                INTEGER NOT NULL,
    seed             INTEGER NOT NULL,
    model            TEXT NOT NULL,
    intervention     TEXT,
    train_steps      INTEGER,
    config           TEXT NOT NULL,
    results          TEXT,
    files            TEXT,
    seconds          REAL,
    error            TEXT,
    attempts         INTEGER NOT NULL,
    worker           TEXT NOT NULL,
    started_at       REAL NOT NULL,
    heartbeat        REAL NOT NULL,
    progress         TEXT,
    finished_at      REAL,
    memscape_version TEXT NOT NULL,
    git_revision     TEXT NOT NULL
);
";

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A running cell whose worker has not written for this long counts as stalled (its worker
/// is gone) when the worker is on another host; on this host a dead process is seen at once.
pub const STALL_S: f64 = 120.0;

/// What the store holds of one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub status: String,
    pub attempts: i64,
    pub worker: String,
    pub heartbeat: f64,
    pub error: Option<String>,
    /// The worker's tasks in progress at its last heartbeat (running cells).
    pub progress: Option<String>,
}

impl Record {
    /// Whether a worker is still computing this cell: it is running, and its process is alive
    /// (same host) or wrote within [`STALL_S`] (another host).
    pub fn in_flight(&self) -> bool {
        self.status == "running" && worker_alive(&self.worker, self.heartbeat)
    }
}

/// This process as a worker: `host:pid`, with the Slurm job and task when there is one.
pub fn worker_name() -> String {
    let host = hostname();
    let pid = std::process::id();
    match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(job), Ok(task)) => format!("{host}:{pid} slurm {job}_{task}"),
        _ => format!("{host}:{pid}"),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

fn worker_alive(worker: &str, heartbeat: f64) -> bool {
    let head = worker.split(' ').next().unwrap_or("");
    match head.rsplit_once(':') {
        Some((host, pid)) if host == hostname() => {
            Path::new(&format!("/proc/{pid}")).exists() && pid != "0"
        }
        _ => now() - heartbeat < STALL_S,
    }
}

/// How a cell ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Done {
        /// The cell's row as JSON (its `seconds` set to 0: timings live in `seconds`).
        results: String,
        /// Files beside the store, relative to its folder.
        files: Vec<String>,
        seconds: f64,
    },
    Failed {
        error: String,
        seconds: f64,
    },
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens or creates the sweep's store (WAL journal).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, "WAL")
    }

    /// Opens or creates an array task's store (rollback journal: one writer, any file system).
    pub fn open_task(path: &Path) -> Result<Self> {
        Self::open_with(path, "DELETE")
    }

    fn open_with(path: &Path, journal: &str) -> Result<Self> {
        let err = |e: rusqlite::Error| SweepError::store(path, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SweepError::store(dir, e))?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))
            .map_err(err)?;
        let is_sqlite: std::result::Result<String, _> =
            conn.query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| {
                r.get(0)
            });
        if let Err(e) = is_sqlite {
            return Err(SweepError::store(
                path,
                format!("not a memscape sweep store (SQLite: {e})"),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(err)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.check_version()?;
        Ok(store)
    }

    /// Creates the tables in a new store; refuses a store of another schema.
    fn check_version(&self) -> Result<()> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let has_meta: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        if has_meta {
            let meta = |key: &str| -> Result<Option<String>> {
                self.conn
                    .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()
                    .map_err(err)
            };
            let version = meta("schema_version")?;
            if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
                return Err(SweepError::store(
                    &self.path,
                    format!(
                        "written with store schema {} by memscape {}; this memscape ({}) reads schema {SCHEMA_VERSION} only",
                        version.unwrap_or_else(|| "(none)".into()),
                        meta("memscape_version")?.unwrap_or_else(|| "(unknown)".into()),
                        memscape::store::VERSION,
                    ),
                ));
            }
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        tx.execute_batch(SCHEMA).map_err(err)?;
        for (key, value) in [
            ("schema_version", SCHEMA_VERSION.to_string()),
            ("memscape_version", memscape::store::VERSION.to_string()),
            ("git_revision", memscape::store::GIT_REVISION.to_string()),
            ("created_at", now().to_string()),
        ] {
            tx.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the spec's text in `meta` (the last one run against this store).
    pub fn set_spec(&self, text: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('spec', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [text],
            )
            .map(|_| ())
            .map_err(|e| SweepError::store(&self.path, e))
    }

    /// Every cell the store holds.
    pub fn records(&self) -> Result<std::collections::HashMap<String, Record>> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT id, status, attempts, worker, heartbeat, error, progress FROM cells")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Record {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    attempts: r.get(2)?,
                    worker: r.get(3)?,
                    heartbeat: r.get(4)?,
                    error: r.get(5)?,
                    progress: r.get(6)?,
                })
            })
            .map_err(err)?;
        rows.map(|r| r.map(|r| (r.id.clone(), r)).map_err(err))
            .collect()
    }

    /// The row JSON and files of a finished cell.
    pub fn result(&self, id: &str) -> Result<Option<(String, Vec<String>, f64)>> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let row: Option<(String, String, f64)> = self
            .conn
            .query_row(
                "SELECT results, files, seconds FROM cells WHERE id = ?1 AND status = 'done'",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(err)?;
        row.map(|(results, files, seconds)| {
            let files: Vec<String> = serde_json::from_str(&files).map_err(|e| {
                SweepError::store(&self.path, format!("cell {id}: files column: {e}"))
            })?;
            Ok((results, files, seconds))
        })
        .transpose()
    }

    /// Marks `cell` as running on `worker` (one more attempt).
    pub fn start(&self, cell: &Cell, worker: &str) -> Result<()> {
        let config = serde_json::to_string(&cell.config).expect("a configuration serialises");
        let t = now();
        self.conn
            .execute(
                "INSERT INTO cells (id, status, data, k, seed, model, intervention, train_steps,
                     config, attempts, worker, started_at, heartbeat, memscape_version, git_revision)
                 VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?10, ?11, ?12)
                 ON CONFLICT(id) DO UPDATE SET status = 'running', attempts = attempts + 1,
                     worker = excluded.worker, started_at = excluded.started_at,
                     heartbeat = excluded.heartbeat, error = NULL, finished_at = NULL,
                     progress = NULL",
                params![
                    cell.id,
                    cell.data,
                    cell.k as i64,
                    cell.seed as i64,
                    cell.model,
                    cell.intervention,
                    cell.train_steps.map(|s| s as i64),
                    config,
                    worker,
                    t,
                    memscape::store::VERSION,
                    memscape::store::GIT_REVISION,
                ],
            )
            .map(|_| ())
            .map_err(|e| SweepError::store(&self.path, e))
    }

    /// Records how `cell` ended, in one transaction.
    pub fn finish(&self, id: &str, outcome: &Outcome) -> Result<()> {
        let t = now();
        let done = match outcome {
            Outcome::Done {
                results,
                files,
                seconds,
            } => self.conn.execute(
                "UPDATE cells SET status = 'done', results = ?2, files = ?3, seconds = ?4,
                     error = NULL, finished_at = ?5, heartbeat = ?5 WHERE id = ?1",
                params![
                    id,
                    results,
                    serde_json::to_string(files).expect("strings serialise"),
                    seconds,
                    t
                ],
            ),
            Outcome::Failed { error, seconds } => self.conn.execute(
                "UPDATE cells SET status = 'failed', error = ?2, seconds = ?3,
                     finished_at = ?4, heartbeat = ?4 WHERE id = ?1",
                params![id, error, seconds, t],
            ),
        };
        done.map(|_| ())
            .map_err(|e| SweepError::store(&self.path, e))
    }

    /// Tells readers the cells in `ids` are still being computed, and how far their worker's
    /// tasks are (`progress`).
    pub fn heartbeat(&self, ids: &[String], progress: &str) -> Result<()> {
        let t = now();
        for id in ids {
            self.conn
                .execute(
                    "UPDATE cells SET heartbeat = ?2, progress = ?3
                     WHERE id = ?1 AND status = 'running'",
                    params![id, t, progress],
                )
                .map_err(|e| SweepError::store(&self.path, e))?;
        }
        Ok(())
    }

    /// Merges an array task's store: a cell not done here takes the task's record when the
    /// task finished it or wrote later. Idempotent.
    pub fn merge(&self, task: &Path) -> Result<()> {
        // open it once as a store, so its version is checked
        drop(Store::open_task(task)?);
        let err = |e: rusqlite::Error| SweepError::store(task, e);
        self.conn
            .execute("ATTACH DATABASE ?1 AS task", [task.to_string_lossy()])
            .map_err(err)?;
        let merged = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO main.cells SELECT * FROM task.cells WHERE true
                 ON CONFLICT(id) DO UPDATE SET
                     status = excluded.status, results = excluded.results,
                     files = excluded.files, seconds = excluded.seconds,
                     error = excluded.error, attempts = excluded.attempts,
                     worker = excluded.worker, started_at = excluded.started_at,
                     heartbeat = excluded.heartbeat, progress = excluded.progress,
                     finished_at = excluded.finished_at,
                     memscape_version = excluded.memscape_version,
                     git_revision = excluded.git_revision
                 WHERE main.cells.status != 'done'
                     AND (excluded.status = 'done' OR excluded.heartbeat > main.cells.heartbeat)",
                [],
            )?;
            tx.commit()
        })();
        let detached = self.conn.execute("DETACH DATABASE task", []);
        merged.map_err(err)?;
        detached.map(|_| ()).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn cells() -> Vec<Cell> {
        let text = "[axes]\ndata = [\"circle:n=200\"]\nk = [2, 3]\n[map]\nn_samples = 10\n";
        Spec::parse(Path::new("test.toml"), text.into())
            .unwrap()
            .cells
    }

    fn done(results: &str) -> Outcome {
        Outcome::Done {
            results: results.into(),
            files: vec![],
            seconds: 1.0,
        }
    }

    #[test]
    fn a_heartbeat_records_progress_and_finish_clears_the_cell_of_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = &cells()[0];
        store.start(c, &worker_name()).unwrap();
        store
            .heartbeat(std::slice::from_ref(&c.id), "training (steps) 3/10")
            .unwrap();
        let r = &store.records().unwrap()[&c.id];
        assert_eq!(r.status, "running");
        assert!(r.in_flight(), "this process is alive");
        assert_eq!(r.progress.as_deref(), Some("training (steps) 3/10"));
        store.finish(&c.id, &done("{}")).unwrap();
        let r = &store.records().unwrap()[&c.id];
        assert_eq!((r.status.as_str(), r.attempts), ("done", 1));
        assert!(!r.in_flight());
    }

    #[test]
    fn a_running_cell_of_a_dead_worker_on_this_host_is_not_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = &cells()[0];
        // pid 0 is never a worker's
        store.start(c, &format!("{}:0", hostname())).unwrap();
        assert!(!store.records().unwrap()[&c.id].in_flight());
        // another host: alive while it wrote within STALL_S
        store.start(c, "elsewhere:1").unwrap();
        assert!(store.records().unwrap()[&c.id].in_flight());
    }

    /// Merging a task's store: a finished cell is taken, a finished cell here is kept, and a
    /// second merge changes nothing.
    #[test]
    fn merging_a_task_store_takes_its_finished_cells_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let main = Store::open(&dir.path().join("sweep.db")).unwrap();
        let task_path = dir.path().join("task.db");
        let task = Store::open_task(&task_path).unwrap();
        let [a, b] = [&cells()[0], &cells()[1]];
        // a: done in the task, running here; b: done here, failed later in the task
        main.start(a, "elsewhere:1").unwrap();
        task.start(a, "node:2").unwrap();
        task.finish(&a.id, &done("{\"from\":\"task\"}")).unwrap();
        main.start(b, "elsewhere:1").unwrap();
        main.finish(&b.id, &done("{\"from\":\"main\"}")).unwrap();
        task.start(b, "node:2").unwrap();
        task.finish(
            &b.id,
            &Outcome::Failed {
                error: "boom".into(),
                seconds: 0.0,
            },
        )
        .unwrap();
        drop(task);
        for _ in 0..2 {
            main.merge(&task_path).unwrap();
            let records = main.records().unwrap();
            assert_eq!(records[&a.id].status, "done");
            assert_eq!(
                main.result(&a.id).unwrap().unwrap().0,
                "{\"from\":\"task\"}"
            );
            assert_eq!(records[&b.id].status, "done");
            assert_eq!(
                main.result(&b.id).unwrap().unwrap().0,
                "{\"from\":\"main\"}"
            );
        }
    }
}
