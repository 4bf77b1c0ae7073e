//! Bifurcations of the critical points of E as one parameter moves: the inverse temperature
//! beta, or the weight w ≥ 0 of one pattern (a continuous stand-in for adding a training point;
//! its multiplicity is w, the others' 1).
//!
//! Method (the standard tools' — BifurcationKit, MatCont, AUTO — on the exact gradient):
//! 1. The critical set is computed by multi-start search ([`critical_points`]) on a grid of
//!    parameter values (geometric in beta, linear in w), seeded with the previous value's points.
//! 2. Every grid point not yet on a branch starts a new branch, followed both ways by
//!    pseudo-arclength continuation ([`super::continuation`]) across the whole range, around
//!    turning points. Changes of Morse index and turning points along a branch are located by
//!    bisection in arclength.
//! 3. At a special point where the branch does not turn (a branch point), the critical points
//!    at θ* ± ε near it are found (`local_points`); those not yet on a branch start new
//!    branches (branch switching).
//! 4. Each special point is an event candidate. Its critical points on both sides, at θ* ± ε,
//!    are paired by continuation through the point ([`super::local::LocalChange`]); where
//!    nothing changes (no point born or lost, no paired branch changes index) no event is
//!    reported.
//! 5. The counts by index carried from one grid value across the events to the next must equal
//!    that value's multi-start counts; an interval where they do not is reported as unexplained.
//!
//! At a centre of dihedral symmetry (n = 2 with mirror lines in the kernel's plane) the points
//! on either side are found on the mirror lines, in one dimension ([`super::local`]): the 2K
//! points a K-gon's centre gives birth to differ in energy only at order r^K, a ring no
//! search in the plane resolves for K ≥ 5. Special points within the centre's radius and 1%
//! of θ are that event (continuation's branches of the ring hop between its minima and
//! saddles) and are dropped.
//!
//! This module holds the sweep; its `event` module classifies one event and its `fold` module
//! follows curves of folds in the (beta, w) plane.
//!
//! Classification (theory.md §2; Golubitsky & Schaeffer I, ch. I, III), with n the dimension of
//! the Hessian's kernel at the point:
//!
//! ```text
//! fold           n = 1: two points of index k, k+1 appear or vanish, no branch passes through
//! pitchfork      n = 1: one branch passes through and changes index by one, two points appear
//!                or vanish beside it; supercritical when they have the lower index of the two
//! transcritical  n = 1: two branches pass through and exchange index k ↔ k+1
//! symmetric      n ≥ 2 (a symmetric centre, e.g. of a regular K-gon): the centre's index changes
//!                by n and k further branches meet there (the D3 triangle: k = 3 saddles pass
//!                through; the D_K K-gon for K ≥ 4: k = 2K points are born)
//! degenerate     any other change at a point with n = 1
//! ```

mod event;
mod fold;

use ndarray::{Array1, Array2};
use serde::Serialize;

pub use super::continuation::Parameter;
use super::continuation::{Branch, ContinuationConfig, End, Family};
use super::critical::{CriticalSet, SearchConfig, critical_points};
use super::local::local_points;
use crate::error::{Error, Result};
pub use event::{Counts, Event, EventBranch, EventType};
use event::{event_at, side_step};
pub use fold::{Cusp, FoldCurve, FoldPoint, fold_curves};

/// A sweep: the grid, the critical set at every grid value, the branches, and the events.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub parameter: Parameter,
    pub values: Vec<f64>,
    pub sets: Vec<CriticalSet>,
    pub branches: Vec<Branch>,
    pub events: Vec<Event>,
    /// Grid intervals where the counts carried across the events differ from the next grid
    /// value's complete multi-start counts (Euler characteristic 1): a missed event.
    pub unexplained: Vec<[f64; 2]>,
    /// Grid values whose multi-start set is incomplete (Euler characteristic ≠ 1): the counts
    /// are carried across them unchecked.
    pub incomplete: Vec<f64>,
}

/// Sweep settings.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SweepConfig {
    pub steps: usize,
    /// Events are located to this width in θ (ln beta, or w).
    pub tolerance: f64,
    pub search: SearchConfig,
}

/// The widest grid spacing in θ (ln beta, or w): wider grids can hide a pair of events that
/// cancel between two values.
pub const MAX_GRID_SPACING: f64 = 0.25;

/// Validates a range and a grid; returns the grid's θ values.
fn grid(family: &Family, from: f64, to: f64, config: &SweepConfig) -> Result<Vec<f64>> {
    let name = match family.parameter {
        Parameter::Weight { .. } => "weight",
        _ => "beta",
    };
    if !(from.is_finite() && to.is_finite() && from < to) {
        return Err(Error::invalid(
            format!("{name} range"),
            "finite, with from < to",
            format!("{from} .. {to}"),
        ));
    }
    match family.parameter {
        Parameter::Weight { beta, .. } => {
            crate::error::require_positive("beta", beta)?;
            if from < 0.0 {
                return Err(Error::invalid("weight range", "from ≥ 0", from));
            }
        }
        Parameter::BetaWeighted { weight, .. } if !(weight.is_finite() && weight >= 0.0) => {
            return Err(Error::invalid("weight", "finite and ≥ 0", weight));
        }
        _ if from <= 0.0 => return Err(Error::invalid("beta range", "from > 0", from)),
        _ => {}
    }
    if !(1e-12..=1e-3).contains(&config.tolerance) {
        return Err(Error::invalid(
            "tolerance",
            "within [1e-12, 1e-3] (below 1e-12 the f64 gradient cannot resolve an event)",
            config.tolerance,
        ));
    }
    let (lo, hi) = (family.theta(from), family.theta(to));
    let needed = ((hi - lo) / MAX_GRID_SPACING).ceil() as usize + 1;
    if config.steps < needed.max(2) {
        return Err(Error::invalid(
            "steps",
            format!(
                "≥ {} for this range: a grid coarser than {MAX_GRID_SPACING} in {} between \
                 neighbours cannot resolve events to the tolerance (two may cancel between values)",
                needed.max(2),
                if name == "beta" { "ln beta" } else { "w" }
            ),
            config.steps,
        ));
    }
    Ok((0..config.steps)
        .map(|i| lo + (hi - lo) * i as f64 / (config.steps - 1) as f64)
        .collect())
}

/// The multi-start critical set at θ (seeded with `seeds`' points). A value within ~1e-7 of a
/// bifurcation is degenerate there and its set unreliable; it is nudged by 1e-4 in θ until no
/// point is degenerate. Events are located on the branches, so the nudge only moves a grid
/// value.
fn set_at(
    family: &Family,
    theta: f64,
    search: &SearchConfig,
    seeds: Option<&CriticalSet>,
    upper: f64,
) -> Result<(f64, CriticalSet)> {
    let d = family.patterns().ncols();
    let extra =
        seeds.map(|s| Array2::from_shape_fn((s.points.len(), d), |(i, j)| s.points[i].x[j]));
    let mut th = theta;
    let mut set;
    let mut tries = 0;
    loop {
        set = critical_points(
            &family.landscape(th)?,
            search,
            extra.as_ref().map(|e| e.view()),
        )?;
        tries += 1;
        if tries > 3 || !set.points.iter().any(|p| p.degenerate) {
            break;
        }
        let step = 1e-4 * theta.abs().max(1.0);
        th = if th + step <= upper {
            th + step
        } else {
            th - step
        };
    }
    Ok((th, set))
}

/// Continuation settings of a sweep: special points located to 1% of its tolerance.
fn continuation_config(config: &SweepConfig) -> ContinuationConfig {
    ContinuationConfig {
        step: 0.05,
        tolerance: (0.01 * config.tolerance).max(1e-14),
        ..ContinuationConfig::default()
    }
}

/// The radius of the local analysis at an event: a fifth of the memory radius (a twentieth
/// of the pattern spacing), at most a tenth of the data scale.
fn local_radius(family: &Family, config: &SweepConfig) -> f64 {
    (0.2 * config.search.memory_radius).min(0.1 * family.scale)
}

/// Branches through every seed (θ, x) not already on one, continued across [`range.0`,
/// `range.1`] (θ), then branch switching at every special point where a branch does not turn,
/// until no new branch appears.
fn continue_all(
    family: &Family,
    seeds: &[(f64, Array1<f64>)],
    range: (f64, f64),
    config: &SweepConfig,
) -> Result<Vec<Branch>> {
    let (lo, hi) = range;
    let continuation = continuation_config(config);
    let radius = local_radius(family, config);
    let mut branches: Vec<Branch> = vec![];
    for (th, x) in seeds {
        if !family.on_branch(&branches, *th, x.view())? {
            branches.push(family.trace(*th, x.view(), (lo, hi), &continuation)?);
        }
    }
    let mut visited = 0;
    while visited < branches.len() {
        let specials: Vec<(f64, Array1<f64>)> = branches[visited]
            .special
            .iter()
            .filter(|s| !s.turning)
            .map(|s| (family.theta(s.at), Array1::from(s.x.clone())))
            .collect();
        visited += 1;
        for (th, x) in specials {
            let hessian = family.landscape(th)?.hessian(x.view());
            for side in [th - side_step(th), th + side_step(th)] {
                if side < lo || side > hi {
                    continue;
                }
                for p in local_points(&family.landscape(side)?, x.view(), &hessian, radius) {
                    if family.on_branch(&branches, side, p.x.view())? {
                        continue;
                    }
                    // Near the branch point several branches lie within ~ε of each other, so
                    // the check above can miss; a traced branch whose points away from the
                    // event lie on a known branch is that branch again.
                    let new = family.trace(side, p.x.view(), (lo, hi), &continuation)?;
                    let n = new.points.len();
                    if new.ends == [End::Failed, End::Failed] && n < 3 {
                        // the corrector fails at once both ways: a point the local search
                        // could not resolve (a numerically flat ring), not a branch
                        continue;
                    }
                    let mut known = true;
                    for q in [n / 4, n / 2, 3 * n / 4] {
                        let q = &new.points[q];
                        let y = ndarray::ArrayView1::from(&q.x);
                        known &= family.on_branch(&branches, family.theta(q.at), y)?;
                    }
                    if !known {
                        branches.push(new);
                    }
                }
            }
        }
    }
    Ok(branches)
}

/// The branches through `seeds` (parameter value, x), continued over [`from`, `to`] with
/// branch switching (the continuation part of [`sweep`], without its grid).
///
/// ```
/// use memscape::analysis::landscape::bifurcation::{Parameter, SweepConfig, branches_from};
/// use memscape::analysis::landscape::critical::SearchConfig;
/// use ndarray::array;
///
/// // ±1: the minimum near 1 at beta = 4, continued down to beta = 1, where it has merged into
/// // the origin (the pitchfork at beta = 1)
/// let patterns = array![[1.0], [-1.0]];
/// let config = SweepConfig { steps: 40, tolerance: 1e-9, search: SearchConfig::for_spacing(2.0) };
/// let branches = branches_from(patterns.view(), Parameter::Beta, 0.5, 4.0, &[(4.0, vec![0.9993])], &config)?;
/// assert!(!branches.is_empty());
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Patterns or a parameter the family refuses, or a parameter range too coarse for `config.steps`.
pub fn branches_from(
    patterns: ndarray::ArrayView2<f64>,
    parameter: Parameter,
    from: f64,
    to: f64,
    seeds: &[(f64, Vec<f64>)],
    config: &SweepConfig,
) -> Result<Vec<Branch>> {
    let family = Family::new(patterns, parameter)?;
    let thetas = grid(&family, from, to, config)?;
    let seeds: Vec<(f64, Array1<f64>)> = seeds
        .iter()
        .map(|(v, x)| (family.theta(*v), Array1::from(x.clone())))
        .collect();
    continue_all(
        &family,
        &seeds,
        (thetas[0], thetas[thetas.len() - 1]),
        config,
    )
}

/// Sweeps `parameter` from `from` to `to` (module docs).
///
/// ```
/// use memscape::analysis::landscape::bifurcation::{EventType, Parameter, SweepConfig, sweep};
/// use memscape::analysis::landscape::critical::SearchConfig;
/// use ndarray::array;
///
/// // ±1 (theory.md §5): below beta_c = 1 the origin is the one minimum; at beta_c it splits
/// // into the two memories, a supercritical pitchfork
/// let patterns = array![[1.0], [-1.0]];
/// let search = SearchConfig::for_spacing(2.0);
/// let config = SweepConfig { steps: 8, tolerance: 1e-9, search };
/// let s = sweep(patterns.view(), Parameter::Beta, 0.5, 2.0, &config)?;
/// assert_eq!(s.events.len(), 1);
/// let e = &s.events[0];
/// assert_eq!((e.kind, e.supercritical), (EventType::Pitchfork, Some(true)));
/// assert!((e.at - 1.0).abs() < 1e-6, "{}", e.at);
/// assert!(s.unexplained.is_empty());
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A range that is not finite and increasing (beta from > 0, weights ≥ 0), a tolerance outside
/// [1e-12, 1e-3], too few steps for a grid no coarser than [`MAX_GRID_SPACING`] in θ, a pattern
/// index out of range, and the continuation's errors.
pub fn sweep(
    patterns: ndarray::ArrayView2<f64>,
    parameter: Parameter,
    from: f64,
    to: f64,
    config: &SweepConfig,
) -> Result<Sweep> {
    let family = Family::new(patterns, parameter)?;
    let thetas = grid(&family, from, to, config)?;
    let (lo, hi) = (thetas[0], thetas[thetas.len() - 1]);
    let d = patterns.ncols();
    let mut sets: Vec<CriticalSet> = Vec::with_capacity(thetas.len());
    let mut grid_thetas = Vec::with_capacity(thetas.len());
    let progress = crate::progress::Task::start("critical points on the grid", thetas.len() as u64);
    for &th in &thetas {
        progress.advance(1);
        let (th, set) = set_at(&family, th, &config.search, sets.last(), hi)?;
        grid_thetas.push(th);
        sets.push(set);
    }
    let radius = local_radius(&family, config);
    let seeds: Vec<(f64, Array1<f64>)> = sets
        .iter()
        .zip(&grid_thetas)
        .flat_map(|(set, &th)| {
            set.points
                .iter()
                .map(move |p| (th, Array1::from(p.x.clone())))
        })
        .collect();
    let branches = continue_all(&family, &seeds, (lo, hi), config)?;
    // events: special points merged by place, then the local analysis. Points where a branch
    // changes index without turning come first: they are located to the tolerance, while a
    // side branch turning at a branch point is located only to where its corrector fails
    // (~1e-4 s away); every special point within the local radius of one kept is the same event.
    let mut specials: Vec<(bool, f64, Array1<f64>)> = branches
        .iter()
        .flat_map(|b| b.special.iter())
        .map(|s| (s.turning, family.theta(s.at), Array1::from(s.x.clone())))
        .collect();
    specials.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut candidates: Vec<(f64, Array1<f64>)> = vec![];
    for (_, th, x) in specials {
        let same = candidates.iter().any(|(t, y)| {
            (t - th).abs() <= 1e-6 * th.abs().max(1.0)
                && (y - &x).mapv(|v| v * v).sum().sqrt() <= radius
        });
        if !same {
            candidates.push((th, x));
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut found = vec![];
    for (th, x) in &candidates {
        if *th - side_step(*th) < lo || *th + side_step(*th) > hi {
            continue;
        }
        if let Some(e) = event_at(&family, *th, x, radius)? {
            found.push((*th, e));
        }
    }
    // Near a symmetric centre, within its radius and 1% in θ, every point born has been
    // counted by the centre's equivariant analysis ([`event::event_at`]); the special points
    // that continuation places there (branches of a numerically flat ring hopping between
    // its minima and saddles) are the same event, and dropped.
    let centres: Vec<(f64, Array1<f64>)> = found
        .iter()
        .filter(|(_, (e, _))| e.kind == EventType::Symmetric)
        .map(|(th, (e, _))| (*th, Array1::from(e.x.clone())))
        .collect();
    let mut kept_centre = vec![false; centres.len()];
    found.retain(|(th, (e, _))| {
        let x = Array1::from(e.x.clone());
        let Some(c) = centres.iter().position(|(tc, xc)| {
            (th - tc).abs() <= 1e-2 * tc.abs().max(1.0)
                && (&x - xc).mapv(|v| v * v).sum().sqrt() <= radius
        }) else {
            return true;
        };
        // the first symmetric event at that centre stays
        let first = e.kind == EventType::Symmetric && !kept_centre[c];
        kept_centre[c] |= first;
        first
    });
    // counts carried across the events, checked at every grid value
    let mut events = vec![];
    let mut unexplained = vec![];
    let mut incomplete = vec![];
    let mut counts = Counts::of(&sets[0]);
    let mut next = found.into_iter().peekable();
    for i in 0..grid_thetas.len() - 1 {
        while let Some((_, (mut e, delta))) = next.next_if(|(th, _)| *th < grid_thetas[i + 1]) {
            e.counts_before = counts;
            for (index, sign) in delta {
                counts.add(index, d, sign);
            }
            e.counts_after = counts;
            events.push(e);
        }
        if sets[i + 1].euler_characteristic != Some(1) {
            // the multi-start set missed points (or holds a degenerate one): it cannot check
            incomplete.push(family.value(grid_thetas[i + 1]));
            continue;
        }
        let want = Counts::of(&sets[i + 1]);
        if counts != want {
            unexplained.push([
                family.value(grid_thetas[i]),
                family.value(grid_thetas[i + 1]),
            ]);
            counts = want;
        }
    }
    Ok(Sweep {
        parameter,
        values: grid_thetas.iter().map(|&t| family.value(t)).collect(),
        sets,
        branches,
        events,
        unexplained,
        incomplete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::samples::classify::train_spacing;
    use crate::dataset::synthetic::{kgon, two_points};
    use ndarray::{Array2, array};

    fn config(patterns: &Array2<f64>, steps: usize) -> SweepConfig {
        let mut search = SearchConfig::for_spacing(train_spacing(patterns.view()).unwrap());
        search.random_starts = 30;
        SweepConfig {
            steps,
            tolerance: 1e-9,
            search,
        }
    }

    fn counts(minima: usize, saddles: usize, maxima: usize) -> Counts {
        Counts {
            minima,
            saddles,
            maxima,
        }
    }

    /// The independent check: fresh multi-start critical sets on a dense grid (offset from the
    /// sweep's). Between neighbouring values a change is a change of the counts by index, or of
    /// the index of a point's nearest neighbour (within a quarter of the pattern spacing).
    /// Every change must bracket a reported event, and every event must sit in a bracket with a
    /// change.
    fn dense_check(p: &Array2<f64>, parameter: Parameter, from: f64, to: f64, n: usize, s: &Sweep) {
        let family = Family::new(p.view(), parameter).unwrap();
        let spacing = train_spacing(p.view()).unwrap();
        let mut search = SearchConfig::for_spacing(spacing);
        search.random_starts = 60;
        let (lo, hi) = (family.theta(from), family.theta(to));
        let thetas: Vec<f64> = (0..n)
            .map(|i| lo + (hi - lo) * (i as f64 + 0.37) / n as f64)
            .collect();
        let sets: Vec<CriticalSet> = thetas
            .iter()
            .map(|&t| critical_points(&family.landscape(t).unwrap(), &search, None).unwrap())
            .collect();
        // a point's match: its nearest neighbour on the other side, when that is mutual and
        // clearly nearer (half the distance) than the second nearest
        let dist = |p: &[f64], q: &[f64]| -> f64 {
            p.iter()
                .zip(q)
                .map(|(u, v)| (u - v).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let nearest = |x: &[f64], set: &CriticalSet| -> Option<usize> {
            let mut d: Vec<(f64, usize)> = set
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| (dist(x, &p.x), i))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            let clear = d.len() < 2 || d[0].0 < 0.5 * d[1].0;
            (d[0].0 < 0.25 * spacing && clear).then_some(d[0].1)
        };
        let nearest_index_changed = |a: &CriticalSet, b: &CriticalSet| {
            b.points.iter().enumerate().any(|(j, q)| {
                nearest(&q.x, a).is_some_and(|i| {
                    nearest(&a.points[i].x, b) == Some(j) && a.points[i].index != q.index
                })
            })
        };
        for i in 0..n - 1 {
            let (a, b) = (&sets[i], &sets[i + 1]);
            if a.euler_characteristic != Some(1) || b.euler_characteristic != Some(1) {
                // a multi-start set can merge or miss points right next to an event: allowed
                // only there (within two grid spacings of a reported event)
                let near = (thetas[1] - thetas[0]) * 2.0;
                assert!(
                    s.events
                        .iter()
                        .any(|e| (family.theta(e.at) - thetas[i]).abs() <= near),
                    "dense grid set incomplete at {}, far from every event",
                    family.value(thetas[i])
                );
                continue;
            }
            let changed = Counts::of(a) != Counts::of(b)
                || nearest_index_changed(a, b)
                || nearest_index_changed(b, a);
            let (v0, v1) = (family.value(thetas[i]), family.value(thetas[i + 1]));
            let inside = s.events.iter().filter(|e| e.at > v0 && e.at < v1).count();
            assert_eq!(
                changed,
                inside > 0,
                "dense grid {v0}..{v1}: change {changed}, {inside} events ({:?} → {:?}); events {:?}",
                Counts::of(a),
                Counts::of(b),
                s.events.iter().map(|e| (e.at, e.kind)).collect::<Vec<_>>()
            );
        }
        assert!(s.unexplained.is_empty(), "{:?}", s.unexplained);
        assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
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
                &config(&p, 8),
            )
            .unwrap();
            assert_eq!(s.events.len(), 1, "{:?}", s.events);
            let e = &s.events[0];
            assert!((e.at - beta_c).abs() <= 1e-6 * beta_c, "{}", e.at);
            assert_eq!(e.kind, EventType::Pitchfork);
            assert_eq!(e.supercritical, Some(true));
            assert_eq!(e.kernel_dim, 1);
            assert!(e.cubic < 1e-6, "{}", e.cubic);
            assert_eq!(
                (e.counts_before, e.counts_after),
                (counts(1, 0, 0), counts(2, 1, 0))
            );
            assert_eq!(
                (e.branches[0].index_before, e.branches[0].index_after),
                (Some(0), Some(1))
            );
            assert!(e.x.iter().all(|v| v.abs() < 1e-6));
            assert!(s.unexplained.is_empty());
        }
    }

    #[test]
    fn threefold_symmetry_three_saddles_pass_through_the_centre() {
        // The D3 triangle of radius 1. Its centre is critical for every beta (symmetry) with
        // Cov_p = (1/3) Σ ξξᵀ = I/2 there, so Hess E = (1 − beta/2) I vanishes at beta = 2 with
        // a 2-dimensional kernel (theory.md §1, §7.20: the K-gon centroid splits at t = 1/2).
        // D3 allows the cubic Re(z³) (Golubitsky, Stewart & Schaeffer II, ch. XII §5): three
        // index-1 saddles pass through the centre, which turns from minimum to maximum; the
        // counts by index do not change. Earlier, three symmetric folds (one per vertex) create
        // the vertex minima with those saddles.
        let p = kgon(3, 1.0, 0.0);
        let s = sweep(p.view(), Parameter::Beta, 1.0, 4.0, &config(&p, 12)).unwrap();
        let centre: Vec<&Event> = s
            .events
            .iter()
            .filter(|e| e.kind == EventType::Symmetric)
            .collect();
        assert_eq!(centre.len(), 1, "{:?}", s.events);
        let e = centre[0];
        assert!((e.at - 2.0).abs() < 1e-6, "{}", e.at);
        assert_eq!((e.kernel_dim, e.k), (2, Some(3)));
        assert!(e.x.iter().all(|v| v.abs() < 1e-6), "{:?}", e.x);
        assert_eq!(
            (e.branches[0].index_before, e.branches[0].index_after),
            (Some(0), Some(2))
        );
        for b in &e.branches[1..] {
            assert_eq!((b.index_before, b.index_after), (Some(1), Some(1)));
        }
        // the centre leaves the minima for the maxima; the saddles stay
        let mut expected = e.counts_before;
        (expected.minima, expected.maxima) = (expected.minima - 1, expected.maxima + 1);
        assert_eq!(e.counts_after, expected);
        let folds: Vec<&Event> = s
            .events
            .iter()
            .filter(|e| e.kind == EventType::Fold)
            .collect();
        assert_eq!(folds.len(), 3, "{:?}", s.events);
        assert!(
            folds
                .iter()
                .all(|f| (f.at - folds[0].at).abs() < 1e-8 && f.kernel_dim == 1)
        );
        assert_eq!(s.events.len(), 4);
        dense_check(&p, Parameter::Beta, 1.0, 4.0, 300, &s);
    }

    #[test]
    fn fourfold_symmetry_eight_branches_born_at_the_centre() {
        // The D4 square of radius 1: the same centre degeneracy at beta = 2 (kernel 2), but D4
        // forbids the cubic term, so the 4 minima and 4 saddles are born at the centre together
        // (a symmetric pitchfork, k = 8) and the centre turns from minimum to maximum.
        let p = kgon(4, 1.0, 0.0);
        let s = sweep(p.view(), Parameter::Beta, 1.0, 4.0, &config(&p, 12)).unwrap();
        assert_eq!(s.events.len(), 1, "{:?}", s.events);
        let e = &s.events[0];
        assert_eq!(
            (e.kind, e.kernel_dim, e.k),
            (EventType::Symmetric, 2, Some(8))
        );
        assert!((e.at - 2.0).abs() < 1e-6, "{}", e.at);
        assert_eq!(
            (e.counts_before, e.counts_after),
            (counts(1, 0, 0), counts(4, 4, 1))
        );
        assert_eq!(
            (e.branches[0].index_before, e.branches[0].index_after),
            (Some(0), Some(2))
        );
        dense_check(&p, Parameter::Beta, 1.0, 4.0, 300, &s);
    }

    #[test]
    fn dihedral_centres_give_one_symmetric_event_with_two_k_branches() {
        // Regular K-gons of radius 1, K = 5, 6, 8 (theory.md §2, the D_K centre; Golubitsky,
        // Stewart & Schaeffer II, ch. XII): at beta = 2 the centre turns from minimum to
        // maximum (kernel 2) and 2K points are born on its mirror lines, K minima toward the
        // patterns or the edge midpoints and K saddles between, which differ in energy only at
        // order r^K. One symmetric event, k = 2K, no other event near it, and the counts
        // carried across it equal the multi-start sets' on both sides (nothing unexplained).
        for k in [5usize, 6, 8] {
            let p = kgon(k, 1.0, 0.0);
            let s = sweep(p.view(), Parameter::Beta, 1.0, 6.0, &config(&p, 24)).unwrap();
            assert_eq!(s.events.len(), 1, "K = {k}: {:?}", s.events);
            let e = &s.events[0];
            assert_eq!(
                (e.kind, e.kernel_dim, e.k),
                (EventType::Symmetric, 2, Some(2 * k)),
                "K = {k}"
            );
            assert!((e.at - 2.0).abs() < 1e-6, "K = {k}: {}", e.at);
            assert_eq!(
                (e.counts_before, e.counts_after),
                (counts(1, 0, 0), counts(k, k, 1)),
                "K = {k}"
            );
            assert!(s.unexplained.is_empty(), "K = {k}: {:?}", s.unexplained);
        }
    }

    #[test]
    fn transcritical_where_a_pattern_sits_on_a_saddle() {
        // Derivation. Let x* be a critical point of the patterns without pattern 3 (here the
        // index-1 point between 0 and 1 of {0, 1, 1.7} at beta = 6) and put pattern 3 at x*
        // with weight w. Then D_w(x*) = (Z₀ x* + w x*)/(Z₀ + w) = x* for every w, with
        // Z₀ = Σ_μ exp(−beta |x* − ξ_μ|²/2): x* is a branch for all w. The mixture's covariance
        // there is Cov_w = Z₀/(Z₀ + w) Cov₀, so Hess E = 1 − beta c Z₀/(Z₀ + w) (c = Cov₀)
        // vanishes at w* = Z₀ (beta c − 1). Nothing is symmetric (κ₃ ≠ 0), so a second branch
        // crosses x* there and the two exchange index 1 ↔ 0: a transcritical bifurcation.
        let beta = 6.0;
        let base = array![[0.0], [1.0], [1.7]];
        let land = crate::denoiser::Landscape::new(base.view(), beta).unwrap();
        let set = critical_points(&land, &config(&base, 2).search, None).unwrap();
        let saddle = set
            .points
            .iter()
            .find(|q| q.index == 1 && q.x[0] > 0.0 && q.x[0] < 1.0)
            .unwrap();
        let x = saddle.x[0];
        let (cov, _) = land.covariance(ndarray::ArrayView1::from(&saddle.x));
        let z0: f64 = base
            .iter()
            .map(|&xi| (-beta * (x - xi).powi(2) / 2.0).exp())
            .sum();
        let w_star = z0 * (beta * cov[[0, 0]] - 1.0);
        assert!(w_star > 0.1 && w_star < 0.9, "{w_star}");
        let p = array![[0.0], [1.0], [1.7], [x]];
        let parameter = Parameter::Weight { index: 3, beta };
        let s = sweep(p.view(), parameter, 0.0, 1.0, &config(&base, 8)).unwrap();
        let e = s
            .events
            .iter()
            .find(|e| e.kind == EventType::Transcritical)
            .unwrap_or_else(|| panic!("{:?}", s.events));
        assert!((e.at - w_star).abs() < 1e-6, "{} vs {w_star}", e.at);
        assert!((e.x[0] - x).abs() < 1e-6);
        assert_eq!(e.kernel_dim, 1);
        assert!(e.cubic > 1e-3, "{}", e.cubic);
        let mut swaps: Vec<(Option<usize>, Option<usize>)> = e
            .branches
            .iter()
            .map(|b| (b.index_before, b.index_after))
            .collect();
        swaps.sort();
        assert_eq!(swaps, vec![(Some(0), Some(1)), (Some(1), Some(0))]);
        assert_eq!(e.counts_before, e.counts_after);
        dense_check(&p, parameter, 0.0, 1.0, 300, &s);
        // branch switching: continued from the persistent branch x* alone, the crossing branch
        // is found at w*, and reaches w = 0 on one side
        let branches = branches_from(
            p.view(),
            parameter,
            0.0,
            1.0,
            &[(0.2, vec![x])],
            &config(&base, 8),
        )
        .unwrap();
        assert!(branches.len() >= 2, "{}", branches.len());
        let crossing = &branches[1];
        assert!(
            crossing
                .points
                .iter()
                .any(|q| (q.at - w_star).abs() < 1e-3 && (q.x[0] - x).abs() < 1e-2)
        );
        assert!(
            crossing
                .points
                .iter()
                .all(|q| (q.x[0] - x).abs() > 1e-12 || (q.at - w_star).abs() < 1e-6)
        );
    }

    #[test]
    fn random_configurations_are_complete_and_phantom_free() {
        for (k, d, seed) in [(4, 2, 1u64), (5, 2, 2), (4, 3, 3), (5, 3, 4)] {
            let p = crate::rng::normal_matrix(k, d, seed);
            let s = sweep(p.view(), Parameter::Beta, 0.3, 30.0, &config(&p, 24)).unwrap();
            assert!(!s.events.is_empty());
            for e in &s.events {
                assert_eq!(e.kind, EventType::Fold, "K={k} d={d}: {e:?}");
                assert!(e.cubic > 1e-6);
            }
            dense_check(&p, Parameter::Beta, 0.3, 30.0, 400, &s);
        }
    }

    #[test]
    fn continuation_follows_a_fold_around_its_turning_point() {
        // ±1 with weights (1, 0.7): the symmetry is broken, the pitchfork unfolds into a smooth
        // branch and a fold at beta_f > 1, where a minimum and a saddle appear together. One
        // branch carries both, through the turning point.
        let p = two_points(2.0, 1);
        let parameter = Parameter::BetaWeighted {
            index: 1,
            weight: 0.7,
        };
        let s = sweep(p.view(), parameter, 0.5, 4.0, &config(&p, 12)).unwrap();
        assert_eq!(s.events.len(), 1, "{:?}", s.events);
        let fold = &s.events[0];
        assert_eq!(fold.kind, EventType::Fold);
        let branch = s
            .branches
            .iter()
            .find(|b| b.special.iter().any(|sp| sp.turning))
            .unwrap();
        let turn = branch.special.iter().position(|sp| sp.turning).unwrap();
        let sp = &branch.special[turn];
        assert_eq!(sp.index_before + sp.index_after, 1);
        let lowest = branch
            .points
            .iter()
            .map(|q| q.at)
            .fold(f64::INFINITY, f64::min);
        assert!((lowest - fold.at).abs() < 1e-9 * fold.at);
        let arms: Vec<usize> = branch.points.iter().map(|q| q.index).collect();
        assert!(arms.contains(&0) && arms.contains(&1));
        // both arms reach the end of the range
        let high: Vec<&crate::analysis::landscape::continuation::BranchPoint> =
            branch.points.iter().filter(|q| q.at > 3.99).collect();
        assert_eq!(high.len(), 2, "{:?}", branch.points.len());
        // the fold independently: Newton on (x, beta) for x = D(x), beta Var_p = 1
        let (mut x, mut b) = (fold.x[0] + 0.01, fold.at * 1.01);
        let family = Family::new(p.view(), parameter).unwrap();
        for _ in 0..50 {
            let f = |x: f64, b: f64| {
                let land = family.landscape(b.ln()).unwrap();
                let xs = ndarray::arr1(&[x]);
                (land.gradient(xs.view())[0], land.hessian(xs.view())[[0, 0]])
            };
            let (g, h) = f(x, b);
            let e = 1e-7;
            let (gx, hx) = f(x + e, b);
            let (gb, hb) = f(x, b + e);
            let j = [[(gx - g) / e, (gb - g) / e], [(hx - h) / e, (hb - h) / e]];
            let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
            x -= (j[1][1] * g - j[0][1] * h) / det;
            b -= (-j[1][0] * g + j[0][0] * h) / det;
        }
        assert!((b - fold.at).abs() < 1e-8, "{b} vs {}", fold.at);
        assert!((x - fold.x[0]).abs() < 1e-5, "{x} vs {:?}", fold.x);
    }

    #[test]
    fn the_branch_switches_at_a_pitchfork() {
        // Continued from the origin alone, the branch switching at beta_c = 1 finds the two
        // memories, which at beta = 2 sit at ±0.957504 (theory.md §5).
        let p = two_points(2.0, 3);
        let branches = branches_from(
            p.view(),
            Parameter::Beta,
            0.5,
            2.0,
            &[(0.5, vec![0.0, 0.0, 0.0])],
            &config(&p, 8),
        )
        .unwrap();
        assert!(branches.len() >= 2, "{}", branches.len());
        let ends: Vec<f64> = branches
            .iter()
            .flat_map(|b| b.points.iter())
            .filter(|q| (q.at - 2.0).abs() < 1e-9 && q.index == 0)
            .map(|q| q.x[0])
            .collect();
        assert_eq!(ends.len(), 2, "{ends:?}");
        for x in ends {
            assert!((x.abs() - 0.957504).abs() < 1e-6, "{x}");
        }
    }

    #[test]
    fn the_pitchfork_is_the_cusp_of_its_unfolding() {
        // ±1 with weights (1, w): for w ≠ 1 the pitchfork at beta = 1 unfolds into a fold at
        // beta_f(w) > 1. The fold curve in (beta, w) passes through (1, 1), where D³E[v,v,v]
        // changes sign (it vanishes by symmetry): a cusp, with quartic −beta³κ₄ = 2 > 0 there
        // (theory.md §5: κ₄ = −2a⁴ for ±a).
        let p = two_points(2.0, 1);
        let curves =
            fold_curves(p.view(), 1, (0.5, 3.0), (0.5, 1.5), &[0.8], &config(&p, 12)).unwrap();
        assert_eq!(curves.len(), 1, "{curves:?}");
        let c = &curves[0];
        assert_eq!(c.cusps.len(), 1, "{:?}", c.cusps);
        let cusp = &c.cusps[0];
        assert!(
            (cusp.beta - 1.0).abs() < 1e-6 && (cusp.weight - 1.0).abs() < 1e-6,
            "{cusp:?}"
        );
        assert!((cusp.quartic - 2.0).abs() < 1e-4, "{cusp:?}");
        // folds on both sides of the cusp, at beta > 1
        assert!(c.points.iter().any(|q| q.weight < 0.9) && c.points.iter().any(|q| q.weight > 1.1));
        assert!(c.points.iter().all(|q| q.beta >= 1.0 - 1e-9));
    }

    #[test]
    fn bad_ranges() {
        let p = two_points(2.0, 1);
        let c = config(&p, 8);
        let err = |r: Result<Sweep>| r.unwrap_err().to_string();
        assert!(err(sweep(p.view(), Parameter::Beta, 2.0, 1.0, &c)).contains("from < to"));
        assert!(
            err(sweep(p.view(), Parameter::Beta, -1.0, 1.0, &c))
                .contains("beta range must be from > 0")
        );
        assert!(
            err(sweep(
                p.view(),
                Parameter::Weight {
                    index: 5,
                    beta: 1.0
                },
                0.0,
                1.0,
                &c
            ))
            .contains("weight index must be a pattern index below 2")
        );
        let coarse = SweepConfig { steps: 3, ..c };
        assert!(
            err(sweep(p.view(), Parameter::Beta, 0.1, 10.0, &coarse))
                .contains("steps must be ≥ 20")
        );
        let fine = SweepConfig {
            tolerance: 1e-15,
            ..c
        };
        assert!(
            err(sweep(p.view(), Parameter::Beta, 0.5, 2.0, &fine))
                .contains("tolerance must be within")
        );
    }
}
