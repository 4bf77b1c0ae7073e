//! Manifold attractors: the connected near-neutral sets that settled points lie on.
//!
//! A point settles as *neutral* ([`super::settle`]) when what is left of its residual lies
//! along directions where J = ∂D/∂x has eigenvalues within the margin of 1 and it drifts
//! slower than 0.1 sigma per unit of flow time: it sits on a continuum of near-fixed points,
//! along which the flow only drifts (the low-energy manifold of a generalizing network, Pham et
//! al. 2025 §4). Two such points lie on one connected set when the segment between them stays
//! as near-fixed as its ends: at a quarter, half and three quarters of the way the drift
//! |D(x) − x| is at most twice the larger drift of the ends plus margin × |a − b| (what a
//! neutral direction, or the chord of a curved set, |a − b|² / 8R off it, adds). Off a set the
//! residual grows as (1 − λ) times the distance to it, so a gap between two sets, or an
//! isolated attractor between them, breaks the link. Points closer than the grouping radius
//! are one state and are joined without a test.
//!
//! Candidate links are each point's nearest neutral neighbours, tested shortest first and
//! skipped once their ends are already joined (Kruskal's order), in batches of one denoiser
//! call.

use ndarray::{Array2, ArrayView2};

use crate::analysis::samples::distance::{UnionFind, knn_pairs, pairs_within, squared_distance};
use crate::denoiser::Denoiser;
use crate::error::Result;

/// Nearest neutral neighbours of each point that are candidate links.
const LINK_NEIGHBOURS: usize = 3;
/// Up to this many points, the edges of their Euclidean minimum spanning tree are candidates
/// too (a k-nearest-neighbour graph of points bunched along a set can fall apart between the
/// bunches; the tree cannot). Prim's algorithm costs n² distances.
const MST_POINTS: usize = 4000;
/// Links tested per batch (their probes go to the denoiser together).
const LINK_BATCH: usize = 256;
/// Where a link is probed, as fractions of the way (one denoiser row each).
pub const LINK_PROBES: [f64; 3] = [0.25, 0.5, 0.75];

/// The connected near-neutral sets of a group of neutral points.
#[derive(Debug, Clone)]
pub struct NeutralSets {
    /// Each point's set, 0.. in order of first appearance.
    pub label: Vec<usize>,
    pub count: usize,
    /// Links tested, and the denoiser rows their probes spent.
    pub tests: usize,
    pub rows: usize,
}

/// Whether the segments between pairs of points stay as near-fixed as their ends: the drift
/// |D(x) − x| at each probe at most twice the larger drift of the two ends (`drift`) plus
/// `margin` × the segment's length (what a direction with |1 − λ| ≤ margin, or the chord of a
/// curved set, adds over it). One denoiser call for all pairs.
pub(crate) fn links_hold(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    points: ArrayView2<f64>,
    drift: &[f64],
    margin: f64,
    pairs: &[(usize, usize)],
) -> Vec<bool> {
    let m = LINK_PROBES.len();
    let probes = Array2::from_shape_fn((pairs.len() * m, points.ncols()), |(r, c)| {
        let (i, j) = pairs[r / m];
        let t = LINK_PROBES[r % m];
        (1.0 - t) * points[[i, c]] + t * points[[j, c]]
    });
    if probes.nrows() == 0 {
        return vec![];
    }
    let along = &denoiser.denoise(probes.view(), sigma) - &probes;
    pairs
        .iter()
        .enumerate()
        .map(|(p, &(i, j))| {
            let length = squared_distance(points.row(i), points.row(j)).sqrt();
            let limit = 2.0 * drift[i].max(drift[j]) + margin * length;
            (0..m).all(|k| along.row(p * m + k).dot(&along.row(p * m + k)).sqrt() <= limit)
        })
        .collect()
}

/// Links the rows of `points` (points settled as neutral, with their drifts |D(x) − x|) into
/// connected near-neutral sets; `radius` joins points without a test.
pub(crate) fn neutral_sets(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    points: ArrayView2<f64>,
    drift: &[f64],
    margin: f64,
    radius: f64,
) -> Result<NeutralSets> {
    let n = points.nrows();
    let mut sets = UnionFind::new(n);
    pairs_within(points, radius, |i, j| sets.join(i, j));
    let mut pairs = knn_pairs(points, LINK_NEIGHBOURS)?;
    if n <= MST_POINTS {
        pairs.extend(spanning_tree(points));
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut edges: Vec<(f64, usize, usize)> = pairs
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
        tests += batch.len();
        rows += batch.len() * LINK_PROBES.len();
        for (&(i, j), holds) in batch
            .iter()
            .zip(links_hold(denoiser, sigma, points, drift, margin, &batch))
        {
            if holds {
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

/// The edges (i < j) of the Euclidean minimum spanning tree of the rows, by Prim's algorithm.
fn spanning_tree(points: ArrayView2<f64>) -> Vec<(usize, usize)> {
    let n = points.nrows();
    if n < 2 {
        return vec![];
    }
    let mut inside = vec![false; n];
    // the nearest tree point of each outside point, and its squared distance
    let mut best = vec![(f64::INFINITY, 0usize); n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut last = 0;
    inside[0] = true;
    for _ in 1..n {
        let mut next = None;
        for j in 0..n {
            if inside[j] {
                continue;
            }
            let d = squared_distance(points.row(last), points.row(j));
            if d < best[j].0 {
                best[j] = (d, last);
            }
            if next.is_none_or(|k: usize| best[j].0 < best[k].0) {
                next = Some(j);
            }
        }
        let j = next.expect("a point outside");
        inside[j] = true;
        edges.push((best[j].1.min(j), best[j].1.max(j)));
        last = j;
    }
    edges
}

/// The largest distance between two rows (the diameter of a point set); 0 for one row.
pub(crate) fn extent(points: ArrayView2<f64>) -> f64 {
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
        let sets = neutral_sets(&two, 1.0, points.view(), &[0.0; 80], 0.01, 1e-6).unwrap();
        assert_eq!(sets.count, 2);
        assert!(sets.label[..40].iter().all(|&l| l == sets.label[0]));
        assert!(sets.label[40..].iter().all(|&l| l == sets.label[40]));
        let e = extent(points.slice(ndarray::s![..40, ..]));
        assert!((e - 2.0).abs() < 1e-12, "{e}");
    }

    #[test]
    fn two_isolated_attractors_are_not_linked() {
        // D pulls each point halfway to the nearer of (±1, 0): between points at the two
        // attractors the drift is 0.25 to 0.5, far above 0.01 × the distance 2
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
        let sets = neutral_sets(&wells, 1.0, points.view(), &[0.0; 2], 0.01, 1e-6).unwrap();
        assert_eq!(sets.count, 2);
        assert_eq!(sets.tests, 1);
    }
}
