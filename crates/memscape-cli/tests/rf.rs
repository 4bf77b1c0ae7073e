//! `memscape rf` end to end: Bonnaire et al.'s MT Fig. 5 setting at CI size, the run directory
//! and report, the same bytes on any thread count, and every bad input as one line and exit 2.

mod common;
use common::{json, memscape};

use std::process::Command;

/// MT Fig. 5 (ψ_p = 64, ψ_n = 4…32, t = 0.1, d = 100) shrunk to d = 40, ψ_p = 32, ψ_n = 2, 8,
/// two seeds: the measured tau_mem grows with ψ_n (its intervals apart, by at least 2× for 4×
/// the data) and tau_gen does not (within 1.5×, its exponent under 0.3).
#[test]
fn rf_tau_mem_grows_with_the_data_and_tau_gen_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rf");
    let j = json(&memscape(&[
        "rf",
        "--d",
        "40",
        "--psi-p",
        "32",
        "--psi-n",
        "2,8",
        "--steps",
        "100000",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let ts = j["timescales"].as_array().unwrap();
    let get = |i: usize, key: &str| {
        ts[i][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {}", ts[i]))
    };
    let (mem2, mem8) = (get(0, "tau_mem"), get(1, "tau_mem"));
    assert!(mem8 >= 2.0 * mem2, "tau_mem {mem2} → {mem8}");
    assert!(
        ts[1]["tau_mem_ci"][0].as_f64().unwrap() > ts[0]["tau_mem_ci"][1].as_f64().unwrap(),
        "{}",
        j["timescales"]
    );
    let (gen2, gen8) = (get(0, "tau_gen"), get(1, "tau_gen"));
    assert!(
        gen8 / gen2 < 1.5 && gen2 / gen8 < 1.5,
        "tau_gen {gen2} → {gen8}"
    );
    // the measured tau_mem sits near the theory's psi_p/(Δ λ_min(ρ₁)) where psi_p ≫ psi_n
    let ratio = mem2 / get(0, "predicted_tau_mem");
    assert!((0.7..1.5).contains(&ratio), "measured/predicted {ratio}");
    let fit = &j["fit"];
    assert!(fit["q"].as_f64().unwrap() > 0.4, "{fit}");
    // the score error's minimum falls with the data (MT Fig. 5: ∝ ψ_n^−0.59)
    assert!(get(1, "score_min") < get(0, "score_min"));
    for run in j["runs"].as_array().unwrap() {
        // the train loss falls from 1 (A = 0 after one step is near it) and never rises
        let train: Vec<f64> = run["train_loss"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(train.windows(2).all(|w| w[1] <= w[0] + 1e-12), "{train:?}");
        assert!(train[0] < 1.0);
    }
    for f in [
        "rf.json",
        "rf.csv",
        "spectrum.csv",
        "rf_losses.svg",
        "rf_spectrum.svg",
        "rf_timescales.svg",
        "report.html",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let rows = std::fs::read_to_string(out.join("rf.csv")).unwrap();
    let checkpoints = j["runs"][0]["steps"].as_array().unwrap().len();
    assert_eq!(rows.lines().count(), 1 + 4 * checkpoints);
    let spectrum = std::fs::read_to_string(out.join("spectrum.csv")).unwrap();
    assert_eq!(spectrum.lines().count(), 1 + 2 * 1280);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for id in ["fig-rf_timescales", "fig-rf_losses", "fig-rf_spectrum"] {
        assert!(html.contains(id), "{id}");
    }
    assert!(!html.contains("Missing or unreadable"));
}

/// p = 400, above the size (about 315) where faer's parallel tridiagonal reduction would sum
/// per thread.
#[test]
fn rf_gives_the_same_bytes_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let out = dir.path().join(format!("t{threads}"));
        let o = Command::new(env!("CARGO_BIN_EXE_memscape"))
            .args([
                "rf", "--d", "50", "--psi-p", "8", "--psi-n", "2,4", "--steps", "200", "--seeds",
                "2",
            ])
            .args([
                "--test-points",
                "300",
                "--solver",
                "gradient",
                "--checkpoints",
                "6",
                "--out",
            ])
            .arg(&out)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        [
            std::fs::read(out.join("rf.csv")).unwrap(),
            std::fs::read(out.join("spectrum.csv")).unwrap(),
        ]
    };
    assert!(run("1") == run("2"));
}

#[test]
fn bad_rf_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--psi-p", "0"], "--psi-p must be > 0, got 0"),
        (vec!["--psi-p", "-2"], "--psi-p must be > 0, got -2"),
        (vec!["--psi-n", "0"], "--psi-n must be > 0, got 0"),
        (vec!["--psi-n", "2,-1"], "--psi-n must be > 0, got -1"),
        (
            vec!["--psi-n", "two"],
            "--psi-n must be a comma-separated list of numbers",
        ),
        (vec!["--t", "0"], "--t must be > 0, got 0"),
        (vec!["--t", "-0.1"], "--t must be > 0, got -0.1"),
        (
            vec!["--gen-level", "1"],
            "--gen-level must be in (0, 1), got 1",
        ),
        (
            vec!["--gen-level", "0"],
            "--gen-level must be in (0, 1), got 0",
        ),
        (
            vec!["--step-fraction", "1"],
            "--step-fraction must be in (0, 1)",
        ),
        (
            vec!["--noise-draws", "0"],
            "--noise-draws must be ≥ 1, got 0",
        ),
        (
            vec!["--psi-n", "2,2"],
            "--psi-n must be values without repeats, got 2",
        ),
        (
            vec!["--d", "1000", "--psi-p", "64"],
            "--psi-p must be such that p = psi_p·d ≤ 20000",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["rf", "--out", o];
        for (flag, value) in [
            ("--d", "10"),
            ("--psi-p", "4"),
            ("--psi-n", "2"),
            ("--steps", "10"),
        ] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend(&extra);
        let r = memscape(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains(needle) && err.trim_end().lines().count() == 1,
            "{extra:?}: {err}"
        );
        assert!(!out.exists(), "{extra:?} wrote {o}");
    }
    // ψ_n ≥ ψ_p is outside Regime I: a warning, and the model still runs
    let r = memscape(&[
        "rf",
        "--d",
        "10",
        "--psi-p",
        "2",
        "--psi-n",
        "4",
        "--steps",
        "10",
        "--seeds",
        "1",
        "--test-points",
        "50",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: psi_n = 4 ≥ psi_p = 2: outside the theory's Regime I"),
        "{err}"
    );
}
