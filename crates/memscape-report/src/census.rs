//! The attractor census of a `map` run over K: counts of memories, spurious attractors,
//! manifolds, saddles and off-support attractors, and the unsettled share, one line per model
//! (the exact model's and the trained one's). Drawn from `results.json` (the rows' `census`).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use memscape::analysis::landscape::attractor::CensusSummary;
use memscape::pipeline::MapResults;

use crate::attractors::line_panel;
use crate::phase::{Figure, register_font, save};
use crate::{RunFileError, RunReader};

const SIZE: (u32, u32) = (1200, 720);

/// The panels: title, and the value of a row's census.
type Panel = (&'static str, fn(&CensusSummary) -> f64);

const PANELS: [Panel; 6] = [
    ("memories", |c| c.counts.memory as f64),
    ("spurious attractors", |c| c.counts.spurious as f64),
    ("manifolds", |c| c.counts.manifold as f64),
    ("saddles (between neighbouring stable points)", |c| {
        c.counts.saddle as f64
    }),
    ("off-support attractors", |c| c.counts.off_support as f64),
    ("unsettled share of the samples", |c| c.unsettled_share),
];

/// Per model: its name and (K, census) points.
struct Census(Vec<(String, Vec<(f64, CensusSummary)>)>);

impl Figure for Census {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (title, body) = root.split_vertically(36);
        title.titled(
            "Attractors at sigma_min over K (the census of each K's samples)",
            ("sans-serif", 20),
        )?;
        let ks: Vec<f64> = self
            .0
            .iter()
            .flat_map(|m| m.1.iter().map(|p| p.0))
            .collect();
        let lo = ks.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ks.iter().copied().fold(0.0, f64::max).max(lo * 1.01);
        for (i, (panel, (name, value))) in body.split_evenly((2, 3)).iter().zip(PANELS).enumerate()
        {
            let top = self
                .0
                .iter()
                .flat_map(|m| m.1.iter().map(|p| value(&p.1)))
                .fold(if i + 1 == PANELS.len() { 0.1 } else { 1.0 }, f64::max)
                * 1.1;
            let series: Vec<(String, Vec<(f64, f64)>)> = self
                .0
                .iter()
                .map(|(model, points)| {
                    (
                        model.clone(),
                        points.iter().map(|p| (p.0, value(&p.1))).collect(),
                    )
                })
                .collect();
            let y = if i + 1 == PANELS.len() {
                "share"
            } else {
                "count"
            };
            line_panel(panel, name, (lo, hi, top), ("K (log)", y), &series)?;
        }
        root.present()
    }
}

/// Writes `census.svg` and `census.png` for a map whose rows carry a census; returns the file
/// names (none without a census).
pub fn census_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let doc: MapResults = serde_json::from_value(reader.json("results.json")?).map_err(|e| {
        RunFileError::Corrupt {
            path: dir.join("results.json"),
            reason: format!("not a map's results: {e}"),
        }
    })?;
    let mut models: Vec<(String, Vec<(f64, CensusSummary)>)> = vec![];
    for r in &doc.rows {
        let Some(c) = &r.census else { continue };
        match models.iter_mut().find(|m| m.0 == r.model) {
            Some(m) => m.1.push((r.k as f64, c.clone())),
            None => models.push((r.model.clone(), vec![(r.k as f64, c.clone())])),
        }
    }
    if models.is_empty() {
        return Ok(vec![]);
    }
    save(dir, "census", SIZE, &Census(models))
}
