//! Trained score networks for memscape, in flow order: EDM preconditioning, the MLP and U-Net
//! score networks (hand-written forward and backward passes on faer GEMMs), the optimiser, safetensors
//! checkpoints, the trained model as a memscape [`memscape::denoiser::Denoiser`], and the
//! training loop with its interventions, and the training-dynamics study built on it.

pub mod dynamics;
pub mod mlp;
pub mod model;
pub mod network;
pub mod optim;
pub mod precondition;
pub mod rf;
pub mod safetensors;
pub mod train;
pub mod unet;

pub use model::{CheckpointMeta, ScoreModel};
pub use network::{Architecture, ImageShape, Network};
pub use precondition::{Preconditioned, Preconditioning};
pub use train::{NetworkTrainer, Objective, TrainConfig, TrainRun, train};
