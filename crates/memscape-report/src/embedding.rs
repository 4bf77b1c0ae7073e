//! 2-D maps of patterns and samples at the K of the spurious peak: left, samples coloured by
//! class; right, by DBSCAN cluster (noise grey), so spurious attractors show as clusters away
//! from the patterns. The PCA is drawn from `embedding.csv` (written by every `map`), the t-SNE
//! and UMAP maps from `embedding_nonlinear.csv` (written with `map --embed tsne,umap`), and the
//! K from `results.json`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{Results, RunFileError, RunReader};

const SIZE: (u32, u32) = (1200, 600);

/// One sample: position, class, DBSCAN cluster.
type Sample = (f64, f64, String, Option<usize>);

/// Patterns and samples of one map.
type Points = (Vec<(f64, f64)>, Vec<Sample>);

struct Embedding {
    title: String,
    axes: (&'static str, &'static str),
    patterns: Vec<(f64, f64)>,
    samples: Vec<Sample>,
}

const CLASSES: [(&str, RGBColor); 3] = [
    ("generalized", RGBColor(31, 119, 180)),
    ("spurious", RGBColor(255, 127, 14)),
    ("memorized", RGBColor(214, 39, 40)),
];

impl Embedding {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        by_cluster: bool,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let all = self
            .patterns
            .iter()
            .copied()
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
        let clusters = self
            .samples
            .iter()
            .filter_map(|s| s.3)
            .max()
            .map_or(0, |c| c + 1);
        let caption = if by_cluster {
            format!("samples by DBSCAN cluster ({clusters} clusters, grey: noise)")
        } else {
            "samples by class".to_string()
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
        chart
            .configure_mesh()
            .x_desc(self.axes.0)
            .y_desc(self.axes.1)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()?;
        if by_cluster {
            let grey = RGBColor(170, 170, 170);
            chart
                .draw_series(
                    self.samples
                        .iter()
                        .filter(|s| s.3.is_none())
                        .map(|s| Circle::new((s.0, s.1), 2, grey.filled())),
                )?
                .label("noise")
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, grey.filled()));
            chart.draw_series(self.samples.iter().filter_map(|s| {
                s.3.map(|c| Circle::new((s.0, s.1), 3, Palette99::pick(c).mix(0.8).filled()))
            }))?;
        } else {
            // memorized samples sit on their pattern: drawn larger, so a ring shows round the cross
            for (class, color) in CLASSES {
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
            .draw()
    }
}

impl Figure for Embedding {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let root = root.titled(&self.title, ("sans-serif", 18))?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        self.panel(&left, false)?;
        self.panel(&right, true)?;
        root.present()
    }
}

/// Rows of an embedding CSV: `columns` names the method (if any), K, kind, x, y, class and
/// cluster columns by header name.
fn read_csv(
    path: &Path,
    columns: [&str; 6],
    method: Option<&str>,
    k: u64,
) -> Result<Points, RunFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|_| RunFileError::Missing { path: path.into() })?;
    let corrupt = |why: String| RunFileError::Corrupt {
        path: path.to_path_buf(),
        reason: why,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| corrupt(format!("no column {name:?}")))
    };
    let [kc, kind, xc, yc, class, cluster] = columns.map(col);
    let (kc, kind, xc, yc, class, cluster) = (kc?, kind?, xc?, yc?, class?, cluster?);
    let method_col = header.iter().position(|h| *h == "method");
    let (mut patterns, mut samples) = (vec![], vec![]);
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            return Err(corrupt(format!(
                "line {}: expected {} cells",
                n + 2,
                header.len()
            )));
        }
        if cells[kc].parse::<u64>().ok() != Some(k)
            || method.is_some_and(|m| method_col.map(|c| cells[c]) != Some(m))
        {
            continue;
        }
        let num = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| corrupt(format!("line {}: not a number: {s:?}", n + 2)))
        };
        let (x, y) = (num(cells[xc])?, num(cells[yc])?);
        match cells[kind] {
            "pattern" => patterns.push((x, y)),
            _ => samples.push((x, y, cells[class].to_string(), cells[cluster].parse().ok())),
        }
    }
    if samples.is_empty() {
        return Err(corrupt(format!("no samples for K = {k}")));
    }
    Ok((patterns, samples))
}

/// Writes `embedding.svg/png` (PCA) and, when `embedding_nonlinear.csv` exists,
/// `tsne.svg/png` and `umap.svg/png`, for the K of the spurious peak; returns the file names.
pub fn embedding_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let k = match reader.results()? {
        Some(Results::Map(m)) => m.capacities.spurious_peak_k as u64,
        _ => 0,
    };
    let (patterns, samples) = read_csv(
        &dir.join("embedding.csv"),
        ["k", "kind", "pc1", "pc2", "class", "cluster"],
        None,
        k,
    )?;
    let mut files = save(
        dir,
        "embedding",
        SIZE,
        &Embedding {
            title: format!("PCA of patterns and samples at K = {k} (the spurious peak)"),
            axes: ("PC 1", "PC 2"),
            patterns,
            samples,
        },
    )?;
    let nonlinear = dir.join("embedding_nonlinear.csv");
    if nonlinear.is_file() {
        for (method, title) in [("tsne", "t-SNE"), ("umap", "UMAP")] {
            let read = read_csv(
                &nonlinear,
                ["k", "kind", "x", "y", "class", "cluster"],
                Some(method),
                k,
            );
            match read {
                Ok((patterns, samples)) => files.extend(save(
                    dir,
                    method,
                    SIZE,
                    &Embedding {
                        title: format!("{title} of patterns and samples at K = {k}"),
                        axes: ("", ""),
                        patterns,
                        samples,
                    },
                )?),
                Err(RunFileError::Corrupt { reason, .. }) if reason.starts_with("no samples") => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(files)
}
