//! Invariants as properties (proptest).

use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle};
use memscape::analysis::samples::classify::{Class, ThresholdSpec, classify, train_spacing};
use memscape::analysis::samples::distance::{knn, knn_naive};
use memscape::denoiser::{Denoiser, EmpiricalDenoiser, Landscape};
use ndarray::{Array2, ArrayView1};
use proptest::prelude::*;

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    (&a - &b).mapv(|v| v * v).sum().sqrt()
}

fn matrix(rows: std::ops::Range<usize>, d: usize) -> impl Strategy<Value = Array2<f64>> {
    rows.prop_flat_map(move |k| {
        proptest::collection::vec(-5.0f64..5.0, k * d)
            .prop_map(move |v| Array2::from_shape_vec((k, d), v).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    /// D(x) lies in the convex hull of the patterns: it equals Σ_μ w_μ ξ_μ with w ≥ 0 and
    /// Σ w = 1, the weights from the landscape's own softmax (energy.rs, an independent
    /// implementation). Tolerance: 1e-9 × (1 + max |ξ|), above the f64 round-off of both.
    fn weights_sum_to_one_and_denoised_points_lie_in_the_hull(
        patterns in matrix(1..30, 3), x in matrix(1..5, 3), log_sigma in -4.0f64..2.0
    ) {
        let sigma = 10f64.powf(log_sigma);
        let land = Landscape::new(patterns.view(), 1.0 / (sigma * sigma)).unwrap();
        let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap().denoise(x.view(), sigma);
        for (row, d) in x.rows().into_iter().zip(den.rows()) {
            let w = land.weights(row);
            prop_assert!((w.sum() - 1.0).abs() < 1e-12);
            prop_assert!(w.iter().all(|&v| v >= 0.0));
            let combination = w.dot(&patterns);
            let scale = 1.0 + patterns.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for j in 0..3 {
                prop_assert!((d[j] - combination[j]).abs() <= 1e-9 * scale, "{} vs {}", d[j], combination[j]);
            }
        }
    }

    #[test]
    fn a_denoised_row_does_not_depend_on_its_batch(patterns in matrix(2..40, 4), x in matrix(2..12, 4), split in 1usize..11) {
        let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let all = den.denoise(x.view(), 0.5);
        let split = split.min(x.nrows() - 1);
        let head = den.denoise(x.slice(ndarray::s![..split, ..]), 0.5);
        let tail = den.denoise(x.slice(ndarray::s![split.., ..]), 0.5);
        prop_assert_eq!(head, all.slice(ndarray::s![..split, ..]).to_owned());
        prop_assert_eq!(tail, all.slice(ndarray::s![split.., ..]).to_owned());
    }

    #[test]
    /// Every sample gets the one class its distances give, recomputed here by brute force:
    /// memorized when d(train) ≤ delta_m, else spurious when d(other samples) ≤ delta_s, else
    /// generalized (no support gate); the classes partition the samples.
    fn classes_follow_their_rules(train in matrix(2..25, 3), samples in matrix(2..40, 3)) {
        prop_assume!(train_spacing(train.view()).is_ok_and(|s| s > 1e-6));
        let c = classify(train.view(), samples.view(), None, &ThresholdSpec::default(), None).unwrap();
        prop_assert_eq!(c.classes.len(), samples.nrows());
        let t = &c.thresholds;
        for (i, s) in samples.rows().into_iter().enumerate() {
            let d_train = train.rows().into_iter().map(|p| distance(s, p)).fold(f64::INFINITY, f64::min);
            let d_sample = samples.rows().into_iter().enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, o)| distance(s, o))
                .fold(f64::INFINITY, f64::min);
            prop_assert!((d_train - c.d_train[i]).abs() <= 1e-9 * (1.0 + d_train));
            let want = if d_train <= t.delta_m {
                Class::Memorized
            } else if d_sample <= t.delta_s {
                Class::Spurious
            } else {
                Class::Generalized
            };
            // a distance within round-off of a threshold may go either way
            let near = (d_train - t.delta_m).abs() < 1e-9 || (d_sample - t.delta_s).abs() < 1e-9;
            prop_assert!(near || c.classes[i] == want, "sample {}: {:?} vs {:?}", i, c.classes[i], want);
        }
    }

    #[test]
    /// The GEMM-screened kNN equals the brute-force one (distances to 1e-9 relative; indices
    /// where distances are not tied).
    fn knn_equals_the_naive_search(points in matrix(2..60, 4), queries in matrix(1..20, 4), k in 1usize..6, exclude in any::<bool>()) {
        let k = k.min(points.nrows() - 1);
        let (q, fast, slow) = if exclude {
            (points.view(), knn(points.view(), points.view(), k, true).unwrap(), knn_naive(points.view(), points.view(), k, true))
        } else {
            (queries.view(), knn(queries.view(), points.view(), k, false).unwrap(), knn_naive(queries.view(), points.view(), k, false))
        };
        for i in 0..q.nrows() {
            for j in 0..k {
                let (a, b) = (fast.distances[[i, j]], slow.distances[[i, j]]);
                prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b), "row {} rank {}: {} vs {}", i, j, a, b);
                let tied = (0..k).any(|m| m != j && (slow.distances[[i, m]] - b).abs() <= 1e-9 * (1.0 + b));
                prop_assert!(tied || fast.indices[[i, j]] == slow.indices[[i, j]]);
            }
        }
    }

    #[test]
    /// Points that `settle` reports converged are fixed points: one more step moves them by
    /// less than the tolerance (the iteration contracts near the attractors it stops at).
    fn settled_points_are_fixed_points(patterns in matrix(2..20, 2), starts in matrix(1..10, 2), log_sigma in -1.0f64..0.5) {
        let sigma = 10f64.powf(log_sigma);
        let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        // near a saddle-node the iteration contracts by 1 − ε per step with ε small (a saved
        // case needs 6,000 steps at ε ≈ 1.5e-3): room for ε down to about 1e-4
        let config = SettleConfig::unit_step(1e-8, 200_000);
        let s = settle(&den, starts.view(), sigma, &config);
        let again = den.denoise(s.points.view(), sigma);
        // the exact model's iteration descends the energy (CCCP): every start settles
        prop_assert!(s.status.iter().all(|&c| c == SettleStatus::Converged), "{:?}", s.status);
        for (i, status) in s.status.iter().enumerate() {
            if *status == SettleStatus::Converged {
                let step = distance(again.row(i), s.points.row(i));
                prop_assert!(step < config.tolerance, "point {}: step {}", i, step);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    /// theory.md §7.8: Σ (−1)^index = 1 (the Euler characteristic of the plane, for a
    /// Morse function that grows at infinity) over the critical points of a complete search
    /// without degenerate points, on random 2-D data at random beta.
    fn the_euler_characteristic_of_a_complete_set_is_one(patterns in matrix(2..8, 2), log_beta in -1.0f64..1.5) {
        let beta = 10f64.powf(log_beta);
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let spacing = train_spacing(patterns.view());
        prop_assume!(spacing.is_ok());
        let set = critical_points(&land, &SearchConfig::for_spacing(spacing.unwrap()), None).unwrap();
        prop_assume!(set.num_unconverged == 0 && set.points.iter().all(|p| !p.degenerate));
        prop_assert_eq!(set.euler_characteristic, Some(1), "{} minima, {} saddles, {} maxima", set.minima, set.saddles, set.maxima);
    }
}
