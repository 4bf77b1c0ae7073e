//! From the store to `map`'s results: the cells of one (data, seed) and, for each trained
//! variant (model, intervention, steps), that variant's cells, assembled by
//! [`MapPlan::assemble`] into the same [`MapRun`] a single `memscape map` gives.

use std::collections::BTreeMap;

use memscape::pipeline::{MapPlan, MapRow, MapRun};

use crate::error::{Result, SweepError};
use crate::run::CellRunner;
use crate::spec::{Cell, Spec};
use crate::store::Store;

/// One assembled map.
pub struct CollectedMap {
    /// Its folder under `collect/`: data, seed, and the trained variant.
    pub name: String,
    pub run: MapRun,
    /// The trained cells by K (their networks are in the store's folder).
    pub trained: Vec<Cell>,
}

/// Everything `collect` gives.
pub struct Collection {
    pub maps: Vec<CollectedMap>,
    /// Maps left out because cells are not done: name and missing cell count.
    pub incomplete: Vec<(String, usize)>,
    /// `cells.csv`: one row per finished cell ([`CELLS_HEADER`]).
    pub cells_csv: String,
}

/// Header of `cells.csv`.
pub const CELLS_HEADER: &str = "id,data,k,seed,model,intervention,train_steps,memorized,memorized_lo,memorized_hi,spurious,spurious_lo,spurious_hi,generalized,generalized_lo,generalized_hi,off_support,off_support_lo,off_support_hi,f_mem,f_mem_lo,f_mem_hi,num_attractors,seconds";

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
    for cell in &spec.cells {
        let key = (cell.data.clone(), cell.seed);
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
            let mut request = exact_cells[0].config.request.clone();
            request.ks = exact_cells.iter().map(|c| c.k).collect();
            let plan = MapPlan::with_pool(request, runner.pool(exact_cells[0])?)?;
            let mut points = vec![];
            for cell in exact_cells.iter().chain(&trained_cells) {
                points.push(runner.load_point(cell)?);
            }
            let seconds: f64 = points.iter().map(|p| p.row.seconds).sum();
            let config = trained_cells
                .first()
                .and_then(|c| c.config.train.as_ref())
                .map(|t| serde_json::to_value(t).expect("a configuration serialises"));
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
    let mut cells_csv = format!("{CELLS_HEADER}\n");
    for cell in &spec.cells {
        let Some((results, _, seconds)) = store.result(&cell.id)? else {
            continue;
        };
        let row: MapRow = serde_json::from_str(&results).map_err(|e| {
            SweepError::store(store.path(), format!("cell {}: results: {e}", cell.id))
        })?;
        let f = &row.fractions;
        let e = |e: &memscape::analysis::classify::Estimate| {
            format!("{},{},{}", e.value, e.ci[0], e.ci[1])
        };
        cells_csv += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            cell.id,
            csv_field(&cell.data),
            cell.k,
            cell.seed,
            cell.model,
            cell.intervention.as_deref().unwrap_or(""),
            cell.train_steps.map_or(String::new(), |s| s.to_string()),
            e(&f.memorized),
            e(&f.spurious),
            e(&f.generalized),
            e(&f.off_support),
            e(&f.f_mem),
            row.num_attractors,
            seconds
        );
    }
    Ok(Collection {
        maps,
        incomplete,
        cells_csv,
    })
}

/// A CSV field, quoted when it holds a comma or a quote.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
