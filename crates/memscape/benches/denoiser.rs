//! Exact denoiser throughput against the machine's f32 GEMM peak and against NumPy and
//! PyTorch run by this same invocation, then the pruned denoiser against the dense one on MNIST.
//!
//! `cargo bench -p memscape --bench denoiser` (add `-- --quick` for small sizes and no MNIST).
//!
//! Dense workload as in reference-speeds.md #1: N = 512 queries, K ∈ {10,000, 60,000}
//! patterns, d = 784, i.i.d. U[0,1) data, beta = 0.5 (sigma = √2); FLOPs counted as 4·N·K·d (two
//! GEMMs). Peak: faer f32 GEMM 2048×2048×2048 (2n³ FLOPs). Median of repeated runs after a
//! warm-up. References: `../shared/research/anchors/bench_denoiser.py` (f32, NumPy and PyTorch)
//! and `bench/denoiser_numpy.py` (NumPy f64), each NumPy twice: with this environment's
//! OpenBLAS kernel and with OpenBLAS's own (AVX-512) choice. A reference that cannot run
//! (no python3, numpy, torch or threadpoolctl) is reported as not run.
//!
//! Pruned workload: the 60,000 MNIST training images (pixels in [0, 1]) as patterns, sigma =
//! 0.05 × their median nearest-neighbour spacing; 512 queries at training images plus noise
//! of that sigma (what a sampler meets at that step) and 512 at training images (what settling
//! meets). Dense and pruned in f32 and f64, with the pruned path's achieved bound.

mod common;

use common::{gemm_peak, numpy_kernels, record_seconds, reference, time};
use memscape::analysis::samples::distance::knn;
use memscape::dataset::{DataSpec, PixelRange};
use memscape::denoiser::{Denoiser, EmpiricalDenoiser, Float, Pruning};
use memscape::rng::{normal_matrix, stream, uniform};
use ndarray::{Array2, Axis};

fn uniform_matrix(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, 0);
    Array2::from_shape_fn((n, d), |_| uniform(&mut rng))
}

fn dense_seconds<T: Float>(patterns: &Array2<f64>, x: &Array2<f64>, reps: usize) -> f64 {
    let den = EmpiricalDenoiser::<T>::new(patterns.view())
        .unwrap()
        .with_pruning(Pruning::Off);
    time(reps, || {
        std::hint::black_box(den.denoise(x.view(), 2f64.sqrt()));
    })
}

/// A reference's seconds at `shape`, or why there is none.
type Reference = (String, Result<Vec<serde_json::Value>, String>);

fn references(quick: bool) -> (Vec<Reference>, Vec<Reference>) {
    let anchor = format!("{}/bench_denoiser.py", common::ANCHORS);
    let f64_script = format!("{}/denoiser_numpy.py", common::BENCH);
    let quick_flag: &[&str] = if quick { &["--quick"] } else { &[] };
    let mut f32_refs = vec![];
    let mut f64_refs = vec![];
    for (name, unset) in numpy_kernels() {
        let mut args = vec!["--lib", "numpy", "--reps", "5"];
        args.extend(quick_flag);
        f32_refs.push((name.to_string(), reference(&anchor, &args, unset)));
        let mut args = vec!["--dtype", "float64", "--reps", "5"];
        args.extend(quick_flag);
        f64_refs.push((name.to_string(), reference(&f64_script, &args, unset)));
    }
    let mut args = vec!["--lib", "torch", "--reps", "5"];
    args.extend(quick_flag);
    f32_refs.push(("PyTorch".to_string(), reference(&anchor, &args, &[])));
    (f32_refs, f64_refs)
}

fn print_row(label: &str, ours: f64, flops: f64, peak: f64, refs: &[Reference], shape: &str) {
    let gflops = flops / ours / 1e9;
    let mut line = format!(
        "| {label} | {:.1} ms | {gflops:.0} GFLOP/s ({:.0}% of f32 peak) |",
        ours * 1e3,
        100.0 * gflops / peak
    );
    for (name, records) in refs {
        match records.as_ref().ok().and_then(|r| record_seconds(r, shape)) {
            Some(s) => line += &format!(" {name} {:.1} ms: {:.2}× |", s * 1e3, s / ours),
            None => line += &format!(" {name} not run |"),
        }
    }
    println!("{line}");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let threads = rayon::current_num_threads();
    let peak = gemm_peak(if quick { 512 } else { 2048 });
    let (f32_refs, f64_refs) = references(quick);
    for (name, r) in f32_refs.iter().chain(&f64_refs) {
        if let Err(why) = r {
            println!("{name} reference not run: {why}");
        }
    }
    println!("faer f32 GEMM peak ({threads} threads): {peak:.0} GFLOP/s");
    println!("| workload | memscape | throughput | reference: time, its time / memscape's |");
    println!("|---|---|---|---|");
    let sizes: &[usize] = if quick {
        &[1000, 2000]
    } else {
        &[10_000, 60_000]
    };
    let x = uniform_matrix(512, 784, 2);
    for &k in sizes {
        let patterns = uniform_matrix(k, 784, 1);
        let reps = if k > 20_000 { 5 } else { 9 };
        let flops = 4.0 * (512 * k * 784) as f64;
        let s = dense_seconds::<f32>(&patterns, &x, reps);
        let shape = format!("K={k} d=784 f");
        print_row(
            &format!("dense f32 K={k}"),
            s,
            flops,
            peak,
            &f32_refs,
            &shape,
        );
        let s = dense_seconds::<f64>(&patterns, &x, reps);
        print_row(
            &format!("dense f64 K={k}"),
            s,
            flops,
            peak,
            &f64_refs,
            &shape,
        );
    }
    if !quick {
        pruned_on_mnist();
    }
}

/// The pruned denoiser against the dense one on MNIST (see the module docs).
fn pruned_on_mnist() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mnist");
    let spec = DataSpec::Idx {
        family: "mnist".into(),
        dir: dir.into(),
        split: "train".into(),
        downscale: 1,
        range: PixelRange::Unit,
    };
    let Ok(pool) = spec.load() else {
        println!("pruned denoiser: no MNIST folder at {dir}; not run");
        return;
    };
    let p = pool.points;
    let k = p.nrows();
    let probe: Vec<usize> = (0..1000).map(|i| i * k / 1000).collect();
    let nn = knn(p.select(Axis(0), &probe).view(), p.view(), 2, false).unwrap();
    let mut spacing: Vec<f64> = nn.distances.column(1).to_vec();
    spacing.sort_by(f64::total_cmp);
    let spacing = spacing[spacing.len() / 2];
    let sigma = 0.05 * spacing;
    let at: Vec<usize> = (0..512).map(|i| (i * 7919) % k).collect();
    let on_data = p.select(Axis(0), &at);
    let noisy = &on_data + &(normal_matrix(512, p.ncols(), 5) * sigma);
    println!(
        "\npruned denoiser, MNIST K = {k}, d = {}: median nearest-neighbour spacing {spacing:.3}, \
         sigma = 0.05 × that = {sigma:.4}",
        p.ncols()
    );
    println!(
        "| queries | precision | dense | pruned | dense / pruned | exact logits per query | achieved bound ε | max |pruned − dense| |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    compare::<f32>(&p, &noisy, "training images + noise", sigma);
    compare::<f32>(&p, &on_data, "training images", sigma);
    compare::<f64>(&p, &noisy, "training images + noise", sigma);
}

fn compare<T: Float>(p: &Array2<f64>, x: &Array2<f64>, label: &str, sigma: f64) {
    let dense = EmpiricalDenoiser::<T>::new(p.view())
        .unwrap()
        .with_pruning(Pruning::Off);
    let pruned = EmpiricalDenoiser::<T>::new(p.view()).unwrap();
    let clock = std::time::Instant::now();
    pruned.denoise(x.slice(ndarray::s![..2, ..]), sigma);
    let build = clock.elapsed().as_secs_f64();
    let (mut want, mut got) = (Array2::zeros((0, 0)), Array2::zeros((0, 0)));
    let td = time(3, || want = dense.denoise(x.view(), sigma));
    let before = pruned.pruning_stats();
    let tp = time(5, || got = pruned.denoise(x.view(), sigma));
    let after = pruned.pruning_stats();
    let queries = (after.pruned_queries - before.pruned_queries) as f64;
    let logits = (after.candidates - before.candidates) as f64 / queries.max(1.0);
    let err = (&got - &want).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
    let precision = std::any::type_name::<T>();
    println!(
        "| {label} | {precision} | {:.1} ms | {:.1} ms (+ {:.0} ms once: the index) | {:.1}× | {logits:.1} of {} | {:.1e} | {err:.1e} |",
        td * 1e3,
        tp * 1e3,
        build * 1e3,
        td / tp,
        p.nrows(),
        after.max_skipped_weight,
    );
    if after.dense_queries > 0 {
        println!("  ({} queries went dense)", after.dense_queries);
    }
}
