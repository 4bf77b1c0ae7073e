//! `memscape classify`: memorized / spurious / generalized and f_mem for samples from anywhere.

use memscape::analysis::samples::classify::{
    ClassifySummary, Threshold, ThresholdSpec, classify, fractions,
};
use memscape::analysis::samples::support::SupportGate;
use memscape::dataset::DataSpec;
use memscape::error::significant;
use memscape::store::CsvTable;
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
    let spec = ThresholdSpec {
        delta_m: Threshold::parse("--delta-m", &args.delta_m)?,
        delta_s: Threshold::parse("--delta-s", &args.delta_s)?,
        f_mem_ratio: args.f_mem_ratio,
    };
    let gate = holdout
        .as_ref()
        .map(|h| SupportGate::calibrate_user(train.view(), h.view(), args.support.support_quantile))
        .transpose()?;
    let c = classify(
        train.view(),
        samples.view(),
        samples_b.as_ref().map(|b| b.view()),
        &spec,
        gate.as_ref(),
    )?;
    let f = fractions(&c, args.resamples, args.seed);
    let result = ClassifySummary::new(&c, &f, train.nrows(), samples_b.is_some());
    if let Some(dir) = &args.out {
        let out = RunDir::create(dir)?;
        let mut labels = CsvTable::new(memscape::analysis::samples::classify::CSV_HEADER);
        for row in c.csv_rows() {
            labels.row(row);
        }
        out.write_bytes("labels.csv", labels.into_string().as_bytes())?;
        out.write_json("results.json", &result)?;
        let mut manifest = memscape::store::Manifest::new(
            command,
            serde_json::json!({"args": format!("{args:?}")}),
        );
        manifest.files = vec![
            "labels.csv".into(),
            "results.json".into(),
            "manifest.json".into(),
        ];
        manifest.seeds.insert("bootstrap".into(), args.seed);
        out.write_json("manifest.json", &manifest)?;
    }
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
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}
