//! Curves of folds in the (beta, w) plane, followed by continuation of the extended system
//! (∇E = 0, Hess E v = 0, |v| = 1), and the cusps on them.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{EventType, SweepConfig, continuation_config, sweep};
use crate::analysis::landscape::continuation::{self, DenseCurve, Family, Parameter};
use crate::analysis::linalg::symmetric_eigen;
use crate::error::{Error, Result};

/// A point on a curve of folds in the (beta, w) plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cusp {
    pub beta: f64,
    pub weight: f64,
    pub x: Vec<f64>,
    pub quartic: f64,
}

/// A curve of folds followed in (beta, w), with the cusps on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldCurve {
    pub points: Vec<FoldPoint>,
    pub cusps: Vec<Cusp>,
    pub ends: [continuation::End; 2],
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

impl DenseCurve for FoldSystem {
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
///
/// ```
/// use memscape::analysis::landscape::bifurcation::{SweepConfig, fold_curves};
/// use memscape::analysis::landscape::critical::SearchConfig;
/// use ndarray::array;
///
/// // two patterns, the weight of the first moving: its fold curve in (beta, w)
/// let patterns = array![[1.0], [-1.0]];
/// let config = SweepConfig { steps: 40, tolerance: 1e-9, search: SearchConfig::for_spacing(2.0) };
/// let curves = fold_curves(patterns.view(), 0, (2.0, 20.0), (0.0, 1.0), &[0.3], &config)?;
/// assert!(!curves.is_empty());
/// assert!(curves[0].points.iter().all(|p| (2.0..=20.0).contains(&p.beta)));
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A weight range that is not finite with 0 ≤ from < to, no seed weight inside it, an index outside the patterns, or a continuation that fails.
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
    let settings = continuation_config(config);
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
            let Some(t0) = continuation::tangent(&system, &z, None)? else {
                continue;
            };
            let observe = |z: &Array1<f64>, _: &Array1<f64>| Ok(system.cubic(z)? > 0.0);
            let (backward, forward) =
                continuation::follow_both(&system, &z, &t0, inside, observe, &settings)?;
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
