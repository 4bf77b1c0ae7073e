//! Basins of the minima of E and the connections through index-1 saddles.
//!
//! A point's basin is the minimum its descent reaches: CCCP, x ← D(x) at the landscape's beta,
//! which lowers E at every step (theory.md §1), then a Newton polish. **Basin weights** are the
//! shares of starts drawn from the noised data distribution p_sigma = (1/K) Σ N(ξ_μ, sigma² I),
//! sigma = beta^(−1/2), the distribution a sampler at that noise level sees. The **Morse–Smale
//! graph**: from each index-1 saddle, descend from x ± ε v along the unstable eigenvector v; the
//! two minima reached are the ones the saddle connects. A branch that ends anywhere but at a
//! minimum flags a non-transversal (non-Morse–Smale) connection (theory.md §2, check 4).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::critical::CriticalSet;
use super::newton::{descend, scales};
use crate::analysis::linalg::symmetric_eigen;
use crate::denoiser::Landscape;
use crate::rng::{normal, stream, uniform};

/// Where a descent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// The minimum with this position in the critical set.
    Minimum(usize),
    /// Converged, but not to a listed minimum (a saddle, or a minimum the search missed).
    Elsewhere,
    /// The descent did not converge.
    Unconverged,
}

/// Descends from `x` and names the minimum reached.
pub(crate) fn descend_to(
    land: &Landscape,
    set: &CriticalSet,
    x: ArrayView1<f64>,
    radius: f64,
) -> Endpoint {
    let (scale, _, floor_scale) = scales(land);
    let (y, ok, _) = descend(land, x, 1e-12 * scale, floor_scale, 0.25 * scale, 2000);
    if !ok {
        return Endpoint::Unconverged;
    }
    set.points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.index == 0)
        .map(|(i, p)| {
            (
                i,
                p.x.iter()
                    .zip(&y)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt(),
            )
        })
        .filter(|&(_, d)| d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(Endpoint::Elsewhere, |(i, _)| Endpoint::Minimum(i))
}

/// Monte Carlo basin weights: for each minimum (by its position in `set.points`), the share of
/// `n` starts from p_sigma that descend to it; the rest lists (elsewhere, unconverged).
///
/// ```
/// use memscape::analysis::landscape::basin::basin_weights;
/// use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// // two patterns at beta = 4: two minima and the saddle between them
/// let patterns = array![[-1.0, 0.0], [1.0, 0.0]];
/// let land = Landscape::new(patterns.view(), 4.0)?;
/// let set = critical_points(&land, &SearchConfig::for_spacing(2.0), None)?;
/// let (weights, elsewhere, unconverged) = basin_weights(&land, &set, 400, 0, 0.05);
/// // the two minima share the starts about equally, and every start ends at one of them
/// assert_eq!(weights.len(), 2);
/// assert!(weights.iter().all(|&(_, w)| (0.4..0.6).contains(&w)));
/// assert_eq!(elsewhere + unconverged, 0.0);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn basin_weights(
    land: &Landscape,
    set: &CriticalSet,
    n: usize,
    seed: u64,
    radius: f64,
) -> (Vec<(usize, f64)>, f64, f64) {
    let patterns = land.patterns();
    let sigma = land.beta.sqrt().recip();
    let progress = crate::progress::Task::start("basin weights (descents)", n as u64);
    let ends: Vec<Endpoint> = (0..n)
        .into_par_iter()
        .map(|i| {
            progress.advance(1);
            let mut rng = stream(seed, i as u64);
            let mu =
                ((uniform(&mut rng) * patterns.nrows() as f64) as usize).min(patterns.nrows() - 1);
            let x: Array1<f64> = patterns
                .row(mu)
                .iter()
                .map(|&v| v + sigma * normal(&mut rng))
                .collect();
            descend_to(land, set, x.view(), radius)
        })
        .collect();
    let share =
        |f: &dyn Fn(&Endpoint) -> bool| ends.iter().filter(|e| f(e)).count() as f64 / n as f64;
    let weights = set
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.index == 0)
        .map(|(i, _)| (i, share(&|e| *e == Endpoint::Minimum(i))))
        .collect();
    (
        weights,
        share(&|e| *e == Endpoint::Elsewhere),
        share(&|e| *e == Endpoint::Unconverged),
    )
}

/// The basin label of every point of a 2-D grid over [x0, x1] × [y0, y1] (`resolution` per
/// side, row-major from the bottom-left): the minimum's position in `set.points`, or −1.
///
/// ```
/// use memscape::analysis::landscape::basin::basin_map;
/// use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// // two patterns at beta = 4: two minima and the saddle between them
/// let patterns = array![[-1.0, 0.0], [1.0, 0.0]];
/// let land = Landscape::new(patterns.view(), 4.0)?;
/// let set = critical_points(&land, &SearchConfig::for_spacing(2.0), None)?;
/// let map = basin_map(&land, &set, [-2.0, 2.0, -1.0, 1.0], 9, 0.05);
/// // the left half of the grid descends to one minimum, the right half to the other
/// assert_eq!(map.dim(), (9, 9));
/// assert_ne!(map[[4, 0]], map[[4, 8]]);
/// assert!(map[[4, 0]] >= 0 && map[[4, 8]] >= 0);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn basin_map(
    land: &Landscape,
    set: &CriticalSet,
    bounds: [f64; 4],
    resolution: usize,
    radius: f64,
) -> Array2<i64> {
    let labels: Vec<i64> = (0..resolution * resolution)
        .into_par_iter()
        .map(|k| {
            let x = ndarray::Array1::from(grid_point(bounds, resolution, k).to_vec());
            match descend_to(land, set, x.view(), radius) {
                Endpoint::Minimum(i) => i as i64,
                _ => -1,
            }
        })
        .collect();
    Array2::from_shape_vec((resolution, resolution), labels).expect("resolution² labels")
}

/// The points of a `resolution` × `resolution` grid over [x0, x1] × [y0, y1], row-major from
/// the bottom-left (row = y index), as used by [`basin_map`].
fn grid_point(bounds: [f64; 4], resolution: usize, k: usize) -> [f64; 2] {
    let [x0, x1, y0, y1] = bounds;
    let (r, c) = (k / resolution, k % resolution);
    let f = |i: usize, lo: f64, hi: f64| lo + (hi - lo) * i as f64 / (resolution - 1).max(1) as f64;
    [f(c, x0, x1), f(r, y0, y1)]
}

/// Every point of the grid of [`basin_map`] as the rows of a (resolution², 2) array.
pub(crate) fn grid_points(bounds: [f64; 4], resolution: usize) -> Array2<f64> {
    Array2::from_shape_fn((resolution * resolution, 2), |(k, j)| {
        grid_point(bounds, resolution, k)[j]
    })
}

/// The bounding box [x0, x1, y0, y1] of 2-D points, padded by 20% of its extent on each side
/// (the window of the landscape figures).
pub(crate) fn padded_box(points: ArrayView2<f64>) -> [f64; 4] {
    let range = |j: usize| {
        let (a, b) = points
            .column(j)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let pad = 0.2 * (b - a).max(1e-9);
        (a - pad, b + pad)
    };
    let ((x0, x1), (y0, y1)) = (range(0), range(1));
    [x0, x1, y0, y1]
}

/// E(x; beta) on a 2-D grid (same layout as [`basin_map`]).
///
/// ```
/// use memscape::analysis::landscape::basin::energy_grid;
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// let land = Landscape::new(array![[-1.0, 0.0], [1.0, 0.0]].view(), 4.0)?;
/// let e = energy_grid(&land, [-2.0, 2.0, -1.0, 1.0], 5);
/// // symmetric under x → −x, lowest near the patterns
/// assert!((e[[2, 0]] - e[[2, 4]]).abs() < 1e-12);
/// assert!(e[[2, 1]] < e[[2, 2]]);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn energy_grid(land: &Landscape, bounds: [f64; 4], resolution: usize) -> Array2<f64> {
    let values: Vec<f64> = (0..resolution * resolution)
        .into_par_iter()
        .map(|k| {
            land.energy(ndarray::Array1::from(grid_point(bounds, resolution, k).to_vec()).view())
        })
        .collect();
    Array2::from_shape_vec((resolution, resolution), values).expect("resolution² values")
}

/// The score ∇log p_sigma = −beta ∇E on a 2-D grid: `[row, column, component]`.
///
/// ```
/// use memscape::analysis::landscape::basin::score_grid;
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// let land = Landscape::new(array![[-1.0, 0.0], [1.0, 0.0]].view(), 4.0)?;
/// let s = score_grid(&land, [-2.0, 2.0, -1.0, 1.0], 5);
/// assert_eq!(s.dim(), (5, 5, 2));
/// // at the far right the score points back towards the pattern at (1, 0)
/// assert!(s[[2, 4, 0]] < 0.0);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn score_grid(land: &Landscape, bounds: [f64; 4], resolution: usize) -> ndarray::Array3<f64> {
    let values: Vec<f64> = (0..resolution * resolution)
        .into_par_iter()
        .flat_map_iter(|k| {
            let g = land
                .gradient(ndarray::Array1::from(grid_point(bounds, resolution, k).to_vec()).view());
            [-land.beta * g[0], -land.beta * g[1]]
        })
        .collect();
    ndarray::Array3::from_shape_vec((resolution, resolution, 2), values)
        .expect("resolution² × 2 values")
}

/// One edge of the Morse–Smale graph: an index-1 saddle and where its two unstable branches end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    pub saddle: usize,
    pub ends: [Endpoint; 2],
    /// Both branches end at minima.
    pub transversal: bool,
}

/// The minima each index-1 saddle connects.
///
/// ```
/// use memscape::analysis::landscape::basin::{Endpoint, morse_smale};
/// use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
/// use memscape::denoiser::Landscape;
/// use ndarray::array;
///
/// // two patterns at beta = 4: two minima and the saddle between them
/// let patterns = array![[-1.0, 0.0], [1.0, 0.0]];
/// let land = Landscape::new(patterns.view(), 4.0)?;
/// let set = critical_points(&land, &SearchConfig::for_spacing(2.0), None)?;
/// let connections = morse_smale(&land, &set, 0.05);
/// // the saddle's two branches end at the two minima
/// assert_eq!(connections.len(), 1);
/// assert!(connections[0].transversal);
/// assert!(connections[0].ends.iter().all(|e| matches!(e, Endpoint::Minimum(_))));
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn morse_smale(land: &Landscape, set: &CriticalSet, radius: f64) -> Vec<Connection> {
    set.points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.index == 1)
        .map(|(s, p)| {
            let x = Array1::from(p.x.clone());
            let (_, vectors) = symmetric_eigen(&land.hessian(x.view()));
            let v = vectors.column(0).to_owned(); // eigenvalues ascend: column 0 is unstable
            let eps = 1e-3 * radius.max(1e-9) + 1e-6;
            let ends = [
                descend_to(land, set, (&x + &(&v * eps)).view(), radius),
                descend_to(land, set, (&x - &(&v * eps)).view(), radius),
            ];
            let transversal = ends.iter().all(|e| matches!(e, Endpoint::Minimum(_)));
            Connection {
                saddle: s,
                ends,
                transversal,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::landscape::critical::{SearchConfig, critical_points};
    use crate::dataset::synthetic::kgon;

    fn setup(patterns: &Array2<f64>, beta: f64) -> (Landscape, CriticalSet, f64) {
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let spacing = crate::analysis::samples::classify::train_spacing(patterns.view()).unwrap();
        let set = critical_points(&land, &SearchConfig::for_spacing(spacing), None).unwrap();
        (land, set, 0.05 * spacing)
    }

    #[test]
    fn kgon_saddles_join_neighbouring_minima_and_basins_are_equal() {
        let k = 6;
        let (land, set, radius) = setup(&kgon(k, 1.0, 0.1), 5.0);
        let graph = morse_smale(&land, &set, radius);
        assert_eq!(graph.len(), k);
        let minima: Vec<usize> = (0..set.points.len())
            .filter(|&i| set.points[i].index == 0)
            .collect();
        for c in &graph {
            assert!(c.transversal);
            let (Endpoint::Minimum(a), Endpoint::Minimum(b)) = (c.ends[0], c.ends[1]) else {
                panic!()
            };
            assert_ne!(a, b);
            // neighbouring minima: 60° apart on the hexagon
            let (pa, pb) = (&set.points[a].x, &set.points[b].x);
            let cos = (pa[0] * pb[0] + pa[1] * pb[1]) / (pa[0].hypot(pa[1]) * pb[0].hypot(pb[1]));
            assert!((cos - 0.5).abs() < 1e-6, "{cos}");
        }
        let n = 3000;
        let (weights, elsewhere, unconverged) = basin_weights(&land, &set, n, 1, radius);
        assert_eq!(weights.len(), minima.len());
        let se = ((1.0 / k as f64) * (1.0 - 1.0 / k as f64) / n as f64).sqrt();
        for (_, w) in &weights {
            assert!((w - 1.0 / k as f64).abs() < 4.0 * se, "{weights:?}");
        }
        assert!(elsewhere + unconverged < 1e-3);
        let map = basin_map(&land, &set, [-1.5, 1.5, -1.5, 1.5], 21, radius);
        // the energy grid is lowest at the grid point nearest a memory; the score at (1.5, 0)
        // points back inward
        let e = energy_grid(&land, [-1.5, 1.5, -1.5, 1.5], 21);
        let (imin, _) = e
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        // the hexagon's vertices lie on the unit circle and its minima near them; the grid
        // step is 0.15, so the lowest grid point is within half a diagonal (0.106) of a
        // minimum, and 0.2 also allows the minimum's offset from radius 1
        let [gx, gy] = grid_point([-1.5, 1.5, -1.5, 1.5], 21, imin);
        assert!(
            ((gx * gx + gy * gy).sqrt() - 1.0).abs() < 0.2,
            "({gx}, {gy})"
        );
        let score = score_grid(&land, [-1.5, 1.5, -1.5, 1.5], 21);
        assert!(score[[10, 20, 0]] < 0.0);
        let labelled: std::collections::HashSet<i64> =
            map.iter().cloned().filter(|&l| l >= 0).collect();
        assert_eq!(labelled.len(), k);
    }

    #[test]
    fn generic_random_saddles_are_transversal() {
        // theory.md §7.12: generic random 2-D data, several beta: both unstable branches of
        // every index-1 saddle end at minima.
        for (seed, beta) in [(1u64, 3.0), (2, 8.0), (3, 20.0)] {
            let patterns = crate::rng::normal_matrix(12, 2, seed);
            let (land, set, radius) = setup(&patterns, beta);
            assert_eq!(set.euler_characteristic, Some(1), "seed {seed}");
            let saddles = set.points.iter().filter(|p| p.index == 1).count();
            assert!(
                saddles >= 1,
                "seed {seed} beta {beta}: a landscape with saddles"
            );
            let connections = morse_smale(&land, &set, radius);
            assert_eq!(connections.len(), saddles, "one connection per saddle");
            for c in connections {
                assert!(c.transversal, "seed {seed} beta {beta}: {c:?}");
            }
        }
    }
}
