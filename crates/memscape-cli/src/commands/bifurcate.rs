//! `memscape bifurcate`: events along beta, or along one pattern's weight; with
//! `--cusp-weights`, the curves of folds in (beta, w) and their cusps.

use memscape::pipeline::{BifurcateRequest, bifurcate, cusps};
use memscape::store::{Manifest, RunDir, sorted_json};

use crate::flags::BifurcateArgs;

/// The study the flags ask for.
pub(crate) fn request(args: &BifurcateArgs) -> BifurcateRequest {
    BifurcateRequest {
        beta_from: args.beta_from,
        beta_to: args.beta_to,
        weight_of: args.weight_of,
        weight_to: args.weight_to,
        steps: args.steps,
        tolerance: args.tolerance,
        random_starts: args.random_starts,
    }
}

pub fn run(args: BifurcateArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let patterns = super::patterns(&args.data, args.k, args.subset_seed)?;
    let request = request(&args);
    let config = request.config(patterns.view())?;
    let out_manifest = |files: Vec<String>, out: &RunDir| -> anyhow::Result<()> {
        let mut manifest = Manifest::new(
            command.clone(),
            serde_json::json!({"args": format!("{args:?}"), "sweep": config}),
        );
        manifest.files = files;
        out.write_json("manifest.json", &manifest)?;
        Ok(())
    };
    if let Some(list) = &args.cusp_weights {
        if args.weight_of.is_none() {
            anyhow::bail!("--cusp-weights needs --weight-of")
        }
        let weights = list
            .split(',')
            .map(|v| {
                v.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!("--cusp-weights must be comma-separated numbers, got {list:?}")
                })
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let result = cusps(patterns.view(), &request, &weights)?;
        let out = RunDir::create(&args.out)?;
        result.write(&out)?;
        out_manifest(vec!["cusps.json".into(), "manifest.json".into()], &out)?;
        for c in &result.cusps {
            eprintln!(
                "cusp at beta = {:.8}, w = {:.8}, x = {:?} (centre-manifold quartic {:.3e})",
                c.beta, c.weight, c.x, c.quartic
            );
        }
        eprintln!(
            "{} fold curves, {} cusps; wrote {}",
            result.fold_curves.len(),
            result.cusps.len(),
            out.path().display()
        );
        if args.json {
            super::print_json(&sorted_json(&result));
        }
        return Ok(0);
    }
    let s = bifurcate(patterns.view(), &request)?;
    let name = s.name.as_str();
    let result = &s;
    let out = RunDir::create(&args.out)?;
    result.write(&out)?;
    let mut files = vec!["bifurcations.json".to_string()];
    files.extend(memscape_report::bifurcation_figure(out.path())?);
    files.extend(["report.html".into(), "manifest.json".into()]);
    out_manifest(files, &out)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    for e in &s.events {
        let branches: Vec<String> = e
            .branches
            .iter()
            .map(|b| {
                let side = |i: Option<usize>| i.map_or("-".to_string(), |i| i.to_string());
                format!("{}→{}", side(b.index_before), side(b.index_after))
            })
            .collect();
        eprintln!(
            "{name} = {:.10}: {:?}{} at {:?}, kernel {}, branches {}, counts {:?} → {:?}",
            e.at,
            e.kind,
            e.k.map_or(String::new(), |k| format!(" (k = {k})")),
            e.x,
            e.kernel_dim,
            branches.join(" "),
            e.counts_before,
            e.counts_after
        );
    }
    for [a, b] in &s.unexplained {
        eprintln!(
            "warning: between {name} = {a} and {b} the counts changed more than the events explain (a missed event)"
        );
    }
    if !s.incomplete.is_empty() {
        eprintln!(
            "note: the multi-start sets at {} {name} values missed points (Euler characteristic ≠ 1); the counts were carried across them unchecked (more --random-starts helps)",
            s.incomplete.len()
        );
    }
    eprintln!(
        "{} events, {} branches; wrote {}",
        s.events.len(),
        s.branches.len(),
        out.path().display()
    );
    if args.json {
        super::print_json(&sorted_json(&result.events()));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape bifurcate` with only the data and the
    /// beta range it asks for gives `BifurcateRequest::default()` over that range.
    #[test]
    fn bifurcate_without_optional_flags_is_the_library_default_request() {
        let argv = [
            "memscape",
            "bifurcate",
            "--data",
            "circle",
            "--beta-from",
            "1",
            "--beta-to",
            "6",
        ];
        let crate::flags::Command::Bifurcate(args) = crate::flags::Cli::parse_from(argv).command
        else {
            unreachable!("parsed bifurcate")
        };
        assert_eq!(request(&args), BifurcateRequest::default());
    }
}
