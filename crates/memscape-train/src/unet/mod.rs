//! The U-Net score network: Ho et al.'s DDPM U-Net (2020, Appendix B), the network Pham et al.
//! train on MNIST (`pham.md` §2.1), scaled down to fit a CPU, in exactly the layout of
//! `../shared/research/anchors/bench_unet_train.py` (`UNet`), so a PyTorch module of that shape
//! loads memscape's checkpoints by name.
//!
//! ```text
//! temb  = Linear(4C) ∘ SiLU ∘ Linear(4C) (sinusoid(1000 c_noise, C))          "temb.0", "temb.2"
//! h     = Conv3×3(x)                                                           "inc"
//! level i = 0..L−1 (channels C·mult_i), `blocks` ResBlocks each, output kept as a skip;
//!         then Conv3×3 stride 2 except at the last level                       "down.j", "downsample.i"
//! mid   = ResBlock, self-attention (one head, GroupNorm, 1×1 qkv and out), ResBlock
//!                                                                              "mid1", "mid_attn", "mid2"
//! level i = L−1..0, `blocks` ResBlocks each on [h, skip] (h resized to the skip by nearest
//!         neighbour when they differ); then nearest ×2 and Conv3×3 except at level 0
//!                                                                              "up.j", "upsample.j"
//! out   = Conv3×3 ∘ SiLU ∘ GroupNorm                                            "outn", "outc"
//! ResBlock(x) = skip(x) + Conv3×3(Dropout(SiLU(GN(Conv3×3(SiLU(GN(x))) + Linear(SiLU(temb))))))
//!         with skip a 1×1 conv when the channel count changes                   "n1 c1 t n2 c2 skip"
//! ```
//!
//! GroupNorm has `groups` groups (8) and eps 1e-5; convolutions and linear layers take
//! PyTorch's default initialisation, U(±1/√fan_in) for weights and biases; GroupNorm starts
//! at γ = 1, β = 0. Parameters live in one flat `f32` vector, tensor by tensor in PyTorch's
//! layouts (convolutions out × in × kh × kw).
//!
//! Inside, activations are laid out channel-major over the batch (C × N × H × W), so that a
//! convolution over a whole batch is one GEMM on im2col columns, and GroupNorm, attention and
//! the time embedding read contiguous per-sample planes. Gradients are written by hand; a
//! finite-difference test checks every tensor's. Batches run in micro-batches of
//! [`MICRO_BATCH`] images, each on one thread with sequential GEMMs, their gradients summed in
//! order, so results do not depend on the thread count.

use memscape::error::{Error, Result};
use memscape::rng;
use rand::{Rng, RngExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

mod kernels;

use faer::{MatMut, MatRef};

use kernels::*;

/// Images per micro-batch.
pub const MICRO_BATCH: usize = 8;

/// GroupNorm's epsilon (PyTorch's default).
const GN_EPS: f32 = 1e-5;

/// The sinusoidal embedding reads 1000 c_noise, the scale of DDPM's integer timesteps.
const TIME_SCALE: f64 = 1000.0;

/// The network's shape; everything needed to rebuild it from a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnetConfig {
    /// Image channels, height and width.
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Base channel count C.
    pub base: usize,
    /// Channel multiplier of every level.
    pub mults: Vec<usize>,
    /// Residual blocks per level.
    pub blocks: usize,
    /// GroupNorm groups; divides every channel count.
    pub groups: usize,
}

impl UnetConfig {
    /// The anchor's network (`bench_unet_train.py`): base 32, multipliers 1, 2, 2, one block
    /// per level, 8 groups.
    pub fn small(channels: usize, height: usize, width: usize) -> Self {
        UnetConfig {
            channels,
            height,
            width,
            base: 32,
            mults: vec![1, 2, 2],
            blocks: 1,
            groups: 8,
        }
    }

    /// Data dimension C × H × W.
    pub fn dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Checks the shape; errors name the parameter.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("unet_base", self.base),
            ("unet_blocks", self.blocks),
            ("unet_groups", self.groups),
            ("image channels", self.channels),
            ("image height", self.height),
            ("image width", self.width),
        ] {
            if v == 0 {
                return Err(Error::invalid(what, "≥ 1", v));
            }
        }
        if self.mults.is_empty() || self.mults.contains(&0) {
            return Err(Error::invalid(
                "unet_mults",
                "a non-empty list of positive multipliers",
                format!("{:?}", self.mults),
            ));
        }
        for &m in &self.mults {
            if !(self.base * m).is_multiple_of(self.groups) {
                return Err(Error::invalid(
                    "unet_groups",
                    format!(
                        "a divisor of every level's channel count ({})",
                        self.base * m
                    ),
                    self.groups,
                ));
            }
        }
        Ok(())
    }

    /// Multiply-accumulates of one forward pass per image (convolutions, linear layers and
    /// attention products).
    pub fn macs_per_sample(&self) -> usize {
        Unet::new(self.clone()).map_or(0, |u| u.macs)
    }
}

#[derive(Debug, Clone, Copy)]
struct ResBlock {
    n1: Norm,
    c1: Conv,
    t: Linear,
    n2: Norm,
    c2: Conv,
    skip: Option<Conv>,
}

#[derive(Debug, Clone, Copy)]
struct Attn {
    n: Norm,
    qkv: Conv,
    out: Conv,
}

/// The network: its shape and where every tensor sits in the flat parameter vector.
#[derive(Debug, Clone)]
pub struct Unet {
    pub config: UnetConfig,
    temb0: Linear,
    temb2: Linear,
    inc: Conv,
    down: Vec<ResBlock>,
    downsample: Vec<Option<Conv>>,
    mid1: ResBlock,
    attn: Attn,
    mid2: ResBlock,
    up: Vec<ResBlock>,
    upsample: Vec<Option<Conv>>,
    outn: Norm,
    outc: Conv,
    /// (name, shape, offset) of every tensor, in order.
    tensors: Vec<(String, Vec<usize>, usize)>,
    num_parameters: usize,
    macs: usize,
}

/// Hands out consecutive parameter ranges and records their names.
struct Layout {
    offset: usize,
    tensors: Vec<(String, Vec<usize>, usize)>,
}

impl Layout {
    fn take(&mut self, name: String, shape: Vec<usize>) -> usize {
        let at = self.offset;
        self.offset += shape.iter().product::<usize>();
        self.tensors.push((name, shape, at));
        at
    }
    fn conv(&mut self, name: &str, cin: usize, cout: usize, k: usize, stride: usize) -> Conv {
        Conv {
            cin,
            cout,
            k,
            stride,
            w: self.take(format!("{name}.weight"), vec![cout, cin, k, k]),
            b: self.take(format!("{name}.bias"), vec![cout]),
        }
    }
    fn linear(&mut self, name: &str, fan_in: usize, fan_out: usize) -> Linear {
        Linear {
            fan_in,
            fan_out,
            w: self.take(format!("{name}.weight"), vec![fan_out, fan_in]),
            b: self.take(format!("{name}.bias"), vec![fan_out]),
        }
    }
    fn norm(&mut self, name: &str, c: usize) -> Norm {
        Norm {
            c,
            w: self.take(format!("{name}.weight"), vec![c]),
            b: self.take(format!("{name}.bias"), vec![c]),
        }
    }
    fn res(&mut self, name: &str, cin: usize, cout: usize, temb: usize) -> ResBlock {
        ResBlock {
            n1: self.norm(&format!("{name}.n1"), cin),
            c1: self.conv(&format!("{name}.c1"), cin, cout, 3, 1),
            t: self.linear(&format!("{name}.t"), temb, cout),
            n2: self.norm(&format!("{name}.n2"), cout),
            c2: self.conv(&format!("{name}.c2"), cout, cout, 3, 1),
            skip: (cin != cout).then(|| self.conv(&format!("{name}.skip"), cin, cout, 1, 1)),
        }
    }
}

impl Unet {
    /// The network of this shape.
    pub fn new(config: UnetConfig) -> Result<Self> {
        config.validate()?;
        let c = config.base;
        let e = 4 * c;
        let mut l = Layout {
            offset: 0,
            tensors: vec![],
        };
        let temb0 = l.linear("temb.0", c, e);
        let temb2 = l.linear("temb.2", e, e);
        let inc = l.conv("inc", config.channels, c, 3, 1);
        let (mut down, mut downsample) = (vec![], vec![]);
        let mut chans = vec![];
        let mut cur = c;
        let levels = config.mults.len();
        for (i, &m) in config.mults.iter().enumerate() {
            for _ in 0..config.blocks {
                down.push(l.res(&format!("down.{}", down.len()), cur, c * m, e));
                cur = c * m;
                chans.push(cur);
            }
            downsample
                .push((i + 1 < levels).then(|| l.conv(&format!("downsample.{i}"), cur, cur, 3, 2)));
        }
        let mid1 = l.res("mid1", cur, cur, e);
        let attn = Attn {
            n: l.norm("mid_attn.n", cur),
            qkv: l.conv("mid_attn.qkv", cur, 3 * cur, 1, 1),
            out: l.conv("mid_attn.out", cur, cur, 1, 1),
        };
        let mid2 = l.res("mid2", cur, cur, e);
        let (mut up, mut upsample) = (vec![], vec![]);
        for (j, (i, &m)) in config.mults.iter().enumerate().rev().enumerate() {
            for _ in 0..config.blocks {
                let skip = chans.pop().expect("one skip per down block");
                up.push(l.res(&format!("up.{}", up.len()), cur + skip, c * m, e));
                cur = c * m;
            }
            upsample.push((i > 0).then(|| l.conv(&format!("upsample.{j}"), cur, cur, 3, 1)));
        }
        let outn = l.norm("outn", cur);
        let outc = l.conv("outc", cur, config.channels, 3, 1);
        let mut unet = Unet {
            config,
            temb0,
            temb2,
            inc,
            down,
            downsample,
            mid1,
            attn,
            mid2,
            up,
            upsample,
            outn,
            outc,
            num_parameters: l.offset,
            tensors: l.tensors,
            macs: 0,
        };
        unet.macs = unet.count_macs();
        Ok(unet)
    }

    pub fn num_parameters(&self) -> usize {
        self.num_parameters
    }

    /// Multiply-accumulates of one forward pass per image (convolutions, linear layers and
    /// attention products).
    pub fn macs_per_sample(&self) -> usize {
        self.macs
    }

    /// Every tensor as (PyTorch-style name, shape, range in the flat vector).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, std::ops::Range<usize>)> {
        self.tensors
            .iter()
            .map(|(n, s, at)| (n.clone(), s.clone(), *at..*at + s.iter().product::<usize>()))
            .collect()
    }

    /// PyTorch's default initialisation (see the module docs); `seed` fixes it.
    pub fn init_parameters(&self, seed: u64) -> Vec<f32> {
        let mut params = vec![0.0; self.num_parameters];
        let mut fan_in = 1;
        for (t, (name, shape, at)) in self.tensors.iter().enumerate() {
            let range = *at..*at + shape.iter().product::<usize>();
            let norm = name.contains(".n.")
                || name.contains(".n1.")
                || name.contains(".n2.")
                || name.starts_with("outn.");
            if norm {
                let one = if name.ends_with(".weight") { 1.0 } else { 0.0 };
                params[range].fill(one);
                continue;
            }
            if name.ends_with(".weight") {
                fan_in = shape[1..].iter().product();
            }
            let bound = 1.0 / (fan_in as f64).sqrt();
            let mut r = rng::stream(seed, t as u64);
            for p in &mut params[range] {
                *p = (bound * (2.0 * r.random::<f64>() - 1.0)) as f32;
            }
        }
        params
    }

    /// Runs `images` (rows of C × H × W values) at one noise level each; returns the
    /// network's output rows. Splits into micro-batches over threads (results do not change).
    pub fn apply(&self, params: &[f32], u: &[f32], c_noise: &[f64]) -> Vec<f32> {
        let d = self.config.dim();
        let n = c_noise.len();
        let parts: Vec<Vec<f32>> = (0..n.div_ceil(MICRO_BATCH))
            .into_par_iter()
            .map(|m| {
                let (r0, r1) = (m * MICRO_BATCH, ((m + 1) * MICRO_BATCH).min(n));
                let (out, _) =
                    self.forward(params, &u[r0 * d..r1 * d], &c_noise[r0..r1], None, false);
                out
            })
            .collect();
        parts.concat()
    }

    /// Forward pass of one micro-batch: the output rows and, with `keep`, the tape.
    /// `dropout` is (p, seed of this micro-batch's masks).
    pub fn forward(
        &self,
        params: &[f32],
        u: &[f32],
        c_noise: &[f64],
        dropout: Option<(f64, u64)>,
        keep: bool,
    ) -> (Vec<f32>, Option<Tape>) {
        let n = c_noise.len();
        let cfg = &self.config;
        // inference records nothing: every push below is a no-op unless `keep`
        let mut t = Tape {
            keep,
            ..Tape::default()
        };
        // time embedding
        let sinus = sinusoid(c_noise, cfg.base);
        let e0 = linear(params, self.temb0, &sinus, n);
        let e0s: Vec<f32> = e0.iter().map(|&v| silu(v)).collect();
        let temb = linear(params, self.temb2, &e0s, n);
        let temb_act: Vec<f32> = temb.iter().map(|&v| silu(v)).collect();
        let mut masks = dropout.map(|(p, seed)| (p, rng::stream(seed, 0)));
        let x = Act::from_rows(u, n, cfg.channels, cfg.height, cfg.width);
        let mut h = conv(params, self.inc, &x);
        let mut skips = vec![];
        let mut block = 0;
        for i in 0..cfg.mults.len() {
            for _ in 0..cfg.blocks {
                h = self.res_forward(params, &self.down[block], h, &temb_act, &mut masks, &mut t);
                skips.push(h.clone());
                block += 1;
            }
            if let Some(ds) = self.downsample[i] {
                let down = conv(params, ds, &h);
                t.act(h);
                h = down;
            }
        }
        h = self.res_forward(params, &self.mid1, h, &temb_act, &mut masks, &mut t);
        h = self.attn_forward(params, h, &mut t);
        h = self.res_forward(params, &self.mid2, h, &temb_act, &mut masks, &mut t);
        block = 0;
        for j in 0..cfg.mults.len() {
            for _ in 0..cfg.blocks {
                let s = skips.pop().expect("skip");
                if t.keep {
                    t.sizes.push((h.h, h.w));
                    t.splits.push(h.c);
                }
                if (h.h, h.w) != (s.h, s.w) {
                    h = resize(&h, s.h, s.w);
                }
                let cat = h.concat(&s);
                h = self.res_forward(params, &self.up[block], cat, &temb_act, &mut masks, &mut t);
                block += 1;
            }
            if let Some(us) = self.upsample[j] {
                let r = resize(&h, 2 * h.h, 2 * h.w);
                if t.keep {
                    t.sizes.push((h.h, h.w));
                }
                h = conv(params, us, &r);
                t.act(r);
            }
        }
        let (xh, stats) = group_norm(&h, cfg.groups);
        let a = affine_silu(params, self.outn, &xh);
        let out = conv(params, self.outc, &a);
        if !keep {
            return (out.to_rows(), None);
        }
        t.acts.push(xh);
        t.acts.push(a);
        t.stats.push(stats);
        t.input = x;
        t.sinus = sinus;
        t.e0 = e0;
        t.temb = temb;
        t.temb_act = temb_act;
        (out.to_rows(), Some(t))
    }

    /// ResBlock forward; records x, x̂1, a1, x̂2, a2 (after dropout), the dropout mask and the
    /// two GroupNorms' 1/std on the tape.
    fn res_forward(
        &self,
        params: &[f32],
        r: &ResBlock,
        x: Act,
        temb_act: &[f32],
        masks: &mut Option<(f64, rng::ChaCha8Rng)>,
        t: &mut Tape,
    ) -> Act {
        let (g1, s1) = group_norm(&x, self.config.groups);
        let a1 = affine_silu(params, r.n1, &g1);
        let mut h1 = conv(params, r.c1, &a1);
        let tp = linear(params, r.t, temb_act, x.n);
        h1.add_per_channel_sample(&tp);
        let (g2, s2) = group_norm(&h1, self.config.groups);
        let mut a2 = affine_silu(params, r.n2, &g2);
        let mask = masks.as_mut().filter(|(p, _)| *p > 0.0).map(|(p, r)| {
            // keep with probability ⌊keep · 2³²⌋ / 2³² (one u32 draw per unit)
            let keep = 1.0 - *p;
            let below = (keep * 4_294_967_296.0) as u64;
            let scale = (1.0 / keep) as f32;
            let m: Vec<f32> = (0..a2.data.len())
                .map(|_| {
                    if u64::from(r.next_u32()) < below {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect();
            for (v, m) in a2.data.iter_mut().zip(&m) {
                *v *= m;
            }
            m
        });
        let mut out = conv(params, r.c2, &a2);
        match r.skip {
            Some(sk) => out.add(&conv(params, sk, &x)),
            None => out.add(&x),
        }
        if t.keep {
            t.stats.extend([s1, s2]);
            t.masks.push(mask.unwrap_or_default());
            t.acts.extend([x, g1, a1, g2, a2]);
        }
        out
    }

    fn attn_forward(&self, params: &[f32], x: Act, t: &mut Tape) -> Act {
        let a = self.attn;
        let (g, s) = group_norm(&x, self.config.groups);
        let qkv = conv(params, a.qkv, &affine(params, a.n, &g));
        let (c, n, hw) = (x.c, x.n, x.h * x.w);
        let scale = 1.0 / (c as f32).sqrt();
        let mut o = Act::zeros(c, n, x.h, x.w);
        let mut probs = vec![0.0f32; n * hw * hw];
        for b in 0..n {
            let (q, k, v) = (
                qkv.sample(b, 0, c),
                qkv.sample(b, c, c),
                qkv.sample(b, 2 * c, c),
            );
            let p = &mut probs[b * hw * hw..(b + 1) * hw * hw];
            // S = Qᵀ K / √c (hw × hw), softmax over keys
            gemm_seq(
                MatMut::from_row_major_slice_mut(p, hw, hw),
                false,
                MatRef::from_row_major_slice(&q, c, hw).transpose(),
                MatRef::from_row_major_slice(&k, c, hw),
                scale,
            );
            for row in p.chunks_mut(hw) {
                let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - m).exp();
                    sum += *v;
                }
                row.iter_mut().for_each(|v| *v /= sum);
            }
            // O = V Aᵀ (c × hw)
            let mut ob = vec![0.0; c * hw];
            gemm_seq(
                MatMut::from_row_major_slice_mut(&mut ob, c, hw),
                false,
                MatRef::from_row_major_slice(&v, c, hw),
                MatRef::from_row_major_slice(p, hw, hw).transpose(),
                1.0,
            );
            o.set_sample(b, 0, c, &ob);
        }
        let mut out = conv(params, a.out, &o);
        out.add(&x);
        if t.keep {
            t.stats.push(s);
            t.acts.extend([x, g, qkv, o]);
            t.probs = probs;
        }
        out
    }

    /// Backward pass of one micro-batch: adds the gradient of Σ grad_out · output to `grads`.
    pub fn backward(&self, params: &[f32], mut t: Tape, grad_out: &[f32], grads: &mut [f32]) {
        let cfg = &self.config;
        let n = t.temb.len() / (4 * cfg.base);
        let mut dtemb_act = vec![0.0f32; t.temb_act.len()];
        // out = outc(silu(outn(h)))
        let a = t.acts.pop().expect("tape");
        let g = t.acts.pop().expect("tape");
        let s = t.stats.pop().expect("tape");
        let dout = Act::from_rows(grad_out, n, cfg.channels, cfg.height, cfg.width);
        let da = conv_backward(params, self.outc, &a, &dout, grads);
        let dg = affine_silu_backward(params, self.outn, &g, da);
        let mut dh = group_norm_backward(params, self.outn, &g, &s, dg, grads);
        let mut skip_grads = vec![];
        let mut block = self.up.len();
        for j in (0..cfg.mults.len()).rev() {
            if let Some(us) = self.upsample[j] {
                let r = t.acts.pop().expect("tape");
                let (h0, w0) = t.sizes.pop().expect("tape");
                let dr = conv_backward(params, us, &r, &dh, grads);
                dh = resize_backward(&dr, h0, w0);
            }
            for _ in 0..cfg.blocks {
                block -= 1;
                let dcat =
                    self.res_backward(params, &self.up[block], &mut t, dh, &mut dtemb_act, grads);
                let (h0, w0) = t.sizes.pop().expect("tape");
                let (dhh, ds) = dcat.split(t.splits.pop().expect("tape"));
                skip_grads.push(ds);
                dh = if (dhh.h, dhh.w) != (h0, w0) {
                    resize_backward(&dhh, h0, w0)
                } else {
                    dhh
                };
            }
        }
        dh = self.res_backward(params, &self.mid2, &mut t, dh, &mut dtemb_act, grads);
        dh = self.attn_backward(params, &mut t, dh, grads);
        dh = self.res_backward(params, &self.mid1, &mut t, dh, &mut dtemb_act, grads);
        block = self.down.len();
        for i in (0..cfg.mults.len()).rev() {
            if let Some(ds) = self.downsample[i] {
                let x = t.acts.pop().expect("tape");
                dh = conv_backward(params, ds, &x, &dh, grads);
            }
            for _ in 0..cfg.blocks {
                block -= 1;
                // the block's output was also a skip: its gradient joins here (the up path
                // consumed the skips last-in first-out, so their gradients come back in order)
                dh.add(&skip_grads.pop().expect("one skip gradient per down block"));
                dh =
                    self.res_backward(params, &self.down[block], &mut t, dh, &mut dtemb_act, grads);
            }
        }
        // inc: its input is the image; only the weight gradients are needed
        conv_weight_backward(self.inc, &t.input, &dh, grads);
        // time embedding: temb_act = silu(temb), temb = temb2(silu(e0)), e0 = temb0(sinus)
        let dtemb: Vec<f32> = dtemb_act
            .iter()
            .zip(&t.temb)
            .map(|(&g, &z)| g * silu_grad(z))
            .collect();
        let e0s: Vec<f32> = t.e0.iter().map(|&v| silu(v)).collect();
        let de0s = linear_backward(params, self.temb2, &e0s, &dtemb, n, grads, true);
        let de0: Vec<f32> = de0s
            .iter()
            .zip(&t.e0)
            .map(|(&g, &z)| g * silu_grad(z))
            .collect();
        linear_backward(params, self.temb0, &t.sinus, &de0, n, grads, false);
    }

    fn res_backward(
        &self,
        params: &[f32],
        r: &ResBlock,
        t: &mut Tape,
        dout: Act,
        dtemb_act: &mut [f32],
        grads: &mut [f32],
    ) -> Act {
        let a2 = t.acts.pop().expect("tape");
        let g2 = t.acts.pop().expect("tape");
        let a1 = t.acts.pop().expect("tape");
        let g1 = t.acts.pop().expect("tape");
        let x = t.acts.pop().expect("tape");
        let mask = t.masks.pop().expect("tape");
        let s2 = t.stats.pop().expect("tape");
        let s1 = t.stats.pop().expect("tape");
        let mut dx = match r.skip {
            Some(sk) => conv_backward(params, sk, &x, &dout, grads),
            None => dout.clone(),
        };
        let mut da2 = conv_backward(params, r.c2, &a2, &dout, grads);
        if !mask.is_empty() {
            for (g, m) in da2.data.iter_mut().zip(&mask) {
                *g *= m;
            }
        }
        let dg2 = affine_silu_backward(params, r.n2, &g2, da2);
        let dh1 = group_norm_backward(params, r.n2, &g2, &s2, dg2, grads);
        // time projection: h1 += t(temb_act)[b, c]
        let dtp = dh1.sum_per_channel_sample();
        let n = x.n;
        let dta = linear_backward(params, r.t, &t.temb_act, &dtp, n, grads, true);
        for (a, g) in dtemb_act.iter_mut().zip(&dta) {
            *a += g;
        }
        let da1 = conv_backward(params, r.c1, &a1, &dh1, grads);
        let dg1 = affine_silu_backward(params, r.n1, &g1, da1);
        dx.add(&group_norm_backward(params, r.n1, &g1, &s1, dg1, grads));
        dx
    }

    fn attn_backward(&self, params: &[f32], t: &mut Tape, dout: Act, grads: &mut [f32]) -> Act {
        let a = self.attn;
        let o = t.acts.pop().expect("tape");
        let qkv = t.acts.pop().expect("tape");
        let g = t.acts.pop().expect("tape");
        let x = t.acts.pop().expect("tape");
        let s = t.stats.pop().expect("tape");
        let (c, n, hw) = (x.c, x.n, x.h * x.w);
        let scale = 1.0 / (c as f32).sqrt();
        let d_o = conv_backward(params, a.out, &o, &dout, grads);
        let mut dqkv = Act::zeros(3 * c, n, x.h, x.w);
        for b in 0..n {
            let (q, k, v) = (
                qkv.sample(b, 0, c),
                qkv.sample(b, c, c),
                qkv.sample(b, 2 * c, c),
            );
            let p = &t.probs[b * hw * hw..(b + 1) * hw * hw];
            let dob = d_o.sample(b, 0, c);
            let pm = MatRef::from_row_major_slice(p, hw, hw);
            // dV = dO A ; dA = dOᵀ V
            let mut dv = vec![0.0; c * hw];
            gemm_seq(
                MatMut::from_row_major_slice_mut(&mut dv, c, hw),
                false,
                MatRef::from_row_major_slice(&dob, c, hw),
                pm,
                1.0,
            );
            let mut ds = vec![0.0; hw * hw];
            gemm_seq(
                MatMut::from_row_major_slice_mut(&mut ds, hw, hw),
                false,
                MatRef::from_row_major_slice(&dob, c, hw).transpose(),
                MatRef::from_row_major_slice(&v, c, hw),
                1.0,
            );
            // softmax: dS = A ⊙ (dA − rowsum(dA ⊙ A)), then the 1/√c scale
            for (drow, prow) in ds.chunks_mut(hw).zip(p.chunks(hw)) {
                let dot: f32 = drow.iter().zip(prow).map(|(a, b)| a * b).sum();
                for (d, &pv) in drow.iter_mut().zip(prow) {
                    *d = pv * (*d - dot) * scale;
                }
            }
            // dQ = K dSᵀ ; dK = Q dS
            let mut dq = vec![0.0; c * hw];
            gemm_seq(
                MatMut::from_row_major_slice_mut(&mut dq, c, hw),
                false,
                MatRef::from_row_major_slice(&k, c, hw),
                MatRef::from_row_major_slice(&ds, hw, hw).transpose(),
                1.0,
            );
            let mut dk = vec![0.0; c * hw];
            gemm_seq(
                MatMut::from_row_major_slice_mut(&mut dk, c, hw),
                false,
                MatRef::from_row_major_slice(&q, c, hw),
                MatRef::from_row_major_slice(&ds, hw, hw),
                1.0,
            );
            dqkv.set_sample(b, 0, c, &dq);
            dqkv.set_sample(b, c, c, &dk);
            dqkv.set_sample(b, 2 * c, c, &dv);
        }
        let dg = conv_backward(params, a.qkv, &g, &dqkv, grads);
        let mut dx = dout;
        dx.add(&group_norm_backward(params, a.n, &g, &s, dg, grads));
        dx
    }

    /// Multiply-accumulates of one forward pass for one image.
    fn count_macs(&self) -> usize {
        let cfg = &self.config;
        let conv_macs = |c: Conv, h: usize, w: usize| {
            c.cout * c.cin * c.k * c.k * conv_out(h, c.k, c.stride) * conv_out(w, c.k, c.stride)
        };
        let res = |r: &ResBlock, h: usize, w: usize| {
            conv_macs(r.c1, h, w)
                + conv_macs(r.c2, h, w)
                + r.skip.map_or(0, |s| conv_macs(s, h, w))
                + r.t.fan_in * r.t.fan_out
        };
        let (mut h, mut w) = (cfg.height, cfg.width);
        let mut total = self.temb0.fan_in * self.temb0.fan_out
            + self.temb2.fan_in * self.temb2.fan_out
            + conv_macs(self.inc, h, w);
        let mut sizes = vec![];
        let mut block = 0;
        for i in 0..cfg.mults.len() {
            for _ in 0..cfg.blocks {
                total += res(&self.down[block], h, w);
                sizes.push((h, w));
                block += 1;
            }
            if let Some(ds) = self.downsample[i] {
                total += conv_macs(ds, h, w);
                (h, w) = (conv_out(h, 3, 2), conv_out(w, 3, 2));
            }
        }
        let hw = h * w;
        total += res(&self.mid1, h, w) + res(&self.mid2, h, w);
        total += conv_macs(self.attn.qkv, h, w) + conv_macs(self.attn.out, h, w);
        total += 2 * self.attn.n.c * hw * hw;
        block = 0;
        for j in 0..cfg.mults.len() {
            for _ in 0..cfg.blocks {
                (h, w) = sizes.pop().expect("skip");
                total += res(&self.up[block], h, w);
                block += 1;
            }
            if let Some(us) = self.upsample[j] {
                (h, w) = (2 * h, 2 * w);
                total += conv_macs(us, h, w);
            }
        }
        total + conv_macs(self.outc, h, w)
    }
}

/// What the backward pass needs from the forward pass, as stacks popped in reverse.
#[derive(Default)]
pub struct Tape {
    /// Whether anything is recorded (training); inference keeps nothing.
    keep: bool,
    acts: Vec<Act>,
    stats: Vec<Vec<f32>>,
    masks: Vec<Vec<f32>>,
    sizes: Vec<(usize, usize)>,
    /// Channels of h in every up block's [h, skip] input.
    splits: Vec<usize>,
    probs: Vec<f32>,
    input: Act,
    sinus: Vec<f32>,
    e0: Vec<f32>,
    temb: Vec<f32>,
    temb_act: Vec<f32>,
}

impl Tape {
    /// Records an activation when training.
    fn act(&mut self, a: Act) {
        if self.keep {
            self.acts.push(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two channels, odd non-square images (5 × 6 → 3 × 3, so the up path resizes 6 × 6 back
    /// to 5 × 6), two blocks per level (several skips per level), dropout on.
    fn tiny(blocks: usize) -> Unet {
        Unet::new(UnetConfig {
            channels: 2,
            height: 5,
            width: 6,
            base: 4,
            mults: vec![1, 2],
            blocks,
            groups: 2,
        })
        .unwrap()
    }

    fn inputs(net: &Unet, batch: usize) -> (Vec<f32>, Vec<f64>) {
        let mut r = rng::stream(5, 0);
        let u = (0..batch * net.config.dim())
            .map(|_| rng::normal(&mut r) as f32)
            .collect();
        let c = (0..batch).map(|_| 0.3 * rng::normal(&mut r)).collect();
        (u, c)
    }

    #[test]
    fn layout_covers_every_parameter_once() {
        let net = tiny(2);
        let mut covered = vec![0u8; net.num_parameters()];
        for (_, shape, range) in net.tensors() {
            assert_eq!(range.len(), shape.iter().product::<usize>());
            covered[range].iter_mut().for_each(|c| *c += 1);
        }
        assert!(covered.iter().all(|&c| c == 1));
        let names: Vec<String> = net.tensors().into_iter().map(|t| t.0).collect();
        for name in [
            "temb.0.weight",
            "inc.weight",
            "down.2.skip.weight",
            "downsample.0.weight",
            "mid_attn.qkv.weight",
            "up.0.skip.weight",
            "upsample.0.weight",
            "outc.bias",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
    }

    /// Oracle: backpropagation against central finite differences of L = Σ g·F for every
    /// parameter, with dropout; tolerance 2e-3 relative, as for the MLP. The step is 3e-3:
    /// GroupNorm over groups of 2 × 30 values is curved enough that the O(h²) truncation error
    /// at h = 1e-2 reaches 5e-3 on a few entries (it falls 9× from h = 3e-2 to 1e-2, as h²),
    /// while f32 round-off of the difference stays near 1e-7 × |L| / h ≈ 3e-4.
    #[test]
    fn gradients_match_finite_differences() {
        for blocks in [1, 2] {
            let net = tiny(blocks);
            let params = net.init_parameters(3);
            let batch = 3;
            let (u, c) = inputs(&net, batch);
            let mut r = rng::stream(6, 0);
            let g: Vec<f32> = (0..batch * net.config.dim())
                .map(|_| rng::normal(&mut r) as f32)
                .collect();
            let dropout = Some((0.3, 11));
            let loss = |p: &[f32]| -> f64 {
                let (out, _) = net.forward(p, &u, &c, dropout, false);
                out.iter().zip(&g).map(|(o, g)| (o * g) as f64).sum()
            };
            let (_, tape) = net.forward(&params, &u, &c, dropout, true);
            let mut grads = vec![0.0; params.len()];
            net.backward(&params, tape.unwrap(), &g, &mut grads);
            let h = 3e-3f32;
            let mut worst = (0.0, String::new());
            for (name, _, range) in net.tensors() {
                for i in range {
                    let mut p = params.clone();
                    p[i] += h;
                    let up = loss(&p);
                    p[i] -= 2.0 * h;
                    let down = loss(&p);
                    let fd = (up - down) / (2.0 * h as f64);
                    let err = (fd - grads[i] as f64).abs() / (1.0 + fd.abs());
                    if err > worst.0 {
                        worst = (
                            err,
                            format!("{name}[{i}]: backprop {} vs fd {fd}", grads[i]),
                        );
                    }
                }
            }
            assert!(worst.0 < 2e-3, "blocks {blocks}: worst {worst:?}");
        }
    }

    /// Rows do not interact: a row's output alone equals its output inside a batch, up to the
    /// round-off of faer's GEMM kernels, which sum in another order for other column counts
    /// (1e-5 relative; a real leak between rows through GroupNorm or attention is O(1)).
    #[test]
    fn rows_do_not_interact() {
        let net = tiny(1);
        let params = net.init_parameters(1);
        let (u, c) = inputs(&net, 11);
        let all = net.apply(&params, &u, &c);
        let d = net.config.dim();
        let one = net.apply(&params, &u[4 * d..5 * d], &c[4..5]);
        for (a, b) in all[4 * d..5 * d].iter().zip(&one) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
}
