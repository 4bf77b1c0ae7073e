//! `memscape classify`: memorized / spurious / generalized and f_mem for samples from anywhere.

use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
use memscape::dataset::DataSpec;
use memscape::error::significant;
use memscape::pipeline::{ClassifyRequest, classify};
use memscape::store::RunDir;
use ndarray::Array2;

use crate::flags::ClassifyArgs;

/// Reads a file of points named by a flag.
fn points(flag: &str, spec: &str) -> anyhow::Result<Array2<f64>> {
    match DataSpec::parse(spec)? {
        s @ DataSpec::File { .. } => Ok(s.load()?.points),
        _ => anyhow::bail!("{flag} must be a .npy, .npz[:KEY] or .csv file, got {spec:?}"),
    }
}

/// The classification the flags ask for.
pub(crate) fn request(args: &ClassifyArgs) -> anyhow::Result<ClassifyRequest> {
    Ok(ClassifyRequest {
        thresholds: ThresholdSpec {
            delta_m: Threshold::parse("--delta-m", &args.delta_m)?,
            delta_s: Threshold::parse("--delta-s", &args.delta_s)?,
            f_mem_ratio: args.f_mem_ratio,
        },
        support_quantile: args.support.support_quantile,
        resamples: args.resamples,
        seed: args.seed,
    })
}

pub fn run(args: ClassifyArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let train = points("--train", &args.train)?;
    let samples = points("--samples", &args.samples)?;
    let samples_b = args
        .samples_b
        .as_deref()
        .map(|s| points("--samples-b", s))
        .transpose()?;
    let holdout = args
        .holdout
        .as_deref()
        .map(|s| points("--holdout", s))
        .transpose()?;
    for (flag, x) in [
        ("--samples", Some(&samples)),
        ("--samples-b", samples_b.as_ref()),
        ("--holdout", holdout.as_ref()),
    ] {
        if let Some(x) = x
            && x.ncols() != train.ncols()
        {
            anyhow::bail!(
                "{flag} must have the dimension of --train ({}), got {}",
                train.ncols(),
                x.ncols()
            );
        }
    }
    let run = classify(
        train.view(),
        samples.view(),
        samples_b.as_ref().map(|b| b.view()),
        holdout.as_ref().map(|h| h.view()),
        &request(&args)?,
    )?;
    if let Some(dir) = &args.out {
        let out = RunDir::create(dir)?;
        let mut manifest = memscape::store::Manifest::new(
            command,
            serde_json::json!({"args": format!("{args:?}")}),
        );
        manifest.files = run.write(&out)?;
        manifest.files.push("manifest.json".into());
        manifest.seeds.insert("bootstrap".into(), args.seed);
        out.write_json("manifest.json", &manifest)?;
    }
    let (c, f) = (&run.classification, &run.fractions);
    eprintln!(
        "memorized {:.3} {:?}, spurious {:.3} {:?}, generalized {:.3} {:?}, off-support {:.3} {:?}, f_mem {:.3} {:?} (delta_m {}, delta_s {})",
        f.memorized.value,
        f.memorized.ci,
        f.spurious.value,
        f.spurious.ci,
        f.generalized.value,
        f.generalized.ci,
        f.off_support.value,
        f.off_support.ci,
        f.f_mem.value,
        f.f_mem.ci,
        significant(c.thresholds.delta_m, 4),
        significant(c.thresholds.delta_s, 4)
    );
    if let Some(chance) = &run.summary.chance {
        let show = |e: &memscape::analysis::samples::classify::Estimate| {
            format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci[0], e.ci[1])
        };
        eprintln!(
            "chance level of {} held-out draws: memorized {}, spurious {}, f_mem {}; excess over it: memorized {}, spurious {}, f_mem {}",
            chance.draws,
            show(&chance.memorized),
            chance
                .spurious
                .as_ref()
                .map_or("— (fewer draws than samples)".into(), show),
            show(&chance.f_mem),
            show(&chance.excess.memorized),
            chance.excess.spurious.as_ref().map_or("—".into(), show),
            show(&chance.excess.f_mem),
        );
    }
    if let Some(f) = &run.summary.fidelity {
        eprintln!(
            "Fréchet distance to held-out data {} (held-out floor {}), precision {:.3}, recall {:.3} (k = {} manifolds)",
            significant(f.frechet, 4),
            significant(f.frechet_heldout, 4),
            f.precision,
            f.recall,
            f.neighbours
        );
    }
    if args.json {
        super::print_json(&run.summary);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape classify` with only the files it asks
    /// for gives `ClassifyRequest::default()`.
    #[test]
    fn classify_without_optional_flags_is_the_library_default_request() {
        let argv = [
            "memscape",
            "classify",
            "--train",
            "t.npy",
            "--samples",
            "s.npy",
        ];
        let crate::flags::Command::Classify(args) = crate::flags::Cli::parse_from(argv).command
        else {
            unreachable!("parsed classify")
        };
        assert_eq!(
            serde_json::to_value(request(&args).unwrap()).unwrap(),
            serde_json::to_value(ClassifyRequest::default()).unwrap()
        );
    }
}
