//! `memscape trace --run DIR`: every fixed point of a training run followed from checkpoint to
//! checkpoint ([`memscape_train::trace`]): births, deaths and index changes with their steps,
//! each point's life, and the birth of the first large spurious attractor.
//! `memscape trace --checkpoint FILE`: one network's fixed points followed through sigma
//! beside the exact model's ([`memscape::pipeline::sigma_trace`]).

use std::path::PathBuf;

use memscape::analysis::landscape::attractor::CensusSettings;
use memscape::analysis::landscape::trace::TraceEvent;
use memscape::dataset::data_scale;
use memscape::pipeline::{LANDSCAPE_DEFAULTS, LandscapeRequest, check_sigma_range, sigma_trace};
use memscape::sampler::MAP_SIGMA_MIN;
use memscape::store::{CsvTable, Manifest, RunDir};
use memscape_train::folder::CheckpointFolder;
use memscape_train::trace::{RunTrace, WeightPath, trace_checkpoints};

use crate::flags::TraceArgs;

pub fn run(args: TraceArgs, command: Vec<String>) -> anyhow::Result<i32> {
    match (&args.run, &args.checkpoint) {
        (Some(run), _) => training(run.clone(), args, command),
        (None, Some(checkpoint)) => sigma(checkpoint.clone(), args, command),
        (None, None) => unreachable!("clap requires --run or --checkpoint"),
    }
}

/// One checkpoint through sigma, beside the exact model of its training set.
fn sigma(path: PathBuf, args: TraceArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let data = args.data.as_deref().expect("clap requires --data");
    let (model, meta, set) =
        super::checkpoint_and_set(&path, data, args.k, args.holdout, args.subset_seed)?;
    let k = set.train.num_patterns();
    let (train, heldout) = (set.train.points.view(), set.heldout.points.view());
    let scale = data_scale(train);
    let from = args.sigma_from.unwrap_or(MAP_SIGMA_MIN * scale);
    let to = args.sigma_to.unwrap_or(scale);
    check_sigma_range(from, to)?;
    let request = LandscapeRequest {
        sigma: from,
        samples: args.samples,
        eigenvalues: args
            .eigenvalues
            .unwrap_or(LANDSCAPE_DEFAULTS.eigenvalues_for(train.ncols())),
        recovery: 0,
        trials: 1,
        seed: args.sampler_seed,
        census: CensusSettings::default(),
    };
    // bad input is refused before the run directory exists
    request.validate(train.ncols(), heldout)?;
    let out = RunDir::create(&args.out)?;
    let t = sigma_trace(&model, train, heldout, (from, to), &request)?;
    let mut events = CsvTable::new("model,sigma,type,born,died,passing,kernel_dim");
    for (name, side) in [("network", &t.network), ("exact", &t.exact)] {
        for e in &side.interval.events {
            let mut row = vec![name.to_string(), e.theta.exp().to_string()];
            row.extend(event_cells(e));
            events.row(row);
        }
        let iv = &side.interval;
        eprintln!(
            "{name} at K {k}, sigma {from:.4} .. {to:.4}: {} stable and {} other points at the lowest sigma, {} events ({}), {} at the highest ({}); {}; ∂D/∂ln sigma by central differences of {:.1e}; {} denoiser rows, {:.1} s",
            iv.counts_before.minima,
            iv.counts_before.saddles + iv.counts_before.maxima,
            iv.events.len(),
            side.events
                .iter()
                .map(|e| format!("{:.4}", e.sigma))
                .collect::<Vec<_>>()
                .join(", "),
            iv.counts_after.minima,
            if side.one_left {
                "one left"
            } else {
                "more than one left: raise --sigma-to"
            },
            if iv.explained {
                "explained".to_string()
            } else {
                format!(
                    "not explained ({} branches lost, {} points the censuses lacked, {} minima carried against the census's {})",
                    iv.lost,
                    iv.found_before + iv.found_after,
                    iv.counts_carried.minima,
                    iv.counts_after.minima
                )
            },
            iv.theta_step,
            iv.cost.rows,
            side.seconds,
        );
    }
    let document = serde_json::json!({"command": "trace", "checkpoint": path, "step": meta.step,
        "k": k, "sigma": t});
    let files = [
        out.write_json("trace.json", &document)?,
        out.write_bytes("events.csv", events.into_string().as_bytes())?,
        out.write_npy("train.npy", &set.train.points)?,
    ];
    finish(&out, &args, command, &files, &document)
}

/// The figure, the manifest, the report, and the document on stdout with --json.
fn finish(
    out: &RunDir,
    args: &TraceArgs,
    command: Vec<String>,
    files: &[PathBuf],
    document: &serde_json::Value,
) -> anyhow::Result<i32> {
    let mut manifest = Manifest::new(command, serde_json::json!({"args": format!("{args:?}")}));
    manifest.seeds.insert("sampler".into(), args.sampler_seed);
    manifest.files = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    manifest
        .files
        .extend(memscape_report::trace_figure(out.path())?);
    manifest
        .files
        .extend(["report.html".into(), "manifest.json".into()]);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    eprintln!("wrote {}", out.path().display());
    if args.json {
        super::print_json(document);
    }
    Ok(0)
}

/// type, born, died, passing, kernel_dim of an event, as the events tables write them.
fn event_cells(e: &TraceEvent) -> [String; 5] {
    let list = |v: &[usize]| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    [
        serde_name(&e.kind),
        list(&e.born),
        list(&e.died),
        e.passing
            .iter()
            .map(|p| format!("{}>{}", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(" "),
        e.kernel_dim.to_string(),
    ]
}

fn serde_name(kind: &impl serde::Serialize) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A training run through training time.
fn training(run: PathBuf, args: TraceArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let folder = CheckpointFolder::of_run(&run)?;
    let units: Vec<_> = folder
        .units
        .iter()
        .filter(|u| args.k.is_none_or(|k| k == u.k) && args.seed.is_none_or(|s| s == u.seed))
        .collect();
    if units.is_empty() {
        return Err(memscape::Error::invalid(
            "k and seed",
            format!(
                "a unit the run holds: (K, seed) in {:?}",
                folder
                    .units
                    .iter()
                    .map(|u| (u.k, u.seed))
                    .collect::<Vec<_>>()
            ),
            format!("{:?}, {:?}", args.k, args.seed),
        )
        .into());
    }
    if let Some(s) = args.sigma {
        memscape::error::require_positive("sigma", s)?;
    }
    if !(args.spur_level > 0.0 && args.spur_level <= 1.0) {
        return Err(memscape::Error::invalid("spur_level", "in (0, 1]", args.spur_level).into());
    }
    // bad input is refused before the run directory exists
    for u in &units {
        if u.checkpoints.len() < 2 {
            let dir = u
                .checkpoints
                .first()
                .and_then(|c| c.1.parent())
                .unwrap_or(&folder.dir);
            return Err(memscape::Error::file(
                dir,
                format!(
                    "holds {} checkpoint; a trace needs at least two",
                    u.checkpoints.len()
                ),
            )
            .into());
        }
        for w in u.checkpoints.windows(2) {
            if let Err(e) = WeightPath::new(&w[0].2, &w[1].2, 1.0) {
                return Err(memscape::Error::file(
                    &w[1].1,
                    format!("has another architecture than {}: {e}", w[0].1.display()),
                )
                .into());
            }
        }
    }
    let heldout = folder.sets.heldout();
    let mut requests = vec![];
    for u in &units {
        let train = folder.sets.train(u.k)?;
        let d = train.dim();
        let sigma = args
            .sigma
            .unwrap_or(MAP_SIGMA_MIN * data_scale(train.points.view()));
        let request = LandscapeRequest {
            sigma,
            samples: args.samples,
            eigenvalues: args
                .eigenvalues
                .unwrap_or(LANDSCAPE_DEFAULTS.eigenvalues_for(d)),
            recovery: 0,
            trials: 1,
            seed: args.sampler_seed,
            census: CensusSettings::default(),
        };
        request.validate(d, heldout.points.view())?;
        requests.push((train, request));
    }
    let out = RunDir::create(&args.out)?;
    let (mut traces, mut events, mut lives) = (
        vec![],
        CsvTable::new("k,seed,interval,step,type,born,died,passing,kernel_dim"),
        CsvTable::new("k,seed,life,first,born,died,lost,kinds"),
    );
    for (u, (train, request)) in units.into_iter().zip(requests) {
        let models: Vec<_> = u.checkpoints.iter().map(|(s, _, m)| (*s, m)).collect();
        let progress = memscape::progress::Task::start(
            &format!("trace K {} seed {}", u.k, u.seed),
            (2 * models.len() - 1) as u64,
        );
        let t = trace_checkpoints(
            &models,
            train.points.view(),
            heldout.points.view(),
            &request,
            args.spur_level,
            |_, _| progress.advance(1),
        )?;
        for e in &t.diagram.events {
            let mut row = vec![
                u.k.to_string(),
                u.seed.to_string(),
                e.interval.to_string(),
                e.step.to_string(),
            ];
            row.extend(event_cells(&e.event));
            events.row(row);
        }
        for (i, l) in t.diagram.lives.iter().enumerate() {
            let opt = |v: Option<f64>| v.map_or(String::new(), |s| s.to_string());
            lives.row([
                u.k.to_string(),
                u.seed.to_string(),
                i.to_string(),
                l.first.to_string(),
                opt(l.born),
                opt(l.died),
                l.lost.to_string(),
                // step:kind at every traced checkpoint the point is alive at
                l.kinds
                    .iter()
                    .zip(&t.diagram.steps)
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, step)| format!("{step}:{k}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
        }
        eprintln!("{}", summary(u.k, u.seed, &t));
        traces.push(serde_json::json!({"k": u.k, "seed": u.seed, "trace": t}));
    }
    let document = serde_json::json!({"command": "trace", "run": run, "units": traces});
    let files = [
        out.write_json("trace.json", &document)?,
        out.write_bytes("events.csv", events.into_string().as_bytes())?,
        out.write_bytes("lives.csv", lives.into_string().as_bytes())?,
    ];
    finish(&out, &args, command, &files, &document)
}

/// One line per unit: events by type, unexplained intervals, the spurious birth, the cost.
fn summary(k: usize, seed: u64, t: &RunTrace) -> String {
    let d = &t.diagram;
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for e in &d.events {
        let name = serde_json::to_value(e.event.kind).expect("serialises");
        *kinds
            .entry(name.as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let births: usize = d.events.iter().map(|e| e.event.born.len() / 2).sum();
    let deaths: usize = d.events.iter().map(|e| e.event.died.len() / 2).sum();
    format!(
        "K {k} seed {seed} (sigma {:.4}): {} checkpoints, {} lives, {} events ({}; {births} pairs born, {deaths} died), {} of {} intervals unexplained; first spurious attractor of ≥ {} of the samples: {}; census {} rows in {:.1} s, continuation {} rows in {:.1} s",
        t.sigma,
        d.steps.len(),
        d.lives.len(),
        d.events.len(),
        if kinds.is_empty() {
            "none".into()
        } else {
            kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        d.unexplained.len(),
        d.intervals.len(),
        t.spur_level,
        match t.spurious_birth {
            Some((s, true)) => format!("born at step {s:.1}"),
            Some((s, false)) => format!("already there where first found (step {s})"),
            None => "none".into(),
        },
        t.census_rows,
        t.census_seconds,
        t.trace_rows,
        t.trace_seconds,
    )
}
