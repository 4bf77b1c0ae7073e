//! Running cells: one cell's work, a local pool, and the share of a Slurm array task.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use memscape::dataset::Patterns;
use memscape::denoiser::TrainedModel;
use memscape::pipeline::{MapPlan, MapPoint, MapRow};
use memscape::store::RunDir;
use memscape_train::dynamics::{DynamicsPlan, DynamicsUnit};
use memscape_train::{NetworkTrainer, ScoreModel};

use crate::error::{Result, SweepError};
use crate::spec::{Cell, Spec, Work};
use crate::store::{LEASE_S, Outcome, Store, worker_name};

/// The files of a map cell, in `cells/<id>/` beside the store.
pub const POINT_FILE: &str = "point.json";
pub const SAMPLES_FILE: &str = "samples.npy";
pub const ATTRACTORS_FILE: &str = "attractors.npy";
pub const MODEL_FILE: &str = "model.safetensors";
/// A dynamics cell's file: its [`DynamicsUnit`] as JSON.
pub const UNIT_FILE: &str = "unit.json";

/// A sweep's folder: `sweep.db`, `cells/`, `tasks/`, `slurm/`, `collect/`.
#[derive(Debug, Clone)]
pub struct SweepDir {
    pub path: PathBuf,
}

impl SweepDir {
    /// The folder of a spec's sweep when none is given: `runs/sweep-<spec file stem>`.
    pub fn default_for(spec: &Path) -> PathBuf {
        let stem = spec
            .file_stem()
            .map_or("spec".into(), |s| s.to_string_lossy().to_string());
        PathBuf::from("runs").join(format!("sweep-{stem}"))
    }

    pub fn new(path: impl Into<PathBuf>) -> Self {
        SweepDir { path: path.into() }
    }

    pub fn store_path(&self) -> PathBuf {
        self.path.join("sweep.db")
    }

    pub fn cell_dir(&self, id: &str) -> PathBuf {
        self.path.join("cells").join(id)
    }

    pub fn tasks_dir(&self) -> PathBuf {
        self.path.join("tasks")
    }

    /// Opens the sweep's store and merges every array task's store into it.
    pub fn open(&self) -> Result<Store> {
        std::fs::create_dir_all(&self.path).map_err(|e| SweepError::store(&self.path, e))?;
        let store = Store::open(&self.store_path())?;
        if let Ok(entries) = std::fs::read_dir(self.tasks_dir()) {
            let mut tasks: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "db"))
                .collect();
            tasks.sort();
            for t in tasks {
                store.merge(&t)?;
            }
        }
        Ok(store)
    }
}

/// Computes cells, on the datasets their spec loaded.
pub struct CellRunner {
    dir: SweepDir,
    pools: HashMap<String, Arc<Patterns>>,
}

/// What a finished cell left: its results for the store (without timings), its compute
/// time, and its files.
struct Computed {
    results: String,
    seconds: f64,
    files: Vec<String>,
}

impl CellRunner {
    /// A runner for the cells of `spec`.
    pub fn new(dir: SweepDir, spec: &Spec) -> Self {
        CellRunner {
            dir,
            pools: spec.pools.clone(),
        }
    }

    /// The dataset of `cell` (one of the runner's spec).
    pub fn pool(&self, cell: &Cell) -> Result<Arc<Patterns>> {
        self.pools.get(&cell.data).cloned().ok_or_else(|| {
            memscape::Error::invalid(
                "cell",
                "a cell of the runner's spec",
                format!("{} on data {:?}", cell.id, cell.data),
            )
            .into()
        })
    }

    /// Runs one cell and writes its files; the outcome is what the store records. An
    /// interrupt ([`memscape::progress::interrupt`]) unwinds through it unrecorded.
    pub fn run(&self, cell: &Cell) -> Outcome {
        let clock = Instant::now();
        let computed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compute(cell)))
                .unwrap_or_else(|panic| {
                    if panic.is::<memscape::progress::Interrupted>() {
                        std::panic::resume_unwind(panic);
                    }
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(memscape::Error::invalid("cell", "computed without a panic", what).into())
                });
        match computed {
            Ok(c) => Outcome::Done {
                results: c.results,
                files: c.files,
                seconds: c.seconds,
            },
            Err(e) => Outcome::Failed {
                error: e.to_string(),
                seconds: clock.elapsed().as_secs_f64(),
            },
        }
    }

    fn compute(&self, cell: &Cell) -> Result<Computed> {
        let clock = Instant::now();
        let pool = self.pool(cell)?;
        // a cell's folder is its own: whatever an interrupted attempt left there goes
        let folder = self.dir.cell_dir(&cell.id);
        if folder.is_dir() {
            std::fs::remove_dir_all(&folder).map_err(|source| memscape::Error::Io {
                path: folder.clone(),
                source,
            })?;
        }
        let out = RunDir::create(folder)?;
        let rel = |name: &str| format!("cells/{}/{name}", cell.id);
        let mut files = vec![];
        match &cell.config.work {
            Work::Map { request, train } => {
                let plan = MapPlan::with_pool(request.clone(), pool)?;
                let point = match train {
                    None => plan.measure_exact(cell.k)?,
                    Some(config) => {
                        let saving = Saving {
                            trainer: NetworkTrainer {
                                config: config.clone(),
                            },
                            path: out.path().join(MODEL_FILE),
                        };
                        files.push(rel(MODEL_FILE));
                        plan.measure_trained(cell.k, &saving)?
                    }
                };
                out.write_npy(SAMPLES_FILE, &point.samples)?;
                out.write_npy(ATTRACTORS_FILE, &point.attractors)?;
                out.write_json(POINT_FILE, &point)?;
                files.extend([rel(SAMPLES_FILE), rel(ATTRACTORS_FILE), rel(POINT_FILE)]);
                let row = MapRow {
                    seconds: 0.0,
                    ..point.row
                };
                Ok(Computed {
                    results: serde_json::to_string(&row).expect("a row serialises"),
                    seconds: point.row.seconds,
                    files,
                })
            }
            Work::Dynamics { request } => {
                let plan = DynamicsPlan::with_pool(request.clone(), pool)?;
                let unit = plan.unit(cell.k, cell.seed, None, |_, _, _, _| Ok(()))?;
                out.write_json(UNIT_FILE, &unit)?;
                files.push(rel(UNIT_FILE));
                Ok(Computed {
                    results: serde_json::to_string(&unit.rows).expect("rows serialise"),
                    seconds: clock.elapsed().as_secs_f64(),
                    files,
                })
            }
        }
    }

    /// A finished dynamics cell's unit, read back from its file.
    pub fn load_unit(&self, cell: &Cell) -> Result<DynamicsUnit> {
        let path = self.dir.cell_dir(&cell.id).join(UNIT_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| memscape::Error::file(&path, e.to_string()))?;
        Ok(serde_json::from_str(&text).map_err(|e| memscape::Error::file(&path, e.to_string()))?)
    }

    /// A finished cell's point, read back from its files.
    pub fn load_point(&self, cell: &Cell) -> Result<MapPoint> {
        let dir = self.dir.cell_dir(&cell.id);
        let read = |name: &str| dir.join(name);
        let text = std::fs::read_to_string(read(POINT_FILE))
            .map_err(|e| memscape::Error::file(read(POINT_FILE), e.to_string()))?;
        let mut point: MapPoint = serde_json::from_str(&text)
            .map_err(|e| memscape::Error::file(read(POINT_FILE), e.to_string()))?;
        point.samples = memscape::dataset::files::read_points(&read(SAMPLES_FILE), None)?;
        point.attractors = memscape::dataset::files::read_points(&read(ATTRACTORS_FILE), None)?;
        Ok(point)
    }

    /// The trained network of a finished cell.
    pub fn load_model(&self, cell: &Cell) -> memscape::Result<ScoreModel> {
        Ok(ScoreModel::load(&self.dir.cell_dir(&cell.id).join(MODEL_FILE))?.0)
    }
}

/// A trainer that saves the network it fits (atomically) for `collect`'s landscapes.
struct Saving {
    trainer: NetworkTrainer,
    path: PathBuf,
}

impl TrainedModel for Saving {
    fn name(&self) -> &'static str {
        self.trainer.name()
    }

    fn fit(&self, train: &Patterns) -> memscape::Result<Box<dyn memscape::denoiser::Denoiser>> {
        let model = self.trainer.fit_model(train)?;
        let meta = model.meta(
            self.trainer.config.last_step(),
            self.trainer.config.ema.is_some(),
            self.trainer.config(),
        );
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        model.save(&tmp, &meta)?;
        std::fs::rename(&tmp, &self.path).map_err(|source| memscape::Error::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(Box::new(model))
    }

    fn config(&self) -> serde_json::Value {
        self.trainer.config()
    }
}

/// What a run of a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Cells of the spec.
    pub total: usize,
    /// Finished before this run, or by another worker during it.
    pub skipped: usize,
    /// Finished by this run; failed in this run (or by another worker during it).
    pub done: usize,
    pub failed: usize,
    /// Left to a queued or running Slurm array task.
    pub elsewhere: usize,
}

/// How often the store is told that in-flight cells are alive.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// How often the run looks for an interrupt while its cells compute.
const INTERRUPT_POLL: Duration = Duration::from_millis(100);

/// How often a run that has nothing left to claim looks at the cells other workers hold.
const LEASE_POLL: Duration = Duration::from_millis(500);

/// Runs the cells of `cells` not yet done in `store` on a pool of `jobs` threads, committing
/// each as it ends. A thread claims its cell in the store before computing it, so a cell another
/// live worker holds, or claims meanwhile, is left to it. When the pool has nothing left to
/// claim, the run waits for the cells other workers hold: it returns when each is done or
/// failed, and claims in another round each whose worker died or whose lease expired. The cells
/// in `held` (by Slurm arrays: [`crate::slurm::array_holds`]) are left alone.
pub fn run_cells(
    runner: &CellRunner,
    store: &Store,
    cells: &[&Cell],
    held: &HashSet<String>,
    jobs: usize,
) -> Result<Tally> {
    let records = store.records()?;
    let mut tally = Tally {
        total: cells.len(),
        ..Tally::default()
    };
    let mut todo = vec![];
    for &cell in cells {
        match records.get(&cell.id) {
            Some(r) if r.status == "done" => tally.skipped += 1,
            _ if held.contains(&cell.id) => tally.elsewhere += 1,
            _ => todo.push(cell),
        }
    }
    if todo.is_empty() {
        return Ok(tally);
    }
    let progress = memscape::progress::Task::start("sweep (cells)", todo.len() as u64);
    let worker = worker_name();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| memscape::Error::invalid("jobs", "a thread count the system allows", e))?;
    loop {
        let mut pending = run_round(runner, store, &todo, &pool, &worker, &mut tally, &progress)?;
        // the refused cells: done or failed by another worker, free again (their worker
        // died, or its lease expired: another round), or still leased (wait for them)
        loop {
            let records = store.records()?;
            let (mut free, mut leased) = (vec![], vec![]);
            for cell in pending {
                match records.get(&cell.id) {
                    Some(r) if r.status == "done" => tally.skipped += 1,
                    Some(r) if r.status == "failed" => tally.failed += 1,
                    Some(r) if r.in_flight() => {
                        leased.push(cell);
                        continue;
                    }
                    _ => {
                        free.push(cell);
                        continue;
                    }
                }
                progress.advance(1);
            }
            if !free.is_empty() {
                free.extend(leased);
                todo = free;
                break;
            }
            if leased.is_empty() {
                return Ok(tally);
            }
            std::thread::sleep(LEASE_POLL);
            memscape::progress::check_interrupt();
            pending = leased;
        }
    }
}

/// One pass of [`run_cells`] over `todo`; returns the cells whose claim was refused.
fn run_round<'c>(
    runner: &CellRunner,
    store: &Store,
    todo: &[&'c Cell],
    pool: &rayon::ThreadPool,
    worker: &str,
    tally: &mut Tally,
    progress: &memscape::progress::Task,
) -> Result<Vec<&'c Cell>> {
    enum Message {
        /// A thread asks to compute cell i; the store's answer goes back on the channel.
        Claim(usize, mpsc::Sender<bool>),
        Finished(usize, Outcome),
        /// Cell i stopped at an interrupt.
        Interrupted(usize),
    }
    let (send, receive) = mpsc::channel::<Message>();
    let mut in_flight: Vec<usize> = vec![];
    let mut refused = vec![];
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            pool.scope(|s| {
                for (i, &cell) in todo.iter().enumerate() {
                    let send = send.clone();
                    s.spawn(move |_| {
                        let (answer, granted) = mpsc::channel();
                        if send.send(Message::Claim(i, answer)).is_err()
                            || granted.recv() != Ok(true)
                        {
                            return;
                        }
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                runner.run(cell)
                            }));
                        let _ = send.send(match outcome {
                            Ok(outcome) => Message::Finished(i, outcome),
                            Err(_) => Message::Interrupted(i),
                        });
                    });
                }
            });
        });
        // after a store error every claim is refused, so that every job ends, and the error is
        // returned once the pool has drained
        // after an interrupt, likewise: the cells in flight stop at their next progress step
        // and are released to the next run, and the interrupt unwinds once the pool has drained
        let mut failure: Option<SweepError> = None;
        let mut stopping = false;
        let mut last_beat = Instant::now();
        let mut remaining = todo.len();
        while remaining > 0 {
            stopping |= memscape::progress::interrupted();
            match receive.recv_timeout(INTERRUPT_POLL) {
                Ok(Message::Claim(i, answer)) => {
                    let claimed = match failure {
                        None if !stopping => store.claim(todo[i], worker, LEASE_S),
                        _ => Ok(false),
                    };
                    let granted = matches!(claimed, Ok(true));
                    let _ = answer.send(granted);
                    match claimed {
                        Ok(true) => in_flight.push(i),
                        Ok(false) => {
                            refused.push(todo[i]);
                            remaining -= 1;
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                            remaining -= 1;
                        }
                    }
                }
                Ok(Message::Finished(i, outcome)) => {
                    if failure.is_none()
                        && let Err(e) = store.finish(&todo[i].id, worker, &outcome)
                    {
                        failure = Some(e);
                    }
                    in_flight.retain(|&j| j != i);
                    remaining -= 1;
                    match outcome {
                        Outcome::Done { .. } => tally.done += 1,
                        Outcome::Failed { .. } => tally.failed += 1,
                    }
                    progress.advance(1);
                }
                Ok(Message::Interrupted(i)) => {
                    stopping = true;
                    if failure.is_none()
                        && let Err(e) = store.release(&todo[i].id, worker)
                    {
                        failure = Some(e);
                    }
                    in_flight.retain(|&j| j != i);
                    remaining -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if failure.is_none() && last_beat.elapsed() >= HEARTBEAT {
                let ids: Vec<String> = in_flight.iter().map(|&i| todo[i].id.clone()).collect();
                if let Err(e) = store.heartbeat(&ids, worker, &memscape::progress::snapshot()) {
                    failure = Some(e);
                }
                last_beat = Instant::now();
            }
        }
        if stopping {
            memscape::progress::check_interrupt();
        }
        failure.map_or(Ok(()), Err)
    })?;
    Ok(refused)
}

/// Cells of each state, for `sweep status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub total: usize,
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    /// Never started, or left running by a worker that is gone.
    pub pending: usize,
    /// Of the pending: left running by a worker that is gone.
    pub stalled: usize,
    /// Of the pending: waiting in a queued or running Slurm array task.
    pub queued: usize,
    /// The failed cells' ids and errors.
    pub errors: Vec<(String, String)>,
    /// The running cells: id, worker, and its tasks' progress at the last heartbeat.
    pub in_flight: Vec<(String, String, String)>,
}

/// The state of every cell of `spec` in `store`; `held`: the cells Slurm arrays hold.
pub fn status(spec: &Spec, store: &Store, held: &HashSet<String>) -> Result<Status> {
    let records = store.records()?;
    let mut s = Status {
        total: spec.cells.len(),
        ..Status::default()
    };
    for cell in &spec.cells {
        match records.get(&cell.id) {
            None if held.contains(&cell.id) => {
                s.pending += 1;
                s.queued += 1;
            }
            None => s.pending += 1,
            Some(r) => match r.status.as_str() {
                "done" => s.done += 1,
                "failed" => {
                    s.failed += 1;
                    s.errors
                        .push((cell.id.clone(), r.error.clone().unwrap_or_default()));
                }
                _ if r.in_flight() => {
                    s.running += 1;
                    s.in_flight.push((
                        cell.id.clone(),
                        r.worker.clone(),
                        r.progress.clone().unwrap_or_default(),
                    ));
                }
                _ if held.contains(&cell.id) => {
                    s.pending += 1;
                    s.queued += 1;
                }
                _ => {
                    s.pending += 1;
                    s.stalled += 1;
                }
            },
        }
    }
    Ok(s)
}

/// The cells of `spec` by id.
pub fn by_id(spec: &Spec) -> HashMap<&str, &Cell> {
    spec.cells.iter().map(|c| (c.id.as_str(), c)).collect()
}

/// A path made absolute against the current folder.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that refuses writes under a running sweep (here: read-only) makes the run
    /// return the store's error, with every job of the pool ended; it hung, each job waiting
    /// for an answer to its claim.
    #[test]
    fn a_store_error_during_a_run_is_returned_not_hung() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::parse(
            Path::new("s.toml"),
            "[axes]\ndata = [\"circle:n=200\"]\nk = [2, 3, 4, 5]\n[map]\nn_samples = 10\n".into(),
        )
        .unwrap();
        let sweep = SweepDir::new(dir.path());
        let (send, receive) = mpsc::channel();
        let store_path = sweep.store_path();
        std::thread::spawn(move || {
            let store = Store::open(&store_path).unwrap();
            store
                .connection()
                .execute_batch("PRAGMA query_only = ON;")
                .unwrap();
            let runner = CellRunner::new(sweep, &spec);
            let cells: Vec<&Cell> = spec.cells.iter().collect();
            let r = run_cells(&runner, &store, &cells, &HashSet::new(), 2);
            let _ = send.send(r.map(|_| ()).map_err(|e| e.to_string()));
        });
        let r = receive
            .recv_timeout(Duration::from_secs(60))
            .expect("run_cells returns");
        let e = r.expect_err("the store refuses the claims");
        assert!(e.contains("s.db") || e.contains("sweep.db"), "{e}");
        assert!(e.contains("readonly") || e.contains("read-only"), "{e}");
    }
}
