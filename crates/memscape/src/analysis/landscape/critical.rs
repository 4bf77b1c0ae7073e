//! Critical points of the exact landscape E(x; beta), with Morse index and kind.
//!
//! ```text
//! ∇E = x − D(x),   Hess E = I − beta Cov_p(ξ)            (theory.md §1)
//! index = #{negative Hessian eigenvalues}; Σ (−1)^index = 1 over a complete, non-degenerate set
//! (E is coercive, E ~ |x|²/2; theory.md §2, check 2)
//! ```
//!
//! Search: from every start (patterns, pairwise midpoints, centroids of each pattern with two of
//! its nearest neighbours, the centroid, seeded random points in the data's bounding box, and any
//! points the caller adds), run damped Newton on ∇E = 0 with
//! the analytic Hessian (it converges to minima, saddles and maxima alike), and separately
//! descend with x ← D(x) (CCCP, which finds minima from anywhere). Converged points are merged
//! when closer than `merge_radius`.
//!
//! A point is **degenerate** when a bifurcation happens at it within beta (1 ± 1e-5): the
//! critical points near it differ between the two sides ([`super::local`]). Only points with
//! |λ|min < 1e-3 max(1, beta R²) are tested. A degenerate point's position is known only to
//! ~√u (u the unit round-off), so a threshold on |λ|min alone cannot tell it from a nearly
//! degenerate one (the D3 triangle at beta = 2 gives |λ| ≈ 7e-8 at the point found; the K = 8
//! polygon at beta = 2.05, 2.5% from its event, has |λ|min ≈ 2e-7 and is not degenerate). The
//! kernel dimension counts the eigenvalues within 10× the smallest. With a degenerate point the
//! Euler characteristic is undefined: its local contribution is not (−1)^index.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::newton::{descend, newton, scales};
use crate::analysis::linalg::symmetric_eigen;
use crate::denoiser::Landscape;
use crate::error::Result;
use crate::rng::{stream, uniform};

/// What a critical point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A minimum within the memorization threshold of a pattern.
    Memory,
    /// Any other minimum.
    Spurious,
    Saddle,
    Maximum,
}

/// One critical point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriticalPoint {
    pub x: Vec<f64>,
    pub energy: f64,
    /// Hessian eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    pub index: usize,
    pub kind: Kind,
    pub degenerate: bool,
    /// The Hessian eigenvalues that vanish at a degenerate point (0 otherwise).
    pub kernel_dim: usize,
    /// |∇E| at the returned point.
    pub gradient_norm: f64,
}

/// Search settings.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SearchConfig {
    pub random_starts: usize,
    pub seed: u64,
    /// Newton/CCCP stop when |∇E| is below this × the data scale.
    pub tolerance: f64,
    pub max_iterations: usize,
    /// Minima within this distance of a pattern are memories (delta_m).
    pub memory_radius: f64,
    /// Points closer than this are one critical point.
    pub merge_radius: f64,
    /// Midpoints of all pairs are starts when K is at most this; beyond, each pattern's
    /// 8 nearest partners.
    pub all_pairs_up_to: usize,
    /// Start from the patterns, midpoints, neighbour triples and the centroid as well as from
    /// the random points (false: random points and extra starts only).
    pub structured_starts: bool,
}

/// The critical points found and their counts.
#[derive(Debug, Clone, Serialize)]
pub struct CriticalSet {
    pub beta: f64,
    pub points: Vec<CriticalPoint>,
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
    /// Σ (−1)^index over the points; 1 when the set is complete. None (undefined) when a
    /// point is degenerate.
    pub euler_characteristic: Option<i64>,
    pub num_starts: usize,
    pub num_unconverged: usize,
}

/// Starts for the search: patterns, midpoints, the centroid, random points in the bounding box.
fn starts(
    patterns: ArrayView2<f64>,
    config: &SearchConfig,
    extra: Option<ArrayView2<f64>>,
) -> Vec<Array1<f64>> {
    let d = patterns.ncols();
    let mut out: Vec<Array1<f64>> = Vec::new();
    if config.structured_starts {
        structured_starts(patterns, config, &mut out);
    }
    let lo: Vec<f64> = (0..d)
        .map(|j| patterns.column(j).fold(f64::INFINITY, |a, &b| a.min(b)))
        .collect();
    let hi: Vec<f64> = (0..d)
        .map(|j| patterns.column(j).fold(f64::NEG_INFINITY, |a, &b| a.max(b)))
        .collect();
    let mut rng = stream(config.seed, 0);
    for _ in 0..config.random_starts {
        out.push(
            (0..d)
                .map(|j| lo[j] + (hi[j] - lo[j]) * uniform(&mut rng))
                .collect(),
        );
    }
    if let Some(extra) = extra {
        out.extend(extra.rows().into_iter().map(|r| r.to_owned()));
    }
    out
}

/// Patterns, the centroid, pairwise midpoints and neighbour-triple centroids.
fn structured_starts(patterns: ArrayView2<f64>, config: &SearchConfig, out: &mut Vec<Array1<f64>>) {
    let k = patterns.nrows();
    out.extend(patterns.rows().into_iter().map(|r| r.to_owned()));
    out.push(patterns.mean_axis(ndarray::Axis(0)).expect("k ≥ 1"));
    let pairs: Vec<(usize, usize)> = if k <= config.all_pairs_up_to {
        (0..k)
            .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
            .collect()
    } else {
        let nn = crate::analysis::samples::distance::knn(patterns, patterns, 8.min(k - 1), true)
            .expect("patterns are valid");
        (0..k)
            .flat_map(|i| {
                nn.indices
                    .row(i)
                    .iter()
                    .map(move |&j| (i, j))
                    .collect::<Vec<_>>()
            })
            .filter(|(i, j)| i < j)
            .collect()
    };
    out.extend(
        pairs
            .into_iter()
            .map(|(i, j)| (&patterns.row(i) + &patterns.row(j)) / 2.0),
    );
    // centroids and circumcentres of each pattern with two of its nearest neighbours (12 in d ≤ 3,
    // 4 above): maxima and higher-index saddles sit in such holes, where random starts rarely
    // converge
    if k >= 3 {
        let nn = crate::analysis::samples::distance::knn(
            patterns,
            patterns,
            (if patterns.ncols() <= 3 { 12 } else { 4 }).min(k - 1),
            true,
        )
        .expect("patterns are valid");
        for i in 0..k {
            let near = nn.indices.row(i);
            for a in 0..near.len() {
                for b in a + 1..near.len() {
                    let (p, q, r) = (
                        patterns.row(i),
                        patterns.row(near[a]),
                        patterns.row(near[b]),
                    );
                    out.push((&p + &q + r) / 3.0);
                    // circumcentre in the triple's plane: where E's Voronoi-like cells meet at
                    // large beta (E ≈ min_μ |x − ξ_μ|²/2)
                    let (u, v) = (&q - &p, &r - &p);
                    let (uu, vv, uv) = (u.dot(&u), v.dot(&v), u.dot(&v));
                    let det = 2.0 * (uu * vv - uv * uv);
                    if det > 1e-12 * uu * vv {
                        let (s, t) = (vv * (uu - uv) / det, uu * (vv - uv) / det);
                        out.push(&p + &(&u * s) + &(&v * t));
                    }
                }
            }
        }
    }
}

/// Finds the critical points of `land`.
///
/// ```
/// use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
/// use memscape::analysis::samples::classify::train_spacing;
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// // ±1 at beta = 2 (theory.md §5): minima at ±0.957504, and the origin, a maximum in 1-D
/// let patterns = array![[1.0], [-1.0]];
/// let land = Landscape::new(patterns.view(), 2.0)?;
/// let set = critical_points(&land, &SearchConfig::for_spacing(train_spacing(patterns.view())?), None)?;
/// assert_eq!((set.minima, set.saddles, set.maxima), (2, 0, 1));
/// assert_eq!(set.euler_characteristic, Some(1));
/// let mut minima: Vec<f64> = set.points.iter().filter(|p| p.index == 0).map(|p| p.x[0]).collect();
/// minima.sort_by(f64::total_cmp);
/// assert!((minima[1] - 0.957504).abs() < 1e-6 && (minima[0] + 0.957504).abs() < 1e-6);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// None today: a start that does not converge is counted in `num_unconverged`, not raised.
pub fn critical_points(
    land: &Landscape,
    config: &SearchConfig,
    extra_starts: Option<ArrayView2<f64>>,
) -> Result<CriticalSet> {
    let patterns = land.patterns();
    let (scale, radius_sq, floor_scale) = scales(land);
    let tol = config.tolerance * scale.max(1e-300);
    let max_step = 0.25 * scale.max(1e-12);
    let candidate_tol = 1e-3 * (land.beta * radius_sq).max(1.0);
    let local_radius = (0.2 * config.memory_radius).min(0.1 * scale);
    let starts = starts(patterns, config, extra_starts);
    let (mut found, mut unconverged) = (Vec::<(Array1<f64>, f64)>::new(), 0);
    let progress = crate::progress::Task::start("critical points (starts)", starts.len() as u64);
    let results: Vec<(Array1<f64>, bool, f64)> = {
        use rayon::prelude::*;
        starts
            .par_iter()
            .flat_map_iter(|s| {
                progress.advance(1);
                [
                    newton(land, s.view(), floor_scale, max_step, config.max_iterations),
                    descend(
                        land,
                        s.view(),
                        tol,
                        floor_scale,
                        max_step,
                        config.max_iterations,
                    ),
                ]
            })
            .collect()
    };
    for (x, ok, floor) in results {
        if !ok {
            unconverged += 1;
            continue;
        }
        // one point when closer than the merge radius plus both round-off floors
        if !found.iter().any(|(f, f_floor)| {
            (f - &x).mapv(|v| v * v).sum().sqrt() < config.merge_radius + floor + f_floor
        }) {
            found.push((x, floor));
        }
    }
    let found: Vec<Array1<f64>> = found.into_iter().map(|(x, _)| x).collect();
    let mut points: Vec<CriticalPoint> = found
        .into_iter()
        .map(|x| {
            let (eigenvalues, _) = symmetric_eigen(&land.hessian(x.view()));
            let index = eigenvalues.iter().filter(|&&l| l < 0.0).count();
            let smallest = eigenvalues
                .iter()
                .fold(f64::INFINITY, |m, l| m.min(l.abs()));
            let degenerate =
                smallest < candidate_tol && bifurcates_at(land, x.view(), local_radius, 1e-5);
            let kernel_dim = if degenerate {
                eigenvalues
                    .iter()
                    .filter(|l| l.abs() <= 10.0 * smallest)
                    .count()
            } else {
                0
            };
            let near_pattern = patterns
                .rows()
                .into_iter()
                .any(|p| (&p - &x).mapv(|v| v * v).sum().sqrt() <= config.memory_radius);
            let kind = match index {
                0 if near_pattern => Kind::Memory,
                0 => Kind::Spurious,
                i if i == x.len() => Kind::Maximum,
                _ => Kind::Saddle,
            };
            let g = land.gradient(x.view());
            CriticalPoint {
                energy: land.energy(x.view()),
                gradient_norm: g.dot(&g).sqrt(),
                x: x.to_vec(),
                eigenvalues,
                index,
                kind,
                degenerate,
                kernel_dim,
            }
        })
        .collect();
    points.sort_by(|a, b| a.index.cmp(&b.index).then(a.energy.total_cmp(&b.energy)));
    let count = |f: &dyn Fn(&CriticalPoint) -> bool| points.iter().filter(|p| f(p)).count();
    let d = land.dim();
    Ok(CriticalSet {
        beta: land.beta,
        minima: count(&|p| p.index == 0),
        saddles: count(&|p| p.index > 0 && p.index < d),
        maxima: count(&|p| p.index == d),
        euler_characteristic: (!points.iter().any(|p| p.degenerate)).then(|| {
            points
                .iter()
                .map(|p| if p.index % 2 == 0 { 1 } else { -1 })
                .sum()
        }),
        num_starts: starts.len(),
        num_unconverged: unconverged,
        points,
    })
}

/// Whether the critical points within `radius` of x differ between beta (1 − eps) and
/// beta (1 + eps): a bifurcation at x within that range.
fn bifurcates_at(land: &Landscape, x: ArrayView1<f64>, radius: f64, eps: f64) -> bool {
    let hessian = land.hessian(x);
    let side =
        |f: f64| super::local::local_points(&land.at_beta(land.beta * f), x, &hessian, radius);
    let (before, after) = (side(1.0 - eps), side(1.0 + eps));
    super::local::LocalChange::of(x, &before, &after).changed(&before, &after)
}

impl SearchConfig {
    /// Defaults for patterns whose nearest-neighbour spacing is `spacing`.
    ///
    /// ```
    /// use memscape::analysis::landscape::critical::SearchConfig;
    ///
    /// // the radii scale with the spacing: memories within a quarter of it
    /// let config = SearchConfig::for_spacing(2.0);
    /// assert_eq!(config.memory_radius, 0.5);
    /// assert!((config.merge_radius - 2e-6).abs() < 1e-20);
    /// ```
    pub fn for_spacing(spacing: f64) -> Self {
        SearchConfig {
            random_starts: 200,
            seed: 0,
            tolerance: 1e-11,
            max_iterations: 200,
            memory_radius: 0.25 * spacing,
            merge_radius: 1e-6 * spacing.max(1e-12),
            all_pairs_up_to: 200,
            structured_starts: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::{kgon, two_points};
    use ndarray::Array2;

    fn find(patterns: &Array2<f64>, beta: f64) -> CriticalSet {
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let spacing = crate::analysis::samples::classify::train_spacing(patterns.view()).unwrap();
        critical_points(&land, &SearchConfig::for_spacing(spacing), None).unwrap()
    }

    #[test]
    fn two_points_pitchfork_branch() {
        // theory.md §5: ±1 at beta = 2: minima ±0.957504 with E'' = 0.833628, origin a saddle.
        let set = find(&two_points(2.0, 3), 2.0);
        assert_eq!((set.minima, set.saddles, set.maxima), (2, 1, 0));
        for p in set.points.iter().filter(|p| p.index == 0) {
            assert!((p.x[0].abs() - 0.957504).abs() < 1e-6, "{:?}", p.x);
            assert!((p.eigenvalues[0] - 0.833628).abs() < 1e-6);
            assert_eq!(p.kind, Kind::Memory);
        }
        assert_eq!(set.euler_characteristic, Some(1));
        // below beta_c = 1 the origin is the only critical point
        let merged = find(&two_points(2.0, 3), 0.9);
        assert_eq!((merged.minima, merged.saddles, merged.maxima), (1, 0, 0));
        assert_eq!(merged.points[0].kind, Kind::Spurious);
    }

    #[test]
    fn kgon_counts_and_euler_characteristic() {
        // theory.md §7.8: K = 4..8, beta in [3, 10]: K minima, K saddles, 1 maximum, χ = 1.
        for k in 4..=8 {
            for beta in [3.0, 5.0, 10.0] {
                let set = find(&kgon(k, 1.0, 0.3), beta);
                assert_eq!(
                    (set.minima, set.saddles, set.maxima),
                    (k, k, 1),
                    "K={k} beta={beta}"
                );
                assert_eq!(set.euler_characteristic, Some(1));
                assert!(set.points.iter().all(|p| !p.degenerate));
            }
        }
        // the nearly degenerate stress case: K = 8 at beta = 2.05, |λ|min ≈ 2e-7
        let set = find(&kgon(8, 1.0, 0.0), 2.05);
        assert_eq!((set.minima, set.saddles, set.maxima), (8, 8, 1));
        let smallest = set
            .points
            .iter()
            .flat_map(|p| p.eigenvalues.iter())
            .fold(f64::INFINITY, |m, l| m.min(l.abs()));
        assert!(
            smallest < 1e-5 && set.points.iter().all(|p| !p.degenerate),
            "{smallest}"
        );
        assert_eq!(set.euler_characteristic, Some(1));
    }

    #[test]
    fn a_bifurcation_value_has_a_degenerate_point_and_no_euler_characteristic() {
        // The D3 triangle at beta = 2 (bifurcation.rs: three saddles pass through the centre,
        // Hess E = (1 − beta/2) I = 0 there): the centre is flagged with a 2-dimensional
        // kernel and χ is undefined. Just off the event, at beta = 2.01, the set is regular.
        let set = find(&kgon(3, 1.0, 0.0), 2.0);
        assert_eq!(set.euler_characteristic, None);
        let degenerate: Vec<&CriticalPoint> = set.points.iter().filter(|p| p.degenerate).collect();
        assert_eq!(degenerate.len(), 1);
        assert_eq!(degenerate[0].kernel_dim, 2);
        assert!(degenerate[0].x.iter().all(|v| v.abs() < 1e-6));
        let off = find(&kgon(3, 1.0, 0.0), 2.01);
        assert_eq!(off.euler_characteristic, Some(1));
        assert!(
            off.points
                .iter()
                .all(|p| !p.degenerate && p.kernel_dim == 0)
        );
    }

    #[test]
    fn global_average_index_in_d16() {
        // theory.md §7.19: 32 random unit vectors in d = 16 and their negatives; the origin is a
        // critical point for every beta, with index #{eig(C) > 1/beta}, C = (1/K) Σ ξ ξᵀ.
        let half = crate::dataset::synthetic::sphere(32, 16, 1.0, 7);
        let patterns = ndarray::concatenate![ndarray::Axis(0), half, -&half];
        let c = patterns.t().dot(&patterns) / 64.0;
        let (eig_c, _) = symmetric_eigen(&c);
        let origin = Array1::zeros(16);
        for beta in [1.0, 2.0, 4.0, 8.0, 10.0, 12.0, 16.0, 20.0, 30.0, 60.0] {
            let land = Landscape::new(patterns.view(), beta).unwrap();
            assert!(land.gradient(origin.view()).iter().all(|g| g.abs() < 1e-14));
            let (h, _) = symmetric_eigen(&land.hessian(origin.view()));
            let index = h.iter().filter(|&&l| l < 0.0).count();
            assert_eq!(
                index,
                eig_c.iter().filter(|&&l| l > 1.0 / beta).count(),
                "beta {beta}"
            );
        }
        // the first event: the origin loses stability at beta = 1/lambda_max(C)
        let beta_c = 1.0 / eig_c[15];
        let at = |b: f64| {
            symmetric_eigen(
                &Landscape::new(patterns.view(), b)
                    .unwrap()
                    .hessian(origin.view()),
            )
            .0[0]
        };
        assert!(at(beta_c * (1.0 - 1e-6)) > 0.0 && at(beta_c * (1.0 + 1e-6)) < 0.0);
    }

    #[test]
    fn convexity_bound_gives_one_critical_point() {
        // theory.md §7.11: 100 random sets (K ≤ 20, d ≤ 10): beta < 4/diam² ⇒ exactly one
        // critical point, a minimum.
        for seed in 0..100u64 {
            let patterns = crate::rng::normal_matrix(
                2 + (seed as usize % 19),
                1 + (seed as usize * 7 % 10),
                seed,
            );
            let mut diam: f64 = 0.0;
            for a in patterns.rows() {
                for b in patterns.rows() {
                    diam = diam.max((&a - &b).mapv(|v| v * v).sum().sqrt());
                }
            }
            let set = find(&patterns, 0.95 * 4.0 / (diam * diam));
            assert_eq!(set.points.len(), 1, "seed {seed}");
            assert_eq!(set.points[0].index, 0);
        }
    }
}
