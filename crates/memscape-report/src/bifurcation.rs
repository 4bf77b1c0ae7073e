//! The bifurcation diagram of a `bifurcate` run: every continued branch's first coordinate (and
//! energy, in a second panel) against the parameter, as curves coloured by Morse index, with the
//! events marked. Drawn from `bifurcations.json`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use memscape::pipeline::{BifurcationDocument, parameter_name};

use crate::{RunFileError, RunReader, serde_name};

const SIZE: (u32, u32) = (900, 760);
const INDEX_COLORS: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

struct Diagram {
    name: String,
    log_axis: bool,
    /// The branches, each a polyline of (parameter, x₁, energy, index).
    branches: Vec<Vec<(f64, f64, f64, usize)>>,
    /// (parameter, type)
    events: Vec<(f64, String)>,
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    d: &Diagram,
    energy: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let value = |p: &(f64, f64, f64, usize)| if energy { p.2 } else { p.1 };
    let all = || d.branches.iter().flatten();
    let (lo, hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (vlo, vhi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(value(p)), b.max(value(p)))
    });
    let pad = 0.05 * (vhi - vlo).max(1e-9);
    let y_desc = if energy {
        "energy E"
    } else {
        "first coordinate x₁"
    };
    let title = if energy {
        "Energies of the critical points".to_string()
    } else {
        format!("Critical points against {}", d.name)
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60);
    let events = d.events.clone();
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(d.name.as_str())
                .y_desc(y_desc)
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 14))
                .draw()?;
            for (at, kind) in &events {
                chart.draw_series(DashedLineSeries::new(
                    vec![(*at, vlo - pad), (*at, vhi + pad)],
                    5,
                    4,
                    BLACK.mix(0.5).stroke_width(1),
                ))?;
                if !energy {
                    chart.draw_series(std::iter::once(Text::new(
                        format!(" {kind}"),
                        (*at, vhi),
                        ("sans-serif", 12).into_font(),
                    )))?;
                }
            }
            // each branch in runs of one index; a run ends on the vertex where the index changes
            for branch in &d.branches {
                let mut start = 0;
                for end in 1..=branch.len() {
                    if end < branch.len() && branch[end].3 == branch[start].3 {
                        continue;
                    }
                    let last = end.min(branch.len() - 1);
                    let color = INDEX_COLORS[branch[start].3.min(3)];
                    chart.draw_series(LineSeries::new(
                        branch[start..=last].iter().map(|p| (p.0, value(p))),
                        color.stroke_width(2),
                    ))?;
                    start = end;
                }
            }
            for index in 0..4 {
                if !all().any(|p| p.3.min(3) == index) {
                    continue;
                }
                let color = INDEX_COLORS[index];
                let label = match index {
                    0 => "index 0 (minimum)".to_string(),
                    3 => "index ≥ 3".to_string(),
                    i => format!("index {i}"),
                };
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            if !energy {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .border_style(BLACK)
                    .background_style(WHITE.mix(0.9))
                    .label_font(("sans-serif", 12))
                    .draw()?;
            }
        }};
    }
    if d.log_axis {
        body!(builder.build_cartesian_2d((lo..hi).log_scale(), (vlo - pad)..(vhi + pad))?);
    } else {
        body!(builder.build_cartesian_2d(lo..hi, (vlo - pad)..(vhi + pad))?);
    }
    Ok(())
}

impl Figure for Diagram {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(SIZE.1 * 3 / 5);
        panel(&top, self, false)?;
        panel(&bottom, self, true)?;
        root.present()
    }
}

/// Writes `bifurcation.svg/png` from `bifurcations.json`; returns the file names.
pub fn bifurcation_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let b: BifurcationDocument = reader.document("bifurcations.json")?;
    let weight = parameter_name(&b.parameter) == "weight";
    let name = if weight {
        "weight w"
    } else {
        "beta (inverse temperature)"
    };
    let branches: Vec<Vec<(f64, f64, f64, usize)>> = b
        .branches
        .iter()
        .map(|branch| {
            branch
                .points
                .iter()
                .filter(|p| p.x.first().is_some_and(|x| x.is_finite()))
                .map(|p| (p.at, p.x[0], p.energy, p.index))
                .collect::<Vec<_>>()
        })
        .filter(|b| b.len() >= 2)
        .collect();
    if branches.is_empty() {
        return Err(RunFileError::Corrupt {
            path: dir.join("bifurcations.json"),
            reason: "no branches".into(),
        });
    }
    let events = b
        .events
        .iter()
        .map(|e| (e.at, serde_name(&e.kind)))
        .collect();
    let diagram = Diagram {
        name: name.into(),
        log_axis: !weight,
        branches,
        events,
    };
    save(dir, "bifurcation", SIZE, &diagram)
}
