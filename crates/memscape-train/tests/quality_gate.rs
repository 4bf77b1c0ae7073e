//! Issue 14's contract for trained networks, on small synthetic images (no `../shared`):
//! "generalized" must mean a good new sample. An untrained U-Net and an MLP after 10 steps
//! produce noise, which the support gate calls off-support; a tiny U-Net trained on 4 images
//! until its loss plateaus reproduces them (memorized); and U-Net training is bit-identical for
//! a seed on 1 and 2 threads (loss curve, checkpoint bytes, samples).

use memscape::analysis::samples::classify::{ThresholdSpec, classify, fractions};
use memscape::analysis::samples::support::{SUPPORT_QUANTILE, SupportGate};
use memscape::dataset::data_scale;
use memscape::denoiser::Denoiser;
use memscape::noise::{NoiseProcess, Spacing};
use memscape::sampler::{self, SamplerKind};
use memscape::sampler::{MAP_SIGMA_MIN, SamplingPlan, default_sigma_range};
use memscape_train::{Architecture, TrainConfig, train};
use ndarray::Array2;

const SIDE: usize = 8;

/// `n` 8 × 8 images in [−1, 1]: one bright horizontal or vertical bar of width 2 at a random
/// place, with faint pixel noise (a structured image distribution: bars, not blobs).
fn bars(n: usize, seed: u64) -> Array2<f64> {
    let mut r = memscape::rng::stream(seed, 0);
    let mut x = Array2::from_elem((n, SIDE * SIDE), -1.0);
    for i in 0..n {
        let u = memscape::rng::normal(&mut r).abs();
        let at = ((u * 1e6) as usize) % (SIDE - 1);
        let vertical = ((u * 1e7) as usize).is_multiple_of(2);
        for a in 0..SIDE {
            for b in at..at + 2 {
                let (row, col) = if vertical { (a, b) } else { (b, a) };
                x[[i, row * SIDE + col]] = 1.0;
            }
        }
        for v in x.row_mut(i) {
            *v += 0.05 * memscape::rng::normal(&mut r);
        }
    }
    x
}

/// Fractions of `samples` against `train` with the gate calibrated on `heldout`.
fn classes(train: &Array2<f64>, heldout: &Array2<f64>, samples: &Array2<f64>) -> [f64; 4] {
    let gate = SupportGate::calibrate(train.view(), heldout.view(), SUPPORT_QUANTILE).unwrap();
    let c = classify(
        train.view(),
        samples.view(),
        None,
        &ThresholdSpec::default(),
        Some(&gate),
    )
    .unwrap();
    let f = fractions(&c, 0, 0);
    [
        f.memorized.value,
        f.spurious.value,
        f.generalized.value,
        f.off_support.value,
    ]
}

/// 200 samples of `den`, map's sampler (Euler–Maruyama, 100 levels to 0.02 × the RMS norm).
fn sample(den: &impl Denoiser, train: &Array2<f64>) -> Array2<f64> {
    let scale = data_scale(train.view());
    let plan = SamplingPlan {
        kind: SamplerKind::EulerMaruyama,
        process: NoiseProcess::Ve,
        spacing: Spacing::Geometric,
        sigma_max: None,
        sigma_min: None,
        num_steps: 100,
        seed: 5,
        batch_size: 64,
    };
    let config = plan
        .config(default_sigma_range(scale).0, MAP_SIGMA_MIN * scale, true)
        .unwrap();
    sampler::sample(den, train.ncols(), 200, &config, &mut ()).unwrap()
}

fn unet_config(steps: usize) -> TrainConfig {
    TrainConfig {
        architecture: Architecture::Unet,
        image_shape: Some((SIDE, SIDE)),
        unet_base: 8,
        unet_mults: vec![1, 2],
        unet_groups: 4,
        steps,
        batch_size: 16,
        lr: 2e-3,
        checkpoints: steps.min(2),
        ..Default::default()
    }
}

#[test]
fn untrained_networks_are_off_support() {
    let images = bars(4, 1);
    let heldout = bars(300, 2);
    // a U-Net at initialisation: one step at learning rate ~0 leaves the initial weights
    let untrained = train(
        &TrainConfig {
            lr: 1e-12,
            ..unet_config(1)
        },
        images.view(),
        None,
        |_, _, _| Ok(()),
    )
    .unwrap();
    let f = classes(&images, &heldout, &sample(&untrained.model, &images));
    assert!(f[3] >= 0.9 && f[2] <= 0.1, "untrained U-Net: {f:?}");
    // an MLP after 10 steps
    let mlp = train(
        &TrainConfig {
            width: 64,
            depth: 2,
            steps: 10,
            checkpoints: 1,
            ..Default::default()
        },
        images.view(),
        None,
        |_, _, _| Ok(()),
    )
    .unwrap();
    let f = classes(&images, &heldout, &sample(&mlp.model, &images));
    assert!(f[3] >= 0.9 && f[2] <= 0.1, "MLP after 10 steps: {f:?}");
}

#[test]
fn a_unet_trained_to_a_plateau_on_four_images_memorizes_them() {
    let images = bars(4, 1);
    let heldout = bars(300, 2);
    let run = train(&unet_config(1500), images.view(), None, |_, _, _| Ok(())).unwrap();
    // plateau: the mean loss of the last 200 steps is within 25% of the 200 before
    let mean = |r: std::ops::Range<usize>| run.losses[r].iter().sum::<f32>() / 200.0;
    let (before, last) = (mean(1100..1300), mean(1300..1500));
    assert!(
        (last - before).abs() <= 0.25 * before,
        "loss still moving: {before} → {last}"
    );
    let f = classes(&images, &heldout, &sample(&run.model, &images));
    assert!(f[0] >= 0.9, "trained U-Net on 4 images: {f:?}");
}

/// Same seed → the same loss curve, checkpoint bytes and samples on 1 and 2 threads.
#[test]
fn unet_training_is_bit_identical_across_thread_counts() {
    let images = bars(6, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        dropout: 0.1,
        ema: Some(0.9),
        ..unet_config(12)
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let path = dir.path().join(format!("t{threads}.safetensors"));
            let run = train(&config, images.view(), None, |model, meta, _| {
                model.save(&path, meta)
            })
            .unwrap();
            let samples = sample(&run.model, &images);
            (run.losses, std::fs::read(&path).unwrap(), samples)
        })
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.0, b.0, "loss curves differ");
    assert!(a.1 == b.1, "checkpoint bytes differ");
    assert_eq!(a.2, b.2, "samples differ");
}
