//! `memscape attractors`: the critical points of the exact landscape at one beta
//! ([`memscape::pipeline::exact_landscape`]; with `--checkpoint`, a trained network's:
//! [`super::attractors_trained`]).

use memscape::error::require_positive;
use memscape::pipeline::{ExactLandscapeRequest, exact_landscape};
use memscape::store::{Manifest, RunDir};
use memscape::units::Beta;

use crate::flags::AttractorsArgs;

/// The exact landscape the flags ask for, at `beta`.
pub(crate) fn exact_request(args: &AttractorsArgs, beta: f64) -> ExactLandscapeRequest {
    ExactLandscapeRequest {
        beta,
        random_starts: args.random_starts,
        basin_starts: args.basin_starts,
        samples: args.samples,
        seed: args.seed,
    }
}

pub fn run(args: AttractorsArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let beta = match (args.beta, args.sigma) {
        (Some(b), _) => require_positive("--beta", b)?,
        (None, Some(s)) => Beta::from_sigma(require_positive("--sigma", s)?).value(),
        (None, None) => anyhow::bail!("--beta or --sigma is required"),
    };
    if args.checkpoint.is_some() {
        return super::attractors_trained::run(args, Beta(beta).sigma(), command);
    }
    let patterns = super::patterns(&args.data, args.k, args.subset_seed)?;
    let out = RunDir::create(&args.out)?;
    let exact = exact_landscape(patterns.view(), &exact_request(&args, beta))?;
    let mut files = exact.write(&out)?;
    files.extend(memscape_report::landscape_figures(out.path())?);
    let result = exact.document();
    let (set, config, seconds) = (&exact.set, exact.config, exact.seconds);
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "search": config}),
    );
    manifest.seeds.insert("search".into(), args.seed);
    files.extend(["report.html".into(), "manifest.json".into()]);
    manifest.files = files;
    manifest.timings.insert("search_s".into(), seconds);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    let euler = match set.euler_characteristic {
        Some(1) => "Euler characteristic 1".to_string(),
        Some(chi) => format!("Euler characteristic {chi} (≠ 1: the search missed points)"),
        None => {
            let degenerate: Vec<String> = set
                .points
                .iter()
                .filter(|p| p.degenerate)
                .map(|p| format!("{:?} (kernel dimension {})", p.x, p.kernel_dim))
                .collect();
            format!(
                "Euler characteristic undefined: beta is a bifurcation value, degenerate at {}",
                degenerate.join(", ")
            )
        }
    };
    eprintln!(
        "beta {beta}: {} minima ({} memories), {} saddles, {} maxima; {euler}; {:.2} s; wrote {}",
        set.minima,
        set.points
            .iter()
            .filter(|p| p.kind == memscape::analysis::landscape::critical::Kind::Memory)
            .count(),
        set.saddles,
        set.maxima,
        seconds,
        out.path().display()
    );
    if args.json {
        super::print_json(&memscape::store::sorted_json(&result));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape attractors` with only the data and the
    /// level it asks for gives `ExactLandscapeRequest::default()` at that level.
    #[test]
    fn attractors_without_optional_flags_is_the_library_default_request() {
        let cli = crate::flags::Cli::parse_from([
            "memscape",
            "attractors",
            "--data",
            "circle",
            "--beta",
            "100",
        ]);
        let crate::flags::Command::Attractors(args) = cli.command else {
            unreachable!("parsed attractors")
        };
        assert_eq!(
            serde_json::to_value(exact_request(&args, 100.0)).unwrap(),
            serde_json::to_value(ExactLandscapeRequest::default()).unwrap()
        );
    }
}
