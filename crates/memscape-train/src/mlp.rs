//! The score network: a multilayer perceptron `F(u, c_noise)` on the input `u = c_in x` joined to
//! random Fourier features of the noise level (Tancik et al. 2020; the time embedding of Pham et
//! al.'s toy ScoreNet, `pham.md` §3):
//!
//! ```text
//! h_0 = [u, cos(2π f c_noise), sin(2π f c_noise)],   f_j ~ N(0, fourier_scale²) (fixed)
//! h_l = dropout(SiLU(W_l h_{l−1} + b_l)),  l = 1..depth;   F = W_out h_depth + b_out
//! ```
//!
//! All parameters live in one flat `f32` vector (weights in PyTorch's out×in layout, then the
//! bias, layer by layer), so the optimiser, EMA and checkpoints are loops over one slice.
//! Gradients are written by hand (backpropagation through Linear and SiLU); a finite-difference
//! test checks them. The GEMMs are faer's, which split work over output blocks only, so results
//! do not depend on the thread count.

use faer::{Accum, MatMut, MatRef, Par};
use memscape::denoiser::Float;
use memscape::error::{Error, Result};
use memscape::rng;
use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The network's shape; everything needed to rebuild it from a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Data dimension d (input and output).
    pub dim: usize,
    /// Hidden width.
    pub width: usize,
    /// Number of hidden layers.
    pub depth: usize,
    /// Number of Fourier frequencies (the embedding has twice as many features).
    pub fourier_features: usize,
    /// Standard deviation of the Fourier frequencies, per unit of c_noise = ln(sigma)/4.
    pub fourier_scale: f64,
}

impl MlpConfig {
    /// Pham et al.'s toy size for d = 2: 64 frequencies, 4 hidden layers of 160 (98,562
    /// parameters; their ScoreNet has 99,586).
    pub fn toy(dim: usize) -> Self {
        MlpConfig {
            dim,
            width: 160,
            depth: 4,
            fourier_features: 64,
            fourier_scale: 1.0,
        }
    }

    /// Checks the shape.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("width", self.width),
            ("depth", self.depth),
            ("dim", self.dim),
        ] {
            if v == 0 {
                return Err(Error::invalid(what, "≥ 1", v));
            }
        }
        if !(self.fourier_scale.is_finite() && self.fourier_scale > 0.0) {
            return Err(Error::invalid(
                "fourier_scale",
                "> 0 and finite",
                self.fourier_scale,
            ));
        }
        Ok(())
    }

    /// Width of the first layer's input: d + 2 × fourier_features.
    pub fn input_width(&self) -> usize {
        self.dim + 2 * self.fourier_features
    }

    /// (fan_out, fan_in) of every linear layer, input to output.
    pub fn layer_shapes(&self) -> Vec<(usize, usize)> {
        let mut shapes = vec![(self.width, self.input_width())];
        shapes.extend((1..self.depth).map(|_| (self.width, self.width)));
        shapes.push((self.dim, self.width));
        shapes
    }

    /// Number of parameters.
    pub fn num_parameters(&self) -> usize {
        self.layer_shapes().iter().map(|(o, i)| o * i + o).sum()
    }

    /// Multiply-accumulates of one forward pass per sample (linear layers only).
    pub fn macs_per_sample(&self) -> usize {
        self.layer_shapes().iter().map(|(o, i)| o * i).sum()
    }
}

/// The network: its shape, its fixed Fourier frequencies, and the offsets of each layer's
/// weight and bias in a flat parameter vector.
#[derive(Debug, Clone)]
pub struct Mlp {
    pub config: MlpConfig,
    pub frequencies: Vec<f32>,
    layers: Vec<Layer>,
}

#[derive(Debug, Clone, Copy)]
struct Layer {
    fan_out: usize,
    fan_in: usize,
    weight: usize,
    bias: usize,
}

/// What the backward pass needs from the forward pass.
pub struct Tape {
    batch: usize,
    /// Input of every layer (batch × fan_in, row-major).
    inputs: Vec<Vec<f32>>,
    /// Pre-activation of every hidden layer, and its sigmoid.
    pre: Vec<Vec<f32>>,
    sig: Vec<Vec<f32>>,
    /// Dropout multipliers (0 or 1/(1−p)) of every hidden layer; empty without dropout.
    masks: Vec<Vec<f32>>,
}

/// Rows × columns × inner size below which a GEMM runs on one thread.
const PARALLEL_GEMM_WORK: usize = 1 << 23;

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`.
fn gemm(dst: MatMut<f32>, accumulate: bool, lhs: MatRef<f32>, rhs: MatRef<f32>) {
    let work = dst.nrows() * dst.ncols() * lhs.ncols();
    let par = if work >= PARALLEL_GEMM_WORK {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, 1.0, par);
}

/// σ(z) = 1/(1 + e^{−z}) through the vectorisable `exp` of the exact denoiser, evaluated at
/// −|z| ≥ −80 (so it never underflows): σ(z) = 1/(1 + e^{−|z|}) for z ≥ 0, e^{−|z|}/(1 + e^{−|z|})
/// below.
pub(crate) fn sigmoid(z: f32) -> f32 {
    let e = <f32 as Float>::exp_nonpositive((-z.abs()).max(-80.0));
    let s = 1.0 / (1.0 + e);
    if z >= 0.0 { s } else { e * s }
}

/// SiLU'(z) = σ(z) (1 + z (1 − σ(z))), from σ(z).
fn silu_grad(z: f32, s: f32) -> f32 {
    s * (1.0 + z * (1.0 - s))
}

/// Elements above which inference's SiLU splits over threads (results do not change).
const PARALLEL_ELEMENTS: usize = 1 << 14;

/// `z ← SiLU(z) = z σ(z)`.
fn silu_in_place(z: &mut [f32]) {
    if z.len() >= PARALLEL_ELEMENTS {
        z.par_chunks_mut(4096)
            .for_each(|c| c.iter_mut().for_each(|v| *v *= sigmoid(*v)));
    } else {
        z.iter_mut().for_each(|v| *v *= sigmoid(*v));
    }
}

impl Mlp {
    /// The network of this shape; `seed` fixes the Fourier frequencies.
    pub fn new(config: MlpConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut offset = 0;
        let layers = config
            .layer_shapes()
            .into_iter()
            .map(|(fan_out, fan_in)| {
                let layer = Layer {
                    fan_out,
                    fan_in,
                    weight: offset,
                    bias: offset + fan_out * fan_in,
                };
                offset += fan_out * fan_in + fan_out;
                layer
            })
            .collect();
        let mut r = rng::stream(seed, u64::MAX);
        let frequencies = (0..config.fourier_features)
            .map(|_| (rng::normal(&mut r) * config.fourier_scale) as f32)
            .collect();
        Ok(Mlp {
            config,
            frequencies,
            layers,
        })
    }

    /// PyTorch's default initialisation, drawn from our own seeded stream: every weight and
    /// bias of a layer with fan-in n is uniform on [−1/√n, 1/√n]; except that the first layer
    /// initialises its two input blocks by their own fan-ins, the input u by 1/√d and the
    /// embedding by 1/√(2 × fourier_features), as if they entered through two linear layers
    /// whose outputs add.
    ///
    /// With one fan-in of d + 2F (130 for the 2-D toy) the input's weights are 8× smaller than
    /// its own fan-in gives, so at initialisation the network is nearly affine in u. For
    /// centred data of covariance sigma_data² I, EDM's target is uncorrelated with every
    /// affine function of u (its c_skip is the Wiener coefficient), so training sat on a
    /// plateau: on 4 circle points the loss stayed at 1.000 for 3000 steps of the 4 × 160 toy
    /// and 12,000 of a 3 × 64 network. `edm_escapes_its_plateau_by_the_input_blocks_own_fan_in`
    /// pins this.
    pub fn init_parameters(&self, seed: u64) -> Vec<f32> {
        let mut params = vec![0.0; self.config.num_parameters()];
        for (l, layer) in self.layers.iter().enumerate() {
            let mut r = rng::stream(seed, l as u64);
            let bound = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
            let (d, embedding) = (self.config.dim, 2 * self.config.fourier_features);
            let weight_bound = |i: usize| match (l, i % layer.fan_in) {
                (0, c) if c < d => bound(d),
                (0, _) => bound(embedding),
                _ => bound(layer.fan_in),
            };
            for (i, p) in params[layer.weight..layer.bias].iter_mut().enumerate() {
                *p = (weight_bound(i) * (2.0 * r.random::<f64>() - 1.0)) as f32;
            }
            for p in &mut params[layer.bias..layer.bias + layer.fan_out] {
                *p = (bound(layer.fan_in) * (2.0 * r.random::<f64>() - 1.0)) as f32;
            }
        }
        params
    }

    /// Named parameter tensors `(name, shape, range in the flat vector)`, as PyTorch would name
    /// a `Sequential` of `Linear`s: `layers.{i}.weight` (out×in) and `layers.{i}.bias`.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, std::ops::Range<usize>)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            out.push((
                format!("layers.{i}.weight"),
                vec![l.fan_out, l.fan_in],
                l.weight..l.bias,
            ));
            out.push((
                format!("layers.{i}.bias"),
                vec![l.fan_out],
                l.bias..l.bias + l.fan_out,
            ));
        }
        out
    }

    /// Writes the Fourier features of `c_noise` into `out` (2 × fourier_features values).
    fn embed(&self, c_noise: f64, out: &mut [f32]) {
        let f = self.frequencies.len();
        let turn = (std::f64::consts::TAU * c_noise) as f32;
        for (j, &freq) in self.frequencies.iter().enumerate() {
            let (sin, cos) = (turn * freq).sin_cos();
            out[j] = cos;
            out[f + j] = sin;
        }
    }

    /// The first layer's input rows `[u_b, embed(c_noise_b)]` for a batch.
    pub fn features(&self, u: &[f32], c_noise: &[f64]) -> Vec<f32> {
        let (d, w) = (self.config.dim, self.config.input_width());
        let mut out = vec![0.0; c_noise.len() * w];
        for ((row, u), &c) in out.chunks_mut(w).zip(u.chunks(d)).zip(c_noise) {
            row[..d].copy_from_slice(u);
            self.embed(c, &mut row[d..]);
        }
        out
    }

    /// `z = a Wᵀ + b` for layer `l`, batch rows of `a`.
    fn linear(&self, params: &[f32], l: usize, a: &[f32], batch: usize) -> Vec<f32> {
        let layer = self.layers[l];
        let mut z = Vec::with_capacity(batch * layer.fan_out);
        for _ in 0..batch {
            z.extend_from_slice(&params[layer.bias..layer.bias + layer.fan_out]);
        }
        let w = MatRef::from_row_major_slice(
            &params[layer.weight..layer.bias],
            layer.fan_out,
            layer.fan_in,
        );
        gemm(
            MatMut::from_row_major_slice_mut(&mut z, batch, layer.fan_out),
            true,
            MatRef::from_row_major_slice(a, batch, layer.fan_in),
            w.transpose(),
        );
        z
    }

    /// Forward pass on first-layer inputs `features` (batch × input_width), recording what the
    /// backward pass needs. `masks[l]` are the dropout multipliers of hidden layer l (empty: no
    /// dropout).
    pub fn forward_train(
        &self,
        params: &[f32],
        features: Vec<f32>,
        masks: Vec<Vec<f32>>,
    ) -> (Vec<f32>, Tape) {
        let batch = features.len() / self.config.input_width();
        let mut inputs = vec![features];
        let (mut pre, mut sig) = (vec![], vec![]);
        for l in 0..self.layers.len() - 1 {
            let z = self.linear(params, l, inputs.last().expect("input"), batch);
            // training runs micro-batches in parallel already: one thread per layer here
            let s: Vec<f32> = z.iter().map(|&v| sigmoid(v)).collect();
            let mut a: Vec<f32> = z.iter().zip(&s).map(|(z, s)| z * s).collect();
            if let Some(m) = masks.get(l).filter(|m| !m.is_empty()) {
                for (a, m) in a.iter_mut().zip(m) {
                    *a *= m;
                }
            }
            pre.push(z);
            sig.push(s);
            inputs.push(a);
        }
        let out = self.linear(
            params,
            self.layers.len() - 1,
            inputs.last().expect("input"),
            batch,
        );
        (
            out,
            Tape {
                batch,
                inputs,
                pre,
                sig,
                masks,
            },
        )
    }

    /// Backward pass: the gradient of a loss with respect to every parameter, given its
    /// gradient `grad_out` (batch × d) with respect to the network's output.
    pub fn backward(&self, params: &[f32], tape: &Tape, grad_out: Vec<f32>, grads: &mut [f32]) {
        let batch = tape.batch;
        let mut dz = grad_out;
        for l in (0..self.layers.len()).rev() {
            let layer = self.layers[l];
            let a = &tape.inputs[l];
            // dW = dZᵀ A (out×in), db = Σ_rows dZ
            gemm(
                MatMut::from_row_major_slice_mut(
                    &mut grads[layer.weight..layer.bias],
                    layer.fan_out,
                    layer.fan_in,
                ),
                false,
                MatRef::from_row_major_slice(&dz, batch, layer.fan_out).transpose(),
                MatRef::from_row_major_slice(a, batch, layer.fan_in),
            );
            let db = &mut grads[layer.bias..layer.bias + layer.fan_out];
            db.fill(0.0);
            for row in dz.chunks(layer.fan_out) {
                for (g, v) in db.iter_mut().zip(row) {
                    *g += v;
                }
            }
            if l == 0 {
                break;
            }
            // dA = dZ W (batch×in), then through dropout and SiLU of the layer below
            let mut da = vec![0.0; batch * layer.fan_in];
            gemm(
                MatMut::from_row_major_slice_mut(&mut da, batch, layer.fan_in),
                false,
                MatRef::from_row_major_slice(&dz, batch, layer.fan_out),
                MatRef::from_row_major_slice(
                    &params[layer.weight..layer.bias],
                    layer.fan_out,
                    layer.fan_in,
                ),
            );
            let below = l - 1;
            let (z, s) = (&tape.pre[below], &tape.sig[below]);
            match tape.masks.get(below).filter(|m| !m.is_empty()) {
                Some(m) => {
                    for (((g, &z), &s), m) in da.iter_mut().zip(z).zip(s).zip(m) {
                        *g *= silu_grad(z, s) * m;
                    }
                }
                None => {
                    for ((g, &z), &s) in da.iter_mut().zip(z).zip(s) {
                        *g *= silu_grad(z, s);
                    }
                }
            }
            dz = da;
        }
    }

    /// Forward pass without a tape, on first-layer inputs `features` (batch × input_width).
    pub fn forward(&self, params: &[f32], features: &[f32]) -> Vec<f32> {
        let batch = features.len() / self.config.input_width();
        let mut a = self.linear(params, 0, features, batch);
        for l in 1..self.layers.len() {
            silu_in_place(&mut a);
            a = self.linear(params, l, &a, batch);
        }
        a
    }

    /// Inference: `F(u, c_noise)` for rows `u` (n × d) sharing one noise level. The Fourier
    /// features are the same for every row, so their product with the first layer is folded into
    /// its bias once (half the FLOPs of the plain forward pass at d = 2).
    pub fn apply(&self, params: &[f32], u: &[f32], c_noise: f64) -> Vec<f32> {
        let d = self.config.dim;
        let n = u.len() / d;
        let first = self.layers[0];
        let mut emb = vec![0.0; 2 * self.config.fourier_features];
        self.embed(c_noise, &mut emb);
        let w = MatRef::from_row_major_slice(
            &params[first.weight..first.bias],
            first.fan_out,
            first.fan_in,
        );
        // folded bias b + W_e e, then z = u W_uᵀ + bias
        let mut bias = params[first.bias..first.bias + first.fan_out].to_vec();
        gemm(
            MatMut::from_row_major_slice_mut(&mut bias, 1, first.fan_out),
            true,
            MatRef::from_row_major_slice(&emb, 1, emb.len()),
            w.subcols(d, emb.len()).transpose(),
        );
        let mut z = Vec::with_capacity(n * first.fan_out);
        for _ in 0..n {
            z.extend_from_slice(&bias);
        }
        gemm(
            MatMut::from_row_major_slice_mut(&mut z, n, first.fan_out),
            true,
            MatRef::from_row_major_slice(u, n, d),
            w.subcols(0, d).transpose(),
        );
        silu_in_place(&mut z);
        let mut a = z;
        for l in 1..self.layers.len() {
            a = self.linear(params, l, &a, n);
            if l + 1 < self.layers.len() {
                silu_in_place(&mut a);
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> (Mlp, Vec<f32>) {
        let config = MlpConfig {
            dim: 3,
            width: 7,
            depth: 3,
            fourier_features: 4,
            fourier_scale: 1.0,
        };
        let mlp = Mlp::new(config, 1).unwrap();
        let params = mlp.init_parameters(2);
        (mlp, params)
    }

    fn inputs(mlp: &Mlp, batch: usize) -> (Vec<f32>, Vec<f64>) {
        let mut r = rng::stream(5, 0);
        let u = (0..batch * mlp.config.dim)
            .map(|_| rng::normal(&mut r) as f32)
            .collect();
        let c = (0..batch).map(|_| rng::normal(&mut r)).collect();
        (u, c)
    }

    #[test]
    fn parameter_count_and_layout() {
        let (mlp, params) = small();
        // (7×(3+8)+7) + 2×(7×7+7) + (3×7+3)
        assert_eq!(mlp.config.num_parameters(), 84 + 112 + 24);
        assert_eq!(params.len(), 220);
        let covered: usize = mlp.tensors().iter().map(|(_, _, r)| r.len()).sum();
        assert_eq!(covered, 220);
        assert_eq!(MlpConfig::toy(2).num_parameters(), 98_562);
    }

    #[test]
    fn folded_inference_matches_the_plain_forward_pass() {
        let (mlp, params) = small();
        let (u, _) = inputs(&mlp, 9);
        let c = 0.37;
        let feats = mlp.features(&u, &[c; 9]);
        let (plain, _) = mlp.forward_train(&params, feats, vec![]);
        let folded = mlp.apply(&params, &u, c);
        // both in f32: folding the conditioning into the first layer reorders sums of ~10
        // terms of O(1), ~10 ulps (1e-6) each way; 1e-5 leaves a factor of 10
        for (a, b) in plain.iter().zip(&folded) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    /// Oracle: backpropagation against central finite differences of L = Σ g·F (in f64 via
    /// a small step in f32; tolerance 2e-3 relative, the f32 round-off of the difference).
    #[test]
    fn gradients_match_finite_differences() {
        let (mlp, params) = small();
        let batch = 5;
        let (u, c) = inputs(&mlp, batch);
        let feats = mlp.features(&u, &c);
        let mut r = rng::stream(6, 0);
        let g: Vec<f32> = (0..batch * 3).map(|_| rng::normal(&mut r) as f32).collect();
        // dropout masks on the first hidden layer to cover that path too
        let mask: Vec<f32> = (0..batch * 7)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.5 })
            .collect();
        let masks = vec![mask, vec![], vec![]];
        let loss = |p: &[f32]| -> f64 {
            let (out, _) = mlp.forward_train(p, feats.clone(), masks.clone());
            out.iter().zip(&g).map(|(o, g)| (o * g) as f64).sum()
        };
        let (_, tape) = mlp.forward_train(&params, feats.clone(), masks.clone());
        let mut grads = vec![0.0; params.len()];
        mlp.backward(&params, &tape, g.clone(), &mut grads);
        let h = 1e-2f32;
        for i in 0..params.len() {
            let mut p = params.clone();
            p[i] += h;
            let up = loss(&p);
            p[i] -= 2.0 * h;
            let down = loss(&p);
            let fd = (up - down) / (2.0 * h as f64);
            let err = (fd - grads[i] as f64).abs();
            assert!(
                err < 2e-3 * (1.0 + fd.abs()),
                "param {i}: backprop {} vs finite difference {fd}",
                grads[i]
            );
        }
    }
}
