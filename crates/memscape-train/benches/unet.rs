//! U-Net training and sampling throughput (a benchmark, not a test), beside the PyTorch
//! reference run in the same invocation: `../shared/research/anchors/bench_unet_train.py`, the
//! same architecture (base 32, multipliers 1,2,2, one block per level, GroupNorm 8, attention in
//! the middle, dropout 0.1), batch 128, Adam, epsilon loss, on the same number of threads.
//!
//! One step = forward, backward and Adam on a batch of 128 images, each at its own noise level.
//! FLOPs per step: 3 × forward FLOPs × batch (forward 1, backward 2), where forward FLOPs =
//! 2 × the network's multiply-accumulates per image (convolutions, linear layers, attention);
//! PyTorch's `FlopCounterMode` counts the same convention in the anchor.
//!
//! `cargo bench -p memscape-train --bench unet` (set RAYON_NUM_THREADS to match `--threads`).

#[path = "../../memscape/benches/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use memscape_train::Network;
use memscape_train::network::Dropout;
use memscape_train::optim::AdamW;
use memscape_train::unet::{Unet, UnetConfig};

const BATCH: usize = 128;

/// Steps/s of memscape's U-Net at `res` × `res` (median of `windows` windows of `steps`).
fn memscape_steps(res: usize, steps: usize, windows: usize) -> (f64, f64, f64, usize, usize) {
    let net = Network::Unet(Box::new(Unet::new(UnetConfig::small(1, res, res)).unwrap()));
    let d = res * res;
    let mut params = net.init_parameters(1);
    let mut adam = AdamW::new(vec![false; params.len()]);
    let mut grads = vec![0.0f32; params.len()];
    let mut r = memscape::rng::stream(3, 0);
    let x: Vec<f32> = (0..BATCH * d)
        .map(|_| memscape::rng::normal(&mut r) as f32)
        .collect();
    let target: Vec<f32> = (0..BATCH * d)
        .map(|_| memscape::rng::normal(&mut r) as f32)
        .collect();
    let c_noise: Vec<f64> = (0..BATCH)
        .map(|i| -1.0 + 2.0 * i as f64 / BATCH as f64)
        .collect();
    let loss = |out: &[f32], r0: usize, g: &mut [f32]| -> f64 {
        let t = &target[r0 * d..r0 * d + out.len()];
        let scale = 2.0 / (BATCH * d) as f32;
        let mut sum = 0.0;
        for ((g, &o), &t) in g.iter_mut().zip(out).zip(t) {
            *g = scale * (o - t);
            sum += ((o - t) * (o - t)) as f64;
        }
        sum
    };
    let mut step = |i: u64| {
        let dropout = Dropout::Seeded { rate: 0.1, seed: i };
        net.gradient(&params, &x, &c_noise, &dropout, &loss, &mut grads);
        adam.step(&mut params, &grads, 2e-4, 0.0);
    };
    step(0);
    let mut rates = vec![];
    for w in 0..windows {
        let t = Instant::now();
        for i in 0..steps {
            step((w * steps + i) as u64 + 1);
        }
        rates.push(steps as f64 / t.elapsed().as_secs_f64());
    }
    let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().cloned().fold(0.0, f64::max);
    (
        common::median(rates),
        lo,
        hi,
        net.num_parameters(),
        net.macs_per_sample(),
    )
}

/// Images/s of one network evaluation (what one sampler step costs per image), batch 512.
fn memscape_images_per_s(res: usize) -> f64 {
    let net = Unet::new(UnetConfig::small(1, res, res)).unwrap();
    let params = net.init_parameters(1);
    let n = 512;
    let x: Vec<f32> = (0..n * res * res)
        .map(|i| ((i % 17) as f32 - 8.0) / 8.0)
        .collect();
    let c = vec![0.1; n];
    n as f64
        / common::time(3, || {
            std::hint::black_box(net.apply(&params, &x, &c));
        })
}

/// The PyTorch anchor's JSON line, or why it did not run.
fn pytorch(res: usize, threads: usize) -> Result<serde_json::Value, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/research/anchors/bench_unet_train.py"
    );
    let out = Command::new("python3")
        .args([
            script,
            "--res",
            &res.to_string(),
            "--batch",
            &BATCH.to_string(),
        ])
        .args([
            "--threads",
            &threads.to_string(),
            "--steps",
            "6",
            "--windows",
            "3",
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("unreadable output: {e}"))
}

fn main() {
    let threads = rayon::current_num_threads();
    let peak = common::gemm_peak(2048);
    println!("faer f32 GEMM 2048³ peak: {peak:.0} GFLOP/s on {threads} threads");
    for (res, steps) in [(16, 6), (28, 3)] {
        let (rate, lo, hi, params, macs) = memscape_steps(res, steps, 3);
        let flop = 3.0 * 2.0 * macs as f64 * BATCH as f64;
        let gflops = rate * flop / 1e9;
        println!(
            "memscape U-Net {res}×{res}: {params} params, {:.4} GFLOP forward/image, {:.1} GFLOP/step; \
             {rate:.2} steps/s ({lo:.2}–{hi:.2}), {gflops:.0} GFLOP/s = {:.0}% of GEMM peak",
            2.0 * macs as f64 / 1e9,
            flop / 1e9,
            100.0 * gflops / peak
        );
        match pytorch(res, threads) {
            Ok(j) => {
                let theirs = j["steps_per_s"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "PyTorch ({}) {res}×{res}: {} params, {} GFLOP forward/image; {theirs:.2} steps/s {}, {} GFLOP/s; memscape/PyTorch = {:.2}×",
                    j["framework"].as_str().unwrap_or("?"),
                    j["params"],
                    j["fwd_gflop_per_image"],
                    j["steps_per_s_range"],
                    j["gflop_per_s_train"],
                    rate / theirs
                );
            }
            Err(why) => println!("PyTorch reference not run: {why}"),
        }
        println!(
            "memscape U-Net {res}×{res} sampling: {:.0} images/s per network evaluation (batch 512)",
            memscape_images_per_s(res)
        );
    }
}
