//! The score networks memscape trains, behind one interface: the MLP ([`crate::mlp`]) for
//! points and the U-Net ([`crate::unet`]) for images. Both map `(u = c_in x, c_noise)` to the
//! raw output F, keep their parameters in one flat `f32` vector, and compute gradients in
//! fixed micro-batches whose sums are taken in order, so training is bit-identical for a seed
//! whatever the thread count.

use memscape::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::mlp::Mlp;
use crate::unet::{MICRO_BATCH as UNET_MICRO_BATCH, Unet};

/// Which architecture a training run builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    #[default]
    Mlp,
    Unet,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Mlp => "mlp",
            Architecture::Unet => "unet",
        }
    }
}

/// An image shape, channels × height × width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageShape {
    /// The shape of rows of dimension `dim` that are `height × width` images: the channel
    /// count is `dim / (height · width)`, which must be whole.
    pub fn of(dim: usize, (height, width): (usize, usize)) -> Result<Self> {
        let plane = height * width;
        if plane == 0 || !dim.is_multiple_of(plane) {
            return Err(Error::invalid(
                "image shape",
                format!("a height × width that divides the data dimension {dim}"),
                format!("{height}×{width}"),
            ));
        }
        Ok(ImageShape {
            channels: dim / plane,
            height,
            width,
        })
    }
}

/// A network of either architecture.
#[derive(Debug, Clone)]
pub enum Network {
    Mlp(Mlp),
    Unet(Box<Unet>),
}

/// The loss of output rows `r0..` and its gradient: `loss(out, r0, grad) = Σ` over those rows,
/// with d loss / d out written into `grad`.
pub type RowLoss<'a> = dyn Fn(&[f32], usize, &mut [f32]) -> f64 + Sync + 'a;

/// Rows per MLP micro-batch.
const MLP_MICRO_BATCH: usize = 64;

/// Dropout of one training step: the MLP's masks (drawn by the training loop, one per hidden
/// layer, row-major batch × width) or the U-Net's rate and the seed its masks are drawn from.
pub enum Dropout {
    None,
    Masks(Vec<Vec<f32>>),
    Seeded { rate: f64, seed: u64 },
}

impl Network {
    pub fn architecture(&self) -> Architecture {
        match self {
            Network::Mlp(_) => Architecture::Mlp,
            Network::Unet(_) => Architecture::Unet,
        }
    }

    /// Data dimension (input and output).
    pub fn dim(&self) -> usize {
        match self {
            Network::Mlp(m) => m.config.dim,
            Network::Unet(u) => u.config.dim(),
        }
    }

    /// The image shape a U-Net takes; `None` for the MLP.
    pub fn image_shape(&self) -> Option<ImageShape> {
        match self {
            Network::Mlp(_) => None,
            Network::Unet(u) => Some(ImageShape {
                channels: u.config.channels,
                height: u.config.height,
                width: u.config.width,
            }),
        }
    }

    pub fn num_parameters(&self) -> usize {
        match self {
            Network::Mlp(m) => m.config.num_parameters(),
            Network::Unet(u) => u.num_parameters(),
        }
    }

    /// Multiply-accumulates of one forward pass per row.
    pub fn macs_per_sample(&self) -> usize {
        match self {
            Network::Mlp(m) => m.config.macs_per_sample(),
            Network::Unet(u) => u.macs_per_sample(),
        }
    }

    pub fn init_parameters(&self, seed: u64) -> Vec<f32> {
        match self {
            Network::Mlp(m) => m.init_parameters(seed),
            Network::Unet(u) => u.init_parameters(seed),
        }
    }

    /// Every tensor as (PyTorch-style name, shape, range in the flat vector).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, std::ops::Range<usize>)> {
        match self {
            Network::Mlp(m) => m.tensors(),
            Network::Unet(u) => u.tensors(),
        }
    }

    /// The raw output F for rows `u`, each at its own c_noise (inference: no dropout).
    pub fn forward(&self, params: &[f32], u: &[f32], c_noise: &[f64]) -> Vec<f32> {
        match self {
            Network::Mlp(m) => m.forward(params, &m.features(u, c_noise)),
            Network::Unet(n) => n.apply(params, u, c_noise),
        }
    }

    /// The raw output F for rows `u`, all at one c_noise (the denoiser's call).
    pub fn apply(&self, params: &[f32], u: &[f32], c_noise: f64) -> Vec<f32> {
        match self {
            Network::Mlp(m) => m.apply(params, u, c_noise),
            Network::Unet(n) => n.apply(params, u, &vec![c_noise; u.len() / n.config.dim()]),
        }
    }

    /// Σ over rows of `loss(out_r, r)` and its gradient with respect to every parameter in
    /// `grads`. `loss(out, r0, grad)` scores output rows `r0..` and writes d loss/d out into
    /// `grad`. Micro-batches run in parallel; their gradients are summed in order.
    pub fn gradient(
        &self,
        params: &[f32],
        u: &[f32],
        c_noise: &[f64],
        dropout: &Dropout,
        loss: &RowLoss,
        grads: &mut [f32],
    ) -> f64 {
        let d = self.dim();
        let rows = c_noise.len();
        let micro = match self {
            Network::Mlp(_) => MLP_MICRO_BATCH,
            Network::Unet(_) => UNET_MICRO_BATCH,
        };
        let parts: Vec<(f64, Vec<f32>)> = (0..rows.div_ceil(micro))
            .into_par_iter()
            .map(|c| {
                let (r0, r1) = (c * micro, ((c + 1) * micro).min(rows));
                let (u, c_noise) = (&u[r0 * d..r1 * d], &c_noise[r0..r1]);
                let mut grad = vec![0.0; params.len()];
                let sum = match self {
                    Network::Mlp(m) => {
                        let width = m.config.width;
                        let masks = match dropout {
                            Dropout::Masks(masks) => masks
                                .iter()
                                .map(|m| m[r0 * width..r1 * width].to_vec())
                                .collect(),
                            _ => vec![],
                        };
                        let (out, tape) = m.forward_train(params, m.features(u, c_noise), masks);
                        let mut g = vec![0.0; out.len()];
                        let sum = loss(&out, r0, &mut g);
                        m.backward(params, &tape, g, &mut grad);
                        sum
                    }
                    Network::Unet(n) => {
                        let seeded = match dropout {
                            Dropout::Seeded { rate, seed } => {
                                Some((*rate, seed ^ (c as u64).wrapping_mul(0x9E37_79B9)))
                            }
                            _ => None,
                        };
                        let (out, tape) = n.forward(params, u, c_noise, seeded, true);
                        let mut g = vec![0.0; out.len()];
                        let sum = loss(&out, r0, &mut g);
                        n.backward(params, tape.expect("kept"), &g, &mut grad);
                        sum
                    }
                };
                (sum, grad)
            })
            .collect();
        grads.fill(0.0);
        let mut sum = 0.0;
        for (s, g) in parts {
            sum += s;
            for (a, v) in grads.iter_mut().zip(&g) {
                *a += v;
            }
        }
        sum
    }
}
