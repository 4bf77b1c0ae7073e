//! Carries points to the attractor they sit in: iterate the denoiser at a fixed noise level,
//! `x ← D(x, sigma)`. For the exact model this is the CCCP / unit-step gradient descent on
//! E(x; beta = 1/sigma²), which lowers the energy at every step and stops at a critical point
//! (theory.md §1). Non-convergence is a status, not an error.

use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use crate::denoiser::Denoiser;

/// When to stop iterating.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SettleConfig {
    /// Stop a point once its step |D(x) − x| is below this.
    pub tolerance: f64,
    pub max_iterations: usize,
}

/// Where the points ended and how many converged.
#[derive(Debug, Clone)]
pub struct Settled {
    pub points: Array2<f64>,
    pub converged: Vec<bool>,
    pub iterations: usize,
}

/// Iterates `x ← D(x, sigma)` from `start` until every point moves less than the tolerance.
pub fn settle(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
) -> Settled {
    settle_impl(denoiser, start, sigma, config, None)
}

/// [`settle`], also stopping a point once its estimated distance to its limit is below
/// `distance`: in the linear regime, where the step ratios ρ = |step_n| / |step_{n−1}| of two
/// successive iterations agree to 1% and ρ < 0.999, the rest of the way is |step_n| ρ / (1 − ρ)
/// (Aitken). Such a point counts as converged; it lies about `distance` from the fixed point,
/// which a Newton polish then reaches. For slow contractions (ρ near 1, as a trained
/// network's denoiser at small sigma) this saves most of the iterations.
pub fn settle_within(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
    distance: f64,
) -> Settled {
    settle_impl(denoiser, start, sigma, config, Some(distance))
}

fn settle_impl(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
    distance: Option<f64>,
) -> Settled {
    let mut points = start.to_owned();
    let mut converged = vec![false; points.nrows()];
    // the last two step lengths of each point
    let mut last = vec![[f64::INFINITY; 2]; points.nrows()];
    let mut iterations = 0;
    while iterations < config.max_iterations && converged.iter().any(|c| !c) {
        let active: Vec<usize> = (0..points.nrows()).filter(|&i| !converged[i]).collect();
        let x = points.select(Axis(0), &active);
        let next = denoiser.denoise(x.view(), sigma);
        for (row, &i) in active.iter().enumerate() {
            let step = (&next.row(row) - &x.row(row)).mapv(|v| v * v).sum().sqrt();
            points.row_mut(i).assign(&next.row(row));
            let (rho, before) = (step / last[i][1], last[i][1] / last[i][0]);
            let linear = rho < 0.999 && (rho - before).abs() < 0.01 * rho;
            let near = distance.is_some_and(|d| linear && step * rho / (1.0 - rho) < d);
            converged[i] = step < config.tolerance || near;
            last[i] = [last[i][1], step];
        }
        iterations += 1;
    }
    Settled {
        points,
        converged,
        iterations,
    }
}

/// Disjoint sets with path halving: the components of a graph given edge by edge.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    pub fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    pub fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        self.parent[ra] = rb;
    }

    /// Component labels 0.. in order of first appearance, for the elements `keep` selects
    /// (`None` elsewhere), and the number of components.
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
pub fn group(points: ArrayView2<f64>, radius: f64) -> crate::error::Result<(Vec<usize>, usize)> {
    crate::error::require_finite("points to group", points)?;
    let mut sets = UnionFind::new(points.nrows());
    super::distance::pairs_within(points, radius, |i, j| sets.join(i, j));
    let (labels, count) = sets.labels(|_| true);
    Ok((
        labels.into_iter().map(|l| l.expect("kept")).collect(),
        count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denoiser::EmpiricalDenoiser;
    use crate::units::Beta;
    use ndarray::array;

    #[test]
    fn settle_within_stops_at_the_aitken_distance_of_a_linear_contraction() {
        // D(x) = 0.99 x from 1: x_n = 0.99^n, and the Aitken estimate |step| ρ/(1 − ρ) is x_n
        // exactly, so it stops at the first n with 0.99^n < 1e-3 (n = 688), where plain
        // settling (step 0.01 × 0.99^(n−1) < 1e-12) takes 2,293 iterations
        let slow = |x: ArrayView2<f64>, _s: f64| x.mapv(|v| 0.99 * v);
        let cfg = SettleConfig {
            tolerance: 1e-12,
            max_iterations: 10_000,
        };
        let start = array![[1.0]];
        let s = settle_within(&slow, start.view(), 1.0, &cfg, 1e-3);
        assert!(s.converged[0]);
        assert_eq!(s.iterations, 688);
        assert!(s.points[[0, 0]] < 1e-3 && s.points[[0, 0]] > 0.99e-3);
        assert_eq!(settle(&slow, start.view(), 1.0, &cfg).iterations, 2293);
        // a jump then a slow approach (x ← 0.1 x once past 10, else 0.999 x) is not stopped
        // by the jump's small ratio: it runs until the linear regime's estimate is small
        let kink =
            |x: ArrayView2<f64>, _s: f64| x.mapv(|v| if v > 10.0 { 0.1 * v } else { 0.999 * v });
        let s = settle_within(&kink, array![[50.0]].view(), 1.0, &cfg, 1e-2);
        assert!(s.points[[0, 0]] < 1e-2, "{}", s.points[[0, 0]]);
    }

    #[test]
    fn two_points_settle_on_the_pitchfork_branch() {
        // ±1 at beta = 2: minima at ±0.957504 (theory.md §5); the origin below beta_c = 1.
        let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view()).unwrap();
        let cfg = SettleConfig {
            tolerance: 1e-13,
            max_iterations: 10_000,
        };
        let s = settle(&den, array![[0.3], [-2.0]].view(), Beta(2.0).sigma(), &cfg);
        assert!(s.converged.iter().all(|&c| c));
        assert!((s.points[[0, 0]] - 0.957504).abs() < 1e-6);
        assert!((s.points[[1, 0]] + 0.957504).abs() < 1e-6);
        let merged = settle(&den, array![[0.7]].view(), Beta(0.5).sigma(), &cfg);
        assert!(merged.points[[0, 0]].abs() < 1e-9);
        let (groups, count) = group(s.points.view(), 1e-6).unwrap();
        assert_eq!((groups, count), (vec![0, 1], 2));
    }

    #[test]
    fn points_that_never_settle_are_reported_not_dropped() {
        // D(x) = −x: the origin is fixed, every other point flips sign for ever
        let flip = |x: ArrayView2<f64>, _sigma: f64| x.mapv(|v| -v);
        let cfg = SettleConfig {
            tolerance: 1e-9,
            max_iterations: 7,
        };
        let s = settle(&flip, array![[0.0, 0.0], [1.0, -2.0]].view(), 0.1, &cfg);
        assert_eq!(s.converged, vec![true, false]);
        assert_eq!(s.iterations, 7);
        // the last iterate, after an odd number of flips
        assert_eq!(s.points.row(1).to_vec(), vec![-1.0, 2.0]);
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
