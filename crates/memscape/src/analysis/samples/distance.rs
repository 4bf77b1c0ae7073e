//! Exact k-nearest neighbours between two point sets, by blocked GEMM.
//!
//! ```text
//! |q − p|² = |q_c|² + |p_c|² − 2 q_c·p_c        (q_c, p_c centred on the mean of the points)
//! ```
//!
//! 1. Centre both sets on the points' mean (distances are translation invariant; centring
//!    shrinks the norms and with them the cancellation), convert to f32, and form Q_c P_cᵀ in
//!    tiles of 1024 queries × 4096 points (faer GEMM).
//! 2. Keep, per query, the `k + 8` smallest approximate squared distances.
//! 3. Recompute those candidates exactly (f64, direct differences) and keep the best k. The
//!    f32 error of an approximate squared distance is at most about
//!    `e = 2u (√d + 2)(|q_c| + max|p_c|)²`; if the worst kept candidate is not more than `2e`
//!    beyond the exact k-th distance, a point left out could still belong, and that query is
//!    redone by a full exact scan. The result is therefore exact.
//!
//! With `exclude_self`, queries and points are the same set and row i never returns point i.
//!
//! Beside the neighbours: the pairs within a radius (`pairs_within`) and their single-linkage
//! groups ([`group`], components found by [`UnionFind`]).

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result, require_finite};

const QUERY_BLOCK: usize = 1024;
const POINT_BLOCK: usize = 4096;
const EXTRA: usize = 8;

/// The k nearest points of each query, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    /// N×k point indices.
    pub indices: Array2<usize>,
    /// N×k Euclidean distances, ascending along each row.
    pub distances: Array2<f64>,
}

/// Exact k nearest neighbours of every row of `queries` among the rows of `points`.
///
/// ```
/// use memscape::analysis::samples::distance::knn;
/// use ndarray::array;
///
/// let points = array![[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]];
/// let nn = knn(array![[0.9, 0.1]].view(), points.view(), 2, false)?;
/// assert_eq!(nn.indices.row(0).to_vec(), [1, 0]);
/// assert!((nn.distances[[0, 0]] - 0.02f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Dimension mismatch, empty sets, non-finite values, or `k` larger than the points available
/// (one fewer with `exclude_self`).
pub fn knn(
    queries: ArrayView2<f64>,
    points: ArrayView2<f64>,
    k: usize,
    exclude_self: bool,
) -> Result<Neighbours> {
    let (n, d) = queries.dim();
    let m = points.nrows();
    if points.ncols() != d {
        return Err(Error::ShapeMismatch {
            what: "points for the neighbour search".into(),
            expected: vec![m, d],
            got: points.shape().to_vec(),
        });
    }
    if n == 0 || m == 0 || d == 0 {
        return Err(Error::invalid(
            "point sets",
            "non-empty",
            format!("{n}×{d} queries, {m}×{} points", points.ncols()),
        ));
    }
    if exclude_self && n != m {
        return Err(Error::invalid(
            "self-excluding search",
            "run on one set (queries = points)",
            format!("{n} vs {m} rows"),
        ));
    }
    let available = m - usize::from(exclude_self);
    if k == 0 || k > available {
        return Err(Error::invalid(
            "k (neighbours)",
            format!("between 1 and {available}"),
            k,
        ));
    }
    require_finite("queries", queries)?;
    require_finite("points", points)?;

    let center = points.mean_axis(Axis(0)).expect("m ≥ 1");
    let to_f32 = |x: ArrayView2<f64>| -> (Vec<f32>, Vec<f64>) {
        let mut data = Vec::with_capacity(x.len());
        let mut norms = Vec::with_capacity(x.nrows());
        for row in x.rows() {
            let mut s = 0.0;
            for (v, c) in row.iter().zip(&center) {
                let p = (v - c) as f32;
                s += (p as f64) * (p as f64);
                data.push(p);
            }
            norms.push(s);
        }
        (data, norms)
    };
    let (q32, q_sq) = to_f32(queries);
    let (p32, p_sq) = to_f32(points);
    let max_p = p_sq.iter().cloned().fold(0.0, f64::max).sqrt();
    let keep = (k + EXTRA).min(available);
    let unit = f32::EPSILON as f64 / 2.0;

    let mut indices = Array2::zeros((n, k));
    let mut distances = Array2::zeros((n, k));
    let mut gram = vec![0f32; QUERY_BLOCK * POINT_BLOCK];
    for q0 in (0..n).step_by(QUERY_BLOCK) {
        let qn = QUERY_BLOCK.min(n - q0);
        // candidates[row] = (approximate squared distance, index), ascending, at most `keep`
        let mut candidates: Vec<Vec<(f64, usize)>> = vec![Vec::with_capacity(keep + 1); qn];
        // one-row products take a GEMV path that rounds differently: pad to two rows
        let rows = qn.max(2);
        let q_block: std::borrow::Cow<[f32]> = if qn == 1 {
            [&q32[q0 * d..(q0 + 1) * d], &q32[q0 * d..(q0 + 1) * d]]
                .concat()
                .into()
        } else {
            (&q32[q0 * d..(q0 + qn) * d]).into()
        };
        let qm = MatRef::from_row_major_slice(&q_block, rows, d);
        for p0 in (0..m).step_by(POINT_BLOCK) {
            let pn = POINT_BLOCK.min(m - p0);
            let pm = MatRef::from_row_major_slice(&p32[p0 * d..(p0 + pn) * d], pn, d);
            let g = MatMut::from_row_major_slice_mut(&mut gram[..rows * pn], rows, pn);
            faer::linalg::matmul::matmul(
                g,
                Accum::Replace,
                qm,
                pm.transpose(),
                1.0f32,
                Par::rayon(0),
            );
            gram[..qn * pn]
                .par_chunks(pn)
                .zip(candidates.par_iter_mut())
                .enumerate()
                .for_each(|(i, (g, cand))| {
                    let qi = q0 + i;
                    for (j, (&gij, &pj)) in g.iter().zip(&p_sq[p0..p0 + pn]).enumerate() {
                        let dist = q_sq[qi] + pj - 2.0 * gij as f64;
                        if cand.len() == keep && dist >= cand[keep - 1].0 {
                            continue;
                        }
                        let j = p0 + j;
                        if exclude_self && j == qi {
                            continue;
                        }
                        let at = cand.partition_point(|c| c.0 <= dist);
                        cand.insert(at, (dist, j));
                        cand.truncate(keep);
                    }
                });
        }
        // Refine exactly and check that nothing left out could belong.
        let results: Vec<Vec<(f64, usize)>> = candidates
            .into_par_iter()
            .enumerate()
            .map(|(i, cand)| {
                let qi = q0 + i;
                let q = queries.row(qi);
                let exact_sq = |j: usize| squared_distance(q, points.row(j));
                let worst_kept = cand.last().map_or(f64::INFINITY, |c| c.0);
                let mut exact: Vec<(f64, usize)> =
                    cand.iter().map(|&(_, j)| (exact_sq(j), j)).collect();
                exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let error =
                    2.0 * unit * ((d as f64).sqrt() + 2.0) * (q_sq[qi].sqrt() + max_p).powi(2);
                let complete = keep == available || worst_kept > exact[k - 1].0 + 2.0 * error;
                if !complete {
                    exact = (0..m)
                        .filter(|&j| !(exclude_self && j == qi))
                        .map(|j| (exact_sq(j), j))
                        .collect();
                    exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                }
                exact.truncate(k);
                exact
            })
            .collect();
        for (i, row) in results.into_iter().enumerate() {
            for (c, (dsq, j)) in row.into_iter().enumerate() {
                indices[[q0 + i, c]] = j;
                distances[[q0 + i, c]] = dsq.max(0.0).sqrt();
            }
        }
    }
    Ok(Neighbours { indices, distances })
}

/// `|a − b|²` by direct differences.
///
/// ```
/// use memscape::analysis::samples::distance::squared_distance;
///
/// assert_eq!(squared_distance(&[1.0, 2.0], &[4.0, 6.0]), 25.0);
/// ```
pub fn squared_distance<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    b: impl IntoIterator<Item = &'a f64>,
) -> f64 {
    a.into_iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The pairs (i < j) of each row of `points` and its `k` nearest other rows (fewer when there
/// are fewer rows), each pair once, sorted.
/// The distance from `x` to the nearest row of `points` (+∞ without rows).
///
/// ```
/// use memscape::analysis::samples::distance::nearest_distance;
/// use ndarray::array;
///
/// assert_eq!(nearest_distance(array![[0.0, 0.0], [3.0, 4.0]].view(), &[3.0, 0.0]), 3.0);
/// ```
pub fn nearest_distance(points: ArrayView2<f64>, x: &[f64]) -> f64 {
    points
        .rows()
        .into_iter()
        .map(|r| squared_distance(x, r.iter()))
        .fold(f64::INFINITY, f64::min)
        .sqrt()
}

pub(crate) fn knn_pairs(points: ArrayView2<f64>, k: usize) -> Result<Vec<(usize, usize)>> {
    let n = points.nrows();
    let k = k.min(n.saturating_sub(1));
    if k == 0 {
        return Ok(vec![]);
    }
    let nn = knn(points, points, k, true)?;
    let mut pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| {
            nn.indices
                .row(i)
                .iter()
                .map(move |&j| (i.min(j), i.max(j)))
                .collect::<Vec<_>>()
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    Ok(pairs)
}

/// Rows per tile of [`pairs_within`].
const PAIR_BLOCK: usize = 512;

/// Calls `visit(i, j)` for every pair i < j of `points` at distance ≤ `radius`, exactly: f64
/// GEMM tiles of `|x_i|² + |x_j|² − 2 x_i·x_j` on centred points screen the pairs, and pairs
/// within the screen's round-off of the radius are checked directly. Unlike a k-nearest-
/// neighbour graph, this never misses a pair among many near-identical points (a group of
/// repeats whose 10-NN links stay inside sub-groups).
pub(crate) fn pairs_within(
    points: ArrayView2<f64>,
    radius: f64,
    mut visit: impl FnMut(usize, usize),
) {
    let (n, d) = points.dim();
    if n < 2 || d == 0 || radius.is_nan() || radius < 0.0 {
        return;
    }
    let center = points.mean_axis(Axis(0)).expect("n ≥ 2");
    let centred: Vec<f64> = points
        .rows()
        .into_iter()
        .flat_map(|r| {
            r.iter()
                .zip(&center)
                .map(|(v, c)| v - c)
                .collect::<Vec<_>>()
        })
        .collect();
    let norms: Vec<f64> = centred
        .chunks(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let all = MatRef::from_row_major_slice(&centred, n, d);
    let r2 = radius * radius;
    let mut gram = vec![0f64; PAIR_BLOCK.max(2) * n];
    for i0 in (0..n).step_by(PAIR_BLOCK) {
        let rows = PAIR_BLOCK.min(n - i0);
        // one-row products take a GEMV path: pad to two rows
        let m = rows.max(2);
        let block: std::borrow::Cow<[f64]> = if rows == 1 {
            [
                &centred[i0 * d..(i0 + 1) * d],
                &centred[i0 * d..(i0 + 1) * d],
            ]
            .concat()
            .into()
        } else {
            (&centred[i0 * d..(i0 + rows) * d]).into()
        };
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut gram[..m * n], m, n),
            Accum::Replace,
            MatRef::from_row_major_slice(&block, m, d),
            all.transpose(),
            1.0,
            Par::rayon(0),
        );
        for a in 0..rows {
            let i = i0 + a;
            for j in i + 1..n {
                let approx = norms[i] + norms[j] - 2.0 * gram[a * n + j];
                let slack = 8.0 * f64::EPSILON * (norms[i] + norms[j]);
                let within = if (approx - r2).abs() <= slack {
                    let exact = squared_distance(
                        &centred[i * d..(i + 1) * d],
                        &centred[j * d..(j + 1) * d],
                    );
                    exact <= r2
                } else {
                    approx <= r2
                };
                if within {
                    visit(i, j);
                }
            }
        }
    }
}

/// Reference implementation: every distance by direct differences, then a full sort.
///
/// ```
/// use memscape::analysis::samples::distance::{knn, knn_naive};
/// use ndarray::array;
///
/// let points = array![[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0]];
/// let naive = knn_naive(points.view(), points.view(), 2, true);
/// let fast = knn(points.view(), points.view(), 2, true)?;
/// assert_eq!(naive.indices, fast.indices);
/// assert_eq!(naive.indices.row(0).to_vec(), [1, 2]);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn knn_naive(
    queries: ArrayView2<f64>,
    points: ArrayView2<f64>,
    k: usize,
    exclude_self: bool,
) -> Neighbours {
    let n = queries.nrows();
    let mut indices = Array2::zeros((n, k));
    let mut distances = Array2::zeros((n, k));
    for (i, q) in queries.rows().into_iter().enumerate() {
        let mut all: Vec<(f64, usize)> = points
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(j, _)| !(exclude_self && *j == i))
            .map(|(j, p)| ((&q - &p).mapv(|v| v * v).sum(), j))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (c, &(dsq, j)) in all.iter().take(k).enumerate() {
            indices[[i, c]] = j;
            distances[[i, c]] = dsq.sqrt();
        }
    }
    Neighbours { indices, distances }
}

/// Disjoint sets with path halving: the components of a graph given edge by edge.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    /// `n` elements, each its own set.
    ///
    /// ```
    /// use memscape::analysis::samples::distance::UnionFind;
    ///
    /// let mut sets = UnionFind::new(3);
    /// assert_eq!((sets.root(0), sets.root(1), sets.root(2)), (0, 1, 2));
    /// assert_eq!(sets.labels(|_| true).1, 3);
    /// ```
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    /// The representative of `i`'s set (halving the path on the way).
    ///
    /// ```
    /// use memscape::analysis::samples::distance::UnionFind;
    ///
    /// // 0 → 1 → 2: every element of the chain has root 2; 3 is alone
    /// let mut sets = UnionFind::new(4);
    /// sets.join(0, 1);
    /// sets.join(1, 2);
    /// assert_eq!([sets.root(0), sets.root(1), sets.root(2), sets.root(3)], [2, 2, 2, 3]);
    /// ```
    pub fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Merges the sets of `a` and `b`: `a`'s root now points to `b`'s.
    ///
    /// ```
    /// use memscape::analysis::samples::distance::UnionFind;
    ///
    /// let mut sets = UnionFind::new(4);
    /// sets.join(0, 1);
    /// sets.join(2, 3);
    /// assert_ne!(sets.root(0), sets.root(3));
    /// // joining two roots merges the two sets
    /// let (a, b) = (sets.root(0), sets.root(2));
    /// sets.join(a, b);
    /// assert_eq!(sets.root(0), sets.root(3));
    /// ```
    pub fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        self.parent[ra] = rb;
    }

    /// Component labels 0.. in order of first appearance, for the elements `keep` selects
    /// (`None` elsewhere), and the number of components.
    ///
    /// ```
    /// use memscape::analysis::samples::distance::UnionFind;
    ///
    /// // {0, 2}, {1}, {3, 4}; element 4 left out
    /// let mut sets = UnionFind::new(5);
    /// sets.join(0, 2);
    /// sets.join(3, 4);
    /// assert_eq!(sets.labels(|i| i != 4), (vec![Some(0), Some(1), Some(0), Some(2), None], 3));
    /// ```
    pub fn labels(&mut self, keep: impl Fn(usize) -> bool) -> (Vec<Option<usize>>, usize) {
        let n = self.parent.len();
        let mut label = vec![usize::MAX; n];
        let mut count = 0;
        let out = (0..n)
            .map(|i| {
                if !keep(i) {
                    return None;
                }
                let r = self.root(i);
                if label[r] == usize::MAX {
                    label[r] = count;
                    count += 1;
                }
                Some(label[r])
            })
            .collect();
        (out, count)
    }
}

/// Groups points closer than `radius` (single linkage: the components of the graph of all
/// pairs within `radius`) and returns each point's group and the number of groups.
///
/// ```
/// use memscape::analysis::samples::distance::group;
/// use ndarray::array;
///
/// // a chain 0 – 1 – 2 within the radius, and a point apart
/// let points = array![[0.0], [0.5], [1.0], [9.0]];
/// let (groups, n) = group(points.view(), 0.6)?;
/// assert_eq!(n, 2);
/// assert!(groups[0] == groups[2] && groups[2] != groups[3]);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Non-finite points.
pub fn group(points: ArrayView2<f64>, radius: f64) -> Result<(Vec<usize>, usize)> {
    require_finite("points to group", points)?;
    let mut sets = UnionFind::new(points.nrows());
    pairs_within(points, radius, |i, j| sets.join(i, j));
    let (labels, count) = sets.labels(|_| true);
    Ok((
        labels.into_iter().map(|l| l.expect("kept")).collect(),
        count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::normal_matrix;

    #[test]
    fn matches_the_naive_reference() {
        // Several blocks on both sides, data far from the origin, duplicates and near-ties.
        let mut points = normal_matrix(5000, 7, 1) + 50.0;
        for i in 0..20 {
            let row = points.row(i).to_owned();
            points.row_mut(4000 + i).assign(&row); // exact duplicates
        }
        let queries = normal_matrix(1500, 7, 2) + 50.0;
        for k in [1, 2, 5] {
            let fast = knn(queries.view(), points.view(), k, false).unwrap();
            let slow = knn_naive(queries.view(), points.view(), k, false);
            let err = (&fast.distances - &slow.distances)
                .mapv(f64::abs)
                .fold(0.0f64, |a, &b| a.max(b));
            assert!(err < 1e-12, "k={k}: {err}");
            // indices agree except where two points are at exactly the same distance
            for i in 0..queries.nrows() {
                for c in 0..k {
                    let (a, b) = (fast.indices[[i, c]], slow.indices[[i, c]]);
                    assert!(
                        a == b || points.row(a) == points.row(b),
                        "row {i}, rank {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn self_search_excludes_self_and_handles_one_row_blocks() {
        let points = normal_matrix(1025, 3, 3); // last query block has one row
        let fast = knn(points.view(), points.view(), 3, true).unwrap();
        let slow = knn_naive(points.view(), points.view(), 3, true);
        assert_eq!(fast.indices, slow.indices);
        assert!((0..1025).all(|i| fast.indices.row(i).iter().all(|&j| j != i)));
    }

    #[test]
    fn rejects_bad_input() {
        let a = normal_matrix(4, 3, 4);
        let b = normal_matrix(4, 2, 5);
        assert!(
            knn(a.view(), b.view(), 1, false)
                .unwrap_err()
                .to_string()
                .contains("expected shape")
        );
        assert!(
            knn(a.view(), a.view(), 4, true)
                .unwrap_err()
                .to_string()
                .contains("between 1 and 3")
        );
        let empty = Array2::<f64>::zeros((0, 3));
        assert!(knn(empty.view(), a.view(), 1, false).is_err());
        let mut nan = a.clone();
        nan[[0, 0]] = f64::NAN;
        assert!(
            knn(nan.view(), a.view(), 1, false)
                .unwrap_err()
                .to_string()
                .contains("NaN")
        );
    }

    /// Fast path against the naive double loop, on points with many near-repeats (sub-groups
    /// 1e-12 apart inside groups 1e-9 apart), random spread and one exact duplicate.
    #[test]
    fn pairs_within_matches_the_naive_pairs() {
        let base = normal_matrix(7, 5, 21);
        let fine = normal_matrix(600, 5, 22);
        let x = Array2::from_shape_fn((600, 5), |(i, j)| {
            if i < 500 {
                base[[i % 7, j]] + 1e-9 * fine[[i, j]] + 1e-12 * (i % 3) as f64
            } else {
                2.0 * fine[[i, j]]
            }
        });
        for radius in [1e-6, 0.5, 2.0] {
            let mut fast = vec![];
            pairs_within(x.view(), radius, |i, j| fast.push((i, j)));
            let mut naive = vec![];
            for i in 0..600 {
                for j in i + 1..600 {
                    let d: f64 = (0..5).map(|c| (x[[i, c]] - x[[j, c]]).powi(2)).sum();
                    if d.sqrt() <= radius {
                        naive.push((i, j));
                    }
                }
            }
            assert_eq!(fast, naive, "radius {radius}");
        }
        // 500 near-repeats of 7 states form exactly 7 groups (a 10-NN graph split them)
        let (_, groups) = group(x.slice(ndarray::s![..500, ..]), 1e-6).unwrap();
        assert_eq!(groups, 7);
    }

    /// Regression (90e60a3): grouping through each point's 10 nearest neighbours split a state
    /// reached by more than 10 samples into several groups whenever its round-off jitter
    /// formed sub-clumps, and overcounted attractors. Three sub-clumps of 11 repeats each,
    /// 1e-10 apart, inside one state; a second state far away.
    #[test]
    fn group_keeps_a_state_reached_by_many_samples_whole() {
        let points = Array2::from_shape_fn((66, 3), |(i, j)| {
            let state = if i < 33 { 0.0 } else { 5.0 };
            let clump = ((i % 33) / 11) as f64 * 1e-10;
            let jitter = (i % 11) as f64 * 1e-14;
            state + if j == 0 { clump + jitter } else { 0.0 }
        });
        let (labels, count) = group(points.view(), 1e-6).unwrap();
        assert_eq!(count, 2);
        assert!(labels[..33].iter().all(|&l| l == labels[0]));
        assert!(labels[33..].iter().all(|&l| l == labels[33]) && labels[0] != labels[33]);
    }
}
