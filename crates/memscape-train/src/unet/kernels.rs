//! The U-Net's kernels: activations laid out C × N × H × W, the layers' places in the flat
//! parameter vector, and each layer's forward and hand-written backward pass (convolution as
//! im2col + one GEMM per micro-batch, GroupNorm, SiLU, linear, nearest resize). Each runs on
//! the calling thread, so the network's results do not depend on the thread count.

use faer::{Accum, MatMut, MatRef, Par};

use crate::mlp::sigmoid;

use super::{GN_EPS, TIME_SCALE};
/// A Conv2d: weight `cout × cin × k × k`, bias `cout`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Conv {
    pub(super) cin: usize,
    pub(super) cout: usize,
    pub(super) k: usize,
    pub(super) stride: usize,
    pub(super) w: usize,
    pub(super) b: usize,
}

/// A Linear: weight `fan_out × fan_in`, bias `fan_out`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Linear {
    pub(super) fan_in: usize,
    pub(super) fan_out: usize,
    pub(super) w: usize,
    pub(super) b: usize,
}

/// A GroupNorm over `c` channels: weight and bias `c`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Norm {
    pub(super) c: usize,
    pub(super) w: usize,
    pub(super) b: usize,
}

/// An activation, C × N × H × W.
#[derive(Debug, Clone, Default)]
pub struct Act {
    pub(super) c: usize,
    pub(super) n: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) data: Vec<f32>,
}

impl Act {
    pub(super) fn zeros(c: usize, n: usize, h: usize, w: usize) -> Self {
        Act {
            c,
            n,
            h,
            w,
            data: vec![0.0; c * n * h * w],
        }
    }

    /// From `n` rows of C × H × W values.
    pub(super) fn from_rows(rows: &[f32], n: usize, c: usize, h: usize, w: usize) -> Self {
        let mut a = Act::zeros(c, n, h, w);
        let hw = h * w;
        for b in 0..n {
            for ch in 0..c {
                a.data[(ch * n + b) * hw..(ch * n + b + 1) * hw]
                    .copy_from_slice(&rows[(b * c + ch) * hw..(b * c + ch + 1) * hw]);
            }
        }
        a
    }

    /// Back to `n` rows of C × H × W values.
    pub(super) fn to_rows(&self) -> Vec<f32> {
        let hw = self.h * self.w;
        let mut rows = vec![0.0; self.data.len()];
        for b in 0..self.n {
            for ch in 0..self.c {
                rows[(b * self.c + ch) * hw..(b * self.c + ch + 1) * hw].copy_from_slice(
                    &self.data[(ch * self.n + b) * hw..(ch * self.n + b + 1) * hw],
                );
            }
        }
        rows
    }

    pub(super) fn plane(&self, ch: usize, b: usize) -> &[f32] {
        let hw = self.h * self.w;
        &self.data[(ch * self.n + b) * hw..(ch * self.n + b + 1) * hw]
    }

    /// Channels `c0..c0 + count` of sample `b`, as a row-major count × HW matrix.
    pub(super) fn sample(&self, b: usize, c0: usize, count: usize) -> Vec<f32> {
        (c0..c0 + count)
            .flat_map(|ch| self.plane(ch, b).iter().cloned())
            .collect()
    }

    pub(super) fn set_sample(&mut self, b: usize, c0: usize, count: usize, values: &[f32]) {
        let hw = self.h * self.w;
        for (i, ch) in (c0..c0 + count).enumerate() {
            let at = (ch * self.n + b) * hw;
            self.data[at..at + hw].copy_from_slice(&values[i * hw..(i + 1) * hw]);
        }
    }

    pub(super) fn add(&mut self, other: &Act) {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }

    /// Channels of `self`, then those of `other` (same N, H, W).
    pub(super) fn concat(&self, other: &Act) -> Act {
        let mut data = self.data.clone();
        data.extend_from_slice(&other.data);
        Act {
            c: self.c + other.c,
            data,
            ..*self
        }
    }

    /// The first `c` channels, and the rest.
    pub(super) fn split(self, c: usize) -> (Act, Act) {
        let at = c * self.n * self.h * self.w;
        let rest = self.data[at..].to_vec();
        let mut first = self.data;
        first.truncate(at);
        (
            Act {
                c,
                data: first,
                ..self
            },
            Act {
                c: self.c - c,
                data: rest,
                ..self
            },
        )
    }

    /// `self[c, b, :] += v[b, c]` for `v` row-major N × C.
    pub(super) fn add_per_channel_sample(&mut self, v: &[f32]) {
        let hw = self.h * self.w;
        for ch in 0..self.c {
            for b in 0..self.n {
                let add = v[b * self.c + ch];
                let at = (ch * self.n + b) * hw;
                self.data[at..at + hw].iter_mut().for_each(|x| *x += add);
            }
        }
    }

    /// `out[b, c] = Σ_{y,x} self[c, b, y, x]`, row-major N × C.
    pub(super) fn sum_per_channel_sample(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.n * self.c];
        for ch in 0..self.c {
            for b in 0..self.n {
                out[b * self.c + ch] = self.plane(ch, b).iter().sum();
            }
        }
        out
    }
}

/// `dst = [dst +] alpha lhs · rhs` on this thread.
pub(super) fn gemm_seq(
    dst: MatMut<f32>,
    accumulate: bool,
    lhs: MatRef<f32>,
    rhs: MatRef<f32>,
    alpha: f32,
) {
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, alpha, Par::Seq);
}

pub(super) fn silu(z: f32) -> f32 {
    z * sigmoid(z)
}

/// SiLU'(z) = σ(z) (1 + z (1 − σ(z))).
pub(super) fn silu_grad(z: f32) -> f32 {
    let s = sigmoid(z);
    s * (1.0 + z * (1.0 - s))
}

/// DDPM's sinusoidal embedding of 1000 c_noise: [sin(t f_j), cos(t f_j)], f_j = 10000^(−j/half).
pub(super) fn sinusoid(c_noise: &[f64], dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let mut out = vec![0.0; c_noise.len() * dim];
    for (row, &c) in out.chunks_mut(dim).zip(c_noise) {
        let t = TIME_SCALE * c;
        for j in 0..half {
            let f = (-(10000f64.ln()) * j as f64 / half as f64).exp();
            let (s, co) = (t * f).sin_cos();
            row[j] = s as f32;
            row[half + j] = co as f32;
        }
    }
    out
}

/// `y (n × fan_out) = x (n × fan_in) Wᵀ + b`.
pub(super) fn linear(params: &[f32], l: Linear, x: &[f32], n: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(n * l.fan_out);
    for _ in 0..n {
        y.extend_from_slice(&params[l.b..l.b + l.fan_out]);
    }
    gemm_seq(
        MatMut::from_row_major_slice_mut(&mut y, n, l.fan_out),
        true,
        MatRef::from_row_major_slice(x, n, l.fan_in),
        MatRef::from_row_major_slice(&params[l.w..l.b], l.fan_out, l.fan_in).transpose(),
        1.0,
    );
    y
}

/// Adds the weight and bias gradients of a Linear; returns dx when `input_grad`.
pub(super) fn linear_backward(
    params: &[f32],
    l: Linear,
    x: &[f32],
    dy: &[f32],
    n: usize,
    grads: &mut [f32],
    input_grad: bool,
) -> Vec<f32> {
    gemm_seq(
        MatMut::from_row_major_slice_mut(&mut grads[l.w..l.b], l.fan_out, l.fan_in),
        true,
        MatRef::from_row_major_slice(dy, n, l.fan_out).transpose(),
        MatRef::from_row_major_slice(x, n, l.fan_in),
        1.0,
    );
    for row in dy.chunks(l.fan_out) {
        for (g, v) in grads[l.b..l.b + l.fan_out].iter_mut().zip(row) {
            *g += v;
        }
    }
    if !input_grad {
        return vec![];
    }
    let mut dx = vec![0.0; n * l.fan_in];
    gemm_seq(
        MatMut::from_row_major_slice_mut(&mut dx, n, l.fan_in),
        false,
        MatRef::from_row_major_slice(dy, n, l.fan_out),
        MatRef::from_row_major_slice(&params[l.w..l.b], l.fan_out, l.fan_in),
        1.0,
    );
    dx
}

/// For kernel column `kx` of a convolution with padding `pad` and stride `stride` over rows of
/// width `w`: the output columns `lo..hi` whose input column `ox·stride + kx − pad` is inside.
pub(super) fn valid_columns(
    w: usize,
    wo: usize,
    kx: usize,
    pad: usize,
    stride: usize,
) -> (usize, usize) {
    let lo = (pad.saturating_sub(kx)).div_ceil(stride);
    let hi = ((w + pad).saturating_sub(kx)).div_ceil(stride).min(wo);
    (lo, hi.max(lo))
}

thread_local! {
    /// Per-thread scratch for im2col columns and their gradient, reused across convolutions
    /// (fresh multi-megabyte buffers cost page faults and zeroing at every call).
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// im2col of a 3×3 (padding 1) or 1×1 convolution into `col`: rows cin·k² (PyTorch's weight
/// order), columns N × Ho × Wo. Stride 1 copies whole row segments.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn im2col(x: &Act, k: usize, stride: usize, col: &mut Vec<f32>) {
    let (ho, wo) = (conv_out(x.h, k, stride), conv_out(x.w, k, stride));
    let pad = k / 2;
    let cols = x.n * ho * wo;
    col.clear();
    col.resize(x.c * k * k * cols, 0.0);
    for ci in 0..x.c {
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut col[((ci * k + ky) * k + kx) * cols..][..cols];
                let (lo, hi) = valid_columns(x.w, wo, kx, pad, stride);
                for b in 0..x.n {
                    let plane = x.plane(ci, b);
                    for oy in 0..ho {
                        let Some(iy) = (oy * stride + ky).checked_sub(pad).filter(|&iy| iy < x.h)
                        else {
                            continue;
                        };
                        let dst = &mut row[(b * ho + oy) * wo..][lo..hi];
                        let src = &plane[iy * x.w..(iy + 1) * x.w];
                        if stride == 1 {
                            dst.copy_from_slice(&src[lo + kx - pad..hi + kx - pad]);
                        } else {
                            for (i, d) in dst.iter_mut().enumerate() {
                                *d = src[(lo + i) * stride + kx - pad];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: sums columns back into an activation of `x`'s shape.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn col2im(
    col: &[f32],
    c: usize,
    n: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
) -> Act {
    let (ho, wo) = (conv_out(h, k, stride), conv_out(w, k, stride));
    let pad = k / 2;
    let cols = n * ho * wo;
    let mut x = Act::zeros(c, n, h, w);
    let hw = h * w;
    for ci in 0..c {
        for ky in 0..k {
            for kx in 0..k {
                let row = &col[((ci * k + ky) * k + kx) * cols..][..cols];
                let (lo, hi) = valid_columns(w, wo, kx, pad, stride);
                for b in 0..n {
                    let plane = &mut x.data[(ci * n + b) * hw..(ci * n + b + 1) * hw];
                    for oy in 0..ho {
                        let Some(iy) = (oy * stride + ky).checked_sub(pad).filter(|&iy| iy < h)
                        else {
                            continue;
                        };
                        let src = &row[(b * ho + oy) * wo..][lo..hi];
                        let dst = &mut plane[iy * w..(iy + 1) * w];
                        if stride == 1 {
                            for (d, v) in dst[lo + kx - pad..hi + kx - pad].iter_mut().zip(src) {
                                *d += v;
                            }
                        } else {
                            for (i, v) in src.iter().enumerate() {
                                dst[(lo + i) * stride + kx - pad] += v;
                            }
                        }
                    }
                }
            }
        }
    }
    x
}

/// A convolution: `out (cout × N·Ho·Wo) = W (cout × cin·k²) · im2col(x) + b`.
pub(super) fn conv(params: &[f32], c: Conv, x: &Act) -> Act {
    let (ho, wo) = (conv_out(x.h, c.k, c.stride), conv_out(x.w, c.k, c.stride));
    let cols = x.n * ho * wo;
    let mut out = Act::zeros(c.cout, x.n, ho, wo);
    for (o, row) in out.data.chunks_mut(cols).enumerate() {
        row.fill(params[c.b + o]);
    }
    let product = |out: &mut Act, col: &[f32]| {
        gemm_seq(
            MatMut::from_row_major_slice_mut(&mut out.data, c.cout, cols),
            true,
            MatRef::from_row_major_slice(&params[c.w..c.b], c.cout, c.cin * c.k * c.k),
            MatRef::from_row_major_slice(col, c.cin * c.k * c.k, cols),
            1.0,
        )
    };
    if c.k == 1 && c.stride == 1 {
        product(&mut out, &x.data);
    } else {
        SCRATCH.with_borrow_mut(|(col, _)| {
            im2col(x, c.k, c.stride, col);
            product(&mut out, col);
        });
    }
    out
}

/// Adds the weight and bias gradients of a convolution with input `x` and output gradient `dy`;
/// returns the input gradient.
pub(super) fn conv_backward(params: &[f32], c: Conv, x: &Act, dy: &Act, grads: &mut [f32]) -> Act {
    let rows = c.cin * c.k * c.k;
    let cols = dy.n * dy.h * dy.w;
    let input_grad = |dcol: &mut [f32]| {
        gemm_seq(
            MatMut::from_row_major_slice_mut(dcol, rows, cols),
            false,
            MatRef::from_row_major_slice(&params[c.w..c.b], c.cout, rows).transpose(),
            MatRef::from_row_major_slice(&dy.data, c.cout, cols),
            1.0,
        )
    };
    if c.k == 1 && c.stride == 1 {
        weight_grads(c, &x.data, dy, grads);
        let mut dx = Act::zeros(c.cin, x.n, x.h, x.w);
        input_grad(&mut dx.data);
        return dx;
    }
    SCRATCH.with_borrow_mut(|(col, dcol)| {
        im2col(x, c.k, c.stride, col);
        weight_grads(c, col, dy, grads);
        if dcol.len() < rows * cols {
            dcol.resize(rows * cols, 0.0);
        }
        input_grad(&mut dcol[..rows * cols]);
        col2im(&dcol[..rows * cols], c.cin, x.n, x.h, x.w, c.k, c.stride)
    })
}

/// The weight and bias gradients of a convolution alone (its input needs no gradient).
pub(super) fn conv_weight_backward(c: Conv, x: &Act, dy: &Act, grads: &mut [f32]) {
    SCRATCH.with_borrow_mut(|(col, _)| {
        im2col(x, c.k, c.stride, col);
        weight_grads(c, col, dy, grads);
    });
}

pub(super) fn weight_grads(c: Conv, col: &[f32], dy: &Act, grads: &mut [f32]) {
    let rows = c.cin * c.k * c.k;
    let cols = dy.n * dy.h * dy.w;
    gemm_seq(
        MatMut::from_row_major_slice_mut(&mut grads[c.w..c.b], c.cout, rows),
        true,
        MatRef::from_row_major_slice(&dy.data, c.cout, cols),
        MatRef::from_row_major_slice(col, rows, cols).transpose(),
        1.0,
    );
    for (o, row) in dy.data.chunks(cols).enumerate() {
        grads[c.b + o] += row.iter().sum::<f32>();
    }
}

/// GroupNorm's normalisation: per sample and group of channels, x̂ = (x − μ)/√(σ² + eps).
/// Returns x̂ and the 1/√(σ² + eps) of every (sample, group), sample-major.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn group_norm(x: &Act, groups: usize) -> (Act, Vec<f32>) {
    let per = x.c / groups;
    let hw = x.h * x.w;
    let count = (per * hw) as f64;
    let mut y = Act::zeros(x.c, x.n, x.h, x.w);
    let mut stats = Vec::with_capacity(x.n * groups);
    for b in 0..x.n {
        for g in 0..groups {
            let chans = g * per..(g + 1) * per;
            let (mut s, mut s2) = (0.0f64, 0.0f64);
            for ch in chans.clone() {
                for &v in x.plane(ch, b) {
                    s += v as f64;
                    s2 += (v as f64) * (v as f64);
                }
            }
            let mean = s / count;
            let var = (s2 / count - mean * mean).max(0.0);
            let rstd = 1.0 / (var + GN_EPS as f64).sqrt();
            for ch in chans {
                let at = (ch * x.n + b) * hw;
                for (o, &v) in y.data[at..at + hw].iter_mut().zip(x.plane(ch, b)) {
                    *o = ((v as f64 - mean) * rstd) as f32;
                }
            }
            stats.push(rstd as f32);
        }
    }
    (y, stats)
}

/// GroupNorm's affine part, γ_c x̂ + β_c.
pub(super) fn affine(params: &[f32], nm: Norm, xh: &Act) -> Act {
    let plane = xh.n * xh.h * xh.w;
    let mut y = xh.clone();
    for (ch, p) in y.data.chunks_mut(plane).enumerate() {
        let (gamma, beta) = (params[nm.w + ch], params[nm.b + ch]);
        p.iter_mut().for_each(|v| *v = gamma * *v + beta);
    }
    y
}

/// SiLU(γ_c x̂ + β_c) in one pass (compiled for AVX-512 and AVX2 too, chosen at run time:
/// the branch-free exp vectorises 4× wider than on the baseline target).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn affine_silu(params: &[f32], nm: Norm, xh: &Act) -> Act {
    let plane = xh.n * xh.h * xh.w;
    let mut y = Act::zeros(xh.c, xh.n, xh.h, xh.w);
    for (ch, (out, x)) in y
        .data
        .chunks_mut(plane)
        .zip(xh.data.chunks(plane))
        .enumerate()
    {
        let (gamma, beta) = (params[nm.w + ch], params[nm.b + ch]);
        for (o, &v) in out.iter_mut().zip(x) {
            *o = silu(gamma * v + beta);
        }
    }
    y
}

/// Gradient through a = SiLU(γ_c x̂ + β_c) with respect to the GroupNorm output, in place.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn affine_silu_backward(params: &[f32], nm: Norm, xh: &Act, mut da: Act) -> Act {
    let plane = xh.n * xh.h * xh.w;
    for (ch, (g, x)) in da
        .data
        .chunks_mut(plane)
        .zip(xh.data.chunks(plane))
        .enumerate()
    {
        let (gamma, beta) = (params[nm.w + ch], params[nm.b + ch]);
        for (g, &v) in g.iter_mut().zip(x) {
            *g *= silu_grad(gamma * v + beta);
        }
    }
    da
}

/// GroupNorm backward from x̂ and the output gradient `dy`: adds dγ, dβ and returns
/// dx = (1/std) (dx̂ − mean(dx̂) − x̂ mean(dx̂ x̂)) per group, with dx̂ = γ dy.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl",
    "x86_64+avx2+fma"
))]
pub(super) fn group_norm_backward(
    params: &[f32],
    nm: Norm,
    xh: &Act,
    stats: &[f32],
    dy: Act,
    grads: &mut [f32],
) -> Act {
    let groups = stats.len() / xh.n;
    let per = nm.c / groups;
    let hw = xh.h * xh.w;
    let count = (per * hw) as f32;
    let mut dx = Act::zeros(xh.c, xh.n, xh.h, xh.w);
    for b in 0..xh.n {
        for g in 0..groups {
            let rstd = stats[b * groups + g];
            let chans = g * per..(g + 1) * per;
            let (mut sum_d, mut sum_dx) = (0.0f32, 0.0f32);
            for ch in chans.clone() {
                let gamma = params[nm.w + ch];
                let (mut dgamma, mut dbeta) = (0.0f32, 0.0f32);
                for (&x, &dv) in xh.plane(ch, b).iter().zip(dy.plane(ch, b)) {
                    dgamma += dv * x;
                    dbeta += dv;
                }
                grads[nm.w + ch] += dgamma;
                grads[nm.b + ch] += dbeta;
                sum_d += gamma * dbeta;
                sum_dx += gamma * dgamma;
            }
            let (md, mdx) = (sum_d / count, sum_dx / count);
            for ch in chans {
                let gamma = params[nm.w + ch];
                let at = (ch * xh.n + b) * hw;
                for ((o, &x), &dv) in dx.data[at..at + hw]
                    .iter_mut()
                    .zip(xh.plane(ch, b))
                    .zip(dy.plane(ch, b))
                {
                    *o = rstd * (gamma * dv - md - x * mdx);
                }
            }
        }
    }
    dx
}

/// Nearest-neighbour resize to `h × w` (PyTorch's `mode="nearest"`: source index ⌊i·in/out⌋).
pub(super) fn resize(x: &Act, h: usize, w: usize) -> Act {
    let mut y = Act::zeros(x.c, x.n, h, w);
    for ch in 0..x.c {
        for b in 0..x.n {
            let src = x.plane(ch, b);
            let at = (ch * x.n + b) * h * w;
            for oy in 0..h {
                let iy = oy * x.h / h;
                for ox in 0..w {
                    y.data[at + oy * w + ox] = src[iy * x.w + ox * x.w / w];
                }
            }
        }
    }
    y
}

/// The adjoint of [`resize`] back to `h × w`.
pub(super) fn resize_backward(dy: &Act, h: usize, w: usize) -> Act {
    let mut dx = Act::zeros(dy.c, dy.n, h, w);
    for ch in 0..dy.c {
        for b in 0..dy.n {
            let src = dy.plane(ch, b);
            let at = (ch * dy.n + b) * h * w;
            for oy in 0..dy.h {
                let iy = oy * h / dy.h;
                for ox in 0..dy.w {
                    dx.data[at + iy * w + ox * w / dy.w] += src[oy * dy.w + ox];
                }
            }
        }
    }
    dx
}

/// Output size of a 3×3 (padding 1) or 1×1 convolution.
pub(super) fn conv_out(size: usize, k: usize, stride: usize) -> usize {
    let pad = k / 2;
    (size + 2 * pad - k) / stride + 1
}
