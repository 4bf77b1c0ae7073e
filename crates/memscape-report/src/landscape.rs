//! The 2-D landscape of an `attractors` run: E(x; beta) as a colour map, the score field as
//! arrows, the patterns, the critical points coloured by kind and the saddle → minimum
//! connections; and the basin map with the same overlay. Drawn from `attractors.json`,
//! `energy_grid.npy`, `score_grid.npy`, `basin_map.npy`, `patterns.npy` and, when present,
//! `samples.npy` (the exact model's samples stopped at the landscape's sigma, as dots).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use memscape::analysis::landscape::basin::Endpoint;

use crate::phase::{Figure, register_font, save};
use crate::{Attractors, RunFileError, RunReader, serde_name};

const SIZE: (u32, u32) = (760, 700);

fn kind_style(kind: &str) -> (RGBColor, &'static str) {
    match kind {
        "memory" => (RGBColor(214, 39, 40), "memory (minimum at a pattern)"),
        "spurious" => (RGBColor(255, 127, 14), "spurious minimum"),
        "saddle" => (RGBColor(44, 160, 44), "saddle"),
        "off_support" => (RGBColor(127, 127, 127), "stable, off the data's support"),
        "uncertain" => (RGBColor(188, 189, 34), "index not certified"),
        "manifold" => (RGBColor(31, 119, 180), "manifold (its best point)"),
        _ => (RGBColor(148, 103, 189), "maximum"),
    }
}

/// Sequential colour map from dark blue (low) to light yellow (high).
fn colormap(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t) as u8;
    RGBColor(lerp(40.0, 253.0), lerp(30.0, 231.0), lerp(120.0, 37.0))
}

struct Scene {
    bounds: [f64; 4],
    cells: ndarray::ArrayD<f64>,
    score: Option<ndarray::ArrayD<f64>>,
    patterns: ndarray::ArrayD<f64>,
    /// Samples of the exact model stopped at this sigma (`samples.npy`, when written).
    samples: Option<ndarray::ArrayD<f64>>,
    points: Vec<(f64, f64, String)>,
    edges: Vec<((f64, f64), (f64, f64))>,
    basins: bool,
    beta: f64,
    /// A trained network's landscape (titles name sigma and the network).
    trained: bool,
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    s: &Scene,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let [x0, x1, y0, y1] = s.bounds;
    let sigma = 1.0 / s.beta.sqrt();
    // six significant digits: 1/sigma² is rarely a short decimal
    let beta = format!("{:.6}", s.beta)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string();
    let title = match (s.basins, s.trained) {
        (true, false) => format!("Basins of attraction at beta = {beta}"),
        (false, false) => format!("Energy landscape E(x; beta = {beta})"),
        (true, true) => format!("Basins of the trained network at sigma = {sigma:.4}"),
        (false, true) => format!("Trained network: −σ² log p_σ at sigma = {sigma:.4}"),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("x₁")
        .y_desc("x₂")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .disable_mesh()
        .draw()?;
    let n = s.cells.shape()[0];
    let (dx, dy) = ((x1 - x0) / (n - 1) as f64, (y1 - y0) / (n - 1) as f64);
    let finite: Vec<f64> = s.cells.iter().cloned().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let palette = [
        RGBColor(166, 206, 227),
        RGBColor(178, 223, 138),
        RGBColor(251, 154, 153),
        RGBColor(253, 191, 111),
        RGBColor(202, 178, 214),
        RGBColor(255, 255, 153),
        RGBColor(177, 89, 40),
        RGBColor(31, 120, 180),
    ];
    chart.draw_series(
        (0..n)
            .flat_map(|r| (0..n).map(move |c| (r, c)))
            .map(|(r, c)| {
                let v = s.cells[[r, c]];
                let color = if s.basins {
                    if v < 0.0 {
                        RGBColor(230, 230, 230)
                    } else {
                        palette[v as usize % palette.len()]
                    }
                } else {
                    // square-root stretch: the interesting structure is near the minima
                    colormap(((v - lo) / (hi - lo).max(1e-300)).sqrt())
                };
                let (cx, cy) = (x0 + c as f64 * dx, y0 + r as f64 * dy);
                Rectangle::new(
                    [
                        (cx - dx / 2.0, cy - dy / 2.0),
                        (cx + dx / 2.0, cy + dy / 2.0),
                    ],
                    color.filled(),
                )
            }),
    )?;
    if let Some(score) = &s.score {
        let m = score.shape()[0];
        let longest = score.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-300);
        let (sx, sy) = ((x1 - x0) / (m - 1) as f64, (y1 - y0) / (m - 1) as f64);
        for r in 0..m {
            for c in 0..m {
                let (px, py) = (x0 + c as f64 * sx, y0 + r as f64 * sy);
                let (u, v) = (score[[r, c, 0]], score[[r, c, 1]]);
                let len = (u * u + v * v).sqrt();
                // arrow length grows like the log of |score|, capped at 0.45 cells
                let scale = 0.45 * (1.0 + len).ln() / (1.0 + longest).ln() / len.max(1e-300);
                let end = (px + u * scale * sx, py + v * scale * sy);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(px, py), end],
                    WHITE.mix(0.8).stroke_width(1),
                )))?;
                chart.draw_series(std::iter::once(Circle::new(
                    end,
                    1,
                    WHITE.mix(0.8).filled(),
                )))?;
            }
        }
    }
    for (a, b) in &s.edges {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![*a, *b],
            BLACK.stroke_width(2),
        )))?;
    }
    if let Some(samples) = &s.samples {
        let cyan = RGBColor(23, 190, 207);
        chart
            .draw_series((0..samples.shape()[0]).map(|i| {
                Circle::new(
                    (samples[[i, 0]], samples[[i, 1]]),
                    2,
                    cyan.mix(0.7).filled(),
                )
            }))?
            .label(if s.trained {
                "sample (network, stopped at this sigma)"
            } else {
                "sample (exact model, stopped at this sigma)"
            })
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, cyan.filled()));
    }
    let np = s.patterns.shape()[0];
    chart
        .draw_series((0..np).map(|i| {
            Cross::new(
                (s.patterns[[i, 0]], s.patterns[[i, 1]]),
                4,
                BLACK.stroke_width(2),
            )
        }))?
        .label("training pattern")
        .legend(|(x, y)| Cross::new((x + 10, y), 4, BLACK.stroke_width(2)));
    for kind in [
        "memory",
        "spurious",
        "off_support",
        "saddle",
        "uncertain",
        "manifold",
        "maximum",
    ] {
        let (color, label) = kind_style(kind);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.2 == kind)
            .map(|p| (p.0, p.1))
            .collect();
        if pts.is_empty() {
            continue;
        }
        chart
            .draw_series(
                pts.into_iter()
                    .map(move |p| Circle::new(p, 6, color.filled())),
            )?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()
}

impl Figure for Scene {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        draw(root, self)
    }
}

/// The first two coordinates and the kind of every point with at least two.
fn plane_points<'a, K: serde::Serialize + 'a>(
    points: impl Iterator<Item = (&'a Vec<f64>, &'a K)>,
) -> Vec<(f64, f64, String)> {
    points
        .filter(|(x, _)| x.len() >= 2)
        .map(|(x, kind)| (x[0], x[1], serde_name(kind)))
        .collect()
}

/// Writes `landscape.svg/png` and `basins.svg/png` for a 2-D attractors run; returns the
/// file names, or an empty list when the run has no grids (not 2-D).
pub fn landscape_figures(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    // (x, y, kind) of each point, the saddle-to-minimum edges, beta, and the grids' box
    let (points, connections, beta, trained, grids) = match reader.attractors()? {
        Attractors::Exact(a) => {
            let points = plane_points(a.critical_points.iter().map(|p| (&p.x, &p.kind)));
            let bounds = a.grids.as_ref().map(|g| g.bounds);
            (points, a.connections, a.beta, false, bounds)
        }
        Attractors::Trained(a) => {
            let points = plane_points(a.critical_points.iter().map(|p| (&p.x, &p.kind)));
            let bounds = a.grids.as_ref().map(|g| g.bounds);
            (points, vec![], a.beta, true, bounds)
        }
    };
    let Some(bounds) = grids else {
        return Ok(vec![]);
    };
    let at = |i: usize| (points[i].0, points[i].1);
    let edges = connections
        .iter()
        .flat_map(|c| {
            c.ends.iter().filter_map(|e| match e {
                Endpoint::Minimum(m) => Some((c.saddle, *m)),
                _ => None,
            })
        })
        .filter(|&(s, m)| s < points.len() && m < points.len())
        .map(|(s, m)| (at(s), at(m)))
        .collect();
    let mut scene = Scene {
        bounds,
        cells: reader.array("energy_grid.npy")?,
        score: reader.array("score_grid.npy").ok(),
        patterns: reader.array("patterns.npy")?,
        samples: reader.array("samples.npy").ok(),
        points,
        edges,
        basins: false,
        beta,
        trained,
    };
    let mut files = save(dir, "landscape", SIZE, &scene)?;
    scene.cells = reader.array("basin_map.npy")?;
    scene.score = None;
    scene.basins = true;
    files.extend(save(dir, "basins", SIZE, &scene)?);
    Ok(files)
}
