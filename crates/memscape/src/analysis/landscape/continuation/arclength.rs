//! Pseudo-arclength continuation of any curve G(u) = 0, G: R^{n+1} → R^n ([`Curve`]): the
//! tangent, the bordered Newton corrector, steps whose length adapts, and special points (a
//! change of the Morse index or a turning point) located by bisection in arclength (Keller
//! 1977; Allgower & Georg ch. 2). [`super::Family`] is the curve of the exact landscape's
//! critical points.

use ndarray::{Array1, Array2, s};
use serde::{Deserialize, Serialize};

use crate::analysis::linalg::symmetric_eigen;
use crate::error::Result;

/// A curve G(u) = 0, G: R^{n+1} → R^n, to follow by pseudo-arclength continuation. Its
/// linear algebra is its own: dense ([`DenseCurve`]) or matrix-free
/// ([`crate::analysis::landscape::trace`]).
pub(crate) trait Curve {
    /// What the bordered solves at one point need (the Jacobian, or the point itself).
    type Linear;
    /// G(u) and its linearisation.
    fn linearize(&self, u: &Array1<f64>) -> Result<(Array1<f64>, Self::Linear)>;
    /// The solution z of the bordered system [G'(u); bᵀ] z = rhs (None: singular).
    fn solve(
        &self,
        lin: &Self::Linear,
        border: &Array1<f64>,
        rhs: &Array1<f64>,
    ) -> Option<Array1<f64>>;
    /// A tangent at a regular point, without a previous one to orient it.
    fn first_tangent(&self, lin: &Self::Linear) -> Option<Array1<f64>>;
    /// Newton step lengths at which the corrector stops: converged, and the round-off floor
    /// below which it stops once its steps stop shrinking.
    fn corrector_tolerances(&self) -> (f64, f64) {
        (1e-12, 1e-7)
    }
}

/// A curve with a dense Jacobian: small problems, and the exact landscape.
pub(crate) trait DenseCurve {
    /// G(u) and its n × (n + 1) Jacobian.
    fn eval(&self, u: &Array1<f64>) -> Result<(Array1<f64>, Array2<f64>)>;
}

impl<C: DenseCurve> Curve for C {
    type Linear = Array2<f64>;

    fn linearize(&self, u: &Array1<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
        self.eval(u)
    }

    fn solve(
        &self,
        j: &Array2<f64>,
        border: &Array1<f64>,
        rhs: &Array1<f64>,
    ) -> Option<Array1<f64>> {
        solve(bordered(j, border), rhs)
    }

    /// The eigenvector of JᵀJ with the smallest eigenvalue.
    fn first_tangent(&self, j: &Array2<f64>) -> Option<Array1<f64>> {
        Some(symmetric_eigen(&j.t().dot(j)).1.column(0).to_owned())
    }
}

/// Continuation settings, in the curve's scaled units.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ContinuationConfig {
    /// The first and the largest arclength step.
    pub step: f64,
    /// Below this step the continuation gives up (the curve is singular there).
    pub min_step: f64,
    /// Accepted steps per direction at most.
    pub max_steps: usize,
    /// Special points are located to this arclength.
    pub tolerance: f64,
}

impl Default for ContinuationConfig {
    fn default() -> Self {
        ContinuationConfig {
            step: 0.02,
            min_step: 1e-10,
            max_steps: 20_000,
            tolerance: 1e-13,
        }
    }
}

/// One accepted point: the unknowns, the unit tangent, and what is observed there.
#[derive(Debug, Clone)]
pub(crate) struct Step<S> {
    pub u: Array1<f64>,
    pub t: Array1<f64>,
    pub state: S,
}

/// Where the observed state changes: located between steps `position` and `position + 1`.
#[derive(Debug, Clone)]
pub(crate) struct Change<S> {
    pub at: Step<S>,
    pub before: S,
    pub after: S,
    pub position: usize,
}

/// How a followed curve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// It left the parameter range (its last point is on the boundary).
    Boundary,
    /// It came back to its start.
    Closed,
    /// The step limit was reached.
    StepLimit,
    /// The corrector failed at the smallest step.
    Failed,
}

pub(crate) struct Path<S> {
    pub steps: Vec<Step<S>>,
    pub changes: Vec<Change<S>>,
    pub end: End,
}

fn solve(a: Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    let m = faer::Mat::<f64>::from_fn(n, n, |i, j| a[[i, j]]);
    let rhs = faer::Mat::<f64>::from_fn(n, 1, |i, _| b[i]);
    let x = faer::linalg::solvers::Solve::solve(&m.partial_piv_lu(), &rhs);
    let out: Array1<f64> = (0..n).map(|i| x[(i, 0)]).collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

fn bordered(j: &Array2<f64>, t: &Array1<f64>) -> Array2<f64> {
    let mut a = Array2::zeros((j.nrows() + 1, j.ncols()));
    a.slice_mut(s![..j.nrows(), ..]).assign(j);
    a.row_mut(j.nrows()).assign(t);
    a
}

pub(super) fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// The unit tangent at u: the null vector of the Jacobian, oriented along `prev`; without
/// `prev`, the eigenvector of JᵀJ with the smallest eigenvalue.
pub(crate) fn tangent<C: Curve>(
    curve: &C,
    u: &Array1<f64>,
    prev: Option<&Array1<f64>>,
) -> Result<Option<Array1<f64>>> {
    let (_, lin) = curve.linearize(u)?;
    let t = match prev {
        Some(p) => {
            let mut rhs = Array1::zeros(u.len());
            rhs[u.len() - 1] = 1.0;
            curve.solve(&lin, p, &rhs)
        }
        None => curve.first_tangent(&lin),
    };
    let Some(t) = t else {
        return Ok(None);
    };
    let n = norm(&t);
    if !(n.is_finite() && n > 0.0) {
        return Ok(None);
    }
    let sign = prev.map_or(1.0, |p| if p.dot(&t) < 0.0 { -1.0 } else { 1.0 });
    Ok(Some(t * (sign / n)))
}

/// Newton on G(u) = 0, tᵀ(u − pred) = 0. Stops when the step is below the curve's first
/// tolerance (1e-12 for the exact landscape), or below its second (1e-7) and no longer
/// shrinking (the round-off floor near a singular point). Returns the point and the
/// iterations.
pub(crate) fn correct<C: Curve>(
    curve: &C,
    pred: &Array1<f64>,
    t: &Array1<f64>,
) -> Result<Option<(Array1<f64>, usize)>> {
    let mut u = pred.clone();
    let mut last = f64::INFINITY;
    let (done, floor) = curve.corrector_tolerances();
    for it in 1..=12 {
        let (g, lin) = curve.linearize(&u)?;
        let mut r = Array1::zeros(g.len() + 1);
        r.slice_mut(s![..g.len()]).assign(&g);
        r[g.len()] = t.dot(&(&u - pred));
        let Some(delta) = curve.solve(&lin, t, &r) else {
            return Ok(None);
        };
        u -= &delta;
        if !u.iter().all(|v| v.is_finite()) {
            return Ok(None);
        }
        let size = norm(&delta);
        if size < done || (size < floor && size > 0.25 * last) {
            return Ok(Some((u, it)));
        }
        last = size;
    }
    Ok(None)
}

/// The corrected point at arclength `h` from `a` along its tangent, with its tangent and state.
fn point_at<C: Curve, S>(
    curve: &C,
    a: &Step<S>,
    h: f64,
    observe: &impl Fn(&Array1<f64>, &Array1<f64>) -> Result<S>,
) -> Result<Option<Step<S>>> {
    let pred = &a.u + &(&a.t * h);
    let Some((u, _)) = correct(curve, &pred, &a.t)? else {
        return Ok(None);
    };
    let Some(t) = tangent(curve, &u, Some(&a.t))? else {
        return Ok(None);
    };
    let state = observe(&u, &t)?;
    Ok(Some(Step { u, t, state }))
}

/// Which side of the change being bracketed a probe lies on.
enum Side {
    Near,
    Far,
    /// Stop bisecting (the corrector failed at the probe).
    Stop,
}

/// The one bracketing routine of continuation: bisection in arclength h from the accepted step
/// `a`, between `lo` (on the near side of a change) and `hi` (on its far side), to `tolerance`.
/// Each probe is the corrected point at arclength h (None where the corrector fails) and `side`
/// places it. Returns the final bracket and the far side's nearest corrected point, if any.
fn bisect<C: Curve, S>(
    curve: &C,
    a: &Step<S>,
    (mut lo, mut hi): (f64, f64),
    tolerance: f64,
    observe: &impl Fn(&Array1<f64>, &Array1<f64>) -> Result<S>,
    side: impl Fn(Option<&Step<S>>) -> Side,
) -> Result<(f64, f64, Option<Step<S>>)> {
    let mut far = None;
    while (hi - lo).abs() > tolerance {
        let mid = 0.5 * (lo + hi);
        let p = point_at(curve, a, mid, observe)?;
        match side(p.as_ref()) {
            Side::Near => lo = mid,
            Side::Far => {
                hi = mid;
                far = p;
            }
            Side::Stop => break,
        }
    }
    Ok((lo, hi, far))
}

/// The changes of state between two accepted steps, by bisection in arclength to `tolerance`.
fn locate<C: Curve, S: Clone + PartialEq>(
    curve: &C,
    a: &Step<S>,
    b: &Step<S>,
    position: usize,
    observe: &impl Fn(&Array1<f64>, &Array1<f64>) -> Result<S>,
    tolerance: f64,
) -> Result<Vec<Change<S>>> {
    let h = a.t.dot(&(&b.u - &a.u));
    let (mut from, mut from_state) = (0.0, a.state.clone());
    let mut out = vec![];
    while from_state != b.state && out.len() <= a.u.len() {
        // the corrector can fail within round-off of a singular point (a branch point whose
        // Hessian and parameter derivative vanish together): stop there
        let (lo, hi, far) = bisect(curve, a, (from, h), tolerance, observe, |p| match p {
            Some(p) if p.state == from_state => Side::Near,
            Some(_) => Side::Far,
            None => Side::Stop,
        })?;
        let hi_step = far.unwrap_or_else(|| b.clone());
        let at = point_at(curve, a, 0.5 * (lo + hi), observe)?.unwrap_or_else(|| hi_step.clone());
        out.push(Change {
            at,
            before: from_state,
            after: hi_step.state.clone(),
            position,
        });
        (from, from_state) = (hi, hi_step.state);
    }
    Ok(out)
}

/// Follows the curve from `start` along `start.t` while `inside` holds: adaptive steps (grown
/// after fast corrections, halved when the corrector fails, moves more than half a step, or
/// turns the tangent by more than 18°; a move within the corrector's tolerance is round-off),
/// every change of the observed state located, and the last point placed on the boundary of
/// the parameter range (to `tolerance`).
pub(crate) fn follow<C: Curve, S: Clone + PartialEq>(
    curve: &C,
    start: Step<S>,
    inside: impl Fn(&Array1<f64>) -> bool,
    observe: impl Fn(&Array1<f64>, &Array1<f64>) -> Result<S>,
    config: &ContinuationConfig,
) -> Result<Path<S>> {
    let mut steps = vec![start];
    let mut changes = vec![];
    let mut ds = config.step;
    // a corrector that stops within `done` of the curve moves the predictor by as much, however
    // short the step: that much is round-off, not curvature
    let (done, _) = curve.corrector_tolerances();
    let end = loop {
        if steps.len() > config.max_steps {
            break End::StepLimit;
        }
        let a = steps.last().expect("starts with one step");
        let pred = &a.u + &(&a.t * ds);
        let accepted = match correct(curve, &pred, &a.t)? {
            Some((u, iterations)) if norm(&(&u - &pred)) <= (0.5 * ds).max(done) => {
                match tangent(curve, &u, Some(&a.t))? {
                    Some(t) if t.dot(&a.t) >= 0.95 => Some((u, t, iterations)),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some((u, t, iterations)) = accepted else {
            ds *= 0.5;
            if ds < config.min_step {
                break End::Failed;
            }
            continue;
        };
        let state = observe(&u, &t)?;
        let mut b = Step { u, t, state };
        let leaving = !inside(&b.u);
        if leaving {
            // the boundary, by bisection on `inside` along the corrected curve
            let (lo, _, _) = bisect(
                curve,
                a,
                (0.0, ds),
                config.tolerance,
                &observe,
                |p| match p {
                    Some(p) if inside(&p.u) => Side::Near,
                    _ => Side::Far,
                },
            )?;
            match point_at(curve, a, lo, &observe)? {
                Some(p) => b = p,
                None => break End::Boundary,
            }
        }
        let position = steps.len() - 1;
        if b.state != a.state {
            changes.extend(locate(curve, a, &b, position, &observe, config.tolerance)?);
        }
        let first = &steps[0].u;
        let closed = steps.len() > 6 && {
            let chord = norm(&(&b.u - &a.u));
            norm(&(first - &a.u)) + norm(&(first - &b.u)) <= chord * (1.0 + 1e-6)
        };
        steps.push(b);
        if leaving {
            break End::Boundary;
        }
        if closed {
            break End::Closed;
        }
        if iterations <= 3 {
            ds = (1.5 * ds).min(config.step);
        }
    };
    Ok(Path {
        steps,
        changes,
        end,
    })
}

/// Follows the curve from u0 both ways, along −t0 and along t0 (a closed curve only once):
/// (backward, forward).
pub(crate) fn follow_both<C: Curve, S: Clone + PartialEq>(
    curve: &C,
    u0: &Array1<f64>,
    t0: &Array1<f64>,
    inside: impl Fn(&Array1<f64>) -> bool + Copy,
    observe: impl Fn(&Array1<f64>, &Array1<f64>) -> Result<S> + Copy,
    config: &ContinuationConfig,
) -> Result<(Path<S>, Path<S>)> {
    let half = |sign: f64| -> Result<Path<S>> {
        let t = t0 * sign;
        let state = observe(u0, &t)?;
        follow(
            curve,
            Step {
                u: u0.clone(),
                t,
                state,
            },
            inside,
            observe,
            config,
        )
    };
    let forward = half(1.0)?;
    let backward = if forward.end == End::Closed {
        Path {
            steps: forward.steps[..1].to_vec(),
            changes: vec![],
            end: End::Closed,
        }
    } else {
        half(-1.0)?
    };
    Ok((backward, forward))
}
