//! Issue 10 end to end: the attractors of trained networks along training (`dynamics`: the
//! census, tau_spur against tau_mem, interventions) and at one checkpoint (`attractors
//! --checkpoint`), and their bad inputs as one line and exit 2.

mod common;
use common::{assert_figure, csv_rows, json, memscape};

use std::collections::HashMap;
use std::path::Path;

/// The census's kinds, as the JSON and CSV name them.
const KINDS: [&str; 6] = [
    "memory",
    "spurious",
    "off_support",
    "manifold",
    "saddle",
    "uncertain",
];

/// The seed-averaged curve of `key` (a number inside each row's `attractors`) at K = k.
fn seed_mean(rows: &[serde_json::Value], k: u64, key: &str) -> Vec<(f64, f64)> {
    let mut steps: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    steps.sort();
    steps.dedup();
    steps
        .iter()
        .map(|&s| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r["k"] == k && r["step"] == s)
                .map(|r| r["attractors"][key].as_f64().unwrap())
                .collect();
            (s as f64, v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect()
}

/// The first crossing of `level`, interpolated in ln step (the definition of tau_spur).
fn first_crossing(curve: &[(f64, f64)], level: f64) -> Option<f64> {
    let i = curve.iter().position(|c| c.1 >= level)?;
    if i == 0 {
        return Some(curve[0].0);
    }
    let ((s0, f0), (s1, f1)) = (curve[i - 1], curve[i]);
    Some((s0.ln() + (level - f0) / (f1 - f0) * (s1.ln() - s0.ln())).exp())
}

#[test]
fn dynamics_counts_attractors_and_times_their_onset_with_interventions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dyn");
    let run = memscape(&[
        "dynamics",
        "--data",
        "circle",
        "--k",
        "4,8",
        "--steps",
        "800",
        "--checkpoints",
        "5",
        "--seeds",
        "3",
        "--width",
        "64",
        "--depth",
        "2",
        "--train-batch",
        "64",
        "--holdout",
        "200",
        "--n-samples",
        "100",
        "--sample-steps",
        "30",
        "--resamples",
        "50",
        "--spur-level",
        "0.05",
        "--intervention",
        "dropout=0.1",
        "--intervention",
        "weight-decay=0.1",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let j = json(&run);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("tau_spur") && stderr.contains("spur/mem"),
        "{stderr}"
    );
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 3 * 5);
    // every row's counts are its lines of attractors.csv, by kind; the masses are the sums of
    // the basins of their kind
    let table = csv_rows(&out.join("attractors.csv"));
    for r in rows {
        let a = &r["attractors"];
        let mine: Vec<&HashMap<String, String>> = table
            .iter()
            .filter(|t| {
                t["intervention"] == "none"
                    && ["k", "seed", "step"]
                        .iter()
                        .all(|key| t[*key].parse::<u64>().ok() == r[*key].as_u64())
            })
            .collect();
        for kind in KINDS {
            let n = mine.iter().filter(|t| t["kind"] == kind).count();
            assert_eq!(
                a["counts"][kind].as_u64().unwrap() as usize,
                n,
                "{kind}: {r}"
            );
        }
        for (kind, mass) in [("memory", "memory_mass"), ("spurious", "spurious_mass")] {
            let sum: f64 = mine
                .iter()
                .filter(|t| t["kind"] == kind)
                .map(|t| t["basin"].parse::<f64>().unwrap())
                .sum();
            assert!(
                (sum - a[mass].as_f64().unwrap()).abs() < 1e-9,
                "{mass}: {r}"
            );
        }
        // saddles have no basin; every listed fixed point is a fixed point
        for t in &mine {
            if t["kind"] == "saddle" {
                assert!(t["index"].parse::<usize>().unwrap() >= 1);
            }
            // a manifold's point is a settled sample, drifting below 0.1 sigma = 0.002
            let bound = if t["kind"] == "manifold" { 2e-3 } else { 1e-3 };
            assert!(t["residual"].parse::<f64>().unwrap() < bound, "{t:?}");
        }
    }
    // an untrained network (step 1: D near the identity) has no attractors and is too early to
    // read; no spurious basin counts there (issue 25: tau_spur fired on such transients)
    for r in rows.iter().filter(|r| r["step"] == 1) {
        let a = &r["attractors"];
        assert_eq!(a["readable"], false, "{r}");
        assert_eq!(a["persistent_spurious_mass"].as_f64(), Some(0.0), "{r}");
    }
    // tau_spur from the rows: the seed-mean share of samples in persistent spurious basins
    // first reaching 0.05; the ratio to tau_mem where both exist
    for (i, k) in [4u64, 8].into_iter().enumerate() {
        let expected = first_crossing(&seed_mean(rows, k, "persistent_spurious_mass"), 0.05);
        let tau = &j["tau_spur"][i];
        assert_eq!(tau["k"], k);
        match expected {
            Some(t) => {
                let step = tau["step"].as_f64().unwrap();
                assert!((step - t).abs() < 1e-9 * t, "K = {k}: {step} vs {t}");
                let mem = j["tau_mem"][i]["step"].as_f64();
                let ratio = j["spur_ratio"][i]["ratio"].as_f64();
                assert_eq!(ratio.is_some(), mem.is_some());
                if let (Some(m), Some(r)) = (mem, ratio) {
                    assert!((r - step / m).abs() < 1e-12 * r);
                }
            }
            None => assert!(tau["step"].is_null(), "{tau}"),
        }
    }
    // the interventions: one entry each, per K, with counts; their attractors in the CSV
    let interventions = j["interventions"].as_array().unwrap();
    let names: Vec<&str> = interventions
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["none", "dropout=0.1", "weight-decay=0.1"]);
    assert_eq!(interventions[1]["train"]["dropout"], 0.1);
    assert_eq!(interventions[2]["train"]["weight_decay"], 0.1);
    for i in interventions {
        assert_eq!(i["by_k"].as_array().unwrap().len(), 2);
        for k in i["by_k"].as_array().unwrap() {
            assert!(
                k["memory_attractors"].is_number() && k["saddles"].is_number(),
                "{k}"
            );
        }
        let name = i["name"].as_str().unwrap();
        assert!(table.iter().any(|t| t["intervention"] == name), "{name}");
    }
    // the baseline's summary is its own last checkpoint's seed means
    let last = rows
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .max()
        .unwrap();
    let mean_memories: f64 = rows
        .iter()
        .filter(|r| r["k"] == 4 && r["step"] == last)
        .map(|r| r["attractors"]["counts"]["memory"].as_f64().unwrap())
        .sum::<f64>()
        / 3.0;
    let summary = interventions[0]["by_k"][0]["memory_attractors"]
        .as_f64()
        .unwrap();
    assert!((summary - mean_memories).abs() < 1e-12);
    for stem in ["attractor_counts", "tau_spur", "basin_sizes"] {
        assert_figure(&out, stem);
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Attractors along training") && html.contains("<h3>Interventions</h3>"));
}

fn train(out: &Path) {
    let r = memscape(&[
        "train",
        "--data",
        "gmm:d=4,n=300",
        "--k",
        "12",
        "--steps",
        "1500",
        "--checkpoints",
        "2",
        "--width",
        "64",
        "--depth",
        "2",
        "--train-batch",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn attractors_of_a_checkpoint_are_fixed_points_with_kinds_basins_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    train(&net);
    let ckpt = net.join("checkpoints/step_00001500.safetensors");
    let args = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> = [
            "attractors",
            "--data",
            "gmm:d=4,n=300",
            "--k",
            "12",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--sigma",
            "0.1",
            "--samples",
            "200",
            "--recovery",
            "2",
            "--trials",
            "16",
            "--holdout",
            "100",
            "--json",
            "--out",
        ]
        .map(String::from)
        .to_vec();
        v.push(out.to_str().unwrap().to_string());
        v
    };
    let out = dir.path().join("att");
    let j = json(
        &std::process::Command::new(env!("CARGO_BIN_EXE_memscape"))
            .args(args(&out))
            .output()
            .unwrap(),
    );
    let points = j["critical_points"].as_array().unwrap();
    assert!(!points.is_empty());
    let mut basins = 0.0;
    for p in points {
        // a fixed point: |x − D(x)| within the Newton tolerance the run used
        let tolerance = j["census"]["config"]["fixed"]["tolerance"]
            .as_f64()
            .unwrap();
        // (a manifold's point is a settled sample, drifting below 0.1 sigma)
        let bound = if p["kind"] == "manifold" {
            0.01
        } else {
            tolerance
        };
        assert!(p["residual"].as_f64().unwrap() <= bound, "{p}");
        let kind = p["kind"].as_str().unwrap();
        let certified = p["certified"].as_bool().unwrap();
        // a manifold's point has an eigenvalue within the margin of 1: not certified, by kind
        assert_eq!(kind == "uncertain" || kind == "manifold", !certified, "{p}");
        if certified {
            let index = p["index"].as_u64().unwrap();
            assert_eq!(index == 0, kind != "saddle", "{p}");
            // the gap 1 − Re λ_max is positive exactly at stable points
            assert_eq!(p["gap"].as_f64().unwrap() > 0.0, index == 0, "{p}");
        }
        basins += p["basin"].as_f64().unwrap();
    }
    assert!(basins <= 1.0 + 1e-12);
    for kind in KINDS {
        let n = points.iter().filter(|p| p["kind"] == kind).count();
        assert_eq!(j["counts"][kind].as_u64().unwrap() as usize, n, "{kind}");
    }
    // recovery levels: inside their interval, radius = s* Φ⁻¹(0.9), one level per trial
    for r in j["recovery"].as_array().unwrap() {
        let v = &r["recovery"];
        let s = v["critical_sigma"].as_f64().unwrap();
        assert!(v["ci"][0].as_f64().unwrap() <= s && s <= v["ci"][1].as_f64().unwrap());
        assert!((v["radius"].as_f64().unwrap() - s * 1.2815515655446004).abs() < 1e-9 * s);
        assert_eq!(v["trial_levels"].as_array().unwrap().len(), 16);
    }
    assert!(out.join("samples.npy").is_file() && out.join("report.html").is_file());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Fixed points of the network at step 1500"));
    // the same seed on one thread: the same points, kinds, basins and recovery levels
    let one = dir.path().join("one");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_memscape"))
        .env("RAYON_NUM_THREADS", "1")
        .args(args(&one))
        .output()
        .unwrap();
    let mut k = json(&r);
    let mut j = j;
    for v in [&mut j, &mut k] {
        v["seconds"] = serde_json::Value::Null;
    }
    assert_eq!(j, k);
}

#[test]
fn attractors_on_a_2d_checkpoint_draw_the_trained_landscape() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let r = memscape(&[
        "train",
        "--data",
        "circle",
        "--k",
        "6",
        "--steps",
        "1500",
        "--checkpoints",
        "1",
        "--width",
        "64",
        "--depth",
        "2",
        "--train-batch",
        "64",
        "--out",
        net.to_str().unwrap(),
    ]);
    assert!(r.status.success());
    let out = dir.path().join("att");
    let j = json(&memscape(&[
        "attractors",
        "--data",
        "circle",
        "--k",
        "6",
        "--checkpoint",
        net.join("checkpoints/step_00001500.safetensors")
            .to_str()
            .unwrap(),
        "--sigma",
        "0.05",
        "--samples",
        "200",
        "--recovery",
        "0",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert!(j["grids"].is_object());
    for stem in ["landscape", "basins"] {
        assert_figure(&out, stem);
    }
}

#[test]
fn bad_attractor_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    train(&net);
    let ckpt = net.join("checkpoints/step_00001500.safetensors");
    let c = ckpt.to_str().unwrap();
    let o = dir.path().join("x");
    let o = o.to_str().unwrap();
    let att = |data: &'static str, extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "attractors",
            "--data",
            data,
            "--k",
            "12",
            "--checkpoint",
            c,
            "--out",
            o,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let dynamics = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "dynamics",
            "--data",
            "gmm:d=4,n=300",
            "--k",
            "4,8",
            "--out",
            o,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            att("gmm:d=4,n=300", &["--sigma", "0"]),
            "--sigma must be > 0",
        ),
        (
            att("gmm:d=4,n=300", &["--sigma", "-0.5"]),
            "--sigma must be > 0",
        ),
        (
            att("gmm:d=6,n=300", &["--sigma", "0.1"]),
            "checkpoint is for data of dimension 4, but --data has dimension 6",
        ),
        (
            att("gmm:d=4,n=300", &["--sigma", "0.1", "--eigenvalues", "5"]),
            "--eigenvalues must be at most the data's dimension 4, got 5",
        ),
        (
            dynamics(&["--eigenvalues", "9"]),
            "--eigenvalues must be at most the data's dimension 4, got 9",
        ),
        (
            dynamics(&["--spur-level", "0"]),
            "--spur-level must be in (0, 1], got 0",
        ),
        (
            att("gmm:d=4,n=300", &["--sigma", "0.1", "--margin", "1.5"]),
            "--margin must be in (0, 1), got 1.5",
        ),
        (
            att("gmm:d=4,n=300", &["--sigma", "0.1", "--margin", "0"]),
            "--margin must be in (0, 1), got 0",
        ),
        (
            att("gmm:d=4,n=300", &["--sigma", "0.1", "--settle-tol", "0"]),
            "--settle-tol must be a finite number > 0, got 0",
        ),
        (
            att(
                "gmm:d=4,n=300",
                &["--sigma", "0.1", "--settle-max-step", "-1"],
            ),
            "--settle-max-step must be a finite number > 0, got -1",
        ),
        (
            dynamics(&["--margin", "-0.1"]),
            "--margin must be in (0, 1), got -0.1",
        ),
        (
            dynamics(&["--settle-tol", "-0.001"]),
            "--settle-tol must be a finite number > 0, got -0.001",
        ),
        (
            ["map", "--k", "2,4", "--margin", "1", "--out", o]
                .map(String::from)
                .to_vec(),
            "--margin must be in (0, 1), got 1",
        ),
        (
            ["map", "--k", "2,4", "--settle-max-step", "0", "--out", o]
                .map(String::from)
                .to_vec(),
            "--settle-max-step must be a finite number > 0, got 0",
        ),
        (
            dynamics(&["--intervention", "bogus=1"]),
            "unknown key \"bogus\"",
        ),
        (dynamics(&["--intervention", "dropout"]), "key=value pairs"),
        (
            dynamics(&["--intervention", "dropout=2"]),
            "--intervention \"dropout=2\": dropout must be in [0, 1), got 2",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = memscape(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!Path::new(o).exists(), "{args:?} wrote its output");
    }
}
