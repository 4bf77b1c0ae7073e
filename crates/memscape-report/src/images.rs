//! For image data: generated samples beside their nearest training images, one row per class
//! (memorized / spurious / generalized / off-support), for the exact model at the K of its
//! spurious peak and for a trained model at every K, as in Pham et al.'s figures. Within a class the samples are ordered as Pham et al. order theirs: memorized by
//! distance to the training set (closest first), spurious by distance to the nearest other
//! sample (closest first), generalized by that distance (farthest first). Drawn from
//! `results.json` (`image_shape`, the K), `labels.csv` (class, distances, nearest training
//! index), `samples_k{K}.npy` and `train.npy`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{Results, RunFileError, RunReader};

/// Sample / nearest-training pairs shown per class.
const PAIRS: usize = 8;
/// Pixels of one image cell (its side) and the gaps.
const CELL: u32 = 72;
const GAP: u32 = 6;
const LABEL: u32 = 160;

/// One pair: the sample's pixels and its nearest training image's.
type Pair = (Vec<f64>, Vec<f64>);

struct Grid {
    title: String,
    shape: (usize, usize),
    /// Per class (name, pairs); pixel range for the grey scale.
    rows: Vec<(&'static str, Vec<Pair>)>,
    range: (f64, f64),
}

impl Grid {
    fn size(&self) -> (u32, u32) {
        let w = LABEL + PAIRS as u32 * (2 * CELL + 3 * GAP);
        let h = 50 + self.rows.len() as u32 * (CELL + 3 * GAP);
        (w, h)
    }

    fn image<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        pixels: &[f64],
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (h, w) = self.shape;
        let (lo, hi) = self.range;
        let px = CELL as f64 / w.max(h) as f64;
        for r in 0..h {
            for c in 0..w {
                let t = ((pixels[r * w + c] - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
                let g = (255.0 * t).round() as u8;
                let (x0, y0) = (x + (c as f64 * px) as i32, y + (r as f64 * px) as i32);
                let (x1, y1) = (
                    x + ((c + 1) as f64 * px) as i32,
                    y + ((r + 1) as f64 * px) as i32,
                );
                area.draw(&Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    RGBColor(g, g, g).filled(),
                ))?;
            }
        }
        // a frame, so that a saturated (all-white) sample stays visible
        area.draw(&Rectangle::new(
            [(x - 1, y - 1), (x + CELL as i32, y + CELL as i32)],
            RGBColor(160, 160, 160),
        ))?;
        Ok(())
    }
}

impl Figure for Grid {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        root.draw(&Text::new(self.title.clone(), (10, 12), ("sans-serif", 17)))?;
        for (ri, (class, pairs)) in self.rows.iter().enumerate() {
            let y = 45 + ri as i32 * (CELL + 3 * GAP) as i32;
            root.draw(&Text::new(
                format!("{class} ({} shown)", pairs.len()),
                (8, y + CELL as i32 / 2 - 8),
                ("sans-serif", 15),
            ))?;
            for (pi, (sample, nearest)) in pairs.iter().enumerate() {
                let x = (LABEL + pi as u32 * (2 * CELL + 3 * GAP)) as i32;
                self.image(&root, (x, y), sample)?;
                self.image(&root, (x + (CELL + GAP) as i32, y), nearest)?;
            }
        }
        root.present()
    }
}

/// One labels.csv row: (model, K, class, sample, d_train, nearest training index, d_sample).
type LabelRow = (String, u64, String, usize, f64, usize, f64);

/// Writes `samples_grid.svg/png` (the exact model at the K of its spurious peak, in a map) and,
/// for every other model and K in `labels.csv` (a trained model per K, or a dynamics run's
/// checkpoints `step{S}`), `samples_grid_{model}_k{K}.svg/png`, when the run's patterns are
/// images (none otherwise). Rows of several channels show their first channel.
pub fn image_grid_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    // a map has the exact model's peak; a dynamics run only its checkpoints
    let (shape, peak) = match reader.results()? {
        Some(Results::Map(m)) => (m.image_shape, Some(m.capacities.spurious_peak_k)),
        Some(Results::Dynamics(d)) => (d.image_shape, None),
        None => (None, None),
    };
    let Some([h, w]) = shape else {
        return Ok(vec![]);
    };
    let train = reader.array("train.npy")?;
    let labels = read_labels(dir)?;
    let cells = Cells {
        dir,
        reader: &reader,
        train: &train,
        labels: &labels,
        shape: (h, w),
    };
    let mut figures = match peak {
        Some(peak) => cells.grid("exact", peak as u64, "samples_grid")?,
        None => vec![],
    };
    let mut trained: Vec<(String, u64)> = labels
        .iter()
        .filter(|r| r.0 != "exact")
        .map(|r| (r.0.clone(), r.1))
        .collect();
    trained.dedup();
    for (model, k) in trained {
        figures.extend(cells.grid(&model, k, &format!("samples_grid_{model}_k{k}"))?);
    }
    Ok(figures)
}

/// Every row of `labels.csv`.
fn read_labels(dir: &Path) -> Result<Vec<LabelRow>, RunFileError> {
    let labels_path = dir.join("labels.csv");
    let corrupt = |why: String| RunFileError::Corrupt {
        path: labels_path.clone(),
        reason: why,
    };
    let text = std::fs::read_to_string(&labels_path).map_err(|_| RunFileError::Missing {
        path: labels_path.clone(),
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| corrupt(format!("no column {name:?}")))
    };
    let (mc, kc, sc, cc) = (col("model")?, col("k")?, col("sample")?, col("class")?);
    let (dtc, nc, dsc) = (col("d_train")?, col("nearest_train")?, col("d_sample")?);
    let mut rows = vec![];
    for (n, line) in lines.enumerate() {
        let c: Vec<&str> = line.split(',').collect();
        if c.len() != header.len() {
            return Err(corrupt(format!("line {}: cell count", n + 2)));
        }
        let bad = || corrupt(format!("line {}: not a number", n + 2));
        rows.push((
            c[mc].to_string(),
            c[kc].parse().map_err(|_| bad())?,
            c[cc].to_string(),
            c[sc].parse().map_err(|_| bad())?,
            c[dtc].parse().map_err(|_| bad())?,
            c[nc].parse().map_err(|_| bad())?,
            c[dsc].parse().map_err(|_| bad())?,
        ));
    }
    Ok(rows)
}

/// What every grid of one run reads.
struct Cells<'a> {
    dir: &'a Path,
    reader: &'a RunReader,
    train: &'a ndarray::ArrayD<f64>,
    labels: &'a [LabelRow],
    shape: (usize, usize),
}

impl Cells<'_> {
    /// The grid of `model`'s samples at `k`, saved as `stem` (nothing when it has no samples).
    fn grid(&self, model: &str, k: u64, stem: &str) -> Result<Vec<String>, RunFileError> {
        let (h, w) = self.shape;
        let rows: Vec<&LabelRow> = self
            .labels
            .iter()
            .filter(|r| r.0 == model && r.1 == k)
            .collect();
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let file = if model == "exact" {
            format!("samples_k{k}.npy")
        } else {
            format!("samples_{model}_k{k}.npy")
        };
        let samples = self.reader.array(&file)?;
        for (name, a) in [(file.as_str(), &samples), ("train.npy", self.train)] {
            if a.ndim() != 2 || a.shape()[1] % (h * w) != 0 {
                return Err(RunFileError::Corrupt {
                    path: self.dir.join(name),
                    reason: format!(
                        "shape {:?}, expected N × a multiple of {}",
                        a.shape(),
                        h * w
                    ),
                });
            }
        }
        let pixels = |a: &ndarray::ArrayD<f64>, i: usize| -> Option<Vec<f64>> {
            (i < a.shape()[0]).then(|| (0..h * w).map(|j| a[[i, j]]).collect())
        };
        // the grey scale spans the training images; samples outside it (noise) saturate
        let lo = self.train.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = self.train.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut grid_rows = vec![];
        for class in ["memorized", "spurious", "generalized", "off-support"] {
            let mut of: Vec<&&LabelRow> = rows.iter().filter(|r| r.2 == class).collect();
            match class {
                "memorized" => of.sort_by(|a, b| a.4.total_cmp(&b.4)),
                "spurious" => of.sort_by(|a, b| a.6.total_cmp(&b.6)),
                _ => of.sort_by(|a, b| b.6.total_cmp(&a.6)),
            }
            let mut pairs = vec![];
            for r in of.into_iter().take(PAIRS) {
                let (Some(s), Some(t)) = (pixels(&samples, r.3), pixels(self.train, r.5)) else {
                    return Err(RunFileError::Corrupt {
                        path: self.dir.join("labels.csv"),
                        reason: format!("sample {} or training index {} out of range", r.3, r.5),
                    });
                };
                pairs.push((s, t));
            }
            grid_rows.push((class, pairs));
        }
        let who = match model.strip_prefix("step") {
            Some(step) => format!("network at training step {}", step.trim_start_matches('0')),
            None => model.to_string(),
        };
        let grid = Grid {
            title: format!(
                "{who}: samples (left of each pair) beside their nearest training image (right), K = {k}"
            ),
            shape: (h, w),
            rows: grid_rows,
            range: (lo, hi),
        };
        save(self.dir, stem, grid.size(), &grid)
    }
}
