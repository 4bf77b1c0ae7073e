//! The figures of an `rf` run, drawn from `rf.json` and `spectrum.csv`:
//! - `rf_losses`: the score error and the test–train gap (seed means) against τ, one line per
//!   ψ_n, with the measured and predicted timescales marked;
//! - `rf_spectrum`: U's eigenvalues (first seed of each ψ_n) as a histogram in log λ, over the
//!   theory's three parts (the draws' spread of the δ peak, ρ₁, the envelope of ρ₂);
//! - `rf_timescales`: τ_gen and τ_mem against ψ_n, measured with their intervals and predicted.

use std::path::Path;

use memscape::analysis::samples::dynamics::seed_mean;
use memscape_train::rf::{GAP_SHARE, RfRun, RfStudy, runs_at};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{RunFileError, RunReader};

/// Reads `rf.json` as the study it holds.
pub(crate) fn read_study(reader: &RunReader) -> Result<RfStudy, RunFileError> {
    serde_json::from_value(reader.json("rf.json")?).map_err(|e| RunFileError::Corrupt {
        path: reader.dir().join("rf.json"),
        reason: e.to_string(),
    })
}

/// The seed means of `value` over the runs at one ψ_n, against τ.
fn mean_curve(runs: &[&RfRun], value: impl Fn(&RfRun) -> Vec<f64>) -> Vec<(f64, f64)> {
    let curves: Vec<Vec<f64>> = runs.iter().map(|r| value(r)).collect();
    let all: Vec<usize> = (0..runs.len()).collect();
    runs[0]
        .tau
        .iter()
        .copied()
        .zip(seed_mean(&curves, &all))
        .collect()
}

fn color(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

struct Losses<'a>(&'a RfStudy);

impl Figure for Losses<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let study = self.0;
        root.fill(&WHITE)?;
        let panels = root.split_evenly((2, 1));
        let groups: Vec<Vec<&RfRun>> = study
            .request
            .psi_n
            .iter()
            .map(|&psi| runs_at(&study.runs, psi))
            .collect();
        let scores: Vec<Vec<(f64, f64)>> = groups
            .iter()
            .map(|g| mean_curve(g, |r| r.score_error.clone()))
            .collect();
        let gaps: Vec<Vec<(f64, f64)>> = groups
            .iter()
            .map(|g| {
                let limit = g.iter().map(|r| r.gap_limit).sum::<f64>() / g.len() as f64;
                mean_curve(g, |r| r.gap().iter().map(|v| v / limit).collect())
            })
            .collect();
        let all = || scores.iter().flatten();
        let (t0, t1) = all().fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (s0, s1) = all()
            .filter(|p| p.1 > 0.0)
            .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let mut top = ChartBuilder::on(&panels[0])
            .caption(
                "Score error E_score (seed mean) — triangles: tau_gen measured (filled), predicted (open)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((t0..t1).log_scale(), (s0 / 1.3..s1 * 1.3).log_scale())?;
        top.configure_mesh()
            .x_desc("training time tau")
            .y_desc("E_score")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style(("sans-serif", 12))
            .draw()?;
        for (i, (curve, ts)) in scores.iter().zip(&study.timescales).enumerate() {
            let c = color(i);
            top.draw_series(LineSeries::new(curve.clone(), c.stroke_width(2)))?
                .label(format!("psi_n = {}", ts.psi_n))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            if let Some(t) = ts.tau_gen {
                let at = curve.iter().find(|p| p.0 >= t).map_or(s0, |p| p.1);
                top.draw_series(std::iter::once(TriangleMarker::new((t, at), 7, c.filled())))?;
            }
            let t = ts.predicted_tau_gen.clamp(t0, t1);
            let at = curve.iter().find(|p| p.0 >= t).map_or(s0, |p| p.1);
            top.draw_series(std::iter::once(TriangleMarker::new(
                (t, at),
                7,
                c.stroke_width(1),
            )))?;
        }
        top.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        let mut bottom = ChartBuilder::on(&panels[1])
            .caption(
                "Test − train loss over its limit at tau → ∞ — dots: tau_mem measured (filled), predicted (open)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((t0..t1).log_scale(), 0f64..1.05)?;
        bottom
            .configure_mesh()
            .x_desc("training time tau")
            .y_desc("gap / gap at tau → ∞")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .label_style(("sans-serif", 12))
            .draw()?;
        bottom.draw_series(DashedLineSeries::new(
            vec![(t0, GAP_SHARE), (t1, GAP_SHARE)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?;
        for (i, (curve, ts)) in gaps.iter().zip(&study.timescales).enumerate() {
            let c = color(i);
            bottom.draw_series(LineSeries::new(curve.clone(), c.stroke_width(2)))?;
            if let Some(t) = ts.tau_mem {
                bottom.draw_series(std::iter::once(Circle::new((t, GAP_SHARE), 5, c.filled())))?;
            }
            let t = ts.predicted_tau_mem.clamp(t0, t1);
            bottom.draw_series(std::iter::once(Circle::new(
                (t, GAP_SHARE),
                5,
                c.stroke_width(2),
            )))?;
        }
        root.present()
    }
}

struct Spectrum<'a> {
    study: &'a RfStudy,
    /// Per ψ_n: U's eigenvalues of the first seed.
    values: Vec<Vec<f64>>,
}

/// Bins of the histogram in log₁₀ λ.
const BINS: usize = 60;

impl Figure for Spectrum<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let rows = self.values.len().max(1);
        let panels = root.split_evenly((rows, 1));
        let positive = || self.values.iter().flatten().filter(|v| **v > 0.0);
        let lo = positive()
            .fold(f64::INFINITY, |a, &v| a.min(v))
            .log10()
            .floor();
        let hi = positive().fold(0f64, |a, &v| a.max(v)).log10().ceil();
        let width = (hi - lo) / BINS as f64;
        for ((panel, values), run) in panels.iter().zip(&self.values).zip(
            self.study
                .request
                .psi_n
                .iter()
                .filter_map(|&psi| runs_at(&self.study.runs, psi).first().copied()),
        ) {
            let mut counts = vec![0usize; BINS];
            for v in values.iter().filter(|v| **v > 0.0) {
                let b = ((v.log10() - lo) / width).floor() as usize;
                counts[b.min(BINS - 1)] += 1;
            }
            let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "U's eigenvalues, psi_n = {} (n = {}, p = {}, m = {}): shaded, the theory's δ-peak spread, ρ₁ and ρ₂",
                        run.psi_n, run.n, run.p, run.noise_draws
                    ),
                    ("sans-serif", 13),
                )
                .margin(6)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(lo..hi, (0.8..most * 1.5).log_scale())?;
            chart
                .configure_mesh()
                .x_desc("log10 eigenvalue")
                .y_desc("count")
                .label_style(("sans-serif", 11))
                .draw()?;
            let s = &run.spectrum;
            for (i, [a, b]) in [s.peak, s.rho1, s.rho2].into_iter().enumerate() {
                if a > 0.0 && b > a {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(a.log10(), 0.8), (b.log10(), most * 1.5)],
                        color(i + 3).mix(0.2).filled(),
                    )))?;
                }
            }
            chart.draw_series(counts.iter().enumerate().filter(|(_, c)| **c > 0).map(
                |(b, &c)| {
                    let x = lo + b as f64 * width;
                    Rectangle::new([(x, 0.8), (x + width, c as f64)], BLACK.mix(0.7).filled())
                },
            ))?;
        }
        root.present()
    }
}

struct Timescales<'a>(&'a RfStudy);

impl Figure for Timescales<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let study = self.0;
        root.fill(&WHITE)?;
        let ts = &study.timescales;
        let values = ts.iter().flat_map(|t| {
            [
                Some(t.predicted_tau_gen),
                Some(t.predicted_tau_mem),
                t.tau_gen,
                t.tau_mem,
                t.tau_gen_ci[0],
                t.tau_mem_ci[1],
            ]
        });
        let (v0, v1) = values
            .flatten()
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(v), b.max(v)));
        let (p0, p1) = ts.iter().fold((f64::INFINITY, 0f64), |(a, b), t| {
            (a.min(t.psi_n), b.max(t.psi_n))
        });
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Timescales against psi_n: measured (markers, 95% intervals over seeds), predicted (dashed)",
                ("sans-serif", 15),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (p0 / 1.3..p1 * 1.3).log_scale(),
                (v0 / 2.0..v1 * 2.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("psi_n = n / d")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("tau")
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style(("sans-serif", 12))
            .draw()?;
        let series = [("tau_mem", 0usize), ("tau_gen", 1usize)];
        for (name, j) in series {
            let c = color(j);
            let predicted: Vec<(f64, f64)> = ts
                .iter()
                .map(|t| {
                    (
                        t.psi_n,
                        if j == 0 {
                            t.predicted_tau_mem
                        } else {
                            t.predicted_tau_gen
                        },
                    )
                })
                .collect();
            chart
                .draw_series(DashedLineSeries::new(predicted, 6, 4, c.stroke_width(2)))?
                .label(format!("{name} predicted"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            let measured: Vec<(f64, Option<f64>, [Option<f64>; 2])> = ts
                .iter()
                .map(|t| {
                    if j == 0 {
                        (t.psi_n, t.tau_mem, t.tau_mem_ci)
                    } else {
                        (t.psi_n, t.tau_gen, t.tau_gen_ci)
                    }
                })
                .collect();
            chart
                .draw_series(
                    measured
                        .iter()
                        .filter_map(|(x, y, _)| y.map(|y| Circle::new((*x, y), 5, c.filled()))),
                )?
                .label(format!("{name} measured"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
            for (x, _, [lo, hi]) in measured.iter().filter(|m| m.1.is_some()) {
                let (lo, hi) = (lo.unwrap_or(v0 / 2.0), hi.unwrap_or(v1 * 2.0));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(*x, lo), (*x, hi)],
                    c.stroke_width(2),
                )))?;
            }
        }
        if let Some(f) = &study.fit {
            let line: Vec<(f64, f64)> = [p0, p1].iter().map(|&p| (p, f.a * p.powf(f.q))).collect();
            chart
                .draw_series(LineSeries::new(line, BLACK.stroke_width(1)))?
                .label(format!("fit tau_mem ∝ psi_n^{:.2}", f.q))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()
    }
}

/// Draws the figures of an `rf` run; returns the files written.
pub fn rf_figures(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let study = read_study(&reader)?;
    let path = dir.join("spectrum.csv");
    let corrupt = |reason: String| RunFileError::Corrupt {
        path: path.clone(),
        reason,
    };
    let mut rows = csv::Reader::from_path(&path).map_err(|e| match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            RunFileError::Missing { path: path.clone() }
        }
        _ => corrupt(e.to_string()),
    })?;
    let mut values: Vec<Vec<f64>> = vec![vec![]; study.request.psi_n.len()];
    for row in rows.deserialize::<(f64, u64, usize, f64)>() {
        let (psi_n, _, _, v) = row.map_err(|e| corrupt(e.to_string()))?;
        if let Some(i) = study.request.psi_n.iter().position(|&p| p == psi_n) {
            values[i].push(v);
        }
    }
    let mut files = save(dir, "rf_losses", (900, 760), &Losses(&study))?;
    let height = 40 + 200 * values.len() as u32;
    files.extend(save(
        dir,
        "rf_spectrum",
        (900, height),
        &Spectrum {
            study: &study,
            values,
        },
    )?);
    files.extend(save(dir, "rf_timescales", (800, 540), &Timescales(&study))?);
    Ok(files)
}
