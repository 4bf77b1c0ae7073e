//! The critical points near one point, on both sides of a parameter value, and how they change
//! there: the local picture of a bifurcation (Golubitsky & Schaeffer, *Singularities and Groups
//! in Bifurcation Theory* I, ch. I–II: the branches that meet at a singular point, and their
//! indices on either side).
//!
//! A branch that passes smoothly through the point sits at x* ∓ ε x′ on the two sides (to first
//! order), so a point before is paired with the point after at its reflection through x*
//! (|(a − x*) + (b − x*)| small next to |a − x*| + |b − x*|). Points left unpaired are born or
//! die at the point (folds, the side branches of pitchforks).

use ndarray::{Array1, Array2, ArrayView1};

use super::newton::{newton, scales};
use crate::analysis::linalg::symmetric_eigen;
use crate::denoiser::Landscape;

/// A critical point near the centre, with its Morse index.
#[derive(Debug, Clone)]
pub struct LocalPoint {
    pub x: Array1<f64>,
    pub index: usize,
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// The critical points of `land` within `radius` of `centre`: damped Newton (any index) from
/// the centre and from centre + r·u, with r over decades up to `radius` and u along ± each
/// eigenvector of `hessian` (the singular point's), 16 directions in the plane of its two
/// softest eigenvectors and 8 seeded random directions. Points closer than their round-off
/// floors (plus 1e-12 × the data scale) are one.
pub(crate) fn local_points(
    land: &Landscape,
    centre: ArrayView1<f64>,
    hessian: &Array2<f64>,
    radius: f64,
) -> Vec<LocalPoint> {
    let d = centre.len();
    let (scale, _, floor_scale) = scales(land);
    let (values, vectors) = symmetric_eigen(hessian);
    let mut soft: Vec<usize> = (0..d).collect();
    soft.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()));
    let mut directions: Vec<Array1<f64>> = vec![];
    for k in 0..d {
        directions.push(vectors.column(k).to_owned());
        directions.push(-&vectors.column(k));
    }
    if d >= 2 {
        let (a, b) = (vectors.column(soft[0]), vectors.column(soft[1]));
        for j in 0..16 {
            let phi = std::f64::consts::TAU * (j as f64 + 0.5) / 16.0;
            directions.push(&a * phi.cos() + &b * phi.sin());
        }
    }
    let mut rng = crate::rng::stream(17, 0);
    for _ in 0..8 {
        let v: Array1<f64> = (0..d).map(|_| crate::rng::normal(&mut rng)).collect();
        directions.push(&v / norm(&v));
    }
    let mut starts = vec![centre.to_owned()];
    for r in [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0] {
        for u in &directions {
            starts.push(&centre + &(u * (r * radius)));
        }
    }
    let found: Vec<(Array1<f64>, bool, f64)> = {
        use rayon::prelude::*;
        starts
            .par_iter()
            .map(|x0| newton(land, x0.view(), floor_scale, 0.5 * radius, 200))
            .collect()
    };
    let mut out: Vec<(Array1<f64>, f64)> = vec![];
    for (x, ok, floor) in found {
        let distance = norm(&(&x - &centre));
        // Newton stops where its step falls below the round-off floor u·scale/|λ|min; a point
        // whose floor is not small next to the radius and to its own offset is not resolved
        // (a numerically flat ring, as near a D_K centre with K ≥ 5, where the points born
        // differ only at order r^K): it is dropped, so the caller sees an unbalanced local
        // Euler characteristic and widens ε.
        let resolved = floor <= 1e-6 * radius || floor <= 1e-3 * distance;
        if !ok || distance > radius || !resolved {
            continue;
        }
        if !out
            .iter()
            .any(|(y, f)| norm(&(y - &x)) < floor + f + 1e-12 * scale)
        {
            out.push((x, floor));
        }
    }
    out.into_iter()
        .map(|(x, _)| {
            let (values, _) = symmetric_eigen(&land.hessian(x.view()));
            LocalPoint {
                index: values.iter().filter(|&&l| l < 0.0).count(),
                x,
            }
        })
        .collect()
}

/// The symmetry rays of the patterns about their weighted mean, when `near` is it, in the
/// plane of the unit vectors `a`, `b`: the mean, and for every line through it in that plane
/// about which the patterns (with their multiplicities) are mirror-symmetric, its two
/// directions ±u. None unless `near` is within 1e-6 of the data scale of the mean and there
/// are at least two such lines (a dihedral group D_K, whose
/// centre undergoes the symmetric bifurcation; Golubitsky, Stewart & Schaeffer II, ch. XII).
/// Candidate lines: through each pattern's projection, and the bisectors of neighbouring
/// projections (the edge midpoints of a regular K-gon).
pub(crate) fn symmetry_rays(
    land: &Landscape,
    near: ArrayView1<f64>,
    a: ArrayView1<f64>,
    b: ArrayView1<f64>,
) -> Option<(Array1<f64>, Vec<Array1<f64>>)> {
    let patterns = land.patterns();
    let logs = land.log_multiplicities();
    let weights: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
    let total: f64 = weights.iter().sum();
    let mean = weights
        .iter()
        .zip(patterns.rows())
        .fold(Array1::<f64>::zeros(near.len()), |m, (w, p)| {
            m + &p * (*w / total)
        });
    let scale = patterns
        .rows()
        .into_iter()
        .map(|p| norm(&(&p - &mean)))
        .fold(0.0, f64::max)
        .max(1e-300);
    let tol = 1e-9 * scale;
    if norm(&(&near - &mean)) > 1e-6 * scale {
        return None;
    }
    let mut angles: Vec<f64> = patterns
        .rows()
        .into_iter()
        .filter_map(|p| {
            let v = &p - &mean;
            let (x, y) = (v.dot(&a), v.dot(&b));
            (x.hypot(y) > tol).then(|| y.atan2(x))
        })
        .collect();
    angles.sort_by(f64::total_cmp);
    let mut candidates = angles.clone();
    for (i, &t) in angles.iter().enumerate() {
        let next = angles
            .get(i + 1)
            .copied()
            .unwrap_or(angles[0] + std::f64::consts::TAU);
        candidates.push(0.5 * (t + next));
    }
    let mut axes: Vec<f64> = vec![];
    for alpha in candidates {
        let alpha = alpha.rem_euclid(std::f64::consts::PI);
        if axes.iter().any(|&b| {
            let d = (b - alpha).abs();
            d < 1e-9 || (std::f64::consts::PI - d) < 1e-9
        }) {
            continue;
        }
        let n = &a * (-alpha.sin()) + &b * alpha.cos();
        let mirrored = patterns.rows().into_iter().zip(logs).all(|(p, &l)| {
            let image = &p - &(&n * (2.0 * n.dot(&(&p - &mean))));
            patterns
                .rows()
                .into_iter()
                .zip(logs)
                .any(|(q, &m)| norm(&(&q - &image)) <= tol && (m - l).abs() <= 1e-12)
        });
        if mirrored {
            axes.push(alpha);
        }
    }
    if axes.len() < 2 {
        return None;
    }
    let rays = axes
        .iter()
        .flat_map(|&alpha| {
            let u = &a * alpha.cos() + &b * alpha.sin();
            [u.clone(), -u]
        })
        .collect();
    Some((mean, rays))
}

/// The critical points of `land` on the symmetry rays `rays` from `centre` (a critical point
/// by symmetry): the centre, and on each ray the zero of the gradient's component along it
/// nearest the centre within `radius`, by bracketing over halvings of the radius and
/// bisection. By symmetry the gradient on a ray lies along it, so each zero is a critical
/// point, found in one dimension where the plane's points differ in energy only at order
/// r^K. Each point comes with its smallest |Hessian eigenvalue| relative to the largest, to
/// tell whether its index is resolved.
pub(crate) fn symmetric_points(
    land: &Landscape,
    centre: ArrayView1<f64>,
    rays: &[Array1<f64>],
    radius: f64,
) -> Vec<(LocalPoint, f64)> {
    let point = |x: Array1<f64>| {
        let (values, _) = symmetric_eigen(&land.hessian(x.view()));
        let top = values.iter().fold(1e-300f64, |m, l| m.max(l.abs()));
        let soft = values.iter().fold(f64::INFINITY, |m, l| m.min(l.abs()));
        (
            LocalPoint {
                index: values.iter().filter(|&&l| l < 0.0).count(),
                x,
            },
            soft / top,
        )
    };
    let mut out = vec![point(centre.to_owned())];
    for u in rays {
        let g = |t: f64| u.dot(&land.gradient((&centre + &(u * t)).view()));
        // from 2^-24 of the radius out: closer in, the gradient is round-off
        let ts: Vec<f64> = (0..=24).rev().map(|k| radius * 0.5f64.powi(k)).collect();
        let first = g(ts[0]).signum();
        let Some(k) = (1..ts.len()).find(|&k| g(ts[k]).signum() != first) else {
            continue;
        };
        let (mut lo, mut hi) = (ts[k - 1], ts[k]);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if g(mid).signum() == first {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        out.push(point(&centre + &(u * (0.5 * (lo + hi)))));
    }
    out
}

/// How the critical points near x* change from one side to the other.
#[derive(Debug, Clone)]
pub struct LocalChange {
    /// (before, after): the points of one branch that passes through x*.
    pub through: Vec<(usize, usize)>,
    /// Points after with no partner before.
    pub born: Vec<usize>,
    /// Points before with no partner after.
    pub died: Vec<usize>,
}

impl LocalChange {
    /// Pairs `before` with `after` by reflection through `centre` (module docs), greedily from
    /// the best-matched pair.
    ///
    /// ```
    /// use memscape::analysis::landscape::local::{LocalChange, LocalPoint};
    /// use ndarray::array;
    ///
    /// // a pitchfork at 0: the minimum stays as a maximum, two minima are born beside it
    /// let point = |x: f64, index: usize| LocalPoint { x: array![x], index };
    /// let before = [point(0.0, 0)];
    /// let after = [point(0.0, 1), point(0.1, 0), point(-0.1, 0)];
    /// let change = LocalChange::of(array![0.0].view(), &before, &after);
    /// assert_eq!((change.through, change.born, change.died), (vec![(0, 0)], vec![1, 2], vec![]));
    /// // a branch crossing the centre: the point before pairs with its reflection after
    /// let crossing = LocalChange::of(array![1.0].view(), &[point(0.99, 1)], &[point(1.01, 1)]);
    /// assert_eq!(crossing.through, [(0, 0)]);
    /// ```
    pub fn of(centre: ArrayView1<f64>, before: &[LocalPoint], after: &[LocalPoint]) -> Self {
        let mut candidates = vec![];
        for (i, b) in before.iter().enumerate() {
            for (j, a) in after.iter().enumerate() {
                let (db, da) = (&b.x - &centre, &a.x - &centre);
                let (nb, na) = (norm(&db), norm(&da));
                let mismatch = norm(&(&db + &da)) / (nb + na).max(1e-300);
                let ratio = nb.max(na) / nb.min(na).max(1e-300);
                // a branch that stays put (a symmetric centre): the same point on both sides,
                // offset from x* by at most the round-off of x*
                let stationary = norm(&(&a.x - &b.x))
                    <= 0.1 * nb.max(na) + 1e-8 * (1.0 + centre.fold(0.0f64, |m, v| m.max(v.abs())));
                if stationary || (mismatch < 0.3 && ratio < 3.0) {
                    candidates.push((if stationary { 0.0 } else { mismatch }, i, j));
                }
            }
        }
        candidates.sort_by(|p, q| p.0.total_cmp(&q.0));
        let (mut used_b, mut used_a) = (vec![false; before.len()], vec![false; after.len()]);
        let mut through = vec![];
        for (_, i, j) in candidates {
            if !used_b[i] && !used_a[j] {
                used_b[i] = true;
                used_a[j] = true;
                through.push((i, j));
            }
        }
        through.sort();
        LocalChange {
            through,
            born: (0..after.len()).filter(|&j| !used_a[j]).collect(),
            died: (0..before.len()).filter(|&i| !used_b[i]).collect(),
        }
    }

    /// Whether anything changes: a point is born or dies, or a branch changes its index.
    ///
    /// ```
    /// use memscape::analysis::landscape::local::{LocalChange, LocalPoint};
    /// use ndarray::array;
    ///
    /// let point = |x: f64, index: usize| LocalPoint { x: array![x], index };
    /// let centre = array![0.0];
    /// // a branch that crosses with its index kept: nothing changes
    /// let (before, after) = ([point(-0.01, 0)], [point(0.01, 0)]);
    /// assert!(!LocalChange::of(centre.view(), &before, &after).changed(&before, &after));
    /// // the same branch turning from minimum to saddle does
    /// let after = [point(0.01, 1)];
    /// assert!(LocalChange::of(centre.view(), &before, &after).changed(&before, &after));
    /// ```
    pub fn changed(&self, before: &[LocalPoint], after: &[LocalPoint]) -> bool {
        !self.born.is_empty()
            || !self.died.is_empty()
            || self
                .through
                .iter()
                .any(|&(i, j)| before[i].index != after[j].index)
    }
}
