//! Oracle tests for the exact denoiser (theory.md §7, tests 1–2; test 3, the Hessian and
//! higher-derivative identities, is in `src/denoiser/energy.rs`).

use memscape::denoiser::{Denoiser, EmpiricalDenoiser, Landscape, score};
use memscape::rng::normal_matrix as random;
use memscape::units::{Beta, sigma_from_alpha_bar};
use ndarray::{Array1, Array2, ArrayView1};

/// The modern-Hopfield update written as in Ramsauer et al.: X softmax(beta Xᵀx − beta|ξ|²/2).
fn hopfield_update(patterns: &Array2<f64>, x: ArrayView1<f64>, beta: f64) -> Array1<f64> {
    let logits: Vec<f64> = patterns
        .rows()
        .into_iter()
        .map(|p| beta * p.dot(&x) - beta * p.dot(&p) / 2.0)
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Array1<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let w = &w / w.sum();
    w.dot(patterns)
}

fn max_abs(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v))
}

#[test]
fn test1_denoiser_is_one_hopfield_update() {
    // theory.md §7.1: K = 7, d = 5, sigma ∈ {0.3, 1, 3}: max abs diff ≤ 1e-12 (f64).
    let patterns = random(7, 5, 11);
    let x = random(50, 5, 12) * 1.5;
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    for sigma in [0.3, 1.0, 3.0] {
        let beta = Beta::from_sigma(sigma).value();
        let got = den.denoise(x.view(), sigma);
        let mut want = Array2::zeros(x.raw_dim());
        for (r, mut w) in x.rows().into_iter().zip(want.rows_mut()) {
            w.assign(&hopfield_update(&patterns, r, beta));
        }
        assert!(
            max_abs(&got, &want) <= 1e-12,
            "sigma {sigma}: {}",
            max_abs(&got, &want)
        );
        // score = (D − x)/sigma²
        let s = score(&den, x.view(), sigma);
        assert!(max_abs(&s, &((&want - &x) / (sigma * sigma))) <= 1e-12 / (sigma * sigma));
    }
}

#[test]
fn test2_vp_mapping() {
    // theory.md §7.2: x0_hat(x_t) = (x_t − √(1−ᾱ) ε̂)/√ᾱ equals the update at y = x/√ᾱ with
    // beta = ᾱ/(1−ᾱ); critical points of log p_t are √ᾱ × fixed points. ≤ 1e-10.
    let patterns = random(7, 5, 21);
    let den = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
    for alpha_bar in [0.1, 0.5, 0.9] {
        let (a, b) = (f64::sqrt(alpha_bar), f64::sqrt(1.0 - alpha_bar));
        let x = random(20, 5, 22);
        // Direct VP posterior mean: weights softmax(−|x − √ᾱ ξ|²/(2(1−ᾱ))).
        let mut direct = Array2::zeros(x.raw_dim());
        for (r, mut out) in x.rows().into_iter().zip(direct.rows_mut()) {
            let logits: Vec<f64> = patterns
                .rows()
                .into_iter()
                .map(|p| -(&r - &(&p * a)).mapv(|v| v * v).sum() / (2.0 * b * b))
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let s: f64 = w.iter().sum();
            for (p, wi) in patterns.rows().into_iter().zip(&w) {
                out.scaled_add(wi / s, &p);
            }
        }
        let via_ve = den.denoise((&x / a).view(), sigma_from_alpha_bar(alpha_bar));
        assert!(max_abs(&direct, &via_ve) <= 1e-10, "alpha_bar {alpha_bar}");
        // ε̂ round trip: x0_hat = (x − √(1−ᾱ) ε̂)/√ᾱ with ε̂ = (x − √ᾱ x0_hat)/√(1−ᾱ)
        let eps = (&x - &(&via_ve * a)) / b;
        assert!(max_abs(&((&x - &(&eps * b)) / a), &via_ve) <= 1e-10);
        // beta = ᾱ/(1−ᾱ): the landscape at that beta has the same update
        let land =
            Landscape::new(patterns.view(), Beta::from_alpha_bar(alpha_bar).value()).unwrap();
        let y0 = (&x / a).row(0).to_owned();
        assert!(
            (&land.denoise(y0.view()) - &via_ve.row(0))
                .mapv(f64::abs)
                .sum()
                <= 1e-10
        );
        // A fixed point y* of the update (found by iterating, CCCP) maps to a critical point
        // x* = √ᾱ y* of log p_t: its VP score (√ᾱ D(x/√ᾱ) − x)/(1−ᾱ) vanishes.
        let mut y = patterns.row(0).to_owned();
        for _ in 0..10_000 {
            y = land.denoise(y.view());
        }
        let x_star = &y * a;
        let d = den.denoise(
            x_star
                .view()
                .insert_axis(ndarray::Axis(0))
                .mapv(|v| v / a)
                .view(),
            sigma_from_alpha_bar(alpha_bar),
        );
        let vp_score = (&d.row(0) * a - &x_star) / (1.0 - alpha_bar);
        assert!(vp_score.mapv(f64::abs).sum() <= 1e-10, "{vp_score}");
    }
}
