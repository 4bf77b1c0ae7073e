//! Issue 25: the attractor census of trained networks, checked against independent searches.
//!
//! - A small U-Net on 8 × 8 bar images: every point the census reports is checked against the
//!   dense central-difference Jacobian and its full (non-symmetric) eigen-decomposition: the
//!   index equals the dense count #{Re λ > 1}; no point is uncertain where the dense spectrum
//!   stays 2 × margin away from 1; and Newton from the reported points reaches distinct points.
//!   On the same network x ← D(x) settles none of the network's own samples (its Jacobian has
//!   eigenvalues below −1 at its stable points), while the flow settles ≥ 95% of them.
//! - A circle MLP (K = 9): the census equals a dense grid-Newton search over the data's padded
//!   box, point for point and by index, and the Poincaré–Hopf count is 1.

use faer::Mat;
use memscape::analysis::landscape::attractor::{Census, CensusConfig, census};
use memscape::analysis::landscape::fixed::{FixedPointConfig, Status, newton_krylov};
use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle};
use memscape::analysis::samples::classify::ThresholdSpec;
use memscape::analysis::samples::distance::squared_distance;
use memscape::dataset::data_scale;
use memscape::denoiser::{Arithmetic, Denoiser};
use memscape::noise::{NoiseProcess, Spacing};
use memscape::sampler::{self, SamplerKind};
use memscape::sampler::{SamplingPlan, default_sigma_range};
use memscape_train::{Architecture, ScoreModel, TrainConfig, train};
use ndarray::{Array1, Array2, ArrayView1};

const SIDE: usize = 8;

/// 8 distinct 8 × 8 bar images in [−1, 1] (a bright 2-wide bar, horizontal or vertical, at
/// positions 0..3), with a faint fixed texture.
fn bars() -> Array2<f64> {
    let mut x = Array2::from_elem((8, SIDE * SIDE), -1.0);
    for i in 0..8 {
        let at = 2 * (i / 2);
        for t in 0..SIDE {
            for b in at..at + 2 {
                let (row, col) = if i % 2 == 0 { (t, b) } else { (b, t) };
                x[[i, row * SIDE + col]] = 1.0;
            }
            x[[i, t * SIDE + (t * 3 + i) % SIDE]] += 0.1;
        }
    }
    x
}

/// A tiny U-Net trained `steps` steps on the bars.
fn unet(steps: usize) -> (ScoreModel, Array2<f64>) {
    let images = bars();
    let config = TrainConfig {
        architecture: Architecture::Unet,
        image_shape: Some((SIDE, SIDE)),
        unet_base: 8,
        unet_mults: vec![1, 2],
        unet_groups: 4,
        steps,
        batch_size: 16,
        checkpoints: 1,
        ..Default::default()
    };
    let run = train(&config, images.view(), None, |_, _, _| Ok(())).unwrap();
    (run.model, images)
}

/// `n` samples of `den` stopped at `sigma` (Heun, 50 levels from the default sigma_max), as
/// `attractors --checkpoint` draws its census's starts.
fn stopped_samples(den: &impl Denoiser, train: &Array2<f64>, n: usize, sigma: f64) -> Array2<f64> {
    let scale = data_scale(train.view());
    let plan = SamplingPlan {
        kind: SamplerKind::parse("heun", 0.0).unwrap(),
        process: NoiseProcess::Ve,
        spacing: Spacing::Karras { rho: 7.0 },
        sigma_max: None,
        sigma_min: Some(sigma),
        num_steps: 50,
        seed: 1,
        batch_size: 256,
    };
    let config = plan
        .config(default_sigma_range(scale).0, sigma, false)
        .unwrap();
    sampler::sample(den, train.ncols(), n, &config, &mut ()).unwrap()
}

/// The census a user gets from `attractors --checkpoint` (the classification's radii, 10
/// eigenvalues, capped at the dimension).
fn run_census(
    model: &ScoreModel,
    train: &Array2<f64>,
    samples: &Array2<f64>,
    sigma: f64,
) -> Census {
    let scale = data_scale(train.view());
    let t = ThresholdSpec::default()
        .resolve(train.view(), None)
        .unwrap();
    let d = train.ncols();
    let mut config = CensusConfig::trained(Arithmetic::F32, scale, t.delta_s, t.delta_m, 10.min(d));
    config.fixed.max_arnoldi = d.min(config.fixed.max_arnoldi);
    census(model, train.view(), samples.view(), sigma, None, &config).unwrap()
}

/// The dense Jacobian of D at `x` by central differences (2d rows) and its eigenvalues.
fn dense_spectrum(den: &impl Denoiser, x: ArrayView1<f64>, sigma: f64, h: f64) -> Vec<(f64, f64)> {
    let d = x.len();
    let mut probes = Array2::zeros((2 * d, d));
    for i in 0..d {
        probes.row_mut(2 * i).assign(&x);
        probes.row_mut(2 * i + 1).assign(&x);
        probes[[2 * i, i]] += h;
        probes[[2 * i + 1, i]] -= h;
    }
    let out = den.denoise(probes.view(), sigma);
    let j = Mat::<f64>::from_fn(d, d, |r, c| {
        (out[[2 * c, r]] - out[[2 * c + 1, r]]) / (2.0 * h)
    });
    let evd = j.eigen().unwrap();
    (0..d).map(|i| (evd.S()[i].re, evd.S()[i].im)).collect()
}

#[test]
fn the_census_of_a_trained_unet_agrees_with_the_dense_jacobian() {
    let (model, images) = unet(600);
    let scale = data_scale(images.view());
    let sigma = 0.02 * scale;
    let samples = stopped_samples(&model, &images, 120, sigma);
    let c = run_census(&model, &images, &samples, sigma);
    let fixed = FixedPointConfig::for_scale(scale, Arithmetic::F32);
    let margin = fixed.margin;
    eprintln!(
        "census: {:?}, unsettled {}, rows {}",
        c.counts,
        c.unsettled,
        c.cost.total()
    );
    assert!(c.attractors.len() >= 3, "{:?}", c.counts);
    assert!(
        c.counts.attractors() >= 1 && c.counts.saddle >= 1,
        "{:?}",
        c.counts
    );
    for (i, a) in c.attractors.iter().enumerate() {
        let x = ArrayView1::from(&a.x);
        let dense = dense_spectrum(&model, x, sigma, fixed.fd_step);
        let index = dense.iter().filter(|l| l.0 > 1.0).count();
        let distance = dense
            .iter()
            .map(|l| (1.0 - l.0).abs())
            .fold(f64::INFINITY, f64::min);
        eprintln!(
            "point {i}: {:?} index {:?} certified {} dense index {index}, min |1 − Re λ| {distance:.4}",
            a.kind, a.index, a.certified
        );
        if a.certified {
            assert_eq!(a.index, Some(index), "point {i} ({:?}): {dense:?}", a.kind);
        }
        if distance >= 2.0 * margin {
            assert!(
                a.certified,
                "point {i} is uncertain ({:?}) though the dense spectrum stays {distance} from 1",
                a.uncertain
            );
        }
    }
    // Newton from every reported point reaches distinct points
    let ends: Vec<Array1<f64>> = c
        .attractors
        .iter()
        .map(|a| {
            let run = newton_krylov(&model, sigma, ArrayView1::from(&a.x), &fixed);
            assert_eq!(run.status, Status::Converged);
            run.x
        })
        .collect();
    for i in 0..ends.len() {
        for j in i + 1..ends.len() {
            let dist = squared_distance(&ends[i], &ends[j]).sqrt();
            assert!(
                dist > fixed.merge,
                "points {i} and {j} reach one point ({dist})"
            );
        }
    }
}

#[test]
fn the_flow_settles_a_unet_where_the_unit_step_diverges() {
    let (model, images) = unet(600);
    let scale = data_scale(images.view());
    let sigma = 0.02 * scale;
    let samples = stopped_samples(&model, &images, 120, sigma);
    let tolerance = 1e-5 * scale;
    let unit = settle(
        &model,
        samples.view(),
        sigma,
        &SettleConfig::unit_step(tolerance, 1000),
    );
    let flow = settle(
        &model,
        samples.view(),
        sigma,
        &SettleConfig::flow(scale, Arithmetic::F32),
    );
    let share = |s: &[SettleStatus]| {
        s.iter().filter(|&&s| s == SettleStatus::Converged).count() as f64 / s.len() as f64
    };
    eprintln!(
        "unit step settled {}, flow {} ({} rows per sample)",
        share(&unit.status),
        share(&flow.status),
        flow.rows() as f64 / samples.nrows() as f64
    );
    // the old iteration fails: x ← D(x) moves away from the stable points
    assert!(
        share(&unit.status) <= 0.05,
        "unit step settled {}",
        share(&unit.status)
    );
    assert!(
        share(&flow.status) >= 0.95,
        "flow settled {}",
        share(&flow.status)
    );
    // every converged end is a fixed point to the tolerance
    for (i, s) in flow.status.iter().enumerate() {
        if *s == SettleStatus::Converged {
            let x = flow.points.row(i).insert_axis(ndarray::Axis(0));
            let r = &model.denoise(x, sigma) - &x;
            assert!(r.mapv(|v| v * v).sum().sqrt() <= tolerance);
        }
    }
}

/// The fixed points of `den` in `bounds` from Newton on a `n` × `n` grid of starts (dense
/// 2 × 2 Jacobians), merged within 1e-4, each with its dense index.
fn grid_newton(
    den: &impl Denoiser,
    sigma: f64,
    bounds: [f64; 4],
    n: usize,
) -> Vec<(Array1<f64>, usize)> {
    let [x0, x1, y0, y1] = bounds;
    let h = 2e-3;
    let jacobian = |x: &Array1<f64>| -> [[f64; 2]; 2] {
        let p = ndarray::array![
            [x[0] + h, x[1]],
            [x[0], x[1] + h],
            [x[0] - h, x[1]],
            [x[0], x[1] - h]
        ];
        let o = den.denoise(p.view(), sigma);
        let mut j = [[0.0; 2]; 2];
        for c in 0..2 {
            for r in 0..2 {
                j[r][c] = (o[[c, r]] - o[[c + 2, r]]) / (2.0 * h);
            }
        }
        j
    };
    let residual = |x: &Array1<f64>| {
        let o = den.denoise(x.view().insert_axis(ndarray::Axis(0)), sigma);
        x - &o.row(0)
    };
    let mut found: Vec<(Array1<f64>, usize)> = vec![];
    for a in 0..n {
        for b in 0..n {
            let mut x = ndarray::array![
                x0 + (x1 - x0) * a as f64 / (n - 1) as f64,
                y0 + (y1 - y0) * b as f64 / (n - 1) as f64
            ];
            for _ in 0..60 {
                let f = residual(&x);
                if f.dot(&f).sqrt() < 1e-7 {
                    break;
                }
                // (I − J) s = −f by Cramer's rule, at most 0.1 long
                let j = jacobian(&x);
                let m = [[1.0 - j[0][0], -j[0][1]], [-j[1][0], 1.0 - j[1][1]]];
                let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
                let mut s = ndarray::array![
                    (-f[0] * m[1][1] + f[1] * m[0][1]) / det,
                    (-m[0][0] * f[1] + m[1][0] * f[0]) / det
                ];
                let len = s.dot(&s).sqrt();
                if len > 0.1 {
                    s *= 0.1 / len;
                }
                x += &s;
            }
            let f = residual(&x);
            let inside = x[0] >= x0 && x[0] <= x1 && x[1] >= y0 && x[1] <= y1;
            if f.dot(&f).sqrt() < 1e-6
                && inside
                && !found
                    .iter()
                    .any(|(p, _)| squared_distance(p, &x).sqrt() < 1e-4)
            {
                let j = jacobian(&x);
                let (tr, det) = (j[0][0] + j[1][1], j[0][0] * j[1][1] - j[0][1] * j[1][0]);
                let disc = tr * tr / 4.0 - det;
                let re = if disc >= 0.0 {
                    [tr / 2.0 + disc.sqrt(), tr / 2.0 - disc.sqrt()]
                } else {
                    [tr / 2.0; 2]
                };
                found.push((x, re.iter().filter(|&&l| l > 1.0).count()));
            }
        }
    }
    found
}

#[test]
fn the_census_of_a_circle_mlp_equals_a_dense_grid_newton_search() {
    // K = 9 points of the unit circle, the map's MLP at the default training length
    let pool = memscape::dataset::DataSpec::parse("circle")
        .unwrap()
        .load()
        .unwrap();
    let split = memscape::dataset::subset::Split::new(pool.num_patterns(), 0, 42).unwrap();
    let points = split.train(&pool, 9).unwrap().points;
    let config = TrainConfig {
        steps: 4000,
        checkpoints: 1,
        ..Default::default()
    };
    let model = train(&config, points.view(), None, |_, _, _| Ok(()))
        .unwrap()
        .model;
    let sigma = 0.02 * data_scale(points.view());
    let samples = stopped_samples(&model, &points, 400, sigma);
    let c = run_census(&model, &points, &samples, sigma);
    let euler = c.euler.expect("2-D data");
    assert!(euler.inward && euler.countable, "{euler:?}");
    assert_eq!(euler.chi, 1, "{euler:?}");
    let grid = grid_newton(&model, sigma, euler.bounds, 50);
    let inside: Vec<_> = c
        .attractors
        .iter()
        .filter(|a| {
            let [x0, x1, y0, y1] = euler.bounds;
            a.x[0] >= x0 && a.x[0] <= x1 && a.x[1] >= y0 && a.x[1] <= y1
        })
        .collect();
    eprintln!(
        "census {:?}, {euler:?}; grid {} points",
        c.counts,
        grid.len()
    );
    assert_eq!(
        inside.len(),
        grid.len(),
        "census {:?} vs grid {grid:?}",
        c.counts
    );
    for (x, index) in &grid {
        let nearest = inside
            .iter()
            .min_by(|a, b| squared_distance(&a.x, x).total_cmp(&squared_distance(&b.x, x)))
            .unwrap();
        assert!(
            squared_distance(&nearest.x, x).sqrt() < 1e-3,
            "the grid's point {x} (index {index}) is missing"
        );
        assert_eq!(nearest.index, Some(*index), "at {x}");
    }
}
