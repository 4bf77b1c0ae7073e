//! The (K, training step) phase map of a `dynamics` run: one cell per K and checkpoint, its
//! colour the mix of the memorized (red), spurious (orange), generalized (blue) and off-support (grey) fractions
//! averaged over seeds; tau_mem(K) with its bootstrap interval, the fit tau_mem = a K^p, and
//! tau_gen on top. A second figure draws f_mem against the step for every K, with its chance
//! level (held-out draws classified as samples) dotted in a light band. Drawn from
//! `results.json` only.

use std::collections::BTreeMap;
use std::path::Path;

use memscape_train::dynamics::DynamicsResults;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, fraction_chart, register_font, save};
use crate::{RunFileError, RunReader};

const SIZE: (u32, u32) = (900, 560);
/// The phase map is taller, with this share of its plot above the largest K for the legend
/// (seven lines), so that the legend covers no cell.
const HEATMAP_SIZE: (u32, u32) = (900, 680);
const LEGEND_SHARE: f64 = 0.32;

const MEMORIZED: RGBColor = RGBColor(214, 39, 40);
const SPURIOUS: RGBColor = RGBColor(255, 127, 14);
const GENERALIZED: RGBColor = RGBColor(31, 119, 180);
const OFF_SUPPORT: RGBColor = RGBColor(127, 127, 127);

/// Seed-averaged fractions (memorized, spurious, generalized, f_mem, off-support) per (K, step).
type Cells = BTreeMap<(u64, u64), [f64; 5]>;

struct Dynamics {
    ks: Vec<f64>,
    steps: Vec<f64>,
    cells: Cells,
    /// (K, tau, lo, hi); lo/hi None when not reached in the interval.
    tau_mem: Vec<(f64, f64, Option<f64>, Option<f64>)>,
    tau_gen: Vec<(f64, f64)>,
    fit: Option<(f64, f64, [f64; 2])>,
    level: f64,
    /// Per K: the chance level of f_mem (value, lo, hi), where held-out data gave one.
    chance_f_mem: BTreeMap<u64, (f64, f64, f64)>,
}

fn read(results: &DynamicsResults, path: &Path) -> Result<Dynamics, RunFileError> {
    if results.rows.is_empty() {
        return Err(RunFileError::Corrupt {
            path: path.to_path_buf(),
            reason: "no rows".into(),
        });
    }
    let mut sums: BTreeMap<(u64, u64), ([f64; 5], f64)> = BTreeMap::new();
    let mut chance_f_mem = BTreeMap::new();
    for r in &results.rows {
        // the draws are classified against the training set of K: one level per K
        if let Some(c) = &r.chance {
            let e = c.f_mem;
            chance_f_mem
                .entry(r.k as u64)
                .or_insert((e.value, e.ci[0], e.ci[1]));
        }
        let e = sums
            .entry((r.k as u64, r.step as u64))
            .or_insert(([0.0; 5], 0.0));
        // runs written before the support gate have no off-support fraction (read as 0)
        for (i, v) in [
            r.memorized,
            r.spurious,
            r.generalized,
            r.f_mem,
            r.off_support,
        ]
        .into_iter()
        .enumerate()
        {
            e.0[i] += v;
        }
        e.1 += 1.0;
    }
    let cells: Cells = sums
        .into_iter()
        .map(|(key, (s, n))| (key, s.map(|v| v / n)))
        .collect();
    let mut ks: Vec<f64> = cells.keys().map(|k| k.0 as f64).collect();
    ks.dedup();
    let mut steps: Vec<f64> = cells.keys().map(|k| k.1 as f64).collect();
    steps.sort_by(f64::total_cmp);
    steps.dedup();
    let tau_mem = results
        .tau_mem
        .iter()
        .filter_map(|t| Some((t.k as f64, t.step?, t.ci[0], t.ci[1])))
        .collect();
    let tau_gen = results
        .tau_gen
        .iter()
        .filter_map(|t| Some((t.k as f64, t.step?)))
        .collect();
    let fit = results
        .fit
        .filter(|f| [f.a, f.p, f.ci[0], f.ci[1]].iter().all(|v| v.is_finite()))
        .map(|f| (f.a, f.p, f.ci));
    Ok(Dynamics {
        ks,
        steps,
        cells,
        tau_mem,
        tau_gen,
        fit,
        level: results.fmem_level,
        chance_f_mem,
    })
}

/// Cell edges: geometric midpoints between neighbours, extended by half a step at both ends.
fn edges(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    if n == 1 {
        return vec![v[0] / 1.5, v[0] * 1.5];
    }
    let mut e = vec![v[0] * (v[0] / v[1]).sqrt()];
    e.extend(v.windows(2).map(|w| (w[0] * w[1]).sqrt()));
    e.push(v[n - 1] * (v[n - 1] / v[n - 2]).sqrt());
    e
}

/// The colour of a cell: the fractions' mix of the three class colours.
fn mix(f: &[f64; 5]) -> RGBColor {
    let total = (f[0] + f[1] + f[2] + f[4]).max(1e-12);
    let channel = |i: usize| {
        let c = |rgb: RGBColor| [rgb.0, rgb.1, rgb.2][i] as f64;
        ((f[0] * c(MEMORIZED) + f[1] * c(SPURIOUS) + f[2] * c(GENERALIZED) + f[4] * c(OFF_SUPPORT))
            / total)
            .round() as u8
    };
    RGBColor(channel(0), channel(1), channel(2))
}

struct Heatmap<'a>(&'a Dynamics);

impl Figure for Heatmap<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let d = self.0;
        root.fill(&WHITE)?;
        let (se, ke) = (edges(&d.steps), edges(&d.ks));
        let x = se[0]..se[se.len() - 1];
        // the top LEGEND_SHARE of the plot is left empty above the largest K, for the legend
        let top = ke[0] * (ke[ke.len() - 1] / ke[0]).powf(1.0 / (1.0 - LEGEND_SHARE));
        let y = ke[0]..top;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Phase of the samples over K and training step",
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(x.log_scale(), y.log_scale())?;
        chart
            .configure_mesh()
            .x_desc("training step (log scale)")
            .y_desc("K, number of training patterns (log scale)")
            .x_label_formatter(&|s| format!("{s:.0}"))
            .y_label_formatter(&|k| {
                // no K labels in the legend's band
                if *k <= ke[ke.len() - 1] {
                    format!("{k:.0}")
                } else {
                    String::new()
                }
            })
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .disable_mesh()
            .draw()?;
        for (ki, &k) in d.ks.iter().enumerate() {
            for (si, &s) in d.steps.iter().enumerate() {
                if let Some(f) = d.cells.get(&(k as u64, s as u64)) {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(se[si], ke[ki]), (se[si + 1], ke[ki + 1])],
                        mix(f).filled(),
                    )))?;
                }
            }
        }
        for (color, label) in [
            (MEMORIZED, "memorized"),
            (SPURIOUS, "spurious"),
            (GENERALIZED, "generalized"),
            (OFF_SUPPORT, "off-support"),
        ] {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(format!("cell colour: {label}"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                });
        }
        let ink = BLACK;
        for &(k, tau, lo, hi) in &d.tau_mem {
            let (lo, hi) = (lo.unwrap_or(se[0]), hi.unwrap_or(se[se.len() - 1]));
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, k), (hi, k)],
                ink.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Circle::new((tau, k), 6, ink.filled())))?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!("tau_mem: f_mem reaches {} (95% CI)", d.level))
            .legend(move |(x, y)| Circle::new((x + 7, y), 5, ink.filled()));
        // white triangles with a black rim, visible on every cell colour
        chart.draw_series(
            d.tau_gen
                .iter()
                .map(|&(k, s)| TriangleMarker::new((s, k), 9, BLACK.filled())),
        )?;
        chart
            .draw_series(
                d.tau_gen
                    .iter()
                    .map(|&(k, s)| TriangleMarker::new((s, k), 6, WHITE.filled())),
            )?
            .label("tau_gen: held-out loss minimum")
            .legend(|(x, y)| {
                EmptyElement::at((x + 7, y))
                    + TriangleMarker::new((0, 0), 7, BLACK.filled())
                    + TriangleMarker::new((0, 0), 4, WHITE.filled())
            });
        if let Some((a, p, ci)) = d.fit {
            let line: Vec<(f64, f64)> = (0..=40)
                .map(|i| {
                    let k = ke[0] * (ke[ke.len() - 1] / ke[0]).powf(i as f64 / 40.0);
                    (a * k.powf(p), k)
                })
                .filter(|(s, _)| *s >= se[0] && *s <= se[se.len() - 1])
                .collect();
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, ink.stroke_width(2)))?
                .label(format!(
                    "fit tau_mem = {a:.3e} K^{p:.2} (p 95% CI [{:.2}, {:.2}])",
                    ci[0], ci[1]
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], ink.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 13))
            .draw()?;
        root.present()
    }
}

struct Curves<'a>(&'a Dynamics);

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let d = self.0;
        root.fill(&WHITE)?;
        let mut chart = fraction_chart(
            &root,
            "f_mem along training, per K",
            &d.steps,
            "training step (log scale)",
            "f_mem (share of samples with d1/d2 < 1/3), seed mean",
        )?;
        let (lo, hi) = (d.steps[0], d.steps[d.steps.len() - 1]);
        for (i, &k) in d.ks.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = d
                .steps
                .iter()
                .filter_map(|&s| d.cells.get(&(k as u64, s as u64)).map(|f| (s, f[3])))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(format!("K = {k}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            if let Some(&(level, lo_level, hi_level)) = d.chance_f_mem.get(&(k as u64)) {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(lo, lo_level), (hi, hi_level)],
                    color.mix(0.08).filled(),
                )))?;
                chart.draw_series(DashedLineSeries::new(
                    vec![(lo, level), (hi, level)],
                    2,
                    4,
                    color.stroke_width(1),
                ))?;
            }
        }
        if !d.chance_f_mem.is_empty() {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label("f_mem by chance (held-out draws), dotted in each K's colour")
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Circle::new((2, 0), 1, grey.filled())
                        + Circle::new((10, 0), 1, grey.filled())
                        + Circle::new((18, 0), 1, grey.filled())
                });
        }
        if d.level.is_finite() {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(lo, d.level), (hi, d.level)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))?
                .label(format!("tau_mem level {}", d.level))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 13))
            .draw()?;
        root.present()
    }
}

/// Writes `dynamics.svg/png` (the heatmap) and `fmem_curves.svg/png` from `results.json`.
pub fn dynamics_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let results: DynamicsResults = reader.document("results.json")?;
    let d = read(&results, &dir.join("results.json"))?;
    let mut files = save(dir, "dynamics", HEATMAP_SIZE, &Heatmap(&d))?;
    files.extend(save(dir, "fmem_curves", SIZE, &Curves(&d))?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_heatmap_and_curves_from_a_tiny_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = vec![];
        for k in [4u64, 8] {
            for (i, step) in [1u64, 10, 100].into_iter().enumerate() {
                let m = 0.3 * i as f64;
                rows.push(
                    serde_json::json!({"k": k, "seed": 0, "step": step, "memorized": m,
                    "spurious": 0.1, "generalized": 0.9 - m, "f_mem": m}),
                );
            }
        }
        let results = serde_json::json!({"rows": rows, "fmem_level": 0.1,
            "tau_mem": [{"k": 4, "step": 5.0, "ci": [2.0, 9.0]}, {"k": 8, "step": 8.0, "ci": [3.0, null]}],
            "tau_gen": [{"k": 4, "step": 10.0, "ci": [null, null]}],
            "fit": {"a": 1.5, "p": 0.68, "ci": [0.1, 1.2], "num_k": 2, "resamples": 100}});
        std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
        let files = dynamics_figure(dir.path()).unwrap();
        assert_eq!(files.len(), 4);
        crate::tests::assert_drawn(dir.path(), &files);
        let e = dynamics_figure(&dir.path().join("none")).unwrap_err();
        assert!(matches!(e, RunFileError::Missing { .. }));
    }
}
