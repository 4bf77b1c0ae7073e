//! One file per command; each turns flags into a library config and makes one library call.

mod attractors;
mod attractors_trained;
mod bifurcate;
mod classify;
mod dynamics;
mod hopfield;
mod map;
mod rf;
mod sample;
mod sweep;
mod trace;
mod train;

use crate::flags::{Cli, Command};

/// Runs a command; returns the exit code (0, or 1 for finished-with-failures).
pub fn run(cli: Cli, command: Vec<String>) -> anyhow::Result<i32> {
    let name = match &cli.command {
        Command::Map(_) => "map",
        Command::Classify(_) => "classify",
        Command::Sample(_) => "sample",
        Command::Attractors(_) => "attractors",
        Command::Bifurcate(_) => "bifurcate",
        Command::Hopfield(_) => "hopfield",
        Command::Train(_) => "train",
        Command::Dynamics(_) => "dynamics",
        Command::Rf(_) => "rf",
        Command::Report(_) => "report",
        Command::Sweep(_) => "sweep",
        Command::Trace(_) => "trace",
    };
    match cli.command {
        Command::Map(args) => map::run(args, command),
        Command::Classify(args) => classify::run(args, command),
        Command::Sample(args) => sample::run(args, command),
        Command::Attractors(args) => attractors::run(args, command),
        Command::Bifurcate(args) => bifurcate::run(args, command),
        Command::Hopfield(args) => hopfield::run(args),
        Command::Train(args) => train::run(args, command),
        Command::Dynamics(args) => dynamics::run(args, command),
        Command::Rf(args) => rf::run(args, command),
        Command::Report(args) => report(&args.run_dir),
        Command::Sweep(args) => sweep::run(args, command),
        Command::Trace(args) => trace::run(args, command),
    }
    .map_err(|e| flag_names(e, name))
}

/// Says on stderr when `--checkpoints` log-spaced steps over `--steps` coincide after rounding
/// (more checkpoints than steps are refused): the run keeps the distinct steps.
pub fn note_checkpoints(checkpoints: usize, steps: usize) {
    let kept = memscape_train::train::checkpoint_steps(steps, checkpoints).len();
    if kept < checkpoints {
        eprintln!(
            "note: --checkpoints {checkpoints} log-spaced over --steps {steps} give {kept} distinct steps; the run keeps those {kept}"
        );
    }
}

/// A checkpoint and the training set it was trained on: the first `k` points (default all) of
/// `data`'s permutation by `subset_seed`, with up to `holdout` held-out points; the network
/// must take that data.
pub fn checkpoint_and_set(
    path: &std::path::Path,
    data: &str,
    k: Option<usize>,
    holdout: usize,
    subset_seed: u64,
) -> anyhow::Result<(
    memscape_train::ScoreModel,
    memscape_train::CheckpointMeta,
    memscape::pipeline::TrainingSet,
)> {
    let (model, meta) = memscape_train::ScoreModel::load(path)?;
    let spec = memscape::dataset::DataSpec::parse(data)?;
    let pool = spec.load()?;
    let k = k.unwrap_or(pool.num_patterns());
    model.check_data(path, pool.dim(), pool.image_shape, "--data")?;
    let holdout = holdout.min(pool.num_patterns().saturating_sub(k));
    let set = memscape::pipeline::training_set(&spec, k, Some(holdout), subset_seed)?;
    Ok((model, meta, set))
}

/// Prints `value` as one JSON document on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(value).expect("serialisable"));
}

/// A `--k` list: comma-separated positive integers.
pub fn parse_ks(text: &str) -> anyhow::Result<Vec<usize>> {
    text.split(',')
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                anyhow::anyhow!(
                    "--k must be a comma-separated list of positive integers, got {text:?}"
                )
            })
        })
        .collect()
}

/// The patterns named by `--data` (and `--k`, the first K of the seeded permutation).
pub fn patterns(
    data: &str,
    k: Option<usize>,
    subset_seed: u64,
) -> anyhow::Result<ndarray::Array2<f64>> {
    let spec = memscape::dataset::DataSpec::parse(data)?;
    let pool = spec.load()?;
    let k = k.unwrap_or(pool.num_patterns());
    let split = memscape::dataset::subset::Split::new(pool.num_patterns(), 0, subset_seed)?;
    Ok(split.train(&pool, k)?.points)
}

/// Files of which a run directory holds at least one (its manifest, or a command's result).
const RUN_FILES: [&str; 6] = [
    "manifest.json",
    "results.json",
    "attractors.json",
    "bifurcations.json",
    "cusps.json",
    "rf.json",
];

/// `memscape report`: redraws the figures of a map or dynamics run from its tables and arrays,
/// then writes report.html; 1 when files were missing or corrupt. A folder that holds no run
/// is refused (exit 2) and nothing is written into it.
fn report(dir: &std::path::Path) -> anyhow::Result<i32> {
    anyhow::ensure!(
        dir.is_dir(),
        "report: {}: not a folder (a run directory is expected)",
        dir.display()
    );
    anyhow::ensure!(
        RUN_FILES.iter().any(|f| dir.join(f).is_file()),
        "report: {}: holds no memscape run (none of {})",
        dir.display(),
        RUN_FILES.join(", ")
    );
    let mut problems = vec![];
    // a figure that cannot be redrawn keeps its earlier file; the page is still written
    if dir.join("results.json").is_file()
        && let Err(e) = memscape_report::run_figures(dir)
    {
        problems.push(e.to_string());
    }
    if dir.join("rf.json").is_file()
        && let Err(e) = memscape_report::rf_figures(dir)
    {
        problems.push(e.to_string());
    }
    for p in memscape_report::write_report(dir)? {
        if !problems.contains(&p) {
            problems.push(p);
        }
    }
    for p in &problems {
        eprintln!("memscape: report: {p}");
    }
    eprintln!("wrote {}", dir.join("report.html").display());
    Ok(if problems.is_empty() { 0 } else { 1 })
}

/// Library parameter names and the flags that set them, in every command but those listed
/// in [`COMMAND_FLAGS`].
const FLAGS: &[(&str, &str)] = &[
    ("data", "--data"),
    ("k", "--k"),
    ("num_samples", "--n-samples"),
    ("seeds", "--seeds"),
    ("resamples", "--resamples"),
    ("grid_k", "--grid-k"),
    ("fmem_level", "--fmem-level"),
    ("gen_level", "--gen-level"),
    ("spur_level", "--spur-level"),
    ("heldout", "--holdout"),
    ("holdout", "--holdout"),
    ("support_quantile", "--support-quantile"),
    ("pruning", "--prune-tol"),
    ("sampler", "--sampler"),
    ("eta", "--eta"),
    ("sigma_min", "--sigma-min"),
    ("sigma_max", "--sigma-max"),
    ("steps", "--steps"),
    ("batch_size", "--batch-size"),
    ("beta", "--beta"),
    ("f_mem_ratio", "--f-mem-ratio"),
    ("delta_m", "--delta-m"),
    ("delta_s", "--delta-s"),
    ("train_steps", "--train-steps"),
    ("train_batch", "--train-batch"),
    ("checkpoints", "--checkpoints"),
    ("stop_at", "--stop-at"),
    ("lr", "--lr"),
    ("dropout", "--dropout"),
    ("ema", "--ema"),
    ("weight_decay", "--weight-decay"),
    ("input_noise", "--input-noise"),
    ("train_sigma_min", "--train-sigma-min"),
    ("train_sigma_max", "--train-sigma-max"),
    ("model", "--model"),
    ("width", "--width"),
    ("depth", "--depth"),
    ("fourier_scale", "--fourier-scale"),
    ("margin", "--margin"),
    ("settle_tolerance", "--settle-tol"),
    ("settle_max_step", "--settle-max-step"),
];

/// Commands whose flags for a parameter differ from [`FLAGS`]: (command, parameter, flag).
const COMMAND_FLAGS: &[(&str, &str, &str)] = &[
    ("hopfield", "alpha", "--alpha"),
    ("hopfield", "n", "--n"),
    ("hopfield", "flip", "--flip"),
    ("hopfield", "degree", "--degree"),
    ("attractors", "samples", "--samples"),
    ("attractors", "eigenvalues", "--eigenvalues"),
    ("train", "train_steps", "--steps"),
    ("dynamics", "train_steps", "--steps"),
    ("dynamics", "steps", "--sample-steps"),
    ("rf", "d", "--d"),
    ("rf", "t", "--t"),
    ("rf", "psi_p", "--psi-p"),
    ("rf", "psi_n", "--psi-n"),
    ("rf", "noise_draws", "--noise-draws"),
    ("rf", "step_fraction", "--step-fraction"),
    ("rf", "test_points", "--test-points"),
];

/// The flag of `command` that sets the library parameter `parameter` (the parameter itself
/// when no flag does).
fn flag_of(command: &str, parameter: &str) -> String {
    COMMAND_FLAGS
        .iter()
        .find(|(c, p, _)| *c == command && *p == parameter)
        .map(|(_, _, f)| *f)
        .or_else(|| FLAGS.iter().find(|(p, _)| *p == parameter).map(|(_, f)| *f))
        .unwrap_or(parameter)
        .to_string()
}

/// Renames the parameter a library error names to the flag of `command` a user typed; other
/// errors pass unchanged. A sweep's parameters are the keys of its spec, and keep their names.
pub fn flag_names(e: anyhow::Error, command: &str) -> anyhow::Error {
    use memscape::error::Error;
    if command == "sweep" {
        return e;
    }
    match e.downcast::<Error>() {
        Ok(Error::InvalidParameter { what, rule, value }) => {
            // a rule may name another parameter ("< sigma_max (10)"): the snake_case names
            let parameters = FLAGS.iter().map(|(p, _)| *p).filter(|p| p.contains('_'));
            let rule = parameters.fold(rule, |rule, p| {
                rule.replace(&format!("{p} "), &format!("{} ", flag_of(command, p)))
            });
            Error::InvalidParameter {
                what: flag_of(command, &what),
                rule,
                value,
            }
            .into()
        }
        Ok(Error::DataSpec { spec, message }) => {
            anyhow::anyhow!("--data: {message} (spec {spec:?})")
        }
        Ok(e) => e.into(),
        Err(e) => e,
    }
}

/// One line on stderr: how much work the pruned exact denoiser skipped, and its bound.
pub fn report_pruning(label: &str, p: &memscape::denoiser::PruneStats) {
    let queries = p.pruned_queries + p.dense_queries;
    if queries == 0 {
        return;
    }
    let per_query = p.candidates as f64 / p.pruned_queries.max(1) as f64;
    eprintln!(
        "{label}pruning: {} of {queries} denoiser queries pruned, {per_query:.0} exact logits each; \
         skipped weight ≤ {:.1e}",
        p.pruned_queries, p.max_skipped_weight
    );
}
