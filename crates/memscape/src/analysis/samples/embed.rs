//! Low-dimensional views of patterns and samples.
//!
//! **PCA**: centre, eigen-decompose the covariance (faer), project on the leading eigenvectors.
//!
//! **t-SNE** (van der Maaten & Hinton 2008), exact: Gaussian affinities with a per-point
//! bandwidth found by bisection to the perplexity (30), symmetrised `p_ij = (p_j|i + p_i|j)/2n`;
//! Student-t similarities `q_ij ∝ (1 + |y_i − y_j|²)⁻¹`; gradient
//! `4 Σ_j (p_ij − q_ij)(y_i − y_j)(1 + |y_i − y_j|²)⁻¹`, early exaggeration 12 for 250 steps,
//! momentum 0.5 then 0.8, learning rate max(n/12, 50) (Belkina et al. 2019), 1000 steps,
//! started from the PCA scaled to standard deviation 1e-4 (deterministic).
//!
//! **UMAP** (McInnes et al. 2018): the 15-nearest-neighbour graph with fuzzy weights
//! `exp(−(d − ρ_i)/σ_i)`, σ_i set so they sum to log2(15), symmetrised `w + wᵀ − w∘wᵀ`; layout
//! from the PCA, then 200 epochs of stochastic gradient descent on the fuzzy cross-entropy with
//! `q = (1 + a d^{2b})⁻¹`, a = 1.577, b = 0.895 (min_dist 0.1), 5 negative samples per edge,
//! learning rate 1 decaying linearly, from one seeded stream (deterministic).

use ndarray::{Array2, ArrayView2, Axis};

use serde::Serialize;

use crate::analysis::linalg::symmetric_eigen;
use crate::error::{Error, Result};

/// A nonlinear 2-D map, drawn on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinear {
    Tsne,
    Umap,
}

impl Nonlinear {
    /// The method as file names and tables write it.
    ///
    /// ```
    /// use memscape::analysis::samples::embed::Nonlinear;
    ///
    /// assert_eq!((Nonlinear::Tsne.name(), Nonlinear::Umap.name()), ("tsne", "umap"));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Nonlinear::Tsne => "tsne",
            Nonlinear::Umap => "umap",
        }
    }

    /// The layout of `points` (seeded where the method is random).
    ///
    /// ```
    /// use memscape::analysis::samples::embed::{Nonlinear, umap};
    /// use ndarray::array;
    ///
    /// // two groups of three in 3-D; UMAP is seeded, so the layout is umap's with that seed
    /// let points = array![
    ///     [0.0, 0.0, 0.0], [0.1, 0.0, 0.2], [0.0, 0.3, 0.1],
    ///     [5.0, 5.0, 5.0], [5.1, 4.9, 5.0], [4.8, 5.0, 5.2],
    /// ];
    /// let y = Nonlinear::Umap.layout(points.view(), 3)?;
    /// assert_eq!(y, umap(points.view(), 3)?);
    /// assert_eq!(Nonlinear::Tsne.layout(points.view(), 0)?.dim(), (6, 2));
    /// // three points are too few for a map
    /// let err = Nonlinear::Tsne.layout(points.slice(ndarray::s![..3, ..]), 0).unwrap_err();
    /// assert!(err.to_string().starts_with("t-SNE"));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`pca`], [`tsne`] and [`umap`].
    pub fn layout(self, points: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        match self {
            Nonlinear::Tsne => tsne(points),
            Nonlinear::Umap => umap(points, seed),
        }
    }
}

/// Projection of `points` on their first `dims` principal axes, and the variance each explains.
///
/// ```
/// use memscape::analysis::samples::embed::pca;
/// use ndarray::array;
///
/// // points along the diagonal: one axis explains all the variance
/// let points = array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
/// let (projection, variance) = pca(points.view(), 1)?;
/// assert_eq!(projection.dim(), (4, 1));
/// assert!((projection[[3, 0]] - projection[[0, 0]]).abs() > 4.0);
/// assert!(variance[0] > 0.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than two points, or `dims` outside 1..=d (named `PCA`).
pub fn pca(points: ArrayView2<f64>, dims: usize) -> Result<(Array2<f64>, Vec<f64>)> {
    let (n, d) = points.dim();
    if n < 2 || dims == 0 || dims > d {
        return Err(Error::invalid(
            "PCA",
            format!("at least 2 points and 1..={d} dimensions"),
            format!("{n} points, {dims} dimensions"),
        ));
    }
    let mean = points.mean_axis(Axis(0)).expect("n ≥ 2");
    let centred = &points - &mean;
    let cov = centred.t().dot(&centred) / (n - 1) as f64;
    let (values, vectors) = symmetric_eigen(&cov);
    let order: Vec<usize> = (0..d).rev().take(dims).collect();
    let axes = vectors.select(Axis(1), &order);
    Ok((
        centred.dot(&axes),
        order.iter().map(|&i| values[i]).collect(),
    ))
}

/// The PCA layout of `points` in 2-D, each axis rescaled to standard deviation `std`.
fn pca_layout(points: ArrayView2<f64>, std: f64) -> Result<Array2<f64>> {
    let dims = points.ncols().min(2);
    let (proj, _) = pca(points, dims)?;
    let mut y = Array2::zeros((points.nrows(), 2));
    for j in 0..dims {
        let col = proj.column(j);
        let sd = (col.mapv(|v| v * v).mean().unwrap_or(0.0))
            .sqrt()
            .max(1e-300);
        y.column_mut(j).assign(&col.mapv(|v| v * std / sd));
    }
    Ok(y)
}

/// Squared distances of all pairs, row-major n×n.
fn squared_distances(points: ArrayView2<f64>) -> Vec<f64> {
    let n = points.nrows();
    let mut d2 = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v = super::distance::squared_distance(points.row(i), points.row(j));
            d2[i * n + j] = v;
            d2[j * n + i] = v;
        }
    }
    d2
}

/// t-SNE perplexity, steps, and the bisection of the bandwidths.
const PERPLEXITY: f64 = 30.0;
const TSNE_STEPS: usize = 1000;
const EXAGGERATION_STEPS: usize = 250;

/// Exact t-SNE of `points` into 2-D (see the module notes).
///
/// ```
/// use memscape::analysis::samples::embed::tsne;
/// use ndarray::Array2;
///
/// // two far groups stay apart in the 2-D map
/// let points = Array2::from_shape_fn((40, 5), |(i, j)| {
///     (if i < 20 { 0.0 } else { 100.0 }) + ((i * 3 + j) % 7) as f64 * 0.1
/// });
/// let y = tsne(points.view())?;
/// assert_eq!(y.dim(), (40, 2));
/// let centre = |r: std::ops::Range<usize>| y.slice(ndarray::s![r, ..]).mean_axis(ndarray::Axis(0)).unwrap();
/// let gap = &centre(0..20) - &centre(20..40);
/// assert!(gap.dot(&gap).sqrt() > 1.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than four points (named `t-SNE`).
pub fn tsne(points: ArrayView2<f64>) -> Result<Array2<f64>> {
    let n = points.nrows();
    if n < 4 {
        return Err(Error::invalid("t-SNE", "at least 4 points", n));
    }
    let d2 = squared_distances(points);
    let perplexity = PERPLEXITY.min((n - 1) as f64 / 3.0);
    let target = perplexity.ln();
    let mut p = vec![0.0; n * n];
    for i in 0..n {
        let row = &d2[i * n..(i + 1) * n];
        let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0);
        let min = row
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &v)| v)
            .fold(f64::INFINITY, f64::min);
        for _ in 0..100 {
            // entropy H = ln Z + beta E[d²] of p_j ∝ exp(−beta (d_j² − min))
            let (mut z, mut e) = (0.0, 0.0);
            for (j, &v) in row.iter().enumerate() {
                if j != i {
                    let w = (-beta * (v - min)).exp();
                    z += w;
                    e += w * (v - min);
                }
            }
            let h = z.ln() + beta * e / z;
            if (h - target).abs() < 1e-5 {
                break;
            }
            if h > target {
                lo = beta;
                beta = if hi.is_finite() {
                    (beta + hi) / 2.0
                } else {
                    beta * 2.0
                };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
        let mut z = 0.0;
        for (j, &v) in row.iter().enumerate() {
            if j != i {
                p[i * n + j] = (-beta * (v - min)).exp();
                z += p[i * n + j];
            }
        }
        for v in &mut p[i * n..(i + 1) * n] {
            *v /= z;
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let v = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
            p[i * n + j] = v;
            p[j * n + i] = v;
        }
    }
    let mut y = pca_layout(points, 1e-4)?;
    let mut velocity = Array2::<f64>::zeros((n, 2));
    let mut gains = Array2::<f64>::ones((n, 2));
    let rate = (n as f64 / 12.0).max(50.0);
    let mut q = vec![0.0; n * n];
    for step in 0..TSNE_STEPS {
        let exaggeration = if step < EXAGGERATION_STEPS { 12.0 } else { 1.0 };
        let momentum = if step < EXAGGERATION_STEPS { 0.5 } else { 0.8 };
        let mut z = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                let dx = y[[i, 0]] - y[[j, 0]];
                let dy = y[[i, 1]] - y[[j, 1]];
                let w = 1.0 / (1.0 + dx * dx + dy * dy);
                q[i * n + j] = w;
                q[j * n + i] = w;
                z += 2.0 * w;
            }
        }
        for i in 0..n {
            let mut g = [0.0; 2];
            for j in 0..n {
                if j != i {
                    let w = q[i * n + j];
                    let f = 4.0 * (exaggeration * p[i * n + j] - w / z) * w;
                    g[0] += f * (y[[i, 0]] - y[[j, 0]]);
                    g[1] += f * (y[[i, 1]] - y[[j, 1]]);
                }
            }
            for c in 0..2 {
                // delta-bar-delta gains (van der Maaten's implementation)
                let same = (g[c] > 0.0) == (velocity[[i, c]] > 0.0);
                gains[[i, c]] = if same {
                    (gains[[i, c]] * 0.8f64).max(0.01)
                } else {
                    gains[[i, c]] + 0.2
                };
                velocity[[i, c]] = momentum * velocity[[i, c]] - rate * gains[[i, c]] * g[c];
            }
        }
        y += &velocity;
        let mean = y.mean_axis(Axis(0)).expect("n ≥ 4");
        y -= &mean;
    }
    Ok(y)
}

/// UMAP's neighbours, curve parameters (min_dist 0.1, spread 1), epochs, negative samples.
const UMAP_NEIGHBOURS: usize = 15;
const UMAP_A: f64 = 1.577;
const UMAP_B: f64 = 0.895;
const UMAP_EPOCHS: usize = 200;
const UMAP_NEGATIVES: usize = 5;

/// UMAP of `points` into 2-D (see the module notes); `seed` fixes the negative samples.
///
/// ```
/// use memscape::analysis::samples::embed::umap;
/// use ndarray::Array2;
///
/// let points = Array2::from_shape_fn((40, 5), |(i, j)| {
///     (if i < 20 { 0.0 } else { 100.0 }) + ((i * 3 + j) % 7) as f64 * 0.1
/// });
/// let y = umap(points.view(), 1)?;
/// assert_eq!(y.dim(), (40, 2));
/// // the same seed gives the same layout
/// assert_eq!(y, umap(points.view(), 1)?);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than four points (named `UMAP`), or non-finite points (their neighbours).
pub fn umap(points: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
    use rand::RngExt;
    let n = points.nrows();
    if n < 4 {
        return Err(Error::invalid("UMAP", "at least 4 points", n));
    }
    let k = UMAP_NEIGHBOURS.min(n - 1);
    let nn = super::distance::knn(points, points, k, true)?;
    let target = (k as f64).log2();
    let mut weights = std::collections::BTreeMap::<(usize, usize), f64>::new();
    for i in 0..n {
        let rho = nn.distances[[i, 0]];
        let (mut lo, mut hi, mut sigma) = (0.0f64, f64::INFINITY, 1.0);
        for _ in 0..64 {
            let s: f64 = nn
                .distances
                .row(i)
                .iter()
                .map(|&d| (-(d - rho).max(0.0) / sigma).exp())
                .sum();
            if (s - target).abs() < 1e-5 {
                break;
            }
            if s > target {
                hi = sigma;
                sigma = (sigma + lo) / 2.0;
            } else {
                lo = sigma;
                sigma = if hi.is_finite() {
                    (sigma + hi) / 2.0
                } else {
                    sigma * 2.0
                };
            }
        }
        for (c, &j) in nn.indices.row(i).iter().enumerate() {
            let w = (-(nn.distances[[i, c]] - rho).max(0.0) / sigma).exp();
            let key = (i.min(j), i.max(j));
            let e = weights.entry(key).or_insert(0.0);
            // fuzzy union of the two directed memberships: a + b − ab
            *e = *e + w - *e * w;
        }
    }
    let edges: Vec<(usize, usize, f64)> =
        weights.into_iter().map(|((i, j), w)| (i, j, w)).collect();
    let max_w = edges.iter().map(|e| e.2).fold(0.0, f64::max);
    let mut y = pca_layout(points, 10.0)?;
    let mut rng = crate::rng::stream(seed, 0);
    let clip = |v: f64| v.clamp(-4.0, 4.0);
    for epoch in 0..UMAP_EPOCHS {
        let alpha = 1.0 - epoch as f64 / UMAP_EPOCHS as f64;
        for &(i, j, w) in &edges {
            // each edge is sampled with probability proportional to its weight
            if rng.random::<f64>() > w / max_w {
                continue;
            }
            let attract = |a: usize, b: usize, y: &mut Array2<f64>, negative: bool| {
                let (dx, dy) = (y[[a, 0]] - y[[b, 0]], y[[a, 1]] - y[[b, 1]]);
                let d2 = dx * dx + dy * dy;
                let coef = if negative {
                    2.0 * UMAP_B / ((0.001 + d2) * (1.0 + UMAP_A * d2.powf(UMAP_B)))
                } else if d2 > 0.0 {
                    -2.0 * UMAP_A * UMAP_B * d2.powf(UMAP_B - 1.0)
                        / (1.0 + UMAP_A * d2.powf(UMAP_B))
                } else {
                    0.0
                };
                let (gx, gy) = (clip(coef * dx), clip(coef * dy));
                y[[a, 0]] += alpha * gx;
                y[[a, 1]] += alpha * gy;
                if !negative {
                    y[[b, 0]] -= alpha * gx;
                    y[[b, 1]] -= alpha * gy;
                }
            };
            attract(i, j, &mut y, false);
            for _ in 0..UMAP_NEGATIVES {
                let m = rng.random_range(0..n);
                if m != i {
                    attract(i, m, &mut y, true);
                }
            }
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::normal_matrix;

    #[test]
    fn pca_finds_the_long_axis() {
        let mut x = normal_matrix(500, 3, 1);
        x.column_mut(1).mapv_inplace(|v| 10.0 * v);
        let (proj, var) = pca(x.view(), 2).unwrap();
        assert_eq!(proj.shape(), &[500, 2]);
        assert!(var[0] > 50.0 && var[1] < 2.0, "{var:?}");
    }

    /// Three well-separated Gaussian clusters in 10-D stay separated in both 2-D maps: every
    /// point's nearest neighbour in the layout is from its own cluster, and the layout is a
    /// function of the input (and seed) alone.
    #[test]
    fn tsne_and_umap_keep_clusters_apart() {
        let centres = normal_matrix(3, 10, 8) * 10.0;
        let x = Array2::from_shape_fn((90, 10), |(i, j)| centres[[i % 3, j]])
            + normal_matrix(90, 10, 9) * 0.5;
        for (name, y) in [
            ("t-SNE", tsne(x.view()).unwrap()),
            ("UMAP", umap(x.view(), 1).unwrap()),
        ] {
            assert!(y.iter().all(|v| v.is_finite()), "{name}");
            let nn = crate::analysis::samples::distance::knn_naive(y.view(), y.view(), 1, true);
            let wrong = (0..90).filter(|&i| nn.indices[[i, 0]] % 3 != i % 3).count();
            assert_eq!(wrong, 0, "{name}: {wrong} points next to another cluster");
        }
        assert_eq!(umap(x.view(), 1).unwrap(), umap(x.view(), 1).unwrap());
    }
}
