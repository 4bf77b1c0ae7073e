//! `memscape dynamics`: tau_mem(K), tau_gen and the (K, step) phase table.

use memscape::analysis::samples::classify::ThresholdSpec;
use memscape::dataset::DataSpec;
use memscape::store::RunDir;
use memscape_train::TrainConfig;
use std::path::Path;

use memscape_train::dynamics::{
    AttractorRequest, DYNAMICS_DEFAULTS, DynamicsPlan, DynamicsRequest, DynamicsRun, dynamics,
    given_dynamics,
};
use memscape_train::folder::CheckpointFolder;
use memscape_train::train::OverrideError;

use crate::flags::{CheckpointsArg, DynamicsArgs};

/// The study the flags ask for, checked: the K list, the training configuration of the
/// data's image shape, the spurious level and the eigenvalues against the data's dimension.
pub(crate) fn request(args: &DynamicsArgs) -> anyhow::Result<DynamicsRequest> {
    let ks = super::parse_ks(&args.k)?;
    let data = DataSpec::parse(&args.data)?;
    // the image shape of image data (a U-Net's configuration is checked, and the grid's K
    // chosen, before anything is written)
    let loaded = data.load()?;
    let request = study(args, data, ks, loaded.points.ncols(), loaded.image_shape)?;
    request.train.validate()?;
    Ok(request)
}

/// The study of `ks` on data of dimension `dim` (and `image_shape`), from the flags.
fn study(
    args: &DynamicsArgs,
    data: DataSpec,
    ks: Vec<usize>,
    dim: usize,
    image_shape: Option<(usize, usize)>,
) -> anyhow::Result<DynamicsRequest> {
    anyhow::ensure!(
        args.spur_level > 0.0 && args.spur_level <= 1.0,
        "--spur-level must be in (0, 1], got {}",
        args.spur_level
    );
    let eigenvalues = match args.eigenvalues {
        Some(e) if e > dim => {
            anyhow::bail!("--eigenvalues must be at most the data's dimension {dim}, got {e}")
        }
        Some(e) => e,
        None => AttractorRequest::default().eigenvalues.min(dim),
    };
    let grid_k = args
        .grid_k
        .or_else(|| image_shape.map(|_| ks[ks.len() / 2]));
    let checkpoints = match args.checkpoints {
        CheckpointsArg::Count(n) => n,
        CheckpointsArg::Folder(_) => DYNAMICS_DEFAULTS.checkpoints,
    };
    let request = DynamicsRequest {
        data,
        ks,
        seeds: args.seeds,
        train: memscape_train::TrainConfig {
            image_shape,
            ..args
                .train
                .config(args.model.architecture(), args.steps, checkpoints)
        },
        subset_seed: args.subset_seed,
        holdout: args.holdout,
        support_quantile: args.support.support_quantile,
        plan: args.integrator.plan(args.sample_steps)?,
        num_samples: args.n_samples,
        thresholds: ThresholdSpec::default(),
        fmem_level: args.fmem_level,
        gen_level: args.gen_level,
        resamples: args.resamples,
        grid_k,
        attractors: (!args.no_attractors).then_some(AttractorRequest {
            spur_level: args.spur_level,
            max_groups: args.attractor_groups,
            eigenvalues,
            census: args.census.settings(),
            trace: args.trace,
        }),
    };
    if let Some(a) = &request.attractors {
        a.census.validate()?;
    }
    Ok(request)
}

/// `dynamics --checkpoints DIR`: the study of networks trained elsewhere.
fn run_folder(args: &DynamicsArgs, dir: &Path, command: Vec<String>) -> anyhow::Result<i32> {
    anyhow::ensure!(
        args.intervention.is_empty() && !args.save_checkpoints && !args.trace,
        "--intervention, --save-checkpoints and --trace need networks the study trains; with --checkpoints {} none is trained (trace a folder's runs with memscape trace --run)",
        dir.display()
    );
    let folder = CheckpointFolder::read(dir)?;
    let ks = folder.ks();
    let first = folder.sets.train(ks[0])?;
    let data = DataSpec::Given {
        source: dir.display().to_string(),
    };
    let mut request = study(args, data, ks, first.dim(), first.image_shape)?;
    request.holdout = folder.sets.holdout();
    request.train.architecture = folder.units[0].checkpoints[0].2.network.architecture();
    let run = given_dynamics(request, folder.sets.clone(), &folder.given_units())?;
    let out = RunDir::create(&args.out)?;
    report(args, &out, &run, &[], vec![], command)
}

pub fn run(args: DynamicsArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let checkpoints = match &args.checkpoints {
        CheckpointsArg::Folder(dir) => return run_folder(&args, dir, command),
        CheckpointsArg::Count(n) => *n,
    };
    let request = request(&args)?;
    super::note_checkpoints(checkpoints, args.steps);
    let interventions: Vec<(String, TrainConfig)> = args
        .intervention
        .iter()
        .map(|spec| intervention(&request.train, spec))
        .collect::<anyhow::Result<_>>()?;
    let out = RunDir::create(&args.out)?;
    let mut saved = vec![];
    if args.save_checkpoints {
        // the layout `--checkpoints DIR` reads back: K{K}/train.npy, heldout.npy
        let plan = DynamicsPlan::new(request.clone())?;
        for &k in &request.ks {
            let dir = format!("checkpoints/K{k}");
            create_dir(&out, &dir)?;
            let name = format!("{dir}/train.npy");
            out.write_npy(&name, &plan.training_sets().train(k)?.points)?;
            saved.push(name);
        }
        if request.holdout > 0 {
            out.write_npy(
                "checkpoints/heldout.npy",
                &plan.training_sets().heldout().points,
            )?;
            saved.push("checkpoints/heldout.npy".into());
        }
    }
    let run = dynamics(request, |k, seed, model, meta| {
        if args.save_checkpoints {
            let dir = format!("checkpoints/K{k}/seed{seed}");
            create_dir(&out, &dir)?;
            let name = format!(
                "{dir}/{}",
                memscape_train::model::checkpoint_file(meta.step)
            );
            model.save(&out.path().join(&name), meta)?;
            saved.push(name);
        }
        Ok(())
    })?;
    let mut others = vec![];
    for (name, train) in interventions {
        eprintln!("intervention {name}");
        let other = dynamics(
            DynamicsRequest {
                train,
                grid_k: None,
                ..run.request.clone()
            },
            |_, _, _, _| Ok(()),
        )?;
        others.push((name, other));
    }
    report(&args, &out, &run, &others, saved, command)
}

/// Creates the folder `dir` of the run directory.
fn create_dir(out: &RunDir, dir: &str) -> memscape::Result<()> {
    std::fs::create_dir_all(out.path().join(dir))
        .map_err(|e| memscape::Error::file(out.path().join(dir), format!("cannot create: {e}")))
}

/// Writes the run directory and report, and prints the taus, fits and interventions.
fn report(
    args: &DynamicsArgs,
    out: &RunDir,
    run: &DynamicsRun,
    others: &[(String, DynamicsRun)],
    saved: Vec<String>,
    command: Vec<String>,
) -> anyhow::Result<i32> {
    let (results, figures) =
        memscape_report::write_dynamics(out, ("none", run), others, saved, command)?;
    let fmt = |t: Option<f64>| t.map_or("not reached".to_string(), |v| format!("{v:.0}"));
    eprintln!(
        "{:>6}  {:>12}  {:>25}  {:>10}  {:>12}  {:>25}",
        "K", "tau_mem", "95% CI", "tau_gen", "tau_gen(MMD)", "95% CI"
    );
    let taus = run
        .tau_mem
        .iter()
        .zip(&run.tau_gen)
        .zip(&run.tau_gen_quality);
    for ((m, g), q) in taus {
        eprintln!(
            "{:>6}  {:>12}  {:>25}  {:>10}  {:>12}  {:>25}",
            m.k,
            fmt(m.step),
            format!("[{}, {}]", fmt(m.ci[0]), fmt(m.ci[1])),
            fmt(g.step),
            fmt(q.step),
            format!("[{}, {}]", fmt(q.ci[0]), fmt(q.ci[1])),
        );
    }
    if run.request.attractors.is_some() {
        eprintln!(
            "{:>6}  {:>12}  {:>25}  {:>10}  {:>21}",
            "K", "tau_spur", "95% CI", "spur/mem", "95% CI"
        );
        for (t, r) in run.tau_spur.iter().zip(&run.spur_ratio) {
            let ratio = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
            eprintln!(
                "{:>6}  {:>12}  {:>25}  {:>10}  {:>21}",
                t.k,
                fmt(t.step),
                format!("[{}, {}]", fmt(t.ci[0]), fmt(t.ci[1])),
                ratio(r.ratio),
                format!("[{}, {}]", ratio(r.ci[0]), ratio(r.ci[1]))
            );
        }
        if !run.tau_spur_birth.is_empty() {
            eprintln!(
                "{:>6}  {:>12}  {:>12}  {:>18}  {:>25}",
                "K", "tau_mem", "tau_spur", "tau_spur (births)", "95% CI over seeds"
            );
            for ((b, m), t) in run
                .tau_spur_birth
                .iter()
                .zip(&run.tau_mem)
                .zip(&run.tau_spur)
            {
                eprintln!(
                    "{:>6}  {:>12}  {:>12}  {:>18}  {:>25}",
                    b.k,
                    fmt(m.step),
                    fmt(t.step),
                    fmt(b.step),
                    format!("[{}, {}]", fmt(b.ci[0]), fmt(b.ci[1]))
                );
            }
            match &run.fit_spur_birth {
                Some(f) => eprintln!(
                    "tau_spur (births) = {} K^p with p = {:.3} [{:.3}, {:.3}] over {} K values",
                    memscape::error::significant(f.a, 4),
                    f.p,
                    f.ci[0],
                    f.ci[1],
                    f.num_k
                ),
                None => eprintln!(
                    "no fit of tau_spur (births): reached at fewer than two K values in every seed"
                ),
            }
            for (k, seed, t) in &run.traces {
                let d = &t.diagram;
                eprintln!(
                    "trace K {k} seed {seed}: {} lives, {} events, {} of {} intervals unexplained; {}",
                    d.lives.len(),
                    d.events.len(),
                    d.unexplained.len(),
                    d.intervals.len(),
                    match t.spurious_birth {
                        Some((s, true)) =>
                            format!("first large spurious attractor born at step {s:.1}"),
                        Some((s, false)) => format!(
                            "first large spurious attractor already there at step {s} (first found)"
                        ),
                        None => "no large spurious attractor".into(),
                    }
                );
            }
        }
        let early: Vec<String> = run
            .rows
            .iter()
            .filter(|r| r.attractors.as_ref().is_some_and(|a| !a.readable))
            .map(|r| format!("K {} seed {} step {}", r.k, r.seed, r.step))
            .collect();
        if !early.is_empty() {
            eprintln!(
                "too early to read (no attractor, most samples unsettled): {}",
                early.join("; ")
            );
        }
        if let Some(g) = &run.exponent_gap {
            eprintln!(
                "p_spur − p_mem = {:.3} [{:.3}, {:.3}] ({} paired resamples; 0: tau_spur/tau_mem does not depend on K)",
                g.gap, g.ci[0], g.ci[1], g.resamples
            );
        }
        if !others.is_empty() {
            eprintln!(
                "interventions (last checkpoint, seed means): see results.json \"interventions\""
            );
            let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
            for row in &results.interventions {
                eprintln!("  {}", row.name);
                for k in &row.by_k {
                    eprintln!(
                        "    K {:>5}  tau_mem {:>10}  tau_spur {:>10}  spurious attractors {:>6.2}  memories {:>6.2}  saddles {:>6.2}  spurious basin {:>6.3}",
                        k.k,
                        fmt(k.tau_mem),
                        fmt(k.tau_spur),
                        nan(k.spurious_attractors),
                        nan(k.memory_attractors),
                        nan(k.saddles),
                        nan(k.mean_spurious_basin),
                    );
                }
            }
        }
    }
    match &run.fit {
        Some(f) => eprintln!(
            "tau_mem = {} K^p with p = {:.3} [{:.3}, {:.3}] over {} K values (f_mem level {}; \
             interval from the {} of {} resamples in which every one of them crossed)",
            memscape::error::significant(f.a, 4),
            f.p,
            f.ci[0],
            f.ci[1],
            f.num_k,
            run.request.fmem_level,
            f.resamples,
            run.request.resamples
        ),
        None => eprintln!("no fit: tau_mem was reached at fewer than two K values"),
    }
    eprintln!(
        "wrote {} ({}, report.html) in {:.1} s",
        out.path().display(),
        figures.join(", "),
        run.seconds
    );
    if args.json {
        super::print_json(&memscape::store::sorted_json(&results));
    }
    Ok(0)
}

/// The training fields `--intervention` takes, as the flag spells them.
const INTERVENTION_KEYS: [&str; 7] = [
    "dropout",
    "weight-decay",
    "input-noise",
    "ema",
    "lr",
    "width",
    "depth",
];

/// The training configuration of one `--intervention` spec: comma-separated `key=value`
/// overrides of `base` (numbers), read by [`TrainConfig::with_overrides`].
fn intervention(base: &TrainConfig, spec: &str) -> anyhow::Result<(String, TrainConfig)> {
    let mut overrides = serde_json::Map::new();
    for part in spec.split(',') {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            anyhow::anyhow!(
                "--intervention must be key=value pairs separated by commas, got {spec:?}"
            )
        })?;
        let key = key.trim();
        if !INTERVENTION_KEYS.contains(&key) {
            anyhow::bail!(
                "--intervention: unknown key {key:?} in {spec:?} (keys: {})",
                INTERVENTION_KEYS.join(", ")
            );
        }
        // Rust's own number syntax (".1", "+32", "04"): an integer where one reads, else a
        // finite float
        let number = match value.trim().parse::<u64>() {
            Ok(n) => serde_json::Number::from(n),
            Err(_) => value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--intervention: {key} must be a number, got {value:?} in {spec:?}"
                    )
                })?,
        };
        overrides.insert(key.replace('-', "_"), number.into());
    }
    let train = base.with_overrides(overrides, &[]).map_err(|e| match e {
        OverrideError::Invalid { key, message } => anyhow::anyhow!(
            "--intervention: {}: {message} (in {spec:?})",
            key.replace('_', "-")
        ),
        OverrideError::Unknown { .. } => unreachable!("INTERVENTION_KEYS are TrainConfig fields"),
    })?;
    train
        .validate()
        .map_err(|e| anyhow::anyhow!("--intervention {spec:?}: {e}"))?;
    Ok((spec.to_string(), train))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape dynamics` without flags asks the library
    /// for `DynamicsRequest::default()`, its census's eigenvalues capped at the default data's
    /// dimension.
    #[test]
    fn dynamics_without_flags_is_the_library_default_request() {
        let cli = crate::flags::Cli::parse_from(["memscape", "dynamics"]);
        let crate::flags::Command::Dynamics(args) = cli.command else {
            unreachable!("parsed dynamics")
        };
        let mut expected = DynamicsRequest::default();
        let dim = expected.data.load().unwrap().dim();
        let census = expected.attractors.as_mut().unwrap();
        census.eigenvalues = census.eigenvalues.min(dim);
        assert_eq!(
            serde_json::to_value(request(&args).unwrap()).unwrap(),
            serde_json::to_value(expected).unwrap()
        );
    }
}
