//! Sampling the exact model: oracles from the geometry of the data (issue 2's checks) and
//! reproducibility whatever the batch size or thread count.

use memscape::dataset::synthetic::{circle, two_points};
use memscape::denoiser::EmpiricalDenoiser;
use memscape::noise::{NoiseProcess, Schedule, Spacing, VpSchedule};
use memscape::sampler::{
    SamplerConfig, SamplerKind, TrajectoryRecorder, finish_trajectories, sample,
};

fn config(
    kind: SamplerKind,
    process: NoiseProcess,
    sigma_max: f64,
    sigma_min: f64,
    batch_size: usize,
) -> SamplerConfig {
    SamplerConfig {
        kind,
        schedule: Schedule {
            process,
            spacing: Spacing::Karras { rho: 7.0 },
            sigma_max,
            sigma_min,
            num_steps: 200,
            final_denoise: true,
        },
        seed: 5,
        batch_size,
    }
}

const KINDS: [SamplerKind; 4] = [
    SamplerKind::EulerMaruyama,
    SamplerKind::Ddim { eta: 0.0 },
    SamplerKind::Ddim { eta: 1.0 },
    SamplerKind::Heun,
];

#[test]
fn two_points_are_drawn_half_and_half_and_exactly() {
    // Patterns ±1 on the line, sampled from sigma 10 down to 1e-3: each sample lands within
    // 1e-3 of a pattern, and +1 comes up with frequency 1/2 within 3 standard errors.
    let patterns = two_points(2.0, 1);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    let n = 2000;
    for process in [NoiseProcess::Ve, NoiseProcess::Vp(VpSchedule::DDPM_LINEAR)] {
        for kind in KINDS {
            let s = sample(&den, 1, n, &config(kind, process, 10.0, 1e-3, 512), &mut ()).unwrap();
            assert!(
                s.iter().all(|v| (v.abs() - 1.0).abs() <= 1e-3),
                "{kind:?} {process:?}"
            );
            let plus = s.iter().filter(|&&v| v > 0.0).count() as f64 / n as f64;
            let se = (0.25 / n as f64).sqrt();
            assert!(
                (plus - 0.5).abs() <= 3.0 * se,
                "{kind:?} {process:?}: {plus}"
            );
        }
    }
}

#[test]
fn circle_samples_lie_on_the_circle() {
    // K = 1000 points of the unit circle, final sigma 0.05: mean radius within 0.05 of 1, and
    // the samples cover the circle: each of 8 sectors of angle holds at least 6% of them
    // (12.5% expected; the binomial standard deviation at n = 500 is 1.5%), which a collapse
    // onto a few points fails.
    let patterns = circle(1000, 1.0, 9);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    for kind in KINDS {
        for final_denoise in [true, false] {
            let mut cfg = config(kind, NoiseProcess::Ve, 10.0, 0.05, 500);
            cfg.schedule.final_denoise = final_denoise;
            cfg.schedule.num_steps = 100;
            let s = sample(&den, 2, 500, &cfg, &mut ()).unwrap();
            let mean_r = s.rows().into_iter().map(|r| r.dot(&r).sqrt()).sum::<f64>() / 500.0;
            assert!(
                (mean_r - 1.0).abs() <= 0.05,
                "{kind:?} final_denoise={final_denoise}: {mean_r}"
            );
            let mut sectors = [0usize; 8];
            for r in s.rows() {
                let angle = r[1].atan2(r[0]) + std::f64::consts::PI;
                sectors[((angle / std::f64::consts::TAU * 8.0) as usize).min(7)] += 1;
            }
            assert!(
                sectors.iter().all(|&c| c >= 30),
                "{kind:?} final_denoise={final_denoise}: sectors {sectors:?}"
            );
        }
    }
}

#[test]
fn same_seed_same_samples_whatever_the_batch_size() {
    let patterns = circle(300, 1.0, 1);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    for kind in KINDS {
        let run = |b| {
            sample(
                &den,
                2,
                256,
                &config(kind, NoiseProcess::Ve, 10.0, 1e-2, b),
                &mut (),
            )
            .unwrap()
        };
        let (a, b, c) = (run(1), run(7), run(256));
        assert_eq!(a, b, "{kind:?}: batch 1 vs 7");
        assert_eq!(a, c, "{kind:?}: batch 1 vs 256");
    }
}

#[test]
fn same_seed_same_samples_whatever_the_thread_count() {
    let patterns = circle(3000, 1.0, 2);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    let cfg = config(SamplerKind::EulerMaruyama, NoiseProcess::Ve, 10.0, 1e-2, 64);
    let in_pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sample(&den, 2, 200, &cfg, &mut ()).unwrap())
    };
    assert_eq!(in_pool(1), in_pool(2));
    assert_eq!(in_pool(1), in_pool(3));
}

#[test]
fn trajectories_start_at_the_prior_and_end_at_the_samples() {
    let patterns = two_points(2.0, 1);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    let cfg = config(SamplerKind::EulerMaruyama, NoiseProcess::Ve, 10.0, 1e-3, 3);
    let sigmas = cfg.schedule.sigmas().unwrap();
    let n = 400;
    let mut rec = TrajectoryRecorder::new(n, 1, &sigmas);
    let s = sample(&den, 1, n, &cfg, &mut rec).unwrap();
    finish_trajectories(&mut rec, s.view());
    assert_eq!(rec.trajectories.shape(), &[sigmas.len(), n, 1]);
    assert_eq!(
        rec.trajectories
            .slice(ndarray::s![sigmas.len() - 1, .., ..]),
        s
    );
    // The first state is the VE prior N(0, sigma_max²), sigma_max = 10: its mean within 4
    // standard errors (4 × 10/√400 = 2) of 0 and its standard deviation within 4 of its
    // standard errors (≈ 10/√(2·400) = 0.35) of 10.
    let first = rec.trajectories.slice(ndarray::s![0, .., 0]);
    let mean = first.mean().unwrap();
    let std = first.std(0.0);
    assert!(mean.abs() < 2.0, "prior mean {mean}");
    assert!((std - 10.0).abs() < 1.4, "prior standard deviation {std}");
}
