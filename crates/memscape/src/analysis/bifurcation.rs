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
//!    at θ* ± ε near it are found ([`local_points`]); those not yet on a branch start new
//!    branches (branch switching).
//! 4. Each special point is an event candidate. Its critical points on both sides, at θ* ± ε,
//!    are paired by continuation through the point ([`LocalChange`]); where nothing changes (no
//!    point born or lost, no paired branch changes index) no event is reported.
//! 5. The counts by index carried from one grid value across the events to the next must equal
//!    that value's multi-start counts; an interval where they do not is reported as unexplained.
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
//!                through; the D4 square: k = 8 points are born)
//! degenerate     any other change at a point with n = 1
//! ```

use serde::Serialize;

pub use super::continuation::Parameter;
use super::continuation::{Branch, ContinuationConfig, End, Family};
use super::critical::{CriticalSet, SearchConfig, critical_points, symmetric_eigen};
use super::local::{LocalChange, LocalPoint, local_points};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2};

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

    /// Adds (`sign` = 1) or removes (−1) a point of Morse index `index` in dimension `d`.
    fn add(&mut self, index: usize, d: usize, sign: i64) {
        let slot = match index {
            0 => &mut self.minima,
            i if i == d => &mut self.maxima,
            _ => &mut self.saddles,
        };
        *slot = (*slot as i64 + sign).max(0) as usize;
    }
}

/// The type of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Fold,
    Pitchfork,
    Transcritical,
    Symmetric,
    Degenerate,
}

/// One branch meeting at an event point: its index on each side (None where it does not exist
/// on that side) and the unit direction from the point toward it (after the event where it
/// exists there).
#[derive(Debug, Clone, Serialize)]
pub struct EventBranch {
    pub index_before: Option<usize>,
    pub index_after: Option<usize>,
    pub direction: Vec<f64>,
}

/// One bifurcation.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Parameter value (beta, or w).
    pub at: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Where it happens.
    pub x: Vec<f64>,
    /// Hessian eigenvalues that vanish at the point.
    pub kernel_dim: usize,
    /// Every branch that meets at the point; the first passes through with the smallest
    /// displacement (the centre of a pitchfork or of a symmetric event).
    pub branches: Vec<EventBranch>,
    /// For a symmetric event: the branches meeting at the point besides the centre.
    pub k: Option<usize>,
    /// |D³E\[v,v,v\]| along the softest direction v (0 for a symmetric pitchfork).
    pub cubic: f64,
    /// For a pitchfork: whether the new pair has the lower index (supercritical).
    pub supercritical: Option<bool>,
    /// All critical points just before and just after (the counts carried across events from
    /// the grid's multi-start sets).
    pub counts_before: Counts,
    pub counts_after: Counts,
}

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

/// How an event changes the counts: (Morse index, +1 or −1) per point gained or lost.
type CountChange = Vec<(usize, i64)>;

/// The event at a special point (θ*, x*), or None when nothing changes there.
fn event_at(
    family: &Family,
    theta: f64,
    x: &Array1<f64>,
    radius: f64,
) -> Result<Option<(Event, CountChange)>> {
    let d = x.len();
    let land = family.landscape(theta)?;
    let hessian = land.hessian(x.view());
    let (values, vectors) = symmetric_eigen(&hessian);
    let top = values.iter().fold(1.0f64, |m, l| m.max(l.abs()));
    let kernel_dim = values.iter().filter(|l| l.abs() <= 1e-5 * top).count();
    // The local Euler characteristic Σ(−1)^index over the ball is the same on both sides
    // (Poincaré–Hopf: no critical point crosses its boundary). Where the sides disagree the
    // new points are not resolved at this ε — e.g. the D_K centre for K ≥ 5, whose born points
    // differ in energy only at order r^K — so ε (and the radius with √ε) grows tenfold, up to
    // 1e-2; past that the event is reported as it stands, and the carried counts show it.
    let chi = |points: &[LocalPoint]| -> i64 {
        points
            .iter()
            .map(|p| if p.index % 2 == 0 { 1 } else { -1 })
            .sum()
    };
    let mut eps = side_step(theta);
    let mut radius = radius;
    let (before, after) = loop {
        let before = local_points(&family.landscape(theta - eps)?, x.view(), &hessian, radius);
        let after = local_points(&family.landscape(theta + eps)?, x.view(), &hessian, radius);
        if chi(&before) == chi(&after) || eps >= 1e-2 * theta.abs().max(1.0) {
            break (before, after);
        }
        eps *= 10.0;
        radius *= 10f64.sqrt();
    };
    let mut change = LocalChange::of(x.view(), &before, &after);
    if !change.changed(&before, &after) {
        return Ok(None);
    }
    // A branch that keeps its index belongs to the event only if it meets the point: closer
    // to x* at θ* ± ε/16 (a branch through the point moves ∝ ε). Other critical points inside
    // the radius are bystanders.
    // (searched only when some paired branch keeps its index)
    let near = if change
        .through
        .iter()
        .any(|&(i, j)| before[i].index == after[j].index)
    {
        local_points(
            &family.landscape(theta - eps / 16.0)?,
            x.view(),
            &hessian,
            radius,
        )
    } else {
        vec![]
    };
    let distance = |p: &Array1<f64>| (p - x).mapv(|v| v * v).sum().sqrt();
    change.through.retain(|&(i, j)| {
        before[i].index != after[j].index
            || near.iter().any(|q| {
                q.index == before[i].index && distance(&q.x) <= 0.5 * distance(&before[i].x)
            })
    });
    let unit = |p: &LocalPoint| {
        let v = &p.x - x;
        let n = v.dot(&v).sqrt();
        if n > 0.0 {
            (v / n).to_vec()
        } else {
            vec![0.0; d]
        }
    };
    let displacement = |&(i, j): &(usize, usize)| {
        let (a, b) = (&before[i].x - x, &after[j].x - x);
        a.dot(&a).sqrt() + b.dot(&b).sqrt()
    };
    let mut through = change.through.clone();
    through.sort_by(|p, q| displacement(p).total_cmp(&displacement(q)));
    let mut branches: Vec<EventBranch> = through
        .iter()
        .map(|&(i, j)| EventBranch {
            index_before: Some(before[i].index),
            index_after: Some(after[j].index),
            direction: unit(&after[j]),
        })
        .collect();
    branches.extend(change.died.iter().map(|&i| EventBranch {
        index_before: Some(before[i].index),
        index_after: None,
        direction: unit(&before[i]),
    }));
    branches.extend(change.born.iter().map(|&j| EventBranch {
        index_before: None,
        index_after: Some(after[j].index),
        direction: unit(&after[j]),
    }));
    let soft = (0..d)
        .min_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()))
        .unwrap_or(0);
    let (d3, _) = land.directional_derivatives_3_4(x.view(), vectors.column(soft));
    let (n_through, n_born, n_died) = (through.len(), change.born.len(), change.died.len());
    let index_changed = |&(i, j): &(usize, usize)| before[i].index != after[j].index;
    let kind = if kernel_dim >= 2 {
        EventType::Symmetric
    } else if n_through == 0 && n_born + n_died == 2 {
        EventType::Fold
    } else if n_through == 1 && n_born + n_died == 2 && index_changed(&through[0]) {
        EventType::Pitchfork
    } else if n_through == 2 && n_born + n_died == 0 && through.iter().all(index_changed) {
        EventType::Transcritical
    } else {
        EventType::Degenerate
    };
    let supercritical = (kind == EventType::Pitchfork).then(|| {
        let (i, j) = through[0];
        let central = before[i].index.min(after[j].index);
        change
            .born
            .iter()
            .map(|&j| after[j].index)
            .chain(change.died.iter().map(|&i| before[i].index))
            .all(|k| k == central)
    });
    // the change of the counts: (index, ±1)
    let mut delta: Vec<(usize, i64)> = vec![];
    for &(i, j) in &through {
        if before[i].index != after[j].index {
            delta.push((before[i].index, -1));
            delta.push((after[j].index, 1));
        }
    }
    delta.extend(change.died.iter().map(|&i| (before[i].index, -1)));
    delta.extend(change.born.iter().map(|&j| (after[j].index, 1)));
    let zero = Counts {
        minima: 0,
        saddles: 0,
        maxima: 0,
    };
    Ok(Some((
        Event {
            at: family.value(theta),
            kind,
            x: x.to_vec(),
            kernel_dim: kernel_dim.max(1),
            k: (kind == EventType::Symmetric).then(|| branches.len().saturating_sub(1)),
            branches,
            cubic: d3.abs(),
            supercritical,
            counts_before: zero,
            counts_after: zero,
        },
        delta,
    )))
}

/// The step ε in θ to either side of an event at which its critical points are compared and
/// from which branch switching starts.
fn side_step(theta: f64) -> f64 {
    1e-5 * theta.abs().max(1.0)
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

/// A point on a curve of folds in the (beta, w) plane.
#[derive(Debug, Clone, Serialize)]
pub struct FoldPoint {
    pub beta: f64,
    pub weight: f64,
    pub x: Vec<f64>,
    /// D³E\[v,v,v\] along the unit kernel vector v (continued along the curve, so its sign is
    /// meaningful): the fold's quadratic coefficient, zero at a cusp.
    pub cubic: f64,
}

/// A cusp: a point of a fold curve where the cubic coefficient D³E\[v,v,v\] vanishes
/// (theory.md §2, generic codim-2), with the centre-manifold quartic
/// c = D⁴E\[v⁴\] − 3 Σ_j (D³E\[v,v,e_j\])²/μ_j (e_j, μ_j: the other Hessian eigenpairs) that must
/// not vanish there.
#[derive(Debug, Clone, Serialize)]
pub struct Cusp {
    pub beta: f64,
    pub weight: f64,
    pub x: Vec<f64>,
    pub quartic: f64,
}

/// A curve of folds followed in (beta, w), with the cusps on it.
#[derive(Debug, Clone, Serialize)]
pub struct FoldCurve {
    pub points: Vec<FoldPoint>,
    pub cusps: Vec<Cusp>,
    pub ends: [super::continuation::End; 2],
}

/// The fold curves of pattern `index`'s weight and beta, in z = (x/s, v, ln beta, w) (the
/// standard augmented system, Allgower & Georg §8; MatCont's `LP` continuation):
///
/// ```text
/// ∇E(x; beta, w) = 0,   Hess E(x; beta, w) v = 0,   cᵀv = 1      (2d + 1 equations)
/// ```
///
/// with c the kernel vector at the start. The Jacobian is by central differences (step 1e-7);
/// Newton then converges to the residual's round-off, not to the difference error.
struct FoldSystem {
    family: Family,
    reference: Array1<f64>,
}

impl FoldSystem {
    fn parts(&self, z: &Array1<f64>) -> (Array1<f64>, Array1<f64>, f64, f64) {
        let d = self.reference.len();
        (
            z.slice(ndarray::s![..d]).mapv(|v| v * self.family.scale),
            z.slice(ndarray::s![d..2 * d]).to_owned(),
            z[2 * d].exp(),
            z[2 * d + 1],
        )
    }

    fn landscape(&self, beta: f64, weight: f64) -> Result<crate::denoiser::Landscape> {
        let Parameter::Weight { index, .. } = self.family.parameter else {
            unreachable!("fold curves move a weight")
        };
        let mut m = vec![1.0; self.family.patterns().nrows()];
        m[index] = weight.max(0.0);
        crate::denoiser::Landscape::with_multiplicities(self.family.patterns(), &m, beta)
    }

    fn residual(&self, z: &Array1<f64>) -> Result<Array1<f64>> {
        let d = self.reference.len();
        let (x, v, beta, weight) = self.parts(z);
        let land = self.landscape(beta, weight)?;
        let mut r = Array1::zeros(2 * d + 1);
        r.slice_mut(ndarray::s![..d])
            .assign(&(land.gradient(x.view()) / self.family.scale));
        r.slice_mut(ndarray::s![d..2 * d])
            .assign(&land.hessian(x.view()).dot(&v));
        r[2 * d] = self.reference.dot(&v) - 1.0;
        Ok(r)
    }

    /// D³E[v̂,v̂,v̂] at z, v̂ = v/|v|.
    fn cubic(&self, z: &Array1<f64>) -> Result<f64> {
        let (x, v, beta, weight) = self.parts(z);
        let unit = &v / v.dot(&v).sqrt();
        Ok(self
            .landscape(beta, weight)?
            .directional_derivatives_3_4(x.view(), unit.view())
            .0)
    }
}

impl super::continuation::Curve for FoldSystem {
    fn eval(&self, z: &Array1<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
        let r = self.residual(z)?;
        let mut j = Array2::zeros((r.len(), z.len()));
        let h = 1e-7;
        for c in 0..z.len() {
            let (mut a, mut b) = (z.clone(), z.clone());
            a[c] += h;
            b[c] -= h;
            j.column_mut(c)
                .assign(&((self.residual(&a)? - self.residual(&b)?) / (2.0 * h)));
        }
        Ok((r, j))
    }
}

/// The centre-manifold quartic at a cusp (see [`Cusp`]), from the joint cumulants of ξ·u under
/// the Hopfield weights: D³E[u,u,w] = −beta² E_p[(a − ā)²(b − b̄)], a = ξ·u, b = ξ·w.
fn cusp_quartic(land: &crate::denoiser::Landscape, x: &Array1<f64>, v: &Array1<f64>) -> f64 {
    let (values, vectors) = symmetric_eigen(&land.hessian(x.view()));
    let soft = (0..values.len())
        .min_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()))
        .unwrap_or(0);
    let p = land.weights(x.view());
    let patterns = land.patterns();
    let a: Array1<f64> = patterns.dot(v);
    let abar = p.dot(&a);
    let (_, d4) = land.directional_derivatives_3_4(x.view(), v.view());
    let mut correction = 0.0;
    for j in (0..values.len()).filter(|&j| j != soft) {
        let b: Array1<f64> = patterns.dot(&vectors.column(j));
        let bbar = p.dot(&b);
        let m: f64 = (0..a.len())
            .map(|i| p[i] * (a[i] - abar).powi(2) * (b[i] - bbar))
            .sum();
        let d3 = -land.beta * land.beta * m;
        correction += d3 * d3 / values[j];
    }
    d4 - 3.0 * correction
}

/// Follows the curves of folds of pattern `index`'s weight w and beta within
/// [`beta_from`, `beta_to`] × [`weights.0`, `weights.1`] (w is a multiplicity and may exceed 1),
/// from the folds of beta sweeps at each of `seed_weights`; detects cusps on them.
pub fn fold_curves(
    patterns: ndarray::ArrayView2<f64>,
    index: usize,
    beta_range: (f64, f64),
    weight_range: (f64, f64),
    seed_weights: &[f64],
    config: &SweepConfig,
) -> Result<Vec<FoldCurve>> {
    let (beta_from, beta_to) = beta_range;
    if !(weight_range.0.is_finite() && weight_range.1.is_finite())
        || weight_range.0 < 0.0
        || weight_range.0 >= weight_range.1
    {
        return Err(Error::invalid(
            "weight range",
            "finite, 0 ≤ from < to",
            format!("{} .. {}", weight_range.0, weight_range.1),
        ));
    }
    if seed_weights.is_empty()
        || seed_weights
            .iter()
            .any(|w| !(weight_range.0..=weight_range.1).contains(w))
    {
        return Err(Error::invalid(
            "seed weights",
            format!(
                "at least one, within the weight range {} .. {}",
                weight_range.0, weight_range.1
            ),
            format!("{seed_weights:?}"),
        ));
    }
    let family = Family::new(
        patterns,
        Parameter::Weight {
            index,
            beta: beta_from,
        },
    )?;
    let d = patterns.ncols();
    let (tlo, thi) = (beta_from.ln(), beta_to.ln());
    let inside = |z: &Array1<f64>| {
        (tlo..=thi).contains(&z[2 * d]) && (weight_range.0..=weight_range.1).contains(&z[2 * d + 1])
    };
    let continuation = continuation_config(config);
    let mut curves: Vec<FoldCurve> = vec![];
    for &w in seed_weights {
        let s = sweep(
            patterns,
            Parameter::BetaWeighted { index, weight: w },
            beta_from,
            beta_to,
            config,
        )?;
        for e in s.events.iter().filter(|e| e.kind == EventType::Fold) {
            let known = curves.iter().any(|c| {
                c.points.windows(2).any(|p| {
                    let (a, b) = (&p[0], &p[1]);
                    let spans = (a.weight - w) * (b.weight - w) <= 0.0;
                    spans && {
                        let f = if a.weight == b.weight {
                            0.5
                        } else {
                            (w - a.weight) / (b.weight - a.weight)
                        };
                        let beta = a.beta + f * (b.beta - a.beta);
                        let dx: f64 =
                            a.x.iter()
                                .zip(&b.x)
                                .zip(&e.x)
                                .map(|((p, q), r)| (p + f * (q - p) - r).powi(2))
                                .sum::<f64>()
                                .sqrt();
                        (beta - e.at).abs() <= 1e-3 * e.at && dx <= 1e-3 * family.scale
                    }
                })
            });
            if known {
                continue;
            }
            let x = Array1::from(e.x.clone());
            let land = Family::new(patterns, Parameter::BetaWeighted { index, weight: w })?
                .landscape(e.at.ln())?;
            let (values, vectors) = symmetric_eigen(&land.hessian(x.view()));
            let soft = (0..d)
                .min_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()))
                .unwrap_or(0);
            let v = vectors.column(soft).to_owned();
            let system = FoldSystem {
                family: family.clone(),
                reference: v.clone(),
            };
            let mut z = Array1::zeros(2 * d + 2);
            z.slice_mut(ndarray::s![..d]).assign(&(&x / family.scale));
            z.slice_mut(ndarray::s![d..2 * d]).assign(&v);
            z[2 * d] = e.at.ln();
            z[2 * d + 1] = w;
            let Some(t0) = super::continuation::tangent(&system, &z, None)? else {
                continue;
            };
            let observe = |z: &Array1<f64>, _: &Array1<f64>| Ok(system.cubic(z)? > 0.0);
            let (backward, forward) =
                super::continuation::follow_both(&system, &z, &t0, inside, observe, &continuation)?;
            let point = |z: &Array1<f64>| -> Result<FoldPoint> {
                let (x, _, beta, weight) = system.parts(z);
                Ok(FoldPoint {
                    beta,
                    weight,
                    x: x.to_vec(),
                    cubic: system.cubic(z)?,
                })
            };
            let mut points = vec![];
            for st in backward.steps.iter().rev() {
                points.push(point(&st.u)?);
            }
            for st in forward.steps.iter().skip(1) {
                points.push(point(&st.u)?);
            }
            let mut cusps = vec![];
            for c in backward.changes.iter().chain(&forward.changes) {
                let (x, v, beta, weight) = system.parts(&c.at.u);
                let unit = &v / v.dot(&v).sqrt();
                cusps.push(Cusp {
                    beta,
                    weight,
                    x: x.to_vec(),
                    quartic: cusp_quartic(&system.landscape(beta, weight)?, &x, &unit),
                });
            }
            curves.push(FoldCurve {
                points,
                cusps,
                ends: [backward.end, forward.end],
            });
        }
    }
    Ok(curves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::classify::train_spacing;
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
        let high: Vec<&crate::analysis::continuation::BranchPoint> =
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
