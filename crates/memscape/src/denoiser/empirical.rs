//! The exact empirical denoiser: one modern-Hopfield update (theory.md §1).
//!
//! ```text
//! D(x, sigma) = Σ_μ w_μ ξ_μ,   w = softmax_μ(−beta |x − ξ_μ|²/2 + log m_μ),   beta = 1/sigma²
//! ```
//!
//! with multiplicities m_μ (1 for a plain training set). The dense path is two GEMMs around a
//! row-wise softmax, over blocks of patterns:
//!
//! 1. centre: x_c = x − ξ̄ and p_μ = ξ_μ − ξ̄ (distances are translation invariant; centring
//!    shrinks |x|² + |p|² and with it the cancellation in step 2);
//! 2. per block of 4,096 patterns (`PATTERN_BLOCK`), G = X_c Pᵀ (GEMM), logits
//!    l_μ = beta G_μ − beta |p_μ|²/2 + log m_μ (the row constant −beta |x_c|²/2 of
//!    −beta |x_c − p_μ|²/2 cancels in the softmax);
//! 3. the rounding error of step 2 is about `beta u (√d + 2)(|x_c| max|p| + max|p|²)` (u the
//!    unit round-off); where that exceeds the precision's tolerance (small sigma), every logit
//!    within `CUTOFF + 2·error` of the running maximum is recomputed from the direct difference
//!    |x_c − p_μ|², so the weights that matter are exact and no NaN or Inf can appear at any
//!    sigma > 0;
//! 4. w = exp(max(l − M, −CUTOFF)) with M the row's running maximum (a weight under e^−CUTOFF
//!    is invisible at the precision), R += W P (GEMM) after R and the running sum were rescaled
//!    by e^(M_old − M) (an online softmax, as in FlashAttention); finally D = R/Σw + ξ̄ (the
//!    normalisation is applied to the d outputs, not the K weights).
//!
//! Rows are processed in tiles of at least two rows. A row's arithmetic does not depend on the
//! other rows in its tile, on the tile's height, or on the thread count (faer's GEMM kernels
//! give bitwise-identical rows for M ≥ 2; one-row products take a GEMV path that sums in
//! another order, hence the padding; `tests::rows_do_not_depend_on_the_batch` pins this).
//!
//! Where K and d are large and sigma small, [`EmpiricalDenoiser::denoise_into`] first tries the
//! pruned path ([`super::pruning`]), which computes exact logits only for the patterns whose
//! weight can matter.

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use std::sync::OnceLock;

use super::Denoiser;
use super::float::{Arithmetic, Float};
use super::pruning::{self, Counters, PruneIndex, PruneStats, Pruner, Pruning};
use crate::error::{Error, Result, require_finite};

/// Queries per tile of the dense path.
const MAX_TILE_ROWS: usize = 512;
/// Patterns per block of the dense path: a tile's block of logits (512 × 4096 f32, 8 MiB) and
/// the block's patterns (4096 × 784 f32 on MNIST, 12 MiB) fit a 32 MiB last-level cache.
const PATTERN_BLOCK: usize = 4096;

/// The exact denoiser of the empirical measure Σ_μ m_μ δ(x − ξ_μ), in precision `T`.
#[derive(Debug, Clone)]
pub struct EmpiricalDenoiser<T: Float = f64> {
    num_patterns: usize,
    dim: usize,
    center: Vec<f64>,
    /// Centred patterns p_μ = ξ_μ − ξ̄, row-major K×d.
    patterns: Vec<T>,
    /// |p_μ|², computed in f64.
    sq_norms: Vec<f64>,
    max_sq_norm: f64,
    /// log m_μ; all zero for a plain training set.
    log_multiplicity: Vec<f64>,
    /// max − min of the finite log m_μ.
    log_multiplicity_spread: f64,
    pruning: Pruning,
    /// The pruned path's projections and the noise level up to which it runs (infinite for
    /// an explicit tolerance), built on its first use.
    index: OnceLock<(PruneIndex, f64)>,
    counters: Counters,
}

impl<T: Float> EmpiricalDenoiser<T> {
    /// The denoiser of a training set (each row one pattern, multiplicity 1).
    pub fn new(patterns: ArrayView2<f64>) -> Result<Self> {
        let k = patterns.nrows();
        Self::with_multiplicities(patterns, &vec![1.0; k])
    }

    /// The denoiser of Σ_μ m_μ δ(x − ξ_μ); the m_μ need not sum to one (only ratios matter).
    /// A zero multiplicity removes a pattern.
    pub fn with_multiplicities(patterns: ArrayView2<f64>, multiplicities: &[f64]) -> Result<Self> {
        let (k, d) = patterns.dim();
        if k == 0 || d == 0 {
            return Err(Error::ShapeMismatch {
                what: "patterns".into(),
                expected: vec![1, 1],
                got: vec![k, d],
            });
        }
        require_finite("patterns", patterns)?;
        if multiplicities.len() != k {
            return Err(Error::ShapeMismatch {
                what: "pattern multiplicities".into(),
                expected: vec![k],
                got: vec![multiplicities.len()],
            });
        }
        if let Some(m) = multiplicities
            .iter()
            .find(|m| !(m.is_finite() && **m >= 0.0))
        {
            return Err(Error::invalid("pattern multiplicity", "≥ 0 and finite", m));
        }
        if multiplicities.iter().all(|&m| m == 0.0) {
            return Err(Error::invalid(
                "pattern multiplicities",
                "not all zero",
                "all zero",
            ));
        }
        let center = patterns.mean_axis(Axis(0)).expect("k ≥ 1").to_vec();
        let mut centred = Vec::with_capacity(k * d);
        let mut sq_norms = Vec::with_capacity(k);
        for row in patterns.rows() {
            let mut s = 0.0;
            for (v, c) in row.iter().zip(&center) {
                let p = T::from_f64(v - c);
                s += p.to_f64() * p.to_f64();
                centred.push(p);
            }
            sq_norms.push(s);
        }
        let max_sq_norm = sq_norms.iter().cloned().fold(0.0, f64::max);
        let log_multiplicity: Vec<f64> = multiplicities.iter().map(|m| m.ln()).collect();
        let finite = log_multiplicity.iter().filter(|l| l.is_finite());
        let log_multiplicity_spread = finite.clone().cloned().fold(f64::NEG_INFINITY, f64::max)
            - finite.cloned().fold(f64::INFINITY, f64::min);
        Ok(EmpiricalDenoiser {
            num_patterns: k,
            dim: d,
            center,
            patterns: centred,
            sq_norms,
            max_sq_norm,
            log_multiplicity,
            log_multiplicity_spread,
            pruning: Pruning::Auto,
            index: OnceLock::new(),
            counters: Counters::default(),
        })
    }

    /// The same denoiser with another pruning setting (default [`Pruning::Auto`]).
    pub fn with_pruning(mut self, pruning: Pruning) -> Self {
        self.pruning = pruning;
        self.index = OnceLock::new();
        self
    }

    /// The tolerance the pruned path runs at, or `None` where it does not run (see
    /// [`Pruning::resolve`]).
    pub fn pruning_tolerance(&self) -> Option<f64> {
        self.pruning.resolve::<T>(self.num_patterns, self.dim)
    }

    /// What pruning achieved over this denoiser's calls so far.
    pub fn pruning_stats(&self) -> PruneStats {
        self.counters.snapshot()
    }

    pub fn num_patterns(&self) -> usize {
        self.num_patterns
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `D(x, sigma)` for every row of `x`, with checks: `x` must be N×d and finite, sigma > 0.
    pub fn try_denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Result<Array2<f64>> {
        crate::error::require_positive("sigma", sigma)?;
        if x.ncols() != self.dim {
            return Err(Error::ShapeMismatch {
                what: "query points".into(),
                expected: vec![x.nrows(), self.dim],
                got: x.shape().to_vec(),
            });
        }
        require_finite("query points", x)?;
        let mut out = Array2::zeros(x.raw_dim());
        self.denoise_into(x, sigma, out.view_mut());
        Ok(out)
    }

    /// Writes `D(x, sigma)` into `out`, through the pruned path where it applies (see
    /// [`super::pruning`]). Panics on shape mismatch (a caller bug); use [`Self::try_denoise`] for
    /// unchecked input.
    pub fn denoise_into(&self, x: ArrayView2<f64>, sigma: f64, mut out: ArrayViewMut2<f64>) {
        assert_eq!(x.ncols(), self.dim, "query dimension");
        assert_eq!(x.dim(), out.dim(), "output shape");
        let Some(tolerance) = self.pruning_tolerance() else {
            self.counters.add_dense(x.nrows());
            return self.dense_into(x, sigma, out);
        };
        let beta = 1.0 / (sigma * sigma);
        let (max_norm, spread) = (self.max_sq_norm.sqrt(), self.log_multiplicity_spread);
        let d = self.dim;
        let (mut prunable, mut dense) = (vec![], vec![]);
        let mut xc = vec![T::from_f64(0.0); x.nrows() * d];
        let mut x_sq = vec![];
        for (i, row) in x.rows().into_iter().enumerate() {
            let j = prunable.len();
            let s = self.centre(row, &mut xc[j * d..(j + 1) * d]);
            if pruning::can_prune(s, max_norm, beta, spread, self.num_patterns, tolerance) {
                prunable.push(i);
                x_sq.push(s);
            } else {
                dense.push(i);
            }
        }
        if prunable.is_empty() {
            self.counters.add_dense(x.nrows());
            return self.dense_into(x, sigma, out);
        }
        xc.truncate(prunable.len() * d);
        // the index is built on the first call that can use it
        let (index, sigma_limit) = self.index.get_or_init(|| {
            let index = PruneIndex::build(
                &self.patterns,
                &self.sq_norms,
                &self.log_multiplicity,
                self.dim,
            );
            let limit = match self.pruning {
                Pruning::Auto => pruning::sigma_limit(
                    &index,
                    &self.patterns,
                    &self.sq_norms,
                    &self.log_multiplicity,
                    tolerance,
                ),
                _ => f64::INFINITY,
            };
            (index, limit)
        });
        if sigma > *sigma_limit {
            self.counters.add_dense(x.nrows());
            return self.dense_into(x, sigma, out);
        }
        let pruner = Pruner {
            index,
            patterns: &self.patterns,
            log_multiplicity: &self.log_multiplicity,
            center: &self.center,
            beta,
            tolerance,
            counters: &self.counters,
        };
        let mut pruned_out = vec![0.0; prunable.len() * d];
        let fallback = pruner.denoise_rows(&xc, &x_sq, &mut pruned_out);
        let mut next_fallback = fallback.iter().peekable();
        for (j, &i) in prunable.iter().enumerate() {
            if next_fallback.peek() == Some(&&j) {
                next_fallback.next();
                dense.push(i);
            } else {
                out.row_mut(i)
                    .iter_mut()
                    .zip(&pruned_out[j * d..(j + 1) * d])
                    .for_each(|(o, v)| *o = *v);
            }
        }
        if !dense.is_empty() {
            dense.sort_unstable();
            self.counters.add_dense(dense.len());
            let xs = x.select(Axis(0), &dense);
            let mut dense_out = Array2::zeros(xs.raw_dim());
            self.dense_into(xs.view(), sigma, dense_out.view_mut());
            for (&i, row) in dense.iter().zip(dense_out.rows()) {
                out.row_mut(i).assign(&row);
            }
        }
    }

    /// The dense denoiser: every pattern enters every softmax. Rows go in tiles of up to
    /// [`MAX_TILE_ROWS`], patterns in blocks of [`PATTERN_BLOCK`] with an online softmax (as
    /// in FlashAttention, Dao et al. 2022): per row a running maximum M and sum S, and the
    /// partial result R rescaled by e^(M_old − M_new) whenever M grows. A block's logits and
    /// patterns stay in the last-level cache between its two GEMMs.
    fn dense_into(&self, x: ArrayView2<f64>, sigma: f64, mut out: ArrayViewMut2<f64>) {
        let beta = 1.0 / (sigma * sigma);
        let (k, d) = (self.num_patterns, self.dim);
        let tile = MAX_TILE_ROWS.min(x.nrows().max(2)); // buffers no larger than the call
        let block = PATTERN_BLOCK.min(k);
        let zero = T::from_f64(0.0);
        let mut xc = vec![zero; tile * d];
        let mut logits = vec![zero; tile * block];
        let mut result = vec![zero; tile * d];
        let mut rows_state = vec![RowState::default(); tile];
        let offsets: Vec<T> = self
            .sq_norms
            .iter()
            .zip(&self.log_multiplicity)
            .map(|(p_sq, log_m)| T::from_f64(-0.5 * beta * p_sq + log_m))
            .collect();
        let p_mat = MatRef::from_row_major_slice(&self.patterns, k, d);
        for (x_tile, mut out_tile) in x
            .axis_chunks_iter(Axis(0), tile)
            .zip(out.axis_chunks_iter_mut(Axis(0), tile))
        {
            let rows = x_tile.nrows();
            let m = rows.max(2); // pad a one-row tile: see the module docs
            for (i, row) in x_tile.rows().into_iter().enumerate() {
                let s = self.centre(row, &mut xc[i * d..(i + 1) * d]);
                rows_state[i] = RowState::new(s, self.logit_error(s, beta));
            }
            if rows < m {
                xc.copy_within(0..d, d);
                rows_state[1] = rows_state[0];
            }
            let xc_mat = MatRef::from_row_major_slice(&xc[..m * d], m, d);
            for start in (0..k).step_by(block) {
                let kb = block.min(k - start);
                let p_block = p_mat.subrows(start, kb);
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(&mut logits[..m * kb], m, kb),
                    Accum::Replace,
                    xc_mat,
                    p_block.transpose(),
                    T::from_f64(1.0),
                    Par::rayon(0),
                );
                logits[..m * kb]
                    .par_chunks_mut(kb)
                    .zip(&mut rows_state[..m])
                    .zip(xc[..m * d].par_chunks(d))
                    .zip(result[..m * d].par_chunks_mut(d))
                    .for_each(|(((row, state), xrow), res)| {
                        let rescale = self.softmax_block(
                            row,
                            &offsets[start..start + kb],
                            start,
                            state,
                            xrow,
                            beta,
                        );
                        if start > 0 && rescale != 1.0 {
                            let r = T::from_f64(rescale);
                            res.iter_mut().for_each(|v| *v *= r);
                        }
                    });
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(&mut result[..m * d], m, d),
                    if start == 0 {
                        Accum::Replace
                    } else {
                        Accum::Add
                    },
                    MatRef::from_row_major_slice(&logits[..m * kb], m, kb),
                    p_block,
                    T::from_f64(1.0),
                    Par::rayon(0),
                );
            }
            for (i, mut orow) in out_tile.rows_mut().into_iter().enumerate() {
                let inv_sum = 1.0 / rows_state[i].sum;
                for ((o, r), c) in orow
                    .iter_mut()
                    .zip(&result[i * d..(i + 1) * d])
                    .zip(&self.center)
                {
                    *o = r.to_f64() * inv_sum + c;
                }
            }
        }
    }

    /// Writes x − ξ̄ in T into `dst` and returns its squared norm (of the T values, in f64).
    fn centre(&self, x: ArrayView1<f64>, dst: &mut [T]) -> f64 {
        let mut s = 0.0;
        for ((dst, v), c) in dst.iter_mut().zip(x).zip(&self.center) {
            let p = T::from_f64(v - c);
            s += p.to_f64() * p.to_f64();
            *dst = p;
        }
        s
    }

    /// The rounding error of a GEMM logit for a query with |x_c|² = `x_sq`, about
    /// beta u (√d + 2)(|x_c| max|p| + max|p|²).
    fn logit_error(&self, x_sq: f64, beta: f64) -> f64 {
        beta * T::UNIT_ROUNDOFF
            * ((self.dim as f64).sqrt() + 2.0)
            * (x_sq.sqrt() * self.max_sq_norm.sqrt() + self.max_sq_norm)
    }

    /// Turns one row of a block's Gram entries G_μ = x_c·p_μ (patterns `first`, `first` + 1, …)
    /// into weights e^(l_μ − M) in place, M the row's running maximum, updates the row's
    /// running maximum and sum, and returns the factor e^(M_old − M_new) for the row's partial
    /// result. `offsets[μ] = −beta |p_μ|²/2 + log m_μ` for the block's patterns.
    fn softmax_block(
        &self,
        row: &mut [T],
        offsets: &[T],
        first: usize,
        state: &mut RowState,
        x_c: &[T],
        beta: f64,
    ) -> f64 {
        // l_μ = beta G_μ − beta |p_μ|²/2 + log m_μ (the row constant −beta |x_c|²/2 cancels in
        // the softmax and is left out), and the block maximum.
        let block_max = scale_shift_max(row, offsets, T::from_f64(beta)).to_f64();
        let new_max = if state.error > T::REFINE_TOL {
            // Where rounding of the GEMM logits matters, recompute every logit near the running
            // maximum from the direct difference |x_c − p_μ|², in the exact scale
            // −beta |x_c − p_μ|²/2 + log m_μ (the GEMM's plus beta |x_c|²/2), and store the
            // block's logits relative to the new maximum so that f32 keeps its absolute
            // accuracy there.
            let shift = 0.5 * beta * state.x_sq;
            let threshold = state.max.max(block_max - shift) - T::CUTOFF - 2.0 * state.error;
            let exact: Vec<(usize, f64)> = row
                .iter()
                .enumerate()
                .filter(|(_, g)| g.to_f64() - shift >= threshold)
                .map(|(j, _)| {
                    let mu = first + j;
                    let p = &self.patterns[mu * self.dim..(mu + 1) * self.dim];
                    let dist_sq: f64 = x_c
                        .iter()
                        .zip(p)
                        .map(|(a, b)| (a.to_f64() - b.to_f64()).powi(2))
                        .sum();
                    (j, -0.5 * beta * dist_sq + self.log_multiplicity[mu])
                })
                .collect();
            let new_max = exact.iter().fold(state.max, |m, &(_, l)| m.max(l));
            if new_max == f64::NEG_INFINITY {
                row.fill(T::from_f64(0.0)); // no weight anywhere yet (zero multiplicities)
                return 1.0;
            }
            for g in row.iter_mut() {
                *g = T::from_f64(g.to_f64() - shift - new_max);
            }
            for (j, l) in exact {
                row[j] = T::from_f64(l - new_max);
            }
            state.sum = state.sum * (state.max - new_max).exp() + exp_sum(row, T::from_f64(0.0));
            new_max
        } else {
            let new_max = state.max.max(block_max);
            if new_max == f64::NEG_INFINITY {
                row.fill(T::from_f64(0.0)); // no weight anywhere yet (zero multiplicities)
                return 1.0;
            }
            state.sum =
                state.sum * (state.max - new_max).exp() + exp_sum(row, T::from_f64(new_max));
            new_max
        };
        let rescale = (state.max - new_max).exp();
        state.max = new_max;
        rescale
    }
}

/// One query's running softmax state in [`EmpiricalDenoiser::dense_into`].
#[derive(Debug, Clone, Copy)]
struct RowState {
    /// |x_c|² and the rounding error of its GEMM logits.
    x_sq: f64,
    error: f64,
    /// The running maximum logit (in the exact scale where the row refines) and the sum of
    /// e^(l − max) so far.
    max: f64,
    sum: f64,
}

impl Default for RowState {
    fn default() -> Self {
        RowState::new(0.0, 0.0)
    }
}

impl RowState {
    fn new(x_sq: f64, error: f64) -> Self {
        RowState {
            x_sq,
            error,
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
}

/// Lanes of the softmax passes: independent maxima and sums that the compiler vectorises.
const LANES: usize = 16;

/// `l_μ = beta G_μ + offsets[μ]` in place; returns max_μ l_μ. Compiled for AVX-512 and AVX2 too,
/// chosen at run time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
fn scale_shift_max<T: Float>(row: &mut [T], offsets: &[T], beta: T) -> T {
    let mut lane_max = [T::from_f64(f64::NEG_INFINITY); LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    let mut offset_chunks = offsets.chunks_exact(LANES);
    for (c, o) in (&mut chunks).zip(&mut offset_chunks) {
        for j in 0..LANES {
            c[j] = beta * c[j] + o[j];
            lane_max[j] = lane_max[j].max(c[j]);
        }
    }
    for (g, &o) in chunks
        .into_remainder()
        .iter_mut()
        .zip(offset_chunks.remainder())
    {
        *g = beta * *g + o;
        lane_max[0] = lane_max[0].max(*g);
    }
    lane_max
        .into_iter()
        .fold(T::from_f64(f64::NEG_INFINITY), T::max)
}

/// `w_μ = e^(max(l_μ − max, −CUTOFF))` in place; returns Σ w_μ. A weight below e^−CUTOFF is
/// raised to it, which changes the result by less than K·e^−CUTOFF relative, under the
/// precision. Summed in T lanes over blocks of 1024, then in f64. Compiled like
/// [`scale_shift_max`].
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
fn exp_sum<T: Float>(row: &mut [T], max: T) -> f64 {
    let floor = T::from_f64(-T::CUTOFF);
    let mut total = 0.0;
    for block in row.chunks_mut(1024) {
        let mut lane_sum = [T::from_f64(0.0); LANES];
        let mut chunks = block.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for j in 0..LANES {
                c[j] = T::exp_nonpositive((c[j] - max).max(floor));
                lane_sum[j] += c[j];
            }
        }
        for g in chunks.into_remainder() {
            *g = T::exp_nonpositive((*g - max).max(floor));
            lane_sum[0] += *g;
        }
        total += lane_sum.iter().map(|v| v.to_f64()).sum::<f64>();
    }
    total
}

impl<T: Float> Denoiser for EmpiricalDenoiser<T> {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        let mut out = Array2::zeros(x.raw_dim());
        self.denoise_into(x, sigma, out.view_mut());
        out
    }

    fn arithmetic(&self) -> Arithmetic {
        T::ARITHMETIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::normal_matrix as random;

    /// Naive reference: per query, per pattern, direct distances, stable softmax.
    fn naive(patterns: &Array2<f64>, m: &[f64], x: &Array2<f64>, sigma: f64) -> Array2<f64> {
        let beta = 1.0 / (sigma * sigma);
        let mut out = Array2::zeros(x.raw_dim());
        for (q, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            let logits: Vec<f64> = patterns
                .rows()
                .into_iter()
                .zip(m)
                .map(|(p, &mi)| -0.5 * beta * (&q - &p).mapv(|v| v * v).sum() + mi.ln())
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let s: f64 = w.iter().sum();
            for (p, wi) in patterns.rows().into_iter().zip(&w) {
                o.scaled_add(wi / s, &p);
            }
        }
        out
    }

    #[test]
    fn matches_naive_reference_in_f64_and_f32() {
        let p = random(300, 17, 1) * 2.0 + 3.0;
        let x = random(37, 17, 2) * 2.0 + 3.0;
        let m: Vec<f64> = (0..300).map(|i| 1.0 + (i % 3) as f64).collect();
        for sigma in [0.05, 0.5, 5.0, 50.0] {
            let want = naive(&p, &m, &x, sigma);
            let got = EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &m)
                .unwrap()
                .denoise(x.view(), sigma);
            let err = (&got - &want)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(err < 1e-11, "f64 sigma={sigma}: {err}");
            let got = EmpiricalDenoiser::<f32>::with_multiplicities(p.view(), &m)
                .unwrap()
                .denoise(x.view(), sigma);
            let err = (&got - &want)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(err < 1e-3, "f32 sigma={sigma}: {err}");
        }
        // each precision says the arithmetic it computes in, which sets its tolerances
        let one = |x: ArrayView2<f64>, _| x.to_owned();
        assert_eq!(one.arithmetic(), Arithmetic::F64);
        for (d, want) in [
            (
                &EmpiricalDenoiser::<f64>::new(p.view()).unwrap() as &dyn Denoiser,
                Arithmetic::F64,
            ),
            (
                &EmpiricalDenoiser::<f32>::new(p.view()).unwrap(),
                Arithmetic::F32,
            ),
        ] {
            assert_eq!(d.arithmetic(), want);
        }
    }

    #[test]
    fn pattern_blocks_match_the_naive_reference() {
        // K over two blocks of PATTERN_BLOCK, the first block all zero multiplicities (no
        // weight until the second), data far from the origin (refinement at small sigma) and
        // queries near patterns of the later blocks: the online softmax must rescale exactly.
        let k = 2 * PATTERN_BLOCK + 500;
        let p = random(k, 5, 11) + 40.0;
        let m: Vec<f64> = (0..k)
            .map(|i| {
                if i < PATTERN_BLOCK {
                    0.0
                } else {
                    1.0 + (i % 3) as f64
                }
            })
            .collect();
        let mut x = p.select(
            Axis(0),
            &[PATTERN_BLOCK + 3, k - 1, 2 * PATTERN_BLOCK + 1, 7],
        );
        x += &(random(4, 5, 12) * 1e-3);
        for sigma in [1e-4, 0.05, 1.0, 30.0] {
            let want = naive(&p, &m, &x, sigma);
            let den64 = EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &m).unwrap();
            let err = (&den64.denoise(x.view(), sigma) - &want)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(err < 1e-10, "f64 sigma={sigma}: {err}");
            let den32 = EmpiricalDenoiser::<f32>::with_multiplicities(p.view(), &m).unwrap();
            let err = (&den32.denoise(x.view(), sigma) - &want)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(err < 2e-5, "f32 sigma={sigma}: {err}");
        }
    }

    #[test]
    fn prior_scale_queries_are_exact() {
        // Sampling starts far from the data (|x| ~ sigma_max √d): the row constant |x|² must not
        // inflate the error estimate (regression: it forced refinement of every logit, 26× slower).
        let p = random(400, 30, 8);
        let x = random(9, 30, 9) * 200.0;
        for sigma in [50.0, 200.0] {
            let want = naive(&p, &[1.0; 400], &x, sigma);
            let got = EmpiricalDenoiser::<f32>::new(p.view())
                .unwrap()
                .denoise(x.view(), sigma);
            let err = (&got - &want)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(err < 1e-4, "sigma={sigma}: {err}");
        }
    }

    /// The largest deviation of a precision's denoiser from `want` (NaN fails every bound).
    fn max_error<T: Float>(
        p: &Array2<f64>,
        x: &Array2<f64>,
        sigma: f64,
        want: &Array2<f64>,
    ) -> f64 {
        let got = EmpiricalDenoiser::<T>::new(p.view())
            .unwrap()
            .denoise(x.view(), sigma);
        (&got - want).mapv(f64::abs).fold(
            0.0,
            |a: f64, &b| if b.is_nan() { f64::NAN } else { a.max(b) },
        )
    }

    #[test]
    fn tiny_sigma_is_finite_and_exact() {
        // Data far from the origin and sigma down to 1e-6 of the data scale: the GEMM logits
        // alone would be off by ~beta·u·|x|² ≫ 1; refinement must make the result exact.
        let p = random(50, 8, 3) + 100.0;
        let mut x = p.select(Axis(0), &[0, 1, 2, 3]);
        x += &(random(4, 8, 4) * 3e-6);
        for sigma in [1e-3, 1e-5, 1e-6] {
            let want = naive(&p, &[1.0; 50], &x, sigma);
            let f64_err = max_error::<f64>(&p, &x, sigma, &want);
            let f32_err = max_error::<f32>(&p, &x, sigma, &want);
            // f64: theory.md §7.1's 1e-12 at unit scale, times the data scale 100 (measured: 0);
            // f32: patterns stored in f32 at |ξ| ≈ 100 move by up to 100·2⁻²⁴ = 6e-6, the bound
            // is 3× that (measured: 5.8e-8, the output is accumulated in f64)
            assert!(f64_err < 1e-10, "f64 sigma={sigma}: {f64_err}");
            assert!(f32_err < 2e-5, "f32 sigma={sigma}: {f32_err}");
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        let p = random(700, 9, 5);
        let x = random(64, 9, 6);
        let den = EmpiricalDenoiser::<f64>::new(p.view()).unwrap();
        let all = den.denoise(x.view(), 0.7);
        for (start, len) in [(0, 1), (5, 1), (3, 7), (10, 33), (0, 64)] {
            let part = den.denoise(x.slice(ndarray::s![start..start + len, ..]), 0.7);
            assert_eq!(
                part,
                all.slice(ndarray::s![start..start + len, ..]),
                "rows {start}..+{len}"
            );
        }
    }

    #[test]
    fn polynomial_exp_matches_std() {
        let (mut worst64, mut worst32) = (0.0f64, 0.0f64);
        for i in 0..=200_000 {
            let x = -60.0 * i as f64 / 200_000.0;
            worst64 = worst64.max((f64::exp_nonpositive(x) / x.exp() - 1.0).abs());
            if x >= -30.0 {
                let x32 = x as f32;
                let got = f32::exp_nonpositive(x32) as f64;
                worst32 = worst32.max((got / (x32 as f64).exp() - 1.0).abs());
            }
        }
        assert!(worst64 < 5e-16, "f64 exp: max relative error {worst64}");
        assert!(worst32 < 3e-7, "f32 exp: max relative error {worst32}");
    }

    #[test]
    fn rejects_bad_input() {
        let p = random(5, 3, 7);
        let den = EmpiricalDenoiser::<f64>::new(p.view()).unwrap();
        assert!(
            den.try_denoise(random(2, 4, 0).view(), 1.0)
                .unwrap_err()
                .to_string()
                .contains("expected shape [2, 3]")
        );
        assert_eq!(
            den.try_denoise(p.view(), -1.0).unwrap_err().to_string(),
            "sigma must be > 0 and finite, got -1"
        );
        let mut bad = p.clone();
        bad[[1, 2]] = f64::NAN;
        assert!(EmpiricalDenoiser::<f64>::new(bad.view()).is_err());
        assert!(
            EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &[1.0, -1.0, 1.0, 1.0, 1.0])
                .is_err()
        );
        assert_eq!(
            EmpiricalDenoiser::<f64>::with_multiplicities(p.view(), &[0.0; 5])
                .unwrap_err()
                .to_string(),
            "pattern multiplicities must be not all zero, got all zero"
        );
    }

    #[test]
    fn a_zero_multiplicity_removes_its_pattern() {
        let p = random(6, 3, 21);
        let x = random(5, 3, 22);
        let kept = p.select(Axis(0), &[0, 2, 3, 5]);
        for sigma in [0.1, 1.0, 10.0] {
            let with_zeros = EmpiricalDenoiser::<f64>::with_multiplicities(
                p.view(),
                &[1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            )
            .unwrap()
            .denoise(x.view(), sigma);
            let without = EmpiricalDenoiser::<f64>::new(kept.view())
                .unwrap()
                .denoise(x.view(), sigma);
            let err = (&with_zeros - &without)
                .mapv(f64::abs)
                .fold(0.0f64, |a, &b| a.max(b));
            assert!(err < 1e-12, "sigma={sigma}: {err}");
        }
    }
}
