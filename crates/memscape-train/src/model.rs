//! A trained score model: the network, its parameters and its preconditioning. It implements
//! memscape's [`Denoiser`], `D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)`, and is saved as
//! a safetensors checkpoint whose `__metadata__["memscape"]` holds the JSON of
//! [`CheckpointMeta`].

use std::collections::BTreeMap;
use std::path::Path;

use memscape::denoiser::{Arithmetic, Denoiser};
use memscape::error::{Error, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::mlp::{Mlp, MlpConfig};
use crate::network::{ImageShape, Network};
use crate::precondition::Preconditioning;
use crate::safetensors::{self, Tensor};
use crate::unet::{Unet, UnetConfig};

/// The format tag of an MLP checkpoint.
pub const CHECKPOINT_FORMAT: &str = "memscape-mlp/1";
/// The format tag of a U-Net checkpoint (tensor names and layouts: [`crate::unet`]).
pub const UNET_CHECKPOINT_FORMAT: &str = "memscape-unet/1";

/// File name of the checkpoint at `step` (zero-padded, so names sort by step).
pub fn checkpoint_file(step: usize) -> String {
    format!("step_{step:08}.safetensors")
}

/// Name of the Fourier-frequency tensor in a checkpoint.
const FREQUENCIES: &str = "fourier.frequencies";

/// Rows per network call when denoising; bounds memory, never changes the result.
const DENOISE_CHUNK: usize = 4096;

/// What a checkpoint says about itself: its format and the shape of its one network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<MlpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unet: Option<UnetConfig>,
    pub preconditioning: Preconditioning,
    /// Optimiser steps taken.
    pub step: usize,
    /// Whether the parameters are the exponential moving average.
    pub ema: bool,
    /// The training configuration and data description, for provenance.
    pub training: serde_json::Value,
}

/// A network with its parameters and preconditioning.
#[derive(Debug, Clone)]
pub struct ScoreModel {
    pub network: Network,
    pub params: Vec<f32>,
    pub preconditioning: Preconditioning,
}

impl Denoiser for ScoreModel {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        self.denoise_with(&self.params, x, sigma)
    }

    /// The network computes in f32.
    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::F32
    }
}

impl ScoreModel {
    /// D(x, sigma) of this network with parameters `params` in place of its own.
    pub fn denoise_with(&self, params: &[f32], x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        let p = &self.preconditioning;
        let (c_in, c_skip, c_out) = (p.c_in(sigma), p.c_skip(sigma), p.c_out(sigma));
        let mut out = Array2::zeros(x.raw_dim());
        for (xs, mut os) in x
            .axis_chunks_iter(ndarray::Axis(0), DENOISE_CHUNK)
            .zip(out.axis_chunks_iter_mut(ndarray::Axis(0), DENOISE_CHUNK))
        {
            let u: Vec<f32> = xs.iter().map(|&v| (v * c_in) as f32).collect();
            let f = self.network.apply(params, &u, p.c_noise(sigma));
            for ((o, &xv), &fv) in os.iter_mut().zip(xs.iter()).zip(&f) {
                *o = c_skip * xv + c_out * fv as f64;
            }
        }
        out
    }

    /// Data dimension the model takes.
    pub fn dim(&self) -> usize {
        self.network.dim()
    }

    /// The checkpoint's metadata at `step`.
    pub fn meta(&self, step: usize, ema: bool, training: serde_json::Value) -> CheckpointMeta {
        let (format, mlp, unet) = match &self.network {
            Network::Mlp(m) => (CHECKPOINT_FORMAT, Some(m.config), None),
            Network::Unet(u) => (UNET_CHECKPOINT_FORMAT, None, Some(u.config.clone())),
        };
        CheckpointMeta {
            format: format.into(),
            mlp,
            unet,
            preconditioning: self.preconditioning,
            step,
            ema,
            training,
        }
    }

    /// Fails unless the model was trained on data of dimension `dim` and, for a U-Net, of
    /// image shape `image_shape` (height, width).
    pub fn check_data(
        &self,
        source: &Path,
        dim: usize,
        image_shape: Option<(usize, usize)>,
        flag: &str,
    ) -> Result<()> {
        if self.dim() != dim {
            return Err(Error::file(
                source,
                format!(
                    "checkpoint is for data of dimension {}, but {flag} has dimension {dim}",
                    self.dim()
                ),
            ));
        }
        if let Some(net) = self.network.image_shape() {
            let data = image_shape.map(|s| ImageShape::of(dim, s)).transpose()?;
            if data != Some(net) {
                let shown = data.map_or("no image shape".to_string(), |s| {
                    format!("images of {}×{}×{}", s.channels, s.height, s.width)
                });
                return Err(Error::file(
                    source,
                    format!(
                        "checkpoint is a U-Net for images of {}×{}×{}, but {flag} has {shown}",
                        net.channels, net.height, net.width
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes the model to `path` as safetensors with `meta` (atomic).
    pub fn save(&self, path: &Path, meta: &CheckpointMeta) -> Result<()> {
        let mut tensors: BTreeMap<String, Tensor> = self
            .network
            .tensors()
            .into_iter()
            .map(|(name, shape, range)| {
                (
                    name,
                    Tensor {
                        shape,
                        data: self.params[range].to_vec(),
                    },
                )
            })
            .collect();
        if let Network::Mlp(mlp) = &self.network {
            tensors.insert(
                FREQUENCIES.into(),
                Tensor {
                    shape: vec![mlp.frequencies.len()],
                    data: mlp.frequencies.clone(),
                },
            );
        }
        let json = serde_json::to_string(meta).expect("metadata serialises");
        safetensors::write(
            path,
            &tensors,
            &BTreeMap::from([("memscape".to_string(), json)]),
        )
    }

    /// Reads a checkpoint written by [`Self::save`], checking every tensor's presence and shape.
    pub fn load(path: &Path) -> Result<(Self, CheckpointMeta)> {
        let (tensors, metadata) = safetensors::read(path)?;
        let bad = |why: String| Error::file(path, format!("not a memscape checkpoint: {why}"));
        let meta: CheckpointMeta = metadata
            .get("memscape")
            .ok_or_else(|| bad("no \"memscape\" metadata".into()))
            .and_then(|s| {
                serde_json::from_str(s).map_err(|e| bad(format!("metadata does not parse ({e})")))
            })?;
        let model = Self::from_tensors(&meta, &tensors, &bad)?;
        Ok((model, meta))
    }

    /// The model that `meta` describes, with its parameters from `tensors` (named as a
    /// checkpoint names them: PyTorch's state-dict names), every tensor's presence, shape and
    /// finiteness checked; `bad` words the error.
    ///
    /// # Errors
    /// A format without its network shape, a network larger than the tensors hold, a tensor
    /// missing or of another shape, a parameter that is not finite.
    pub fn from_tensors(
        meta: &CheckpointMeta,
        tensors: &BTreeMap<String, Tensor>,
        bad: &dyn Fn(String) -> Error,
    ) -> Result<Self> {
        let tensor = |name: &str, shape: &[usize]| -> Result<&Tensor> {
            let t = tensors
                .get(name)
                .ok_or_else(|| bad(format!("tensor {name:?} is missing")))?;
            if t.shape != shape {
                return Err(bad(format!(
                    "tensor {name:?} has shape {:?}, the network needs {shape:?}",
                    t.shape
                )));
            }
            Ok(t)
        };
        let stored: usize = tensors.values().map(|t| t.data.len()).sum();
        if let Some(why) = too_large(meta, stored) {
            return Err(bad(format!(
                "its metadata describes a network larger than the {stored} parameters it holds ({why})"
            )));
        }
        let network = match (meta.format.as_str(), &meta.mlp, &meta.unet) {
            (CHECKPOINT_FORMAT, Some(config), _) => {
                let mut mlp = Mlp::new(*config, 0).map_err(|e| bad(e.to_string()))?;
                mlp.frequencies = tensor(FREQUENCIES, &[config.fourier_features])?
                    .data
                    .clone();
                Network::Mlp(mlp)
            }
            (UNET_CHECKPOINT_FORMAT, _, Some(config)) => Network::Unet(Box::new(
                Unet::new(config.clone()).map_err(|e| bad(e.to_string()))?,
            )),
            (format, _, _) => {
                return Err(bad(format!(
                    "format {format:?} without its network shape; expected \
                     {CHECKPOINT_FORMAT:?} with \"mlp\" or {UNET_CHECKPOINT_FORMAT:?} with \"unet\""
                )));
            }
        };
        let mut params = vec![0.0; network.num_parameters()];
        for (name, shape, range) in network.tensors() {
            params[range].copy_from_slice(&tensor(&name, &shape)?.data);
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("parameter {i} is {}", params[i])));
        }
        Ok(ScoreModel {
            network,
            params,
            preconditioning: meta.preconditioning,
        })
    }
}

/// Why the network that `meta` describes cannot fit in `stored` parameters, judged from its
/// sizes before it is built (building it from corrupt metadata could overflow or allocate
/// without bound): every weight matrix of the network is stored, so each size, and the product
/// of a layer's fan-in and fan-out, is at most `stored`.
fn too_large(meta: &CheckpointMeta, stored: usize) -> Option<String> {
    let at_most = |what: &str, v: Option<usize>| match v {
        Some(v) if v <= stored => None,
        Some(v) => Some(format!("{what} = {v}")),
        None => Some(format!("{what} overflows")),
    };
    if let Some(m) = &meta.mlp {
        let input = m
            .fourier_features
            .checked_mul(2)
            .and_then(|f| f.checked_add(m.dim));
        return at_most("mlp width", Some(m.width))
            .or_else(|| at_most("mlp depth", Some(m.depth)))
            .or_else(|| at_most("mlp fourier_features", Some(m.fourier_features)))
            .or_else(|| {
                at_most(
                    "mlp width × input width",
                    input.and_then(|i| i.checked_mul(m.width)),
                )
            })
            .or_else(|| at_most("mlp width²", m.width.checked_mul(m.width)))
            .or_else(|| at_most("mlp dim × width", m.dim.checked_mul(m.width)));
    }
    if let Some(u) = &meta.unet {
        let widest = u.mults.iter().max().and_then(|&m| m.checked_mul(u.base));
        return at_most("unet levels", Some(u.mults.len()))
            .or_else(|| at_most("unet blocks × levels", u.blocks.checked_mul(u.mults.len())))
            .or_else(|| at_most("unet channels × base", u.channels.checked_mul(u.base)))
            .or_else(|| at_most("unet widest level²", widest.and_then(|w| w.checked_mul(w))))
            .or_else(|| at_most("unet groups", Some(u.groups)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ScoreModel {
        let config = MlpConfig {
            dim: 2,
            width: 8,
            depth: 2,
            fourier_features: 3,
            fourier_scale: 1.0,
        };
        let mlp = Mlp::new(config, 3).unwrap();
        let params = mlp.init_parameters(4);
        ScoreModel {
            network: Network::Mlp(mlp),
            params,
            preconditioning: Preconditioning {
                sigma_data: 0.7,
                parametrization: crate::precondition::Parametrization::Epsilon,
            },
        }
    }

    fn meta(m: &ScoreModel) -> CheckpointMeta {
        m.meta(10, false, serde_json::json!({}))
    }

    #[test]
    fn checkpoints_round_trip_to_the_same_denoiser() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let m = model();
        m.save(&path, &meta(&m)).unwrap();
        let (back, meta) = ScoreModel::load(&path).unwrap();
        assert_eq!(meta.step, 10);
        let x = memscape::rng::normal_matrix(5, 2, 1);
        assert_eq!(m.denoise(x.view(), 0.3), back.denoise(x.view(), 0.3));
    }

    #[test]
    fn wrong_checkpoints_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let m = model();
        let mut wrong = meta(&m);
        wrong.mlp.as_mut().unwrap().width = 9;
        m.save(&path, &wrong).unwrap();
        let e = ScoreModel::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("has shape") && e.contains("c.safetensors"),
            "{e}"
        );
        safetensors::write(&path, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        let e = ScoreModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("no \"memscape\" metadata"), "{e}");
        let e = m
            .check_data(&path, 784, None, "--data")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dimension 2") && e.contains("784"), "{e}");
    }

    /// A U-Net checkpoint round-trips, and a U-Net refuses data of another image shape.
    #[test]
    fn unet_checkpoints_round_trip_and_check_the_image_shape() {
        let config = UnetConfig {
            base: 8,
            mults: vec![1, 2],
            ..UnetConfig::small(1, 6, 6)
        };
        let net = Unet::new(config).unwrap();
        let params = net.init_parameters(1);
        let m = ScoreModel {
            network: Network::Unet(Box::new(net)),
            params,
            preconditioning: model().preconditioning,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.safetensors");
        m.save(&path, &m.meta(3, false, serde_json::json!({})))
            .unwrap();
        let (back, meta) = ScoreModel::load(&path).unwrap();
        assert_eq!(meta.format, UNET_CHECKPOINT_FORMAT);
        let x = memscape::rng::normal_matrix(3, 36, 1);
        assert_eq!(m.denoise(x.view(), 0.3), back.denoise(x.view(), 0.3));
        back.check_data(&path, 36, Some((6, 6)), "--data").unwrap();
        let e = back
            .check_data(&path, 36, Some((4, 9)), "--data")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("U-Net for images of 1×6×6") && e.contains("1×4×9"),
            "{e}"
        );
        let e = back
            .check_data(&path, 36, None, "--data")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no image shape"), "{e}");
    }
}
