//! Pseudo-arclength continuation of the critical points of the exact landscape along one
//! parameter θ, as the standard tools do it (Keller 1977; Allgower & Georg, *Introduction to
//! Numerical Continuation Methods*, ch. 2 and 8; BifurcationKit's `continuation`):
//!
//! ```text
//! F(x, θ) = ∇E(x; θ) = 0,   u = (x/s, θ)            s: the data scale, so |u| is dimensionless
//! tangent t:      [H  F_θ/s] t = 0, |t| = 1        (the previous tangent fixes its sign)
//! predictor:      u_p = u + Δs t
//! corrector:      Newton on  F(u) = 0,  tᵀ(u − u_p) = 0,  Jacobian [[H, F_θ/s], [tᵀ]]
//! ```
//!
//! θ = ln beta when beta moves (equal steps are equal ratios), θ = w when pattern `index`'s
//! multiplicity moves. The parameter derivatives are analytic (p_μ: the Hopfield weights,
//! q_μ = |x − ξ_μ|²/2, e_i/Z = exp(−beta |x − ξ_i|²/2) / Σ_ν m_ν exp(−beta |x − ξ_ν|²/2)):
//!
//! ```text
//! ∂∇E/∂beta = Σ_μ p_μ (q_μ − q̄)(ξ_μ − D(x))          (∂p_μ/∂beta = −p_μ (q_μ − q̄))
//! ∂∇E/∂w    = −(e_i/Z)(ξ_i − D(x))                    (∂p_μ/∂w = (e_i/Z)(δ_μi − p_μ))
//! ```
//!
//! Along a branch, a change of the Morse index or of the sign of t_θ (a turning point: the branch
//! folds back) between two accepted steps is located by bisection in arclength on the corrected
//! curve, and recorded as a special point. At a special point where the branch does not turn (a
//! branch point: pitchfork, transcritical, symmetric), the sweep ([`super::bifurcation`]) finds
//! the other branches through it from its Hessian kernel (Allgower & Georg §8.3: perturb along
//! the kernel, correct).

mod arclength;

pub use arclength::*;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use serde::{Deserialize, Serialize};

use crate::analysis::linalg::symmetric_eigen;
use crate::denoiser::Landscape;
use crate::error::{Error, Result};

/// The parameter that moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "parameter", rename_all = "lowercase")]
pub enum Parameter {
    /// The inverse temperature.
    Beta,
    /// The multiplicity w of pattern `index`, at fixed `beta`.
    Weight { index: usize, beta: f64 },
    /// The inverse temperature, with pattern `index` at multiplicity `weight`.
    BetaWeighted { index: usize, weight: f64 },
}

/// A one-parameter family of exact landscapes E(x; θ).
#[derive(Debug, Clone)]
pub struct Family {
    patterns: Array2<f64>,
    pub parameter: Parameter,
    /// The data scale s: the largest distance of a pattern from their mean.
    pub scale: f64,
}

impl Family {
    /// The family of `patterns` along `parameter`; the weighted index must name a pattern.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// // ±3: each pattern lies 3 from the mean
    /// let patterns = array![[3.0, 0.0], [-3.0, 0.0]];
    /// assert_eq!(Family::new(patterns.view(), Parameter::Beta)?.scale, 3.0);
    /// let third = Parameter::Weight { index: 2, beta: 1.0 };
    /// let err = Family::new(patterns.view(), third).unwrap_err();
    /// assert!(err.to_string().starts_with("weight index"));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// No patterns, or a weighted index outside them (named `weight index`).
    pub fn new(patterns: ArrayView2<f64>, parameter: Parameter) -> Result<Self> {
        let k = patterns.nrows();
        if let Parameter::Weight { index, .. } | Parameter::BetaWeighted { index, .. } = parameter
            && index >= k
        {
            return Err(Error::invalid(
                "weight index",
                format!("a pattern index below {k} (the number of patterns)"),
                index,
            ));
        }
        let mean = patterns
            .mean_axis(Axis(0))
            .ok_or_else(|| Error::invalid("patterns", "at least one pattern", patterns.nrows()))?;
        let scale = patterns
            .rows()
            .into_iter()
            .map(|r| (&r - &mean).mapv(|v| v * v).sum().sqrt())
            .fold(0.0, f64::max)
            .max(1e-12);
        Ok(Family {
            patterns: patterns.to_owned(),
            parameter,
            scale,
        })
    }

    /// The patterns ξ_μ.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// let patterns = array![[1.0], [-1.0]];
    /// let family = Family::new(patterns.view(), Parameter::Beta)?;
    /// assert_eq!(family.patterns(), patterns);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn patterns(&self) -> ArrayView2<'_, f64> {
        self.patterns.view()
    }

    /// θ of a parameter value: ln beta, or w.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// let patterns = array![[1.0], [-1.0]];
    /// let beta = Family::new(patterns.view(), Parameter::Beta)?;
    /// assert_eq!(beta.theta(std::f64::consts::E), 1.0);
    /// let weight = Family::new(patterns.view(), Parameter::Weight { index: 0, beta: 2.0 })?;
    /// assert_eq!(weight.theta(3.0), 3.0);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn theta(&self, value: f64) -> f64 {
        match self.parameter {
            Parameter::Weight { .. } => value,
            _ => value.ln(),
        }
    }

    /// The parameter value (beta or w) at θ.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// // the inverse of theta: e^θ for beta, θ itself for a weight
    /// let patterns = array![[1.0], [-1.0]];
    /// let beta = Family::new(patterns.view(), Parameter::Beta)?;
    /// assert!((beta.value(beta.theta(4.0)) - 4.0).abs() < 1e-15);
    /// let weight = Family::new(patterns.view(), Parameter::Weight { index: 0, beta: 2.0 })?;
    /// assert_eq!(weight.value(0.5), 0.5);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn value(&self, theta: f64) -> f64 {
        match self.parameter {
            Parameter::Weight { .. } => theta,
            _ => theta.exp(),
        }
    }

    /// The inverse temperature at θ.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// let patterns = array![[1.0], [-1.0]];
    /// // beta moves with θ = ln beta, or stays where a weight moves
    /// let beta = Family::new(patterns.view(), Parameter::Beta)?;
    /// assert!((beta.beta(2f64.ln()) - 2.0).abs() < 1e-15);
    /// let weight = Family::new(patterns.view(), Parameter::Weight { index: 0, beta: 4.0 })?;
    /// assert_eq!(weight.beta(0.5), 4.0);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn beta(&self, theta: f64) -> f64 {
        match self.parameter {
            Parameter::Weight { beta, .. } => beta,
            _ => theta.exp(),
        }
    }

    fn multiplicities(&self, theta: f64) -> Vec<f64> {
        let mut m = vec![1.0; self.patterns.nrows()];
        match self.parameter {
            Parameter::Beta => {}
            Parameter::Weight { index, .. } => m[index] = theta.max(0.0),
            Parameter::BetaWeighted { index, weight } => m[index] = weight,
        }
        m
    }

    /// The landscape at θ.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// // pattern 0 at weight 3 against pattern 1 at weight 1: at the midpoint p = (3/4, 1/4)
    /// let patterns = array![[1.0], [-1.0]];
    /// let family = Family::new(patterns.view(), Parameter::Weight { index: 0, beta: 2.0 })?;
    /// let land = family.landscape(3.0)?;
    /// assert_eq!(land.beta, 2.0);
    /// let p = land.weights(array![0.0].view());
    /// assert!((p[0] - 0.75).abs() < 1e-15 && (p[1] - 0.25).abs() < 1e-15);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A beta or weights the landscape refuses.
    pub fn landscape(&self, theta: f64) -> Result<Landscape> {
        Landscape::with_multiplicities(
            self.patterns.view(),
            &self.multiplicities(theta),
            self.beta(theta),
        )
    }

    /// ∂∇E/∂θ at x (module docs); `land` is the landscape at θ.
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{Family, Parameter};
    /// use ndarray::array;
    ///
    /// // against a central difference of ∇E in θ = ln beta
    /// let patterns = array![[1.0, 0.0], [-1.0, 0.5], [0.0, 2.0]];
    /// let family = Family::new(patterns.view(), Parameter::Beta)?;
    /// let (theta, h, x) = (0.3, 1e-5, array![0.2, 0.4]);
    /// let analytic = family.parameter_derivative(theta, &family.landscape(theta)?, x.view());
    /// let fd = (family.landscape(theta + h)?.gradient(x.view())
    ///     - family.landscape(theta - h)?.gradient(x.view())) / (2.0 * h);
    /// assert!((&analytic - &fd).iter().all(|e| e.abs() < 1e-8));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn parameter_derivative(
        &self,
        theta: f64,
        land: &Landscape,
        x: ArrayView1<f64>,
    ) -> Array1<f64> {
        let p = land.weights(x);
        let mean = p.dot(&self.patterns);
        let sq: Vec<f64> = self
            .patterns
            .rows()
            .into_iter()
            .map(|r| 0.5 * (&r - &x).mapv(|v| v * v).sum())
            .collect();
        match self.parameter {
            Parameter::Beta | Parameter::BetaWeighted { .. } => {
                let qbar: f64 = p.iter().zip(&sq).map(|(a, b)| a * b).sum();
                let mut out = Array1::zeros(x.len());
                for ((row, &pm), &q) in self.patterns.rows().into_iter().zip(&p).zip(&sq) {
                    out.scaled_add(pm * (q - qbar), &(&row - &mean));
                }
                // dθ = dbeta / beta
                out * land.beta
            }
            Parameter::Weight { index, .. } => {
                let logits: Vec<f64> = sq
                    .iter()
                    .zip(self.multiplicities(theta))
                    .filter(|&(_, m)| m > 0.0)
                    .map(|(q, m)| -land.beta * q + m.ln())
                    .collect();
                let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
                let ratio = (-land.beta * sq[index] - lse).exp();
                (&self.patterns.row(index) - &mean) * (-ratio)
            }
        }
    }
}

/// The critical points of a family as a curve in u = (x/s, θ).
impl DenseCurve for Family {
    fn eval(&self, u: &Array1<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
        let d = u.len() - 1;
        let theta = u[d];
        let x = u.slice(s![..d]).mapv(|v| v * self.scale);
        let land = self.landscape(theta)?;
        let g = land.gradient(x.view()) / self.scale;
        let mut j = Array2::zeros((d, d + 1));
        j.slice_mut(s![.., ..d]).assign(&land.hessian(x.view()));
        j.column_mut(d)
            .assign(&(self.parameter_derivative(theta, &land, x.view()) / self.scale));
        Ok((g, j))
    }
}

/// What a branch point is: its Morse index, and whether the branch moves toward larger θ.
pub(crate) type BranchState = (usize, bool);

/// One point of a branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchPoint {
    /// The parameter value (beta or w).
    pub at: f64,
    pub x: Vec<f64>,
    pub energy: f64,
    pub index: usize,
}

/// A special point on a branch: its index changes, or it turns back in the parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecialPoint {
    pub at: f64,
    pub x: Vec<f64>,
    pub index_before: usize,
    pub index_after: usize,
    /// The branch folds back here (the tangent's parameter component changes sign).
    pub turning: bool,
}

/// A branch of critical points, continued across the parameter range (special points are
/// vertices of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Branch {
    pub points: Vec<BranchPoint>,
    pub special: Vec<SpecialPoint>,
    /// How each end was reached (the first entry: the end at the start of `points`).
    pub ends: [End; 2],
}

impl Family {
    fn unknowns(&self, theta: f64, x: ArrayView1<f64>) -> Array1<f64> {
        let mut u = Array1::zeros(x.len() + 1);
        u.slice_mut(s![..x.len()]).assign(&(&x / self.scale));
        u[x.len()] = theta;
        u
    }

    /// (θ, x) of the unknowns.
    fn split(&self, u: &Array1<f64>) -> (f64, Array1<f64>) {
        let d = u.len() - 1;
        (u[d], u.slice(s![..d]).mapv(|v| v * self.scale))
    }

    fn observe(&self, u: &Array1<f64>, t: &Array1<f64>) -> Result<BranchState> {
        let (theta, x) = self.split(u);
        let (eigenvalues, _) = symmetric_eigen(&self.landscape(theta)?.hessian(x.view()));
        Ok((
            eigenvalues.iter().filter(|&&l| l < 0.0).count(),
            t[t.len() - 1] > 0.0,
        ))
    }

    fn branch_point(&self, u: &Array1<f64>, index: usize) -> Result<BranchPoint> {
        let (theta, x) = self.split(u);
        Ok(BranchPoint {
            at: self.value(theta),
            energy: self.landscape(theta)?.energy(x.view()),
            x: x.to_vec(),
            index,
        })
    }

    /// The branch through the critical point x at θ, continued both ways within
    /// [`range.0`, `range.1`] (in θ).
    ///
    /// ```
    /// use memscape::analysis::landscape::continuation::{ContinuationConfig, End, Family, Parameter};
    /// use ndarray::array;
    ///
    /// // ±1: the origin is critical at every beta, and turns from minimum to saddle at the
    /// // pitchfork beta = 1 (theory.md §5)
    /// let family = Family::new(array![[1.0], [-1.0]].view(), Parameter::Beta)?;
    /// let range = (family.theta(0.5), family.theta(2.0));
    /// let start = family.theta(0.7);
    /// let branch = family.trace(start, array![0.0].view(), range, &ContinuationConfig::default())?;
    /// assert_eq!(branch.ends, [End::Boundary, End::Boundary]);
    /// assert_eq!(branch.special.len(), 1);
    /// let p = &branch.special[0];
    /// assert_eq!((p.index_before, p.index_after, p.turning), (0, 1, false));
    /// assert!((p.at - 1.0).abs() < 1e-9 && p.x[0].abs() < 1e-12);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A start that is not a regular point of the curve of critical points (named `branch
    /// start`), or a corrector that fails along the way.
    pub fn trace(
        &self,
        theta: f64,
        x: ArrayView1<f64>,
        range: (f64, f64),
        config: &ContinuationConfig,
    ) -> Result<Branch> {
        let u0 = self.unknowns(theta, x);
        let Some(t0) = tangent(self, &u0, None)? else {
            return Err(Error::invalid(
                "branch start",
                "a regular point of the curve of critical points",
                format!("{:?} at {}", x, self.value(theta)),
            ));
        };
        let inside = |u: &Array1<f64>| {
            let th = u[u.len() - 1];
            th >= range.0 && th <= range.1
        };
        let observe = |u: &Array1<f64>, t: &Array1<f64>| self.observe(u, t);
        let (backward, forward) = follow_both(self, &u0, &t0, inside, observe, config)?;
        // one polyline from the backward end to the forward end, the special points as vertices
        let mut points = vec![];
        let mut special = vec![];
        let mut add = |c: &Change<BranchState>, reverse: bool, points: &mut Vec<BranchPoint>| {
            let (before, after) = if reverse {
                (c.after, c.before)
            } else {
                (c.before, c.after)
            };
            let (th, cx) = self.split(&c.at.u);
            special.push(SpecialPoint {
                at: self.value(th),
                x: cx.to_vec(),
                index_before: before.0,
                index_after: after.0,
                turning: before.1 != after.1,
            });
            points.push(self.branch_point(&c.at.u, after.0)?);
            Ok::<(), Error>(())
        };
        for p in (0..backward.steps.len()).rev() {
            points.push(self.branch_point(&backward.steps[p].u, backward.steps[p].state.0)?);
            if p > 0 {
                for c in backward
                    .changes
                    .iter()
                    .filter(|c| c.position == p - 1)
                    .rev()
                {
                    add(c, true, &mut points)?;
                }
            }
        }
        for p in 0..forward.steps.len() {
            if p > 0 {
                points.push(self.branch_point(&forward.steps[p].u, forward.steps[p].state.0)?);
            }
            for c in forward.changes.iter().filter(|c| c.position == p) {
                add(c, false, &mut points)?;
            }
        }
        Ok(Branch {
            points,
            special,
            ends: [backward.end, forward.end],
        })
    }
}

impl Family {
    /// Whether the critical point x at θ lies on one of `branches`: a segment spans θ, and
    /// Newton at θ from the point interpolated on that segment converges to x.
    pub(crate) fn on_branch(
        &self,
        branches: &[Branch],
        theta: f64,
        x: ArrayView1<f64>,
    ) -> Result<bool> {
        let value = self.value(theta);
        let land = self.landscape(theta)?;
        let (_, _, floor_scale) = super::newton::scales(&land);
        // the ends of a branch sit on the range's boundary to the location tolerance
        let slack = 1e-9 * value.abs().max(1.0);
        for pair in branches.iter().flat_map(|b| b.points.windows(2)) {
            let (a, b) = (&pair[0], &pair[1]);
            if value < a.at.min(b.at) - slack || value > a.at.max(b.at) + slack {
                continue;
            }
            let f = if a.at == b.at {
                0.5
            } else {
                (value - a.at) / (b.at - a.at)
            };
            let (a, b) = (ArrayView1::from(&a.x), ArrayView1::from(&b.x));
            let guess = &a + &((&b - &a) * f);
            if norm(&(&guess - &x)) > norm(&(&b - &a)) + 1e-9 * self.scale {
                continue;
            }
            let (y, ok, floor) =
                super::newton::newton(&land, guess.view(), floor_scale, 0.25 * self.scale, 100);
            if ok && norm(&(&y - &x)) <= 2.0 * floor + 1e-9 * self.scale {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::two_points;
    use ndarray::array;

    #[test]
    fn parameter_derivatives_match_finite_differences() {
        // ∂∇E/∂θ (module docs) against central differences of the analytic gradient, step 1e-6:
        // relative error ≤ 1e-7, for beta, a weight (also at w = 0) and beta with a weight.
        let p = crate::rng::normal_matrix(6, 3, 5);
        let x = array![0.3, -0.2, 0.5];
        for (parameter, theta) in [
            (Parameter::Beta, 0.7f64.ln()),
            (
                Parameter::Weight {
                    index: 2,
                    beta: 1.3,
                },
                0.4,
            ),
            (
                Parameter::Weight {
                    index: 2,
                    beta: 1.3,
                },
                0.0,
            ),
            (
                Parameter::BetaWeighted {
                    index: 4,
                    weight: 0.3,
                },
                1.9f64.ln(),
            ),
        ] {
            let f = Family::new(p.view(), parameter).unwrap();
            let land = f.landscape(theta).unwrap();
            let got = f.parameter_derivative(theta, &land, x.view());
            let h = 1e-6;
            let grad = |t: f64| f.landscape(t).unwrap().gradient(x.view());
            // one-sided at w = 0, where w < 0 is outside the family
            let want = if theta == 0.0 {
                (-3.0 * grad(0.0) + 4.0 * grad(h) - grad(2.0 * h)) / (2.0 * h)
            } else {
                (grad(theta + h) - grad(theta - h)) / (2.0 * h)
            };
            let err = (&got - &want).mapv(f64::abs).sum() / want.mapv(f64::abs).sum();
            assert!(err < 1e-7, "{parameter:?} at {theta}: {err}");
        }
    }

    #[test]
    fn a_traced_branch_follows_the_analytic_two_point_memory() {
        // ±1 in R¹: the memories solve x = tanh(beta x) (theory.md §5): beta 1.5 → 0.858560,
        // 2 → 0.957504, 4 → 0.999326. The branch through the memory at beta = 2, continued
        // over [1.2, 4], passes through all three (Newton at each beta from the polyline).
        let p = two_points(2.0, 1);
        let f = Family::new(p.view(), Parameter::Beta).unwrap();
        let b = f
            .trace(
                2f64.ln(),
                array![0.957504].view(),
                (1.2f64.ln(), 4f64.ln()),
                &ContinuationConfig::default(),
            )
            .unwrap();
        assert_eq!(b.ends, [End::Boundary, End::Boundary]);
        assert!(b.points.iter().all(|q| q.index == 0));
        for (beta, want) in [(1.5, 0.858560), (2.0, 0.957504), (4.0 - 1e-9, 0.999326)] {
            let seg = b
                .points
                .windows(2)
                .find(|w| (w[0].at - beta) * (w[1].at - beta) <= 0.0)
                .unwrap();
            let t = (beta - seg[0].at) / (seg[1].at - seg[0].at);
            let guess = seg[0].x[0] + t * (seg[1].x[0] - seg[0].x[0]);
            assert!((guess - want).abs() < 1e-3, "{beta}: chord {guess}");
            // polished at beta from the chord: the analytic memory, and on the branch
            let land = f.landscape(beta.ln()).unwrap();
            let mut x = array![guess];
            for _ in 0..20 {
                let step = land.gradient(x.view())[0] / land.hessian(x.view())[[0, 0]];
                x[0] -= step;
            }
            assert!((x[0] - want).abs() < 1e-6, "{beta}: {}", x[0]);
            assert!(
                f.on_branch(std::slice::from_ref(&b), beta.ln(), x.view())
                    .unwrap()
            );
        }
        // the end of the range is reached to the tolerance
        let last = b.points.last().unwrap();
        assert!((last.at - 4.0).abs() < 1e-9 || (b.points[0].at - 4.0).abs() < 1e-9);
    }
}
