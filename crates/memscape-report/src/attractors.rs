//! The attractors of a `dynamics` run along training: counts by kind over (K, step), tau_spur
//! and tau_mem against K, and the basin shares by kind. Drawn from `results.json` (the rows'
//! `attractors` and the `tau_spur`, `tau_mem`, `fit`, `fit_spur` entries).

use std::collections::BTreeMap;
use std::path::Path;

use memscape::analysis::landscape::attractor::{CensusSummary, KindCounts};
use memscape_train::dynamics::{DynamicsResults, PowerFit, ResultRow, Tau};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::phase::{Figure, register_font, save};
use crate::{RunFileError, RunReader};

const COUNTS_SIZE: (u32, u32) = (1200, 720);
const SIZE: (u32, u32) = (900, 560);

/// The kinds drawn, their counts and colours.
type KindCount = fn(&KindCounts) -> usize;
const KINDS: [(&str, KindCount, RGBColor); 5] = [
    ("memories", |c| c.memory, RGBColor(214, 39, 40)),
    (
        "spurious attractors",
        |c| c.spurious,
        RGBColor(255, 127, 14),
    ),
    ("saddles", |c| c.saddle, RGBColor(44, 160, 44)),
    (
        "off-support attractors",
        |c| c.off_support,
        RGBColor(127, 127, 127),
    ),
    ("manifolds", |c| c.manifold, RGBColor(31, 119, 180)),
];

/// Panels of the counts figure: the kinds, then the unsettled share.
const PANELS: usize = KINDS.len() + 1;

/// (K, step) → seed-mean count of each kind in `KINDS` order, then the unsettled share.
type Counts = BTreeMap<(u64, u64), [f64; PANELS]>;

/// A tau per K: (K, tau, lo, hi), bounds None when open.
type Taus = Vec<(f64, f64, Option<f64>, Option<f64>)>;

struct Attractors {
    ks: Vec<u64>,
    steps: Vec<f64>,
    counts: Counts,
    tau_mem: Taus,
    tau_spur: Taus,
    fit_mem: Option<(f64, f64)>,
    fit_spur: Option<(f64, f64)>,
    /// At the last checkpoint, every basin share by (kind index, K).
    basins: Vec<(usize, u64, f64)>,
    spur_level: f64,
}

fn taus(taus: &[Tau]) -> Taus {
    taus.iter()
        .filter_map(|t| Some((t.k as f64, t.step?, t.ci[0], t.ci[1])))
        .collect()
}

fn fit(fit: Option<PowerFit>) -> Option<(f64, f64)> {
    fit.filter(|f| f.a.is_finite() && f.p.is_finite())
        .map(|f| (f.a, f.p))
}

/// None when the run has no census.
fn read(results: &DynamicsResults) -> Option<Attractors> {
    let rows: Vec<(&ResultRow, &CensusSummary)> = results
        .rows
        .iter()
        .filter_map(|r| Some((r, r.attractors.as_ref()?)))
        .collect();
    let last = rows.iter().map(|(r, _)| r.step).max()?;
    let mut sums: BTreeMap<(u64, u64), ([f64; PANELS], f64)> = BTreeMap::new();
    let mut basins = vec![];
    for (r, a) in &rows {
        let (k, step) = (r.k as u64, r.step);
        let e = sums.entry((k, step as u64)).or_insert(([0.0; PANELS], 0.0));
        for (i, (_, count, _)) in KINDS.iter().enumerate() {
            e.0[i] += count(&a.counts) as f64;
        }
        e.0[KINDS.len()] += a.unsettled_share;
        e.1 += 1.0;
        if step == last {
            for (i, shares) in [
                (0, &a.memory_basins),
                (1, &a.spurious_basins),
                (3, &a.off_support_basins),
                (4, &a.manifold_basins),
            ] {
                basins.extend(shares.iter().map(|&b| (i, k, b)));
            }
        }
    }
    let counts: Counts = sums
        .into_iter()
        .map(|(key, (s, n))| (key, s.map(|v| v / n)))
        .collect();
    let mut ks: Vec<u64> = counts.keys().map(|k| k.0).collect();
    ks.dedup();
    let mut steps: Vec<f64> = counts.keys().map(|k| k.1 as f64).collect();
    steps.sort_by(f64::total_cmp);
    steps.dedup();
    Some(Attractors {
        ks,
        steps,
        counts,
        tau_mem: taus(&results.tau_mem),
        tau_spur: taus(&results.tau_spur),
        fit_mem: fit(results.fit),
        fit_spur: fit(results.fit_spur),
        basins,
        spur_level: results.spur_level.unwrap_or(f64::NAN),
    })
}

struct CountPanels<'a>(&'a Attractors);

impl Figure for CountPanels<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let a = self.0;
        root.fill(&WHITE)?;
        let (title, body) = root.split_vertically(36);
        title.titled(
            "Attractors of the network at sigma_min along training (seed means)",
            ("sans-serif", 20),
        )?;
        let (lo, hi) = (
            a.steps[0],
            a.steps[a.steps.len() - 1].max(a.steps[0] * 1.01),
        );
        let names = KINDS
            .iter()
            .map(|k| k.0)
            .chain(["unsettled share of the samples"]);
        for (i, (panel, name)) in body.split_evenly((2, 3)).iter().zip(names).enumerate() {
            let top = a.counts.values().map(|c| c[i]).fold(1.0f64, f64::max) * 1.1;
            let series: Vec<(String, Vec<(f64, f64)>)> =
                a.ks.iter()
                    .map(|&k| {
                        let pts = a
                            .steps
                            .iter()
                            .filter_map(|&s| a.counts.get(&(k, s as u64)).map(|c| (s, c[i])))
                            .collect();
                        (format!("K = {k}"), pts)
                    })
                    .collect();
            let axes = (
                "training step (log)",
                if i < KINDS.len() { "count" } else { "share" },
            );
            line_panel(panel, name, (lo, hi, top), axes, &series)?;
        }
        root.present()
    }
}

/// One panel of lines over a log x axis from `lo` to `hi` (y from 0 to `top`): each series
/// (label, points) in its own colour with dots, its legend upper left.
pub(crate) fn line_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    caption: &str,
    (lo, hi, top): (f64, f64, f64),
    (x_desc, y_desc): (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    for (j, (label, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(j).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 11))
        .draw()?;
    Ok(())
}

struct TauPlot<'a>(&'a Attractors);

impl Figure for TauPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let a = self.0;
        root.fill(&WHITE)?;
        let ks: Vec<f64> = a.ks.iter().map(|&k| k as f64).collect();
        let (k0, k1) = (ks[0] / 1.5, ks[ks.len() - 1] * 1.5);
        let all: Vec<f64> = a
            .tau_mem
            .iter()
            .chain(&a.tau_spur)
            .flat_map(|t| [Some(t.1), t.2, t.3])
            .flatten()
            .collect();
        let s0 = all
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(a.steps[0])
            .max(0.5);
        let s1 = a.steps[a.steps.len() - 1] * 1.5;
        let mut chart = ChartBuilder::on(&root)
            .caption("tau_spur and tau_mem against K", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((k0..k1).log_scale(), (s0 / 1.5..s1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("K (log scale)")
            .y_desc("training step (log scale)")
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()?;
        let series = [
            (
                &a.tau_mem,
                a.fit_mem,
                RGBColor(214, 39, 40),
                "tau_mem".to_string(),
            ),
            (
                &a.tau_spur,
                a.fit_spur,
                RGBColor(255, 127, 14),
                format!("tau_spur (spurious-basin share {})", a.spur_level),
            ),
        ];
        for (t, f, color, label) in series {
            // an open upper bound is drawn to the top of the plot
            chart.draw_series(t.iter().map(|&(k, _, lo, hi)| {
                PathElement::new(
                    vec![(k, lo.unwrap_or(s0 / 1.5)), (k, hi.unwrap_or(s1))],
                    color.stroke_width(2),
                )
            }))?;
            chart
                .draw_series(
                    t.iter()
                        .map(|&(k, v, _, _)| Circle::new((k, v), 5, color.filled())),
                )?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
            if let Some((c, p)) = f {
                let line: Vec<(f64, f64)> = (0..=40)
                    .map(|i| {
                        let k = ks[0] * (ks[ks.len() - 1] / ks[0]).powf(i as f64 / 40.0);
                        (k, c * k.powf(p))
                    })
                    .collect();
                chart.draw_series(DashedLineSeries::new(line, 6, 4, color.stroke_width(1)))?;
            }
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

struct BasinPlot<'a>(&'a Attractors);

impl Figure for BasinPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let a = self.0;
        root.fill(&WHITE)?;
        let n = a.ks.len() as f64;
        let low = a
            .basins
            .iter()
            .map(|b| b.2)
            .filter(|&b| b > 0.0)
            .fold(1.0f64, f64::min)
            / 2.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Basin shares at the last checkpoint, by kind and K",
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..n - 0.5, (low..1.2f64).log_scale())?;
        let ks = a.ks.clone();
        chart
            .configure_mesh()
            .x_labels(a.ks.len())
            .x_label_formatter(&move |v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ks.len() {
                    format!("K = {}", ks[i as usize])
                } else {
                    String::new()
                }
            })
            .y_desc("share of samples in the basin (log scale)")
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .disable_x_mesh()
            .draw()?;
        for (kind, (name, _, color)) in KINDS.iter().enumerate() {
            let offset = (kind as f64 - 2.0) * 0.15;
            let pts: Vec<(f64, f64)> = a
                .basins
                .iter()
                .filter(|b| b.0 == kind && b.2 > 0.0)
                .map(|b| {
                    let i = a.ks.iter().position(|&k| k == b.1).unwrap_or(0) as f64;
                    (i + offset, b.2)
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let color = *color;
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 4, color.mix(0.7).filled())),
                )?
                .label(*name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 13))
            .draw()?;
        root.present()
    }
}

/// Writes `attractor_counts`, `tau_spur` and `basin_sizes` (.svg/.png) when the run has a
/// census; returns the file names (none without one).
pub fn attractor_figures(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let results: DynamicsResults = RunReader::open(dir)?.document("results.json")?;
    let Some(a) = read(&results) else {
        return Ok(vec![]);
    };
    // all three always, so that the report finds them (empty axes when nothing crossed or no
    // stable point had a basin)
    let mut files = save(dir, "attractor_counts", COUNTS_SIZE, &CountPanels(&a))?;
    files.extend(save(dir, "tau_spur", SIZE, &TauPlot(&a))?);
    files.extend(save(dir, "basin_sizes", SIZE, &BasinPlot(&a))?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_census_with_nothing_crossed_still_draws_all_three_figures() {
        // every tau null and no stable basin (the report lists all three figures whenever a
        // census exists)
        let dir = tempfile::tempdir().unwrap();
        let counts = serde_json::json!({"memory": 0, "spurious": 0, "off_support": 0, "saddle": 0, "uncertain": 3});
        let rows: Vec<serde_json::Value> = [1, 10, 100]
            .iter()
            .map(|&s| {
                serde_json::json!({"k": 4, "seed": 0, "step": s, "attractors": {"counts": counts,
                "memory_basins": [], "spurious_basins": [], "off_support_basins": [],
                "memory_mass": 0.0, "spurious_mass": 0.0, "unsettled": 3, "unconverged_starts": 0,
                "rows": 30, "asymmetry": null}})
            })
            .collect();
        let results = serde_json::json!({"rows": rows, "spur_level": 0.1,
            "tau_mem": [{"k": 4, "step": null, "ci": [null, null]}],
            "tau_spur": [{"k": 4, "step": null, "ci": [null, null]}]});
        std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
        let files = attractor_figures(dir.path()).unwrap();
        for stem in ["attractor_counts", "tau_spur", "basin_sizes"] {
            assert!(files.contains(&format!("{stem}.svg")), "{files:?}");
            let svg = std::fs::read_to_string(dir.path().join(format!("{stem}.svg"))).unwrap();
            assert!(svg.starts_with("<svg"));
        }
    }
}
