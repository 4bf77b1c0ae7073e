//! Flag groups that several commands share: data, training, integrator, census, pruning and
//! support flags, and the value enums they take.

use clap::{Args, ValueEnum};
use memscape::dataset::DEFAULT_DATA;
use memscape::pipeline::SampleRequest;
use memscape::sampler::SAMPLER_DEFAULTS;
use memscape_train::TrainConfig;

/// The support gate's level.
#[derive(Debug, Args)]
pub struct SupportArgs {
    /// A sample is off-support past this quantile of the held-out points' leave-one-out
    /// nearest-neighbour distances to the data.
    #[arg(long, default_value_t = memscape::analysis::samples::support::SUPPORT_QUANTILE)]
    pub support_quantile: f64,
}

/// Flags shared by every command that reads a dataset and takes a training subset.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Dataset: circle, kgon, two-points, gmm, binary, sphere, ball (with `:key=value,...`),
    /// mnist:DIR, fashion-mnist:DIR, digits:FILE, or a .npy/.npz[:KEY]/.csv file of points.
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: String,
    /// Seed of the permutation whose first K points are the training set (nested across K).
    #[arg(long, default_value_t = SampleRequest::default().subset_seed)]
    pub subset_seed: u64,
    /// Points kept aside as a held-out set (the last of the permutation).
    #[arg(long, default_value_t = SampleRequest::default().holdout)]
    pub holdout: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Model {
    /// The exact empirical denoiser (one modern-Hopfield update).
    Exact,
    /// An MLP score network trained on the K patterns (the exact model is mapped beside it).
    Mlp,
    /// A U-Net score network trained on the K images (the exact model is mapped beside it).
    Unet,
}

/// A score network's architecture.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NetArg {
    /// A multilayer perceptron on the flattened points (any data).
    Mlp,
    /// Ho et al.'s DDPM U-Net (images only).
    Unet,
}

/// The score network and its training: every intervention of the study is a flag here. The
/// defaults are `TrainConfig::default()`'s, so the library, the sweep spec and the flags agree.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Hidden width of the MLP.
    #[arg(long, default_value_t = TrainConfig::default().width)]
    pub width: usize,
    /// Number of hidden layers.
    #[arg(long, default_value_t = TrainConfig::default().depth)]
    pub depth: usize,
    /// Random Fourier frequencies of the noise-level embedding.
    #[arg(long, default_value_t = TrainConfig::default().fourier_features)]
    pub fourier_features: usize,
    /// U-Net base channel count.
    #[arg(long, default_value_t = TrainConfig::default().unet_base)]
    pub unet_base: usize,
    /// U-Net channel multipliers, one level each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,2")]
    pub unet_mults: Vec<usize>,
    /// U-Net residual blocks per level.
    #[arg(long, default_value_t = TrainConfig::default().unet_blocks)]
    pub unet_blocks: usize,
    /// U-Net GroupNorm groups (must divide every level's channel count).
    #[arg(long, default_value_t = TrainConfig::default().unet_groups)]
    pub unet_groups: usize,
    /// Standard deviation of those frequencies (per unit of ln(sigma)/4).
    #[arg(long, default_value_t = TrainConfig::default().fourier_scale, allow_negative_numbers = true)]
    pub fourier_scale: f64,
    /// Training batch (patterns are cycled with fresh noise when K is smaller).
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub train_batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr, allow_negative_numbers = true)]
    pub lr: f64,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value = "constant")]
    pub lr_schedule: LrScheduleArg,
    /// Linear warm-up steps.
    #[arg(long, default_value_t = TrainConfig::default().warmup)]
    pub warmup: usize,
    /// Decoupled weight decay (AdamW); 0 is plain Adam.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// Dropout probability on every hidden layer, in [0, 1).
    #[arg(long, default_value_t = TrainConfig::default().dropout, allow_negative_numbers = true)]
    pub dropout: f64,
    /// Gaussian jitter of the patterns (std, data units) at every step.
    #[arg(long, default_value_t = TrainConfig::default().input_noise, allow_negative_numbers = true)]
    pub input_noise: f64,
    /// EMA decay of the evaluated weights, in [0, 1) (default: no EMA).
    #[arg(long, allow_negative_numbers = true)]
    pub ema: Option<f64>,
    /// Stop at this step (early stopping; the schedule still spans the full length).
    #[arg(long)]
    pub stop_at: Option<usize>,
    /// Training objective: ve (log-uniform sigma) or vp (DDPM's t ~ U and epsilon loss).
    #[arg(long, value_enum, default_value = "ve")]
    pub objective: ObjectiveArg,
    /// What the network predicts: epsilon (the noise) or edm (EDM's c_skip/c_out mix). edm's
    /// loss cannot fall far: at large sigma its target is the part of the data the noise hides
    /// (its Bayes floor over the ve noise range is 0.46 on 4 circle points, 0.67 on 64).
    #[arg(long, value_enum, default_value = "epsilon")]
    pub parametrization: ParametrizationArg,
    /// Noise range of the ve objective (default 0.01 and 10 × the data's RMS norm).
    #[arg(long, allow_negative_numbers = true)]
    pub train_sigma_min: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub train_sigma_max: Option<f64>,
    /// Seed of the initial weights, batches and noise (a training run is a function of it).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub train_seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EmbedArg {
    Tsne,
    Umap,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LrScheduleArg {
    Constant,
    Cosine,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ObjectiveArg {
    Ve,
    Vp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ParametrizationArg {
    Epsilon,
    Edm,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Process {
    /// Variance exploding, x = x0 + sigma z.
    Ve,
    /// Variance preserving with DDPM's linear schedule (vp_beta 0.1 → 20).
    Vp,
    /// Variance preserving with the cosine schedule (Nichol & Dhariwal).
    VpCosine,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpacingArg {
    /// Karras et al. (2022) rho = 7 spacing.
    Karras,
    /// Uniform in log sigma.
    Geometric,
    /// Uniform in the process's diffusion time t.
    LinearT,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    F64,
    F32,
}

/// Integrator flags shared by `sample`, `map` and `dynamics`; each is defined here once, with
/// its default in each command.
#[derive(Debug, Args)]
pub struct IntegratorArgs {
    /// Integrator: em (Euler–Maruyama on the reverse SDE), ddim (with --eta), heun (PF-ODE).
    #[arg(long, default_value = SAMPLER_DEFAULTS.sampler)]
    pub sampler: String,
    /// DDIM stochasticity in [0, 1]: 0 deterministic, 1 ancestral.
    #[arg(long, default_value_t = SAMPLER_DEFAULTS.eta, allow_negative_numbers = true)]
    pub eta: f64,
    /// Noise process.
    #[arg(long, value_enum, default_value = SAMPLER_DEFAULTS.process)]
    pub process: Process,
    /// Spacing of the sigma grid.
    #[arg(long, value_enum, default_value = SAMPLER_DEFAULTS.spacing)]
    pub spacing: SpacingArg,
    /// Largest noise level (default 10 × the RMS norm of the data).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma_max: Option<f64>,
    /// Final noise level. Default: `sample` 1e-3 × the RMS norm of the data; `map` and
    /// `dynamics` 0.02 ×, where samples are then carried to their attractor by iterating the
    /// denoiser at this level (training points closer than 0.04 × merge into one attractor).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma_min: Option<f64>,
    /// Seed of the sampler's noise (sample i uses ChaCha stream i).
    #[arg(long, default_value_t = SAMPLER_DEFAULTS.seed)]
    pub seed: u64,
    /// Rows per denoiser call (never changes the result).
    #[arg(long, default_value_t = SAMPLER_DEFAULTS.batch_size)]
    pub batch_size: usize,
}

/// The sampler's number of noise levels, for the commands where `--steps` means that.
#[derive(Debug, Args)]
pub struct StepsArgs {
    /// Number of noise levels from sigma_max to sigma_min. Default: `sample` 200, `map` 100
    /// (`dynamics` calls it --sample-steps, default 100, as its --steps are training steps).
    #[arg(long)]
    pub steps: Option<usize>,
}

/// The census's settings (`attractors --checkpoint`, `dynamics`, `map`).
#[derive(Debug, Args)]
pub struct CensusFlags {
    /// Neutral band of the Jacobian spectra: an eigenvalue with |1 − Re λ| ≤ margin leaves a
    /// point's index undecided, and a stable set with such eigenvalues is a manifold
    /// attractor (a continuum of near-fixed points). In (0, 1).
    #[arg(long, default_value_t = memscape::analysis::landscape::attractor::DEFAULT_MARGIN, allow_negative_numbers = true)]
    pub margin: f64,
    /// The settling flow dx/ds = D(x) − x stops a sample at |x − D(x)| ≤ this (data units;
    /// default 1e-5 × the data's RMS norm for a network, 1e-9 × for the exact model).
    #[arg(long, allow_negative_numbers = true)]
    pub settle_tol: Option<f64>,
    /// The settling flow's longest step (data units; default 0.25 × the data's RMS norm).
    #[arg(long, allow_negative_numbers = true)]
    pub settle_max_step: Option<f64>,
}

/// How the exact denoiser may skip patterns of negligible weight.
#[derive(Debug, Args)]
pub struct PruningArgs {
    /// Let the exact denoiser skip patterns that together carry less than this fraction of
    /// the softmax weight, in (0, 1) (default: about the unit round-off, 1e-14 in f64 and 1e-7
    /// in f32, for K ≥ 1024 and d ≥ 128).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "no_prune")]
    pub prune_tol: Option<f64>,
    /// Every pattern enters every softmax (the dense exact denoiser).
    #[arg(long)]
    pub no_prune: bool,
}
