//! `memscape bifurcate`: events along beta, or along one pattern's weight.

use memscape::analysis::bifurcation::{Parameter, SweepConfig, cusps, sweep};
use memscape::analysis::classify::train_spacing;
use memscape::analysis::critical::SearchConfig;
use memscape::store::{Manifest, RunDir};

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
    let (parameter, from, to, name) = match args.weight_of {
        None => (Parameter::Beta, args.beta_from, args.beta_to, "beta"),
        Some(index) => (
            Parameter::Weight {
                index,
                beta: args.beta_to,
            },
            0.0,
            1.0,
            "weight",
        ),
    };
    if args.beta_from <= 0.0 {
        anyhow::bail!("--beta-from must be > 0, got {}", args.beta_from);
    }
    if args.beta_from > args.beta_to {
        anyhow::bail!(
            "--beta-from must be < --beta-to ({}), got {}",
            args.beta_to,
            args.beta_from
        );
    }
    let clock = std::time::Instant::now();
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
        let found = cusps(
            patterns.view(),
            index,
            args.beta_from,
            args.beta_to,
            &weights,
            &config,
        )?;
        let result = serde_json::json!({"cusps": found, "weights": weights, "seconds": clock.elapsed().as_secs_f64()});
        let out = RunDir::create(&args.out)?;
        out.write_json("cusps.json", &result)?;
        let mut manifest = Manifest::new(
            command,
            serde_json::json!({"args": format!("{args:?}"), "sweep": config}),
        );
        manifest.files = vec!["cusps.json".into(), "manifest.json".into()];
        out.write_json("manifest.json", &manifest)?;
        for c in &found {
            eprintln!(
                "cusp at beta = {:.5}, w = {:.5}, x = {:?} (fold cubic {:.2e} there, {:.2e} away)",
                c.beta, c.weight, c.x, c.cubic_near, c.cubic_far
            );
        }
        eprintln!("{} cusps; wrote {}", found.len(), out.path().display());
        if args.json {
            super::print_json(&result);
        }
        return Ok(0);
    }
    let s = sweep(patterns.view(), parameter, from, to, &config)?;
    let events: Vec<serde_json::Value> = s
        .events
        .iter()
        .map(|e| {
            serde_json::json!({
                name: e.at, "type": e.kind, "x": e.x, "zero_eigenvalues": e.zero_eigenvalues, "cubic": e.cubic,
                "supercritical": e.supercritical, "counts_before": e.counts_before, "counts_after": e.counts_after, "complete": e.complete,
            })
        })
        .collect();
    let grid: Vec<serde_json::Value> = s.values.iter().zip(&s.sets).map(|(v, set)| serde_json::json!({name: v, "minima": set.minima, "saddles": set.saddles, "maxima": set.maxima, "points": set.points})).collect();
    let result = serde_json::json!({"parameter": s.parameter, "events": events, "grid": grid, "seconds": clock.elapsed().as_secs_f64()});
    let out = RunDir::create(&args.out)?;
    out.write_json("bifurcations.json", &result)?;
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "sweep": config}),
    );
    manifest.files = vec!["bifurcations.json".into()];
    manifest
        .files
        .extend(memscape_report::bifurcation_figure(out.path())?);
    manifest
        .files
        .extend(["report.html".into(), "manifest.json".into()]);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    for e in &s.events {
        eprintln!(
            "{name} = {:.8}: {:?} at {:?}, counts {:?} → {:?}",
            e.at, e.kind, e.x, e.counts_before, e.counts_after
        );
    }
    eprintln!("{} events; wrote {}", s.events.len(), out.path().display());
    if args.json {
        super::print_json(
            &serde_json::json!({"events": result["events"], "parameter": result["parameter"]}),
        );
    }
    Ok(0)
}
