//! `memscape bifurcate`: events along beta, or along one pattern's weight; with
//! `--cusp-weights`, the curves of folds in (beta, w) and their cusps.

use memscape::analysis::landscape::bifurcation::{Parameter, SweepConfig, fold_curves, sweep};
use memscape::analysis::landscape::critical::SearchConfig;
use memscape::analysis::samples::classify::train_spacing;
use memscape::pipeline::{BifurcationDocument, CuspDocument, parameter_name};
use memscape::store::{Manifest, RunDir, sorted_json};

use crate::flags::BifurcateArgs;

pub fn run(args: BifurcateArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let patterns = super::patterns(&args.data, args.k, args.subset_seed)?;
    let mut search = SearchConfig::for_spacing(train_spacing(patterns.view())?);
    search.random_starts = args.random_starts;
    let config = SweepConfig {
        steps: args.steps,
        tolerance: args.tolerance,
        search,
    };
    let clock = std::time::Instant::now();
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
        let Some(index) = args.weight_of else {
            anyhow::bail!("--cusp-weights needs --weight-of")
        };
        let weights = list
            .split(',')
            .map(|v| {
                v.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!("--cusp-weights must be comma-separated numbers, got {list:?}")
                })
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let curves = fold_curves(
            patterns.view(),
            index,
            (args.beta_from, args.beta_to),
            (0.0, args.weight_to),
            &weights,
            &config,
        )?;
        let result = CuspDocument::of(curves, weights, clock.elapsed().as_secs_f64());
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
    let (parameter, from, to) = match args.weight_of {
        None => (Parameter::Beta, args.beta_from, args.beta_to),
        Some(index) => (
            Parameter::Weight {
                index,
                beta: args.beta_to,
            },
            0.0,
            args.weight_to,
        ),
    };
    let name = parameter_name(&parameter);
    let s = sweep(patterns.view(), parameter, from, to, &config)?;
    let result = BifurcationDocument::of(&s, clock.elapsed().as_secs_f64());
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
