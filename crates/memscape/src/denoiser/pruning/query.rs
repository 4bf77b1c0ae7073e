//! The pruned query ([`Pruner`]): per query, the stage-1 and stage-2 upper bounds on every
//! logit, the probe, the candidates above the cut, and the weighted sum of their exact
//! logits with the achieved bound on the skipped weight.

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::{Counters, MAX_CANDIDATE_FRACTION, PruneIndex, Shape, TILE_ROWS, cut};
use crate::denoiser::float::Float;

/// Everything a query's selection needs besides the query.
pub(in crate::denoiser) struct Pruner<'a, T: Float> {
    pub index: &'a PruneIndex,
    /// Centred patterns, K×d row-major, and their log m_μ.
    pub patterns: &'a [T],
    pub log_multiplicity: &'a [f64],
    pub center: &'a [f64],
    pub beta: f64,
    pub tolerance: f64,
    pub counters: &'a Counters,
}

impl<T: Float> Pruner<'_, T> {
    fn k(&self) -> usize {
        self.index.num_patterns()
    }

    fn cut(&self) -> f64 {
        cut(self.k(), self.tolerance)
    }

    /// Denoises the rows of `x_c` (m×d centred queries, |x_c|² in `x_sq`) from their candidates
    /// into `out` (m×d, data coordinates). Returns the rows that need the dense denoiser
    /// (too many candidates); their `out` rows are left untouched.
    pub fn denoise_rows(&self, x_c: &[T], x_sq: &[f64], out: &mut [f64]) -> Vec<usize> {
        let d = self.index.dim;
        // tiles of up to TILE_ROWS queries, at least one per thread (a row's result does not
        // depend on its tile: module docs)
        let tile = TILE_ROWS
            .min(x_sq.len().div_ceil(rayon::current_num_threads()))
            .max(2);
        let dense: Vec<Vec<usize>> = x_c
            .par_chunks(tile * d)
            .zip(x_sq.par_chunks(tile))
            .zip(out.par_chunks_mut(tile * d))
            .enumerate()
            .map(|(t, ((xs, sq), o))| {
                self.tile(xs, sq, o)
                    .into_iter()
                    .map(|i| t * tile + i)
                    .collect()
            })
            .collect();
        dense.into_iter().flatten().collect()
    }

    /// One tile of at most [`TILE_ROWS`] queries, on one thread.
    fn tile(&self, x_c: &[T], x_sq: &[f64], out: &mut [f64]) -> Vec<usize> {
        let idx = self.index;
        let (d, k, r) = (idx.dim, self.k(), idx.rank());
        let rows = x_sq.len();
        let m = rows.max(2); // a one-row GEMM sums in another order: pad, as the dense path does
        // The queries' terms; the first RANK coordinates, rounded to f32, feed the bound GEMM.
        let shape = Shape {
            dim: d,
            axes: idx.axes(),
            rank: r,
            blocks: &idx.blocks,
            c32: idx.c32,
            c64: idx.c64,
        };
        let mut padded = x_c.to_vec();
        let mut padded_sq = x_sq.to_vec();
        if rows < m {
            padded.extend_from_slice(&x_c[..d]);
            padded_sq.push(x_sq[0]);
        }
        let mut y32 = Vec::with_capacity(m * r);
        let x_terms: Vec<QueryTerms> = shape
            .terms(&idx.basis, &padded, &padded_sq)
            .into_iter()
            .zip(&padded_sq)
            .map(|(t, &xs)| {
                y32.extend_from_slice(&t.coords[..r]);
                QueryTerms {
                    offset32: (t.offset - idx.c_f32 * xs) as f32,
                    norms32: t.norms.iter().map(|&v| v as f32).collect(),
                    resid: t.resid(),
                    norm_err: t.norm_err,
                    coord_norm: t.coord_norm,
                    coords: t.coords,
                }
            })
            .collect();
        // g = ỹ_x · ỹ_μ for the tile's queries and every pattern.
        BOUNDS.with_borrow_mut(|g| self.bounded_tile(x_c, m, k, &y32, &x_terms, g, out))
    }

    /// The bound GEMM, the bounds and the pruned softmax of one tile (`m` ≥ 2 padded rows),
    /// with `g` a reused buffer for the tile's bounds.
    #[allow(clippy::too_many_arguments)]
    fn bounded_tile(
        &self,
        x_c: &[T],
        m: usize,
        k: usize,
        y32: &[f32],
        x_terms: &[QueryTerms],
        g: &mut Vec<f32>,
        out: &mut [f64],
    ) -> Vec<usize> {
        let (d, r, rows) = (
            self.index.dim,
            self.index.rank(),
            x_c.len() / self.index.dim,
        );
        let idx = self.index;
        g.resize(m * k, 0.0);
        // Block by block of patterns, the GEMM's output is turned into bounds while it is in
        // cache; each query's pattern of largest bound is tracked on the way.
        let mut best = vec![(0usize, f32::NEG_INFINITY); rows];
        let chunks = k.div_ceil(PATTERN_BLOCK);
        let mut maxima = vec![f32::NEG_INFINITY; rows * chunks];
        let y = MatRef::from_row_major_slice(y32, m, r);
        let proj = MatRef::from_row_major_slice(&idx.proj, k, r);
        for start in (0..k).step_by(PATTERN_BLOCK) {
            let len = PATTERN_BLOCK.min(k - start);
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(&mut g[..m * k], m, k).subcols_mut(start, len),
                Accum::Replace,
                y,
                proj.subrows(start, len).transpose(),
                1.0f32,
                Par::Seq,
            );
            let block = start..start + len;
            upper_logits(self, &x_terms[..rows], g, block, &mut maxima, &mut best);
        }
        let mut dense = vec![];
        for (i, &(probe, _)) in best.iter().enumerate() {
            let ub = &g[i * k..(i + 1) * k];
            let row_maxima = &maxima[i * chunks..(i + 1) * chunks];
            let x = &x_c[i * d..(i + 1) * d];
            let o = &mut out[i * d..(i + 1) * d];
            if !self.row(ub, row_maxima, probe, x, &x_terms[i], o) {
                dense.push(i);
            }
        }
        dense
    }

    /// The pruned softmax of one centred query `x` from the upper bounds `ub` on its logits
    /// (rounded to f32) and the pattern of largest bound; false when it has too many candidates.
    fn row(
        &self,
        ub: &[f32],
        maxima: &[f32],
        probe: usize,
        x: &[T],
        q: &QueryTerms,
        out: &mut [f64],
    ) -> bool {
        let d = self.index.dim;
        let half_beta = 0.5 * self.beta;
        let exact = |mu: usize| {
            self.log_multiplicity[mu] - half_beta * sq_dist(x, &self.patterns[mu * d..(mu + 1) * d])
        };
        // 1–2: the probe's exact logit; 3: the candidates, and the largest bound among the
        // skipped patterns. The f32 rounding of ub moves it by at most u₃₂|ub|: the threshold
        // is lowered by twice that, and the skipped bound raised.
        let threshold = exact(probe) - self.cut();
        let slack = |u: f64| F32_SLACK * (u.abs() + self.index.log_m_abs);
        let threshold = threshold - slack(threshold);
        let max_candidates = (MAX_CANDIDATE_FRACTION * self.k() as f64) as usize;
        let selected = select(ub, maxima, threshold as f32, max_candidates);
        let Some((candidates, max_skipped)) = selected else {
            return false;
        };
        let mut max_skipped = max_skipped as f64 + slack(max_skipped as f64);
        // 3b: the second bound on each candidate drops most of the rest.
        let l = self.index.axes();
        let candidates: Vec<usize> = candidates
            .iter()
            .enumerate()
            .filter(|&(n, &mu)| {
                if let Some(&ahead) = candidates.get(n + 8) {
                    prefetch(&self.index.coords[ahead * l..(ahead + 1) * l]);
                }
                let lm = self.log_multiplicity[mu];
                let u = self.index.refined_upper_logit(q, mu, lm, half_beta);
                if u < threshold {
                    max_skipped = max_skipped.max(u);
                }
                u >= threshold
            })
            .map(|(_, &mu)| mu)
            .collect();
        // 4: exact softmax over the candidates. The other half of the budget: a candidate of
        // weight under tolerance/(2n) of the largest is left out of the sum (n candidates).
        let logits: Vec<f64> = candidates
            .iter()
            .enumerate()
            .map(|(n, &mu)| {
                if let Some(&ahead) = candidates.get(n + 4) {
                    prefetch(&self.patterns[ahead * d..(ahead + 1) * d]);
                }
                exact(mu)
            })
            .collect();
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let floor = 0.5 * self.tolerance / candidates.len() as f64;
        out.fill(0.0);
        let (mut total, mut left_out) = (0.0, 0.0);
        for (&mu, &l) in candidates.iter().zip(&logits) {
            let w = (l - top).exp();
            if w < floor {
                left_out += w;
            } else {
                total += w;
                axpy(w, &self.patterns[mu * d..(mu + 1) * d], out);
            }
        }
        for (o, c) in out.iter_mut().zip(self.center) {
            *o = *o / total + c;
        }
        let skipped = self.k() - candidates.len();
        let bound_skipped = if skipped == 0 {
            0.0
        } else {
            skipped as f64 * (max_skipped - top).exp()
        };
        let epsilon = (bound_skipped + left_out) / total;
        self.counters.add_pruned(candidates.len(), epsilon);
        true
    }
}

/// A query's own terms of the bound.
pub(super) struct QueryTerms {
    /// |Q x_c|, the residual's norm, and the norms' allowance.
    pub(super) resid: f64,
    pub(super) norm_err: f64,
    /// The first bound's query terms in f32: (1 − c₃₂)|ỹ_x|² − (c₆₄ + c_f32)|x_c|², and the
    /// norms.
    pub(super) offset32: f32,
    pub(super) norms32: Vec<f32>,
    /// fl₃₂(U x_c), all L coordinates, and its norm.
    pub(super) coords: Vec<f32>,
    pub(super) coord_norm: f64,
}

/// Patterns per block of the bound pass: the block's GEMM output (rows × 512 f32) and its
/// per-pattern terms stay in cache while they become bounds.
pub(super) const PATTERN_BLOCK: usize = 512;
thread_local! {
    /// Each thread's buffer for a tile's bounds (rows × K f32), kept between calls.
    static BOUNDS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub(super) const F32_UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// Asks the CPU to start loading `v` into cache (a hint; no effect on results).
pub(super) fn prefetch<V>(v: &[V]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(v);
        let base = v.as_ptr() as *const i8;
        for offset in (0..bytes).step_by(64) {
            // SAFETY: the address lies inside `v`; a prefetch never faults or writes.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.add(offset),
                )
            };
        }
    }
}

/// |v| of an f32 vector, summed in f64.
pub(super) fn norm32(v: &[f32]) -> f64 {
    v.iter()
        .map(|&a| (a as f64) * (a as f64))
        .sum::<f64>()
        .sqrt()
}

/// The allowance for ub computed and stored in f32, relative to |ub| + max |log m|: its last
/// three roundings (the product beta·lb²/2, the difference, log m in f32), doubled.
pub(super) const F32_SLACK: f64 = 4.0 * f32::EPSILON as f64;

/// ub_μ = log m_μ − beta lb_μ²/2 for every query of a tile and the patterns in `block`,
/// written over the bound GEMM's `g` (queries × K), with
/// lb_μ² = |ỹ_x − ỹ_μ|² + Σ_blocks (|P_b x| − |P_b p_μ|)² less the rounding margins of the
/// module docs; `best` keeps each query's pattern of largest bound so far. Compiled for AVX-512
/// and AVX2 too.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn upper_logits<T: Float>(
    pr: &Pruner<T>,
    queries: &[QueryTerms],
    g: &mut [f32],
    block: std::ops::Range<usize>,
    maxima: &mut [f32],
    best: &mut [(usize, f32)],
) {
    let idx = pr.index;
    let k = pr.k();
    let half_beta = (0.5 * pr.beta) as f32;
    let (start, end) = (block.start, block.end);
    let mut acc = [0.0f32; PATTERN_BLOCK];
    let acc = &mut acc[..end - start];
    for (i, q) in queries.iter().enumerate() {
        let g = &mut g[i * k + start..i * k + end];
        for ((a, &o), &g) in acc.iter_mut().zip(&idx.offset32[start..end]).zip(&*g) {
            *a = q.offset32 + o - 2.0 * g;
        }
        let x_err = q.norm_err as f32;
        for (b, &xn) in q.norms32.iter().enumerate() {
            let norms = &idx.norms32[b * k + start..b * k + end];
            let errs = &idx.norm_err32[start..end];
            for ((a, &pn), &e) in acc.iter_mut().zip(norms).zip(errs) {
                let gap = ((xn - pn).abs() - x_err - e).max(0.0);
                *a += gap * gap;
            }
        }
        for ((u, &a), &lm) in g.iter_mut().zip(&*acc).zip(&idx.log_m32[start..end]) {
            *u = lm - half_beta * a.max(0.0);
        }
        let block_max = g.iter().fold(f32::NEG_INFINITY, |m, &u| m.max(u));
        let (arg, max) = &mut best[i];
        if block_max > *max {
            let j = g
                .iter()
                .position(|&u| u == block_max)
                .expect("the maximum is there");
            (*arg, *max) = (start + j, block_max);
        }
        maxima[i * k.div_ceil(PATTERN_BLOCK) + start / PATTERN_BLOCK] = block_max;
    }
}

/// The indices with `ub ≥ threshold` and the largest `ub` below it; `None` when there are more
/// than `max` of them. `maxima` holds the largest ub of each block of [`PATTERN_BLOCK`]
/// patterns (recorded by the bound pass): a block below the threshold is skipped unread.
pub(super) fn select(
    ub: &[f32],
    maxima: &[f32],
    threshold: f32,
    max: usize,
) -> Option<(Vec<usize>, f32)> {
    let mut hits = Vec::new();
    let mut skipped_max = f32::NEG_INFINITY;
    for (c, (chunk, &chunk_max)) in ub.chunks(PATTERN_BLOCK).zip(maxima).enumerate() {
        if chunk_max < threshold {
            skipped_max = skipped_max.max(chunk_max);
            continue;
        }
        skipped_max = skipped_max.max(select_in(chunk, c * PATTERN_BLOCK, threshold, &mut hits));
        if hits.len() > max {
            return None;
        }
    }
    Some((hits, skipped_max))
}

/// Appends to `hits` the indices (from `offset`) of `ub ≥ threshold` and returns the largest
/// `ub` below it; scans 16 at a time and looks inside only the groups with a hit. Compiled for
/// AVX-512 and AVX2 too.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn select_in(ub: &[f32], offset: usize, threshold: f32, hits: &mut Vec<usize>) -> f32 {
    const GROUP: usize = 16;
    let mut lane_max = [f32::NEG_INFINITY; GROUP];
    let mut visit = |start: usize, group: &[f32]| {
        for (j, &u) in group.iter().enumerate() {
            if u >= threshold {
                hits.push(offset + start + j);
            }
        }
    };
    let groups = ub.chunks_exact(GROUP);
    let tail = groups.remainder();
    for (g, group) in groups.enumerate() {
        let mut any = false;
        for j in 0..GROUP {
            let u = group[j];
            any |= u >= threshold;
            lane_max[j] = lane_max[j].max(if u < threshold { u } else { f32::NEG_INFINITY });
        }
        if any {
            visit(g * GROUP, group);
        }
    }
    visit(ub.len() - tail.len(), tail);
    let tail_max = tail
        .iter()
        .filter(|&&u| u < threshold)
        .fold(f32::NEG_INFINITY, |m, &u| m.max(u));
    lane_max.into_iter().fold(tail_max, f32::max)
}

/// |a − b|²: differences in T (exact for nearby values, Sterbenz), squares summed in 16 T lanes,
/// then in f64. Compiled for AVX-512 and AVX2 too, chosen at run time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn sq_dist<T: Float>(a: &[T], b: &[T]) -> f64 {
    const LANES: usize = 16;
    let mut acc = [T::from_f64(0.0); LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| (x - y).to_f64().powi(2))
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..LANES {
            let v = x[j] - y[j];
            acc[j] += v * v;
        }
    }
    acc.iter().map(|v| v.to_f64()).sum::<f64>() + tail
}

/// out += w·p. Compiled like [`sq_dist`].
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn axpy<T: Float>(w: f64, p: &[T], out: &mut [f64]) {
    for (o, v) in out.iter_mut().zip(p) {
        *o += w * v.to_f64();
    }
}
