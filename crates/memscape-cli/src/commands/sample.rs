//! `memscape sample`: draw samples from the exact model of K patterns into a run directory.

use memscape::dataset::DataSpec;
use memscape::denoiser::Arithmetic;
use memscape::pipeline::{SampleRequest, sample};
use memscape::store::RunDir;

use crate::flags::{PrecisionArg, SampleArgs};

/// The sampling the flags ask for.
pub(crate) fn request(args: &SampleArgs) -> anyhow::Result<SampleRequest> {
    Ok(SampleRequest {
        data: DataSpec::parse(&args.data.data)?,
        k: args.k,
        subset_seed: args.data.subset_seed,
        holdout: args.data.holdout,
        precision: match args.precision {
            PrecisionArg::F64 => Arithmetic::F64,
            PrecisionArg::F32 => Arithmetic::F32,
        },
        pruning: args.pruning.pruning()?,
        plan: args.integrator.plan(
            args.noise_levels
                .steps
                .unwrap_or(memscape::sampler::SAMPLER_DEFAULTS.steps),
        )?,
        final_denoise: !args.no_final_denoise,
        num_samples: args.n,
        record_trajectories: args.record_trajectories,
    })
}

pub fn run(args: SampleArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let net = args
        .checkpoint
        .as_deref()
        .map(memscape_train::ScoreModel::load)
        .transpose()?;
    let wanted = match args.model {
        None => None,
        Some(crate::flags::Model::Exact) => Some("exact"),
        Some(crate::flags::Model::Mlp) => Some("mlp"),
        Some(crate::flags::Model::Unet) => Some("unet"),
    };
    let found = net
        .as_ref()
        .map_or("exact", |(n, _)| n.network.architecture().name());
    match (wanted, &args.checkpoint) {
        (Some(w), _) if w == found => {}
        (None, _) => {}
        (Some("exact"), Some(c)) => anyhow::bail!(
            "--model exact samples the exact model, so --checkpoint {} must be left out",
            c.display()
        ),
        (Some(w), None) => anyhow::bail!("--model {w} needs --checkpoint (a trained {w} network)"),
        (Some(w), Some(c)) => anyhow::bail!(
            "--model {w} must match --checkpoint {}, which holds a {found} network",
            c.display()
        ),
    }
    let request = request(&args)?;
    if let Some((net, _)) = &net {
        let pool = memscape::dataset::DataSpec::parse(&args.data.data)?.load()?;
        net.check_data(
            args.checkpoint.as_deref().expect("loaded"),
            pool.dim(),
            pool.image_shape,
            "--data",
        )?;
    }
    let run = sample(
        request,
        net.as_ref()
            .map(|(n, _)| n as &dyn memscape::denoiser::Denoiser),
    )?;
    let source = match &net {
        Some((_, meta)) => format!("the network at step {}", meta.step),
        None => "the exact model".into(),
    };
    let out = RunDir::create(&args.out)?;
    let manifest = run.write(&out, command)?;
    let sigmas = &run.sampler.schedule;
    eprintln!(
        "sampled {} points in R^{} from {source} of K = {} patterns ({:?}, sigma {} → {}, {} steps) in {:.2} s; wrote {}",
        run.samples.nrows(),
        run.samples.ncols(),
        run.training.train.num_patterns(),
        run.sampler.kind,
        memscape::error::number(sigmas.sigma_max),
        memscape::error::number(sigmas.sigma_min),
        sigmas.num_steps,
        run.timings["sample_s"],
        out.path().display()
    );
    if let Some(p) = &run.pruning {
        super::report_pruning("", p);
    }
    if args.json {
        super::print_json(&serde_json::json!({
            "command": "sample",
            "out": out.path(),
            "k": run.training.train.num_patterns(),
            "n": run.samples.nrows(),
            "dim": run.samples.ncols(),
            "sampler": run.sampler,
            "pruning": run.pruning,
            "files": manifest.files,
            "timings": manifest.timings,
        }));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape sample` with only the K it asks for
    /// gives `SampleRequest::default()`.
    #[test]
    fn sample_without_optional_flags_is_the_library_default_request() {
        let k = SampleRequest::default().k.to_string();
        let cli = crate::flags::Cli::parse_from(["memscape", "sample", "--k", k.as_str()]);
        let crate::flags::Command::Sample(args) = cli.command else {
            unreachable!("parsed sample")
        };
        assert_eq!(
            serde_json::to_value(request(&args).unwrap()).unwrap(),
            serde_json::to_value(SampleRequest::default()).unwrap()
        );
    }
}
