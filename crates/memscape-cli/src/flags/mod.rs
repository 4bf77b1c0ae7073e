//! Command-line flags (clap derive). Doc comments are the help text. Only parsing and
//! validation live here: this file holds the command line and each command's flags,
//! [`groups`] the flag groups that several commands share, and `config` turns those groups
//! into the library's configurations.

mod config;
mod groups;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use memscape::dataset::subset::DEFAULT_SUBSET_SEED;
use memscape::pipeline::{
    BifurcateRequest, ClassifyRequest, ExactLandscapeRequest, HopfieldRequest, LANDSCAPE_DEFAULTS,
    MAP_DEFAULTS, SampleRequest,
};
use memscape_train::dynamics::DYNAMICS_DEFAULTS;
use memscape_train::rf::RfRequest;

pub use groups::{
    CensusFlags, DataArgs, EmbedArg, IntegratorArgs, Model, NetArg, PrecisionArg, PruningArgs,
    StepsArgs, SupportArgs, TrainArgs,
};

/// `dynamics --checkpoints`: a count of checkpoints to train, or a folder of trained ones.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckpointsArg {
    Count(usize),
    Folder(PathBuf),
}

impl std::str::FromStr for CheckpointsArg {
    type Err = std::convert::Infallible;

    /// Digits are a count; anything else a folder (write `./12` for a folder named 12).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => CheckpointsArg::Count(n),
            _ => CheckpointsArg::Folder(s.into()),
        })
    }
}

impl std::fmt::Display for CheckpointsArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointsArg::Count(n) => write!(f, "{n}"),
            CheckpointsArg::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "memscape",
    version,
    about = "Maps how diffusion models pass from memorization to generalization, seen as associative memories"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: phase map over K (memorized / spurious / generalized, f_mem, capacities).
    /// With no arguments it runs the embedded default, the 2-D unit circle of Pham et al.
    Map(MapArgs),
    /// Classify samples from anywhere (.npy/.npz/.csv) against a training set.
    Classify(ClassifyArgs),
    /// Draw samples from the exact empirical model of K training patterns.
    Sample(SampleArgs),
    /// Critical points of the exact landscape at one noise level: location, energy, Morse
    /// index, kind (memory / spurious / saddle / maximum), saddle connections, basin weights.
    Attractors(AttractorsArgs),
    /// Bifurcations of the critical points as beta (or one pattern's weight) moves.
    Bifurcate(BifurcateArgs),
    /// Classical, dense and modern Hopfield networks: stability, retrieval, capacity.
    Hopfield(HopfieldArgs),
    /// Train a score network on K patterns, with interventions; checkpoints (safetensors +
    /// JSON metadata) at log-spaced steps, loss curves.
    Train(TrainCmdArgs),
    /// Training dynamics: for each K and seed, train once, sample and classify at every
    /// checkpoint; tau_mem(K) with bootstrap intervals, tau_gen, the fit tau_mem = a K^p, and
    /// the (K, step) phase table.
    Dynamics(DynamicsArgs),
    /// The random-features score model of Bonnaire et al. (MT §3), solved exactly: train and
    /// test losses, the score error and U's spectrum along gradient descent, tau_gen and tau_mem
    /// measured with intervals over seeds beside the theory's predictions, the fit of tau_mem
    /// against psi_n. Defaults: their MT Fig. 5 setting.
    Rf(RfArgs),
    /// Write report.html for a run directory: figures inline, headline numbers, tables,
    /// manifest. Exit 1 when files are missing or corrupt (the rest is still drawn).
    Report(ReportArgs),
    /// A grid of map cells from a TOML spec into one crash-safe store (`OUT/sweep.db`):
    /// reruns skip finished cells; `--slurm` submits the cells left as a job array. Exit 1
    /// when cells failed (they are retried on the next run).
    Sweep(SweepArgs),
    /// Every fixed point of a training run followed from checkpoint to checkpoint by
    /// continuation along the weights' chord: births, deaths and index changes located in
    /// steps, each point's life, and the birth of the first large spurious attractor.
    Trace(TraceArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["run", "checkpoint"]))]
pub struct TraceArgs {
    /// A `train` run, or a `dynamics` run with --save-checkpoints: its checkpoints/ folder and
    /// training sets, traced through training time.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// One checkpoint, traced through sigma from --sigma-from to --sigma-to beside the exact
    /// model of its training set (--data, --k).
    #[arg(long, requires = "data")]
    pub checkpoint: Option<PathBuf>,
    /// With --checkpoint: the dataset it was trained on (as for `sample`).
    #[arg(long, conflicts_with = "run")]
    pub data: Option<String>,
    /// With --checkpoint: the first K points of the seeded permutation (default: all points).
    /// With --run: only this K (default: every K of the run).
    #[arg(long)]
    pub k: Option<usize>,
    /// With --checkpoint: the seed of the permutation whose first K points are the training set.
    #[arg(long, default_value_t = DEFAULT_SUBSET_SEED, conflicts_with = "run")]
    pub subset_seed: u64,
    /// With --checkpoint: held-out points (the tail of the permutation) that calibrate the
    /// support gate (needs at least 20; none when K is every point).
    #[arg(long, default_value_t = 1000, conflicts_with = "run")]
    pub holdout: usize,
    /// With --checkpoint: the lowest sigma (default: 0.02 × the training set's RMS scale).
    #[arg(long, requires = "checkpoint")]
    pub sigma_from: Option<f64>,
    /// With --checkpoint: the highest sigma (default: the training set's RMS scale).
    #[arg(long, requires = "checkpoint")]
    pub sigma_to: Option<f64>,
    /// With --run: only this training seed (default: every seed).
    #[arg(long, conflicts_with = "checkpoint")]
    pub seed: Option<u64>,
    /// With --run: the noise level of the censuses and the trace (default: the samplers'
    /// sigma_min, 0.02 × the training set's RMS scale, as dynamics uses).
    #[arg(long, conflicts_with = "checkpoint", allow_negative_numbers = true)]
    pub sigma: Option<f64>,
    /// Samples per checkpoint: the census's starts.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Rightmost Jacobian eigenvalues per point (default: 10, at most the dimension).
    #[arg(long)]
    pub eigenvalues: Option<usize>,
    /// The share of samples a spurious attractor must hold for its birth to count.
    #[arg(long, default_value_t = 0.1)]
    pub spur_level: f64,
    /// Seed of the samplers.
    #[arg(long, default_value_t = 0)]
    pub sampler_seed: u64,
    #[arg(long, default_value = "runs/trace")]
    pub out: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The sweep spec (TOML; its format is in `memscape_sweep::spec` and the README).
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub out: SweepOut,
    /// Cells computed at once on this machine (default: its CPU count).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Submit the cells left as a Slurm job array (`sbatch --array`) instead of running them.
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Slurm wall-time limit per array task (`HH:MM:SS`).
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// Cells per array task.
    #[arg(long, default_value_t = 1, requires = "slurm")]
    pub cells_per_task: usize,
    /// CPUs per array task.
    #[arg(long, requires = "slurm")]
    pub cpus_per_task: Option<usize>,
}

/// Where a sweep lives, and how it answers.
#[derive(Debug, Args)]
pub struct SweepOut {
    /// The sweep's folder: `sweep.db`, `cells/`, `collect/` (default: runs/sweep-<spec name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SweepAction {
    /// Done, running, failed and pending cells of a sweep.
    Status {
        spec: PathBuf,
        #[command(flatten)]
        out: SweepOut,
    },
    /// The `map` run directories (tables, figures, report.html) of every complete map of the
    /// sweep, in OUT/collect/, and OUT/collect/cells.csv with every finished cell.
    Collect {
        spec: PathBuf,
        #[command(flatten)]
        out: SweepOut,
    },
    /// One Slurm array task's share of cells (what the sbatch script of `--slurm` runs).
    RunCells {
        /// The sweep's folder.
        #[arg(long)]
        out: PathBuf,
        /// `slurm/<stamp>/assignment.json`, written by `--slurm`.
        #[arg(long)]
        assignment: PathBuf,
        /// The array task index (`$SLURM_ARRAY_TASK_ID`).
        #[arg(long)]
        task: usize,
        /// Cells computed at once (default 1: the task's CPUs go to one cell at a time).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
}

#[derive(Debug, Args)]
pub struct TrainCmdArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of training patterns K.
    #[arg(long)]
    pub k: usize,
    /// Training steps (the length of the learning-rate schedule).
    #[arg(long, default_value_t = memscape_train::TrainConfig::default().steps)]
    pub steps: usize,
    /// Log-spaced checkpoints (the last step is always one).
    #[arg(long, default_value_t = memscape_train::TrainConfig::default().checkpoints)]
    pub checkpoints: usize,
    /// The score network: mlp (any data) or unet (images).
    #[arg(long, value_enum, default_value = "mlp")]
    pub model: NetArg,
    #[command(flatten)]
    pub train: TrainArgs,
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DynamicsArgs {
    /// Dataset (as for `sample`).
    #[arg(long, default_value = DYNAMICS_DEFAULTS.data)]
    pub data: String,
    /// Training-set sizes, comma-separated and increasing.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.ks_text())]
    pub k: String,
    /// Seed of the permutation whose first K points are the training set.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.subset_seed)]
    pub subset_seed: u64,
    /// Held-out points (the tail of the permutation) for the test loss, the support gate and
    /// the quality score (the gate needs at least 20).
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.holdout)]
    pub holdout: usize,
    /// Training steps per run.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.train_steps)]
    pub steps: usize,
    /// A number: log-spaced checkpoints per run, where samples are drawn and classified. A
    /// folder: networks trained elsewhere, measured instead of training any, laid out as
    /// K{K}/train.npy, K{K}/seed{S}/step_{N}.safetensors (memscape's MLP or U-Net checkpoint
    /// format) and an optional heldout.npy; the training and data flags are then not read.
    #[arg(long, default_value_t = CheckpointsArg::Count(DYNAMICS_DEFAULTS.checkpoints))]
    pub checkpoints: CheckpointsArg,
    /// Training seeds per K (train-seed, train-seed + 1, ...).
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.seeds)]
    pub seeds: usize,
    /// The score network: mlp (any data) or unet (images).
    #[arg(long, value_enum, default_value = DYNAMICS_DEFAULTS.model.name())]
    pub model: NetArg,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub integrator: IntegratorArgs,
    /// Sampler noise levels (as --steps of `map`).
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.sample_steps)]
    pub sample_steps: usize,
    /// Samples per checkpoint.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.n_samples)]
    pub n_samples: usize,
    /// tau_mem is where f_mem first reaches this level.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.fmem_level, allow_negative_numbers = true)]
    pub fmem_level: f64,
    /// tau_gen (sample quality) is the first checkpoint whose MMD² above the held-out floor is
    /// within 1 + this share of its minimum: (s − floor) ≤ (1 + x)(min − floor).
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.gen_level, allow_negative_numbers = true)]
    pub gen_level: f64,
    /// Bootstrap resamples for the intervals.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.resamples)]
    pub resamples: usize,
    #[command(flatten)]
    pub support: SupportArgs,
    /// Keep the first seed's samples at every checkpoint of this K and draw them by class
    /// beside their nearest training images (default on image data: the middle K).
    #[arg(long)]
    pub grid_k: Option<usize>,
    /// tau_spur is where the share of samples that settle into spurious attractors (stable,
    /// on the support, not memories) first reaches this level.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.spur_level, allow_negative_numbers = true)]
    pub spur_level: f64,
    /// Skip the attractor census at every checkpoint (and tau_spur).
    #[arg(long)]
    pub no_attractors: bool,
    /// Follow every unit's fixed points from checkpoint to checkpoint, as `memscape trace`
    /// does (trace.json, trace figure): their births and deaths, and tau_spur from the birth
    /// of the first spurious attractor holding --spur-level of the samples, per K with its
    /// interval over seeds and its fit against K. Needs the census; networks the study trains.
    #[arg(long, conflicts_with = "no_attractors")]
    pub trace: bool,
    /// Newton–Krylov runs per checkpoint start from at most this many groups of settled
    /// samples, the most populated first.
    #[arg(long, default_value_t = DYNAMICS_DEFAULTS.attractor_groups)]
    pub attractor_groups: usize,
    /// Rightmost Jacobian eigenvalues per fixed point (its index estimate); at most the data's
    /// dimension (capped at it on 2-D data by default).
    #[arg(long)]
    pub eigenvalues: Option<usize>,
    #[command(flatten)]
    pub census: CensusFlags,
    /// An intervention run beside the baseline, as overrides of the training flags, e.g.
    /// `dropout=0.1` or `weight-decay=0.05,ema=0.999`. Repeatable. Keys: dropout,
    /// weight-decay, input-noise, ema, width, depth, lr.
    #[arg(long)]
    pub intervention: Vec<String>,
    /// Also keep every checkpoint, with the training sets, as `--checkpoints DIR` reads them:
    /// checkpoints/K{K}/seed{S}/step_{N}.safetensors, checkpoints/K{K}/train.npy and
    /// checkpoints/heldout.npy.
    #[arg(long)]
    pub save_checkpoints: bool,
    #[arg(long, default_value = "runs/dynamics")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of training patterns K.
    #[arg(long)]
    pub k: usize,
    /// The model to sample: exact (the default without --checkpoint), or mlp / unet (a trained
    /// network, read from --checkpoint; the default with one is the checkpoint's own).
    #[arg(long, value_enum)]
    pub model: Option<Model>,
    /// Sample this trained network (a .safetensors checkpoint of `memscape train`) instead of
    /// the exact model; --data and --k still name the training set written beside the samples.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub integrator: IntegratorArgs,
    #[command(flatten)]
    pub noise_levels: StepsArgs,
    /// Stop at sigma_min with noisy samples instead of returning D(x, sigma_min).
    #[arg(long)]
    pub no_final_denoise: bool,
    /// Number of samples.
    #[arg(long = "n-samples", visible_alias = "n", default_value_t = SampleRequest::default().num_samples)]
    pub n: usize,
    /// Arithmetic of the exact denoiser.
    #[arg(long, value_enum, default_value = "f64")]
    pub precision: PrecisionArg,
    #[command(flatten)]
    pub pruning: PruningArgs,
    /// Record the trajectories of the first N samples (trajectories.npy: steps × N × d).
    #[arg(long, default_value_t = SampleRequest::default().record_trajectories)]
    pub record_trajectories: usize,
    /// Run directory to write.
    #[arg(long, default_value = "runs/sample")]
    pub out: PathBuf,
    /// Print one JSON document on stdout (human text goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Dataset (as for `sample`).
    #[arg(long, default_value = MAP_DEFAULTS.data)]
    pub data: String,
    /// Training-set sizes, comma-separated and increasing; nested subsets of one permutation.
    #[arg(long, default_value_t = MAP_DEFAULTS.ks_text())]
    pub k: String,
    /// Seed of the permutation whose first K points are the training set.
    #[arg(long, default_value_t = MAP_DEFAULTS.subset_seed)]
    pub subset_seed: u64,
    /// The model to map: exact alone, or mlp (a network trained at every K, beside exact).
    #[arg(long, value_enum, default_value = MAP_DEFAULTS.model)]
    pub model: Model,
    /// Training steps of the mlp at every K.
    #[arg(long, default_value_t = MAP_DEFAULTS.train_steps)]
    pub train_steps: usize,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub integrator: IntegratorArgs,
    #[command(flatten)]
    pub noise_levels: StepsArgs,
    /// Samples per K.
    #[arg(long, default_value_t = MAP_DEFAULTS.n_samples)]
    pub n_samples: usize,
    /// Memorization threshold delta_m: a distance, auto (1/4 of the training set's median
    /// nearest-neighbour spacing), or calibrated[:q] (the q-quantile, default 0.01, of the
    /// held-out points' nearest-neighbour distances to the training set; needs --holdout > 0).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_m: String,
    /// Spurious threshold delta_s: a distance, auto (1/16 of that spacing), or calibrated[:q]
    /// (the q-quantile of the held-out points' distances to each other).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_s: String,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = MAP_DEFAULTS.resamples)]
    pub resamples: usize,
    /// Held-out points (the tail of the permutation) that calibrate the support gate and score
    /// sample quality (default: min(1000, pool − largest K); 0 turns the gate off).
    #[arg(long)]
    pub holdout: Option<usize>,
    #[command(flatten)]
    pub census: CensusFlags,
    #[command(flatten)]
    pub pruning: PruningArgs,
    #[command(flatten)]
    pub support: SupportArgs,
    /// Nonlinear maps of patterns and samples at the spurious peak, besides the PCA
    /// (comma-separated: tsne, umap); up to 1000 points each.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub embed: Vec<EmbedArg>,
    /// A folder of networks trained elsewhere, mapped beside the exact model instead of
    /// training any: at every K the last checkpoint of the first seed, laid out as for
    /// `dynamics --checkpoints` (K{K}/train.npy nested: each the first K rows of the largest K's;
    /// K{K}/seed{S}/step_{N}.safetensors; heldout.npy). --data, --k, --model and the training
    /// flags are then not read.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    #[arg(long, default_value = "runs/map")]
    pub out: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Training points (.npy, .npz[:KEY] or .csv; rows are points).
    #[arg(long)]
    pub train: String,
    /// Generated samples to classify.
    #[arg(long)]
    pub samples: String,
    /// An independent second batch: "spurious" then means reproduced by this batch.
    #[arg(long)]
    pub samples_b: Option<String>,
    /// Held-out points of the data distribution (not in --train): samples farther from the
    /// data than these are from each other are off-support, not generalized.
    #[arg(long)]
    pub holdout: Option<String>,
    #[command(flatten)]
    pub support: SupportArgs,
    /// Memorization threshold: a distance, auto (1/4 of the training spacing), or
    /// calibrated[:q] (the q-quantile, default 0.01, of the --holdout points' nearest-neighbour
    /// distances to --train). With --holdout, the chance levels of held-out draws classified as
    /// samples are reported beside the fractions.
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_m: String,
    /// Spurious threshold: a distance, auto (1/16 of the training spacing), or calibrated[:q]
    /// (the q-quantile of the --holdout points' distances to each other).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_s: String,
    /// f_mem counts samples with d1/d2 below this (Bonnaire et al.: 1/3).
    #[arg(long, default_value_t = ClassifyRequest::default().thresholds.f_mem_ratio, allow_negative_numbers = true)]
    pub f_mem_ratio: f64,
    #[arg(long, default_value_t = ClassifyRequest::default().resamples)]
    pub resamples: usize,
    #[arg(long, default_value_t = ClassifyRequest::default().seed)]
    pub seed: u64,
    /// Run directory for labels.csv and results.json (nothing written without it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttractorsArgs {
    /// Dataset (as for `sample`); repeated rows count as repeated patterns.
    #[arg(long)]
    pub data: String,
    /// Use the first K points of the seeded permutation (default: all points).
    #[arg(long)]
    pub k: Option<usize>,
    #[arg(long, default_value_t = DEFAULT_SUBSET_SEED)]
    pub subset_seed: u64,
    /// Inverse temperature (convention R: weights softmax(−beta |x − ξ|²/2)).
    #[arg(
        long,
        allow_negative_numbers = true,
        conflicts_with = "sigma",
        required_unless_present = "sigma"
    )]
    pub beta: Option<f64>,
    /// Noise level; beta = 1/sigma².
    #[arg(long, allow_negative_numbers = true)]
    pub sigma: Option<f64>,
    /// Random starts in the data's bounding box (besides patterns, midpoints and triples).
    #[arg(long, default_value_t = ExactLandscapeRequest::default().random_starts)]
    pub random_starts: usize,
    /// Monte Carlo starts for the basin weights (0: skip).
    #[arg(long, default_value_t = ExactLandscapeRequest::default().basin_starts)]
    pub basin_starts: usize,
    /// Samples of the model stopped at this sigma: drawn on the 2-D landscape (0: none), and
    /// with --checkpoint the starts of the attractor census (at least 1).
    #[arg(long, default_value_t = LANDSCAPE_DEFAULTS.samples)]
    pub samples: usize,
    #[arg(long, default_value_t = LANDSCAPE_DEFAULTS.seed)]
    pub seed: u64,
    /// A trained network's checkpoint (`memscape train`): its fixed points at --sigma
    /// (matrix-free Newton–Krylov from its settled samples), their Jacobian spectra, kinds,
    /// basins, critical recovery levels and relative energies, instead of the exact model's.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// With --checkpoint: rightmost Jacobian eigenvalues per fixed point (at most the data's
    /// dimension; default 10, capped at it).
    #[arg(long)]
    pub eigenvalues: Option<usize>,
    #[command(flatten)]
    pub census: CensusFlags,
    /// With --checkpoint: critical recovery levels of the stable points with the largest
    /// basins, this many (0: none).
    #[arg(long, default_value_t = LANDSCAPE_DEFAULTS.recovery)]
    pub recovery: usize,
    /// With --checkpoint: noise directions per recovery level.
    #[arg(long, default_value_t = LANDSCAPE_DEFAULTS.trials)]
    pub trials: usize,
    /// With --checkpoint: held-out points (the tail of the permutation) that calibrate the
    /// support gate, so that stable points off the data are told apart (needs at least 20).
    #[arg(long, default_value_t = 1000)]
    pub holdout: usize,
    #[arg(long, default_value = "runs/attractors")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BifurcateArgs {
    /// Dataset (as for `sample`).
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub k: Option<usize>,
    #[arg(long, default_value_t = DEFAULT_SUBSET_SEED)]
    pub subset_seed: u64,
    /// Start of the beta range (with --weight-of: the fixed beta is --beta-to).
    #[arg(long, allow_negative_numbers = true)]
    pub beta_from: f64,
    #[arg(long, allow_negative_numbers = true)]
    pub beta_to: f64,
    /// Move the weight (multiplicity) of this pattern from 0 to --weight-to at beta = --beta-to
    /// instead of moving beta.
    #[arg(long)]
    pub weight_of: Option<usize>,
    /// The end of the weight range (a multiplicity: it may exceed 1).
    #[arg(long, default_value_t = BifurcateRequest::default().weight_to)]
    pub weight_to: f64,
    /// With --weight-of: follow the curves of folds in (beta, w) over [--beta-from, --beta-to]
    /// × [0, --weight-to], starting from the folds of beta sweeps at these weights
    /// (comma-separated), and report the cusps on them.
    #[arg(long)]
    pub cusp_weights: Option<String>,
    /// Grid values of the multi-start search that seeds the continuation (at most 0.25 apart
    /// in ln beta, or in w).
    #[arg(long, default_value_t = BifurcateRequest::default().steps)]
    pub steps: usize,
    /// Events are located to this width in ln beta (or in w), within [1e-12, 1e-3].
    #[arg(long, default_value_t = BifurcateRequest::default().tolerance)]
    pub tolerance: f64,
    #[arg(long, default_value_t = BifurcateRequest::default().random_starts)]
    pub random_starts: usize,
    #[arg(long, default_value = "runs/bifurcate")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RfSolverArg {
    /// Gradient descent's iterates in closed form in U's eigenbasis (any number of steps).
    Modes,
    /// Gradient descent step by step with the full gradient (O(d p²) per step).
    Gradient,
}

#[derive(Debug, Args)]
pub struct RfArgs {
    /// Data dimension d (x ~ N(0, I_d)).
    #[arg(long, default_value_t = RfRequest::default().d)]
    pub d: usize,
    /// Features per dimension: p = psi_p d.
    #[arg(long, default_value_t = RfRequest::default().psi_p, allow_negative_numbers = true)]
    pub psi_p: f64,
    /// Training points per dimension, comma-separated: n = psi_n d (one model per value).
    #[arg(long, default_value_t = memscape::numbers::list_text(&RfRequest::default().psi_n), allow_hyphen_values = true)]
    pub psi_n: String,
    /// Diffusion time t (x_t = e^(−t) x + sqrt(1 − e^(−2t)) ξ).
    #[arg(long, default_value_t = RfRequest::default().t, allow_negative_numbers = true)]
    pub t: f64,
    /// Gradient-descent steps.
    #[arg(long, default_value_t = RfRequest::default().steps)]
    pub steps: usize,
    /// Seeds (each draws W, the data, the noise draws and the test set afresh).
    #[arg(long, default_value_t = RfRequest::default().seeds)]
    pub seeds: usize,
    /// The first seed (the models use seed, seed + 1, …).
    #[arg(long, default_value_t = RfRequest::default().seed)]
    pub seed: u64,
    /// Noise draws per training point over which the loss's E_ξ is taken (default: the least
    /// m with n m ≥ 32 p; fewer draws add slow modes that fit them and delay tau_mem).
    #[arg(long)]
    pub noise_draws: Option<usize>,
    /// Step dτ as a share of psi_p/(Δ_t λ₊), λ₊ the theory's bound on λ_max(U) (the upper
    /// edge of the ρ₂ envelope): one dτ for every model, so all are measured at the same τ; a
    /// draw whose λ_max(U) makes that step unstable is refused.
    #[arg(long, default_value_t = RfRequest::default().step_fraction, allow_negative_numbers = true)]
    pub step_fraction: f64,
    /// Log-spaced steps at which the losses are measured.
    #[arg(long, default_value_t = RfRequest::default().checkpoints)]
    pub checkpoints: usize,
    /// Fresh (x, ξ) pairs for the test loss and the score error.
    #[arg(long, default_value_t = RfRequest::default().test_points)]
    pub test_points: usize,
    #[arg(long, value_enum, default_value = "modes")]
    pub solver: RfSolverArg,
    /// tau_gen is the first checkpoint whose score error is within 1 + this share of its
    /// minimum (the test loss above its Bayes floor).
    #[arg(long, default_value_t = RfRequest::default().gen_level, allow_negative_numbers = true)]
    pub gen_level: f64,
    /// Bootstrap resamples of the seeds.
    #[arg(long, default_value_t = RfRequest::default().resamples)]
    pub resamples: usize,
    #[arg(long, default_value = "runs/rf")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HopfieldModel {
    /// Hebbian weights, ±1 states, zero-temperature dynamics.
    Classical,
    /// Krotov–Hopfield polynomial interaction F(z) = z^degree.
    Dense,
    /// Demircigil's exponential interaction F(z) = e^z, K = e^(alpha N).
    Modern,
}

#[derive(Debug, Args)]
pub struct HopfieldArgs {
    #[arg(value_enum)]
    pub model: HopfieldModel,
    /// Number of neurons N.
    #[arg(long, default_value_t = HopfieldRequest::default().n)]
    pub n: usize,
    /// Load: K = alpha N (classical), alpha N^(degree−1) (dense), e^(alpha N) (modern).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Degree n of the dense interaction.
    #[arg(long, default_value_t = HopfieldRequest::default().degree)]
    pub degree: u32,
    /// Networks (independent pattern sets) to average over.
    #[arg(long, default_value_t = HopfieldRequest::default().nets)]
    pub nets: usize,
    /// Stored patterns tested per network.
    #[arg(long, default_value_t = HopfieldRequest::default().per_net)]
    pub per_net: usize,
    /// Fraction of bits flipped in the starting states of retrieval.
    #[arg(long, default_value_t = HopfieldRequest::default().flip, allow_negative_numbers = true)]
    pub flip: f64,
    #[arg(long, default_value_t = HopfieldRequest::default().seed)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}
