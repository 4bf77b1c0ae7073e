//! Shared by the benches: timing, the machine's f32 GEMM peak, and the NumPy and PyTorch
//! reference scripts. Each bench includes this module and uses a part of it.
#![allow(dead_code)]

use std::time::Instant;

use faer::{Accum, Mat, Par};

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median wall time of `reps` runs after one warm-up run.
pub fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// faer f32 GEMM n×n×n on the global thread pool, in GFLOP/s (2n³ FLOPs).
pub fn gemm_peak(n: usize) -> f64 {
    let a = Mat::<f32>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let b = Mat::<f32>::from_fn(n, n, |i, j| ((i * 5 + j) % 13) as f32 / 13.0);
    let mut c = Mat::<f32>::zeros(n, n);
    let s = time(10, || {
        faer::linalg::matmul::matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        )
    });
    2.0 * (n as f64).powi(3) / s / 1e9
}

/// The reference scripts: `../shared/research/anchors/` (NumPy and PyTorch, shared by the
/// project) and this repository's `bench/`.
pub const ANCHORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/research/anchors"
);
pub const BENCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench");

/// Runs a reference script with `python3 SCRIPT ARGS --out FILE` (with the environment
/// variables in `unset` removed) and returns the JSON records it appended to FILE, or why it
/// did not run: never a remembered figure.
pub fn reference(
    script: &str,
    args: &[&str],
    unset: &[&str],
) -> Result<Vec<serde_json::Value>, String> {
    if !std::path::Path::new(script).is_file() {
        return Err(format!("{script} not found"));
    }
    let out = std::env::temp_dir().join(format!("memscape-bench-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).args(args).arg("--out").arg(&out);
    for var in unset {
        cmd.env_remove(var);
    }
    let run = cmd.output().map_err(|e| format!("python3: {e}"))?;
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("no records: {e}"))?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("unreadable record: {e}")))
        .collect()
}

/// The median seconds of the record whose `shape` contains `shape`.
pub fn record_seconds(records: &[serde_json::Value], shape: &str) -> Option<f64> {
    records
        .iter()
        .find(|r| r["shape"].as_str().is_some_and(|s| s.contains(shape)))
        .and_then(|r| r["time_s"]["median"].as_f64())
}

/// NumPy's OpenBLAS kernel choice on this kind of machine: the environment may pin
/// `OPENBLAS_CORETYPE` (reference-speeds.md: Haswell, AVX2); unset, OpenBLAS picks AVX-512.
pub fn numpy_kernels() -> [(&'static str, &'static [&'static str]); 2] {
    [
        ("NumPy (environment)", &[]),
        ("NumPy (AVX-512)", &["OPENBLAS_CORETYPE"]),
    ]
}
