//! `memscape dynamics`: tau_mem(K), tau_gen and the (K, step) phase table.

use memscape::analysis::samples::classify::ThresholdSpec;
use memscape::dataset::DataSpec;
use memscape::store::{Manifest, RunDir};
use memscape_train::TrainConfig;
use memscape_train::dynamics::{AttractorRequest, DynamicsRequest, DynamicsRun, dynamics};
use memscape_train::train::OverrideError;

use crate::flags::DynamicsArgs;

pub fn run(args: DynamicsArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let ks = super::parse_ks(&args.k)?;
    let data = DataSpec::parse(&args.data)?;
    // the image shape of image data (a U-Net's configuration is checked, and the grid's K
    // chosen, before anything is written)
    anyhow::ensure!(
        args.spur_level > 0.0 && args.spur_level <= 1.0,
        "--spur-level must be in (0, 1], got {}",
        args.spur_level
    );
    let loaded = data.load()?;
    let (image_shape, dim) = (loaded.image_shape, loaded.points.ncols());
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
    let request = DynamicsRequest {
        data,
        ks,
        seeds: args.seeds,
        train: memscape_train::TrainConfig {
            image_shape,
            ..args
                .train
                .config(args.model.architecture(), args.steps, args.checkpoints)
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
        }),
    };
    request.train.validate()?;
    super::note_checkpoints(args.checkpoints, args.steps);
    if let Some(a) = &request.attractors {
        a.census.validate()?;
    }
    let interventions: Vec<(String, TrainConfig)> = args
        .intervention
        .iter()
        .map(|spec| intervention(&request.train, spec))
        .collect::<anyhow::Result<_>>()?;
    let out = RunDir::create(&args.out)?;
    let mut saved = vec![];
    let run = dynamics(request, |k, seed, model, meta| {
        if args.save_checkpoints {
            let dir = format!("checkpoints/k{k}_seed{seed}");
            std::fs::create_dir_all(out.path().join(&dir)).map_err(|e| {
                memscape::Error::file(out.path().join(&dir), format!("cannot create: {e}"))
            })?;
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
    let (results, figures, table) = write_dynamics(&out, ("none", &run), &others, saved, command)?;
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
            for row in &table {
                eprintln!("  {}", row["name"].as_str().unwrap_or(""));
                for k in row["by_k"].as_array().into_iter().flatten() {
                    eprintln!(
                        "    K {:>5}  tau_mem {:>10}  tau_spur {:>10}  spurious attractors {:>6.2}  memories {:>6.2}  saddles {:>6.2}  spurious basin {:>6.3}",
                        k["k"],
                        fmt(k["tau_mem"].as_f64()),
                        fmt(k["tau_spur"].as_f64()),
                        k["spurious_attractors"].as_f64().unwrap_or(f64::NAN),
                        k["memory_attractors"].as_f64().unwrap_or(f64::NAN),
                        k["saddles"].as_f64().unwrap_or(f64::NAN),
                        k["mean_spurious_basin"].as_f64().unwrap_or(f64::NAN),
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
        super::print_json(&results);
    }
    Ok(0)
}

/// Writes a study's run directory: phase.csv, loss.csv, attractors.csv (every run, by
/// intervention), the grid's samples and labels, results.json (with the interventions table),
/// manifest.json, figures and report.html. `base` is the baseline run and its name, `others`
/// the intervention runs. Returns results.json's document, the figures and the table.
pub fn write_dynamics(
    out: &RunDir,
    base: (&str, &DynamicsRun),
    others: &[(String, DynamicsRun)],
    saved: Vec<String>,
    command: Vec<String>,
) -> anyhow::Result<(serde_json::Value, Vec<String>, Vec<serde_json::Value>)> {
    let run = base.1;
    let mut results = run.results();
    let intervention_runs: Vec<(&str, &DynamicsRun)> = std::iter::once(base)
        .chain(others.iter().map(|(n, r)| (n.as_str(), r)))
        .collect();
    let table: Vec<serde_json::Value> = intervention_runs
        .iter()
        .map(|(name, r)| intervention_summary(name, r))
        .collect();
    results["interventions"] = serde_json::json!(table);
    let mut grid_files = vec![];
    if let (Some(k), Some(train)) = (run.request.grid_k, &run.grid_train) {
        out.write_npy("train.npy", train)?;
        grid_files.push("train.npy".to_string());
        for cell in &run.grid {
            let name = format!("samples_{}_k{k}.npy", DynamicsRun::grid_name(cell.step));
            out.write_npy(&name, &cell.samples)?;
            grid_files.push(name);
        }
        out.write_bytes("labels.csv", run.grid_labels_csv().as_bytes())?;
        grid_files.push("labels.csv".into());
    }
    out.write_bytes("phase.csv", run.phase_csv().as_bytes())?;
    if run.request.attractors.is_some() {
        let mut csv = String::new();
        for (name, r) in &intervention_runs {
            for (i, line) in r.attractors_csv().lines().enumerate() {
                if i == 0 && csv.is_empty() {
                    csv += &format!("intervention,{line}\n");
                } else if i > 0 {
                    csv += &format!("{name},{line}\n");
                }
            }
        }
        out.write_bytes("attractors.csv", csv.as_bytes())?;
        grid_files.push("attractors.csv".into());
    }
    out.write_bytes("loss.csv", run.loss_csv().as_bytes())?;
    out.write_json("results.json", &results)?;
    let mut manifest = Manifest::new(command, serde_json::json!({"request": run.request}));
    manifest
        .seeds
        .insert("train".into(), run.request.train.seed);
    manifest
        .seeds
        .insert("sampler".into(), run.request.plan.seed);
    manifest
        .seeds
        .insert("subset".into(), run.request.subset_seed);
    manifest.timings.insert("total_s".into(), run.seconds);
    manifest.files = saved;
    let figures = memscape_report::run_figures(out.path())?;
    manifest.files.extend(figures.iter().cloned());
    manifest.files.extend(grid_files);
    manifest.files.extend(
        [
            "phase.csv",
            "loss.csv",
            "results.json",
            "report.html",
            "manifest.json",
        ]
        .map(String::from),
    );
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    Ok((results, figures, table))
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

/// One intervention's row of the `interventions` table: per K, tau_mem and tau_spur with
/// their intervals, and at the last checkpoint the seed means of the attractor counts by kind,
/// of the shares of samples in memory and spurious basins, and of the mean basin share of a
/// spurious and of a memory attractor.
fn intervention_summary(name: &str, run: &DynamicsRun) -> serde_json::Value {
    let last = run.rows.iter().map(|r| r.step).max().unwrap_or(0);
    let by_k: Vec<serde_json::Value> = run
        .request
        .ks
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let rows: Vec<_> = run
                .rows
                .iter()
                .filter(|r| r.k == k && r.step == last)
                .filter_map(|r| r.attractors.as_ref())
                .collect();
            let mean =
                |f: &dyn Fn(&memscape::analysis::landscape::attractor::CensusSummary) -> f64| {
                    let v: Vec<f64> = rows
                        .iter()
                        .map(|a| f(a))
                        .filter(|v| v.is_finite())
                        .collect();
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                };
            let average = |b: &[f64]| {
                if b.is_empty() {
                    f64::NAN
                } else {
                    b.iter().sum::<f64>() / b.len() as f64
                }
            };
            serde_json::json!({
                "k": k,
                "tau_mem": run.tau_mem[i].step,
                "tau_mem_ci": run.tau_mem[i].ci,
                "tau_spur": run.tau_spur.get(i).and_then(|t| t.step),
                "tau_spur_ci": run.tau_spur.get(i).map(|t| t.ci),
                "memory_attractors": mean(&|a| a.counts.memory as f64),
                "spurious_attractors": mean(&|a| a.counts.spurious as f64),
                "off_support_attractors": mean(&|a| a.counts.off_support as f64),
                "manifolds": mean(&|a| a.counts.manifold as f64),
                "saddles": mean(&|a| a.counts.saddle as f64),
                "uncertain": mean(&|a| a.counts.uncertain as f64),
                "memory_mass": mean(&|a| a.memory_mass),
                "spurious_mass": mean(&|a| a.spurious_mass),
                "manifold_mass": mean(&|a| a.manifold_mass),
                "unsettled_share": mean(&|a| a.unsettled_share),
                "mean_memory_basin": mean(&|a| average(&a.memory_basins)),
                "mean_spurious_basin": mean(&|a| average(&a.spurious_basins)),
            })
        })
        .collect();
    serde_json::json!({
        "name": name,
        "train": run.request.train,
        "step": last,
        "by_k": by_k,
        "fit": run.fit,
        "fit_spur": run.fit_spur,
        "exponent_gap": run.exponent_gap,
    })
}
