//! `memscape dynamics`: tau_mem(K), tau_gen and the (K, step) phase table.

use memscape::analysis::classify::ThresholdSpec;
use memscape::dataset::DataSpec;
use memscape::store::{Manifest, RunDir};
use memscape_train::dynamics::{DynamicsRequest, dynamics};

use crate::flags::DynamicsArgs;

pub fn run(args: DynamicsArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let ks = super::parse_ks(&args.k)?;
    let data = DataSpec::parse(&args.data)?;
    // the image shape of image data (a U-Net's configuration is checked, and the grid's K
    // chosen, before anything is written)
    let image_shape = data.load()?.image_shape;
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
        plan: args
            .integrator
            .plan(args.sigma_min, args.sample_steps, args.seed)?,
        num_samples: args.n_samples,
        thresholds: ThresholdSpec::default(),
        fmem_level: args.fmem_level,
        resamples: args.resamples,
        grid_k,
    };
    request.train.validate()?;
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
    let results = run.results();
    let mut grid_files = vec![];
    if let (Some(k), Some(train)) = (run.request.grid_k, &run.grid_train) {
        out.write_npy("train.npy", train)?;
        grid_files.push("train.npy".to_string());
        for cell in &run.grid {
            let name = format!(
                "samples_{}_k{k}.npy",
                memscape_train::dynamics::DynamicsRun::grid_name(cell.step)
            );
            out.write_npy(&name, &cell.samples)?;
            grid_files.push(name);
        }
        out.write_bytes("labels.csv", run.grid_labels_csv().as_bytes())?;
        grid_files.push("labels.csv".into());
    }
    out.write_bytes("phase.csv", run.phase_csv().as_bytes())?;
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
    let fmt = |t: Option<f64>| t.map_or("not reached".to_string(), |v| format!("{v:.0}"));
    eprintln!(
        "{:>6}  {:>12}  {:>25}  {:>10}",
        "K", "tau_mem", "95% CI", "tau_gen"
    );
    for (m, g) in run.tau_mem.iter().zip(&run.tau_gen) {
        eprintln!(
            "{:>6}  {:>12}  {:>25}  {:>10}",
            m.k,
            fmt(m.step),
            format!("[{}, {}]", fmt(m.ci[0]), fmt(m.ci[1])),
            fmt(g.step)
        );
    }
    match &run.fit {
        Some(f) => eprintln!(
            "tau_mem = {:.3} K^p with p = {:.3} [{:.3}, {:.3}] over {} K values (f_mem level {}; \
             interval from the {} of {} resamples in which every one of them crossed)",
            f.a,
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
