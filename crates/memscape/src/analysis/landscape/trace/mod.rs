//! The fixed points of a denoiser followed through a homotopy D(x; θ), θ ∈ [lo, hi]: the
//! weights of a network moving from one checkpoint to the next (training time), one pattern's
//! weight of the exact model, or the noise level ([`SigmaPath`]). Between two censuses it says which point of
//! one is which point of the other, and where points are born, die or change index.
//!
//! Method (the standard tools' — BifurcationKit, MatCont, AUTO — made matrix-free):
//! 1. Every point of the census at lo is followed toward larger θ by pseudo-arclength
//!    continuation ([`crate::analysis::landscape::continuation`]), each bordered solve by GMRES
//!    on Jacobian-vector products ([`Homotopy`]). Along the way the index #{Re λ > 1} of
//!    J = ∂D/∂x ([`super::fixed::stability`]) and the sign of the tangent's θ component are
//!    observed; a change of either is located by bisection in arclength.
//! 2. A branch ends on the boundary of the range: there it is polished by Newton–Krylov at
//!    the boundary θ and matched to a census point within `match_radius`. A branch that turns
//!    and comes back to lo is a pair that dies at a fold; a point the census lacks is kept
//!    as found by continuation.
//! 3. Every point of the census at hi that no branch reached is followed toward smaller θ: it
//!    reaches lo (a point the census at lo lacks), or turns and comes back to hi (a pair born at
//!    a fold).
//! 4. Events, from the special points of the branches:
//!
//! ```text
//! fold           a branch turns in θ: a pair of indices k, k+1 is born (the turn is a minimum
//!                of θ along the branch) or dies (a maximum); an index change that the
//!                bisection places beside the turn belongs to it
//! pitchfork      a turn that lies on another branch, whose index changes there
//! transcritical  two branches change index at one point
//! hopf           one branch changes index by 2, a complex pair crossing Re λ = 1 (a learned
//!                map need not be a gradient)
//! degenerate     any other index change
//! ```
//!
//! 5. The counts by index class carried from lo across the events must equal the census's at
//!    hi. An interval where they do not, or where a branch was lost, is not explained: the
//!    interval records why (lost branches, points the censuses lacked).
//!
//! The branches of one end are followed in parallel, each on a curve of its own (with its own
//! step in θ for ∂D/∂θ, halved where the homotopy is not smooth on it), then matched in order
//! of their census points, so an interval is the same on any number of threads.
//!
//! The homotopy of a training run, θ(s) = (1 − s) θ_i + s θ_{i+1} between consecutive
//! checkpoints, is a choice: training does not move on that chord. An event is located on the
//! chord, so its step is known to within the spacing of the checkpoints around it.

mod curve;

pub use curve::Homotopy;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::bifurcation::{Counts, EventBranch, EventType};
use crate::analysis::landscape::continuation::{
    Change, ContinuationConfig, End, Family, Step, follow, tangent,
};
use crate::analysis::landscape::fixed::{FixedPointConfig, Status, newton_krylov, stability};
use crate::analysis::landscape::krylov::Cost;
use crate::analysis::samples::distance::{nearest_distance, squared_distance};
use crate::denoiser::{Arithmetic, Denoiser};
use crate::error::{Error, Result};
use curve::MatrixFree;

/// The exact model of a family ([`Family`]) as a homotopy in its θ: ln beta, or one pattern's
/// weight w. D(x; θ) = Σ_μ p_μ ξ_μ (theory.md §1).
impl Homotopy for Family {
    fn denoise(&self, x: ArrayView2<f64>, theta: f64) -> Array2<f64> {
        let Ok(land) = self.landscape(theta) else {
            return Array2::from_elem(x.raw_dim(), f64::NAN);
        };
        let mut out = Array2::zeros(x.raw_dim());
        for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            o.assign(&land.denoise(row));
        }
        out
    }
}

/// One denoiser along its noise level, θ = ln sigma: the diagram of its fixed points as sigma
/// grows (for the exact model, beta = 1/sigma² = e^(−2θ): its beta continuation read
/// backward).
pub struct SigmaPath<'a, D: Denoiser + ?Sized>(pub &'a D);

impl<D: Denoiser + ?Sized> Homotopy for SigmaPath<'_, D> {
    fn denoise(&self, x: ArrayView2<f64>, theta: f64) -> Array2<f64> {
        self.0.denoise(x, theta.exp())
    }

    fn arithmetic(&self) -> Arithmetic {
        self.0.arithmetic()
    }
}

/// How an interval is traced.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TraceConfig {
    /// The stability analysis at every point (eigenvalues, Krylov budget, margin) and the
    /// Newton–Krylov polish at the ends.
    pub fixed: FixedPointConfig,
    /// Arclength steps, in the scaled unknowns (x / scale, θ); events are located to
    /// `continuation.tolerance` in arclength.
    pub continuation: ContinuationConfig,
    /// The central-difference displacement in θ of ∂D/∂θ.
    pub theta_step: f64,
    /// A branch's end and a census point within this (data units) are one point.
    pub match_radius: f64,
    /// The data scale.
    pub scale: f64,
}

impl TraceConfig {
    /// Defaults for data of scale `scale` and a homotopy computing in `arithmetic` over a
    /// range of width `width` in θ: arclength steps of at most 0.05, events located to 1e-7
    /// (f64) or 1e-4 (f32) in arclength (in f32 the corrector's round-off floor, 1e-3 in the
    /// scaled unknowns, bounds it first), ∂D/∂θ by central differences of 1e-5 (f64) or 1e-2
    /// (f32) × the width, ends matched within 1e-3 × the scale.
    ///
    /// ```
    /// use memscape::analysis::landscape::trace::TraceConfig;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let c = TraceConfig::for_scale(2.0, Arithmetic::F64, 1.0, 2);
    /// assert_eq!((c.theta_step, c.match_radius), (1e-5, 2e-3));
    /// assert_eq!(c.fixed.eigenvalues, 2);
    /// ```
    pub fn for_scale(scale: f64, arithmetic: Arithmetic, width: f64, dim: usize) -> Self {
        let mut fixed = FixedPointConfig::for_scale(scale, arithmetic);
        fixed.eigenvalues = fixed.eigenvalues.min(dim);
        fixed.max_arnoldi = fixed.max_arnoldi.min(dim);
        fixed.asymmetry_probes = 0;
        let (tolerance, theta_step) = match arithmetic {
            Arithmetic::F64 => (1e-7, 1e-5),
            Arithmetic::F32 => (1e-4, 1e-2),
        };
        TraceConfig {
            fixed,
            continuation: ContinuationConfig {
                step: 0.05,
                min_step: 1e-8,
                max_steps: 2000,
                tolerance,
            },
            theta_step: theta_step * width,
            match_radius: 1e-3 * scale,
            scale,
        }
    }
}

/// One point of a branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TracePoint {
    pub theta: f64,
    pub x: Vec<f64>,
    /// #{Re λ > 1} of J = ∂D/∂x (the Morse index for the exact model).
    pub index: usize,
}

/// A point at one end of an interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndPoint {
    pub x: Vec<f64>,
    pub index: usize,
    /// Whether the census gave it (else the continuation found it, and the census lacked it).
    pub census: bool,
}

/// Where a segment begins or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "point", rename_all = "snake_case")]
pub enum Terminal {
    /// Point i at lo.
    Before(usize),
    /// Point i at hi.
    After(usize),
    /// Event i of the interval.
    Event(usize),
    /// The continuation failed here.
    Lost,
}

/// A piece of a branch along which θ only grows: one point's life within the interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    pub from: Terminal,
    pub to: Terminal,
    pub points: Vec<TracePoint>,
}

/// One bifurcation in an interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceEvent {
    pub theta: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub x: Vec<f64>,
    /// Indices of the points born here.
    pub born: Vec<usize>,
    /// Indices of the points that die here.
    pub died: Vec<usize>,
    /// Branches that pass through, with their index before and after.
    pub passing: Vec<[usize; 2]>,
    /// Every branch that meets here, as `bifurcate` lists them: its index before and after
    /// (None on the side where it does not exist) and the unit direction from the event to it
    /// (toward larger θ for a branch that passes through).
    pub branches: Vec<EventBranch>,
    /// Eigenvalues of J that cross Re λ = 1 here (1 at a fold; 2 at a Hopf point).
    pub kernel_dim: usize,
}

/// One traced interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interval {
    pub from: f64,
    pub to: f64,
    /// The points at lo and at hi: the census's first, then those the continuation found.
    pub before: Vec<EndPoint>,
    pub after: Vec<EndPoint>,
    pub segments: Vec<Segment>,
    pub events: Vec<TraceEvent>,
    /// The census's counts at lo, carried across the events, and the census's at hi (a
    /// negative carried count shows as 0; `explained` compares the signed counts).
    pub counts_before: Counts,
    pub counts_carried: Counts,
    pub counts_after: Counts,
    /// Branches whose continuation failed.
    pub lost: usize,
    /// Points the continuation reached that the census at lo, or at hi, lacked.
    pub found_before: usize,
    pub found_after: usize,
    /// Whether the carried counts equal the census's at hi and no branch was lost.
    pub explained: bool,
    /// The work done, branches followed in parallel and then dropped included.
    pub cost: Cost,
    /// The smallest displacement in θ of the central differences for ∂D/∂θ on the kept
    /// branches: the first one, or the scale below which the homotopy was found smooth where it
    /// had to be halved (NaN in documents written before it was recorded).
    #[serde(
        default = "crate::numbers::nan",
        deserialize_with = "crate::numbers::null_as_nan"
    )]
    pub theta_step: f64,
}

/// What is observed along a branch: the index, and whether θ grows along the tangent.
type State = (usize, bool);

/// The index of a point at an end of the range, and the point polished there by Newton–Krylov
/// at that θ (the point as given where Newton does not converge).
fn at_end<H: Homotopy + ?Sized>(
    curve: &MatrixFree<'_, H>,
    config: &FixedPointConfig,
    theta: f64,
    x: ArrayView1<f64>,
) -> (Array1<f64>, usize) {
    let den = |x: ArrayView2<f64>, _: f64| curve.call(x, theta);
    let run = newton_krylov(&den, 0.0, x, config);
    let x = if run.status == Status::Converged {
        run.x
    } else {
        x.to_owned()
    };
    let s = stability(&den, 0.0, x.view(), config, config.seed);
    (x, s.index)
}

/// One branch followed from a census point, on its own curve.
struct Branch {
    /// Its polyline and special points (None: no tangent at the start).
    path: Option<Polyline>,
    /// Where it left the range: the side, the point polished there and its index (None: the
    /// continuation failed inside the range).
    end: Option<(usize, Array1<f64>, usize)>,
    cost: Cost,
    theta_step: f64,
}

/// Follows the census point x at θ (see [`follow_point`]) on a curve of its own, and polishes
/// its end where it left the range.
fn follow_branch<H: Homotopy + ?Sized>(
    homotopy: &H,
    config: &TraceConfig,
    end_config: &FixedPointConfig,
    theta: f64,
    x: ArrayView1<f64>,
    dir: f64,
    range: (f64, f64),
) -> Result<Branch> {
    let curve = MatrixFree::new(homotopy, config.scale, config.theta_step, x.len());
    let path = follow_point(&curve, theta, x, dir, range, config)?;
    let end = path.as_ref().filter(|p| p.end == End::Boundary).map(|p| {
        let last = curve.split(&p.steps.last().expect("a path has its start").u);
        let side = usize::from((last.0 - range.0).abs() > (last.0 - range.1).abs());
        let theta_end = if side == 0 { range.0 } else { range.1 };
        let (x_end, index) = at_end(&curve, end_config, theta_end, last.1.view());
        (side, x_end, index)
    });
    let path = path.map(|p| polyline(&curve, &p));
    Ok(Branch {
        path,
        end,
        cost: curve.cost(),
        theta_step: curve.theta_step(),
    })
}

/// Follows the fixed point x at θ toward larger θ (`dir` = 1) or smaller (−1), within `range`.
fn follow_point<H: Homotopy + ?Sized>(
    curve: &MatrixFree<'_, H>,
    theta: f64,
    x: ArrayView1<f64>,
    dir: f64,
    range: (f64, f64),
    config: &TraceConfig,
) -> Result<Option<crate::analysis::landscape::continuation::Path<State>>> {
    let u0 = curve.unknowns(theta, x);
    let Some(mut t0) = tangent(curve, &u0, None)? else {
        return Ok(None);
    };
    let d = x.len();
    if t0[d] * dir < 0.0 {
        t0 = -t0;
    }
    let observe = |u: &Array1<f64>, t: &Array1<f64>| -> Result<State> {
        let (th, x) = curve.split(u);
        let at = |x: ArrayView2<f64>, _: f64| curve.call(x, th);
        let s = stability(&at, 0.0, x.view(), &config.fixed, config.fixed.seed);
        Ok((s.index, t[d] > 0.0))
    };
    let state = observe(&u0, &t0)?;
    let inside = |u: &Array1<f64>| u[d] >= range.0 && u[d] <= range.1;
    follow(
        curve,
        Step {
            u: u0,
            t: t0,
            state,
        },
        inside,
        observe,
        &config.continuation,
    )
    .map(Some)
}

/// A branch's points, and its special points (each with its place among them).
type Polyline = (Vec<TracePoint>, Vec<(usize, Change<State>)>);

/// The polyline of a path with its special points as vertices, and the special points.
fn polyline<H: Homotopy + ?Sized>(
    curve: &MatrixFree<'_, H>,
    path: &crate::analysis::landscape::continuation::Path<State>,
) -> Polyline {
    let point = |u: &Array1<f64>, index: usize| {
        let (theta, x) = curve.split(u);
        TracePoint {
            theta,
            x: x.to_vec(),
            index,
        }
    };
    let (mut points, mut specials) = (vec![], vec![]);
    for (p, step) in path.steps.iter().enumerate() {
        points.push(point(&step.u, step.state.0));
        for c in path.changes.iter().filter(|c| c.position == p) {
            specials.push((points.len(), c.clone()));
            points.push(point(&c.at.u, c.after.0));
        }
    }
    (points, specials)
}

/// A special point of one branch, before events are formed.
struct Special {
    theta: f64,
    x: Vec<f64>,
    /// Indices on the two sides, in the order the branch was walked (put in order of θ, once
    /// merged, where the branch passes through; at a turn only the pair matters).
    before: usize,
    after: usize,
    /// Some(true): a turn where θ was growing (a death); Some(false): a birth; None: no turn.
    turn: Option<bool>,
    /// Whether the branch was walked toward larger θ here.
    forward: bool,
    /// Its vertex in the branch's polyline.
    vertex: usize,
    branch: usize,
}

/// Per branch, its special points with an index change beside a turn folded into the turn.
fn specials_of(
    branch: usize,
    list: &[(usize, Change<State>)],
    near: impl Fn(&Special, &Special) -> bool,
) -> Vec<Special> {
    let mut out: Vec<Special> = vec![];
    for (vertex, c) in list {
        let (theta, x) = (c.at.u[c.at.u.len() - 1], c.at.u.to_vec());
        let turn = (c.before.1 != c.after.1).then_some(c.before.1);
        let s = Special {
            theta,
            x,
            before: c.before.0,
            after: c.after.0,
            turn,
            forward: c.before.1,
            vertex: *vertex,
            branch,
        };
        if let Some(last) = out.last_mut()
            && (last.turn.is_some() != s.turn.is_some())
            && near(last, &s)
        {
            // one fold located twice: its turn and its index change
            last.after = s.after;
            if s.turn.is_some() {
                (last.theta, last.x, last.turn, last.vertex) = (s.theta, s.x, s.turn, s.vertex);
            }
            continue;
        }
        out.push(s);
    }
    // in order of θ: a branch walked toward smaller θ meets its indices the other way
    for s in out.iter_mut().filter(|s| s.turn.is_none() && !s.forward) {
        std::mem::swap(&mut s.before, &mut s.after);
    }
    out
}

/// Signed counts by index class: minima, saddles, maxima.
fn class(index: usize, d: usize) -> usize {
    match index {
        0 => 0,
        i if i >= d => 2,
        _ => 1,
    }
}

fn counts_of(indices: impl IntoIterator<Item = usize>, d: usize) -> [i64; 3] {
    let mut c = [0i64; 3];
    for i in indices {
        c[class(i, d)] += 1;
    }
    c
}

fn as_counts(c: [i64; 3]) -> Counts {
    Counts {
        minima: c[0].max(0) as usize,
        saddles: c[1].max(0) as usize,
        maxima: c[2].max(0) as usize,
    }
}

/// Traces the interval θ ∈ `range` of `homotopy`: the fixed points `before` (at lo) and
/// `after` (at hi), as a census gave them, paired, and the events between (module docs).
///
/// ```
/// use memscape::analysis::landscape::continuation::{Family, Parameter};
/// use memscape::analysis::landscape::trace::{TraceConfig, trace_interval};
/// use memscape::analysis::landscape::bifurcation::EventType;
/// use memscape::denoiser::Arithmetic;
/// use ndarray::array;
///
/// // ±1 at beta = 4 as pattern 0's weight w moves from 0.01 to 1: its memory is born at a fold
/// let family = Family::new(array![[1.0], [-1.0]].view(), Parameter::Weight { index: 0, beta: 4.0 })?;
/// let config = TraceConfig::for_scale(1.0, Arithmetic::F64, 1.0, 1);
/// let before = vec![vec![-0.99932]]; // the other memory alone
/// let after = vec![vec![0.99933], vec![0.0], vec![-0.99933]];
/// let t = trace_interval(&family, (0.01, 1.0), &before, &after, &config)?;
/// assert!(t.explained);
/// assert_eq!(t.events.len(), 1);
/// assert_eq!(t.events[0].kind, EventType::Fold);
/// assert_eq!(t.events[0].born, vec![0, 1]);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// An empty or reversed range, points of another dimension than the first, or a homotopy
/// whose output is not finite along a branch.
pub fn trace_interval<H: Homotopy + ?Sized>(
    homotopy: &H,
    range: (f64, f64),
    before: &[Vec<f64>],
    after: &[Vec<f64>],
    config: &TraceConfig,
) -> Result<Interval> {
    let (lo, hi) = range;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(Error::invalid(
            "range",
            "finite, with from < to",
            format!("{lo} .. {hi}"),
        ));
    }
    let Some(d) = before.iter().chain(after).map(Vec::len).next() else {
        return Ok(empty_interval(range, config.theta_step));
    };
    if let Some(bad) = before.iter().chain(after).find(|p| p.len() != d) {
        return Err(Error::invalid(
            "points",
            format!("all of dimension {d}"),
            bad.len(),
        ));
    }
    let curve = MatrixFree::new(homotopy, config.scale, config.theta_step, d);
    let end_config = FixedPointConfig {
        eigenvalues: config.fixed.eigenvalues.max(1),
        ..config.fixed
    };
    let mut sides: [Vec<EndPoint>; 2] = [before, after].map(|set| {
        set.iter()
            .map(|p| EndPoint {
                x: p.clone(),
                index: 0,
                census: true,
            })
            .collect()
    });
    for (side, theta) in [(0, lo), (1, hi)] {
        sides[side].par_iter_mut().for_each(|p| {
            p.index = at_end(&curve, &end_config, theta, ArrayView1::from(&p.x)).1;
        });
    }
    let mut covered = [vec![false; before.len()], vec![false; after.len()]];
    // the end point of `side` that x matches, added as found when none does
    let land = |side: usize,
                x: Array1<f64>,
                index: usize,
                sides: &mut [Vec<EndPoint>; 2],
                covered: &mut [Vec<bool>; 2]| {
        let r2 = config.match_radius * config.match_radius;
        let hit = sides[side]
            .iter()
            .position(|p| squared_distance(&p.x, x.iter()) <= r2);
        // a point another branch reached already: this one jumped branches
        if hit.is_some_and(|i| covered[side][i]) {
            return None;
        }
        let i = hit.unwrap_or_else(|| {
            sides[side].push(EndPoint {
                x: x.to_vec(),
                index,
                census: false,
            });
            covered[side].push(false);
            sides[side].len() - 1
        });
        covered[side][i] = true;
        Some(i)
    };
    let near = |a: &Special, b: &Special| {
        (a.theta - b.theta).abs() <= 1e-3 * (hi - lo) && squared_distance(&a.x, &b.x).sqrt() <= 0.05
    };
    let (mut segments, mut specials, mut lost) = (vec![], vec![], 0);
    let mut branches: Vec<(Vec<TracePoint>, Terminal, Terminal)> = vec![];
    let (mut cost, mut theta_step) = (Cost::default(), config.theta_step);
    for side in [0usize, 1] {
        // every census point of this side that no branch reached yet is followed, in parallel
        // and each with its own curve (its own θ step: the same result on any thread count);
        // then, in order, a branch whose start an earlier one reached is the same branch
        // walked back, and is dropped
        let (theta, dir) = if side == 0 { (lo, 1.0) } else { (hi, -1.0) };
        let todo: Vec<usize> = (0..sides[side].len())
            .filter(|&i| !covered[side][i] && sides[side][i].census)
            .collect();
        if todo.is_empty() {
            continue;
        }
        let progress = crate::progress::Task::start(
            if side == 0 {
                "trace (branches up from the first end)"
            } else {
                "trace (branches down from the second end)"
            },
            todo.len() as u64,
        );
        let followed: Vec<Result<Branch>> = todo
            .par_iter()
            .map(|&i| {
                let x = ArrayView1::from(&sides[side][i].x);
                let branch = follow_branch(homotopy, config, &end_config, theta, x, dir, range);
                progress.advance(1);
                branch
            })
            .collect();
        drop(progress);
        for (i, branch) in todo.into_iter().zip(followed) {
            // a dropped branch's error is dropped with it; the first other one, in order, is
            // the interval's
            if covered[side][i] {
                if let Ok(b) = branch {
                    cost += b.cost;
                }
                continue;
            }
            let branch = branch?;
            cost += branch.cost;
            theta_step = theta_step.min(branch.theta_step);
            covered[side][i] = true;
            let start = if side == 0 {
                Terminal::Before(i)
            } else {
                Terminal::After(i)
            };
            let Some((points, changes)) = branch.path else {
                lost += 1;
                branches.push((vec![], start, Terminal::Lost));
                continue;
            };
            specials.extend(specials_of(branches.len(), &changes, near));
            // lost where the continuation failed inside the range, or landed on a point another
            // branch reached
            let landed = branch.end.and_then(|(side_end, x_end, index)| {
                land(side_end, x_end, index, &mut sides, &mut covered).map(|j| {
                    if side_end == 0 {
                        Terminal::Before(j)
                    } else {
                        Terminal::After(j)
                    }
                })
            });
            let end = landed.unwrap_or_else(|| {
                lost += 1;
                Terminal::Lost
            });
            branches.push((points, start, end));
        }
    }
    // events: specials at one place form one event
    let mut events: Vec<TraceEvent> = vec![];
    let mut event_of = vec![usize::MAX; specials.len()];
    for (k, s) in specials.iter().enumerate() {
        let joined = (0..k).find(|&j| near(&specials[j], s)).map(|j| event_of[j]);
        let e = joined.unwrap_or_else(|| {
            events.push(TraceEvent {
                theta: s.theta,
                kind: EventType::Degenerate,
                x: s.x[..d].iter().map(|v| v * config.scale).collect(),
                born: vec![],
                died: vec![],
                passing: vec![],
                branches: vec![],
                kernel_dim: 0,
            });
            events.len() - 1
        });
        event_of[k] = e;
        let ev = &mut events[e];
        let (lo_i, hi_i) = (s.before.min(s.after), s.before.max(s.after));
        match s.turn {
            Some(true) => ev.died.extend([lo_i, hi_i]),
            Some(false) => ev.born.extend([lo_i, hi_i]),
            None => ev.passing.push([s.before, s.after]),
        }
    }
    for (k, e) in events.iter_mut().enumerate() {
        let turns = specials
            .iter()
            .zip(&event_of)
            .filter(|&(s, &ev)| ev == k && s.turn.is_some())
            .count();
        let jump = e
            .passing
            .iter()
            .map(|p| p[0].abs_diff(p[1]))
            .max()
            .unwrap_or(0);
        (e.kind, e.kernel_dim) = match (turns, e.passing.len()) {
            (1, 0) => (EventType::Fold, 1),
            (1.., 1..) => (EventType::Pitchfork, 1),
            (0, 2) => (EventType::Transcritical, 1),
            (0, 1) if jump == 2 => (EventType::Hopf, 2),
            _ => (EventType::Degenerate, jump.max(turns)),
        };
        e.born.sort_unstable();
        e.died.sort_unstable();
    }
    // the branches at each event, from the polylines around its special points
    for (k, s) in specials.iter().enumerate() {
        let points = &branches[s.branch].0;
        let ev = &mut events[event_of[k]];
        let toward = |p: &TracePoint| {
            let v: Vec<f64> = p.x.iter().zip(&ev.x).map(|(a, b)| a - b).collect();
            let n = v.iter().map(|c| c * c).sum::<f64>().sqrt();
            v.iter()
                .map(|c| if n > 0.0 { c / n } else { 0.0 })
                .collect::<Vec<f64>>()
        };
        // the nearest points on either side clear of the event (a fold located twice has its
        // other special point beside it)
        let clear = |p: &&TracePoint| squared_distance(&p.x, &ev.x).sqrt() > 1e-6 * config.scale;
        let sides: Vec<&TracePoint> = [
            points[..s.vertex].iter().rev().find(clear),
            points
                .get(s.vertex + 1..)
                .and_then(|rest| rest.iter().find(clear)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let branches_here: Vec<EventBranch> = match s.turn {
            Some(died) => sides
                .iter()
                .map(|p| EventBranch {
                    index_before: died.then_some(p.index),
                    index_after: (!died).then_some(p.index),
                    direction: toward(p),
                })
                .collect(),
            None => sides
                .iter()
                .max_by(|a, b| a.theta.total_cmp(&b.theta))
                .map(|p| EventBranch {
                    index_before: Some(s.before),
                    index_after: Some(s.after),
                    direction: toward(p),
                })
                .into_iter()
                .collect(),
        };
        ev.branches.extend(branches_here);
    }
    // in order of θ
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| events[a].theta.total_cmp(&events[b].theta));
    let mut rank = vec![0; events.len()];
    for (r, &e) in order.iter().enumerate() {
        rank[e] = r;
    }
    let events: Vec<TraceEvent> = order.iter().map(|&e| events[e].clone()).collect();
    // segments: each branch cut at its turns, oriented toward larger θ
    for (b, (points, start, end)) in branches.iter().enumerate() {
        if points.is_empty() {
            segments.push(Segment {
                from: *start,
                to: *end,
                points: vec![],
            });
            continue;
        }
        let cuts: Vec<(usize, usize)> = specials
            .iter()
            .zip(&event_of)
            .filter(|(s, _)| s.branch == b && s.turn.is_some())
            .map(|(s, &e)| (s.vertex, rank[e]))
            .collect();
        let mut from = (0usize, *start);
        for &(vertex, e) in cuts
            .iter()
            .chain(std::iter::once(&(points.len() - 1, usize::MAX)))
        {
            let to = if e == usize::MAX {
                *end
            } else {
                Terminal::Event(e)
            };
            let mut piece = points[from.0..=vertex].to_vec();
            let (mut a, mut z) = (from.1, to);
            if piece.first().map(|p| p.theta) > piece.last().map(|p| p.theta) {
                piece.reverse();
                std::mem::swap(&mut a, &mut z);
            }
            segments.push(Segment {
                from: a,
                to: z,
                points: piece,
            });
            from = (vertex, to);
        }
    }
    let census_counts =
        |side: usize| counts_of(sides[side].iter().filter(|p| p.census).map(|p| p.index), d);
    let (counts_before, counts_after) = (census_counts(0), census_counts(1));
    let carried = carry(counts_before, &events, d);
    let [before, after] = sides;
    // the census points' indices were taken on the shared curve
    cost += curve.cost();
    Ok(Interval {
        from: lo,
        to: hi,
        found_before: found_of(&before),
        found_after: found_of(&after),
        before,
        after,
        segments,
        events,
        counts_before: as_counts(counts_before),
        counts_carried: as_counts(carried),
        counts_after: as_counts(counts_after),
        explained: lost == 0 && carried == counts_after,
        lost,
        cost,
        theta_step,
    })
}

/// Signed counts carried from `counts` across `events`: +1 per point born, −1 per point that
/// dies, and each passing branch moved from its index before to its index after.
fn carry(counts: [i64; 3], events: &[TraceEvent], d: usize) -> [i64; 3] {
    let mut carried = counts;
    for e in events {
        for &i in &e.born {
            carried[class(i, d)] += 1;
        }
        for &i in &e.died {
            carried[class(i, d)] -= 1;
        }
        for p in &e.passing {
            carried[class(p[0], d)] -= 1;
            carried[class(p[1], d)] += 1;
        }
    }
    carried
}

fn found_of(points: &[EndPoint]) -> usize {
    points.iter().filter(|p| !p.census).count()
}

fn empty_interval((from, to): (f64, f64), theta_step: f64) -> Interval {
    let zero = Counts {
        minima: 0,
        saddles: 0,
        maxima: 0,
    };
    Interval {
        from,
        to,
        before: vec![],
        after: vec![],
        segments: vec![],
        events: vec![],
        counts_before: zero,
        counts_carried: zero,
        counts_after: zero,
        lost: 0,
        found_before: 0,
        found_after: 0,
        explained: true,
        cost: Cost::default(),
        theta_step,
    }
}

/// Passes over a run's intervals at most, backward then forward in turn: each interval is
/// given the points found at its ends so far.
const MAX_PASSES: usize = 4;

/// One checkpoint's census as a training trace reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Its training step.
    pub step: f64,
    /// Its isolated fixed points (attractors, saddles, uncertain points; not near-neutral sets).
    pub points: Vec<Vec<f64>>,
    /// Each point's kind as the census named it ("memory", "spurious", "saddle", ...).
    pub kinds: Vec<String>,
    /// Each point's share of the census's samples.
    pub basins: Vec<f64>,
    /// Each point's index as the census certified it (None: not certified).
    pub indices: Vec<Option<usize>>,
}

/// One point of a life: where it is at a step, as a distance to the nearest training pattern.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LifePoint {
    pub step: f64,
    pub distance: f64,
    pub index: usize,
}

/// One fixed point's life across the training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Life {
    /// The step of the event it was born at (None: no birth was located; it was already there
    /// at `first`).
    pub born: Option<f64>,
    /// The first step it is known at: its birth, or the first checkpoint it was found at.
    pub first: f64,
    /// The step it died at (None: alive at the last checkpoint, or lost).
    pub died: Option<f64>,
    /// Whether its continuation was lost somewhere (its start or its end is then where the
    /// continuation failed, not a checkpoint or an event).
    pub lost: bool,
    /// Per checkpoint, its position in that checkpoint's points (None where not alive).
    pub at: Vec<Option<usize>>,
    /// Per checkpoint, its kind there ("" where not alive; "found" where the census lacked it).
    pub kinds: Vec<String>,
    pub points: Vec<LifePoint>,
}

/// An event of the run, at its step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEvent {
    pub step: f64,
    pub interval: usize,
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// A training run's diagram: every interval between consecutive checkpoints traced, the
/// intervals stitched into lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diagram {
    pub steps: Vec<f64>,
    pub intervals: Vec<Interval>,
    pub lives: Vec<Life>,
    pub events: Vec<RunEvent>,
    /// Step intervals whose carried counts differ from the census's, or where a branch was lost.
    pub unexplained: Vec<[f64; 2]>,
    /// Whether the passes over the intervals ended with no new point found (false: the last
    /// of the 4 passes still found points, which were not traced into the neighbouring
    /// intervals).
    pub converged: bool,
    pub cost: Cost,
}

impl Diagram {
    /// The step of θ ∈ [0, 1] in interval i (linear in the homotopy's parameter).
    pub fn step_at(&self, interval: usize, theta: f64) -> f64 {
        let (a, b) = (self.steps[interval], self.steps[interval + 1]);
        a + theta * (b - a)
    }

    /// The first step of the earliest life that is `kind` at some checkpoint with at least
    /// `level` of the samples in its basin, with whether a birth was located there (false: it
    /// was already there at the first checkpoint it was found at, whose step this is).
    pub fn first_birth(
        &self,
        checkpoints: &[Checkpoint],
        kind: &str,
        level: f64,
    ) -> Option<(f64, bool)> {
        self.lives
            .iter()
            .filter(|l| {
                l.at.iter().zip(checkpoints).any(|(p, c)| {
                    p.is_some_and(|p| {
                        c.kinds.get(p).is_some_and(|k| k == kind)
                            && c.basins.get(p).is_some_and(|&b| b >= level)
                    })
                })
            })
            .map(|l| (l.first, l.born.is_some()))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// Traces a training run: interval i follows `homotopy(i)`, θ ∈ [0, 1] from checkpoint i to
/// checkpoint i + 1. A point the continuation finds at a checkpoint that its census lacks is
/// given to both intervals beside it, and the run is traced again until none is found (at
/// most 4 passes, backward from the last checkpoint, then forward, in turn); an interval is
/// explained when the census's counts at its start, carried across its events, equal the
/// census's at its end. Then the intervals are stitched into lives. `patterns` (the training set) give each
/// point its coordinate in the diagram, the distance to the nearest pattern.
///
/// One checkpoint alone gives one life per point, and no interval.
///
/// # Errors
/// No checkpoint (named `checkpoints`), steps that do not increase, and any error of
/// [`trace_interval`].
pub fn trace_run<H: Homotopy>(
    homotopy: impl Fn(usize) -> Result<H>,
    checkpoints: &[Checkpoint],
    patterns: ArrayView2<f64>,
    config: &TraceConfig,
    mut on_interval: impl FnMut(usize, &Interval),
) -> Result<Diagram> {
    // `on_interval` hears each interval of the first pass

    if checkpoints.is_empty() {
        return Err(Error::invalid("checkpoints", "at least one", 0));
    }
    if let Some(w) = checkpoints
        .windows(2)
        .find(|w| w[0].step.partial_cmp(&w[1].step) != Some(std::cmp::Ordering::Less))
    {
        return Err(Error::invalid(
            "checkpoints",
            "steps that increase",
            format!("{} then {}", w[0].step, w[1].step),
        ));
    }
    // the points known at each checkpoint: its census's, then those the continuation found;
    // intervals are traced again until no interval finds a point its neighbours lack
    let mut known: Vec<Vec<Vec<f64>>> = checkpoints.iter().map(|c| c.points.clone()).collect();
    let n = checkpoints.len().saturating_sub(1);
    let mut traced: Vec<Option<Interval>> = vec![None; n];
    let mut cost = Cost::default();
    let mut converged = false;
    for pass in 0..MAX_PASSES {
        let mut grew = false;
        // backward first: early checkpoints' censuses are the ones that miss points
        let order: Vec<usize> = if pass % 2 == 0 {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        for i in order {
            let h = homotopy(i)?;
            let interval = trace_interval(&h, (0.0, 1.0), &known[i], &known[i + 1], config)?;
            cost += interval.cost;
            for (c, side) in [(i, &interval.before), (i + 1, &interval.after)] {
                let n = known[c].len();
                if side.len() > n {
                    known[c].extend(side[n..].iter().map(|p| p.x.clone()));
                    grew = true;
                }
            }
            if pass == 0 {
                on_interval(i, &interval);
            }
            traced[i] = Some(interval);
        }
        if !grew {
            converged = true;
            break;
        }
    }
    let mut intervals: Vec<Interval> = traced.into_iter().flatten().collect();
    // the census's own points, and what the continuation added
    for (i, interval) in intervals.iter_mut().enumerate() {
        for (c, side) in [(i, &mut interval.before), (i + 1, &mut interval.after)] {
            for p in side.iter_mut().skip(checkpoints[c].points.len()) {
                p.census = false;
            }
        }
        interval.found_before = found_of(&interval.before);
        interval.found_after = found_of(&interval.after);
        let d = patterns.ncols();
        let census =
            |side: &[EndPoint]| counts_of(side.iter().filter(|p| p.census).map(|p| p.index), d);
        let (before, after) = (census(&interval.before), census(&interval.after));
        let carried = carry(before, &interval.events, d);
        interval.counts_before = as_counts(before);
        interval.counts_carried = as_counts(carried);
        interval.counts_after = as_counts(after);
        interval.explained = interval.lost == 0 && carried == after;
    }
    let steps: Vec<f64> = checkpoints.iter().map(|c| c.step).collect();
    let mut diagram = Diagram {
        steps,
        intervals,
        lives: vec![],
        events: vec![],
        unexplained: vec![],
        converged,
        cost,
    };
    for (i, interval) in diagram.intervals.iter().enumerate() {
        if !interval.explained {
            diagram
                .unexplained
                .push([diagram.steps[i], diagram.steps[i + 1]]);
        }
        for e in &interval.events {
            diagram.events.push(RunEvent {
                step: diagram.step_at(i, e.theta),
                interval: i,
                event: e.clone(),
            });
        }
    }
    diagram.lives = lives(&diagram, checkpoints, patterns);
    Ok(diagram)
}

/// The lives of a diagram: chains of segments joined at the checkpoints.
fn lives(diagram: &Diagram, checkpoints: &[Checkpoint], patterns: ArrayView2<f64>) -> Vec<Life> {
    let n = checkpoints.len();
    let distance = |x: &[f64]| nearest_distance(patterns, x);
    // a segment of interval i that starts at point p of checkpoint i
    let from_node = |i: usize, p: usize| {
        diagram.intervals[i]
            .segments
            .iter()
            .position(|s| s.from == Terminal::Before(p))
    };
    let mut used: Vec<Vec<bool>> = diagram
        .intervals
        .iter()
        .map(|iv| vec![false; iv.segments.len()])
        .collect();
    let mut out = vec![];
    if diagram.intervals.is_empty() {
        for (p, x) in checkpoints[0].points.iter().enumerate() {
            out.push(Life {
                born: None,
                first: diagram.steps[0],
                died: None,
                lost: false,
                at: vec![Some(p)],
                kinds: vec![checkpoints[0].kinds.get(p).cloned().unwrap_or_default()],
                points: vec![LifePoint {
                    step: diagram.steps[0],
                    distance: distance(x),
                    index: checkpoints[0]
                        .indices
                        .get(p)
                        .copied()
                        .flatten()
                        .unwrap_or(0),
                }],
            });
        }
    }
    for i in 0..diagram.intervals.len() {
        for s in 0..diagram.intervals[i].segments.len() {
            if used[i][s] {
                continue;
            }
            let seg = &diagram.intervals[i].segments[s];
            // lives start at the first checkpoint, at a birth, or at a point no segment reached
            let reached = i > 0
                && matches!(seg.from, Terminal::Before(p) if diagram.intervals[i - 1].segments.iter().any(|q| q.to == Terminal::After(p)));
            // a branch lost at its first step has no piece to live on
            if reached || seg.points.is_empty() {
                continue;
            }
            let born = match seg.from {
                Terminal::Event(e) => {
                    Some(diagram.step_at(i, diagram.intervals[i].events[e].theta))
                }
                _ => None,
            };
            // a branch lost on its way down from the next checkpoint is known from where the
            // continuation lost it
            let first = match seg.from {
                Terminal::Lost => diagram.step_at(i, seg.points[0].theta),
                _ => born.unwrap_or(diagram.steps[i]),
            };
            let mut life = Life {
                born,
                first,
                died: None,
                lost: seg.from == Terminal::Lost,
                at: vec![None; n],
                kinds: vec![String::new(); n],
                points: vec![],
            };
            let (mut iv, mut sg) = (i, s);
            loop {
                used[iv][sg] = true;
                let seg = &diagram.intervals[iv].segments[sg];
                if let Terminal::Before(p) = seg.from {
                    life.at[iv] = Some(p);
                }
                for q in &seg.points {
                    life.points.push(LifePoint {
                        step: diagram.step_at(iv, q.theta),
                        distance: distance(&q.x),
                        index: q.index,
                    });
                }
                match seg.to {
                    Terminal::After(p) => {
                        life.at[iv + 1] = Some(p);
                        if iv + 1 == diagram.intervals.len() {
                            break;
                        }
                        match from_node(iv + 1, p) {
                            Some(next) if !used[iv + 1][next] => (iv, sg) = (iv + 1, next),
                            _ => {
                                life.lost = true;
                                break;
                            }
                        }
                    }
                    Terminal::Event(e) => {
                        life.died =
                            Some(diagram.step_at(iv, diagram.intervals[iv].events[e].theta));
                        break;
                    }
                    Terminal::Before(_) | Terminal::Lost => {
                        life.lost = true;
                        break;
                    }
                }
            }
            for (c, p) in life.at.iter().enumerate() {
                if let Some(p) = *p {
                    life.kinds[c] = checkpoints[c]
                        .kinds
                        .get(p)
                        .cloned()
                        .unwrap_or_else(|| "found".into());
                }
            }
            out.push(life);
        }
    }
    out
}
