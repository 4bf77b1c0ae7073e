//! Invariants as properties (proptest).

use memscape::denoiser::{Denoiser, EmpiricalDenoiser, Landscape};
use ndarray::Array2;
use proptest::prelude::*;

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
}
