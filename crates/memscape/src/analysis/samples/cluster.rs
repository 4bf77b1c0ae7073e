//! Clusters of generated samples, to count attractors in high dimension (Pham et al. do it by
//! hand with a per-K threshold; here the threshold is automatic and documented). `map` applies
//! them to the samples carried to their attractors (settled), where repeats of one state are
//! within round-off of each other and the valley is clean; raw samples at sigma_min > 0 spread
//! over a continuum of distances and have no valley to find.
//!
//! **Automatic threshold**: the first valley of the density of log pairwise distances (Pham
//! et al.'s rule): pairs of samples of one attractor form a first mode of small distances,
//! separated by a valley from the pairs of different attractors or of distinct samples. When the
//! density has no valley (no repeated attractors), the threshold is 0. Pairs: all of them up to
//! 1500 samples, 500,000 seeded random pairs beyond.
//!
//! **Agglomerative (single linkage)**: the connected components of the graph joining samples
//! closer than the threshold (through each sample's 10 nearest neighbours); every sample is in
//! a cluster, singletons included.
//!
//! **DBSCAN** (Ester et al. 1996) at eps = the same threshold and min_points = 5: a sample is a
//! core point when at least 4 other samples lie within eps (among its 10 nearest neighbours);
//! clusters are the components of core points joined within eps, border points join the
//! cluster of their nearest core neighbour within eps, the rest is noise. Where single linkage
//! counts every stray sample as a cluster, DBSCAN counts only states reached repeatedly, i.e.
//! attractors.
//!
//! **HDBSCAN** (Campello et al. 2013) needs no threshold: see [`hdbscan`].
//!
//! A cluster is labelled by the majority class of its samples (memorized / spurious /
//! generalized): spurious clusters are the spurious attractors.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::classify::Class;
use super::distance::squared_distance;
use super::distance::{UnionFind, group};
use crate::error::Result;

/// Distances below this fraction of the median pair distance count as repeats of one state
/// (round-off of a converged sample), so they pile into the first bin instead of stretching the
/// log axis over many empty decades.
const REPEAT_FLOOR: f64 = 1e-6;

/// The first valley of the density of log distances (a 40-bin histogram, smoothed over 3 bins,
/// distances floored at `REPEAT_FLOOR` × the median), as a distance; None when the density
/// has a single mode.
///
/// ```
/// use memscape::analysis::samples::cluster::first_valley;
///
/// // many short distances (within clusters) and many long ones (between them)
/// let mut d: Vec<f64> = (0..200).map(|i| 0.01 * (1.0 + (i % 7) as f64 / 10.0)).collect();
/// d.extend((0..200).map(|i| 5.0 * (1.0 + (i % 7) as f64 / 10.0)));
/// let valley = first_valley(&d).unwrap();
/// assert!(valley > 0.02 && valley < 5.0);
/// ```
pub fn first_valley(distances: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = distances
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if sorted.len() < 10 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let floor = sorted[sorted.len() / 2] * REPEAT_FLOOR;
    if floor <= 0.0 {
        return None;
    }
    let logs: Vec<f64> = sorted.iter().map(|v| v.max(floor).ln()).collect();
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
    let dist = |i: usize, j: usize| squared_distance(samples.row(i), samples.row(j)).sqrt();
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
///
/// ```
/// use memscape::analysis::samples::cluster::clusters;
/// use ndarray::array;
///
/// let samples = array![[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]];
/// let (labels, n, threshold) = clusters(samples.view(), Some(1.0))?;
/// assert_eq!((n, threshold), (2, 1.0));
/// assert!(labels[0] == labels[1] && labels[1] != labels[2]);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Non-finite samples ([`crate::analysis::samples::distance::group`]).
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

/// Each sample's cluster (`None`: noise).
pub type Labels = Vec<Option<usize>>;

/// DBSCAN's minimum neighbourhood, the point itself included.
pub const MIN_POINTS: usize = 5;

/// Neighbours examined per sample by DBSCAN and single linkage.
const NEIGHBOURS: usize = 10;

/// DBSCAN at radius `eps`: each sample's cluster (`None`: noise) and the number of clusters.
///
/// ```
/// use memscape::analysis::samples::cluster::dbscan;
/// use ndarray::Array2;
///
/// // two tight groups of 6 and one far outlier
/// let mut samples = Array2::zeros((13, 2));
/// for i in 0..6 {
///     samples[[i, 0]] = 0.01 * i as f64;
///     samples[[6 + i, 0]] = 10.0 + 0.01 * i as f64;
/// }
/// samples[[12, 1]] = 100.0;
/// let (labels, n) = dbscan(samples.view(), 0.1)?;
/// assert_eq!(n, 2);
/// assert_eq!(labels[12], None);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Non-finite samples (their neighbours; fewer than 5 samples are all noise, not an error).
pub fn dbscan(samples: ArrayView2<f64>, eps: f64) -> Result<(Labels, usize)> {
    let n = samples.nrows();
    if n < MIN_POINTS {
        return Ok((vec![None; n], 0));
    }
    let nn = super::distance::knn(samples, samples, NEIGHBOURS.min(n - 1), true)?;
    let core: Vec<bool> = (0..n)
        .map(|i| nn.distances[[i, MIN_POINTS - 2]] <= eps)
        .collect();
    let mut sets = UnionFind::new(n);
    super::distance::pairs_within(samples, eps, |i, j| {
        if core[i] && core[j] {
            sets.join(i, j)
        }
    });
    let (mut out, count) = sets.labels(|i| core[i]);
    for i in (0..n).filter(|&i| !core[i]) {
        // nearest core neighbour within eps (neighbours come sorted by distance)
        out[i] = nn
            .indices
            .row(i)
            .iter()
            .zip(nn.distances.row(i))
            .find(|&(&j, &d)| core[j] && d <= eps)
            .and_then(|(&j, _)| out[j]);
    }
    Ok((out, count))
}

/// How many clusters of each majority class a clustering has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterCounts {
    /// "dbscan" or "single-linkage".
    pub method: String,
    /// The linkage threshold (none for HDBSCAN, which needs none).
    pub threshold: Option<f64>,
    pub clusters: usize,
    pub memorized: usize,
    pub spurious: usize,
    pub generalized: usize,
    pub off_support: usize,
    /// Samples in no cluster (DBSCAN noise).
    pub noise: usize,
}

/// Counts the clusters of `labels` by the majority class of their samples (ties: memorized,
/// then spurious, generalized, off-support).
pub(crate) fn count_by_class(
    method: &'static str,
    threshold: Option<f64>,
    labels: &[Option<usize>],
    classes: &[Class],
) -> ClusterCounts {
    let clusters = labels.iter().flatten().map(|&l| l + 1).max().unwrap_or(0);
    let mut votes = vec![[0usize; 4]; clusters];
    for (l, c) in labels.iter().zip(classes) {
        if let Some(l) = l {
            votes[*l][*c as usize] += 1;
        }
    }
    let mut counts = ClusterCounts {
        method: method.to_string(),
        threshold,
        clusters,
        memorized: 0,
        spurious: 0,
        generalized: 0,
        off_support: 0,
        noise: labels.iter().filter(|l| l.is_none()).count(),
    };
    for v in votes {
        let best = (0..4).max_by_key(|&i| (v[i], 4 - i)).expect("four classes");
        match best {
            0 => counts.memorized += 1,
            1 => counts.spurious += 1,
            2 => counts.generalized += 1,
            _ => counts.off_support += 1,
        }
    }
    counts
}

/// HDBSCAN's smallest cluster, and the neighbour count of its core distance.
pub const MIN_CLUSTER_SIZE: usize = 5;

/// HDBSCAN (Campello, Moulavi & Sander 2013; McInnes et al.'s `hdbscan`): each sample's
/// cluster (`None`: noise) and the number of clusters. Core distance = distance to the 4th
/// nearest other sample; mutual reachability `max(core_i, core_j, d_ij)`; its minimum spanning
/// tree (Prim, O(N²)); the single-linkage hierarchy condensed with a minimum cluster size of 5;
/// the clusters of greatest stability `Σ_points (λ_exit − λ_birth)`, λ = 1/distance, the root
/// excluded; distances below `REPEAT_FLOOR` × the largest tree edge count as equal. It needs
/// no threshold.
///
/// ```
/// use memscape::analysis::samples::cluster::hdbscan;
/// use ndarray::Array2;
///
/// // two Gaussian blobs of 20 points (sd 0.1) 50 apart
/// let mut r = memscape::rng::stream(1, 0);
/// let samples = Array2::from_shape_fn((40, 2), |(i, _)| {
///     (if i < 20 { 0.0 } else { 50.0 }) + 0.1 * memscape::rng::normal(&mut r)
/// });
/// let (labels, n) = hdbscan(samples.view())?;
/// assert_eq!(n, 2);
/// assert_ne!(labels[0], labels[39]);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Non-finite samples (their neighbours).
pub fn hdbscan(samples: ArrayView2<f64>) -> Result<(Labels, usize)> {
    let n = samples.nrows();
    if n < 2 * MIN_CLUSTER_SIZE {
        return Ok((vec![None; n], 0));
    }
    let nn = super::distance::knn(samples, samples, MIN_CLUSTER_SIZE - 1, true)?;
    let core: Vec<f64> = (0..n)
        .map(|i| nn.distances[[i, MIN_CLUSTER_SIZE - 2]])
        .collect();
    let dist = |i: usize, j: usize| {
        squared_distance(samples.row(i), samples.row(j))
            .sqrt()
            .max(core[i])
            .max(core[j])
    };
    // Prim's minimum spanning tree of the mutual reachability graph
    let mut in_tree = vec![false; n];
    let mut best = vec![(f64::INFINITY, 0usize); n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut current = 0;
    in_tree[0] = true;
    for _ in 1..n {
        let mut next = usize::MAX;
        for j in 0..n {
            if in_tree[j] {
                continue;
            }
            let d = dist(current, j);
            if d < best[j].0 {
                best[j] = (d, current);
            }
            if next == usize::MAX || best[j].0 < best[next].0 {
                next = j;
            }
        }
        edges.push((best[next].0, best[next].1, next));
        in_tree[next] = true;
        current = next;
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    // single-linkage dendrogram: node n + m merges two roots at edges[m].0
    // distances below the round-off floor are one distance: repeats of one state then merge
    // at one λ, and the split of a repeated state adds no stability
    let largest = edges.last().map_or(1.0, |e| e.0).max(f64::MIN_POSITIVE);
    let lambda = |d: f64| 1.0 / d.max(largest * REPEAT_FLOOR);
    let mut sets = UnionFind::new(2 * n - 1);
    let mut size = vec![1usize; 2 * n - 1];
    let mut children = vec![(0usize, 0usize, 0.0f64); n - 1];
    for (m, &(d, a, b)) in edges.iter().enumerate() {
        let (ra, rb) = (sets.root(a), sets.root(b));
        let node = n + m;
        sets.join(ra, node);
        sets.join(rb, node);
        size[node] = size[ra] + size[rb];
        children[m] = (ra, rb, d);
    }
    // condense top-down: cluster ids, their parents and births; each point's exit (cluster, λ)
    let mut cluster_parent = vec![usize::MAX];
    let mut birth = vec![0.0f64];
    let mut exit = vec![(0usize, 0.0f64); n];
    let leaves = |node: usize, out: &mut Vec<usize>| {
        let mut stack = vec![node];
        while let Some(v) = stack.pop() {
            if v < n {
                out.push(v);
            } else {
                let (l, r, _) = children[v - n];
                stack.extend([l, r]);
            }
        }
    };
    let mut stack = vec![(2 * n - 2, 0usize)];
    while let Some((node, cluster)) = stack.pop() {
        if node < n {
            continue;
        }
        let (l, r, d) = children[node - n];
        let lam = lambda(d);
        let (big_l, big_r) = (size[l] >= MIN_CLUSTER_SIZE, size[r] >= MIN_CLUSTER_SIZE);
        for (child, big) in [(l, big_l), (r, big_r)] {
            if big_l && big_r {
                cluster_parent.push(cluster);
                birth.push(lam);
                stack.push((child, birth.len() - 1));
            } else if big {
                stack.push((child, cluster));
            } else {
                let mut pts = vec![];
                leaves(child, &mut pts);
                for p in pts {
                    exit[p] = (cluster, lam);
                }
            }
        }
    }
    // stability: points leaving a cluster, and child clusters leaving at their birth
    let count = birth.len();
    let mut stability = vec![0.0f64; count];
    for &(c, lam) in &exit {
        stability[c] += lam - birth[c];
    }
    let mut members = vec![0usize; count];
    for &(c, _) in &exit {
        let mut c = c;
        loop {
            members[c] += 1;
            if c == 0 {
                break;
            }
            c = cluster_parent[c];
        }
    }
    for c in 1..count {
        let p = cluster_parent[c];
        stability[p] += members[c] as f64 * (birth[c] - birth[p]);
    }
    // select bottom-up (children always have larger ids than their parent)
    let mut selected = vec![false; count];
    let mut subtree = stability.clone();
    let mut child_sum = vec![0.0f64; count];
    for c in (1..count).rev() {
        if child_sum[c] > stability[c] {
            subtree[c] = child_sum[c];
        } else {
            selected[c] = true;
            subtree[c] = stability[c];
        }
        child_sum[cluster_parent[c]] += subtree[c];
    }
    // a selected cluster deselects its descendants: keep only the topmost selected ancestor
    let topmost = |mut c: usize| {
        let mut found = None;
        while c != 0 {
            if selected[c] {
                found = Some(c);
            }
            c = cluster_parent[c];
        }
        found
    };
    let mut label_of = std::collections::BTreeMap::new();
    let labels: Labels = exit
        .iter()
        .map(|&(c, _)| {
            topmost(c).map(|t| {
                let next = label_of.len();
                *label_of.entry(t).or_insert(next)
            })
        })
        .collect();
    Ok((labels, label_of.len()))
}

/// The three clusterings of `samples` with their labels and counts by class: DBSCAN and single
/// linkage at the automatic threshold (single linkage labels every sample), and HDBSCAN.
///
/// ```
/// use memscape::analysis::samples::classify::Class;
/// use memscape::analysis::samples::cluster::cluster_samples;
/// use ndarray::Array2;
///
/// // two Gaussian blobs of 20 points (sd 0.1) 50 apart
/// let mut r = memscape::rng::stream(1, 0);
/// let samples = Array2::from_shape_fn((40, 2), |(i, _)| {
///     (if i < 20 { 0.0 } else { 50.0 }) + 0.1 * memscape::rng::normal(&mut r)
/// });
/// let classes = [Class::Spurious; 40];
/// let (_, [dbscan, hdbscan, linkage]) = cluster_samples(samples.view(), &classes)?;
/// assert_eq!((dbscan.clusters, hdbscan.clusters, linkage.clusters), (2, 2, 2));
/// assert_eq!(linkage.spurious, 2);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// As [`clusters`], [`dbscan`] and [`hdbscan`].
pub fn cluster_samples(
    samples: ArrayView2<f64>,
    classes: &[Class],
) -> Result<([Labels; 3], [ClusterCounts; 3])> {
    let (linkage, _, threshold) = clusters(samples, None)?;
    let linkage: Labels = linkage.into_iter().map(Some).collect();
    // at threshold 0 (no valley) DBSCAN still groups exact repeats
    let (db, _) = dbscan(samples, threshold)?;
    let (hdb, _) = hdbscan(samples)?;
    let counts = [
        count_by_class("dbscan", Some(threshold), &db, classes),
        count_by_class("single-linkage", Some(threshold), &linkage, classes),
        count_by_class("hdbscan", None, &hdb, classes),
    ];
    Ok(([db, linkage, hdb], counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::normal_matrix;
    use ndarray::Array2;

    #[test]
    fn dbscan_finds_the_attractors_and_leaves_strays_as_noise() {
        // 4 attractors of 40 samples each (jitter 1e-3) and 20 scattered strays
        let centres = normal_matrix(4, 6, 5) * 3.0;
        let jitter = normal_matrix(160, 6, 6) * 1e-3;
        let mut samples = Array2::from_shape_fn((180, 6), |(i, j)| {
            if i < 160 {
                centres[[i % 4, j]] + jitter[[i, j]]
            } else {
                0.0
            }
        });
        samples
            .slice_mut(ndarray::s![160.., ..])
            .assign(&(normal_matrix(20, 6, 7) * 3.0));
        let (labels, count) = dbscan(samples.view(), 0.05).unwrap();
        assert_eq!(count, 4);
        assert!((0..160).all(|i| labels[i].is_some() && labels[i] == labels[i % 4]));
        assert!(labels[160..].iter().all(|l| l.is_none()));
        // majority classes: cluster of sample 0 spurious, the others memorized
        let classes: Vec<Class> = (0..180)
            .map(|i| match i {
                _ if i >= 160 => Class::Generalized,
                _ if i % 4 == 0 => Class::Spurious,
                _ => Class::Memorized,
            })
            .collect();
        let c = count_by_class("dbscan", Some(0.05), &labels, &classes);
        assert_eq!(
            (c.clusters, c.memorized, c.spurious, c.generalized, c.noise),
            (4, 3, 1, 0, 20)
        );
        // automatic threshold: the same 4 attractors
        let (_, counts) = cluster_samples(samples.view(), &classes).unwrap();
        assert_eq!(counts[0].clusters, 4, "{counts:?}");
        assert_eq!(counts[1].clusters, 4 + 20, "{counts:?}");
        // HDBSCAN, with no threshold at all: the same 4 clusters (a stray that joins a cluster
        // after it split off keeps that cluster's label, as in McInnes et al.'s library)
        let (labels, count) = hdbscan(samples.view()).unwrap();
        assert_eq!(count, 4, "{labels:?}");
        assert!((0..160).all(|i| labels[i].is_some() && labels[i] == labels[i % 4]));
        assert!(labels[160..].iter().filter(|l| l.is_none()).count() >= 10);
        assert_eq!(counts[2].clusters, 4);
    }

    /// HDBSCAN's point: blobs of very different densities, which no single DBSCAN radius
    /// separates well, come out as three clusters.
    #[test]
    fn hdbscan_separates_blobs_of_different_densities() {
        let z = normal_matrix(300, 2, 11);
        let x = Array2::from_shape_fn((300, 2), |(i, j)| {
            let (centre, std) = [(0.0, 0.05), (4.0, 0.3), (10.0, 1.0)][i % 3];
            (if j == 0 { centre } else { 0.0 }) + std * z[[i, j]]
        });
        let (labels, count) = hdbscan(x.view()).unwrap();
        assert_eq!(count, 3);
        for blob in 0..3 {
            let l: std::collections::BTreeSet<_> = (0..300)
                .filter(|i| i % 3 == blob)
                .filter_map(|i| labels[i])
                .collect();
            assert_eq!(l.len(), 1, "blob {blob}: {l:?}");
        }
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
