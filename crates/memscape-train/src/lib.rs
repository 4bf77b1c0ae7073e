//! Trained score networks for memscape, in flow order: EDM preconditioning, the MLP and U-Net
//! score networks (hand-written forward and backward passes on faer GEMMs), the optimiser, safetensors
//! checkpoints, the trained model as a memscape [`memscape::denoiser::Denoiser`], and the
//! training loop with its interventions, and the training-dynamics study built on it, also on
//! folders of networks trained elsewhere.

pub mod precondition;
pub mod mlp;
pub mod unet;
pub mod network;
pub mod optim;
pub mod safetensors;
pub mod model;
pub mod train;
pub mod dynamics;
pub mod folder;
pub mod rf;
pub mod trace;

pub use model::{CheckpointMeta, ScoreModel};
pub use network::{Architecture, ImageShape, Network};
pub use precondition::{Preconditioned, Preconditioning};
pub use train::{KeepingTrainer, NetworkTrainer, Objective, TrainConfig, TrainRun, train};
