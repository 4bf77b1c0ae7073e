//! `memscape map`: the phase map over K, a table on stderr, a run directory, `--json`.

use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::DataSpec;
use memscape::error::significant;

use std::path::Path;

use memscape::denoiser::{Denoiser, TrainedModel};
use memscape::pipeline::{
    GivenModels, MapLandscapes, MapNetworks, MapRequest, MapRun, Settling, map, map_models,
};
use memscape::store::RunDir;
use memscape_train::folder::CheckpointFolder;
use memscape_train::{KeepingTrainer, NetworkTrainer};

use crate::flags::{MapArgs, Model};

pub fn run(args: MapArgs, command: Vec<String>) -> anyhow::Result<i32> {
    if let Some(dir) = &args.checkpoints {
        return run_folder(&args, dir, command);
    }
    let architecture = match args.model {
        Model::Exact => None,
        Model::Mlp => Some(memscape_train::Architecture::Mlp),
        Model::Unet => Some(memscape_train::Architecture::Unet),
    };
    let trainer = architecture.map(|a| {
        KeepingTrainer::new(NetworkTrainer {
            config: args.train.config(a, args.train_steps, 1),
        })
    });
    let ks = super::parse_ks(&args.k)?;
    let data = DataSpec::parse(&args.data)?;
    if let Some(t) = trainer
        .as_ref()
        .map(|t| &t.trainer)
        .filter(|t| t.config.architecture == memscape_train::Architecture::Unet)
    {
        // a U-Net needs images: check the network against the data before any work
        memscape_train::TrainConfig {
            image_shape: data.load()?.image_shape,
            ..t.config.clone()
        }
        .validate()?;
    }
    let request = request(&args, ks, data)?;
    let run = map(request, trainer.as_ref().map(|t| t as &dyn TrainedModel))?;
    let out = RunDir::create(&args.out)?;
    let networks = trainer.as_ref().map(KeepingTrainer::networks);
    let landscapes = run.landscapes(networks.as_ref())?;
    report(&args, &out, &run, landscapes, command)
}

/// `map --checkpoints DIR`: the last network of each K's first seed beside the exact model.
fn run_folder(args: &MapArgs, dir: &Path, command: Vec<String>) -> anyhow::Result<i32> {
    let folder = CheckpointFolder::read(dir)?;
    folder.check_nested()?;
    let chosen = folder.last_of_first_seed();
    let name = chosen[0].3.network.architecture().name();
    if let Some((k, _, path, model)) = chosen
        .iter()
        .find(|c| c.3.network.architecture().name() != name)
    {
        anyhow::bail!(
            "{}: a {} at K = {k}, but K = {} maps a {name}: a map's rows name one model",
            path.display(),
            model.network.architecture().name(),
            chosen[0].0
        );
    }
    let data = DataSpec::Given {
        source: dir.display().to_string(),
    };
    let request = request(args, folder.ks(), data)?;
    let config = serde_json::json!({
        "checkpoints": dir,
        "networks": chosen.iter().map(|(k, step, path, _)| serde_json::json!({"k": k, "step": step, "path": path})).collect::<Vec<_>>(),
    });
    let models: Vec<&dyn Denoiser> = chosen.iter().map(|c| c.3 as &dyn Denoiser).collect();
    let given = GivenModels {
        name,
        models,
        settling: Settling::Flow,
        config,
    };
    let run = map_models(request, folder.sets.clone(), given)?;
    let out = RunDir::create(&args.out)?;
    let networks = MapNetworks {
        name,
        step: chosen[0].1,
        at: Box::new(|k| {
            Ok(chosen
                .iter()
                .find(|c| c.0 == k)
                .map(|c| Box::new(c.3.clone()) as Box<dyn Denoiser>))
        }),
    };
    let landscapes = run.landscapes(Some(&networks))?;
    report(args, &out, &run, landscapes, command)
}

/// Writes the run directory and report, and prints the table and capacities.
fn report(
    args: &MapArgs,
    out: &RunDir,
    run: &MapRun,
    landscapes: Option<MapLandscapes>,
    command: Vec<String>,
) -> anyhow::Result<i32> {
    let (results, figures) = memscape_report::write_map(out, run, landscapes, command)?;
    eprintln!(
        "{:>5}  {:>6}  {:>21}  {:>21}  {:>21}  {:>21}  {:>21}  {:>10}",
        "model", "K", "memorized", "spurious", "generalized", "off-support", "f_mem", "attractors"
    );
    for r in &run.rows {
        let f = &r.fractions;
        let e = |e: &memscape::analysis::samples::classify::Estimate| {
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
        "sigma_min {} (beta = {}: training points closer than 2 sigma_min = {} merge); wrote {} ({}, report.html) in {:.1} s",
        significant(sigma_min, 4),
        significant(1.0 / (sigma_min * sigma_min), 5),
        significant(2.0 * sigma_min, 4),
        out.path().display(),
        figures.join(", "),
        run.timings["total_s"]
    );
    if args.json {
        super::print_json(&results);
    }
    Ok(0)
}

/// The library request of `map`'s flags (with the K list and dataset already parsed).
fn request(args: &MapArgs, ks: Vec<usize>, data: DataSpec) -> anyhow::Result<MapRequest> {
    Ok(MapRequest {
        data,
        ks,
        subset_seed: args.subset_seed,
        plan: args.integrator.plan(
            args.noise_levels
                .steps
                .unwrap_or(memscape::pipeline::MAP_DEFAULTS.steps),
        )?,
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
                crate::flags::EmbedArg::Tsne => memscape::analysis::samples::embed::Nonlinear::Tsne,
                crate::flags::EmbedArg::Umap => memscape::analysis::samples::embed::Nonlinear::Umap,
            })
            .collect(),
        holdout: args.holdout,
        support_quantile: args.support.support_quantile,
        pruning: args.pruning.pruning()?,
        census: args.census.settings(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use memscape::pipeline::{MAP_DEFAULTS, MapPlan};

    /// `memscape map` without flags: its flags and the library request they make.
    fn default_map() -> (MapArgs, MapRequest) {
        let cli = crate::flags::Cli::parse_from(["memscape", "map"]);
        let crate::flags::Command::Map(args) = cli.command else {
            unreachable!("parsed map")
        };
        let ks = crate::commands::parse_ks(&args.k).unwrap();
        let data = DataSpec::parse(&args.data).unwrap();
        let request = request(&args, ks, data).unwrap();
        (args, request)
    }

    /// Each default stated once (issue 29): `memscape map` without flags asks the library for
    /// exactly `MapRequest::default()`, and trains the default model for its default steps.
    #[test]
    fn map_without_flags_is_the_library_default_request() {
        let (args, request) = default_map();
        assert_eq!(
            serde_json::to_value(request).unwrap(),
            serde_json::to_value(MapRequest::default()).unwrap()
        );
        assert_eq!(args.train_steps, MAP_DEFAULTS.train_steps);
        assert!(matches!(args.model, Model::Mlp) && MAP_DEFAULTS.model == "mlp");
    }

    /// Issue 25: the default map's MLP at K = 1000 draws a ring: its census is at most a
    /// handful of attractors, with a manifold of dimension 1 holding most of the samples (the
    /// old census counted 1688 attractors there, one per group of settled samples along it).
    /// The request is the one `memscape map` builds from no arguments, and the measurement is
    /// the map's own at that K (the 2-D landscapes the command adds are left out).
    #[test]
    fn the_default_maps_mlp_at_k1000_is_one_manifold() {
        let (args, request) = default_map();
        assert_eq!(request.ks.last(), Some(&1000));
        let plan = MapPlan::new(request).unwrap();
        let trainer = NetworkTrainer {
            config: args
                .train
                .config(memscape_train::Architecture::Mlp, args.train_steps, 1),
        };
        let point = plan.measure_trained(1000, &trainer).unwrap();
        let c = point.row.census.unwrap();
        eprintln!("{c:?}");
        assert!(c.counts.attractors() <= 5, "{:?}", c.counts);
        assert!(c.manifold_dimensions.contains(&1), "{c:?}");
        assert!(c.manifold_mass >= 0.5, "{c:?}");
        assert!(point.row.num_attractors <= c.counts.attractors());
    }
}
