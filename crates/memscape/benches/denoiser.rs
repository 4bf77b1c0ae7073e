//! Exact denoiser throughput against the machine's f32 GEMM peak, measured in one process.
//!
//! `cargo bench -p memscape --bench denoiser` (add `-- --quick` for one small size).
//! Workload as in reference-speeds.md #1: N = 512 queries, K ∈ {10,000, 60,000} patterns,
//! d = 784, i.i.d. U[0,1) data, beta = 0.5 (sigma = √2); FLOPs counted as 4·N·K·d (two GEMMs).
//! Peak: faer f32 GEMM 2048×2048×2048 (2n³ FLOPs). Median of repeated runs after a warm-up.

mod common;

use common::{gemm_peak, time};
use memscape::denoiser::{Denoiser, EmpiricalDenoiser, Float};
use memscape::rng::{stream, uniform};
use ndarray::Array2;

fn uniform_matrix(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, 0);
    Array2::from_shape_fn((n, d), |_| uniform(&mut rng))
}

fn bench<T: Float>(label: &str, patterns: &Array2<f64>, x: &Array2<f64>, peak: f64, reps: usize) {
    let den = EmpiricalDenoiser::<T>::new(patterns.view()).unwrap();
    let sigma = 2f64.sqrt();
    let s = time(reps, || {
        std::hint::black_box(den.denoise(x.view(), sigma));
    });
    let (n, k, d) = (x.nrows(), patterns.nrows(), patterns.ncols());
    let gflops = 4.0 * (n * k * d) as f64 / s / 1e9;
    println!(
        "| denoiser {label} N={n} K={k} d={d} | {:.1} ms | {gflops:.0} GFLOP/s | {:.0}% of f32 peak |",
        s * 1e3,
        100.0 * gflops / peak
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let threads = rayon::current_num_threads();
    let peak = gemm_peak(if quick { 512 } else { 2048 });
    println!("| workload | time (median) | throughput | ratio |\n|---|---|---|---|");
    println!("| faer f32 GEMM peak ({threads} threads) | | {peak:.0} GFLOP/s | 100% |");
    let sizes: &[usize] = if quick { &[2_000] } else { &[10_000, 60_000] };
    let x = uniform_matrix(512, 784, 2);
    for &k in sizes {
        let patterns = uniform_matrix(k, 784, 1);
        let reps = if k > 20_000 { 5 } else { 9 };
        bench::<f32>("f32", &patterns, &x, peak, reps);
        bench::<f64>("f64", &patterns, &x, peak, reps);
    }
}
