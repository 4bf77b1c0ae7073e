//! `memscape map`: the phase map over K, a table on stderr, a run directory, `--json`.

use memscape::analysis::classify::{Threshold, ThresholdSpec};
use memscape::dataset::DataSpec;
use memscape::pipeline::{MapRequest, TrainedModel, map};
use memscape::store::RunDir;

use crate::flags::{MapArgs, Model};

pub fn run(args: MapArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let architecture = match args.model {
        Model::Exact => None,
        Model::Mlp => Some(memscape_train::Architecture::Mlp),
        Model::Unet => Some(memscape_train::Architecture::Unet),
    };
    let trainer = architecture.map(|a| memscape_train::NetworkTrainer {
        config: args.train.config(a, args.train_steps, 1),
    });
    let ks = super::parse_ks(&args.k)?;
    let data = DataSpec::parse(&args.data)?;
    if let Some(t) = trainer
        .as_ref()
        .filter(|t| t.config.architecture == memscape_train::Architecture::Unet)
    {
        // a U-Net needs images: check the network against the data before any work
        memscape_train::TrainConfig {
            image_shape: data.load()?.image_shape,
            ..t.config.clone()
        }
        .validate()?;
    }
    let request = MapRequest {
        data,
        ks,
        subset_seed: args.subset_seed,
        plan: args
            .integrator
            .plan(args.sigma_min, args.steps, args.seed)?,
        num_samples: args.n_samples,
        thresholds: ThresholdSpec {
            delta_m: Threshold::parse("--delta-m", &args.delta_m)?,
            delta_s: Threshold::parse("--delta-s", &args.delta_s)?,
            ..Default::default()
        },
        resamples: args.resamples,
        nonlinear: args
            .embed
            .iter()
            .map(|e| match e {
                crate::flags::EmbedArg::Tsne => memscape::analysis::embed::Nonlinear::Tsne,
                crate::flags::EmbedArg::Umap => memscape::analysis::embed::Nonlinear::Umap,
            })
            .collect(),
        holdout: args.holdout,
        support_quantile: args.support.support_quantile,
        pruning: args.pruning.pruning()?,
    };
    let run = map(request, trainer.as_ref().map(|t| t as &dyn TrainedModel))
        .map_err(super::flag_names)?;
    let out = RunDir::create(&args.out)?;
    let mut manifest = run.write(&out, command)?;
    let figures = memscape_report::run_figures(out.path())?;
    manifest.files.extend(figures.iter().cloned());
    manifest.files.push("report.html".into());
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    eprintln!(
        "{:>5}  {:>6}  {:>21}  {:>21}  {:>21}  {:>21}  {:>21}  {:>10}",
        "model", "K", "memorized", "spurious", "generalized", "off-support", "f_mem", "attractors"
    );
    for r in &run.rows {
        let f = &r.fractions;
        let e = |e: &memscape::analysis::classify::Estimate| {
            format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci[0], e.ci[1])
        };
        eprintln!(
            "{:>5}  {:>6}  {:>21}  {:>21}  {:>21}  {:>21}  {:>21}  {:>10}",
            r.model,
            r.k,
            e(&f.memorized),
            e(&f.spurious),
            e(&f.generalized),
            e(&f.off_support),
            e(&f.f_mem),
            r.num_attractors
        );
    }
    for r in &run.rows {
        if let Some(p) = &r.pruning {
            super::report_pruning(&format!("{} K = {}: ", r.model, r.k), p);
        }
    }
    let ks = &run.request.ks;
    let (k_min, k_max) = (ks[0], ks[ks.len() - 1]);
    let cap = |v: Option<f64>, ci: [Option<f64>; 2]| match v {
        Some(v) => format!(
            "{v:.1} [{}, {}]",
            ci[0].map_or(format!("< {k_min}"), |lo| format!("{lo:.1}")),
            ci[1].map_or(format!("> {k_max}"), |hi| format!("{hi:.1}"))
        ),
        None => "outside the swept K".to_string(),
    };
    for m in &run.models {
        let c = &m.capacities;
        eprintln!(
            "{}: memorization capacity {}; spurious peak {:.3} [{:.3}, {:.3}] at K = {}; generalization capacity {}",
            m.model,
            cap(c.memorization, m.ci.memorization),
            c.spurious_peak,
            m.ci.spurious_peak[0],
            m.ci.spurious_peak[1],
            c.spurious_peak_k,
            cap(c.generalization, m.ci.generalization),
        );
    }
    let sigma_min = run.sampler.schedule.sigma_min;
    eprintln!(
        "sigma_min {sigma_min:.4} (beta = {:.1}: training points closer than 2 sigma_min = {:.4} merge); wrote {} ({}, report.html) in {:.1} s",
        1.0 / (sigma_min * sigma_min),
        2.0 * sigma_min,
        out.path().display(),
        figures.join(", "),
        run.timings["total_s"]
    );
    if args.json {
        super::print_json(&run.results());
    }
    Ok(0)
}
