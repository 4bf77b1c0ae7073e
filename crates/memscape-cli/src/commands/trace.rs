//! `memscape trace --run DIR`: every fixed point of a training run followed from checkpoint to
//! checkpoint ([`memscape_train::trace`]): births, deaths and index changes with their steps,
//! each point's life, and the birth of the first large spurious attractor.

use memscape::analysis::landscape::attractor::CensusSettings;
use memscape::dataset::data_scale;
use memscape::pipeline::{LANDSCAPE_DEFAULTS, LandscapeRequest};
use memscape::sampler::MAP_SIGMA_MIN;
use memscape::store::{CsvTable, Manifest, RunDir};
use memscape_train::folder::CheckpointFolder;
use memscape_train::trace::{RunTrace, WeightPath, trace_checkpoints};

use crate::flags::TraceArgs;

pub fn run(args: TraceArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let folder = CheckpointFolder::of_run(&args.run)?;
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
    let out = RunDir::create(&args.out)?;
    let (mut traces, mut events, mut lives) = (
        vec![],
        CsvTable::new("k,seed,interval,step,type,born,died,passing,kernel_dim"),
        CsvTable::new("k,seed,life,born,died,lost,kinds"),
    );
    for u in units {
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
            let list = |v: &[usize]| {
                v.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            events.row([
                u.k.to_string(),
                u.seed.to_string(),
                e.interval.to_string(),
                e.step.to_string(),
                serde_json::to_value(e.event.kind)
                    .expect("serialises")
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                list(&e.event.born),
                list(&e.event.died),
                e.event
                    .passing
                    .iter()
                    .map(|p| format!("{}>{}", p[0], p[1]))
                    .collect::<Vec<_>>()
                    .join(" "),
                e.event.kernel_dim.to_string(),
            ]);
        }
        for (i, l) in t.diagram.lives.iter().enumerate() {
            let opt = |v: Option<f64>| v.map_or(String::new(), |s| s.to_string());
            lives.row([
                u.k.to_string(),
                u.seed.to_string(),
                i.to_string(),
                opt(l.born),
                opt(l.died),
                l.lost.to_string(),
                l.kinds
                    .iter()
                    .map(|k| if k.is_empty() { "-" } else { k.as_str() })
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
        }
        eprintln!("{}", summary(u.k, u.seed, &t));
        traces.push(serde_json::json!({"k": u.k, "seed": u.seed, "trace": t}));
    }
    let document = serde_json::json!({"command": "trace", "run": args.run, "units": traces});
    let mut files = vec![
        out.write_json("trace.json", &document)?,
        out.write_bytes("events.csv", events.into_string().as_bytes())?,
        out.write_bytes("lives.csv", lives.into_string().as_bytes())?,
    ];
    let mut manifest = Manifest::new(command, serde_json::json!({"args": format!("{args:?}")}));
    manifest.seeds.insert("sampler".into(), args.sampler_seed);
    files.push(out.path().join("manifest.json"));
    manifest.files = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    out.write_json("manifest.json", &manifest)?;
    eprintln!("wrote {}", out.path().display());
    if args.json {
        super::print_json(&document);
    }
    Ok(0)
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
            Some((s, false)) => format!("present from the first checkpoint (step {s})"),
            None => "none".into(),
        },
        t.census_rows,
        t.census_seconds,
        t.trace_rows,
        t.trace_seconds,
    )
}
