//! The figures of a `trace` run, from its `trace.json`:
//! - through training time (`trace --run`): per (K, seed), each fixed point's life as its
//!   distance to the nearest training pattern against the step (log), coloured by its kind at
//!   the last checkpoint it reached, births ▲ and deaths ▼ marked (`trace.svg/png`);
//! - through sigma (`trace --checkpoint`): the network's points and the exact model's, side by
//!   side, as distance to the nearest pattern against sigma (log), coloured by index, events
//!   marked (`trace_sigma.svg/png`; the patterns from `train.npy`).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{RunFileError, RunReader};
use memscape::analysis::landscape::trace::{Diagram, Interval};
use memscape::analysis::samples::distance::nearest_distance;

/// A curve's colour and its legend label, by a point's kind.
fn kind_color(kind: &str) -> (RGBColor, &'static str) {
    match kind {
        "memory" => (RGBColor(214, 39, 40), "memory"),
        "spurious" => (RGBColor(255, 127, 14), "spurious"),
        "off_support" => (RGBColor(127, 127, 127), "off support"),
        "saddle" => (RGBColor(44, 160, 44), "saddle"),
        "uncertain" => (RGBColor(188, 189, 34), "uncertain"),
        _ => (RGBColor(31, 119, 180), "not in the census"),
    }
}

fn index_color(index: usize) -> (RGBColor, &'static str) {
    match index {
        0 => (RGBColor(214, 39, 40), "stable (index 0)"),
        1 => (RGBColor(44, 160, 44), "index 1"),
        _ => (RGBColor(148, 103, 189), "index ≥ 2"),
    }
}

/// One panel: curves, markers (x, y, birth) and the legend's entries.
struct Panel {
    title: String,
    x_label: &'static str,
    curves: Vec<(Vec<(f64, f64)>, RGBColor)>,
    markers: Vec<(f64, f64, bool)>,
    legend: Vec<(RGBColor, &'static str)>,
}

struct Panels(Vec<Panel>);

const WIDTH: u32 = 900;
const PANEL_HEIGHT: u32 = 340;

impl Figure for Panels {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let areas = root.split_evenly((self.0.len(), 1));
        for (area, p) in areas.iter().zip(&self.0) {
            let all = || p.curves.iter().flat_map(|c| c.0.iter());
            let (xlo, xhi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| {
                (a.min(q.0), b.max(q.0))
            });
            let yhi = all().fold(0.0f64, |m, q| m.max(q.1)).max(1e-9) * 1.05;
            if !(xlo.is_finite() && xhi > xlo && xlo > 0.0) {
                area.titled(&format!("{} (nothing traced)", p.title), ("sans-serif", 16))?;
                continue;
            }
            let mut chart = ChartBuilder::on(area)
                .caption(&p.title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d((xlo..xhi).log_scale(), 0.0..yhi)?;
            chart
                .configure_mesh()
                .x_desc(p.x_label)
                .x_label_formatter(&|v| memscape::error::significant(*v, 3))
                .y_desc("distance to the nearest pattern")
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 13))
                .draw()?;
            for (points, color) in &p.curves {
                chart.draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?;
            }
            chart.draw_series(p.markers.iter().map(|&(x, y, birth)| {
                let size = 6;
                let shape = if birth {
                    vec![(0, -size), (-size, size), (size, size)]
                } else {
                    vec![(0, size), (-size, -size), (size, -size)]
                };
                EmptyElement::at((x, y)) + Polygon::new(shape, BLACK.mix(0.8).filled())
            }))?;
            for &(color, label) in &p.legend {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .border_style(BLACK)
                .background_style(WHITE.mix(0.9))
                .label_font(("sans-serif", 11))
                .draw()?;
        }
        root.present()
    }
}

/// Adds `entry` to a legend unless it is there.
fn note(legend: &mut Vec<(RGBColor, &'static str)>, entry: (RGBColor, &'static str)) {
    if !legend.iter().any(|e| e.1 == entry.1) {
        legend.push(entry);
    }
}

/// The panel of one training run's diagram.
fn training_panel(title: String, d: &Diagram) -> Panel {
    let mut p = Panel {
        title,
        x_label: "training step (log)",
        curves: vec![],
        markers: vec![],
        legend: vec![],
    };
    for life in &d.lives {
        let kind = life
            .kinds
            .iter()
            .rev()
            .find(|k| !k.is_empty())
            .map_or("", String::as_str);
        let style = kind_color(kind);
        note(&mut p.legend, style);
        let points: Vec<(f64, f64)> = life
            .points
            .iter()
            .filter(|q| q.step > 0.0)
            .map(|q| (q.step, q.distance))
            .collect();
        if let (Some(first), Some(_)) = (points.first(), life.born) {
            p.markers.push((first.0, first.1, true));
        }
        if let (Some(last), Some(_)) = (points.last(), life.died) {
            p.markers.push((last.0, last.1, false));
        }
        p.curves.push((points, style.0));
    }
    p
}

/// The panel of one model's sigma diagram.
fn sigma_panel(title: String, interval: &Interval, patterns: ndarray::ArrayView2<f64>) -> Panel {
    let distance = |x: &[f64]| nearest_distance(patterns, x);
    let mut p = Panel {
        title,
        x_label: "sigma (log)",
        curves: vec![],
        markers: vec![],
        legend: vec![],
    };
    for s in &interval.segments {
        // runs of one index
        let mut start = 0;
        for end in 1..=s.points.len() {
            if end < s.points.len() && s.points[end].index == s.points[start].index {
                continue;
            }
            let last = end.min(s.points.len() - 1);
            let style = index_color(s.points[start].index);
            note(&mut p.legend, style);
            p.curves.push((
                s.points[start..=last]
                    .iter()
                    .map(|q| (q.theta.exp(), distance(&q.x)))
                    .collect(),
                style.0,
            ));
            start = end;
        }
    }
    for e in &interval.events {
        p.markers
            .push((e.theta.exp(), distance(&e.x), !e.born.is_empty()));
    }
    p
}

/// Writes the figure of a `trace` run; returns the file names.
pub fn trace_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let doc = reader.json("trace.json")?;
    let corrupt = |reason: String| RunFileError::Corrupt {
        path: dir.join("trace.json"),
        reason,
    };
    if let Some(units) = doc["units"].as_array() {
        let mut panels = vec![];
        for u in units.iter().take(6) {
            let d: Diagram = serde_json::from_value(u["trace"]["diagram"].clone())
                .map_err(|e| corrupt(e.to_string()))?;
            panels.push(training_panel(
                format!(
                    "K = {}, seed {}: fixed points through training",
                    u["k"], u["seed"]
                ),
                &d,
            ));
        }
        if panels.is_empty() {
            return Err(corrupt("no units".into()));
        }
        let height = PANEL_HEIGHT * panels.len() as u32;
        return save(dir, "trace", (WIDTH, height), &Panels(panels));
    }
    let sigma = &doc["sigma"];
    let patterns = reader
        .array("train.npy")?
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| RunFileError::Corrupt {
            path: dir.join("train.npy"),
            reason: format!("not a table of patterns ({e})"),
        })?;
    let mut panels = vec![];
    for (key, name) in [("network", "the network"), ("exact", "the exact model")] {
        let interval: Interval = serde_json::from_value(sigma[key]["interval"].clone())
            .map_err(|e| corrupt(e.to_string()))?;
        panels.push(sigma_panel(
            format!("Fixed points of {name} through sigma (K = {})", doc["k"]),
            &interval,
            patterns.view(),
        ));
    }
    save(
        dir,
        "trace_sigma",
        (WIDTH, 2 * PANEL_HEIGHT),
        &Panels(panels),
    )
}
