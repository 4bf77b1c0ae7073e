//! One fixed point and its 10 rightmost Jacobian eigenvalues of a U-Net trained on 14×14 MNIST (a
//! benchmark, not a test): matrix-free Newton–Krylov and Arnoldi
//! ([`memscape::analysis::landscape::fixed`]) against the dense finite-difference path (2d + 1 rows
//! and a d × d eigen-decomposition per Newton step), from the same start, in the same run.
//!
//! The network: the image study's U-Net (base 16, multipliers 1,2,2, one block per level),
//! trained for `MEMSCAPE_BENCH_STEPS` steps (default 1000, batch 64, EMA 0.999) on K = 32
//! images. The start: one of its samples stopped at sigma = 0.02 × the data scale (the
//! dynamics census's level), settled as the census settles (the flow dx/ds = D(x) − x to
//! 1e-5 × the data scale: near a fixed point, not on it, so that both paths have Newton steps
//! to take).
//!
//! FLOPs: denoiser rows × 2 × the network's multiply-accumulates per image; the rate is set
//! against the machine's f32 GEMM peak measured here (faer, n = 1024).
//!
//! Reference, run in the same invocation: `bench/fixed_point_torch.py`, the same architecture
//! in PyTorch (random weights): its time per denoiser row, per forward-mode JVP
//! (`torch.func.jvp`), SciPy's `newton_krylov` and ARPACK's `eigs` (k = 10) on it.
//!
//! `RAYON_NUM_THREADS=2 cargo bench -p memscape-train --bench fixed_points`

#[path = "../../memscape/benches/common/mod.rs"]
mod common;

use std::time::Instant;

use memscape::analysis::landscape::fixed::{
    FixedPointConfig, fixed_points_dense, newton_krylov, stability,
};
use memscape::analysis::landscape::settle::{SettleConfig, settle};
use memscape::dataset::DataSpec;
use memscape::dataset::data_scale;
use memscape::denoiser::Arithmetic;
use memscape::pipeline::training_set;
use memscape::sampler::SamplingPlan;
use memscape_train::{Architecture, ScoreModel, TrainConfig, train};
use ndarray::{Array2, Axis};

fn main() {
    let steps: usize = std::env::var("MEMSCAPE_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let spec = DataSpec::parse(&format!(
        "mnist:{}/../../../shared/data/mnist,downscale=2",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("MNIST spec");
    let set = training_set(&spec, 32, Some(0), 42).expect("MNIST in ../shared/data/mnist");
    let train_points = set.train.points;
    let d = train_points.ncols();
    let config = TrainConfig {
        architecture: Architecture::Unet,
        unet_base: 16,
        image_shape: set.train.image_shape,
        steps,
        checkpoints: 1,
        batch_size: 64,
        ema: Some(0.999),
        ..TrainConfig::default()
    };
    let clock = Instant::now();
    let mut model: Option<ScoreModel> = None;
    train(&config, train_points.view(), None, |m, _, _| {
        model = Some(m.clone());
        Ok(())
    })
    .expect("training runs");
    let model = model.expect("the last step is a checkpoint");
    let train_s = clock.elapsed().as_secs_f64();
    let scale = data_scale(train_points.view());
    let sigma = 0.02 * scale;
    let plan = SamplingPlan {
        kind: memscape::sampler::SamplerKind::parse("heun", 0.0).unwrap(),
        process: memscape::noise::NoiseProcess::Ve,
        spacing: memscape::noise::Spacing::Karras { rho: 7.0 },
        sigma_max: Some(10.0 * scale),
        sigma_min: Some(sigma),
        num_steps: 30,
        seed: 1,
        batch_size: 64,
    };
    let sampler = plan.config(10.0 * scale, sigma, false).unwrap();
    let samples = memscape::sampler::sample(&model, d, 8, &sampler, &mut ()).unwrap();
    // as the census settles: the flow dx/ds = D(x) − x
    let settled = settle(
        &model,
        samples.view(),
        sigma,
        &SettleConfig::flow(scale, Arithmetic::F32),
    );
    let start = settled.points.index_axis(Axis(0), 0).to_owned();
    let fixed = FixedPointConfig {
        eigenvalues: 10,
        max_arnoldi: 120,
        ..FixedPointConfig::for_scale(scale, Arithmetic::F32)
    };
    let macs = model.network.macs_per_sample() as f64;
    let peak = common::gemm_peak(1024);
    let pair = Array2::from_shape_fn((2, d), |(_, j)| start[j]);
    let row_s = common::time(20, || {
        std::hint::black_box(memscape::denoiser::Denoiser::denoise(
            &model,
            pair.view(),
            sigma,
        ));
    }) / 2.0;

    let t = Instant::now();
    let run = newton_krylov(&model, sigma, start.view(), &fixed);
    let newton_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let spectrum = stability(&model, sigma, run.x.view(), &fixed, 0);
    let arnoldi_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let start_row: Array2<f64> = start.clone().insert_axis(Axis(0));
    let dense = fixed_points_dense(
        &model,
        sigma,
        start_row.view(),
        fixed.fd_step,
        fixed.tolerance,
        fixed.merge,
    );
    let dense_s = t.elapsed().as_secs_f64();

    println!(
        "U-Net on 14×14 MNIST, K = 32, {steps} steps ({:.0} s), {} parameters, {:.2} MMAC/image; d = {d}, sigma = {sigma:.4} (0.02 × scale {scale:.3}); f32 GEMM peak {peak:.1} GFLOP/s (faer, n = 1024)",
        train_s,
        model.network.num_parameters(),
        macs / 1e6
    );
    println!(
        "{:<34} {:>9} {:>8} {:>9} {:>10} {:>12} {:>9}",
        "path", "time s", "calls", "rows", "GFLOP", "GFLOP/s", "of peak"
    );
    let line = |name: &str, s: f64, calls: usize, rows: usize| {
        let gflop = rows as f64 * 2.0 * macs / 1e9;
        println!(
            "{name:<34} {s:>9.3} {calls:>8} {rows:>9} {gflop:>10.2} {:>12.2} {:>8.1}%",
            gflop / s,
            100.0 * gflop / s / peak
        );
    };
    line(
        "matrix-free Newton–Krylov",
        newton_s,
        run.cost.calls,
        run.cost.rows,
    );
    line(
        "matrix-free Arnoldi (10 values)",
        arnoldi_s,
        spectrum.cost.calls,
        spectrum.cost.rows,
    );
    line(
        "matrix-free total",
        newton_s + arnoldi_s,
        run.cost.calls + spectrum.cost.calls,
        run.cost.rows + spectrum.cost.rows,
    );
    match dense.first() {
        Some(p) => {
            line(
                "dense FD Newton + eigen (naive)",
                dense_s,
                p.cost.calls,
                p.cost.rows,
            );
            let gap: f64 =
                p.x.iter()
                    .zip(run.x.iter())
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
            println!(
                "dense / matrix-free: {:.1}× the time, {:.1}× the rows; the two fixed points are {gap:.2e} apart ({:.2e} of the scale)",
                dense_s / (newton_s + arnoldi_s),
                p.cost.rows as f64 / (run.cost.rows + spectrum.cost.rows) as f64,
                gap / scale
            );
            let top: Vec<String> = p
                .eigenvalues
                .iter()
                .take(3)
                .map(|v| format!("{:.4}", 1.0 - v))
                .collect();
            println!(
                "dense: index {} (symmetric part of I − J); its 3 largest 1 − eigenvalues {}",
                p.index,
                top.join(", ")
            );
        }
        None => println!(
            "dense FD Newton did not converge from this start in {dense_s:.1} s (100 steps of {} rows)",
            2 * d + 1
        ),
    }
    println!(
        "start: {} settling iterations, |x − D(x)| = {:.2e} there",
        settled.iterations,
        {
            let f = &start
                - &memscape::denoiser::Denoiser::denoise(&model, start_row.view(), sigma).row(0);
            f.dot(&f).sqrt()
        }
    );
    println!(
        "Newton–Krylov: {:?} after {} steps, |x − D(x)| = {:.2e}; Arnoldi: Krylov dimension {}, certified {}, index {}, gap {:.4}",
        run.status,
        run.iterations,
        run.residual,
        spectrum.krylov_dimension,
        spectrum.certified,
        spectrum.index,
        spectrum.gap
    );
    let threads = rayon::current_num_threads().to_string();
    match common::reference(
        &format!("{}/fixed_point_torch.py", common::BENCH),
        &["--res", "14", "--ch", "16", "--threads", &threads],
        &[],
    ) {
        Ok(records) => {
            let r = &records[0];
            let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "PyTorch ({}, {} threads, same architecture, random weights): {:.3} ms per denoiser row (memscape {:.3} ms: {:.2}×), {:.3} ms per torch.func.jvp (memscape's central difference: 2 rows, {:.3} ms: {:.2}×)",
                r["framework"].as_str().unwrap_or("?"),
                r["threads"],
                1e3 * f("row_s"),
                1e3 * row_s,
                f("row_s") / row_s,
                1e3 * f("jvp_s"),
                2e3 * row_s,
                f("jvp_s") / (2.0 * row_s)
            );
            println!(
                "SciPy on it: newton_krylov (LGMRES, FD products) {:.2} s, {} residual evaluations, converged {}; ARPACK eigs k = 10 {:.2} s, {} JVPs ({:.1} ms each; memscape's Arnoldi above: {:.1} ms per product)",
                f("newton_krylov_s"),
                r["newton_krylov_calls"],
                r["newton_krylov_converged"],
                f("eigs_s"),
                r["eigs_products"],
                1e3 * f("eigs_s") / f("eigs_products"),
                1e3 * arnoldi_s / spectrum.cost.calls.max(1) as f64
            );
        }
        Err(why) => println!("PyTorch reference did not run: {why}"),
    }
    let vals: Vec<String> = spectrum
        .eigenvalues
        .iter()
        .map(|v| {
            if v[1].abs() > 1e-9 {
                format!("{:.4}{:+.4}i", v[0], v[1])
            } else {
                format!("{:.4}", v[0])
            }
        })
        .collect();
    println!("10 rightmost eigenvalues of J: {}", vals.join(", "));
}
