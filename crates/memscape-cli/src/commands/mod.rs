//! One file per command; each turns flags into a library config and makes one library call.

mod attractors;
mod attractors_trained;
mod bifurcate;
mod classify;
mod dynamics;
mod hopfield;
mod map;
mod sample;
mod sweep;
mod train;

use crate::flags::{Cli, Command};

/// Runs a command; returns the exit code (0, or 1 for finished-with-failures).
pub fn run(cli: Cli, command: Vec<String>) -> anyhow::Result<i32> {
    match cli.command {
        Command::Map(args) => map::run(args, command),
        Command::Classify(args) => classify::run(args, command),
        Command::Sample(args) => sample::run(args, command),
        Command::Attractors(args) => attractors::run(args, command),
        Command::Bifurcate(args) => bifurcate::run(args, command),
        Command::Hopfield(args) => hopfield::run(args),
        Command::Train(args) => train::run(args, command),
        Command::Dynamics(args) => dynamics::run(args, command),
        Command::Report(args) => report(&args.run_dir),
        Command::Sweep(args) => sweep::run(args, command),
    }
}

/// Prints `value` as one JSON document on stdout.
pub fn print_json(value: &serde_json::Value) {
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

/// `memscape report`: redraws the figures of a map or dynamics run from its tables and arrays,
/// then writes report.html; 1 when files were missing or corrupt.
fn report(dir: &std::path::Path) -> anyhow::Result<i32> {
    let mut problems = vec![];
    if dir.join("results.json").is_file() {
        // a figure that cannot be redrawn keeps its earlier file; the page is still written
        if let Err(e) = memscape_report::run_figures(dir) {
            problems.push(e.to_string());
        }
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

/// Library parameter names and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("k", "--k"),
    ("num_samples", "--n-samples"),
    ("seeds", "--seeds"),
    ("grid_k", "--grid-k"),
    ("fmem_level", "--fmem-level"),
    ("spur_level", "--spur-level"),
    ("heldout", "--holdout"),
    ("holdout", "--holdout"),
    ("support_quantile", "--support-quantile"),
    ("pruning tolerance", "--prune-tol"),
];

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

/// Renames the parameter a library error names to the flag a user typed.
pub fn flag_names(e: memscape::error::Error) -> anyhow::Error {
    match e {
        memscape::error::Error::InvalidParameter { what, rule, value } => {
            let what = FLAGS
                .iter()
                .find(|(p, _)| *p == what)
                .map_or(what, |(_, f)| f.to_string());
            memscape::error::Error::InvalidParameter { what, rule, value }.into()
        }
        e => e.into(),
    }
}
