//! `memscape trace --run DIR` (issue 26): a train run's checkpoints traced, its documents,
//! figure and report written; `--checkpoint FILE` traced through sigma beside the exact model; a run with one checkpoint, checkpoints of two architectures and a bad sigma are one
//! line naming the file or parameter, exit 2, nothing written.

mod common;
use common::{json, memscape, refused};

use std::path::Path;

fn train(out: &Path, checkpoints: &str, width: &str) {
    let o = memscape(&[
        "train",
        "--data",
        "circle",
        "--k",
        "4",
        "--steps",
        "300",
        "--checkpoints",
        checkpoints,
        "--width",
        width,
        "--depth",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_train_runs_checkpoints_are_traced_and_bad_runs_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train(&run, "4", "32");
    let out = tmp.path().join("trace");
    let doc = json(&memscape(&[
        "trace",
        "--run",
        run.to_str().unwrap(),
        "--samples",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let unit = &doc["units"][0];
    assert_eq!(unit["k"], 4);
    let diagram = &unit["trace"]["diagram"];
    // traced from the first readable checkpoint of the four
    let steps = diagram["steps"].as_array().unwrap();
    let from = unit["trace"]["traced_from"].as_u64().unwrap() as usize;
    assert_eq!(steps.len(), 4 - from);
    assert_eq!(unit["trace"]["checkpoints"].as_array().unwrap().len(), 4);
    assert_eq!(
        diagram["intervals"].as_array().unwrap().len(),
        steps.len() - 1
    );
    for key in ["events", "lives", "unexplained"] {
        assert!(diagram[key].is_array(), "{key}");
    }
    for file in ["trace.json", "events.csv", "lives.csv", "manifest.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // every event lies between the checkpoints, with its type
    for e in diagram["events"].as_array().unwrap() {
        let s = e["step"].as_f64().unwrap();
        assert!(s > steps[0].as_f64().unwrap() && s < steps.last().unwrap().as_f64().unwrap());
        assert!(e["type"].is_string());
        assert!(e["kernel_dim"].is_u64() && e["branches"].is_array());
    }

    let bad = tmp.path().join("bad");
    let one = tmp.path().join("one");
    train(&one, "1", "32");
    refused(
        &memscape(&[
            "trace",
            "--run",
            one.to_str().unwrap(),
            "--out",
            bad.to_str().unwrap(),
        ]),
        &["checkpoints", "a trace needs at least two"],
        &bad,
    );
    let wide = tmp.path().join("wide");
    train(&wide, "2", "48");
    let last = std::fs::read_dir(wide.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mixed = run.join("checkpoints").join("step_00000299.safetensors");
    std::fs::copy(&last, &mixed).unwrap();
    refused(
        &memscape(&[
            "trace",
            "--run",
            run.to_str().unwrap(),
            "--out",
            bad.to_str().unwrap(),
        ]),
        &["step_00000299.safetensors", "another architecture"],
        &bad,
    );
    std::fs::remove_file(&mixed).unwrap();
    refused(
        &memscape(&[
            "trace",
            "--run",
            run.to_str().unwrap(),
            "--sigma=-1",
            "--out",
            bad.to_str().unwrap(),
        ]),
        &["sigma", "-1"],
        &bad,
    );

    // through sigma, from the run's last checkpoint
    let last = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let sigma_out = tmp.path().join("sigma");
    let doc = json(&memscape(&[
        "trace",
        "--checkpoint",
        last.to_str().unwrap(),
        "--data",
        "circle",
        "--k",
        "4",
        "--samples",
        "100",
        "--out",
        sigma_out.to_str().unwrap(),
        "--json",
    ]));
    for side in ["network", "exact"] {
        let s = &doc["sigma"][side];
        for e in s["events"].as_array().unwrap() {
            assert!(e["sigma"].as_f64().unwrap() > 0.0, "{side}");
            assert!(e["type"].is_string() && e["branches"].is_array(), "{side}");
        }
        assert!(s["one_left"].is_boolean(), "{side}");
    }
    for file in [
        "trace.json",
        "events.csv",
        "train.npy",
        "trace_sigma.svg",
        "report.html",
    ] {
        assert!(sigma_out.join(file).is_file(), "{file}");
    }
    for file in ["trace.svg", "report.html"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    for (from, to) in [("0.5", "0.1"), ("0", "1"), ("-0.1", "1")] {
        refused(
            &memscape(&[
                "trace",
                "--checkpoint",
                last.to_str().unwrap(),
                "--data",
                "circle",
                "--k",
                "4",
                &format!("--sigma-from={from}"),
                &format!("--sigma-to={to}"),
                "--out",
                bad.to_str().unwrap(),
            ]),
            &["sigma range", "positive and increasing", from],
            &bad,
        );
    }
}

#[test]
fn dynamics_traces_every_unit_and_reports_tau_spur_from_births() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dyn");
    let doc = json(&memscape(&[
        "dynamics",
        "--k",
        "4,8",
        "--steps",
        "600",
        "--checkpoints",
        "4",
        "--seeds",
        "2",
        "--width",
        "32",
        "--depth",
        "2",
        "--n-samples",
        "80",
        "--sample-steps",
        "20",
        "--resamples",
        "20",
        "--trace",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    // one tau_spur from births per K, with its interval over seeds
    let births = doc["tau_spur_birth"].as_array().unwrap();
    assert_eq!(
        births
            .iter()
            .map(|t| t["k"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4, 8]
    );
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trace.json")).unwrap()).unwrap();
    let units = trace["units"].as_array().unwrap();
    assert_eq!(units.len(), 4);
    for u in units {
        assert!(u["trace"]["diagram"]["lives"].is_array());
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Fixed points through training"));
    assert!(out.join("trace.svg").is_file());
    // networks trained elsewhere carry no chord to trace along; the census is needed
    let bad = tmp.path().join("bad");
    let folder = tmp.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let o = memscape(&[
        "dynamics",
        "--checkpoints",
        folder.to_str().unwrap(),
        "--trace",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trace"));
    assert!(!bad.exists());
    let o = memscape(&[
        "dynamics",
        "--trace",
        "--no-attractors",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!bad.exists());
}
