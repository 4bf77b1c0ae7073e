//! Bifurcations of the critical points of E as one parameter moves: the inverse temperature
//! beta, or the weight w ∈ [0, 1] of one pattern (a continuous stand-in for adding a training
//! point; its multiplicity is w, the others' 1).
//!
//! Method: the parameter is swept on a grid (geometric in beta, linear in w). At each value the
//! critical set is computed by [`critical_points`], seeded also with the previous value's points,
//! so every branch is continued from where it was (predictor: last position; corrector: Newton).
//! Step control: wherever the counts by Morse index change between neighbouring values, or a
//! continued branch changes index, the interval is bisected until it is narrower than
//! `tolerance` (relative), and the event is located there.
//!
//! Classification at the event (theory.md §2, generic codim-1 and symmetric cases), with v the
//! eigenvector of the Hessian eigenvalue that vanishes and κ₃ the third cumulant of ξ·v:
//!
//! ```text
//! degenerate     two or more eigenvalues vanish at once (e.g. the D_K-symmetric K-gon origin)
//! fold           two critical points of adjacent index appear or vanish together, no branch
//!                changes index (saddle-node; D³E[v,v,v] ≠ 0)
//! pitchfork      a branch changes index by one while two points appear or vanish beside it;
//!                D³E[v,v,v] = 0 by symmetry; supercritical when the new pair has the lower index
//! transcritical  two branches exchange index without a change in the counts
//! ```

use serde::Serialize;

use super::critical::{CriticalSet, SearchConfig, critical_points, newton, symmetric_eigen};
use crate::denoiser::Landscape;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};

/// The parameter that moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "parameter", rename_all = "lowercase")]
pub enum Parameter {
    /// The inverse temperature.
    Beta,
    /// The multiplicity w of pattern `index`, at fixed `beta`.
    Weight { index: usize, beta: f64 },
    /// The inverse temperature, with pattern `index` at multiplicity `weight`.
    BetaWeighted { index: usize, weight: f64 },
}

/// Critical points by index class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
}

impl Counts {
    fn of(set: &CriticalSet) -> Self {
        Counts {
            minima: set.minima,
            saddles: set.saddles,
            maxima: set.maxima,
        }
    }
    fn total(self) -> usize {
        self.minima + self.saddles + self.maxima
    }
}

/// The type of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Fold,
    Pitchfork,
    Transcritical,
    Degenerate,
}

/// One bifurcation.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Parameter value (beta, or w).
    pub at: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Where it happens: the branch that changes index, or the centre of the points born.
    pub x: Vec<f64>,
    /// Hessian eigenvalues there that are (near) zero at the event.
    pub zero_eigenvalues: usize,
    /// |D³E[v,v,v]| along the soft direction v (0 for a symmetric pitchfork).
    pub cubic: f64,
    /// For a pitchfork: whether the new pair has the lower index (supercritical).
    pub supercritical: Option<bool>,
    pub counts_before: Counts,
    pub counts_after: Counts,
    /// Both neighbouring critical sets have Euler characteristic 1; otherwise the search missed
    /// points there and the event may be an artefact of that.
    pub complete: bool,
}

/// A sweep: the grid, the critical set at every grid value, and the events.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub parameter: Parameter,
    pub values: Vec<f64>,
    pub sets: Vec<CriticalSet>,
    pub events: Vec<Event>,
}

/// Sweep settings.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SweepConfig {
    pub steps: usize,
    /// Events are located to this relative width of the parameter.
    pub tolerance: f64,
    pub search: SearchConfig,
}

fn landscape(patterns: ArrayView2<f64>, parameter: Parameter, value: f64) -> Result<Landscape> {
    let weighted = |index: usize, w: f64, beta: f64| {
        let mut m = vec![1.0; patterns.nrows()];
        m[index] = w;
        Landscape::with_multiplicities(patterns, &m, beta)
    };
    match parameter {
        Parameter::Beta => Landscape::new(patterns, value),
        Parameter::Weight { index, beta } => weighted(index, value, beta),
        Parameter::BetaWeighted { index, weight } => weighted(index, weight, value),
    }
}

/// The critical set at `value`. At (or within ~1e-7 of) a bifurcation the landscape is
/// degenerate and a numerical set is unreliable; such a value is nudged by 1e-4 (relative)
/// until no Hessian eigenvalue is near zero. Events are located on the branches afterwards, to
/// the sweep's tolerance, so the nudge only moves a grid value.
fn set_at(
    patterns: ArrayView2<f64>,
    parameter: Parameter,
    value: f64,
    search: &SearchConfig,
    seeds: Option<&CriticalSet>,
) -> Result<(f64, CriticalSet)> {
    let extra = seeds.map(|s| {
        Array2::from_shape_fn((s.points.len(), patterns.ncols()), |(i, j)| {
            s.points[i].x[j]
        })
    });
    let mut v = value;
    let mut set = critical_points(
        &landscape(patterns, parameter, v)?,
        search,
        extra.as_ref().map(|e| e.view()),
    )?;
    let radius_sq = {
        let c = patterns.mean_axis(ndarray::Axis(0)).expect("k ≥ 1");
        patterns
            .rows()
            .into_iter()
            .map(|r| (&r - &c).mapv(|x| x * x).sum())
            .fold(0.0, f64::max)
    };
    let beta = match parameter {
        Parameter::Beta | Parameter::BetaWeighted { .. } => value,
        Parameter::Weight { beta, .. } => beta,
    };
    let near_zero = 1e-7 * (beta * radius_sq).max(1.0);
    for _ in 0..3 {
        if !set
            .points
            .iter()
            .any(|p| p.eigenvalues.iter().any(|l| l.abs() < near_zero))
        {
            break;
        }
        v += 1e-4 * value.abs().max(1e-3);
        set = critical_points(
            &landscape(patterns, parameter, v)?,
            search,
            extra.as_ref().map(|e| e.view()),
        )?;
    }
    Ok((v, set))
}

/// Index of each point of `b` matched to the nearest point of `a` (within `radius`).
fn matches(a: &CriticalSet, b: &CriticalSet, radius: f64) -> Vec<Option<usize>> {
    b.points
        .iter()
        .map(|q| {
            a.points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        i,
                        p.x.iter()
                            .zip(&q.x)
                            .map(|(u, v)| (u - v).powi(2))
                            .sum::<f64>()
                            .sqrt(),
                    )
                })
                .filter(|&(_, d)| d < radius)
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(i, _)| i)
        })
        .collect()
}

/// True when something happens between two neighbouring sets.
fn changed(a: &CriticalSet, b: &CriticalSet, radius: f64) -> bool {
    if Counts::of(a) != Counts::of(b) {
        return true;
    }
    matches(a, b, radius)
        .iter()
        .zip(&b.points)
        .any(|(m, q)| m.is_some_and(|i| a.points[i].index != q.index))
}

/// Sweeps `parameter` from `from` to `to` and locates and classifies every event.
pub fn sweep(
    patterns: ArrayView2<f64>,
    parameter: Parameter,
    from: f64,
    to: f64,
    config: &SweepConfig,
) -> Result<Sweep> {
    let what = match parameter {
        Parameter::Beta | Parameter::BetaWeighted { .. } => "--beta-from",
        Parameter::Weight { .. } => "weight range",
    };
    if !(from.is_finite() && to.is_finite() && from < to) {
        return Err(Error::invalid(
            what,
            "finite, with from < to",
            format!("{from} .. {to}"),
        ));
    }
    match parameter {
        Parameter::Beta | Parameter::BetaWeighted { .. } if from <= 0.0 => {
            return Err(Error::invalid("--beta-from", "> 0", from));
        }
        Parameter::BetaWeighted { index, weight }
            if index >= patterns.nrows() || !(0.0..=1.0).contains(&weight) =>
        {
            return Err(Error::invalid(
                "weighted pattern",
                format!("an index below {} and a weight in [0, 1]", patterns.nrows()),
                format!("{index}, {weight}"),
            ));
        }
        Parameter::Weight { index, beta } => {
            if index >= patterns.nrows() {
                return Err(Error::invalid(
                    "--weight-of",
                    format!("a pattern index below {}", patterns.nrows()),
                    index,
                ));
            }
            if from < 0.0 || to > 1.0 {
                return Err(Error::invalid(
                    "weight range",
                    "within [0, 1]",
                    format!("{from} .. {to}"),
                ));
            }
            crate::error::require_positive("--beta", beta)?;
        }
        _ => {}
    }
    if config.steps < 2 {
        return Err(Error::invalid("--steps", "≥ 2", config.steps));
    }
    let values: Vec<f64> = (0..config.steps)
        .map(|i| {
            let f = i as f64 / (config.steps - 1) as f64;
            match parameter {
                Parameter::Beta | Parameter::BetaWeighted { .. } => from * (to / from).powf(f),
                Parameter::Weight { .. } => from + f * (to - from),
            }
        })
        .collect();
    let radius = 0.05 * config.search.memory_radius.max(1e-9) * 4.0;
    let mut sets: Vec<CriticalSet> = Vec::with_capacity(values.len());
    let mut actual = Vec::with_capacity(values.len());
    for &v in &values {
        let (v, set) = set_at(patterns, parameter, v, &config.search, sets.last())?;
        actual.push(v);
        sets.push(set);
    }
    let values = actual;
    let mut events = vec![];
    for i in 0..values.len() - 1 {
        if changed(&sets[i], &sets[i + 1], radius) {
            events.extend(locate(
                patterns,
                parameter,
                (values[i], &sets[i]),
                (values[i + 1], &sets[i + 1]),
                radius,
                config,
            )?);
        }
    }
    Ok(Sweep {
        parameter,
        values,
        sets,
        events,
    })
}

/// Continues the critical point near `x` to parameter `value` by Newton (with the round-off
/// floor of [`super::critical`]); returns it and its Morse index when Newton converges within
/// `radius` of `x`.
fn continue_branch(
    patterns: ArrayView2<f64>,
    parameter: Parameter,
    value: f64,
    x: &[f64],
    radius: f64,
) -> Result<Option<(Vec<f64>, usize)>> {
    let land = landscape(patterns, parameter, value)?;
    let (_, _, floor_scale) = super::critical::scales(&land);
    let start = ndarray::Array1::from(x.to_vec());
    let (y, ok, _) = newton(&land, start.view(), floor_scale, radius, 100);
    let moved = (&y - &start).mapv(|v| v * v).sum().sqrt();
    if !ok || moved > radius {
        return Ok(None);
    }
    let (values, _) = symmetric_eigen(&land.hessian(y.view()));
    Ok(Some((
        y.to_vec(),
        values.iter().filter(|&&l| l < 0.0).count(),
    )))
}

/// Brackets the event between `lo` and `hi` by comparing critical sets (to 1e-3 relative, where
/// the sets are still clean), then refines it on the branch itself to `tolerance`: where a
/// continued branch changes index, by bisection on that change; where points are born or die,
/// by bisection on the born point still existing under continuation. Then classifies it.
fn locate(
    patterns: ArrayView2<f64>,
    parameter: Parameter,
    lo: (f64, &CriticalSet),
    hi: (f64, &CriticalSet),
    radius: f64,
    config: &SweepConfig,
) -> Result<Vec<Event>> {
    let (mut a, mut b) = (lo.0, hi.0);
    let (mut set_a, mut set_b) = (lo.1.clone(), hi.1.clone());
    while (b - a) > config.tolerance.max(1e-3) * b.abs().max(1e-12) {
        let mid = 0.5 * (a + b);
        let (mid, set_mid) = set_at(patterns, parameter, mid, &config.search, Some(&set_a))?;
        if mid >= b {
            break;
        }
        if changed(&set_a, &set_mid, radius) {
            b = mid;
            set_b = set_mid;
        } else {
            a = mid;
            set_a = set_mid;
        }
    }
    let (before, after) = (Counts::of(&set_a), Counts::of(&set_b));
    let m = matches(&set_a, &set_b, radius);
    let switched: Vec<usize> = m
        .iter()
        .enumerate()
        .filter_map(|(j, mi)| {
            mi.filter(|&i| set_a.points[i].index != set_b.points[j].index)
                .map(|_| j)
        })
        .collect();
    let born: Vec<usize> = (0..set_b.points.len())
        .filter(|&j| m[j].is_none())
        .collect();
    let back = matches(&set_b, &set_a, radius);
    let gone: Vec<usize> = (0..set_a.points.len())
        .filter(|&i| back[i].is_none())
        .collect();
    let track = 4.0 * radius.max(1e-6);
    // Refine on the branch.
    let (at, centre) = if let Some(&j) = switched.first() {
        let i = m[j].expect("a switched branch is matched");
        let (start_index, mut x) = (set_a.points[i].index, set_a.points[i].x.clone());
        let (mut lo, mut hi) = (a, b);
        while hi - lo > config.tolerance * hi.abs().max(1e-12) {
            let mid = 0.5 * (lo + hi);
            match continue_branch(patterns, parameter, mid, &x, track)? {
                Some((y, index)) if index == start_index => {
                    lo = mid;
                    x = y;
                }
                _ => hi = mid,
            }
        }
        (0.5 * (lo + hi), x)
    } else {
        // a point that exists on one side only: continue it toward the other side
        let (exists_side, point) = match (born.first(), gone.first()) {
            (Some(&j), _) => (b, set_b.points[j].clone()),
            (None, Some(&i)) => (a, set_a.points[i].clone()),
            (None, None) => (b, set_b.points[0].clone()),
        };
        let other_side = if exists_side == b { a } else { b };
        let (mut inside, mut outside, mut x) = (exists_side, other_side, point.x.clone());
        while (inside - outside).abs() > config.tolerance * inside.abs().max(1e-12) {
            let mid = 0.5 * (inside + outside);
            match continue_branch(patterns, parameter, mid, &x, track)? {
                Some((y, index)) if index == point.index => {
                    inside = mid;
                    x = y;
                }
                _ => outside = mid,
            }
        }
        (0.5 * (inside + outside), x)
    };
    let land = landscape(patterns, parameter, at)?;
    let x = ndarray::Array1::from(centre.clone());
    let (eigenvalues, vectors) = symmetric_eigen(&land.hessian(x.view()));
    let soft = eigenvalues
        .iter()
        .enumerate()
        .min_by(|p, q| p.1.abs().total_cmp(&q.1.abs()))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let scale = 1e-4 * eigenvalues.iter().fold(1.0f64, |m, l| m.max(l.abs()));
    let zero_eigenvalues = eigenvalues
        .iter()
        .filter(|l| l.abs() <= scale)
        .count()
        .max(1);
    let (d3, _) = land.directional_derivatives_3_4(x.view(), vectors.column(soft));
    let cubic = d3.abs();
    let changed_total = before.total() != after.total();
    let kind = if zero_eigenvalues >= 2 {
        EventType::Degenerate
    } else if !switched.is_empty() && changed_total {
        EventType::Pitchfork
    } else if !switched.is_empty() {
        EventType::Transcritical
    } else {
        EventType::Fold
    };
    let supercritical = (kind == EventType::Pitchfork).then(|| {
        let pair: Vec<usize> = if after.total() > before.total() {
            born.iter().map(|&j| set_b.points[j].index).collect()
        } else {
            gone.iter().map(|&i| set_a.points[i].index).collect()
        };
        let j = switched[0];
        let central = set_b.points[j]
            .index
            .max(set_a.points[m[j].expect("matched")].index);
        pair.iter().all(|&i| i < central)
    });
    Ok(vec![Event {
        at,
        kind,
        x: centre,
        zero_eigenvalues,
        cubic,
        supercritical,
        counts_before: before,
        counts_after: after,
        complete: set_a.euler_characteristic == 1 && set_b.euler_characteristic == 1,
    }])
}

/// A cusp: where a curve of folds in the (beta, w) plane ends (theory.md §2, generic codim-2:
/// the fold's cubic coefficient D³E[v,v,v] vanishes there; the symmetric pitchfork is the cusp
/// of its own unfolding).
#[derive(Debug, Clone, Serialize)]
pub struct Cusp {
    pub beta: f64,
    pub weight: f64,
    pub x: Vec<f64>,
    /// |D³E[v,v,v]| of the last fold before the end, and of the fold farthest from it.
    pub cubic_near: f64,
    pub cubic_far: f64,
}

/// Two-parameter scan: for each weight w of pattern `index` (ascending `weights`), a beta sweep
/// over [beta_from, beta_to]; fold curves are followed from one w to the next (by beta and
/// position), and where a curve stops, the end is bisected in w (8 halvings) and reported.
pub fn cusps(
    patterns: ArrayView2<f64>,
    index: usize,
    beta_from: f64,
    beta_to: f64,
    weights: &[f64],
    config: &SweepConfig,
) -> Result<Vec<Cusp>> {
    if weights.len() < 2
        || weights.windows(2).any(|w| w[0] >= w[1])
        || weights[0] < 0.0
        || weights[weights.len() - 1] > 1.0
    {
        return Err(Error::invalid(
            "weights",
            "at least two, increasing, within [0, 1]",
            format!("{weights:?}"),
        ));
    }
    if index >= patterns.nrows() {
        return Err(Error::invalid(
            "--weight-of",
            format!("a pattern index below {}", patterns.nrows()),
            index,
        ));
    }
    let folds_at = |w: f64| -> Result<Vec<Event>> {
        let s = sweep(
            patterns,
            Parameter::BetaWeighted { index, weight: w },
            beta_from,
            beta_to,
            config,
        )?;
        Ok(s.events
            .into_iter()
            .filter(|e| e.kind == EventType::Fold)
            .collect())
    };
    let near = |a: &Event, b: &Event| {
        (a.at - b.at).abs() < 0.25 * a.at.max(b.at)
            && a.x
                .iter()
                .zip(&b.x)
                .map(|(u, v)| (u - v).powi(2))
                .sum::<f64>()
                .sqrt()
                < 0.5
    };
    let rows: Vec<Vec<Event>> = weights
        .iter()
        .map(|&w| folds_at(w))
        .collect::<Result<_>>()?;
    let mut out = vec![];
    for r in 0..rows.len() - 1 {
        for fold in &rows[r] {
            if rows[r + 1].iter().any(|g| near(fold, g)) {
                continue;
            }
            // the curve through `fold` ends between weights[r] and weights[r + 1]
            let (mut lo, mut hi, mut last) = (weights[r], weights[r + 1], fold.clone());
            for _ in 0..8 {
                let mid = 0.5 * (lo + hi);
                match folds_at(mid)?.into_iter().find(|g| near(&last, g)) {
                    Some(g) => {
                        lo = mid;
                        last = g;
                    }
                    None => hi = mid,
                }
            }
            // the fold of this curve at the smallest weight: the farthest from its end
            let far = rows[..=r]
                .iter()
                .flat_map(|row| row.iter())
                .find(|g| near(fold, g))
                .map_or(fold.cubic, |g| g.cubic);
            out.push(Cusp {
                beta: last.at,
                weight: 0.5 * (lo + hi),
                x: last.x.clone(),
                cubic_near: last.cubic,
                cubic_far: far,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::{kgon, two_points};

    fn config(spacing: f64) -> SweepConfig {
        let mut search = SearchConfig::for_spacing(spacing);
        search.random_starts = 30;
        SweepConfig {
            steps: 25,
            tolerance: 1e-7,
            search,
        }
    }

    #[test]
    fn two_points_pitchfork_at_beta_c() {
        // theory.md §7.4: ±e1 in R³: beta_c = 1.0000 (±1e-4), symmetric supercritical pitchfork,
        // counts 1 → 3, origin index 0 → 1. Scaling: a = 2 gives beta_c = 1/4 (sigma_c = 2).
        for (a, beta_c) in [(1.0, 1.0), (2.0, 0.25)] {
            let p = two_points(2.0 * a, 3);
            let s = sweep(
                p.view(),
                Parameter::Beta,
                0.5 * beta_c,
                2.0 * beta_c,
                &config(2.0 * a),
            )
            .unwrap();
            assert_eq!(s.events.len(), 1, "{:?}", s.events);
            let e = &s.events[0];
            assert!((e.at - beta_c).abs() <= 1e-6 * beta_c, "{}", e.at);
            assert!(e.complete);
            assert_eq!(e.kind, EventType::Pitchfork);
            assert_eq!(e.supercritical, Some(true));
            assert!(e.cubic < 1e-8);
            assert_eq!(
                e.counts_before,
                Counts {
                    minima: 1,
                    saddles: 0,
                    maxima: 0
                }
            );
            assert_eq!(
                e.counts_after,
                Counts {
                    minima: 2,
                    saddles: 1,
                    maxima: 0
                }
            );
            assert!(e.x.iter().all(|v| v.abs() < 1e-6));
        }
    }

    #[test]
    fn square_origin_is_a_degenerate_event() {
        // The D4-symmetric square: at beta = 1/lambda_max(Cov) = 2 (radius 1) the origin's two
        // Hessian eigenvalues vanish together and 4 minima + 4 saddles are born.
        let p = kgon(4, 1.0, 0.0);
        let s = sweep(p.view(), Parameter::Beta, 1.0, 3.0, &config(2f64.sqrt())).unwrap();
        let e = s
            .events
            .iter()
            .find(|e| (e.at - 2.0).abs() < 1e-3)
            .expect("event at beta = 2");
        assert_eq!(e.kind, EventType::Degenerate);
        assert_eq!(e.zero_eigenvalues, 2);
        assert_eq!(e.counts_after.minima, 4);
    }

    #[test]
    fn adding_a_pattern_by_weight() {
        // Two patterns ±1 at beta = 20 (memorizing), plus a third at 0.3 whose weight grows
        // from 0: its own minimum appears through a fold, with D³E ≠ 0 (no symmetry).
        let p = ndarray::array![[1.0], [-1.0], [0.3]];
        let mut cfg = config(0.7);
        cfg.steps = 30;
        let s = sweep(
            p.view(),
            Parameter::Weight {
                index: 2,
                beta: 20.0,
            },
            0.0,
            1.0,
            &cfg,
        )
        .unwrap();
        let first = s.sets[0].minima;
        let last = s.sets.last().unwrap().minima;
        assert!(last > first, "{first} → {last}");
        assert!(
            s.events
                .iter()
                .any(|e| e.kind == EventType::Fold && e.cubic > 1e-6),
            "{:?}",
            s.events
        );
    }

    #[test]
    fn the_pitchfork_is_the_cusp_of_its_unfolding() {
        // ±1 with weights (1, w): for w < 1 the symmetry is broken and the pitchfork at beta = 1
        // unfolds into a smooth branch and a fold at beta_f(w) > 1, which tends to (1, 1) as
        // w → 1, where its cubic coefficient vanishes: a cusp at (beta, w) = (1, 1).
        let p = two_points(2.0, 1);
        let mut cfg = config(2.0);
        cfg.steps = 16;
        let found = cusps(p.view(), 1, 0.5, 3.0, &[0.7, 0.8, 0.9, 0.95, 1.0], &cfg).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let c = &found[0];
        assert!(
            (c.weight - 1.0).abs() < 0.03 && (c.beta - 1.0).abs() < 0.05,
            "{c:?}"
        );
        assert!(c.cubic_near < 0.5 * c.cubic_far, "{c:?}");
    }

    #[test]
    fn bad_ranges() {
        let p = two_points(2.0, 1);
        let c = config(2.0);
        assert!(
            sweep(p.view(), Parameter::Beta, 2.0, 1.0, &c)
                .unwrap_err()
                .to_string()
                .contains("from < to")
        );
        assert!(
            sweep(p.view(), Parameter::Beta, -1.0, 1.0, &c)
                .unwrap_err()
                .to_string()
                .contains("--beta-from must be > 0")
        );
        assert!(
            sweep(
                p.view(),
                Parameter::Weight {
                    index: 5,
                    beta: 1.0
                },
                0.0,
                1.0,
                &c
            )
            .unwrap_err()
            .to_string()
            .contains("--weight-of must be a pattern index below 2, got 5")
        );
    }
}
