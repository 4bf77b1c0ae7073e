//! The phase diagram over K: memorized / spurious / generalized / off-support fractions with their bootstrap
//! 95% bands, f_mem dashed, the chance levels of held-out draws dotted in their own bands, and
//! the capacities marked. Drawn from `results.json` only.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use memscape::pipeline::MapResults;

use crate::{RunFileError, RunReader};

const SIZE: (u32, u32) = (900, 560);

/// One curve per class, in [`PhaseRow`](memscape::pipeline::PhaseRow)'s order: label, colour.
const CURVES: [(&str, RGBColor); 4] = [
    ("memorized", RGBColor(214, 39, 40)),
    ("spurious", RGBColor(255, 127, 14)),
    ("generalized", RGBColor(31, 119, 180)),
    ("off-support", RGBColor(127, 127, 127)),
];

/// Registers the bundled DejaVu Sans for text (plotters' ab_glyph backend has no system fonts).
pub(crate) fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

/// A trained model's name and, per curve, its (K, fraction) points.
type Trained = (String, Vec<Vec<(f64, f64)>>);

struct Phase {
    ks: Vec<f64>,
    /// per curve: (value, lo, hi) at each K
    curves: Vec<Vec<(f64, f64, f64)>>,
    f_mem: Vec<f64>,
    /// The chance levels of memorized and of spurious, (value, lo, hi) at each K, each where
    /// every exact row has it.
    chance: [Option<Vec<(f64, f64, f64)>>; 2],
    memorization: Option<f64>,
    generalization: Option<f64>,
    peak: (f64, f64),
    /// A trained model's rows: its name, and per curve (K, value) points.
    trained: Option<Trained>,
}

fn read(results: &serde_json::Value, path: &Path) -> Result<Phase, RunFileError> {
    let corrupt = |why: String| RunFileError::Corrupt {
        path: path.to_path_buf(),
        reason: why,
    };
    let doc: MapResults = serde_json::from_value(results.clone())
        .map_err(|e| corrupt(format!("not a map's results: {e}")))?;
    if doc.rows.is_empty() {
        return Err(corrupt("no rows".into()));
    }
    let mut ks = vec![];
    let mut curves = vec![vec![]; CURVES.len()];
    let mut f_mem = vec![];
    let mut chance = [Some(vec![]), Some(vec![])];
    let mut trained: Option<Trained> = None;
    for r in &doc.rows {
        let f = &r.fractions;
        let values = [
            (f.memorized, f.ci.memorized),
            (f.spurious, f.ci.spurious),
            (f.generalized, f.ci.generalized),
            (f.off_support, f.ci.off_support),
        ];
        if r.model != "exact" {
            let t = trained.get_or_insert_with(|| (r.model.clone(), vec![vec![]; CURVES.len()]));
            for (c, (v, _)) in t.1.iter_mut().zip(values) {
                c.push((r.k as f64, v));
            }
            continue;
        }
        ks.push(r.k as f64);
        for (c, (v, ci)) in curves.iter_mut().zip(values) {
            c.push((v, ci[0], ci[1]));
        }
        f_mem.push(f.f_mem);
        let levels = [
            r.chance.map(|c| c.memorized),
            r.chance.and_then(|c| c.spurious),
        ];
        for (level, e) in chance.iter_mut().zip(levels) {
            *level = level.take().zip(e).map(|(mut level, e)| {
                level.push((e.value, e.ci[0], e.ci[1]));
                level
            });
        }
    }
    let caps = &doc.capacities;
    Ok(Phase {
        ks,
        curves,
        f_mem,
        chance,
        memorization: caps.memorization,
        generalization: caps.generalization,
        peak: (caps.spurious_peak_k as f64, caps.spurious_peak),
        trained,
    })
}

/// The filled band between the interval bounds of (value, lo, hi) points over `ks`.
fn band(ks: &[f64], points: &[(f64, f64, f64)], color: RGBAColor) -> Polygon<(f64, f64)> {
    let upper = ks.iter().zip(points).map(|(&k, c)| (k, c.2));
    let lower = ks.iter().zip(points).rev().map(|(&k, c)| (k, c.1));
    Polygon::new(upper.chain(lower).collect::<Vec<_>>(), color.filled())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    p: &Phase,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = fraction_chart(
        &root,
        "Phases of the samples over the training-set size K",
        &p.ks,
        "K, number of training patterns (log scale)",
        "fraction of samples",
    )?;
    for (curve, (label, color)) in p.curves.iter().zip(CURVES) {
        chart.draw_series(std::iter::once(band(&p.ks, curve, color.mix(0.18))))?;
        chart
            .draw_series(LineSeries::new(
                p.ks.iter().zip(curve).map(|(&k, c)| (k, c.0)),
                color.stroke_width(3),
            ))?
            .label(match &p.trained {
                Some(_) => format!("{label}, exact"),
                None => label.to_string(),
            })
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart.draw_series(
            p.ks.iter()
                .zip(curve)
                .map(|(&k, c)| Circle::new((k, c.0), 4, color.filled())),
        )?;
    }
    for (level, (label, color)) in p.chance.iter().zip(CURVES) {
        if let Some(level) = level {
            chart.draw_series(std::iter::once(band(&p.ks, level, color.mix(0.08))))?;
            chart
                .draw_series(DashedLineSeries::new(
                    p.ks.iter().zip(level).map(|(&k, c)| (k, c.0)),
                    2,
                    4,
                    color.stroke_width(2),
                ))?
                .label(format!("{label} by chance (held-out draws)"))
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Circle::new((2, 0), 1, color.filled())
                        + Circle::new((10, 0), 1, color.filled())
                        + Circle::new((18, 0), 1, color.filled())
                });
        }
    }
    if let Some((name, curves)) = &p.trained {
        for (curve, (label, color)) in curves.iter().zip(CURVES) {
            chart
                .draw_series(DashedLineSeries::new(
                    curve.iter().copied(),
                    10,
                    4,
                    color.stroke_width(2),
                ))?
                .label(format!("{label}, {name}"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 8, y - 4), (x + 16, y + 4)], color.filled())
                });
            chart.draw_series(curve.iter().map(|&(k, v)| {
                Rectangle::new(
                    [(k * 0.97, v - 0.012), (k * 1.03, v + 0.012)],
                    color.filled(),
                )
            }))?;
        }
    }
    let grey = RGBColor(90, 90, 90);
    chart
        .draw_series(DashedLineSeries::new(
            p.ks.iter().zip(&p.f_mem).map(|(&k, &f)| (k, f)),
            8,
            6,
            grey.stroke_width(2),
        ))?
        .label("f_mem (d1/d2 < 1/3)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey.stroke_width(2)));
    // memorization label to the right of its line, generalization label to the left of its own
    for (cap, label, color, y, anchor) in [
        (
            p.memorization,
            "memorization capacity",
            CURVES[0].1,
            0.97,
            HPos::Left,
        ),
        (
            p.generalization,
            "generalization capacity",
            CURVES[2].1,
            0.90,
            HPos::Right,
        ),
    ] {
        if let Some(k) = cap {
            chart.draw_series(DashedLineSeries::new(
                vec![(k, 0.0), (k, 1.0)],
                4,
                4,
                color.stroke_width(1),
            ))?;
            let style = ("sans-serif", 13)
                .into_font()
                .color(&color)
                .pos(Pos::new(anchor, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                format!(" {label} ≈ {k:.0} "),
                (k, y),
                style,
            )))?;
        }
    }
    chart.draw_series(std::iter::once(Text::new(
        format!("spurious peak {:.2} at K = {}", p.peak.1, p.peak.0),
        (p.peak.0, (p.peak.1 + 0.06).min(0.98)),
        ("sans-serif", 13).into_font().color(&CURVES[1].1),
    )))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()
}

/// Log-scaled x, linear y.
pub(crate) type FractionChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, RangedCoordf64>>;

/// A chart of fractions (0 to 1) against a log-scaled x spanning the ascending `xs`, with its
/// caption, axis descriptions and integer x labels.
pub(crate) fn fraction_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
    xs: &[f64],
    x_desc: &str,
    y_desc: &str,
) -> Result<FractionChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (lo, hi) = (xs[0], xs[xs.len() - 1].max(xs[0] * 1.01));
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.02f64)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()?;
    Ok(chart)
}

/// Something drawable on any plotters backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

impl Figure for Phase {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        draw(root, self)
    }
}

/// Draws `figure` to `STEM.svg` and `STEM.png` in `dir` (each written atomically); returns the
/// file names.
pub(crate) fn save(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    figure: &impl Figure,
) -> Result<Vec<String>, RunFileError> {
    let (svg_name, png_name) = (format!("{stem}.svg"), format!("{stem}.png"));
    let fail = |name: &str, e: String| RunFileError::Corrupt {
        path: dir.join(name),
        reason: format!("cannot draw: {e}"),
    };
    let mut svg = String::new();
    figure
        .draw(SVGBackend::with_string(&mut svg, size).into_drawing_area())
        .map_err(|e| fail(&svg_name, e.to_string()))?;
    memscape::store::write_atomic(&dir.join(&svg_name), svg.as_bytes())
        .map_err(|e| fail(&svg_name, e.to_string()))?;
    let mut rgb = vec![0u8; (size.0 * size.1 * 3) as usize];
    figure
        .draw(BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area())
        .map_err(|e| fail(&png_name, e.to_string()))?;
    let mut png = Vec::new();
    image::RgbImage::from_raw(size.0, size.1, rgb)
        .expect("buffer of the drawn size")
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| fail(&png_name, e.to_string()))?;
    memscape::store::write_atomic(&dir.join(&png_name), &png)
        .map_err(|e| fail(&png_name, e.to_string()))?;
    Ok(vec![svg_name, png_name])
}

/// Writes `phase.svg` and `phase.png` into the run directory from its `results.json`;
/// returns the file names.
pub fn phase_figure(dir: &Path) -> Result<Vec<String>, RunFileError> {
    register_font();
    let reader = RunReader::open(dir)?;
    let results = reader.json("results.json")?;
    let phase = read(&results, &dir.join("results.json"))?;
    save(dir, "phase", SIZE, &phase)
}
