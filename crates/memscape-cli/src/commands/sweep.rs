//! `memscape sweep`: run a spec's cells locally or submit them to Slurm; `status`, `collect`,
//! and `run-cells` (one array task's share).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use memscape::store::sorted_json;
use memscape_sweep::collect::write_collection;
use memscape_sweep::run::{CellRunner, SweepDir, run_cells, status};
use memscape_sweep::slurm::{SlurmOptions, array_holds, run_task, submit};
use memscape_sweep::spec::{Cell, Spec};
use memscape_sweep::store::Store;

use crate::flags::{SweepAction, SweepArgs, SweepOut};

pub fn run(args: SweepArgs, command: Vec<String>) -> anyhow::Result<i32> {
    match args.action {
        Some(SweepAction::Status { spec, out }) => show_status(&spec, &out),
        Some(SweepAction::Collect { spec, out }) => collect_maps(&spec, &out, command),
        Some(SweepAction::RunCells {
            out,
            assignment,
            task,
            jobs,
        }) => {
            let dir = SweepDir::new(out);
            let (spec, tally) = run_task(&dir, &assignment, task, jobs)?;
            eprintln!(
                "task {task} of {}: {} cells done, {} failed, {} already done",
                spec.path.display(),
                tally.done,
                tally.failed,
                tally.skipped
            );
            Ok(i32::from(tally.failed > 0))
        }
        None => {
            let spec_path = args.spec.expect("clap requires SPEC without a subcommand");
            let (spec, dir, store) = open(&spec_path, &args.out)?;
            store.set_spec(&spec.text)?;
            if args.slurm {
                let options = SlurmOptions {
                    partition: args.partition,
                    time: args.time,
                    cells_per_task: args.cells_per_task,
                    cpus_per_task: args.cpus_per_task,
                };
                let exe = std::env::current_exe()?;
                let held = holds(&store)?;
                return match submit(&spec, &dir, &store, &held, &options, &exe)? {
                    None => {
                        eprintln!(
                            "nothing to submit: every cell is done, running, or queued in a Slurm array"
                        );
                        if args.out.json {
                            super::print_json(&serde_json::json!({"job_id": null}));
                        }
                        Ok(0)
                    }
                    Some(s) => {
                        eprintln!(
                            "submitted job array {} ({} tasks, {} cells; script {})",
                            s.job_id,
                            s.tasks,
                            s.cells,
                            s.script.display()
                        );
                        if args.out.json {
                            super::print_json(&serde_json::to_value(&s)?);
                        } else {
                            println!("{}", s.job_id);
                        }
                        Ok(0)
                    }
                };
            }
            let jobs = args
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let runner = CellRunner::new(dir.clone(), &spec);
            let cells: Vec<&Cell> = spec.cells.iter().collect();
            let clock = std::time::Instant::now();
            let held = holds(&store)?;
            let tally = run_cells(&runner, &store, &cells, &held, jobs)?;
            let s = status(&spec, &store, &held)?;
            for (id, error) in &s.errors {
                eprintln!("memscape: cell {id} failed: {error}");
            }
            eprintln!(
                "{} cells: {} computed now, {} were done, {} failed, {} running elsewhere; store {} ({:.1} s)",
                tally.total,
                tally.done,
                tally.skipped,
                tally.failed,
                tally.elsewhere,
                dir.store_path().display(),
                clock.elapsed().as_secs_f64()
            );
            if args.out.json {
                super::print_json(&serde_json::to_value(&s)?);
            }
            Ok(i32::from(s.failed > 0))
        }
    }
}

/// The sweep's folder: `--out`, or `runs/sweep-<spec file stem>`.
fn folder(spec: &Path, out: &SweepOut) -> PathBuf {
    out.out
        .clone()
        .unwrap_or_else(|| SweepDir::default_for(spec))
}

/// The spec at `spec_path`, its sweep's folder, and the store with the array tasks' merged.
fn open(spec_path: &Path, out: &SweepOut) -> anyhow::Result<(Spec, SweepDir, Store)> {
    let spec = Spec::read(spec_path)?;
    let dir = SweepDir::new(folder(spec_path, out));
    let store = dir.open()?;
    Ok((spec, dir, store))
}

/// The cells queued or running in this sweep's Slurm arrays; when Slurm cannot be asked, none
/// (said on stderr).
fn holds(store: &Store) -> anyhow::Result<HashSet<String>> {
    let holds = array_holds(store)?;
    if let Some(why) = holds.unknown {
        eprintln!(
            "memscape: note: cells were submitted to Slurm arrays, but {why}; they count as not queued"
        );
    }
    Ok(holds.cells)
}

fn show_status(spec_path: &Path, out: &SweepOut) -> anyhow::Result<i32> {
    let (spec, dir, store) = open(spec_path, out)?;
    let s = status(&spec, &store, &holds(&store)?)?;
    eprintln!(
        "{}: {} cells: {} done, {} running, {} failed, {} pending ({} queued in a Slurm array, {} stalled: their worker is gone)",
        dir.store_path().display(),
        s.total,
        s.done,
        s.running,
        s.failed,
        s.pending,
        s.queued,
        s.stalled
    );
    for (id, worker, progress) in &s.in_flight {
        eprintln!("running {id} on {worker}: {progress}");
    }
    for (id, error) in &s.errors {
        eprintln!("failed {id}: {error}");
    }
    if out.json {
        super::print_json(&serde_json::to_value(&s)?);
    }
    Ok(i32::from(s.failed > 0))
}

fn collect_maps(spec_path: &Path, out: &SweepOut, command: Vec<String>) -> anyhow::Result<i32> {
    let (spec, dir, store) = open(spec_path, out)?;
    let (collection, summary) =
        write_collection(&spec, &dir, &store, command, |line| eprintln!("{line}"))?;
    for i in &summary.incomplete {
        eprintln!(
            "memscape: {}: left out, {} cells not done",
            i.name, i.missing
        );
    }
    eprintln!(
        "{} maps and {} dynamics studies in {}; every finished cell in {}",
        collection.maps.len(),
        collection.studies.len(),
        dir.path.join("collect").display(),
        dir.path.join("collect").join("cells.csv").display()
    );
    if out.json {
        super::print_json(&sorted_json(&summary));
    }
    Ok(i32::from(!summary.incomplete.is_empty()))
}
