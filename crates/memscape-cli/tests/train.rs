//! `memscape train`, `sample --checkpoint` and `memscape dynamics` end to end: checkpoints,
//! determinism, the dynamics JSON, and every bad input of issue 4 as one line and exit 2.

mod common;
use common::{json, memscape};

use std::path::Path;
use std::process::Command;

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;

fn train(out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "train",
        "--data",
        "gmm:d=4,n=300",
        "--k",
        "12",
        "--holdout",
        "100",
        "--steps",
        "300",
        "--checkpoints",
        "4",
        "--width",
        "32",
        "--depth",
        "2",
        "--train-batch",
        "64",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    json(&memscape(&args))
}

fn npy(path: &Path) -> Array2<f64> {
    Array2::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

#[test]
fn same_seed_gives_the_same_loss_curve_checkpoints_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let ja = train(&a, &["--dropout", "0.1", "--ema", "0.99"]);
    train(&b, &["--dropout", "0.1", "--ema", "0.99"]);
    train(
        &c,
        &["--dropout", "0.1", "--ema", "0.99", "--train-seed", "1"],
    );
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(read(&a, "loss.csv"), read(&b, "loss.csv"));
    assert_ne!(read(&a, "loss.csv"), read(&c, "loss.csv"));
    let steps: Vec<u64> = ja["evals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![1, 7, 45, 300]); // round(300^(i/3))
    let last = "checkpoints/step_00000300.safetensors";
    assert_eq!(read(&a, last), read(&b, last));
    // samples of the trained network: same checkpoint and seed → the same samples
    let sample = |out: &Path, ckpt: &Path| {
        json(&memscape(&[
            "sample",
            "--data",
            "gmm:d=4,n=300",
            "--k",
            "12",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--n",
            "50",
            "--steps",
            "30",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]));
        npy(&out.join("samples.npy"))
    };
    let (s1, s2) = (
        sample(&dir.path().join("s1"), &a.join(last)),
        sample(&dir.path().join("s2"), &b.join(last)),
    );
    assert_eq!(s1, s2);
    assert_eq!(s1.dim(), (50, 4));
    assert!(s1.iter().all(|v| v.is_finite()));
}

#[test]
fn bad_training_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    train(&good, &[]);
    let ckpt = good.join("checkpoints/step_00000300.safetensors");
    let corrupt = dir.path().join("corrupt.safetensors");
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("x");
    let o = out.to_str().unwrap();
    let base = ["train", "--data", "gmm:d=4,n=300", "--out", o];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        if !extra.contains(&"--k") {
            v.extend(["--k", "12"]);
        }
        v.extend(extra);
        v
    };
    fn sample<'a>(ckpt: &'a str, data: &'a str) -> Vec<&'a str> {
        vec![
            "sample",
            "--data",
            data,
            "--k",
            "12",
            "--checkpoint",
            ckpt,
            "--out",
        ]
    }
    let (c, m) = (
        corrupt.to_str().unwrap().to_string(),
        dir.path()
            .join("none.safetensors")
            .to_str()
            .unwrap()
            .to_string(),
    );
    let k = ckpt.to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with(&["--lr", "-0.001"]), "--lr must be > 0"),
        (with(&["--dropout", "1"]), "--dropout must be in [0, 1)"),
        (with(&["--ema", "1.2"]), "--ema must be in [0, 1)"),
        (
            with(&["--weight-decay", "-1"]),
            "--weight-decay must be ≥ 0",
        ),
        (
            with(&["--input-noise", "-0.5"]),
            "--input-noise must be ≥ 0",
        ),
        (
            with(&["--steps", "10", "--stop-at", "20"]),
            "--stop-at must be in 1..=10",
        ),
        (with(&["--k", "400"]), "400"),
        (
            vec![
                "dynamics",
                "--data",
                "gmm:d=4,n=300",
                "--k",
                "4",
                "--gen-level",
                "1.5",
                "--out",
                o,
            ],
            "--gen-level must be in (0, 1), got 1.5",
        ),
        (
            vec![
                "dynamics",
                "--data",
                "gmm:d=4,n=300",
                "--k",
                "4",
                "--gen-level",
                "0",
                "--out",
                o,
            ],
            "--gen-level must be in (0, 1), got 0",
        ),
        (
            [sample(&c, "gmm:d=4,n=300"), vec![o]].concat(),
            "not a valid safetensors file",
        ),
        (
            [sample(&m, "gmm:d=4,n=300"), vec![o]].concat(),
            "cannot read",
        ),
        (
            [sample(&k, "gmm:d=6,n=300"), vec![o]].concat(),
            "checkpoint is for data of dimension 4",
        ),
    ];
    for (args, needle) in cases {
        let r = memscape(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// An interrupted run keeps every checkpoint it wrote: kill training mid-way and load them all.
#[test]
fn killed_training_keeps_its_checkpoints_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_memscape"))
        .args([
            "train",
            "--data",
            "gmm:d=4,n=300",
            "--k",
            "12",
            "--steps",
            "100000000",
            "--checkpoints",
            "60",
            "--width",
            "16",
            "--depth",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpts = out.join("checkpoints");
    let count = || {
        std::fs::read_dir(&ckpts)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "safetensors")
                })
                .count()
            })
            .unwrap_or(0)
    };
    let start = std::time::Instant::now();
    while count() < 8 && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(count() >= 8);
    for e in std::fs::read_dir(&ckpts).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "safetensors") {
            let r = memscape(&[
                "sample",
                "--data",
                "gmm:d=4,n=300",
                "--k",
                "12",
                "--checkpoint",
                p.to_str().unwrap(),
                "--n",
                "5",
                "--steps",
                "5",
                "--out",
                dir.path().join("s").to_str().unwrap(),
            ]);
            assert!(
                r.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&r.stderr)
            );
        }
    }
    let evals = std::fs::read_to_string(out.join("evals.csv")).unwrap();
    assert!(
        evals.starts_with("step,train_loss,test_loss,checkpoint\n") && evals.lines().count() >= 2
    );
}

#[test]
fn dynamics_json_has_rows_tau_and_fit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dyn");
    let j = json(&memscape(&[
        "dynamics",
        "--data",
        "gmm:d=4,n=400",
        "--k",
        "4,8",
        "--steps",
        "400",
        "--checkpoints",
        "4",
        "--seeds",
        "2",
        "--width",
        "32",
        "--depth",
        "2",
        "--train-batch",
        "64",
        "--holdout",
        "100",
        "--n-samples",
        "60",
        "--sample-steps",
        "20",
        "--resamples",
        "20",
        "--fmem-level",
        "0.01",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * 4);
    for r in rows {
        for key in [
            "k",
            "seed",
            "step",
            "memorized",
            "spurious",
            "generalized",
            "off_support",
            "f_mem",
            "train_loss",
            "test_loss",
        ] {
            assert!(r[key].is_number(), "{key}: {r}");
        }
    }
    // tau_mem, tau_gen and the fit, recomputed from the rows: the seed-averaged f_mem curve's
    // first crossing of 0.01, interpolated in ln step; the smallest seed-averaged test loss
    let of = |k: u64, key: &str| -> Vec<(f64, f64)> {
        let mut steps: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
        steps.sort();
        steps.dedup();
        steps
            .iter()
            .map(|&s| {
                let v: Vec<f64> = rows
                    .iter()
                    .filter(|r| r["k"] == k && r["step"] == s)
                    .map(|r| r[key].as_f64().unwrap())
                    .collect();
                (s as f64, v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    };
    let mut crossed = vec![];
    for (i, k) in [4u64, 8].into_iter().enumerate() {
        let curve = of(k, "f_mem");
        let expected = curve.iter().position(|c| c.1 >= 0.01).map(|i| {
            if i == 0 {
                return curve[0].0;
            }
            let ((s0, f0), (s1, f1)) = (curve[i - 1], curve[i]);
            (s0.ln() + (0.01 - f0) / (f1 - f0) * (s1.ln() - s0.ln())).exp()
        });
        let tau = &j["tau_mem"][i];
        assert_eq!(tau["k"], k);
        match expected {
            Some(t) => {
                let step = tau["step"].as_f64().unwrap();
                assert!((step - t).abs() < 1e-9 * t, "K = {k}: {step} vs {t}");
                assert!(tau["ci"][0].as_f64().unwrap() <= step, "{tau}");
                assert!(tau["ci"][1].as_f64().is_none_or(|hi| hi >= step), "{tau}");
                crossed.push((k as f64, t));
            }
            None => assert!(tau["step"].is_null(), "{tau}"),
        }
        let loss = of(k, "test_loss");
        let best = loss.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
        assert_eq!(j["tau_gen"][i]["step"].as_f64().unwrap(), best);
        // tau_gen from quality: the first checkpoint whose seed-averaged MMD² above the
        // seed-averaged held-out floor is within 1.1 of its minimum, never one above
        // 1.1 (min − floor) + floor
        let quality = |r: &serde_json::Value, key: &str| r["quality"][key].as_f64().unwrap();
        let mmd2: Vec<(f64, f64)> = of(k, "step")
            .iter()
            .map(|&(s, _)| {
                let v: Vec<f64> = rows
                    .iter()
                    .filter(|r| r["k"] == k && r["step"].as_f64() == Some(s))
                    .map(|r| quality(r, "mmd2"))
                    .collect();
                (s, v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        let held: Vec<f64> = rows
            .iter()
            .filter(|r| r["k"] == k)
            .map(|r| quality(r, "mmd2_heldout"))
            .collect();
        let floor = held.iter().sum::<f64>() / held.len() as f64;
        let min = mmd2.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
        let bound = floor + 1.1 * (min - floor).max(0.0);
        let onset = mmd2.iter().find(|c| c.1 <= bound).unwrap().0;
        let q = &j["tau_gen_quality"][i];
        assert_eq!(q["step"].as_f64(), Some(onset), "K = {k}: {q}");
        let at = mmd2.iter().find(|c| c.0 == onset).unwrap().1;
        assert!(at <= bound + 1e-12, "K = {k}: {at} above {bound}");
        let ci = [q["ci"][0].as_f64(), q["ci"][1].as_f64()];
        assert!(
            ci[0].is_none_or(|lo| ci[1].is_none_or(|hi| lo <= hi)),
            "{q}"
        );
    }
    // both K memorize a little by step 400 at this level (K = 4 crosses near step 73)
    assert_eq!(crossed.len(), 2, "{}", j["tau_mem"]);
    let p = (crossed[1].1 / crossed[0].1).ln() / 2f64.ln();
    let fit = &j["fit"];
    assert!((fit["p"].as_f64().unwrap() - p).abs() < 1e-9, "{fit}");
    assert_eq!(fit["num_k"], 2);
    let ci = [
        fit["ci"][0].as_f64().unwrap(),
        fit["ci"][1].as_f64().unwrap(),
    ];
    assert!(
        ci[0] <= ci[1] && fit["resamples"].as_u64().unwrap() <= 20,
        "{fit}"
    );
    for f in [
        "phase.csv",
        "loss.csv",
        "results.json",
        "dynamics.svg",
        "dynamics.png",
        "fmem_curves.svg",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"fig-dynamics\"") && !html.contains("Missing or unreadable"));
}

#[test]
fn more_checkpoints_than_steps_are_refused_and_coinciding_ones_said() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let o = out.to_str().unwrap();
    let base = [
        "--data",
        "gmm:d=4,n=300",
        "--k",
        "8",
        "--steps",
        "10",
        "--holdout",
        "50",
    ];
    for command in ["train", "dynamics"] {
        let mut args = vec![command];
        args.extend(base);
        args.extend(["--checkpoints", "100", "--out", o]);
        let r = memscape(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{command}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{command}: {err}");
        assert!(
            err.contains("--checkpoints must be at most the training steps (10)")
                && err.contains("got 100"),
            "{command}: {err}"
        );
        assert!(!out.exists(), "{command}: nothing written");
    }
    // 8 log-spaced steps in 1..=10 round to 7 distinct ones: kept, and said
    let mut args = vec!["train"];
    args.extend(base);
    args.extend(["--checkpoints", "8", "--out", o]);
    let r = memscape(&args);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: --checkpoints 8 log-spaced over --steps 10 give 7 distinct steps"),
        "{err}"
    );
    let saved = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "safetensors")
        })
        .count();
    assert_eq!(saved, 7);
}
