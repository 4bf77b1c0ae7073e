//! Manifold attractors: the connected near-neutral sets that settled points lie on.
//!
//! A point settles as *neutral* ([`super::settle`]) when what is left of its residual lies
//! along directions where J = ∂D/∂x has eigenvalues within the margin of 1: it sits on a
//! continuum of near-fixed points, along which the flow only drifts (the low-energy manifold of
//! a generalizing network, Pham et al. 2025 §4). Two such points lie on one connected set when
//! the segment between them stays on it: the flow from their midpoint settles within a quarter
//! of their distance of where it started (on a curved set the chord's midpoint is off it by
//! |a − b|² / 8R, far less). Between two isolated attractors the midpoint's flow runs to one
//! of them, half the distance away. Points closer than the grouping radius are one state and
//! are joined without a test.
//!
//! Candidate links are each point's nearest neutral neighbours, tested shortest first and
//! skipped once their ends are already joined (Kruskal's order), in parallel batches.

use ndarray::{Array2, ArrayView2};

use super::distance::{knn_pairs, pairs_within, squared_distance};
use super::settle::{SettleConfig, UnionFind, settle};
use crate::denoiser::Denoiser;
use crate::error::Result;

/// Nearest neutral neighbours of each point that are candidate links.
const LINK_NEIGHBOURS: usize = 3;
/// Links tested per batch (their midpoints settle together).
const LINK_BATCH: usize = 64;
/// A link holds when the midpoint's flow moves less than this × the link's length.
const LINK_DRIFT: f64 = 0.25;

/// The connected near-neutral sets of a group of neutral points.
#[derive(Debug, Clone)]
pub struct NeutralSets {
    /// Each point's set, 0.. in order of first appearance.
    pub label: Vec<usize>,
    pub count: usize,
    /// Links tested, and the denoiser rows their midpoints' flows spent.
    pub tests: usize,
    pub rows: usize,
}

/// Links the rows of `points` (points settled as neutral) into connected near-neutral sets;
/// `radius` joins points without a test, `settle` carries the midpoints.
pub fn neutral_sets(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    points: ArrayView2<f64>,
    radius: f64,
    settle_config: &SettleConfig,
) -> Result<NeutralSets> {
    let n = points.nrows();
    let mut sets = UnionFind::new(n);
    pairs_within(points, radius, |i, j| sets.join(i, j));
    let mut edges: Vec<(f64, usize, usize)> = knn_pairs(points, LINK_NEIGHBOURS)?
        .into_iter()
        .map(|(i, j)| (squared_distance(points.row(i), points.row(j)), i, j))
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut tests, mut rows) = (0, 0);
    let mut next = 0;
    while next < edges.len() {
        // the next batch of links whose ends are not yet joined
        let mut batch = vec![];
        while next < edges.len() && batch.len() < LINK_BATCH {
            let (_, i, j) = edges[next];
            next += 1;
            if sets.root(i) != sets.root(j) {
                batch.push((i, j));
            }
        }
        if batch.is_empty() {
            break;
        }
        let mids = Array2::from_shape_fn((batch.len(), points.ncols()), |(r, c)| {
            0.5 * (points[[batch[r].0, c]] + points[[batch[r].1, c]])
        });
        let ends = settle(denoiser, mids.view(), sigma, settle_config);
        tests += batch.len();
        rows += ends.rows();
        for (r, &(i, j)) in batch.iter().enumerate() {
            let length = squared_distance(points.row(i), points.row(j)).sqrt();
            let drift = squared_distance(ends.points.row(r), mids.row(r)).sqrt();
            if ends.status[r].settled() && drift <= LINK_DRIFT * length {
                sets.join(i, j);
            }
        }
    }
    let (label, count) = sets.labels(|_| true);
    Ok(NeutralSets {
        label: label.into_iter().map(|l| l.expect("kept")).collect(),
        count,
        tests,
        rows,
    })
}

/// The largest distance between two rows (the diameter of a point set); 0 for one row.
pub fn extent(points: ArrayView2<f64>) -> f64 {
    let n = points.nrows();
    let mut best: f64 = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            best = best.max(squared_distance(points.row(i), points.row(j)));
        }
    }
    best.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    /// D pulls radially onto the unit circle and leaves the angle alone: the circle is a
    /// continuum of fixed points (J has eigenvalue 1 along it, 0.5 across it).
    fn ring(x: ArrayView2<f64>, _sigma: f64) -> Array2<f64> {
        let mut out = x.to_owned();
        for mut r in out.rows_mut() {
            let norm = (r[0] * r[0] + r[1] * r[1]).sqrt();
            let scale = 0.5 + 0.5 / norm;
            r *= scale;
        }
        out
    }

    #[test]
    fn points_around_a_circle_of_fixed_points_form_one_set_and_two_circles_two() {
        // 40 points on the unit circle and 40 on a circle of radius 1 about (5, 0) (each its
        // own continuum): two sets, and the extent of the first is its diameter 2
        let two = |x: ArrayView2<f64>, s: f64| {
            let mut out = x.to_owned();
            for (mut o, r) in out.rows_mut().into_iter().zip(x.rows()) {
                let c = if r[0] > 2.5 { 5.0 } else { 0.0 };
                let shifted = Array1::from(vec![r[0] - c, r[1]]);
                let m = ring(shifted.view().insert_axis(ndarray::Axis(0)), s);
                o[0] = m[[0, 0]] + c;
                o[1] = m[[0, 1]];
            }
            out
        };
        let points = Array2::from_shape_fn((80, 2), |(i, j)| {
            let t = (i % 40) as f64 * std::f64::consts::TAU / 40.0;
            let c = if i < 40 { 0.0 } else { 5.0 };
            if j == 0 { c + t.cos() } else { t.sin() }
        });
        let config = SettleConfig::flow(1.0, false);
        let sets = neutral_sets(&two, 1.0, points.view(), 1e-6, &config).unwrap();
        assert_eq!(sets.count, 2);
        assert!(sets.label[..40].iter().all(|&l| l == sets.label[0]));
        assert!(sets.label[40..].iter().all(|&l| l == sets.label[40]));
        let e = extent(points.slice(ndarray::s![..40, ..]));
        assert!((e - 2.0).abs() < 1e-12, "{e}");
    }

    #[test]
    fn two_isolated_attractors_are_not_linked() {
        // D pulls each point halfway to the nearer of (±1, 0): the midpoint of points near the
        // two attractors flows to one of them, half the link away
        let wells = |x: ArrayView2<f64>, _s: f64| {
            let mut out = x.to_owned();
            for mut r in out.rows_mut() {
                let c = if r[0] >= 0.0 { 1.0 } else { -1.0 };
                r[0] = c + 0.5 * (r[0] - c);
                r[1] *= 0.5;
            }
            out
        };
        let points = ndarray::array![[-1.0, 0.0], [1.0, 0.01]];
        let config = SettleConfig::flow(1.0, false);
        let sets = neutral_sets(&wells, 1.0, points.view(), 1e-6, &config).unwrap();
        assert_eq!(sets.count, 2);
        assert_eq!(sets.tests, 1);
    }
}
