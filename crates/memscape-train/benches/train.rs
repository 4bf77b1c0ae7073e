//! Training throughput of the score network (a benchmark, not a test): steps per second and
//! achieved GFLOP/s for the two set-ups of `reference-speeds.md` and `rust-stack.md` §1b, against
//! the machine's f32 GEMM peak and against PyTorch run by this same invocation
//! (`../shared/research/anchors/bench_toy_train.py`, its lean and paper loops, and
//! `bench_mlp_train.py`); where PyTorch cannot run, the bench says so.
//!
//! FLOPs per step: 6 × (linear-layer MACs per sample) × batch (forward 2, backward 4), the
//! convention of `reference-speeds.md`.
//!
//! `cargo bench -p memscape-train --bench train`

#[path = "../../memscape/benches/common/mod.rs"]
mod common;

use memscape_train::{TrainConfig, train};
use ndarray::Array2;

/// PyTorch's steps per second for the anchor `script`, one per record (its loops), or why not.
fn pytorch(script: &str, args: &[&str]) -> Vec<(String, f64)> {
    let script = format!("{}/{script}", common::ANCHORS);
    match common::reference(&script, args, &[]) {
        Ok(records) => records
            .iter()
            .map(|r| {
                let name = r["impl"].as_str().unwrap_or("?").to_string();
                (
                    name,
                    r["steps_per_s"]["median"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect(),
        Err(why) => {
            println!("  PyTorch {script} not run: {why}");
            vec![]
        }
    }
}

fn bench(
    name: &str,
    data: &Array2<f64>,
    config: TrainConfig,
    reference: &[(String, f64)],
    peak: f64,
) {
    let macs = config.mlp(data.ncols()).macs_per_sample();
    let flop = 6.0 * macs as f64 * config.batch_size as f64;
    let mut rates = vec![];
    for window in 0..5 {
        let c = TrainConfig {
            seed: window,
            ..config.clone()
        };
        let run = train(&c, data.view(), None, |_, _, _| Ok(())).unwrap();
        rates.push(c.steps as f64 / run.seconds);
    }
    let rate = common::median(rates.clone());
    let gflops = rate * flop / 1e9;
    println!(
        "{name}: {} params, {:.3} GFLOP/step, {rate:.0} steps/s (windows {:.0}–{:.0}), {gflops:.0} GFLOP/s = {:.0}% of GEMM peak",
        config.mlp(data.ncols()).num_parameters(),
        flop / 1e9,
        rates.iter().cloned().fold(f64::INFINITY, f64::min),
        rates.iter().cloned().fold(0.0, f64::max),
        100.0 * gflops / peak
    );
    for (loop_name, theirs) in reference {
        println!(
            "  PyTorch {loop_name}: {theirs:.0} steps/s; memscape/PyTorch = {:.2}×",
            rate / theirs
        );
    }
}

fn main() {
    let peak = common::gemm_peak(2048);
    println!(
        "faer f32 GEMM 2048³ peak: {peak:.0} GFLOP/s on {} threads",
        rayon::current_num_threads()
    );
    // Pham et al.'s toy: the circle, K = 1000, batch 500.
    let circle = Array2::from_shape_fn((1000, 2), |(i, j)| {
        let a = std::f64::consts::TAU * ((i * 7919) % 1000) as f64 / 1000.0;
        if j == 0 { a.cos() } else { a.sin() }
    });
    bench(
        "toy MLP (d=2, 4×160, 64 Fourier features), batch 500",
        &circle,
        TrainConfig {
            steps: 400,
            batch_size: 500,
            checkpoints: 1,
            ..Default::default()
        },
        &pytorch("bench_toy_train.py", &["--reps", "3"]),
        peak,
    );
    // rust-stack.md §1b: 8192 Gaussian-blob points in d = 64, 192→256→256→256→64, batch 512.
    let blobs = memscape::rng::normal_matrix(8192, 64, 1);
    bench(
        "MLP (d=64, 3×256, 64 Fourier features), batch 512",
        &blobs,
        TrainConfig {
            width: 256,
            depth: 3,
            steps: 200,
            batch_size: 512,
            checkpoints: 1,
            ..Default::default()
        },
        &pytorch("bench_mlp_train.py", &["--reps", "5"]),
        peak,
    );
}
