//! `memscape attractors --checkpoint FILE --sigma S`: the landscape of a trained network at one
//! noise level. Its samples (stopped at sigma) settle and start matrix-free Newton–Krylov runs;
//! each fixed point gets its rightmost Jacobian spectrum, a kind and a basin
//! ([`memscape::analysis::landscape::attractor`]); the stable points with the largest basins get
//! their critical recovery level, and the relative energy from the largest basin's point to every
//! other stable point along a segment ([`memscape::analysis::landscape::recovery`]).

use memscape::analysis::landscape::attractor::{AttractorKind, CensusConfig, census};
use memscape::analysis::landscape::basin::{grid_points, padded_box};
use memscape::analysis::landscape::recovery::{RecoveryConfig, path_energy, recovery};
use memscape::analysis::landscape::settle::{SettleConfig, settle};
use memscape::analysis::samples::classify::ThresholdSpec;
use memscape::analysis::samples::distance::squared_distance;
use memscape::analysis::samples::support::{MIN_HELDOUT, SUPPORT_QUANTILE, SupportGate};
use memscape::dataset::DataSpec;
use memscape::dataset::data_scale;
use memscape::denoiser::Denoiser;
use memscape::pipeline::training_set;
use memscape::store::{Manifest, RunDir};
use memscape_train::ScoreModel;
use ndarray::{Array2, Array3, ArrayView1, ArrayView2};

use crate::flags::AttractorsArgs;

/// Grid of the 2-D basin map (its points settle for at most `BASIN_MAP_ITERATIONS`).
const BASIN_MAP_RESOLUTION: usize = 51;
const BASIN_MAP_ITERATIONS: usize = 500;
/// Grid of the 2-D energy (integrated along grid lines) and of the score arrows.
const ENERGY_RESOLUTION: usize = 101;
const SCORE_RESOLUTION: usize = 21;

pub fn run(args: AttractorsArgs, sigma: f64, command: Vec<String>) -> anyhow::Result<i32> {
    let path = args.checkpoint.clone().expect("called with a checkpoint");
    let (model, meta) = memscape_train::ScoreModel::load(&path)?;
    let spec = DataSpec::parse(&args.data)?;
    let pool = spec.load()?;
    let k = args.k.unwrap_or(pool.num_patterns());
    model.check_data(&path, pool.dim(), pool.image_shape, "--data")?;
    let holdout = args.holdout.min(pool.num_patterns().saturating_sub(k));
    let set = training_set(&spec, k, Some(holdout), args.subset_seed)?;
    let train = set.train.points.view();
    let d = train.ncols();
    let eigenvalues = match args.eigenvalues {
        Some(e) if e > d => {
            anyhow::bail!("--eigenvalues must be at most the data's dimension {d}, got {e}")
        }
        Some(e) => e,
        None => 10.min(d),
    };
    anyhow::ensure!(
        args.samples >= 1,
        "--samples must be ≥ 1 with --checkpoint (the census starts from them), got 0"
    );
    let settings = args.census.settings();
    settings.validate()?;
    let out = RunDir::create(&args.out)?;
    let t = trained_landscape(
        &out,
        &model,
        &set.train.points,
        set.heldout.points.view(),
        sigma,
        &TrainedSearch {
            samples: args.samples,
            eigenvalues,
            recovery: args.recovery,
            trials: args.trials,
            seed: args.seed,
            step: meta.step,
            checkpoint: Some(path.clone()),
            census: settings,
        },
    )?;
    let (c, config, recovery_config, seconds) = (t.census, t.config, t.recovery_config, t.seconds);
    let result = t.result;
    let count = |k: AttractorKind| c.counts.get(k);
    let mut files = t.files;
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "census": config, "recovery": recovery_config}),
    );
    manifest.seeds.insert("sampler".into(), args.seed);
    files.extend(["report.html".into(), "manifest.json".into()]);
    manifest.files = files;
    manifest.timings.insert("census_s".into(), seconds);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    eprintln!(
        "the network at step {} (sigma {sigma}): {} memories, {} spurious, {} off-support, {} manifolds, {} saddles, {} uncertain; {} of {} samples unsettled ({:.1}% [{:.1}, {:.1}]); census {} denoiser rows = {:.2} × sampling's {} ({:.1} per settled sample), {:.2} s; wrote {}",
        meta.step,
        count(AttractorKind::Memory),
        count(AttractorKind::Spurious),
        count(AttractorKind::OffSupport),
        count(AttractorKind::Manifold),
        count(AttractorKind::Saddle),
        count(AttractorKind::Uncertain),
        c.unsettled,
        args.samples,
        100.0 * c.unsettled_share,
        100.0 * c.unsettled_ci[0],
        100.0 * c.unsettled_ci[1],
        c.cost.total(),
        c.cost.total() as f64 / t.sampling_rows.max(1) as f64,
        t.sampling_rows,
        c.rows_per_settled_sample(),
        seconds,
        out.path().display()
    );
    if let Some(e) = c.euler.filter(|e| e.fails()) {
        eprintln!(
            "warning: the flow points into the box {:?}, where #minima − #saddles + #maxima must be 1, but the census counts {} − {} + {} = {}: critical points are missing",
            e.bounds, e.minima, e.saddles, e.maxima, e.chi
        );
    }
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}

/// What the trained landscape analysis runs with.
pub struct TrainedSearch {
    /// Samples stopped at sigma: the census's starts (at least 1).
    pub samples: usize,
    /// Rightmost Jacobian eigenvalues per fixed point (at most the dimension).
    pub eigenvalues: usize,
    /// Critical recovery levels of the stable points with the largest basins, this many.
    pub recovery: usize,
    /// Noise directions per recovery level.
    pub trials: usize,
    pub seed: u64,
    /// The network's training step and checkpoint file, for the record.
    pub step: usize,
    pub checkpoint: Option<std::path::PathBuf>,
    /// The census's margin and settling.
    pub census: memscape::analysis::landscape::attractor::CensusSettings,
}

/// A trained landscape written into a run directory.
pub struct TrainedLandscape {
    pub result: serde_json::Value,
    pub files: Vec<String>,
    pub census: memscape::analysis::landscape::attractor::Census,
    pub config: CensusConfig,
    pub recovery_config: RecoveryConfig,
    pub seconds: f64,
    /// Denoiser rows spent drawing the samples.
    pub sampling_rows: usize,
}

/// The census of `model` at `sigma` from its own samples, the recovery levels and relative
/// energies of its largest basins, written to `out` as `attractors.json` with `samples.npy`;
/// on 2-D data also the energy, score and basin grids, the patterns and the landscape figures.
/// `heldout` calibrates the support gate when it has at least 20 points.
pub fn trained_landscape(
    out: &RunDir,
    model: &ScoreModel,
    train_points: &Array2<f64>,
    heldout: ArrayView2<f64>,
    sigma: f64,
    search: &TrainedSearch,
) -> anyhow::Result<TrainedLandscape> {
    let train = train_points.view();
    let d = train.ncols();
    let eigenvalues = search.eigenvalues;
    let scale = data_scale(train);
    let clock = std::time::Instant::now();
    // the network's samples, stopped at this sigma (their denoiser rows counted)
    let sampled = std::sync::atomic::AtomicUsize::new(0);
    let counting = |x: ArrayView2<f64>, s: f64| {
        sampled.fetch_add(x.nrows(), std::sync::atomic::Ordering::Relaxed);
        model.denoise(x, s)
    };
    let (samples, _) = super::attractors::stopped_samples(
        &counting,
        train,
        search.samples,
        sigma,
        ("heun", 50, false),
        search.seed,
    )?;
    let sampling_rows = sampled.load(std::sync::atomic::Ordering::Relaxed);
    let thresholds = ThresholdSpec::default().resolve(train)?;
    let gate = (heldout.nrows() >= MIN_HELDOUT)
        .then(|| SupportGate::calibrate(train, heldout, SUPPORT_QUANTILE))
        .transpose()?;
    let mut config =
        CensusConfig::trained(scale, thresholds.delta_s, thresholds.delta_m, eigenvalues);
    config.fixed.max_arnoldi = d.min(config.fixed.max_arnoldi);
    config.fixed.seed = search.seed;
    search.census.apply(&mut config)?;
    let c = census(model, train, samples.view(), sigma, gate.as_ref(), &config)?;
    // recovery levels of the stable points with the largest basins
    let mut stable: Vec<usize> = (0..c.attractors.len())
        .filter(|&i| c.attractors[i].index == Some(0) && c.attractors[i].certified)
        .collect();
    stable.sort_by(|&a, &b| c.attractors[b].basin.total_cmp(&c.attractors[a].basin));
    let recovery_config = RecoveryConfig {
        trials: search.trials,
        rate: 0.9,
        delta: thresholds.delta_m,
        bracket: [1e-3 * scale, 10.0 * scale],
        rel_tol: 1e-3,
        ode_steps: 20,
        settle: config.settle,
        resamples: 200,
        seed: search.seed,
    };
    let mut recoveries = vec![];
    for &i in stable.iter().take(search.recovery) {
        let a = ArrayView1::from(&c.attractors[i].x);
        let r = recovery(model, a, sigma, &recovery_config)?;
        recoveries.push(serde_json::json!({"attractor": i, "recovery": r}));
    }
    let mut energies = vec![];
    if let Some(&first) = stable.first() {
        let a = ArrayView1::from(&c.attractors[first].x);
        for &j in stable.iter().skip(1) {
            let b = ArrayView1::from(&c.attractors[j].x);
            let path = path_energy(model, a, b, sigma, 32)?;
            energies.push(serde_json::json!({"from": first, "to": j, "delta": path.delta, "barrier": path.barrier}));
        }
    }
    let seconds = clock.elapsed().as_secs_f64();
    let mut result = serde_json::json!({
        "model": "trained",
        "checkpoint": search.checkpoint,
        "step": search.step,
        "sigma": sigma,
        "beta": 1.0 / (sigma * sigma),
        "critical_points": c.attractors,
        "counts": c.counts,
        "census": {"sampling_rows": sampling_rows, "rows_to_sampling": c.cost.total() as f64 / sampling_rows.max(1) as f64, "groups": c.groups, "neutral_sets": c.neutral_sets, "settled": c.settled,
            "unsettled": c.unsettled, "unsettled_share": c.unsettled_share, "unsettled_ci": c.unsettled_ci,
            "unsettled_reasons": c.unsettled_reasons, "unconverged_starts": c.unconverged_starts,
            "cost": c.cost, "rows": c.cost.total(), "rows_per_settled_sample": c.rows_per_settled_sample(),
            "euler": c.euler, "config": config, "num_samples": search.samples,
            "support_gate": gate.as_ref().map(|g| g.calibration)},
        "recovery": recoveries,
        "energies": energies,
        "thresholds": thresholds,
        "seconds": seconds,
    });
    let mut files = vec!["attractors.json".to_string(), "samples.npy".to_string()];
    out.write_npy("samples.npy", &samples)?;
    if d == 2 {
        let bounds = padded_box(train);
        let (energy, score) = energy_and_score(model, sigma, bounds);
        out.write_npy("energy_grid.npy", &energy)?;
        out.write_npy("score_grid.npy", &score)?;
        out.write_npy(
            "basin_map.npy",
            &basin_map(model, sigma, bounds, &c, &config),
        )?;
        out.write_npy("patterns.npy", train_points)?;
        result["grids"] = serde_json::json!({"bounds": bounds, "energy": format!("energy_grid.npy ({ENERGY_RESOLUTION} × {ENERGY_RESOLUTION}, row = y): E = −sigma² log p_sigma, integrated along grid lines from the lower-left corner (path dependent where the learned field has curl)"),
            "score": format!("score_grid.npy ({SCORE_RESOLUTION} × {SCORE_RESOLUTION} × 2, (D − x)/sigma²)"),
            "basins": format!("basin_map.npy ({BASIN_MAP_RESOLUTION} × {BASIN_MAP_RESOLUTION}): position in critical_points of the point each grid point settles within delta_s of, −1 elsewhere (at most {BASIN_MAP_ITERATIONS} iterations)")});
        files.extend(
            [
                "energy_grid.npy",
                "score_grid.npy",
                "basin_map.npy",
                "patterns.npy",
            ]
            .map(String::from),
        );
    }
    out.write_json("attractors.json", &result)?;
    files.extend(memscape_report::landscape_figures(out.path())?);
    Ok(TrainedLandscape {
        result,
        files,
        census: c,
        config,
        recovery_config,
        seconds,
        sampling_rows,
    })
}

/// E = −sigma² log p_sigma on a grid, from ∇E = x − D(x) by the trapezoid rule along the first
/// column then along each row (exact for a gradient field), and the score (D − x)/sigma² on a
/// coarser grid.
fn energy_and_score(
    model: &impl Denoiser,
    sigma: f64,
    bounds: [f64; 4],
) -> (Array2<f64>, Array3<f64>) {
    let n = ENERGY_RESOLUTION;
    let pts = grid_points(bounds, n);
    let g = &pts - &model.denoise(pts.view(), sigma);
    let [x0, x1, y0, y1] = bounds;
    let (dx, dy) = ((x1 - x0) / (n - 1) as f64, (y1 - y0) / (n - 1) as f64);
    let mut e = Array2::<f64>::zeros((n, n));
    for r in 1..n {
        e[[r, 0]] = e[[r - 1, 0]] + 0.5 * (g[[(r - 1) * n, 1]] + g[[r * n, 1]]) * dy;
    }
    for r in 0..n {
        for c in 1..n {
            e[[r, c]] = e[[r, c - 1]] + 0.5 * (g[[r * n + c - 1, 0]] + g[[r * n + c, 0]]) * dx;
        }
    }
    let m = SCORE_RESOLUTION;
    let coarse = grid_points(bounds, m);
    let s = (model.denoise(coarse.view(), sigma) - &coarse) / (sigma * sigma);
    let score = Array3::from_shape_fn((m, m, 2), |(r, c, j)| s[[r * m + c, j]]);
    (e, score)
}

/// Each grid point settled, labelled by the census point it ends within delta_s of (−1: none).
fn basin_map(
    model: &impl Denoiser,
    sigma: f64,
    bounds: [f64; 4],
    c: &memscape::analysis::landscape::attractor::Census,
    config: &CensusConfig,
) -> Array2<f64> {
    let n = BASIN_MAP_RESOLUTION;
    let pts = grid_points(bounds, n);
    let settled = settle(
        model,
        pts.view(),
        sigma,
        &SettleConfig {
            max_iterations: BASIN_MAP_ITERATIONS,
            ..config.settle
        },
    );
    let radius = config.group_radius.max(config.fixed.merge);
    Array2::from_shape_fn((n, n), |(r, col)| {
        let p = settled.points.row(r * n + col);
        c.attractors
            .iter()
            .position(|a| squared_distance(&a.x, p).sqrt() <= radius)
            .map_or(-1.0, |i| i as f64)
    })
}
