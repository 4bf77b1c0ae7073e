//! The matrix-free trace against the exact model's dense continuation: one pattern's weight w
//! as "training time" through the same [`Homotopy`] interface a network's checkpoints use.

use memscape::analysis::landscape::bifurcation::{EventType, SweepConfig, fold_curves, sweep};
use memscape::analysis::landscape::continuation::{Family, Parameter};
use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
use memscape::analysis::landscape::trace::{
    Homotopy, Interval, SigmaPath, TraceConfig, trace_interval,
};
use memscape::denoiser::Arithmetic;
use memscape::denoiser::{EmpiricalDenoiser, Landscape};
use ndarray::{Array2, array};

/// The multi-start critical set of the family at w: the census at one end.
fn census(family: &Family, w: f64, spacing: f64) -> Vec<Vec<f64>> {
    let land = family.landscape(w).unwrap();
    let set = critical_points(&land, &SearchConfig::for_spacing(spacing), None).unwrap();
    set.points.iter().map(|p| p.x.to_vec()).collect()
}

fn trace(
    patterns: &Array2<f64>,
    index: usize,
    beta: f64,
    range: (f64, f64),
    spacing: f64,
) -> Interval {
    let family = Family::new(patterns.view(), Parameter::Weight { index, beta }).unwrap();
    let config = TraceConfig::for_scale(
        family.scale,
        Arithmetic::F64,
        range.1 - range.0,
        patterns.ncols(),
    );
    let (before, after) = (
        census(&family, range.0, spacing),
        census(&family, range.1, spacing),
    );
    trace_interval(&family, range, &before, &after, &config).unwrap()
}

fn folds(i: &Interval) -> Vec<f64> {
    i.events
        .iter()
        .filter(|e| e.kind == EventType::Fold)
        .map(|e| e.theta)
        .collect()
}

#[test]
fn folds_in_the_weight_equal_the_dense_sweep() {
    // ±1 with pattern 1's weight w over [0.5, 1.5] (bifurcate --weight-of 1): for beta > 1 the
    // pitchfork at w = 1 unfolds into two folds, w₋ < 1 < w₊, inside the range for beta ≤ 1.3
    // (theory.md §5). The trace's folds
    // equal the dense sweep's (sweep, Parameter::Weight) to 1e-6, and each interval is
    // explained: the multi-start counts at w = 1.5 are those at 0.5 carried across the folds.
    let p = array![[1.0], [-1.0]];
    let spacing = 2.0;
    for beta in [1.05, 1.15, 1.3] {
        let t = trace(&p, 1, beta, (0.5, 1.5), spacing);
        assert!(t.explained, "beta {beta}: {t:?}");
        let got = folds(&t);
        let config = SweepConfig {
            steps: 41,
            tolerance: 1e-9,
            search: SearchConfig::for_spacing(spacing),
        };
        let s = sweep(
            p.view(),
            Parameter::Weight { index: 1, beta },
            0.5,
            1.5,
            &config,
        )
        .unwrap();
        let want: Vec<f64> = s
            .events
            .iter()
            .filter(|e| e.kind == EventType::Fold)
            .map(|e| e.at)
            .collect();
        assert_eq!(got.len(), want.len(), "beta {beta}: {got:?} vs {want:?}");
        assert!(!got.is_empty(), "beta {beta}");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "beta {beta}: fold at {g}, dense {w}");
        }
    }
}

#[test]
fn the_folds_merge_at_the_cusp_of_the_dense_fold_curve() {
    // The same family: the beta at which the trace's two folds in w merge and vanish,
    // bisected to 0.01, is the cusp of the dense fold curve in (beta, w) (fold_curves:
    // (1, 1)), within that width.
    let p = array![[1.0], [-1.0]];
    let config = SweepConfig {
        steps: 40,
        tolerance: 1e-9,
        search: SearchConfig::for_spacing(2.0),
    };
    let curves = fold_curves(p.view(), 1, (0.5, 3.0), (0.5, 1.5), &[0.8], &config).unwrap();
    let cusp = &curves[0].cusps[0];
    let (mut below, mut above) = (0.8, 1.3);
    assert_eq!(folds(&trace(&p, 1, below, (0.5, 1.5), 2.0)).len(), 0);
    assert_eq!(folds(&trace(&p, 1, above, (0.5, 1.5), 2.0)).len(), 2);
    while above - below > 0.01 {
        let mid = 0.5 * (below + above);
        if folds(&trace(&p, 1, mid, (0.5, 1.5), 2.0)).len() == 2 {
            above = mid;
        } else {
            below = mid;
        }
    }
    assert!(
        (cusp.beta - 0.5 * (below + above)).abs() <= 0.01,
        "{cusp:?} vs [{below}, {above}]"
    );
}

#[test]
fn a_birth_in_two_dimensions_pairs_every_point() {
    // Three patterns in the plane, the third's weight from 0.02 to 1 at beta = 4: the dense
    // sweep's folds, and every multi-start point at either end on a traced branch.
    let p = array![[0.0, 0.0], [2.0, 0.0], [1.0, 1.6]];
    let beta = 4.0;
    let t = trace(&p, 2, beta, (0.02, 1.0), 1.6);
    assert!(t.explained, "{t:?}");
    assert_eq!((t.found_before, t.found_after, t.lost), (0, 0, 0));
    let config = SweepConfig {
        steps: 41,
        tolerance: 1e-9,
        search: SearchConfig::for_spacing(1.6),
    };
    let s = sweep(
        p.view(),
        Parameter::Weight { index: 2, beta },
        0.02,
        1.0,
        &config,
    )
    .unwrap();
    let want: Vec<f64> = s
        .events
        .iter()
        .filter(|e| e.kind == EventType::Fold)
        .map(|e| e.at)
        .collect();
    let got = folds(&t);
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    assert!(!got.is_empty());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "fold at {g}, dense {w}");
    }
}

#[test]
fn a_trace_is_the_same_on_any_number_of_threads() {
    // Branches are followed in parallel, each on a curve of its own: one thread and three
    // give the same interval, bit for bit.
    let p = array![[0.0, 0.0], [2.0, 0.0], [1.0, 1.6]];
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let t = pool.install(|| trace(&p, 2, 4.0, (0.02, 1.0), 1.6));
        format!("{t:?}")
    };
    assert_eq!(on(1), on(3));
}

#[test]
fn the_sigma_diagram_of_the_exact_model_equals_its_beta_continuation() {
    // Five patterns in the plane, sigma from 1/√40 to 1/√1.5 through the matrix-free path
    // (SigmaPath over the exact denoiser, θ = ln sigma), against the dense beta sweep over
    // [1.5, 40]: the same events, of the same types, at beta = 1/sigma² to 1e-6 relative.
    let p = array![[0.0, 0.0], [1.0, 0.1], [0.4, 0.9], [-0.7, 0.5], [0.2, -0.8]];
    let (beta_lo, beta_hi): (f64, f64) = (1.5, 40.0);
    let den = EmpiricalDenoiser::<f64>::new(p.view()).unwrap();
    let range = ((1.0 / beta_hi).sqrt().ln(), (1.0 / beta_lo).sqrt().ln());
    let census = |beta: f64| -> Vec<Vec<f64>> {
        let land = Landscape::new(p.view(), beta).unwrap();
        let set = critical_points(&land, &SearchConfig::for_spacing(0.8), None).unwrap();
        set.points.iter().map(|q| q.x.to_vec()).collect()
    };
    let family = Family::new(p.view(), Parameter::Beta).unwrap();
    let config = TraceConfig::for_scale(family.scale, Arithmetic::F64, range.1 - range.0, 2);
    let t = trace_interval(
        &SigmaPath(&den),
        range,
        &census(beta_hi),
        &census(beta_lo),
        &config,
    )
    .unwrap();
    assert!(t.explained, "{t:?}");
    let sweep_config = SweepConfig {
        steps: 61,
        tolerance: 1e-9,
        search: SearchConfig::for_spacing(0.8),
    };
    let s = sweep(p.view(), Parameter::Beta, beta_lo, beta_hi, &sweep_config).unwrap();
    let mut want: Vec<(f64, EventType)> = s.events.iter().map(|e| (e.at, e.kind)).collect();
    let mut got: Vec<(f64, EventType)> = t
        .events
        .iter()
        .map(|e| ((-2.0 * e.theta).exp(), e.kind))
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    got.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.1, w.1, "{got:?} vs {want:?}");
        assert!((g.0 / w.0 - 1.0).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

#[test]
fn an_index_change_reads_the_same_from_either_end() {
    // ±1 through sigma (theory.md §5: the pitchfork at beta = 1, sigma = 1): walked up from
    // the census at sigma = 0.5 (the two memories and the origin, a maximum), the origin turns
    // from index 1 to 0 at sigma = 1 where the memories merge into it; walked down from the
    // census at sigma = 2 alone (the origin), the same index change is met the other way. Both
    // read it in order of sigma, 1 → 0, at sigma = 1 to 1e-6.
    let p = array![[1.0], [-1.0]];
    let den = EmpiricalDenoiser::<f64>::new(p.view()).unwrap();
    let range = (0.5f64.ln(), 2f64.ln());
    let config = TraceConfig::for_scale(1.0, Arithmetic::F64, range.1 - range.0, 1);
    let census = |sigma: f64| -> Vec<Vec<f64>> {
        let land = Landscape::new(p.view(), 1.0 / (sigma * sigma)).unwrap();
        let set = critical_points(&land, &SearchConfig::for_spacing(2.0), None).unwrap();
        set.points.iter().map(|q| q.x.to_vec()).collect()
    };
    let (lo, hi) = (census(0.5), census(2.0));
    assert_eq!((lo.len(), hi.len()), (3, 1));
    let at_origin = |t: &Interval| {
        let e = t
            .events
            .iter()
            .find(|e| !e.passing.is_empty())
            .unwrap_or_else(|| panic!("{:?}", t.events));
        (e.theta.exp(), e.passing.clone())
    };
    let up = trace_interval(&SigmaPath(&den), range, &lo, &hi, &config).unwrap();
    let down = trace_interval(&SigmaPath(&den), range, &[], &hi, &config).unwrap();
    assert!(up.explained, "{up:?}");
    let ((s_up, p_up), (s_down, p_down)) = (at_origin(&up), at_origin(&down));
    assert_eq!(p_up, vec![[1, 0]]);
    assert_eq!(p_down, vec![[1, 0]]);
    assert!(
        (s_up - 1.0).abs() < 1e-6 && (s_down - 1.0).abs() < 1e-6,
        "{s_up} {s_down}"
    );
}

/// A contraction toward a centre that wiggles in θ, computed in f32: D(x; θ) = c(θ) +
/// a (x − c(θ)), c(θ) = (θ + A sin ωθ, 0), whose one fixed point is c(θ). With ω = 250 it
/// wiggles as a U-Net's sinusoidal embedding of 1000 c_noise = 250 ln sigma makes D do.
struct Wiggle {
    amplitude: f64,
    omega: f64,
    contraction: f64,
}

impl Wiggle {
    fn centre(&self, theta: f64) -> f64 {
        theta + self.amplitude * (self.omega * theta).sin()
    }
}

impl Homotopy for Wiggle {
    fn denoise(&self, x: ndarray::ArrayView2<f64>, theta: f64) -> Array2<f64> {
        let c = [self.centre(theta), 0.0];
        Array2::from_shape_fn(x.dim(), |(i, j)| {
            f64::from((c[j] + self.contraction * (x[[i, j]] - c[j])) as f32)
        })
    }

    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::F32
    }
}

#[test]
fn a_homotopy_that_wiggles_in_theta_is_followed_on_its_own_scale() {
    // The first central-difference step in θ (0.01, 2.5 rad of the wiggle) misreads ∂D/∂θ by
    // three quarters of the wiggle's part (sin 2.5 / 2.5 = 0.24); halved until steps h and h/2
    // agree to 1%, it resolves the wiggle. Every traced point lies on x = c(θ) to the f32 corrector's tolerance
    // (1e-3 of the scale), the branch reaches the census point at θ = 1 with no event and
    // nothing lost, and the step it settled on resolves the wiggle (ω h < 0.5).
    let wiggle = Wiggle {
        amplitude: 0.004,
        omega: 250.0,
        contraction: 0.9,
    };
    let config = TraceConfig::for_scale(1.0, Arithmetic::F32, 1.0, 2);
    assert_eq!(config.theta_step, 1e-2);
    let before = vec![vec![wiggle.centre(0.0), 0.0]];
    let after = vec![vec![wiggle.centre(1.0), 0.0]];
    let t = trace_interval(&wiggle, (0.0, 1.0), &before, &after, &config).unwrap();
    assert!(t.explained && t.lost == 0 && t.events.is_empty(), "{t:?}");
    assert!(t.theta_step * wiggle.omega < 0.5, "θ step {}", t.theta_step);
    let points: Vec<_> = t.segments.iter().flat_map(|s| &s.points).collect();
    assert!(points.len() > 100, "{} points", points.len());
    for p in points {
        let off = (p.x[0] - wiggle.centre(p.theta)).hypot(p.x[1]);
        assert!(
            off < 1e-3,
            "θ {}: {:?} is {off} off the curve",
            p.theta,
            p.x
        );
    }
}

#[test]
fn an_interval_written_before_its_theta_step_reads_back() {
    // trace.json files from before `theta_step` was recorded read with it NaN; NaN itself is
    // written as null and read back as NaN
    let p = array![[0.0, 0.0], [2.0, 0.0], [1.0, 1.6]];
    let t = trace(&p, 2, 4.0, (0.02, 1.0), 1.6);
    let mut v = serde_json::to_value(&t).unwrap();
    v.as_object_mut().unwrap().remove("theta_step");
    let old: Interval = serde_json::from_value(v.clone()).unwrap();
    assert!(old.theta_step.is_nan());
    assert_eq!(old.events.len(), t.events.len());
    v["theta_step"] = serde_json::Value::Null;
    let nan: Interval = serde_json::from_value(v).unwrap();
    assert!(nan.theta_step.is_nan());
}
