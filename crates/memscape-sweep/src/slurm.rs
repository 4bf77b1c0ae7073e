//! The same sweep as a Slurm job array: the cells not yet done are cut into shares of
//! `cells_per_task`, written to `slurm/<stamp>/assignment.json`; `job.sbatch` beside it runs
//! `memscape sweep run-cells` on share `$SLURM_ARRAY_TASK_ID`, which writes its own store
//! `tasks/<stamp>-<task>.db`. Every command that reads the sweep merges those stores.
//!
//! The store records which array task each submitted cell went to (`submitted`); while Slurm
//! lists that task as queued or running, the cell is held: a resubmission and a local run
//! leave it to the array.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SweepError};
use crate::run::{CellRunner, SweepDir, Tally, absolute, by_id, run_cells};
use crate::spec::{Cell, Spec};
use crate::store::Store;

/// How to submit.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// Wall-time limit per task, in Slurm's format (`HH:MM:SS`, `D-HH`, minutes).
    pub time: Option<String>,
    pub cells_per_task: usize,
    /// CPUs per task (each task runs its cells one after another on all of them).
    pub cpus_per_task: Option<usize>,
}

/// Which cells each array task runs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Assignment {
    pub spec: PathBuf,
    pub tasks: Vec<Vec<String>>,
}

/// A submitted array.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub job_id: String,
    pub tasks: usize,
    pub cells: usize,
    pub script: PathBuf,
}

/// Quotes `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The sbatch script of an array of `tasks` tasks running `exe` on `assignment`.
pub fn script(
    exe: &Path,
    dir: &Path,
    assignment: &Path,
    tasks: usize,
    options: &SlurmOptions,
) -> String {
    let logs = assignment
        .parent()
        .expect("in a folder")
        .join("task-%a.log");
    let mut s = format!(
        "#!/bin/bash\n#SBATCH --job-name=memscape-sweep\n#SBATCH --array=0-{}\n#SBATCH --output={}\n",
        tasks - 1,
        logs.display()
    );
    if let Some(p) = &options.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &options.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    if let Some(c) = options.cpus_per_task {
        s += &format!("#SBATCH --cpus-per-task={c}\n");
    }
    s += &format!(
        "exec {} sweep run-cells --out {} --assignment {} --task \"$SLURM_ARRAY_TASK_ID\"\n",
        quote(&exe.to_string_lossy()),
        quote(&dir.to_string_lossy()),
        quote(&assignment.to_string_lossy()),
    );
    s
}

/// The cells of a sweep that a queued or running Slurm array holds.
#[derive(Debug, Clone, Default)]
pub struct ArrayHolds {
    pub cells: HashSet<String>,
    /// Why Slurm could not be asked (`squeue` missing or failing); then no cell counts as held.
    pub unknown: Option<String>,
}

/// Asks Slurm (`squeue`) which of the cells `store` records as submitted, and not done, are in
/// an array task still queued or running, and forgets the submissions of the others. Slurm is
/// not asked when no such cell exists.
pub fn array_holds(store: &Store) -> Result<ArrayHolds> {
    let submitted = store.submitted()?;
    if submitted.is_empty() {
        return Ok(ArrayHolds::default());
    }
    let output = Command::new("squeue")
        .args(["--noheader", "--array", "--me", "--format", "%F %K"])
        .output();
    let unknown = |why: String| {
        Ok(ArrayHolds {
            cells: HashSet::new(),
            unknown: Some(why),
        })
    };
    let listed = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => {
            return unknown(format!(
                "squeue failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return unknown(format!("cannot run squeue: {e}")),
    };
    let live: HashSet<(String, u64)> = listed
        .lines()
        .filter_map(|line| {
            let (job, task) = line.trim().split_once(' ')?;
            Some((job.to_string(), task.trim().parse().ok()?))
        })
        .collect();
    // a submission whose array task Slurm no longer lists has ended: forget it
    let (held, ended): (Vec<_>, Vec<_>) =
        submitted.into_iter().partition(|(_, at)| live.contains(at));
    store.forget_submissions(&ended.into_iter().map(|(id, _)| id).collect::<Vec<_>>())?;
    Ok(ArrayHolds {
        cells: held.into_iter().map(|(id, _)| id).collect(),
        unknown: None,
    })
}

/// Writes the assignment and the script of the cells of `spec` not done in `store`, nor in
/// flight, nor `held` by an array, submits them with `sbatch`, and records them in the store;
/// `None` when nothing is left to do.
pub fn submit(
    spec: &Spec,
    dir: &SweepDir,
    store: &Store,
    held: &HashSet<String>,
    options: &SlurmOptions,
    exe: &Path,
) -> Result<Option<Submission>> {
    if options.cells_per_task == 0 {
        return Err(memscape::Error::invalid("cells_per_task", "≥ 1", 0).into());
    }
    let records = store.records()?;
    let todo: Vec<String> = spec
        .cells
        .iter()
        .filter(|c| {
            !held.contains(&c.id)
                && records
                    .get(&c.id)
                    .is_none_or(|r| r.status != "done" && !r.in_flight())
        })
        .map(|c| c.id.clone())
        .collect();
    if todo.is_empty() {
        return Ok(None);
    }
    let stamp = format!("{}-{}", crate::store::now() as u64, std::process::id());
    let folder = absolute(&dir.path).join("slurm").join(&stamp);
    std::fs::create_dir_all(&folder).map_err(|e| SweepError::store(&folder, e))?;
    let assignment = Assignment {
        spec: absolute(&spec.path),
        tasks: todo
            .chunks(options.cells_per_task)
            .map(|c| c.to_vec())
            .collect(),
    };
    let assignment_path = folder.join("assignment.json");
    memscape::store::write_atomic(
        &assignment_path,
        serde_json::to_string_pretty(&assignment)
            .expect("serialises")
            .as_bytes(),
    )?;
    let script_path = folder.join("job.sbatch");
    let text = script(
        exe,
        &absolute(&dir.path),
        &assignment_path,
        assignment.tasks.len(),
        options,
    );
    memscape::store::write_atomic(&script_path, text.as_bytes())?;
    let output = Command::new("sbatch")
        .arg("--parsable")
        .arg(&script_path)
        .output()
        .map_err(|e| SweepError::store(&script_path, format!("cannot run sbatch: {e}")))?;
    if !output.status.success() {
        return Err(SweepError::store(
            &script_path,
            format!(
                "sbatch failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
    store.record_submission(&job_id, &assignment.tasks)?;
    Ok(Some(Submission {
        job_id,
        tasks: assignment.tasks.len(),
        cells: todo.len(),
        script: script_path,
    }))
}

/// Runs array task `task` of `assignment`: its cells, into its own store.
pub fn run_task(
    dir: &SweepDir,
    assignment_path: &Path,
    task: usize,
    jobs: usize,
) -> Result<(Spec, Tally)> {
    let text = std::fs::read_to_string(assignment_path)
        .map_err(|e| SweepError::store(assignment_path, e))?;
    let assignment: Assignment =
        serde_json::from_str(&text).map_err(|e| SweepError::store(assignment_path, e))?;
    let Some(ids) = assignment.tasks.get(task) else {
        return Err(memscape::Error::invalid(
            "task",
            format!(
                "an index below the {} tasks of {}",
                assignment.tasks.len(),
                assignment_path.display()
            ),
            task,
        )
        .into());
    };
    let spec = Spec::read(&assignment.spec)?;
    let cells = by_id(&spec);
    let mine: Vec<&Cell> = ids
        .iter()
        .map(|id| {
            cells.get(id.as_str()).copied().ok_or_else(|| {
                SweepError::store(
                    assignment_path,
                    format!(
                        "cell {id} is not in {} (was the spec edited?)",
                        spec.path.display()
                    ),
                )
            })
        })
        .collect::<Result<_>>()?;
    let stamp = assignment_path
        .parent()
        .and_then(|p| p.file_name())
        .map_or("task".into(), |s| s.to_string_lossy().to_string());
    let store = Store::open_task(&dir.tasks_dir().join(format!("{stamp}-{task}.db")))?;
    store.set_spec(&spec.text)?;
    let runner = CellRunner::new(dir.clone(), &spec);
    let tally = run_cells(&runner, &store, &mine, &HashSet::new(), jobs)?;
    Ok((spec, tally))
}
