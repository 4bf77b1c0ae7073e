//! Synthetic pattern sets with known geometry: the oracles of theory.md §5 and the toys of
//! Pham et al. (circle) and Bonnaire et al. (two-component Gaussian mixture).

use ndarray::{Array2, ArrayView2};
use std::f64::consts::TAU;

use crate::rng::{normal, stream, uniform};

/// `n` points (r cos θ, r sin θ) with θ ~ U(0, 2π): Pham et al.'s toy data (pham.md §3).
pub fn circle(n: usize, radius: f64, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, 0);
    Array2::from_shape_fn((n, 2), |_| 0.0).tap_rows(|row| {
        let theta = TAU * uniform(&mut rng);
        row[0] = radius * theta.cos();
        row[1] = radius * theta.sin();
    })
}

/// `k` equally spaced points on a circle, the first at angle `phase` (theory.md §7.8).
pub fn kgon(k: usize, radius: f64, phase: f64) -> Array2<f64> {
    Array2::from_shape_fn((k, 2), |(i, j)| {
        let theta = phase + TAU * i as f64 / k as f64;
        radius * if j == 0 { theta.cos() } else { theta.sin() }
    })
}

/// The two points ±(distance/2) e_1 in R^dim (theory.md §5: pitchfork at beta_c = 4/D²).
pub fn two_points(distance: f64, dim: usize) -> Array2<f64> {
    let mut x = Array2::zeros((2, dim));
    x[[0, 0]] = distance / 2.0;
    x[[1, 0]] = -distance / 2.0;
    x
}

/// A mixture of `components` isotropic Gaussians with standard deviation `std`, equal weights,
/// and means at distance `sep` from the origin: ±sep·1/√d for two components (Bonnaire et al.,
/// SM B: μ = 1_d when sep = √d), sep·e_j for up to d components, random unit directions beyond.
/// Returns the points and each point's component.
pub fn gmm(
    n: usize,
    d: usize,
    components: usize,
    sep: f64,
    std: f64,
    seed: u64,
) -> (Array2<f64>, Vec<u32>) {
    let means = gmm_means(d, components, sep, seed);
    let mut rng = stream(seed, 0);
    let mut labels = Vec::with_capacity(n);
    let mut x = Array2::zeros((n, d));
    for mut row in x.rows_mut() {
        let j = ((uniform(&mut rng) * components as f64) as usize).min(components - 1);
        labels.push(j as u32);
        for (v, &mu) in row.iter_mut().zip(means.row(j)) {
            *v = mu + std * normal(&mut rng);
        }
    }
    (x, labels)
}

/// The component means of [`gmm`].
pub fn gmm_means(d: usize, components: usize, sep: f64, seed: u64) -> Array2<f64> {
    let mut means = Array2::<f64>::zeros((components, d));
    let mut direction_rng = stream(seed, 1);
    for (j, mut m) in means.rows_mut().into_iter().enumerate() {
        if components == 2 {
            let sign = if j == 0 { 1.0 } else { -1.0 };
            m.fill(sign * sep / (d as f64).sqrt());
        } else if components <= d {
            m[j] = sep;
        } else {
            m.mapv_inplace(|_| normal(&mut direction_rng));
            let norm = m.dot(&m).sqrt();
            m.mapv_inplace(|v| sep * v / norm);
        }
    }
    means
}

/// The exact log-density of each row of `x` under [`gmm`]'s mixture:
/// `log p(x) = log (1/C) Σ_j N(x; μ_j, std² I)`, by a stable log-sum-exp.
pub fn gmm_log_density(x: ArrayView2<f64>, means: ArrayView2<f64>, std: f64) -> Vec<f64> {
    let d = x.ncols() as f64;
    let c = means.nrows() as f64;
    let norm = -0.5 * d * (std::f64::consts::TAU * std * std).ln() - c.ln();
    x.rows()
        .into_iter()
        .map(|row| {
            let e: Vec<f64> = means
                .rows()
                .into_iter()
                .map(|m| {
                    -row.iter()
                        .zip(m)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        / (2.0 * std * std)
                })
                .collect();
            let top = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            top + e.iter().map(|v| (v - top).exp()).sum::<f64>().ln() + norm
        })
        .collect()
}

/// `n` patterns with independent uniform ±1 entries (classical Hopfield, theory.md §3).
pub fn binary(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, 0);
    Array2::from_shape_fn((n, d), |_| if uniform(&mut rng) < 0.5 { -1.0 } else { 1.0 })
}

/// `n` points uniform on the sphere of radius `radius` in R^d (normalised Gaussians).
pub fn sphere(n: usize, d: usize, radius: f64, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, 0);
    Array2::zeros((n, d)).tap_rows(|row| {
        let mut norm2 = 0.0;
        while norm2 == 0.0 {
            for v in row.iter_mut() {
                *v = normal(&mut rng);
            }
            norm2 = row.iter().map(|v| v * v).sum();
        }
        let scale = radius / norm2.sqrt();
        row.iter_mut().for_each(|v| *v *= scale);
    })
}

/// `n` points uniform in the ball of radius `radius` in R^d: a sphere point scaled by U^(1/d).
pub fn ball(n: usize, d: usize, radius: f64, seed: u64) -> Array2<f64> {
    let mut x = sphere(n, d, 1.0, seed);
    let mut rng = stream(seed, 1);
    for mut row in x.rows_mut() {
        let r = radius * uniform(&mut rng).powf(1.0 / d as f64);
        row.mapv_inplace(|v| v * r);
    }
    x
}

/// Fills each row in turn with `f`.
trait TapRows {
    fn tap_rows(self, f: impl FnMut(&mut [f64])) -> Self;
}

impl TapRows for Array2<f64> {
    fn tap_rows(mut self, mut f: impl FnMut(&mut [f64])) -> Self {
        for mut row in self.rows_mut() {
            f(row
                .as_slice_mut()
                .expect("rows of a standard-layout array are contiguous"));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_geometry() {
        let c = circle(500, 2.0, 1);
        assert!(
            c.rows()
                .into_iter()
                .all(|r| (r.dot(&r).sqrt() - 2.0).abs() < 1e-12)
        );
        // uniform angles: each of 8 sectors holds at least 30 of the 500 points (62.5 expected,
        // binomial standard deviation 7.4)
        let mut sectors = [0usize; 8];
        for r in c.rows() {
            let angle = r[1].atan2(r[0]) + std::f64::consts::PI;
            sectors[((angle / TAU * 8.0) as usize).min(7)] += 1;
        }
        assert!(sectors.iter().all(|&n| n >= 30), "{sectors:?}");
        let k = kgon(6, 1.0, 0.0);
        let side = (&k.row(0) - &k.row(1)).mapv(|v| v * v).sum().sqrt();
        assert!(
            (side - 1.0).abs() < 1e-12,
            "a hexagon's side equals its radius"
        );
        let t = two_points(3.0, 4);
        assert_eq!(t.shape(), &[2, 4]);
        assert_eq!((t[[0, 0]], t[[1, 0]]), (1.5, -1.5));
        let b = binary(10, 50, 0);
        assert!(b.iter().all(|&v| v == 1.0 || v == -1.0));
        let s = sphere(200, 5, 1.5, 0);
        assert!(
            s.rows()
                .into_iter()
                .all(|r| (r.dot(&r).sqrt() - 1.5).abs() < 1e-12)
        );
        let bl = ball(200, 3, 1.0, 0);
        assert!(bl.rows().into_iter().all(|r| r.dot(&r) <= 1.0 + 1e-12));
    }

    #[test]
    fn gmm_means_and_spread() {
        // Bonnaire et al.'s mixture: ±1_d with unit variance (sep = √d).
        let (x, labels) = gmm(20_000, 8, 2, 8f64.sqrt(), 1.0, 3);
        for c in 0..2u32 {
            let rows: Vec<usize> = (0..x.nrows()).filter(|&i| labels[i] == c).collect();
            let sign = if c == 0 { 1.0 } else { -1.0 };
            let mean = x
                .select(ndarray::Axis(0), &rows)
                .mean_axis(ndarray::Axis(0))
                .unwrap();
            // standard error 1/√10000 = 0.01 per coordinate: allow 5 of them
            assert!(mean.iter().all(|&m| (m - sign).abs() < 0.05), "{mean}");
        }
        assert_eq!(gmm(100, 3, 5, 2.0, 0.1, 1).0, gmm(100, 3, 5, 2.0, 0.1, 1).0);
    }
}
