//! Exact kNN (top-2, as f_mem needs) of 10,000 samples against 60,000 MNIST images (d = 784),
//! against the machine's f32 GEMM peak, measured in one process.
//!
//! `cargo bench -p memscape --bench knn [-- --data DIR]`: DIR is an MNIST folder (default
//! `../shared/data/mnist` from the workspace root); queries are the 10,000 test images, points
//! the 60,000 training images, pixels in [0, 1]. Without the folder, U[0,1) data of the same
//! shape. FLOPs counted as 2·Nq·Np·d (the GEMM). On MNIST, `bench/knn_numpy.py` times NumPy on the
//! same data in this invocation, with this environment's OpenBLAS kernel and with OpenBLAS's own
//! (AVX-512) choice.

mod common;

use common::{gemm_peak, numpy_kernels, record_seconds, reference, time};
use memscape::analysis::samples::distance::knn;
use memscape::dataset::{DataSpec, PixelRange};
use memscape::rng::{stream, uniform};
use ndarray::Array2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .iter()
        .position(|a| a == "--data")
        .map(|i| args[i + 1].clone())
        .unwrap_or_else(|| {
            let root =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
            root.to_string_lossy().into_owned()
        });
    let load = |split: &str| -> Option<Array2<f64>> {
        let spec = DataSpec::Idx {
            family: "mnist".into(),
            dir: dir.clone().into(),
            split: split.into(),
            downscale: 1,
            range: PixelRange::Unit,
        };
        spec.load().ok().map(|p| p.points)
    };
    let (queries, points, source) = match (load("test"), load("train")) {
        (Some(q), Some(p)) => (q, p, format!("MNIST from {dir}")),
        _ => {
            let mut rng = stream(1, 0);
            let mut u = |n| Array2::from_shape_fn((n, 784), |_| uniform(&mut rng));
            (
                u(10_000),
                u(60_000),
                "U[0,1) (no MNIST folder found)".to_string(),
            )
        }
    };
    let peak = gemm_peak(2048);
    let (nq, np, d) = (queries.nrows(), points.nrows(), points.ncols());
    let mut result = None;
    let s = time(3, || {
        result = Some(knn(queries.view(), points.view(), 2, false).unwrap())
    });
    let gflops = 2.0 * (nq * np * d) as f64 / s / 1e9;
    println!("data: {source}");
    println!("| workload | time (median of 3) | throughput | ratio |\n|---|---|---|---|");
    println!(
        "| faer f32 GEMM peak ({} threads) | | {peak:.0} GFLOP/s | 100% |",
        rayon::current_num_threads()
    );
    println!(
        "| exact kNN top-2, {nq} × {np}, d = {d} | {s:.2} s | {gflops:.0} GFLOP/s | {:.0}% of f32 peak |",
        100.0 * gflops / peak
    );
    if source.starts_with("MNIST") {
        let script = format!("{}/knn_numpy.py", common::BENCH);
        for (name, unset) in numpy_kernels() {
            match reference(&script, &[dir.as_str()], unset) {
                Ok(records) => {
                    let theirs = record_seconds(&records, "x").unwrap_or(f64::NAN);
                    println!(
                        "| {name} brute force top-2 (same data) | {theirs:.2} s | {:.0} GFLOP/s | memscape {:.2}× faster |",
                        2.0 * (nq * np * d) as f64 / theirs / 1e9,
                        theirs / s
                    );
                }
                Err(why) => println!("| {name} | not run: {why} | | |"),
            }
        }
    }
    let r = result.unwrap();
    println!(
        "check: mean nearest distance {:.4}, mean second {:.4}",
        r.distances.column(0).mean().unwrap(),
        r.distances.column(1).mean().unwrap()
    );
}
