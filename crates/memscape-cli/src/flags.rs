//! Command-line flags (clap derive). Doc comments are the help text. Only parsing and
//! validation live here; commands turn flags into library configs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use memscape::noise::{NoiseProcess, Spacing, VpSchedule};

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
    /// Write report.html for a run directory: figures inline, headline numbers, tables,
    /// manifest. Exit 1 when files are missing or corrupt (the rest is still drawn).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

/// Flags shared by every command that reads a dataset and takes a training subset.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Dataset: circle, kgon, two-points, gmm, binary, sphere, ball (with `:key=value,...`),
    /// mnist:DIR, fashion-mnist:DIR, digits:FILE, or a .npy/.npz[:KEY]/.csv file of points.
    #[arg(long, default_value = "circle")]
    pub data: String,
    /// Seed of the permutation whose first K points are the training set (nested across K).
    #[arg(long, default_value_t = 42)]
    pub subset_seed: u64,
    /// Points kept aside as a held-out set (the last of the permutation).
    #[arg(long, default_value_t = 0)]
    pub holdout: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Model {
    /// The exact empirical denoiser (one modern-Hopfield update).
    Exact,
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

impl Process {
    pub fn noise_process(self) -> NoiseProcess {
        match self {
            Process::Ve => NoiseProcess::Ve,
            Process::Vp => NoiseProcess::Vp(VpSchedule::DDPM_LINEAR),
            Process::VpCosine => NoiseProcess::Vp(VpSchedule::COSINE),
        }
    }
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

impl SpacingArg {
    pub fn spacing(self) -> Spacing {
        match self {
            SpacingArg::Karras => Spacing::Karras { rho: 7.0 },
            SpacingArg::Geometric => Spacing::Geometric,
            SpacingArg::LinearT => Spacing::LinearT,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    F64,
    F32,
}

/// Integrator flags shared by `sample` and `map`.
#[derive(Debug, Args)]
pub struct IntegratorArgs {
    /// Integrator: em (Euler–Maruyama on the reverse SDE), ddim (with --eta), heun (PF-ODE).
    #[arg(long, default_value = "em")]
    pub sampler: String,
    /// DDIM stochasticity in [0, 1]: 0 deterministic, 1 ancestral.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub eta: f64,
    /// Noise process.
    #[arg(long, value_enum, default_value = "ve")]
    pub process: Process,
    /// Spacing of the sigma grid.
    #[arg(long, value_enum, default_value = "karras")]
    pub spacing: SpacingArg,
    /// Largest noise level (default 10 × the RMS norm of the data).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma_max: Option<f64>,
    /// Rows per denoiser call (never changes the result).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
}

impl IntegratorArgs {
    /// The library's sampling plan, with the command's own `sigma_min`, `steps` and `seed`
    /// (checks --sampler and --eta).
    pub fn plan(
        &self,
        sigma_min: Option<f64>,
        num_steps: usize,
        seed: u64,
    ) -> memscape::Result<memscape::pipeline::SamplingPlan> {
        Ok(memscape::pipeline::SamplingPlan {
            kind: memscape::sampler::SamplerKind::parse(&self.sampler, self.eta)?,
            process: self.process.noise_process(),
            spacing: self.spacing.spacing(),
            sigma_max: self.sigma_max,
            sigma_min,
            num_steps,
            seed,
            batch_size: self.batch_size,
        })
    }
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of training patterns K.
    #[arg(long)]
    pub k: usize,
    /// The model to sample.
    #[arg(long, value_enum, default_value = "exact")]
    pub model: Model,
    #[command(flatten)]
    pub integrator: IntegratorArgs,
    /// Final noise level (default 1e-3 × the RMS norm of the patterns).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma_min: Option<f64>,
    /// Number of noise levels from sigma_max to sigma_min.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Stop at sigma_min with noisy samples instead of returning D(x, sigma_min).
    #[arg(long)]
    pub no_final_denoise: bool,
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Seed of the sampler's noise (sample i uses ChaCha stream i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Arithmetic of the exact denoiser.
    #[arg(long, value_enum, default_value = "f64")]
    pub precision: PrecisionArg,
    /// Record the trajectories of the first N samples (trajectories.npy: steps × N × d).
    #[arg(long, default_value_t = 0)]
    pub record_trajectories: usize,
    /// Run directory to write.
    #[arg(long, default_value = "runs/sample")]
    pub out: PathBuf,
    /// Print one JSON document on stdout (human text goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// Default K list of `map`: log-spaced from 2 to 1000.
pub const DEFAULT_KS: &str = "2,3,5,9,16,28,50,90,160,280,500,1000";

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Dataset (as for `sample`).
    #[arg(long, default_value = "circle")]
    pub data: String,
    /// Training-set sizes, comma-separated and increasing; nested subsets of one permutation.
    #[arg(long, default_value = DEFAULT_KS)]
    pub k: String,
    /// Seed of the permutation whose first K points are the training set.
    #[arg(long, default_value_t = 42)]
    pub subset_seed: u64,
    /// The model to map.
    #[arg(long, value_enum, default_value = "exact")]
    pub model: Model,
    #[command(flatten)]
    pub integrator: IntegratorArgs,
    /// Final noise level (default 0.02 × the RMS norm of the data); samples are then carried
    /// to their attractor by iterating the denoiser at this level.
    #[arg(long, allow_negative_numbers = true)]
    pub sigma_min: Option<f64>,
    /// Number of noise levels.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Samples per K.
    #[arg(long, default_value_t = 2000)]
    pub n_samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Memorization threshold delta_m: a distance, or auto (1/4 of the training set's median
    /// nearest-neighbour spacing).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_m: String,
    /// Spurious threshold delta_s: a distance, or auto (1/16 of that spacing).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_s: String,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 200)]
    pub resamples: usize,
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
    /// Memorization threshold: a distance, or auto (1/4 of the training spacing).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_m: String,
    /// Spurious threshold: a distance, or auto (1/16 of the training spacing).
    #[arg(long, default_value = "auto", allow_negative_numbers = true)]
    pub delta_s: String,
    /// f_mem counts samples with d1/d2 below this (Bonnaire et al.: 1/3).
    #[arg(long, default_value_t = 1.0 / 3.0, allow_negative_numbers = true)]
    pub f_mem_ratio: f64,
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    #[arg(long, default_value_t = 0)]
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
    #[arg(long, default_value_t = 42)]
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
    #[arg(long, default_value_t = 200)]
    pub random_starts: usize,
    /// Monte Carlo starts for the basin weights (0: skip).
    #[arg(long, default_value_t = 2000)]
    pub basin_starts: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
    #[arg(long, default_value_t = 42)]
    pub subset_seed: u64,
    /// Start of the beta range (with --weight-of: the fixed beta is --beta-to).
    #[arg(long, allow_negative_numbers = true)]
    pub beta_from: f64,
    #[arg(long, allow_negative_numbers = true)]
    pub beta_to: f64,
    /// Move the weight of this pattern from 0 to 1 at beta = --beta-to instead of moving beta.
    #[arg(long)]
    pub weight_of: Option<usize>,
    /// With --weight-of: scan beta over [--beta-from, --beta-to] at each of these weights of
    /// that pattern (comma-separated, increasing, in [0, 1]) and report cusps, where curves of
    /// folds end.
    #[arg(long)]
    pub cusp_weights: Option<String>,
    /// Grid values before refinement.
    #[arg(long, default_value_t = 40)]
    pub steps: usize,
    /// Events are located to this relative width.
    #[arg(long, default_value_t = 1e-7)]
    pub tolerance: f64,
    #[arg(long, default_value_t = 100)]
    pub random_starts: usize,
    #[arg(long, default_value = "runs/bifurcate")]
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
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Load: K = alpha N (classical), alpha N^(degree−1) (dense), e^(alpha N) (modern).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Degree n of the dense interaction.
    #[arg(long, default_value_t = 3)]
    pub degree: u32,
    /// Networks (independent pattern sets) to average over.
    #[arg(long, default_value_t = 3)]
    pub nets: usize,
    /// Stored patterns tested per network.
    #[arg(long, default_value_t = 20)]
    pub per_net: usize,
    /// Fraction of bits flipped in the starting states of retrieval.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub flip: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}
