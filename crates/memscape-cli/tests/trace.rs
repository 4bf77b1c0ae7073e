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
    let steps = diagram["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(diagram["intervals"].as_array().unwrap().len(), 3);
    for key in ["events", "lives", "unexplained"] {
        assert!(diagram[key].is_array(), "{key}");
    }
    for file in ["trace.json", "events.csv", "lives.csv", "manifest.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // every event lies between the checkpoints, with its type
    for e in diagram["events"].as_array().unwrap() {
        let s = e["step"].as_f64().unwrap();
        assert!(s > steps[0].as_f64().unwrap() && s < steps[3].as_f64().unwrap());
        assert!(e["type"].is_string());
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
        assert!(s["interval"]["events"].is_array(), "{side}");
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
