//! The pruned exact denoiser: skips the patterns whose softmax weight is provably negligible.
//!
//! At small sigma the weights `w_μ ∝ m_μ e^(−beta |x − ξ_μ|²/2)` are dominated by a few nearest
//! patterns. For each query we bound every logit from above through a cheap lower bound on the
//! distance, compute exact logits only for the patterns that can matter, and report how much
//! weight the skipped ones can carry at most.
//!
//! **The bounds.** U (L×d, L = min(256, d)) holds the principal axes of the centred patterns,
//! by decreasing variance: a randomized subspace iteration on a subsample (Halko, Martinsson &
//! Tropp 2011, Alg. 4.4) and Rayleigh–Ritz. Any U with orthonormal rows gives valid bounds; a
//! good one gives tight bounds. For v = x − p and orthogonal blocks of axes P_b (the first
//! [`RANK`] axes one by one, then axes [64, 128), [128, 256), then the complement of U's span),
//! `|v|² = Σ_b |P_b v|²` and `|P_b v| ≥ ||P_b x| − |P_b p||` (reverse triangle inequality):
//!
//! ```text
//! stage 1, every pattern:   |x − p|² ≥ |y_x − y_p|² + Σ_blocks (|P_b x| − |P_b p|)²
//! stage 2, its candidates:  |x − p|² ≥ |U x − U p|² + (|Q x| − |Q p|)²
//! ```
//!
//! with y the first RANK coordinates and Q the complement of U's span. Stage 1 costs an
//! RANK-dimensional f32 GEMM and a pass over K (about RANK/(2d) of the dense denoiser's FLOPs:
//! 4% on MNIST); stage 2 a 256-dimensional difference per candidate. Rounding is paid for by
//! margins subtracted from lb²: the f32 GEMM of f32-rounded projections, (RANK + 8) u₃₂
//! (|ỹ_x|² + |ỹ_p|²) (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1); the
//! f32 arithmetic of stage 1, (16 J + 16) u₃₂ (|x|² + |p|²) for J blocks; the f64 projections
//! and the orthonormality of U (Householder QR), (16 d + 8 L) u₆₄ (|x|² + |p|²); stage 2's f32
//! sums and coordinates, as documented at `PruneIndex::refined_upper_logit`.
//!
//! **The selection** (per query, with cut = ln(2K / tolerance)):
//! 1. ub_μ = log m_μ − beta lb_μ²/2 ≥ l_μ, the exact logit (stage 1 for all, stored in f32
//!    with its rounding allowed for);
//! 2. probe: l₀, the exact logit of the pattern of largest ub; l₀ ≤ L = max_μ l_μ;
//! 3. candidates: every μ with ub_μ ≥ l₀ − cut under stage 1 and then stage 2. A skipped
//!    pattern has weight e^(l_μ − L) < e^(−cut) = tolerance/(2K) of the largest, so the skipped
//!    patterns together carry less than tolerance/2 of the total;
//! 4. exact logits of the candidates from direct differences |x − ξ_μ|² (no cancellation at
//!    any sigma); a candidate of weight below tolerance/(2n) of the largest (n candidates) is
//!    left out of the weighted sum, the other half of the budget.
//!
//! The achieved bound is ε = (n_skipped e^(max skipped ub − L) + Σ left-out weights) / S
//! ≤ tolerance, S the kept weights' sum, and
//! `|D_pruned − D| ≤ ε · max_μ |ξ_μ − D_pruned| ≤ 2 ε max_μ |ξ_μ − ξ̄|`
//! (D mixes the kept patterns' mean with the others' at weight fraction ≤ ε).
//!
//! A query whose candidates exceed [`MAX_CANDIDATE_FRACTION`] of K goes through the dense
//! denoiser instead, and so does a query for which no pattern can be skipped at all (the whole
//! logit range, bounded by the triangle inequality, is under the cut: large sigma). Both tests
//! depend only on the query and sigma, so a query's result never depends on its batch.

mod query;

use std::sync::atomic::{AtomicU64, Ordering};

use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub(super) use query::Pruner;
use query::{F32_UNIT_ROUNDOFF, QueryTerms, norm32, sq_dist};

use super::float::Float;
use crate::error::{Error, Result};

/// Exact coordinates in the first bound (a measured optimum on MNIST, K = 60,000: 48 and 80
/// were 5% slower, 32 twice as slow).
pub const RANK: usize = 64;
/// The pruned path is built for at least this many patterns ...
pub const MIN_PATTERNS: usize = 1024;
/// ... in at least this dimension (r ≤ d/2: the bound's GEMM is ≤ 1/4 of the dense one's).
pub const MIN_DIM: usize = 2 * RANK;
/// A query with more candidates than this fraction of K is denoised densely.
pub const MAX_CANDIDATE_FRACTION: f64 = 0.25;
/// Queries per bound GEMM (tuned on MNIST, K = 60,000: tiles of 16, 32, 64 and 256 rows were
/// about 55%, 20%, 13% and 15% slower).
const TILE_ROWS: usize = 128;
/// Principal axes fitted: the second bound's coordinates, and the first's blocks of norms.
const MAX_AXES: usize = 256;
/// Patterns in the subsample that the axes are fitted on.
const BASIS_SAMPLE: usize = 4096;
const POWER_ITERATIONS: usize = 3;

/// Whether and how tightly the exact denoiser may skip negligible patterns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pruning {
    /// Never skip: every pattern enters every softmax.
    Off,
    /// Skip at the precision's default tolerance ([`Float::PRUNE_TOL`]), where K and d are
    /// large enough for the bound to pay.
    #[default]
    Auto,
    /// Skip patterns that together carry less than this fraction of the weight, in (0, 1),
    /// at any K and d.
    Tolerance(f64),
}

impl Pruning {
    /// A pruning tolerance, checked: 0 < tolerance < 1.
    pub fn tolerance(tolerance: f64) -> Result<Self> {
        if tolerance > 0.0 && tolerance < 1.0 {
            Ok(Pruning::Tolerance(tolerance))
        } else {
            Err(Error::invalid(
                "pruning",
                "a tolerance in (0, 1)",
                tolerance,
            ))
        }
    }

    /// The tolerance the pruned path runs at for K patterns in d dimensions and precision
    /// `T`, or `None` where it does not run: pruning off, or (for [`Pruning::Auto`]) too few
    /// patterns or dimensions for the bound to pay ([`MIN_PATTERNS`], [`MIN_DIM`]). An
    /// explicit tolerance prunes at any size.
    pub fn resolve<T: Float>(self, num_patterns: usize, dim: usize) -> Option<f64> {
        match self {
            Pruning::Off => None,
            Pruning::Auto => {
                (num_patterns >= MIN_PATTERNS && dim >= MIN_DIM).then_some(T::PRUNE_TOL)
            }
            Pruning::Tolerance(t) => Some(t),
        }
    }
}

/// What pruning achieved over the calls of one denoiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct PruneStats {
    /// Queries denoised from their candidates only.
    pub pruned_queries: u64,
    /// Queries denoised densely (pruning off, not applicable, or too many candidates).
    pub dense_queries: u64,
    /// Exact logits computed for the pruned queries (their candidates), in total.
    pub candidates: u64,
    /// The largest achieved bound ε on the skipped weight fraction of any pruned query.
    pub max_skipped_weight: f64,
}

/// Counters behind [`PruneStats`], shared by the threads of a call.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pruned: AtomicU64,
    dense: AtomicU64,
    candidates: AtomicU64,
    /// f64 bits of the largest ε: non-negative floats order like their bits.
    max_skipped_bits: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> PruneStats {
        PruneStats {
            pruned_queries: self.pruned.load(Ordering::Relaxed),
            dense_queries: self.dense.load(Ordering::Relaxed),
            candidates: self.candidates.load(Ordering::Relaxed),
            max_skipped_weight: f64::from_bits(self.max_skipped_bits.load(Ordering::Relaxed)),
        }
    }

    pub(super) fn add_dense(&self, n: usize) {
        self.dense.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn add_pruned(&self, candidates: usize, skipped_weight: f64) {
        self.pruned.fetch_add(1, Ordering::Relaxed);
        self.candidates
            .fetch_add(candidates as u64, Ordering::Relaxed);
        self.max_skipped_bits
            .fetch_max(skipped_weight.to_bits(), Ordering::Relaxed);
    }
}

impl Clone for Counters {
    fn clone(&self) -> Self {
        let s = self.snapshot();
        Counters {
            pruned: s.pruned_queries.into(),
            dense: s.dense_queries.into(),
            candidates: s.candidates.into(),
            max_skipped_bits: s.max_skipped_weight.to_bits().into(),
        }
    }
}

/// ln(2K / tolerance): half the budget goes to the patterns skipped by their bound.
fn cut(num_patterns: usize, tolerance: f64) -> f64 {
    (2.0 * num_patterns as f64 / tolerance).ln()
}

/// Whether any pattern can be skipped for a query with |x_c|² = `x_sq`: by the triangle
/// inequality every |x_c − p_μ| lies in [max(0, |x_c| − R), |x_c| + R] (R = max |p_μ|), so
/// the logits span at most beta·((|x_c| + R)² − max(0, |x_c| − R)²)/2 plus the spread of the
/// log m_μ. Under the cut, nothing can be skipped.
pub(super) fn can_prune(
    x_sq: f64,
    max_norm: f64,
    beta: f64,
    log_m_spread: f64,
    num_patterns: usize,
    tolerance: f64,
) -> bool {
    let xn = x_sq.sqrt();
    let span = 0.5 * beta * ((xn + max_norm).powi(2) - (xn - max_norm).max(0.0).powi(2));
    span + log_m_spread > cut(num_patterns, tolerance)
}

/// Patterns per chunk of the index build.
const BUILD_ROWS: usize = 1024;

/// The sizes and margins that turn a vector's coordinates into its terms of the bounds.
struct Shape<'a> {
    dim: usize,
    axes: usize,
    rank: usize,
    blocks: &'a [(usize, usize)],
    c32: f64,
    c64: f64,
}

/// One vector's terms of the bounds (a pattern's or a query's).
struct Terms {
    /// fl₃₂(U v), all L coordinates (the first RANK feed the bound GEMM), and its norm.
    coords: Vec<f32>,
    coord_norm: f64,
    /// The norms of v's components in the blocks of axes, then in the residual.
    norms: Vec<f64>,
    /// (1 − c₃₂)|fl₃₂(first RANK coordinates)|² − c₆₄|v|², and the norms' allowance √(c₆₄)|v|.
    offset: f64,
    norm_err: f64,
}

impl Terms {
    /// The residual's norm, the last of `norms`.
    fn resid(&self) -> f64 {
        *self.norms.last().expect("the residual norm")
    }
}

impl Shape<'_> {
    /// The terms of the rows of `v` (row-major, d columns, |v|² in `sq_norms`), through their
    /// coordinates U v in f64 (one GEMM).
    fn terms<T: Float>(&self, basis: &[f64], v: &[T], sq_norms: &[f64]) -> Vec<Terms> {
        let rows = sq_norms.len();
        let v64: Vec<f64> = v.iter().map(|x| x.to_f64()).collect();
        let mut y = vec![0.0; rows * self.axes];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut y, rows, self.axes),
            Accum::Replace,
            MatRef::from_row_major_slice(&v64, rows, self.dim),
            MatRef::from_row_major_slice(basis, self.axes, self.dim).transpose(),
            1.0,
            Par::Seq,
        );
        y.chunks(self.axes)
            .zip(sq_norms)
            .map(|(y, &sq_norm)| {
                let coords: Vec<f32> = y.iter().map(|&v| v as f32).collect();
                let first: f64 = coords[..self.rank]
                    .iter()
                    .map(|&v| (v as f64).powi(2))
                    .sum();
                let mut covered: f64 = y[..self.rank].iter().map(|v| v * v).sum();
                let mut norms = Vec::with_capacity(self.blocks.len() + 1);
                for &(start, end) in self.blocks {
                    let sq: f64 = y[start..end].iter().map(|v| v * v).sum();
                    covered += sq;
                    norms.push(sq.sqrt());
                }
                norms.push((sq_norm - covered).max(0.0).sqrt());
                Terms {
                    coord_norm: norm32(&coords),
                    coords,
                    norms,
                    offset: (1.0 - self.c32) * first - self.c64 * sq_norm,
                    norm_err: (self.c64 * sq_norm).sqrt(),
                }
            })
            .collect()
    }
}

/// Probe queries of [`sigma_limit`].
const CALIBRATION_PROBES: usize = 64;

/// The largest noise level at which [`Pruning::Auto`] prunes on this data: the largest sigma
/// on the grid max|p_μ| · 2^(−j/2), j = 0…48, at which probe queries p_μ + sigma z (64
/// patterns evenly spaced in the set, z a fixed Gaussian draw: what a sampler meets at that
/// sigma in the memorization regime) prune with few candidates: at most 1/4 of them go dense
/// and the rest need at most K/32 exact logits on average. Beyond it the bound pass would
/// mostly be wasted (on MNIST, K = 60,000, it costs about 15% of a dense call, and the pruned
/// path stops paying off near sigma = 0.12 × the nearest-neighbour spacing). Found by
/// bisection, assuming the candidates grow with sigma. Depends only on the data and the
/// tolerance, so every query's path still depends only on the query and sigma.
pub(super) fn sigma_limit<T: Float>(
    index: &PruneIndex,
    patterns: &[T],
    sq_norms: &[f64],
    log_multiplicity: &[f64],
    tolerance: f64,
) -> f64 {
    let (k, d) = (sq_norms.len(), index.dim);
    let n = k.min(CALIBRATION_PROBES);
    let noise = crate::rng::normal_matrix(n, d, 0xca1b);
    let radius = sq_norms.iter().cloned().fold(0.0, f64::max).sqrt();
    let grid = |j: usize| radius * 2f64.powf(-(j as f64) / 2.0);
    let center = vec![0.0; d];
    let counters = Counters::default();
    let pays = |sigma: f64| {
        let mut x_c = Vec::with_capacity(n * d);
        let mut x_sq = Vec::with_capacity(n);
        for i in 0..n {
            let mu = i * k / n;
            let mut s = 0.0;
            for j in 0..d {
                let v = T::from_f64(patterns[mu * d + j].to_f64() + sigma * noise[[i, j]]);
                s += v.to_f64() * v.to_f64();
                x_c.push(v);
            }
            x_sq.push(s);
        }
        let pruner = Pruner {
            index,
            patterns,
            log_multiplicity,
            center: &center,
            beta: 1.0 / (sigma * sigma),
            tolerance,
            counters: &counters,
        };
        let before = counters.snapshot();
        let dense = pruner
            .denoise_rows(&x_c, &x_sq, &mut vec![0.0; n * d])
            .len();
        let after = counters.snapshot();
        let pruned = (after.pruned_queries - before.pruned_queries).max(1) as f64;
        let mean = (after.candidates - before.candidates) as f64 / pruned;
        4 * dense <= n && mean <= k as f64 / 32.0
    };
    let (mut large, mut small) = (0, 48);
    if !pays(grid(small)) {
        return 0.0;
    }
    if pays(grid(large)) {
        return f64::INFINITY;
    }
    while small - large > 1 {
        let mid = (large + small) / 2;
        if pays(grid(mid)) {
            small = mid;
        } else {
            large = mid;
        }
    }
    grid(small)
}

/// The projections behind the distance bound, built once per denoiser.
#[derive(Debug, Clone)]
pub(super) struct PruneIndex {
    dim: usize,
    /// U, L×d row-major with orthonormal rows: the principal axes of the centred patterns,
    /// by decreasing variance. Rows [0, RANK) give exact coordinates, the others block norms.
    basis: Vec<f64>,
    /// ỹ_μ = fl₃₂(first RANK coordinates of U p_μ), K×RANK row-major.
    proj: Vec<f32>,
    /// Per pattern: |Q p_μ|, the norm of its residual (the complement of U's span), for the
    /// second bound.
    resid: Vec<f64>,
    /// Per pattern: the rounding allowance √(c₆₄) |p_μ| of each of its norms.
    norm_err: Vec<f64>,
    /// Row ranges of U whose component norms enter the bound, then the residual.
    blocks: Vec<(usize, usize)>,
    /// All L coordinates fl₃₂(U p_μ), K×L row-major, for the second, per-candidate bound;
    /// and |fl₃₂(U p_μ)|.
    coords: Vec<f32>,
    coord_norm: Vec<f64>,
    /// The per-pattern terms of the first bound in f32, for its pass over all K patterns:
    /// (1 − c₃₂)|ỹ_μ|² − (c₆₄ + c_f32)|p_μ|² (c_f32: the allowance for the pass's f32
    /// arithmetic), the J×K norms, their allowances, and log m_μ.
    offset32: Vec<f32>,
    norms32: Vec<f32>,
    norm_err32: Vec<f32>,
    log_m32: Vec<f32>,
    /// max |log m_μ| over the finite ones.
    log_m_abs: f64,
    c_f32: f64,
    c32: f64,
    c64: f64,
}

/// Axes [RANK, L) in blocks of doubling size: [32, 64), [64, 128), [128, 256).
fn block_bounds(axes: usize) -> Vec<(usize, usize)> {
    let mut blocks = vec![];
    let mut start = RANK;
    while start < axes {
        let end = (2 * start).min(axes);
        blocks.push((start, end));
        start = end;
    }
    blocks
}

impl PruneIndex {
    /// Fits U on a subsample of the centred patterns (K×d row-major, |p_μ|² in `sq_norms`)
    /// and projects every pattern.
    pub(super) fn build<T: Float>(
        patterns: &[T],
        sq_norms: &[f64],
        log_multiplicity: &[f64],
        dim: usize,
    ) -> Self {
        let k = sq_norms.len();
        let axes = MAX_AXES.min(dim);
        let p = MatRef::from_row_major_slice(patterns, k, dim);
        // Randomized subspace iteration (Halko, Martinsson & Tropp 2011, Alg. 4.4) on an evenly
        // strided subsample A (s×d): Z ← orth(Aᵀ A Z) from a fixed Gaussian start, then
        // Rayleigh–Ritz (the eigenvectors of (AZ)ᵀ(AZ)) orders Z's span by variance.
        let s = k.min(BASIS_SAMPLE);
        let a = Mat::<f64>::from_fn(s, dim, |i, j| p[(i * k / s, j)].to_f64());
        let mut rng = crate::rng::stream(0x5eed_ba5e, 0);
        let mut z = Mat::<f64>::from_fn(dim, axes, |_, _| crate::rng::normal(&mut rng));
        for _ in 0..POWER_ITERATIONS {
            let az = &a * &z;
            z = (a.transpose() * &az).qr().compute_thin_Q();
        }
        let az = &a * &z;
        let ritz = (az.transpose() * &az)
            .self_adjoint_eigen(faer::Side::Lower)
            .expect("symmetric eigen-decomposition converges");
        let u = &z * ritz.U(); // d×L, columns by increasing variance
        let basis: Vec<f64> = (0..axes)
            .flat_map(|i| (0..dim).map(move |j| (i, j)))
            .map(|(i, j)| u[(j, axes - 1 - i)])
            .collect();
        let blocks = block_bounds(axes);
        let r = RANK.min(axes);
        let c32 = (r as f64 + 8.0) * f32::EPSILON as f64 / 2.0;
        let c64 = (16.0 * dim as f64 + 8.0 * axes as f64) * f64::EPSILON / 2.0;
        let shape = Shape {
            dim,
            axes,
            rank: r,
            blocks: &blocks,
            c32,
            c64,
        };
        // Every pattern's terms, from its coordinates U p_μ in f64, in chunks of rows on the
        // thread pool.
        let per_pattern: Vec<Terms> = patterns
            .par_chunks(BUILD_ROWS * dim)
            .zip(sq_norms.par_chunks(BUILD_ROWS))
            .flat_map_iter(|(rows, sq)| shape.terms(&basis, rows, sq))
            .collect();
        let mut proj = Vec::with_capacity(k * r);
        let mut offset = Vec::with_capacity(k);
        let mut norms32 = vec![0.0; k * (blocks.len() + 1)];
        let mut resid = Vec::with_capacity(k);
        let mut norm_err = Vec::with_capacity(k);
        let mut coords = Vec::with_capacity(k * axes);
        let mut coord_norm = Vec::with_capacity(k);
        for (mu, t) in per_pattern.into_iter().enumerate() {
            proj.extend_from_slice(&t.coords[..r]);
            coords.extend_from_slice(&t.coords);
            coord_norm.push(t.coord_norm);
            for (b, &v) in t.norms.iter().enumerate() {
                norms32[b * k + mu] = v as f32;
            }
            resid.push(t.resid());
            offset.push(t.offset);
            norm_err.push(t.norm_err);
        }
        // The f32 pass adds, subtracts and squares terms of size ≤ |x|² + |p|² (2J + 4 of
        // them, norms rounded to f32 in J gaps): (16 J + 16) u₃₂ (|x|² + |p|²) covers it.
        let c_f32 = (16.0 * (blocks.len() + 1) as f64 + 16.0) * F32_UNIT_ROUNDOFF;
        let offset32 = offset
            .iter()
            .zip(sq_norms)
            .map(|(o, p)| (o - c_f32 * p) as f32)
            .collect();
        let finite = log_multiplicity.iter().filter(|l| l.is_finite());
        PruneIndex {
            dim,
            offset32,
            norms32,
            norm_err32: norm_err.iter().map(|&v| v as f32).collect(),
            log_m32: log_multiplicity.iter().map(|&v| v as f32).collect(),
            log_m_abs: finite.fold(0.0, |m: f64, l| m.max(l.abs())),
            c_f32,
            basis,
            proj,
            resid,
            norm_err,
            blocks,
            coords,
            coord_norm,
            c32,
            c64,
        }
    }

    fn axes(&self) -> usize {
        self.basis.len() / self.dim
    }

    /// The second bound, for one candidate: all L coordinates and the residual,
    /// `lb² = |U(x − p)|² + (|Q x| − |Q p|)²` (Q the complement of U's span). The coordinates'
    /// squared differences are summed in f32 lanes of L/16 terms (relative error
    /// ≤ (L/16 + 4) u₃₂) and their f32 rounding moves the distance by ≤ u₃₂ (|ỹ_x| + |ỹ_p|).
    fn refined_upper_logit(&self, q: &QueryTerms, mu: usize, log_m: f64, half_beta: f64) -> f64 {
        let l = self.axes();
        let c_sum = (l as f64 / 16.0 + 4.0) * F32_UNIT_ROUNDOFF;
        let s = sq_dist(&q.coords, &self.coords[mu * l..(mu + 1) * l]);
        let proj = ((s * (1.0 - c_sum)).sqrt()
            - 1.01 * F32_UNIT_ROUNDOFF * (q.coord_norm + self.coord_norm[mu]))
            .max(0.0);
        let gap = ((q.resid - self.resid[mu]).abs() - q.norm_err - self.norm_err[mu]).max(0.0);
        let lb_sq = proj * proj + gap * gap - q.norm_err.powi(2) - self.norm_err[mu].powi(2);
        log_m - half_beta * lb_sq.max(0.0)
    }

    fn rank(&self) -> usize {
        RANK.min(self.axes())
    }

    fn num_patterns(&self) -> usize {
        self.coord_norm.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denoiser::{Denoiser, EmpiricalDenoiser};
    use crate::rng::{normal_matrix, stream, uniform};
    use ndarray::{Array2, Axis, s};

    /// Clustered data (the regime pruning is for): `clusters` centres ~ N(0, 4²) in d
    /// dimensions, points at spread 1 around them; max |ξ_μ − ξ̄| returned with them.
    fn clustered(k: usize, d: usize, clusters: usize, seed: u64) -> (Array2<f64>, f64) {
        let centres = normal_matrix(clusters, d, seed) * 4.0;
        let mut p = normal_matrix(k, d, seed + 1);
        for (i, mut row) in p.rows_mut().into_iter().enumerate() {
            row += &centres.row(i % clusters);
        }
        let mean = p.mean_axis(Axis(0)).unwrap();
        let radius = p
            .rows()
            .into_iter()
            .map(|r| (&r - &mean).mapv(|v| v * v).sum().sqrt())
            .fold(0.0, f64::max);
        (p, radius)
    }

    /// Queries: half at patterns plus noise at sigma (what a sampler or settle sees), half
    /// anywhere in the data's box.
    fn queries(p: &Array2<f64>, n: usize, sigma: f64, seed: u64) -> Array2<f64> {
        let mut rng = stream(seed, 0);
        let d = p.ncols();
        let mut x = normal_matrix(n, d, seed + 7) * sigma;
        for (i, mut row) in x.rows_mut().into_iter().enumerate() {
            if i % 2 == 0 {
                let mu = (uniform(&mut rng) * p.nrows() as f64) as usize;
                row += &p.row(mu.min(p.nrows() - 1));
            } else {
                row.mapv_inplace(|v| v / sigma.max(1e-300) * 6.0);
            }
        }
        x
    }

    fn max_abs(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        (a - b).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v))
    }

    /// The pruned denoiser against the dense one, f64 and f32, over K from 10 to 10,000 and
    /// sigma from 1e-4 to 10× the data scale (the cluster spread, 1). The bound is the module's:
    /// |D_pruned − D| ≤ ε · 2 max|ξ_μ − ξ̄| with ε the achieved skipped weight, plus the
    /// precision's rounding: 1e-10 of the radius in f64 (the dense path's own error is ~1e-12 of
    /// it, `empirical::tests`), and in f32 the 1e-3 absolute that the dense f32 path is held to
    /// at this data scale (`empirical::tests::matches_naive_reference_in_f64_and_f32`).
    #[test]
    fn equals_the_dense_denoiser_within_its_bound() {
        // a fixed grid and four log-uniform draws from [1e-4, 10]
        let mut rng = stream(77, 0);
        let mut sigmas = vec![1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0];
        sigmas.extend((0..4).map(|_| 10f64.powf(-4.0 + 5.0 * uniform(&mut rng))));
        for (case, &(k, d, clusters)) in [
            (10, 3, 2),
            (300, 40, 12),
            (2000, 160, 40),
            (10_000, 130, 200),
        ]
        .iter()
        .enumerate()
        {
            let (p, radius) = clustered(k, d, clusters, 100 + case as u64);
            let reference = EmpiricalDenoiser::<f64>::new(p.view())
                .unwrap()
                .with_pruning(Pruning::Off);
            // one pruned denoiser per precision and data set, so its index is built once; its
            // achieved bound is the largest so far, which still bounds each call's error
            let pruned64 = EmpiricalDenoiser::<f64>::new(p.view())
                .unwrap()
                .with_pruning(Pruning::tolerance(1e-12).unwrap());
            let pruned32 = EmpiricalDenoiser::<f32>::new(p.view())
                .unwrap()
                .with_pruning(Pruning::tolerance(1e-7).unwrap());
            for (j, &sigma) in sigmas.iter().enumerate() {
                let x = queries(&p, 24, sigma, 10 * case as u64 + j as u64);
                let want = reference.denoise(x.view(), sigma);
                let label = format!("K={k} sigma={sigma}");
                within_bound(
                    &pruned64,
                    &x,
                    sigma,
                    &want,
                    1e-12,
                    1e-10 * radius,
                    radius,
                    &label,
                );
                within_bound(&pruned32, &x, sigma, &want, 1e-7, 1e-3, radius, &label);
            }
        }
    }

    /// Asserts the achieved bound ε ≤ `tolerance` and |pruned − dense| ≤ 2ε·radius + `rounding`.
    #[allow(clippy::too_many_arguments)]
    fn within_bound<T: Float>(
        pruned: &EmpiricalDenoiser<T>,
        x: &Array2<f64>,
        sigma: f64,
        want: &Array2<f64>,
        tolerance: f64,
        rounding: f64,
        radius: f64,
        label: &str,
    ) {
        let precision = std::any::type_name::<T>();
        let got = pruned.denoise(x.view(), sigma);
        let eps = pruned.pruning_stats().max_skipped_weight;
        assert!(
            eps <= tolerance,
            "{precision} {label}: achieved bound {eps}"
        );
        let err = max_abs(&got, want);
        let bound = 2.0 * eps * radius + rounding;
        assert!(err <= bound, "{precision} {label}: {err:e} > {bound:e}");
    }

    #[test]
    fn prunes_most_patterns_at_small_sigma() {
        // 4,000 patterns in 40 clusters, d = 160, queries at the patterns with noise 0.05: the
        // nearest pattern carries nearly all the weight, and the candidates must be few.
        let (p, _) = clustered(4000, 160, 40, 3);
        let den = EmpiricalDenoiser::<f32>::new(p.view()).unwrap();
        assert_eq!(den.pruning_tolerance(), Some(f32::PRUNE_TOL));
        let x = &p.slice(s![..64, ..]) + &(normal_matrix(64, 160, 4) * 0.05);
        den.denoise(x.view(), 0.05);
        let stats = den.pruning_stats();
        assert_eq!((stats.pruned_queries, stats.dense_queries), (64, 0));
        let mean = stats.candidates as f64 / 64.0;
        assert!(mean < 40.0, "{mean} candidates per query of 4000");
        // At sigma far above the data scale nothing can be skipped: every query goes dense.
        den.denoise(x.view(), 1e3);
        assert_eq!(den.pruning_stats().dense_queries, 64);
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        let (p, _) = clustered(1500, 140, 30, 5);
        let den = EmpiricalDenoiser::<f32>::new(p.view()).unwrap();
        let x = queries(&p, 300, 0.2, 6);
        let all = den.denoise(x.view(), 0.2);
        for (start, len) in [(0, 1), (7, 1), (3, 29), (100, 150), (0, 300)] {
            let part = den.denoise(x.slice(s![start..start + len, ..]), 0.2);
            assert_eq!(
                part,
                all.slice(s![start..start + len, ..]),
                "rows {start}..+{len}"
            );
        }
        // one thread: other tiles, the same rows
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(one.install(|| den.denoise(x.view(), 0.2)), all);
        let stats = den.pruning_stats();
        assert!(stats.pruned_queries > 300, "the pruned path ran: {stats:?}");
    }

    #[test]
    fn multiplicities_identical_patterns_and_zero_weights() {
        // Repeated patterns, multiplicities from 0 to 1e6: the bound includes log m_μ.
        let (base, radius) = clustered(200, 70, 10, 8);
        let p = ndarray::concatenate(Axis(0), &[base.view(), base.view()]).unwrap();
        let m: Vec<f64> = (0..400).map(|i| [0.0, 1.0, 3.0, 1e6][i % 4]).collect();
        let reference = EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &m)
            .unwrap()
            .with_pruning(Pruning::Off);
        let pruned = EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &m)
            .unwrap()
            .with_pruning(Pruning::tolerance(1e-12).unwrap());
        for sigma in [1e-3, 0.1, 1.0] {
            let x = queries(&p, 20, sigma, 9);
            let err = max_abs(
                &pruned.denoise(x.view(), sigma),
                &reference.denoise(x.view(), sigma),
            );
            let eps = pruned.pruning_stats().max_skipped_weight;
            assert!(
                err <= 2.0 * eps * radius + 1e-10 * radius,
                "sigma={sigma}: {err:e}"
            );
        }
    }

    #[test]
    fn tolerance_must_lie_in_zero_one() {
        for bad in [0.0, 1.0, -1e-3, 2.0, f64::NAN] {
            let err = Pruning::tolerance(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("pruning must be a tolerance in (0, 1), got"),
                "{err}"
            );
        }
        assert_eq!(Pruning::tolerance(1e-6).unwrap(), Pruning::Tolerance(1e-6));
    }
}
