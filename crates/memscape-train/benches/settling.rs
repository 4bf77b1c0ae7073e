//! Settling a trained network's samples (a benchmark, not a test): the flow dx/ds = D(x) − x by
//! pseudo-transient continuation ([`memscape::analysis::landscape::settle`]) against the unit step
//! x ← D(x) and the damped fixed step x ← x + 0.15 (D(x) − x), from the same samples, in the same
//! run; then the whole census ([`memscape::analysis::landscape::attractor`]) against what drawing
//! the samples cost.
//!
//! The network: issue 25's U-Net (14×14 MNIST, K = 16, base 8, multipliers 1,2,2, batch 256,
//! `MEMSCAPE_BENCH_STEPS` steps, default 800), or the checkpoint `MEMSCAPE_BENCH_CHECKPOINT`
//! names (with `MEMSCAPE_BENCH_K` patterns, default 16). The samples: 500 of the network's own,
//! stopped at sigma = 0.02 × the data scale (Heun, 50 levels), as `attractors --checkpoint`
//! draws them. Tolerance 1e-5 × the data scale for every method; at most 1000 steps.
//!
//! Work is counted in denoiser rows (one image through the network); a U-Net row costs the
//! same whichever method asks for it, so rows per settled sample compare the methods directly.
//!
//! `RAYON_NUM_THREADS=2 cargo bench -p memscape-train --bench settling`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use memscape::analysis::landscape::attractor::{CensusConfig, census};
use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle};
use memscape::analysis::samples::classify::ThresholdSpec;
use memscape::dataset::{DataSpec, data_scale};
use memscape::denoiser::{Arithmetic, Denoiser};
use memscape::noise::{NoiseProcess, Spacing};
use memscape::pipeline::training_set;
use memscape::sampler::{self, SamplerKind};
use memscape::sampler::{SamplingPlan, default_sigma_range};
use memscape_train::{Architecture, ScoreModel, TrainConfig, train};
use ndarray::{Array2, ArrayView2};

const SAMPLES: usize = 500;
const MAX_STEPS: usize = 1000;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// x ← x + h (D(x) − x) until |D(x) − x| ≤ tol: converged share and rows per converged point.
fn fixed_step(
    den: &impl Denoiser,
    start: ArrayView2<f64>,
    sigma: f64,
    h: f64,
    tol: f64,
) -> (f64, f64, f64) {
    let clock = Instant::now();
    let mut x = start.to_owned();
    let mut done = vec![false; x.nrows()];
    let mut rows = 0;
    for _ in 0..MAX_STEPS {
        let active: Vec<usize> = (0..x.nrows()).filter(|&i| !done[i]).collect();
        if active.is_empty() {
            break;
        }
        let xa = x.select(ndarray::Axis(0), &active);
        let f = &den.denoise(xa.view(), sigma) - &xa;
        rows += active.len();
        for (r, &i) in active.iter().enumerate() {
            if f.row(r).dot(&f.row(r)).sqrt() <= tol {
                done[i] = true;
            } else {
                let step = &f.row(r) * h;
                let mut row = x.row_mut(i);
                row += &step;
            }
        }
    }
    let n = done.iter().filter(|&&d| d).count();
    (
        n as f64 / x.nrows() as f64,
        rows as f64 / n.max(1) as f64,
        clock.elapsed().as_secs_f64(),
    )
}

fn main() {
    let k: usize = env("MEMSCAPE_BENCH_K")
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let spec = DataSpec::parse(&format!(
        "mnist:{}/../../../shared/data/mnist,downscale=2",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("MNIST spec");
    let set = training_set(&spec, k, Some(0), 42).expect("MNIST in ../shared/data/mnist");
    let points = set.train.points;
    let model: ScoreModel = match env("MEMSCAPE_BENCH_CHECKPOINT") {
        Some(path) => {
            ScoreModel::load(std::path::Path::new(&path))
                .expect("checkpoint")
                .0
        }
        None => {
            let steps = env("MEMSCAPE_BENCH_STEPS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(800);
            let config = TrainConfig {
                architecture: Architecture::Unet,
                unet_base: 8,
                image_shape: set.train.image_shape,
                steps,
                checkpoints: 1,
                ..TrainConfig::default()
            };
            train(&config, points.view(), None, |_, _, _| Ok(()))
                .expect("training")
                .model
        }
    };
    let scale = data_scale(points.view());
    let sigma = 0.02 * scale;
    let tol = 1e-5 * scale;
    let sampled = AtomicUsize::new(0);
    let counting = |x: ArrayView2<f64>, s: f64| {
        sampled.fetch_add(x.nrows(), Ordering::Relaxed);
        model.denoise(x, s)
    };
    let plan = SamplingPlan {
        kind: SamplerKind::parse("heun", 0.0).unwrap(),
        process: NoiseProcess::Ve,
        spacing: Spacing::Karras { rho: 7.0 },
        sigma_max: None,
        sigma_min: Some(sigma),
        num_steps: 50,
        seed: 0,
        batch_size: 1024,
    };
    let sampler_config = plan
        .config(default_sigma_range(scale).0, sigma, false)
        .unwrap();
    let samples: Array2<f64> =
        sampler::sample(&counting, points.ncols(), SAMPLES, &sampler_config, &mut ()).unwrap();
    let sampling_rows = sampled.load(Ordering::Relaxed);
    println!(
        "U-Net on 14×14 MNIST, K = {k}, d = {}, sigma = {sigma:.4} (0.02 × scale {scale:.3}); {SAMPLES} samples cost {sampling_rows} rows ({:.1} per sample); tolerance {tol:.2e}, at most {MAX_STEPS} steps",
        points.ncols(),
        sampling_rows as f64 / SAMPLES as f64
    );
    println!(
        "{:<34} {:>10} {:>22} {:>9}",
        "method", "settled", "rows per settled sample", "seconds"
    );
    for (name, h) in [
        ("unit step x ← D(x)", 1.0),
        ("damped fixed step h = 0.15", 0.15),
    ] {
        let (share, rows, secs) = fixed_step(&model, samples.view(), sigma, h, tol);
        println!("{name:<34} {share:>10.3} {rows:>22.1} {secs:>9.1}");
    }
    let clock = Instant::now();
    let flow = settle(
        &model,
        samples.view(),
        sigma,
        &SettleConfig::flow(scale, Arithmetic::F32),
    );
    let settled = flow.status.iter().filter(|s| s.settled()).count();
    let converged = flow
        .status
        .iter()
        .filter(|&&s| s == SettleStatus::Converged)
        .count();
    println!(
        "{:<34} {:>10.3} {:>22.1} {:>9.1}   ({converged} converged, {} neutral)",
        "flow (pseudo-transient continuation)",
        settled as f64 / SAMPLES as f64,
        flow.rows() as f64 / settled.max(1) as f64,
        clock.elapsed().as_secs_f64(),
        settled - converged
    );
    let t = ThresholdSpec::default()
        .resolve(points.view(), None)
        .unwrap();
    let mut config = CensusConfig::trained(Arithmetic::F32, scale, t.delta_s, t.delta_m, 10);
    config.fixed.max_arnoldi = points.ncols().min(config.fixed.max_arnoldi);
    let clock = Instant::now();
    let c = census(&model, points.view(), samples.view(), sigma, None, &config).unwrap();
    println!(
        "census: {:?}; unsettled {} ({:?}); {} rows ({:?}) = {:.2} × sampling, {:.1} per settled sample, {:.1} s",
        c.counts,
        c.unsettled,
        c.unsettled_reasons,
        c.cost.total(),
        c.cost,
        c.cost.total() as f64 / sampling_rows as f64,
        c.rows_per_settled_sample(),
        clock.elapsed().as_secs_f64()
    );
}
