//! `memscape train`: one score network on K patterns, checkpoints along training.

use memscape::dataset::DataSpec;
use memscape::error::significant;
use memscape::pipeline::training_set;
use memscape::store::{CsvTable, Manifest, RunDir};

use crate::flags::TrainCmdArgs;

pub fn run(args: TrainCmdArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let data = DataSpec::parse(&args.data.data)?;
    let set = training_set(
        &data,
        args.k,
        Some(args.data.holdout),
        args.data.subset_seed,
    )?;
    let config = memscape_train::TrainConfig {
        image_shape: set.train.image_shape,
        ..args
            .train
            .config(args.model.architecture(), args.steps, args.checkpoints)
    };
    config.validate()?;
    super::note_checkpoints(args.checkpoints, args.steps);
    let out = RunDir::create(&args.out)?;
    std::fs::create_dir_all(out.path().join("checkpoints"))?;
    out.write_npy("train.npy", &set.train.points)?;
    let heldout = (set.heldout.num_patterns() > 0).then(|| set.heldout.points.view());
    let mut evals = CsvTable::new("step,train_loss,test_loss,checkpoint");
    let mut files = vec!["train.npy".to_string()];
    let run = memscape_train::train(
        &config,
        set.train.points.view(),
        heldout,
        |model, meta, point| {
            let name = format!(
                "checkpoints/{}",
                memscape_train::model::checkpoint_file(meta.step)
            );
            model.save(&out.path().join(&name), meta)?;
            evals.row([
                point.step.to_string(),
                point.train_loss.to_string(),
                point.test_loss.to_string(),
                name.clone(),
            ]);
            // rewritten at every checkpoint, so an interrupted run keeps its table too
            out.rewrite_bytes("evals.csv", evals.text().as_bytes())?;
            files.push(name);
            Ok(())
        },
    )?;
    let mut loss = CsvTable::new("step,loss");
    for (i, l) in run.losses.iter().enumerate() {
        loss.row([(i + 1).to_string(), l.to_string()]);
    }
    let loss = loss.into_string();
    out.write_bytes("loss.csv", loss.as_bytes())?;
    let steps_per_s = run.losses.len() as f64 / run.seconds;
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"data": data, "k": args.k, "holdout": args.data.holdout, "train": config,
            "parameters": run.model.network.num_parameters()}),
    );
    manifest.seeds.insert("train".into(), config.seed);
    manifest
        .seeds
        .insert("subset".into(), args.data.subset_seed);
    manifest.timings.insert("train_s".into(), run.seconds);
    manifest.files = files;
    manifest.files.extend([
        "evals.csv".into(),
        "loss.csv".into(),
        "manifest.json".into(),
    ]);
    out.write_json("manifest.json", &manifest)?;
    let last = run.evals.last().expect("the last step is a checkpoint");
    eprintln!(
        "trained a {}-parameter {} on K = {} patterns: {} steps in {:.1} s ({steps_per_s:.2} steps/s); loss train {}, held-out {}; wrote {}",
        run.model.network.num_parameters(),
        run.model.network.architecture().name(),
        args.k,
        run.losses.len(),
        run.seconds,
        significant(last.train_loss, 4),
        if last.test_loss.is_finite() {
            significant(last.test_loss, 4)
        } else {
            "— (no --holdout)".into()
        },
        out.path().display()
    );
    if args.json {
        super::print_json(&serde_json::json!({
            "command": "train",
            "out": out.path(),
            "k": args.k,
            "steps": run.losses.len(),
            "evals": run.evals,
            "seconds": run.seconds,
            "steps_per_s": steps_per_s,
            "files": manifest.files,
        }));
    }
    Ok(0)
}
