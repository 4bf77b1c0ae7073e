//! Low-dimensional views and clusters of generated samples.
//!
//! **PCA**: centre, eigen-decompose the covariance (faer), project on the leading eigenvectors.
//!
//! **Clusters** (counting attractors in high dimension, as Pham et al. do by hand): single
//! linkage, i.e. the connected components of the graph joining samples closer than a threshold
//! (through each sample's 10 nearest neighbours). The automatic threshold is the first valley of
//! the density of log pairwise distances (Pham et al.'s rule): pairs of samples of one attractor
//! form a first mode of small distances, separated by a valley from the pairs of different
//! attractors or of distinct samples. When the density has no valley (no repeated attractors),
//! the threshold is 0 and every sample is its own cluster. Pairs: all of them up to 1500
//! samples, 500,000 seeded random pairs beyond.

use ndarray::{Array2, ArrayView2, Axis};

use super::critical::symmetric_eigen;
use super::settle::group;
use crate::error::{Error, Result};

/// Projection of `points` on their first `dims` principal axes, and the variance each explains.
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

/// The first valley of the density of log distances (a 40-bin histogram, smoothed over 3 bins),
/// as a distance; None when the density has a single mode.
pub fn first_valley(distances: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = distances
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|v| v.ln())
        .collect();
    if logs.len() < 10 {
        return None;
    }
    let (lo, hi) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if hi - lo < 1e-9 {
        return None;
    }
    const BINS: usize = 40;
    let mut hist = [0.0f64; BINS];
    for v in &logs {
        hist[(((v - lo) / (hi - lo)) * (BINS - 1) as f64).round() as usize] += 1.0;
    }
    let smooth: Vec<f64> = (0..BINS)
        .map(|i| {
            (i.saturating_sub(1)..=(i + 1).min(BINS - 1))
                .map(|j| hist[j])
                .sum::<f64>()
        })
        .collect();
    // first peak, then the lowest point before the density rises again above half that peak
    let peak = (1..BINS)
        .find(|&i| smooth[i] < smooth[i - 1])
        .map(|i| i - 1)?;
    let mut valley = peak;
    for i in peak + 1..BINS {
        if smooth[i] < smooth[valley] {
            valley = i;
        }
        if smooth[i] > 0.5 * smooth[peak].max(smooth[valley] + 1.0)
            && smooth[valley] < 0.5 * smooth[peak]
        {
            return Some((lo + (hi - lo) * valley as f64 / (BINS - 1) as f64).exp());
        }
    }
    None
}

/// Distances of all pairs (N ≤ 1500) or of 500,000 seeded random pairs.
fn pair_distances(samples: ArrayView2<f64>) -> Vec<f64> {
    let n = samples.nrows();
    let dist = |i: usize, j: usize| {
        samples
            .row(i)
            .iter()
            .zip(samples.row(j))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    };
    if n <= 1500 {
        (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| dist(i, j))
            .collect()
    } else {
        use rand::RngExt;
        let mut rng = crate::rng::stream(0, 0);
        (0..500_000)
            .map(|_| {
                let i = rng.random_range(0..n);
                let j = (i + 1 + rng.random_range(0..n - 1)) % n;
                dist(i, j)
            })
            .collect()
    }
}

/// Clusters of `samples` by single linkage at `threshold`, or at the automatic threshold.
/// Returns each sample's cluster, the number of clusters and the threshold used.
pub fn clusters(
    samples: ArrayView2<f64>,
    threshold: Option<f64>,
) -> Result<(Vec<usize>, usize, f64)> {
    if samples.nrows() < 2 {
        return Ok((vec![0; samples.nrows()], samples.nrows(), 0.0));
    }
    let threshold = match threshold {
        Some(t) => t,
        None => first_valley(&pair_distances(samples)).unwrap_or(0.0),
    };
    let (labels, count) = group(samples, threshold)?;
    Ok((labels, count, threshold))
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

    #[test]
    fn repeated_states_form_clusters_and_a_continuum_does_not() {
        // 6 attractors, 50 samples each with 1e-4 jitter: 6 clusters at the automatic threshold
        let centres = normal_matrix(6, 5, 2);
        let jitter = normal_matrix(300, 5, 3) * 1e-4;
        let samples =
            Array2::from_shape_fn((300, 5), |(i, j)| centres[[i % 6, j]] + jitter[[i, j]]);
        let (labels, count, threshold) = clusters(samples.view(), None).unwrap();
        assert_eq!(count, 6, "threshold {threshold}");
        assert!((0..300).all(|i| labels[i] == labels[i % 6]));
        // continuous draws: no valley, every sample alone
        let cloud = normal_matrix(300, 5, 4);
        let (_, count, _) = clusters(cloud.view(), None).unwrap();
        assert_eq!(count, 300);
    }
}
