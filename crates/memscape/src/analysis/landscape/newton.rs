//! Damped Newton on the exact landscape's gradient, ∇E = x − D(x) = 0 with Hess E = I − beta
//! Cov_p(ξ) (theory.md §1), CCCP descent x ← D(x) polished by it, and the round-off floor that
//! tells Newton when to stop. Shared by the multi-start search ([`super::critical`]), the local
//! search at a singular point ([`super::local`]), basins ([`super::basin`]) and continuation
//! ([`super::continuation`]).

use ndarray::{Array1, Array2, ArrayView1};

use crate::analysis::linalg::symmetric_eigen;
use crate::denoiser::Landscape;

/// The Newton step H⁻¹ r from H's eigen-decomposition, with |λ| clamped below at 1e-12.
fn newton_step(values: &[f64], vectors: &Array2<f64>, residual: &Array1<f64>) -> Array1<f64> {
    let coeffs: Array1<f64> = vectors
        .t()
        .dot(residual)
        .iter()
        .zip(values)
        .map(|(c, &l)| c / l.abs().max(1e-12).copysign(l))
        .collect();
    vectors.dot(&coeffs)
}

/// Damped Newton on ∇E = 0: steps along the Hessian's eigenvectors with |λ| clamped away from
/// zero, each step at most `max_step` long. The Newton step H⁻¹∇E estimates the distance to the
/// critical point; the search stops when it is below the round-off floor
/// `10 u scale (1 + beta R²) / |λ|min` (or 1e-12 · `max_step`), so nearly degenerate points are
/// polished along their soft direction instead of stopping wherever |∇E| first looks small.
/// Returns the point, whether it converged in `iterations` steps, and its floor.
pub(crate) fn newton(
    land: &Landscape,
    start: ArrayView1<f64>,
    floor_scale: f64,
    max_step: f64,
    iterations: usize,
) -> (Array1<f64>, bool, f64) {
    let mut x = start.to_owned();
    for _ in 0..iterations {
        let g = land.gradient(x.view());
        let (values, vectors) = symmetric_eigen(&land.hessian(x.view()));
        let mut step = newton_step(&values, &vectors, &g);
        let len = step.dot(&step).sqrt();
        let smallest = values
            .iter()
            .fold(f64::INFINITY, |m, l| m.min(l.abs()))
            .max(1e-300);
        let floor = (floor_scale / smallest).max(1e-12 * max_step);
        if len < floor {
            return (x, true, floor);
        }
        if len > max_step {
            step *= max_step / len;
        }
        x -= &step;
        if !x.iter().all(|v| v.is_finite()) {
            break;
        }
    }
    (x, false, f64::INFINITY)
}

/// CCCP descent x ← D(x) (monotone in E), then Newton polish.
pub(crate) fn descend(
    land: &Landscape,
    start: ArrayView1<f64>,
    tol: f64,
    floor_scale: f64,
    max_step: f64,
    iterations: usize,
) -> (Array1<f64>, bool, f64) {
    let mut x = start.to_owned();
    for _ in 0..iterations {
        let next = land.denoise(x.view());
        let moved = (&next - &x).mapv(|v| v * v).sum().sqrt();
        x = next;
        if moved < tol {
            break;
        }
    }
    newton(land, x.view(), floor_scale, max_step, iterations)
}

/// The landscape's length scale (largest distance of a pattern from their mean), that distance
/// squared, and the numerator of Newton's round-off floor `10 u scale (1 + beta R²)`.
pub(crate) fn scales(land: &Landscape) -> (f64, f64, f64) {
    let patterns = land.patterns();
    let center = patterns.mean_axis(ndarray::Axis(0)).expect("k ≥ 1");
    let radius_sq = patterns
        .rows()
        .into_iter()
        .map(|r| (&r - &center).mapv(|v| v * v).sum())
        .fold(0.0, f64::max);
    let scale = radius_sq.sqrt().max(f64::MIN_POSITIVE);
    (
        scale,
        radius_sq,
        10.0 * f64::EPSILON * scale * (1.0 + land.beta * radius_sq),
    )
}
