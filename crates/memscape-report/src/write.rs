//! A study's whole run directory, written by the library so that the command line, sweeps and
//! Python write the same one: its documents, tables and arrays, its figures, `manifest.json`
//! and `report.html` ([`write_map`], [`write_dynamics`]).

use memscape::pipeline::{MapLandscapes, MapResults, MapRun};
use memscape::store::{CsvTable, Manifest, RunDir};
use memscape_train::dynamics::{ATTRACTORS_HEADER, DynamicsResults, DynamicsRun};

use crate::RunFileError;

/// Why a run directory could not be written: the library's error (a write, a landscape), a
/// figure's input that did not read, or the report's problems.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Library(#[from] memscape::Error),
    #[error(transparent)]
    RunFile(#[from] RunFileError),
    #[error("report: {0}")]
    Report(String),
}

/// Writes a map's run directory: arrays, tables, results.json (with the `landscapes` the
/// caller drew, [`memscape::pipeline::MapRun::landscapes`]: nothing is computed here),
/// figures and report.html. Returns results.json's document and the figures' files.
pub fn write_map(
    out: &RunDir,
    run: &MapRun,
    landscapes: Option<MapLandscapes>,
    command: Vec<String>,
) -> Result<(MapResults, Vec<String>), WriteError> {
    let mut manifest = run.write(out, command)?;
    let mut results = run.results();
    if let Some(landscapes) = landscapes {
        for (dir, mut files) in landscapes.write(out)? {
            files.extend(crate::landscape_figures(&out.path().join(&dir))?);
            manifest
                .files
                .extend(files.iter().map(|f| format!("{dir}/{f}")));
        }
        results.landscapes = landscapes.entries;
    }
    out.write_json("results.json", &results)?;
    let figures = crate::run_figures(out.path())?;
    manifest.files.extend(figures.iter().cloned());
    manifest.files.push("report.html".into());
    out.write_json("manifest.json", &manifest)?;
    let problems = crate::write_report(out.path())?;
    if !problems.is_empty() {
        return Err(WriteError::Report(problems.join("; ")));
    }
    Ok((results, figures))
}

/// Writes a study's run directory: phase.csv, loss.csv, attractors.csv (every run, by
/// intervention), the grid's samples and labels, trace.json and its figure (with traces),
/// results.json (with the interventions table), manifest.json, figures and report.html. `base` is the baseline run and its name, `others`
/// the intervention runs. Returns results.json's document (with the interventions table) and
/// the figures.
pub fn write_dynamics(
    out: &RunDir,
    base: (&str, &DynamicsRun),
    others: &[(String, DynamicsRun)],
    saved: Vec<String>,
    command: Vec<String>,
) -> Result<(DynamicsResults, Vec<String>), WriteError> {
    let run = base.1;
    let mut results = run.results();
    let intervention_runs: Vec<(&str, &DynamicsRun)> = std::iter::once(base)
        .chain(others.iter().map(|(n, r)| (n.as_str(), r)))
        .collect();
    results.interventions = intervention_runs
        .iter()
        .map(|(name, r)| r.intervention_summary(name))
        .collect();
    let mut grid_files = vec![];
    if let (Some(k), Some(train)) = (run.request.grid_k, &run.grid_train) {
        out.write_npy("train.npy", train)?;
        grid_files.push("train.npy".to_string());
        for cell in &run.grid {
            let name = format!("samples_{}_k{k}.npy", DynamicsRun::grid_name(cell.step));
            out.write_npy(&name, &cell.samples)?;
            grid_files.push(name);
        }
        out.write_bytes("labels.csv", run.grid_labels_csv().as_bytes())?;
        grid_files.push("labels.csv".into());
    }
    out.write_bytes("phase.csv", run.phase_csv().as_bytes())?;
    if run.request.attractors.is_some() {
        let mut table = CsvTable::new(&format!("intervention,{ATTRACTORS_HEADER}"));
        for (name, r) in &intervention_runs {
            for row in r.attractor_rows() {
                table.row(std::iter::once(name.to_string()).chain(row));
            }
        }
        out.write_bytes("attractors.csv", table.into_string().as_bytes())?;
        grid_files.push("attractors.csv".into());
    }
    if !run.traces.is_empty() {
        // every unit's trace, in the layout of `memscape trace --run` (units of K, seed and
        // trace: the diagram, from the first readable checkpoint, and its censuses)
        let units: Vec<serde_json::Value> = run
            .traces
            .iter()
            .map(|(k, seed, t)| serde_json::json!({"k": k, "seed": seed, "trace": t}))
            .collect();
        out.write_json(
            "trace.json",
            &serde_json::json!({"command": "dynamics", "units": units}),
        )?;
        grid_files.push("trace.json".into());
        grid_files.extend(crate::trace_figure(out.path())?);
    }
    out.write_bytes("loss.csv", run.loss_csv().as_bytes())?;
    results.write(out)?;
    let mut manifest = Manifest::new(command, serde_json::json!({"request": run.request}));
    manifest
        .seeds
        .insert("train".into(), run.request.train.seed);
    manifest
        .seeds
        .insert("sampler".into(), run.request.plan.seed);
    manifest
        .seeds
        .insert("subset".into(), run.request.subset_seed);
    manifest.timings.insert("total_s".into(), run.seconds);
    manifest.files = saved;
    let figures = crate::run_figures(out.path())?;
    manifest.files.extend(figures.iter().cloned());
    manifest.files.extend(grid_files);
    manifest.files.extend(
        [
            "phase.csv",
            "loss.csv",
            "results.json",
            "report.html",
            "manifest.json",
        ]
        .map(String::from),
    );
    out.write_json("manifest.json", &manifest)?;
    let problems = crate::write_report(out.path())?;
    if !problems.is_empty() {
        return Err(WriteError::Report(problems.join("; ")));
    }
    Ok((results, figures))
}
