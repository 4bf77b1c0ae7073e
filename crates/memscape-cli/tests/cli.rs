//! Runs the `memscape` binary on tiny data in a temp dir and checks its JSON, files and exit
//! codes.

mod common;
use common::{json, memscape};

use std::path::Path;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

fn read(path: &Path) -> Array2<f64> {
    Array2::<f64>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

/// Asserts exit code 2, one line on stderr containing `needle`, and nothing on stdout.
fn fails_with(args: &[&str], needle: &str) {
    let out = memscape(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err:?}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got {err:?}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn sample_writes_a_run_dir_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let clock = std::time::Instant::now();
    let j = json(&memscape(&[
        "sample",
        "--data",
        "two-points",
        "--k",
        "2",
        "--n",
        "50",
        "--steps",
        "50",
        "--out",
        o,
        "--json",
        "--record-trajectories",
        "3",
    ]));
    assert_eq!(
        (j["k"].as_u64(), j["n"].as_u64(), j["dim"].as_u64()),
        (Some(2), Some(50), Some(1))
    );
    let samples = read(&out.join("samples.npy"));
    assert_eq!(samples.shape(), &[50, 1]);
    assert!(
        samples.iter().all(|v| (v.abs() - 1.0).abs() < 1e-3),
        "two points memorized exactly"
    );
    assert_eq!(read(&out.join("train.npy")).shape(), &[2, 1]);
    let traj = ndarray::Array3::<f64>::read_npy(
        std::fs::File::open(out.join("trajectories.npy")).unwrap(),
    )
    .unwrap();
    assert_eq!(traj.shape(), &[51, 3, 1]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["seeds"]["sampler"], 0);
    assert_eq!(m["config"]["request"]["k"], 2);
    assert!(
        m["command"][1] == "sample" && m["version"].is_string() && m["git_revision"].is_string()
    );
    // the recorded sampling time is a real measurement: positive, and within the wall time
    // of the whole command as this test saw it
    let sample_s = m["timings"]["sample_s"].as_f64().unwrap();
    assert!(
        sample_s > 0.0 && sample_s < clock.elapsed().as_secs_f64(),
        "{sample_s}"
    );
    assert_eq!(j["timings"]["sample_s"].as_f64(), Some(sample_s));
}

#[test]
fn batch_size_and_precision_choices_behave() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "sample",
            "--data",
            "circle:n=200",
            "--k",
            "100",
            "--n",
            "40",
            "--steps",
            "40",
            "--sampler",
            "ddim",
            "--eta",
            "0.5",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        assert!(memscape(&args).status.success());
        read(&out.join("samples.npy"))
    };
    let a = run("b1", &["--batch-size", "1"]);
    assert_eq!(a, run("b7", &["--batch-size", "7"]));
    assert_eq!(a, run("b256", &["--batch-size", "256"]));
    fails_with(
        &[
            "sample",
            "--k",
            "9",
            "--batch-size",
            "0",
            "--out",
            dir.path().join("b0").to_str().unwrap(),
        ],
        "--batch-size must be ≥ 1, got 0",
    );
    let f32 = run("f32", &["--precision", "f32"]);
    let diff = (&a - &f32).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
    assert!(
        diff < 1e-3,
        "f32 and f64 runs agree to f32 accuracy: {diff}"
    );
}

#[test]
fn vp_and_every_sampler_run() {
    let dir = tempfile::tempdir().unwrap();
    for (sampler, process) in [("em", "vp"), ("ddim", "vp-cosine"), ("heun", "ve")] {
        let out = dir.path().join(sampler);
        let j = json(&memscape(&[
            "sample",
            "--data",
            "kgon:k=4",
            "--k",
            "4",
            "--n",
            "20",
            "--steps",
            "30",
            "--sampler",
            sampler,
            "--process",
            process,
            "--spacing",
            "linear-t",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(j["n"], 20);
        let s = read(&out.join("samples.npy"));
        assert!(
            s.rows()
                .into_iter()
                .all(|r| (r.dot(&r).sqrt() - 1.0).abs() < 1e-3),
            "{sampler}/{process}: samples are the square's corners"
        );
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let o = out.to_str().unwrap();
    fails_with(
        &["sample", "--k", "0", "--out", o],
        "--k must be between 1 and",
    );
    fails_with(
        &["sample", "--data", "circle:n=10", "--k", "11", "--out", o],
        "(10), got 11",
    );
    fails_with(
        &["sample", "--data", "nope", "--k", "1", "--out", o],
        "unknown dataset \"nope\"",
    );
    fails_with(
        &["sample", "--k", "3", "--sigma-min", "-0.1", "--out", o],
        "--sigma-min must be > 0 and finite, got -0.1",
    );
    fails_with(
        &[
            "sample",
            "--k",
            "3",
            "--sigma-min",
            "20",
            "--sigma-max",
            "10",
            "--out",
            o,
        ],
        "--sigma-min must be < --sigma-max (10), got 20",
    );
    fails_with(
        &["sample", "--k", "3", "--sampler", "rk4", "--out", o],
        "--sampler must be one of em, ddim, heun, got rk4",
    );
    fails_with(
        &[
            "sample",
            "--k",
            "3",
            "--sampler",
            "ddim",
            "--eta",
            "1.5",
            "--out",
            o,
        ],
        "--eta must be in [0, 1], got 1.5",
    );
    fails_with(
        &["sample", "--k", "3", "--n", "0", "--out", o],
        "--n-samples must be ≥ 1, got 0",
    );
    for (tol, shown) in [("0", "0"), ("1", "1"), ("-0.001", "-0.001"), ("NaN", "NaN")] {
        fails_with(
            &["sample", "--k", "3", "--prune-tol", tol, "--out", o],
            &format!("--prune-tol must be a tolerance in (0, 1), got {shown}"),
        );
        fails_with(
            &["map", "--k", "2,3", "--prune-tol", tol, "--out", o],
            &format!("--prune-tol must be a tolerance in (0, 1), got {shown}"),
        );
    }
    fails_with(
        &[
            "sample",
            "--k",
            "3",
            "--data",
            dir.path().join("missing.npy").to_str().unwrap(),
            "--out",
            o,
        ],
        "missing.npy: cannot read",
    );
    let nan = dir.path().join("nan.npy");
    ndarray::array![[0.0, 1.0], [f64::NAN, 2.0]]
        .write_npy(std::fs::File::create(&nan).unwrap())
        .unwrap();
    fails_with(
        &[
            "sample",
            "--k",
            "2",
            "--data",
            nan.to_str().unwrap(),
            "--out",
            o,
        ],
        "row 1, column 0 is NaN",
    );
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "1,2\n3,x\n").unwrap();
    fails_with(
        &[
            "sample",
            "--k",
            "2",
            "--data",
            csv.to_str().unwrap(),
            "--out",
            o,
        ],
        "line 2, column 2: not a number",
    );
    fails_with(
        &[
            "sample",
            "--k",
            "2",
            "--data",
            "mnist:/nonexistent/dir",
            "--out",
            o,
        ],
        "not a directory",
    );
    // an output folder that cannot be made: the OS error once, on one line
    fails_with(
        &["sample", "--k", "3", "--n", "5", "--out", "/proc/x"],
        "/proc/x: No such file or directory (os error 2)",
    );
    let r = memscape(&["sample", "--k", "3", "--n", "5", "--out", "/proc/x"]);
    assert_eq!(
        String::from_utf8_lossy(&r.stderr)
            .matches("os error")
            .count(),
        1
    );
    // a library error names the flag the user typed
    let dynamics_out = dir.path().join("dynamics");
    fails_with(
        &[
            "dynamics",
            "--seeds",
            "0",
            "--out",
            dynamics_out.to_str().unwrap(),
        ],
        "--seeds must be ≥ 1, got 0",
    );
    // --model, as map takes it
    fails_with(
        &["sample", "--model", "mlp", "--k", "3", "--out", o],
        "--model mlp needs --checkpoint (a trained mlp network)",
    );
    assert!(!out.exists(), "a failed run writes nothing");
    let exact = dir.path().join("exact");
    let r = memscape(&[
        "sample",
        "--model",
        "exact",
        "--k",
        "3",
        "--n",
        "5",
        "--out",
        exact.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn a_failed_run_keeps_earlier_output_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    assert!(
        memscape(&[
            "sample", "--data", "kgon:k=3", "--k", "3", "--n", "5", "--out", o
        ])
        .status
        .success()
    );
    let before = std::fs::read(out.join("samples.npy")).unwrap();
    fails_with(
        &[
            "sample", "--data", "kgon:k=3", "--k", "4", "--n", "5", "--out", o,
        ],
        "got 4",
    );
    assert_eq!(std::fs::read(out.join("samples.npy")).unwrap(), before);
}

/// A run killed in the middle of writing a file leaves the earlier file whole: the write goes
/// to a temporary sibling that is renamed only when complete. The kill: a file-size limit of
/// 4 KiB (`ulimit -f 8`, in 512-byte blocks) sends SIGXFSZ while the 32 KiB samples.npy of
/// the second run is being written. (Checked against a direct `std::fs::write`: the file is
/// left cut at 4 KiB and this test fails.)
#[cfg(unix)]
#[test]
fn a_run_killed_while_writing_leaves_the_earlier_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let args = |seed: &str| {
        ["sample", "--data", "circle", "--k", "50", "--n", "2000"]
            .into_iter()
            .chain(["--steps", "5", "--seed", seed, "--out", o])
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let first = memscape(&args("1").iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(first.status.success());
    let before = std::fs::read(out.join("samples.npy")).unwrap();
    assert!(before.len() > 16_000, "the file must outgrow the limit");
    let killed = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 8; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_memscape"))
        .args(args("2"))
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the size limit stopped the run");
    let after = std::fs::read(out.join("samples.npy")).unwrap();
    assert!(
        after == before,
        "samples.npy changed: {} bytes, was {}",
        after.len(),
        before.len()
    );
}

#[test]
fn a_training_set_of_identical_points() {
    // The exact model of K copies of one point returns that point from any x: every sample is
    // the point. Classification needs a spacing between training points, so it refuses.
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("same.npy");
    (Array2::<f64>::ones((5, 3)) * 2.5)
        .write_npy(std::fs::File::create(&same).unwrap())
        .unwrap();
    let samples = dir.path().join("s");
    json(&memscape(&[
        "sample",
        "--data",
        same.to_str().unwrap(),
        "--k",
        "5",
        "--n",
        "20",
        "--out",
        samples.to_str().unwrap(),
        "--json",
    ]));
    let got = read(&samples.join("samples.npy"));
    assert_eq!(got.dim(), (20, 3));
    assert!(got.iter().all(|v| (v - 2.5).abs() < 1e-12), "{got}");
    let needle = "training set must be at least two distinct points, got all points equal";
    fails_with(
        &[
            "classify",
            "--train",
            same.to_str().unwrap(),
            "--samples",
            samples.join("samples.npy").to_str().unwrap(),
        ],
        needle,
    );
    let map = dir.path().join("map");
    fails_with(
        &[
            "map",
            "--data",
            same.to_str().unwrap(),
            "--k",
            "2,5",
            "--out",
            map.to_str().unwrap(),
        ],
        needle,
    );
    assert!(!map.exists(), "a refused map writes nothing");
}

#[test]
fn report_exits_1_naming_a_missing_file_and_still_writes_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("map");
    json(&memscape(&[
        "map",
        "--model",
        "exact",
        "--k",
        "2,8",
        "--n-samples",
        "60",
        "--steps",
        "20",
        "--resamples",
        "20",
        "--out",
        run.to_str().unwrap(),
        "--json",
    ]));
    let complete = memscape(&["report", run.to_str().unwrap()]);
    assert_eq!(complete.status.code(), Some(0));
    std::fs::remove_file(run.join("report.html")).unwrap();
    std::fs::remove_file(run.join("embedding.csv")).unwrap();
    let out = memscape(&["report", run.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("embedding.csv: missing"), "{err}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("embedding.csv") && html.contains("id=\"fig-phase\""));
}

#[test]
fn report_refuses_a_folder_that_holds_no_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a run").unwrap();
    for folder in [dir.path().to_path_buf(), dir.path().join("absent")] {
        let out = memscape(&["report", folder.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.trim_end().lines().count() == 1
                && (err.contains("holds no memscape run") || err.contains("not a folder")),
            "{err}"
        );
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);
}

#[test]
fn tiny_and_huge_numbers_print_in_scientific_notation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = out.to_str().unwrap();
    let r = memscape(&[
        "sample",
        "--data",
        "circle",
        "--k",
        "9",
        "--n",
        "10",
        "--sigma-min",
        "1e-300",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        r.status.success() && err.contains("sigma 10 → 1e-300,"),
        "{err}"
    );
    let r = memscape(&[
        "sample",
        "--data",
        "circle",
        "--k",
        "9",
        "--n",
        "10",
        "--sigma-min=-0.0000001",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("got -1e-7") && err.len() < 200, "{err}");
}

/// Each file of a run is written once: `RunDir` stops a debug build (this binary) at a second
/// write of one name. `map` on 2-D data used to write results.json and manifest.json twice
/// (before and after its landscapes), `train` rewrites evals.csv at every checkpoint on purpose
/// (`RunDir::rewrite_bytes`, so an interrupted run keeps its table).
#[test]
#[cfg(debug_assertions)]
fn every_file_of_a_run_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for args in [
        vec![
            "map",
            "--k",
            "2,9",
            "--train-steps",
            "40",
            "--n-samples",
            "100",
            "--steps",
            "20",
            "--resamples",
            "20",
            "--out",
            &out("map"),
        ],
        vec![
            "train",
            "--k",
            "4",
            "--steps",
            "20",
            "--checkpoints",
            "3",
            "--out",
            &out("train"),
        ],
        vec![
            "attractors",
            "--data",
            "circle",
            "--k",
            "3",
            "--sigma",
            "0.3",
            "--out",
            &out("attractors"),
        ],
    ] {
        let done = memscape(&args);
        assert!(
            done.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
}
