//! A training run's configuration: the forward process it trains for, the network, the
//! optimiser and the interventions, with their defaults, checks and overrides by name, and
//! the steps it keeps checkpoints at.

use memscape::error::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::mlp::{Mlp, MlpConfig};
use crate::network::{Architecture, ImageShape, Network};
use crate::optim::LrSchedule;
use crate::precondition::Parametrization;
use crate::unet::{Unet, UnetConfig};

/// Which forward process the network is trained for (and its loss weighting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Ve,
    Vp,
}

/// Everything that defines a training run; the interventions are fields here. Fields missing
/// from a stored configuration take their [`Default`] values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// The score network: an MLP (any data) or a U-Net (images).
    pub architecture: Architecture,
    /// U-Net base channels, channel multipliers per level, residual blocks per level and
    /// GroupNorm groups ([`crate::unet`]).
    pub unet_base: usize,
    pub unet_mults: Vec<usize>,
    pub unet_blocks: usize,
    pub unet_groups: usize,
    /// (height, width) of the training images, set from the data; a U-Net needs it.
    pub image_shape: Option<(usize, usize)>,
    /// MLP width, depth and Fourier features.
    pub width: usize,
    pub depth: usize,
    pub fourier_features: usize,
    pub fourier_scale: f64,
    /// Length of the learning-rate schedule.
    pub steps: usize,
    /// Stop early at this step (the schedule still spans `steps`).
    pub stop_at: Option<usize>,
    pub batch_size: usize,
    pub lr: f64,
    pub lr_schedule: LrSchedule,
    pub warmup: usize,
    /// Decoupled weight decay λ (AdamW); 0 is plain Adam.
    pub weight_decay: f64,
    /// Dropout probability on every hidden layer, in [0, 1).
    pub dropout: f64,
    /// Standard deviation s of the Gaussian jitter added to the patterns, in data units.
    pub input_noise: f64,
    /// EMA decay of the evaluated weights (none: the raw weights).
    pub ema: Option<f64>,
    pub objective: Objective,
    /// What the network predicts (epsilon by default; see [`crate::precondition`]).
    pub parametrization: Parametrization,
    /// Noise range of the VE objective; `None`: 0.01 and 10 × the data's RMS norm (map's
    /// sampler runs from 10 down to 0.02).
    pub sigma_min: Option<f64>,
    pub sigma_max: Option<f64>,
    /// Number of log-spaced checkpoints (the last step is always one).
    pub checkpoints: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    /// Pham et al.'s toy set-up (`pham.md` §3) at a shorter length: Adam, lr 1e-3 (theirs 1e-4
    /// for 800k steps), batch 256 (patterns cycled with fresh noise when K is smaller; theirs
    /// min(500, K)), no EMA. The command line's training flags take these defaults.
    fn default() -> Self {
        let toy = MlpConfig::toy(2);
        let unet = UnetConfig::small(1, 1, 1);
        TrainConfig {
            architecture: Architecture::Mlp,
            unet_base: unet.base,
            unet_mults: unet.mults,
            unet_blocks: unet.blocks,
            unet_groups: unet.groups,
            image_shape: None,
            width: toy.width,
            depth: toy.depth,
            fourier_features: toy.fourier_features,
            fourier_scale: toy.fourier_scale,
            steps: 20_000,
            stop_at: None,
            batch_size: 256,
            lr: 1e-3,
            lr_schedule: LrSchedule::Constant,
            warmup: 0,
            weight_decay: 0.0,
            dropout: 0.0,
            input_noise: 0.0,
            ema: None,
            objective: Objective::Ve,
            parametrization: Parametrization::Epsilon,
            sigma_min: None,
            sigma_max: None,
            checkpoints: 12,
            seed: 0,
        }
    }
}

/// Why [`TrainConfig::with_overrides`] refused a set of overrides.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideError {
    /// A key that is not a field a caller may set, and the keys that are.
    Unknown { key: String, known: Vec<String> },
    /// A value of the wrong type for its field `key` (serde's message).
    Invalid { key: String, message: String },
}

impl TrainConfig {
    /// The fields a caller may override: every field but `reserved` (those the caller sets
    /// itself, from its model, data or axes).
    pub fn override_keys(reserved: &[&str]) -> Vec<String> {
        let json = serde_json::to_value(TrainConfig::default()).expect("serialises");
        json.as_object()
            .expect("a struct")
            .keys()
            .filter(|k| !reserved.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// `self` with the fields named in `overrides` replaced (values as serde reads them), the
    /// one parser of training overrides for the command line, sweep specs and Python. A key
    /// that is not a field, or is `reserved`, is refused by name; the result is not validated.
    pub fn with_overrides(
        &self,
        overrides: serde_json::Map<String, serde_json::Value>,
        reserved: &[&str],
    ) -> std::result::Result<TrainConfig, OverrideError> {
        let known = TrainConfig::override_keys(reserved);
        let mut config = self.clone();
        // one key at a time, so a value of the wrong type is named by its key
        for (key, v) in overrides {
            if !known.contains(&key) {
                return Err(OverrideError::Unknown { key, known });
            }
            let mut value = serde_json::to_value(&config).expect("serialises");
            value
                .as_object_mut()
                .expect("a struct")
                .insert(key.clone(), v);
            config = serde_json::from_value(value).map_err(|e| OverrideError::Invalid {
                key,
                message: e.to_string(),
            })?;
        }
        Ok(config)
    }

    /// Checks every field; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        let positive = |flag: &str, v: usize| {
            if v == 0 {
                Err(Error::invalid(flag, "≥ 1", v))
            } else {
                Ok(())
            }
        };
        positive("train_steps", self.steps)?;
        positive("train_batch", self.batch_size)?;
        positive("checkpoints", self.checkpoints)?;
        if self.checkpoints > MAX_CHECKPOINTS {
            return Err(Error::invalid(
                "checkpoints",
                format!("at most {MAX_CHECKPOINTS}"),
                self.checkpoints,
            ));
        }
        if let Some(s) = self.stop_at
            && (s == 0 || s > self.steps)
        {
            return Err(Error::invalid(
                "stop_at",
                format!("in 1..={} (train_steps)", self.steps),
                s,
            ));
        }
        if self.checkpoints > self.last_step() {
            return Err(Error::invalid(
                "checkpoints",
                format!(
                    "at most the training steps ({}): one checkpoint per step at most",
                    self.last_step()
                ),
                self.checkpoints,
            ));
        }
        memscape::error::require_positive("lr", self.lr)?;
        let in_unit = |flag: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(flag, "in [0, 1)", v))
            }
        };
        in_unit("dropout", self.dropout)?;
        if let Some(e) = self.ema {
            in_unit("ema", e)?;
        }
        for (flag, v) in [
            ("weight_decay", self.weight_decay),
            ("input_noise", self.input_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(flag, "≥ 0 and finite", v));
            }
        }
        for (flag, v) in [
            ("train_sigma_min", self.sigma_min),
            ("train_sigma_max", self.sigma_max),
        ] {
            if let Some(v) = v {
                memscape::error::require_positive(flag, v)?;
            }
        }
        match self.architecture {
            Architecture::Mlp => self.mlp(1).validate(),
            Architecture::Unet => {
                let Some((h, w)) = self.image_shape else {
                    return Err(Error::invalid(
                        "model",
                        "mlp on data without an image shape (a U-Net takes images: mnist, \
                         fashion-mnist, digits, cifar10, or an N×H×W / N×C×H×W .npy)",
                        "unet",
                    ));
                };
                self.unet(ImageShape {
                    channels: 1,
                    height: h,
                    width: w,
                })
                .validate()
            }
        }
    }

    /// The U-Net shape for images of shape `image`.
    pub fn unet(&self, image: ImageShape) -> UnetConfig {
        UnetConfig {
            channels: image.channels,
            height: image.height,
            width: image.width,
            base: self.unet_base,
            mults: self.unet_mults.clone(),
            blocks: self.unet_blocks,
            groups: self.unet_groups,
        }
    }

    /// The network for data of dimension `dim`; `seed` fixes the MLP's Fourier frequencies.
    pub fn network(&self, dim: usize, seed: u64) -> Result<Network> {
        self.validate()?;
        Ok(match self.architecture {
            Architecture::Mlp => Network::Mlp(Mlp::new(self.mlp(dim), seed)?),
            Architecture::Unet => {
                let shape = self.image_shape.expect("validated");
                Network::Unet(Box::new(Unet::new(self.unet(ImageShape::of(dim, shape)?))?))
            }
        })
    }

    /// The network shape for data of dimension `dim`.
    pub fn mlp(&self, dim: usize) -> MlpConfig {
        MlpConfig {
            dim,
            width: self.width,
            depth: self.depth,
            fourier_features: self.fourier_features,
            fourier_scale: self.fourier_scale,
        }
    }

    /// The step training stops at.
    pub fn last_step(&self) -> usize {
        self.stop_at.unwrap_or(self.steps)
    }
}

/// The most checkpoints a training run may keep (each is a copy of the network, and each is
/// measured).
pub const MAX_CHECKPOINTS: usize = 10_000;

/// `count` checkpoint steps log-spaced in [1, last], always ending at `last` (fewer when
/// rounding makes them coincide).
pub fn checkpoint_steps(last: usize, count: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = (0..count)
        .map(|i| {
            if count == 1 {
                last
            } else {
                ((last as f64).ln() * i as f64 / (count - 1) as f64)
                    .exp()
                    .round() as usize
            }
        })
        .map(|s| s.clamp(1, last))
        .collect();
    steps.push(last);
    steps.sort_unstable();
    steps.dedup();
    steps
}
