//! From the store to `map`'s and `dynamics`' results. In a map study, the cells of one
//! (data, seed) and, for each trained variant (model, intervention, steps), that variant's
//! cells, assembled by [`MapPlan::assemble`] into the same [`MapRun`] a single `memscape map`
//! gives. In a dynamics study, the cells of one (data, model, steps, intervention) over every K
//! and seed, assembled by [`DynamicsPlan::assemble`] into the [`DynamicsRun`] of `memscape
//! dynamics`, the interventions beside the baseline (`none`, else the first).

use std::collections::BTreeMap;
use std::path::PathBuf;

use memscape::analysis::samples::classify::Fractions;
use memscape::numbers::field;
use memscape::pipeline::{MapPlan, MapResults, MapRow, MapRun};
use memscape::store::{CsvTable, RunDir, sorted_json};
use memscape_report::{write_dynamics, write_map};
use memscape_train::dynamics::{DynamicsPlan, DynamicsResults, DynamicsRow, DynamicsRun};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SweepError};
use crate::run::{CellRunner, SweepDir};
use crate::spec::{Cell, NO_INTERVENTION, Spec, Work};
use crate::store::Store;

/// One assembled map.
pub struct CollectedMap {
    /// Its folder under `collect/`: data, seed, and the trained variant.
    pub name: String,
    pub run: MapRun,
    /// The trained cells by K (their networks are in the store's folder).
    pub trained: Vec<Cell>,
}

/// One assembled dynamics study: the baseline run first, then each intervention's.
pub struct CollectedDynamics {
    /// Its folder under `collect/`: data, model and steps.
    pub name: String,
    pub runs: Vec<(String, DynamicsRun)>,
}

/// Everything `collect` gives.
pub struct Collection {
    pub maps: Vec<CollectedMap>,
    pub studies: Vec<CollectedDynamics>,
    /// Maps left out because cells are not done: name and missing cell count.
    pub incomplete: Vec<(String, usize)>,
    /// `cells.csv`: one row per finished cell ([`CELLS_HEADER`]).
    pub cells_csv: String,
}

/// `collect.json`: every run directory written (its kind, name, folder and `results.json`)
/// and the maps left out because cells are not done. Written with its keys sorted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectSummary {
    pub incomplete: Vec<Incomplete>,
    pub runs: Vec<CollectedRun>,
}

/// A map left out of a collection: its name and how many of its cells are not done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incomplete {
    pub missing: usize,
    pub name: String,
}

/// One run directory of a collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectedRun {
    pub dir: PathBuf,
    /// "map" or "dynamics".
    pub kind: String,
    pub name: String,
    pub results: CollectedResults,
}

/// The `results.json` of a collected run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CollectedResults {
    Map(Box<MapResults>),
    Dynamics(Box<DynamicsResults>),
}

/// Collects a sweep ([`collect`]) and writes it under its folder's `collect/`: `cells.csv`, one
/// run directory per map and dynamics study (as `memscape map` and `memscape dynamics` write
/// them, reports included) and `collect.json`. `progress` gets a line per run directory
/// written. Returns the collection and `collect.json`'s document.
///
/// # Errors
/// The store's and the assembly's ([`collect`]), and a run directory that cannot be written.
pub fn write_collection(
    spec: &Spec,
    dir: &SweepDir,
    store: &Store,
    command: Vec<String>,
    mut progress: impl FnMut(&str),
) -> Result<(Collection, CollectSummary)> {
    let runner = CellRunner::new(dir.clone(), spec);
    let collection = collect(spec, store, &runner)?;
    let root = RunDir::create(dir.path.join("collect"))?;
    root.write_bytes("cells.csv", collection.cells_csv.as_bytes())?;
    let mut runs = vec![];
    for m in &collection.maps {
        let out = RunDir::create(root.path().join(&m.name))?;
        let networks = m
            .trained
            .first()
            .map(|first| memscape::pipeline::MapNetworks {
                name: m.run.rows.last().map_or("", |r| r.model.as_str()),
                step: match &first.config.work {
                    Work::Map { train: Some(t), .. } => t.last_step(),
                    _ => 0,
                },
                at: Box::new(|k| {
                    m.trained
                        .iter()
                        .find(|c| c.k == k)
                        .map(|c| {
                            runner
                                .load_model(c)
                                .map(|m| Box::new(m) as Box<dyn memscape::denoiser::Denoiser>)
                        })
                        .transpose()
                }),
            });
        let landscapes = m.run.landscapes(networks.as_ref())?;
        let (results, _) = write_map(&out, &m.run, landscapes, command.clone())?;
        progress(&format!(
            "{}: {} rows; wrote {}",
            m.name,
            m.run.rows.len(),
            out.path().join("report.html").display()
        ));
        runs.push(CollectedRun {
            dir: out.path().to_path_buf(),
            kind: "map".into(),
            name: m.name.clone(),
            results: CollectedResults::Map(Box::new(results)),
        });
    }
    for study in &collection.studies {
        let out = RunDir::create(root.path().join(&study.name))?;
        let (base, others) = study.runs.split_first().expect("a study has a run");
        let (results, _) = write_dynamics(
            &out,
            (base.0.as_str(), &base.1),
            others,
            vec![],
            command.clone(),
        )?;
        progress(&format!(
            "{}: {} runs ({}); wrote {}",
            study.name,
            study.runs.len(),
            study
                .runs
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            out.path().join("report.html").display()
        ));
        runs.push(CollectedRun {
            dir: out.path().to_path_buf(),
            kind: "dynamics".into(),
            name: study.name.clone(),
            results: CollectedResults::Dynamics(Box::new(results)),
        });
    }
    let summary = CollectSummary {
        incomplete: collection
            .incomplete
            .iter()
            .map(|(name, missing)| Incomplete {
                missing: *missing,
                name: name.clone(),
            })
            .collect(),
        runs,
    };
    root.write_json("collect.json", &sorted_json(&summary))?;
    Ok((collection, summary))
}

/// Header of `cells.csv`.
pub const CELLS_HEADER: &str = "id,data,k,seed,model,intervention,train_steps,step,memorized,memorized_lo,memorized_hi,spurious,spurious_lo,spurious_hi,generalized,generalized_lo,generalized_hi,off_support,off_support_lo,off_support_hi,f_mem,f_mem_lo,f_mem_hi,num_attractors,seconds";

/// A file-name-safe form of `text`.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// Assembles every map whose cells are all done.
pub fn collect(spec: &Spec, store: &Store, runner: &CellRunner) -> Result<Collection> {
    let records = store.records()?;
    let done = |c: &Cell| records.get(&c.id).is_some_and(|r| r.status == "done");
    // (data, seed) → exact cells; (data, seed) → variant name → trained cells
    let mut exact: BTreeMap<(String, u64), Vec<&Cell>> = BTreeMap::new();
    let mut trained: BTreeMap<(String, u64), BTreeMap<String, Vec<&Cell>>> = BTreeMap::new();
    // (data, model, steps) → intervention → cells
    type Studies<'a> = BTreeMap<(String, String, usize), Vec<(String, Vec<&'a Cell>)>>;
    let mut studies: Studies = BTreeMap::new();
    for cell in &spec.cells {
        let key = (cell.data.clone(), cell.seed);
        if let Work::Dynamics { .. } = cell.config.work {
            let variants = studies
                .entry((
                    cell.data.clone(),
                    cell.model.clone(),
                    cell.train_steps.unwrap_or(0),
                ))
                .or_default();
            let name = cell.intervention.clone().unwrap_or_default();
            match variants.iter_mut().find(|(n, _)| *n == name) {
                Some((_, cells)) => cells.push(cell),
                None => variants.push((name, vec![cell])),
            }
            continue;
        }
        match (&cell.intervention, cell.train_steps) {
            (Some(i), Some(steps)) => trained
                .entry(key)
                .or_default()
                .entry(format!("{}_{}_steps{steps}", cell.model, slug(i)))
                .or_default()
                .push(cell),
            _ => exact.entry(key).or_default().push(cell),
        }
    }
    let mut maps = vec![];
    let mut incomplete = vec![];
    for ((data, seed), exact_cells) in &exact {
        let base = format!("{}_seed{seed}", slug(data));
        let variants: Vec<(String, Vec<&Cell>)> = match trained.get(&(data.clone(), *seed)) {
            None => vec![(format!("{base}_exact"), vec![])],
            Some(v) => v
                .iter()
                .map(|(name, cells)| (format!("{base}_{name}"), cells.clone()))
                .collect(),
        };
        for (name, trained_cells) in variants {
            let missing = exact_cells
                .iter()
                .chain(&trained_cells)
                .filter(|c| !done(c))
                .count();
            if missing > 0 {
                incomplete.push((name, missing));
                continue;
            }
            let Work::Map { request, .. } = &exact_cells[0].config.work else {
                unreachable!("exact cells are map cells")
            };
            let mut request = request.clone();
            request.ks = exact_cells.iter().map(|c| c.k).collect();
            let plan = MapPlan::with_pool(request, runner.pool(exact_cells[0])?)?;
            let mut points = vec![];
            for cell in exact_cells.iter().chain(&trained_cells) {
                points.push(runner.load_point(cell)?);
            }
            let seconds: f64 = points.iter().map(|p| p.row.seconds).sum();
            let config = trained_cells.first().and_then(|c| match &c.config.work {
                Work::Map { train, .. } => train
                    .as_ref()
                    .map(|t| serde_json::to_value(t).expect("a configuration serialises")),
                Work::Dynamics { .. } => None,
            });
            let run = plan.assemble(
                points,
                config,
                BTreeMap::from([("total_s".to_string(), seconds)]),
            )?;
            maps.push(CollectedMap {
                name,
                run,
                trained: trained_cells.into_iter().cloned().collect(),
            });
        }
    }
    let mut assembled = vec![];
    for ((data, model, steps), mut variants) in studies {
        // the baseline first
        if let Some(i) = variants.iter().position(|(n, _)| n == NO_INTERVENTION) {
            let baseline = variants.remove(i);
            variants.insert(0, baseline);
        }
        let name = format!("{}_{model}_steps{steps}", slug(&data));
        let mut runs = vec![];
        for (intervention, mut cells) in variants {
            let missing = cells.iter().filter(|c| !done(c)).count();
            if missing > 0 {
                incomplete.push((format!("{name} ({intervention})"), missing));
                continue;
            }
            cells.sort_by_key(|c| (c.k, c.seed));
            runs.push((intervention, assemble_study(&cells, runner, store)?));
        }
        if !runs.is_empty() {
            assembled.push(CollectedDynamics { name, runs });
        }
    }
    let mut cells = CsvTable::new(CELLS_HEADER);
    for cell in &spec.cells {
        let Some((results, _, seconds)) = store.result(&cell.id)? else {
            continue;
        };
        let bad = |e: serde_json::Error| {
            SweepError::store(store.path(), format!("cell {}: results: {e}", cell.id))
        };
        let head = [
            cell.id.to_string(),
            cell.data.clone(),
            cell.k.to_string(),
            cell.seed.to_string(),
            cell.model.to_string(),
            cell.intervention.clone().unwrap_or_default(),
            field(cell.train_steps),
        ];
        let fractions = |f: &Fractions| -> Vec<String> {
            [
                &f.memorized,
                &f.spurious,
                &f.generalized,
                &f.off_support,
                &f.f_mem,
            ]
            .iter()
            .flat_map(|e| [e.value, e.ci[0], e.ci[1]].map(|v| v.to_string()))
            .collect()
        };
        match cell.config.work {
            Work::Map { .. } => {
                let row: MapRow = serde_json::from_str(&results).map_err(bad)?;
                cells.row(
                    head.iter()
                        .cloned()
                        .chain([String::new()])
                        .chain(fractions(&row.fractions))
                        .chain([row.num_attractors.to_string(), seconds.to_string()]),
                );
            }
            Work::Dynamics { .. } => {
                let rows: Vec<DynamicsRow> = serde_json::from_str(&results).map_err(bad)?;
                for r in rows {
                    let attractors = field(
                        r.attractors
                            .map(|a| a.counts.memory + a.counts.spurious + a.counts.off_support),
                    );
                    cells.row(
                        head.iter()
                            .cloned()
                            .chain([r.step.to_string()])
                            .chain(fractions(&r.fractions))
                            .chain([attractors, seconds.to_string()]),
                    );
                }
            }
        }
    }
    let cells_csv = cells.into_string();
    Ok(Collection {
        maps,
        studies: assembled,
        incomplete,
        cells_csv,
    })
}

/// The study of `cells` (one intervention, sorted by K then seed): the first cell's request
/// over every K and seed, the units read back; only the first seed keeps its grid, as in
/// `memscape dynamics`. Its time is the cells' compute time.
fn assemble_study(cells: &[&Cell], runner: &CellRunner, store: &Store) -> Result<DynamicsRun> {
    let Work::Dynamics { request } = &cells[0].config.work else {
        unreachable!("dynamics cells")
    };
    let mut ks: Vec<usize> = cells.iter().map(|c| c.k).collect();
    ks.dedup();
    let mut seeds: Vec<u64> = cells.iter().map(|c| c.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let grid_k = cells.iter().find_map(|c| match &c.config.work {
        Work::Dynamics { request } => request.grid_k,
        Work::Map { .. } => None,
    });
    let mut request = request.clone();
    request.ks = ks;
    request.seeds = seeds.len();
    request.train.seed = seeds[0];
    request.grid_k = grid_k;
    let plan = DynamicsPlan::with_pool(request, runner.pool(cells[0])?)?;
    let mut units = vec![];
    let mut seconds = 0.0;
    for cell in cells {
        let mut unit = runner.load_unit(cell)?;
        if unit.seed != seeds[0] {
            unit.grid.clear();
        }
        seconds += store.result(&cell.id)?.map_or(0.0, |(_, _, s)| s);
        units.push(unit);
    }
    Ok(plan.assemble(units, seconds)?)
}
