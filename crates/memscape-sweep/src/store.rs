//! The sweep store: one SQLite file per sweep (`sweep.db`, WAL journal), and one per Slurm
//! array task (`tasks/*.db`, rollback journal, safe on network file systems), merged into the
//! sweep's store by every command that reads it.
//!
//! A finished cell is written in one transaction, after its arrays are in place beside the
//! store (written atomically by [`memscape::store::RunDir`]), so a `kill -9` at any moment
//! loses at most the cells in flight. A worker claims a cell in one write transaction and holds
//! it on a lease that its heartbeats extend, so two workers on one store never compute the same
//! cell and a dead worker's cells go to the next. The schema is in `docs/sweep-store.md`; bump
//! [`SCHEMA_VERSION`] when it changes and migrate the previous one (`migrate_1_to_2`); a
//! store of any other version is refused.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, SweepError};
use crate::spec::Cell;

/// The layout of the tables below.
pub const SCHEMA_VERSION: i64 = 2;

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
    git_revision     TEXT NOT NULL,
    expires_at       REAL
);
CREATE TABLE IF NOT EXISTS submitted (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,
    task         INTEGER NOT NULL,
    submitted_at REAL NOT NULL
);
";

/// Migrates a schema-1 store to schema 2 inside `tx`: the lease's end (`cells.expires_at`, a
/// running cell's heartbeat plus [`LEASE_S`]) and the table of Slurm submissions, which
/// [`SCHEMA`] creates as it creates whatever table is missing.
fn migrate_1_to_2(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute("ALTER TABLE cells ADD COLUMN expires_at REAL", [])?;
    tx.execute(
        "UPDATE cells SET expires_at = heartbeat + ?1 WHERE status = 'running'",
        [LEASE_S],
    )?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('migrated_from', '1')",
        [],
    )?;
    Ok(())
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long a claim on a cell lasts without a heartbeat (workers beat every 10 s). A running
/// cell whose lease has expired is stalled: its worker is gone, and the next worker claims it.
/// On the worker's own host a dead process is seen at once.
pub const LEASE_S: f64 = 120.0;

/// What the store holds of one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub status: String,
    pub attempts: i64,
    pub worker: String,
    pub heartbeat: f64,
    /// When the worker's lease on a running cell ends (Unix seconds).
    pub expires_at: Option<f64>,
    pub error: Option<String>,
    /// The worker's tasks in progress at its last heartbeat (running cells).
    pub progress: Option<String>,
}

/// The columns of a [`Record`], in [`Record::from_row`]'s order.
const RECORD_COLUMNS: &str = "id, status, attempts, worker, heartbeat, expires_at, error, progress";

impl Record {
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Record> {
        Ok(Record {
            id: r.get(0)?,
            status: r.get(1)?,
            attempts: r.get(2)?,
            worker: r.get(3)?,
            heartbeat: r.get(4)?,
            expires_at: r.get(5)?,
            error: r.get(6)?,
            progress: r.get(7)?,
        })
    }

    /// Whether a worker still holds this cell: it is running, its lease has not expired, and,
    /// on this host, its process is alive.
    pub fn in_flight(&self) -> bool {
        let expires = self.expires_at.unwrap_or(self.heartbeat + LEASE_S);
        self.status == "running" && now() < expires && process_alive(&self.worker)
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

/// Whether `worker`'s process may be alive: false only when it ran on this host and its
/// process is gone.
fn process_alive(worker: &str) -> bool {
    let head = worker.split(' ').next().unwrap_or("");
    match head.rsplit_once(':') {
        Some((host, pid)) if host == hostname() => {
            pid != "0" && Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}

/// The columns of `cells`, named (a migrated store holds them in another order).
const CELL_COLUMNS: &str = "id, status, data, k, seed, model, intervention, train_steps, config,
    results, files, seconds, error, attempts, worker, started_at, heartbeat, progress,
    finished_at, memscape_version, git_revision, expires_at";

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

/// How long a connection waits for another process's lock before it gives up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether SQLite refused because another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // SQLite answers a change of journal mode with "database is locked" without calling
        // the busy handler when another process holds the file (two sweeps started together
        // on one new store), so the change is retried here for as long as the busy timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match conn.query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| {
                r.get::<_, String>(0)
            }) {
                Ok(_) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) if is_busy(&e) => return Err(err(e)),
                Err(e) => {
                    return Err(SweepError::store(
                        path,
                        format!("not a memscape sweep store (SQLite: {e})"),
                    ));
                }
            }
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

    /// Creates the tables in a new store, migrates a store of the previous schema, and refuses
    /// a store of any other.
    fn check_version(&self) -> Result<()> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        // one write transaction: two processes opening one new (or old) store agree
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(err)?;
        let has_meta: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        if has_meta {
            let meta = |key: &str| -> Result<Option<String>> {
                tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()
                    .map_err(err)
            };
            let version = meta("schema_version")?;
            if version.as_deref() == Some("1") {
                migrate_1_to_2(&tx).map_err(err)?;
            } else if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
                return Err(SweepError::store(
                    &self.path,
                    format!(
                        "written with store schema {} by memscape {}; this memscape ({}) reads schemas 1 and {SCHEMA_VERSION}",
                        version.unwrap_or_else(|| "(none)".into()),
                        meta("memscape_version")?.unwrap_or_else(|| "(unknown)".into()),
                        memscape::store::VERSION,
                    ),
                ));
            }
            return tx.commit().map_err(err);
        }
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

    /// The connection, for tests that break the store under a running sweep.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
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
            .prepare(&format!("SELECT {RECORD_COLUMNS} FROM cells"))
            .map_err(err)?;
        let rows = stmt.query_map([], Record::from_row).map_err(err)?;
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

    /// Claims `cell` for `worker` on a lease of `lease_s` seconds, in one write transaction:
    /// false when it is done or another worker holds it; otherwise it is marked running (one
    /// more attempt) and true.
    pub fn claim(&self, cell: &Cell, worker: &str, lease_s: f64) -> Result<bool> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(err)?;
        let held = tx
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM cells WHERE id = ?1"),
                [&cell.id],
                Record::from_row,
            )
            .optional()
            .map_err(err)?
            .is_some_and(|r| r.status == "done" || (r.in_flight() && r.worker != worker));
        if held {
            return Ok(false);
        }
        let config = serde_json::to_string(&cell.config).expect("a configuration serialises");
        let t = now();
        tx.execute(
            "INSERT INTO cells (id, status, data, k, seed, model, intervention, train_steps,
                 config, attempts, worker, started_at, heartbeat, expires_at, memscape_version,
                 git_revision)
             VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?10, ?11, ?12, ?13)
             ON CONFLICT(id) DO UPDATE SET status = 'running', attempts = attempts + 1,
                 worker = excluded.worker, started_at = excluded.started_at,
                 heartbeat = excluded.heartbeat, expires_at = excluded.expires_at, error = NULL,
                 finished_at = NULL, progress = NULL",
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
                t + lease_s,
                memscape::store::VERSION,
                memscape::store::GIT_REVISION,
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// Records how `cell` ended on `worker`, in one transaction: only while `worker` holds
    /// it (a worker whose lease lapsed and whose cell another claimed writes nothing).
    pub fn finish(&self, id: &str, worker: &str, outcome: &Outcome) -> Result<()> {
        let t = now();
        let done = match outcome {
            Outcome::Done {
                results,
                files,
                seconds,
            } => self.conn.execute(
                "UPDATE cells SET status = 'done', results = ?3, files = ?4, seconds = ?5,
                     error = NULL, finished_at = ?6, heartbeat = ?6
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![
                    id,
                    worker,
                    results,
                    serde_json::to_string(files).expect("strings serialise"),
                    seconds,
                    t
                ],
            ),
            Outcome::Failed { error, seconds } => self.conn.execute(
                "UPDATE cells SET status = 'failed', error = ?3, seconds = ?4,
                     finished_at = ?5, heartbeat = ?5
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![id, worker, error, seconds, t],
            ),
        };
        done.map(|_| ())
            .map_err(|e| SweepError::store(&self.path, e))
    }

    /// Ends `worker`'s lease on `id` now, leaving the cell to the next run (a run that was
    /// interrupted: nothing of the cell is recorded).
    pub fn release(&self, id: &str, worker: &str) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "UPDATE cells SET heartbeat = ?3, expires_at = ?3, progress = 'interrupted'
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![id, worker, t],
            )
            .map(|_| ())
            .map_err(|e| SweepError::store(&self.path, e))
    }

    /// Tells readers that `worker` is still computing the cells in `ids`, and how far its
    /// tasks are (`progress`); their leases run [`LEASE_S`] from now.
    pub fn heartbeat(&self, ids: &[String], worker: &str, progress: &str) -> Result<()> {
        let t = now();
        for id in ids {
            self.conn
                .execute(
                    "UPDATE cells SET heartbeat = ?3, expires_at = ?4, progress = ?5
                     WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                    params![id, worker, t, t + LEASE_S, progress],
                )
                .map_err(|e| SweepError::store(&self.path, e))?;
        }
        Ok(())
    }

    /// Records that array `job_id` was given `tasks` (cell ids per array task).
    pub fn record_submission(&self, job_id: &str, tasks: &[Vec<String>]) -> Result<()> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        let t = now();
        for (task, ids) in tasks.iter().enumerate() {
            for id in ids {
                tx.execute(
                    "INSERT OR REPLACE INTO submitted (id, job_id, task, submitted_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, job_id, task as i64, t],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Forgets the submissions of `ids` (their array tasks have ended).
    pub fn forget_submissions(&self, ids: &[String]) -> Result<()> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        for id in ids {
            tx.execute("DELETE FROM submitted WHERE id = ?1", [id])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The cells submitted to Slurm arrays and not done: id → (job id, array task).
    pub fn submitted(&self) -> Result<std::collections::HashMap<String, (String, u64)>> {
        let err = |e: rusqlite::Error| SweepError::store(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.job_id, s.task FROM submitted s LEFT JOIN cells c ON c.id = s.id
                 WHERE c.status IS NULL OR c.status != 'done'",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get(1)?, r.get::<_, i64>(2)? as u64),
                ))
            })
            .map_err(err)?;
        rows.map(|r| r.map_err(err)).collect()
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
                &format!(
                    "INSERT INTO main.cells ({CELL_COLUMNS}) SELECT {CELL_COLUMNS} FROM task.cells
                     WHERE true ON CONFLICT(id) DO UPDATE SET
                     status = excluded.status, results = excluded.results,
                     files = excluded.files, seconds = excluded.seconds,
                     error = excluded.error, attempts = excluded.attempts,
                     worker = excluded.worker, started_at = excluded.started_at,
                     heartbeat = excluded.heartbeat, expires_at = excluded.expires_at,
                     progress = excluded.progress, finished_at = excluded.finished_at,
                     memscape_version = excluded.memscape_version,
                     git_revision = excluded.git_revision
                     WHERE main.cells.status != 'done' AND (excluded.status = 'done'
                         OR excluded.heartbeat > main.cells.heartbeat)"
                ),
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

    /// Claims `c` for `worker` with the usual lease, asserting it was granted.
    fn start(store: &Store, c: &Cell, worker: &str) {
        assert!(
            store.claim(c, worker, LEASE_S).unwrap(),
            "{worker} claims {}",
            c.id
        );
    }

    /// Many connections opening one new store at once all succeed (SQLite refuses a change
    /// of journal mode under another's lock without waiting; the open retries it).
    #[test]
    fn connections_opening_one_new_store_together_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20 {
            let path = dir.path().join(format!("s{round}.db"));
            let barrier = std::sync::Barrier::new(8);
            std::thread::scope(|scope| {
                let opened: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            Store::open(&path).map(|_| ())
                        })
                    })
                    .collect();
                for o in opened {
                    o.join().unwrap().unwrap();
                }
            });
        }
    }

    #[test]
    fn a_heartbeat_records_progress_and_finish_clears_the_cell_of_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = &cells()[0];
        start(&store, c, &worker_name());
        store
            .heartbeat(
                std::slice::from_ref(&c.id),
                &worker_name(),
                "training (steps) 3/10",
            )
            .unwrap();
        let r = &store.records().unwrap()[&c.id];
        assert_eq!(r.status, "running");
        assert!(r.in_flight(), "this process is alive");
        assert!(r.expires_at.unwrap() >= r.heartbeat + LEASE_S);
        assert_eq!(r.progress.as_deref(), Some("training (steps) 3/10"));
        store.finish(&c.id, &worker_name(), &done("{}")).unwrap();
        let r = &store.records().unwrap()[&c.id];
        assert_eq!((r.status.as_str(), r.attempts), ("done", 1));
        assert!(!r.in_flight());
        assert!(!store.claim(c, "elsewhere:1", LEASE_S).unwrap(), "done");
    }

    #[test]
    fn a_running_cell_of_a_dead_worker_on_this_host_is_claimed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = &cells()[0];
        // pid 0 is never a worker's
        start(&store, c, &format!("{}:0", hostname()));
        assert!(!store.records().unwrap()[&c.id].in_flight());
        start(&store, c, "elsewhere:1");
        assert_eq!(store.records().unwrap()[&c.id].attempts, 2);
    }

    /// A worker on another host holds its cell until its lease expires; then the next worker
    /// claims it (one more attempt).
    #[test]
    fn a_lease_holds_a_cell_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let [a, b] = [&cells()[0], &cells()[1]];
        start(&store, a, "elsewhere:1");
        assert!(store.records().unwrap()[&a.id].in_flight());
        assert!(!store.claim(a, "node:2", LEASE_S).unwrap(), "leased");
        assert!(store.claim(a, "elsewhere:1", LEASE_S).unwrap(), "its own");
        // a lease of 50 ms, and no heartbeat
        assert!(store.claim(b, "elsewhere:1", 0.05).unwrap());
        assert!(!store.claim(b, "node:2", LEASE_S).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!store.records().unwrap()[&b.id].in_flight(), "expired");
        assert!(store.claim(b, "node:2", LEASE_S).unwrap());
        let r = &store.records().unwrap()[&b.id];
        assert_eq!((r.worker.as_str(), r.attempts), ("node:2", 2));
    }

    /// A worker whose lease lapsed and whose cell another worker claimed writes nothing: its
    /// late outcome and heartbeat leave the new holder's row alone.
    #[test]
    fn a_worker_that_lost_its_lease_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = &cells()[0];
        assert!(store.claim(c, "slow:1", 0.0).unwrap());
        start(&store, c, "node:2");
        let failed = Outcome::Failed {
            error: "late".into(),
            seconds: 1.0,
        };
        store.finish(&c.id, "slow:1", &failed).unwrap();
        store
            .heartbeat(std::slice::from_ref(&c.id), "slow:1", "late")
            .unwrap();
        let r = &store.records().unwrap()[&c.id];
        assert_eq!(
            (r.status.as_str(), r.worker.as_str()),
            ("running", "node:2")
        );
        assert_eq!(r.progress, None);
        store.finish(&c.id, "node:2", &done("{}")).unwrap();
        store.finish(&c.id, "slow:1", &failed).unwrap();
        assert_eq!(store.records().unwrap()[&c.id].status, "done");
    }

    /// Eight connections race to claim each of two cells: exactly one wins each.
    #[test]
    fn concurrent_claims_grant_a_cell_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).unwrap());
        let cells = cells();
        let wins: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|w| {
                    let (path, cells) = (&path, &cells);
                    s.spawn(move || {
                        let store = Store::open(path).unwrap();
                        cells
                            .iter()
                            .filter(|c| store.claim(c, &format!("host{w}:1"), LEASE_S).unwrap())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(wins.iter().sum::<usize>(), cells.len(), "{wins:?}");
        let records = Store::open(&path).unwrap().records().unwrap();
        assert!(records.values().all(|r| r.attempts == 1));
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
        start(&main, a, "elsewhere:1");
        start(&task, a, "node:2");
        task.finish(&a.id, "node:2", &done("{\"from\":\"task\"}"))
            .unwrap();
        start(&main, b, "elsewhere:1");
        main.finish(&b.id, "elsewhere:1", &done("{\"from\":\"main\"}"))
            .unwrap();
        start(&task, b, "node:2");
        task.finish(
            &b.id,
            "node:2",
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
