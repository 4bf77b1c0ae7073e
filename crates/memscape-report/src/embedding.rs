//! The PCA embedding of patterns and samples at the K of the spurious peak, samples coloured by
//! class. Drawn from `embedding.csv` (written by `map`) and `results.json`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{RunFileError, RunReader};

const SIZE: (u32, u32) = (760, 680);

struct Embedding {
    k: u64,
    patterns: Vec<(f64, f64)>,
    samples: Vec<(f64, f64, String)>,
}

impl Figure for Embedding {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let all = self
            .patterns
            .iter()
            .map(|p| (p.0, p.1))
            .chain(self.samples.iter().map(|s| (s.0, s.1)));
        let (x0, x1, y0, y1) = all.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), (x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        let (px, py) = (0.05 * (x1 - x0).max(1e-9), 0.05 * (y1 - y0).max(1e-9));
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "PCA of patterns and samples at K = {} (the spurious peak)",
                    self.k
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
        chart
            .configure_mesh()
            .x_desc("PC 1")
            .y_desc("PC 2")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()?;
        // memorized samples sit on their pattern: drawn larger, so a ring shows round the cross
        for (class, color) in [
            ("generalized", RGBColor(31, 119, 180)),
            ("spurious", RGBColor(255, 127, 14)),
            ("memorized", RGBColor(214, 39, 40)),
        ] {
            let pts: Vec<(f64, f64)> = self
                .samples
                .iter()
                .filter(|s| s.2 == class)
                .map(|s| (s.0, s.1))
                .collect();
            chart
                .draw_series(pts.into_iter().map(move |p| {
                    Circle::new(
                        p,
                        if class == "memorized" { 5 } else { 2 },
                        color.mix(0.6).filled(),
                    )
                }))?
                .label(format!("{class} sample"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        chart
            .draw_series(
                self.patterns
                    .iter()
                    .map(|&p| Cross::new(p, 4, BLACK.stroke_width(2))),
            )?
            .label("training pattern")
            .legend(|(x, y)| Cross::new((x + 8, y), 4, BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .label_font(("sans-serif", 12))
            .draw()?;
        root.present()
    }
}

/// Writes `embedding.svg/png` for the K of the spurious peak; returns the file names.
pub fn embedding_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let results = reader.json("results.json")?;
    let k = results["capacities"]["spurious_peak_k"]
        .as_u64()
        .unwrap_or(0);
    let path = dir.join("embedding.csv");
    let text =
        std::fs::read_to_string(&path).map_err(|_| RunFileError::Missing { path: path.clone() })?;
    let corrupt = |why: String| RunFileError::Corrupt {
        path: path.clone(),
        reason: why,
    };
    let (mut patterns, mut samples) = (vec![], vec![]);
    for (n, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != 7 {
            return Err(corrupt(format!("line {}: expected 7 cells", n + 1)));
        }
        if cells[0].parse::<u64>().ok() != Some(k) {
            continue;
        }
        let num = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| corrupt(format!("line {}: not a number: {s:?}", n + 1)))
        };
        let (x, y) = (num(cells[3])?, num(cells[4])?);
        match cells[1] {
            "pattern" => patterns.push((x, y)),
            _ => samples.push((x, y, cells[5].to_string())),
        }
    }
    if samples.is_empty() {
        return Err(corrupt(format!("no samples for K = {k}")));
    }
    save(
        dir,
        "embedding",
        SIZE,
        &Embedding {
            k,
            patterns,
            samples,
        },
    )
}
