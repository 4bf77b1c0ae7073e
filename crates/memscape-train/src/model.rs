//! A trained score model: the network, its parameters and its preconditioning. It implements
//! memscape's [`Denoiser`], `D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)`, and is saved as
//! a safetensors checkpoint whose `__metadata__["memscape"]` holds the JSON of
//! [`CheckpointMeta`].

use std::collections::BTreeMap;
use std::path::Path;

use memscape::denoiser::Denoiser;
use memscape::error::{Error, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::mlp::{Mlp, MlpConfig};
use crate::precondition::Preconditioning;
use crate::safetensors::{self, Tensor};

/// The format tag every memscape checkpoint carries.
pub const CHECKPOINT_FORMAT: &str = "memscape-mlp/1";

/// File name of the checkpoint at `step` (zero-padded, so names sort by step).
pub fn checkpoint_file(step: usize) -> String {
    format!("step_{step:08}.safetensors")
}

/// Name of the Fourier-frequency tensor in a checkpoint.
const FREQUENCIES: &str = "fourier.frequencies";

/// Rows per network call when denoising; bounds memory, never changes the result.
const DENOISE_CHUNK: usize = 4096;

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub mlp: MlpConfig,
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
    pub mlp: Mlp,
    pub params: Vec<f32>,
    pub preconditioning: Preconditioning,
}

impl Denoiser for ScoreModel {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        let p = &self.preconditioning;
        let (c_in, c_skip, c_out) = (p.c_in(sigma), p.c_skip(sigma), p.c_out(sigma));
        let mut out = Array2::zeros(x.raw_dim());
        for (xs, mut os) in x
            .axis_chunks_iter(ndarray::Axis(0), DENOISE_CHUNK)
            .zip(out.axis_chunks_iter_mut(ndarray::Axis(0), DENOISE_CHUNK))
        {
            let u: Vec<f32> = xs.iter().map(|&v| (v * c_in) as f32).collect();
            let f = self.mlp.apply(&self.params, &u, p.c_noise(sigma));
            for ((o, &xv), &fv) in os.iter_mut().zip(xs.iter()).zip(&f) {
                *o = c_skip * xv + c_out * fv as f64;
            }
        }
        out
    }
}

impl ScoreModel {
    /// Data dimension the model takes.
    pub fn dim(&self) -> usize {
        self.mlp.config.dim
    }

    /// Fails unless the model was trained on data of dimension `dim`.
    pub fn check_dim(&self, source: &Path, dim: usize, flag: &str) -> Result<()> {
        if self.dim() != dim {
            return Err(Error::file(
                source,
                format!(
                    "checkpoint is for data of dimension {}, but {flag} has dimension {dim}",
                    self.dim()
                ),
            ));
        }
        Ok(())
    }

    /// Writes the model to `path` as safetensors with `meta` (atomic).
    pub fn save(&self, path: &Path, meta: &CheckpointMeta) -> Result<()> {
        let mut tensors: BTreeMap<String, Tensor> = self
            .mlp
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
        tensors.insert(
            FREQUENCIES.into(),
            Tensor {
                shape: vec![self.mlp.frequencies.len()],
                data: self.mlp.frequencies.clone(),
            },
        );
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
        if meta.format != CHECKPOINT_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {CHECKPOINT_FORMAT:?}",
                meta.format
            )));
        }
        let mut mlp = Mlp::new(meta.mlp, 0).map_err(|e| bad(e.to_string()))?;
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
        mlp.frequencies = tensor(FREQUENCIES, &[meta.mlp.fourier_features])?
            .data
            .clone();
        let mut params = vec![0.0; meta.mlp.num_parameters()];
        for (name, shape, range) in mlp.tensors() {
            params[range].copy_from_slice(&tensor(&name, &shape)?.data);
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("parameter {i} is {}", params[i])));
        }
        let model = ScoreModel {
            mlp,
            params,
            preconditioning: meta.preconditioning,
        };
        Ok((model, meta))
    }
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
            mlp,
            params,
            preconditioning: Preconditioning {
                sigma_data: 0.7,
                parametrization: crate::precondition::Parametrization::Epsilon,
            },
        }
    }

    fn meta(m: &ScoreModel) -> CheckpointMeta {
        CheckpointMeta {
            format: CHECKPOINT_FORMAT.into(),
            mlp: m.mlp.config,
            preconditioning: m.preconditioning,
            step: 10,
            ema: false,
            training: serde_json::json!({}),
        }
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
        wrong.mlp.width = 9;
        m.save(&path, &wrong).unwrap();
        let e = ScoreModel::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("has shape") && e.contains("c.safetensors"),
            "{e}"
        );
        safetensors::write(&path, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        let e = ScoreModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("no \"memscape\" metadata"), "{e}");
        let e = m.check_dim(&path, 784, "--data").unwrap_err().to_string();
        assert!(e.contains("dimension 2") && e.contains("784"), "{e}");
    }
}
