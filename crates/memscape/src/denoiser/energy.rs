//! The energy landscape of the exact model at one inverse temperature, in f64, one point at a
//! time: what analysis (critical points, Morse index, bifurcations) differentiates.
//!
//! ```text
//! E(x; beta)  = −(1/beta) log Σ_μ m_μ exp(−beta |x − ξ_μ|²/2)        (ARCHITECTURE.md; m_μ = 1)
//! p_μ(x)      = softmax_μ(−beta |x − ξ_μ|²/2 + log m_μ)               the Hopfield weights
//! ∇E          = x − Σ_μ p_μ ξ_μ = x − D(x)                           so score = −beta ∇E
//! Hess E      = I − beta Cov_p(ξ)                                     denoiser Jacobian beta Cov_p(ξ)
//! D³E[u,u,u]  = −beta² κ₃_p(ξ·u),   D⁴E[u,u,u,u] = −beta³ κ₄_p(ξ·u)  (theory.md §1, derivatives)
//! ```
//!
//! `−sigma² log p_sigma(x) = E(x; 1/sigma²) + const`, so critical points of E are fixed points
//! of the denoiser.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result, require_finite, require_positive};

/// The energy landscape of Σ_μ m_μ δ(x − ξ_μ) at inverse temperature `beta` (convention R).
#[derive(Debug, Clone)]
pub struct Landscape {
    patterns: Array2<f64>,
    log_multiplicity: Vec<f64>,
    pub beta: f64,
}

impl Landscape {
    /// A landscape of equally weighted patterns.
    pub fn new(patterns: ArrayView2<f64>, beta: f64) -> Result<Self> {
        let k = patterns.nrows();
        Self::with_multiplicities(patterns, &vec![1.0; k], beta)
    }

    /// A landscape of patterns with multiplicities m_μ ≥ 0 (repeated rows count twice).
    pub fn with_multiplicities(
        patterns: ArrayView2<f64>,
        multiplicities: &[f64],
        beta: f64,
    ) -> Result<Self> {
        require_positive("beta", beta)?;
        require_finite("patterns", patterns)?;
        if patterns.nrows() == 0 || multiplicities.len() != patterns.nrows() {
            return Err(Error::ShapeMismatch {
                what: "pattern multiplicities".into(),
                expected: vec![patterns.nrows()],
                got: vec![multiplicities.len()],
            });
        }
        if multiplicities.iter().any(|m| !(m.is_finite() && *m >= 0.0))
            || multiplicities.iter().all(|&m| m == 0.0)
        {
            return Err(Error::invalid(
                "pattern multiplicities",
                "≥ 0, finite and not all zero",
                format!("{multiplicities:?}"),
            ));
        }
        Ok(Landscape {
            patterns: patterns.to_owned(),
            log_multiplicity: multiplicities.iter().map(|m| m.ln()).collect(),
            beta,
        })
    }

    pub fn patterns(&self) -> ArrayView2<'_, f64> {
        self.patterns.view()
    }

    /// log m_μ of every pattern.
    pub fn log_multiplicities(&self) -> &[f64] {
        &self.log_multiplicity
    }

    pub fn dim(&self) -> usize {
        self.patterns.ncols()
    }

    /// A copy at another inverse temperature.
    pub fn at_beta(&self, beta: f64) -> Landscape {
        Landscape {
            beta,
            ..self.clone()
        }
    }

    /// The logits −beta |x − ξ_μ|²/2 + log m_μ, their maximum, and the log-sum-exp.
    fn logits(&self, x: ArrayView1<f64>) -> (Vec<f64>, f64, f64) {
        let logits: Vec<f64> = self
            .patterns
            .rows()
            .into_iter()
            .zip(&self.log_multiplicity)
            .map(|(p, &lm)| {
                let d2: f64 = x.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                -0.5 * self.beta * d2 + lm
            })
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        (logits, max, lse)
    }

    /// The Hopfield weights p_μ(x).
    pub fn weights(&self, x: ArrayView1<f64>) -> Array1<f64> {
        let (logits, _, lse) = self.logits(x);
        logits.iter().map(|l| (l - lse).exp()).collect()
    }

    /// E(x; beta) = −(1/beta) log Σ_μ m_μ exp(−beta |x − ξ_μ|²/2).
    pub fn energy(&self, x: ArrayView1<f64>) -> f64 {
        -self.logits(x).2 / self.beta
    }

    /// The denoiser at this temperature, D(x) = Σ_μ p_μ ξ_μ (one Hopfield update).
    pub fn denoise(&self, x: ArrayView1<f64>) -> Array1<f64> {
        self.weights(x).dot(&self.patterns)
    }

    /// ∇E = x − D(x).
    pub fn gradient(&self, x: ArrayView1<f64>) -> Array1<f64> {
        &x - &self.denoise(x)
    }

    /// The weighted covariance Cov_p(ξ) at x, and the weights' mean D(x).
    pub fn covariance(&self, x: ArrayView1<f64>) -> (Array2<f64>, Array1<f64>) {
        let w = self.weights(x);
        let mean = w.dot(&self.patterns);
        let d = self.dim();
        let mut cov = Array2::zeros((d, d));
        for (p, &wi) in self.patterns.rows().into_iter().zip(&w) {
            if wi == 0.0 {
                continue;
            }
            let c = &p - &mean;
            for i in 0..d {
                let ci = wi * c[i];
                for j in i..d {
                    cov[[i, j]] += ci * c[j];
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                cov[[i, j]] = cov[[j, i]];
            }
        }
        (cov, mean)
    }

    /// Hess E(x) = I − beta Cov_p(ξ).
    pub fn hessian(&self, x: ArrayView1<f64>) -> Array2<f64> {
        let (cov, _) = self.covariance(x);
        Array2::eye(self.dim()) - cov * self.beta
    }

    /// Third and fourth directional derivatives of E along `u`: `(−beta² κ₃, −beta³ κ₄)` with κ
    /// the cumulants of ξ·u under p(x) (theory.md §1).
    pub fn directional_derivatives_3_4(
        &self,
        x: ArrayView1<f64>,
        u: ArrayView1<f64>,
    ) -> (f64, f64) {
        let w = self.weights(x);
        let proj: Vec<f64> = self
            .patterns
            .rows()
            .into_iter()
            .map(|p| p.dot(&u))
            .collect();
        let mean: f64 = w.iter().zip(&proj).map(|(a, b)| a * b).sum();
        let central = |k: i32| -> f64 {
            w.iter()
                .zip(&proj)
                .map(|(a, b)| a * (b - mean).powi(k))
                .sum()
        };
        let (m2, m3, m4) = (central(2), central(3), central(4));
        let kappa3 = m3;
        let kappa4 = m4 - 3.0 * m2 * m2;
        (-self.beta.powi(2) * kappa3, -self.beta.powi(3) * kappa4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denoiser::{Denoiser, EmpiricalDenoiser};
    use crate::rng::normal_matrix as random;
    use ndarray::Array1;

    #[test]
    fn agrees_with_the_batched_denoiser() {
        let p = random(40, 6, 1);
        let x = random(5, 6, 2);
        let den = EmpiricalDenoiser::<f64>::new(p.view())
            .unwrap()
            .denoise(x.view(), 0.8);
        let land = Landscape::new(p.view(), 1.0 / 0.64).unwrap();
        for (row, want) in x.rows().into_iter().zip(den.rows()) {
            let got = land.denoise(row);
            assert!((&got - &want).mapv(f64::abs).sum() < 1e-12);
            assert!((land.weights(row).sum() - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        // theory.md §7 test 3: Hessian identity and D³E, D⁴E by cumulants, rel. err ≤ 1e-6.
        let p = random(7, 5, 3);
        let land = Landscape::new(p.view(), 1.7).unwrap();
        let x = random(1, 5, 4).row(0).to_owned();
        let h = 1e-5;
        let grad = land.gradient(x.view());
        for i in 0..5 {
            let mut e = Array1::zeros(5);
            e[i] = h;
            let fd = (land.energy((&x + &e).view()) - land.energy((&x - &e).view())) / (2.0 * h);
            assert!((fd - grad[i]).abs() < 1e-8, "grad {i}");
        }
        let hess = land.hessian(x.view());
        for i in 0..5 {
            let mut e = Array1::zeros(5);
            e[i] = h;
            let fd =
                (land.gradient((&x + &e).view()) - land.gradient((&x - &e).view())) / (2.0 * h);
            for j in 0..5 {
                assert!(
                    (fd[j] - hess[[j, i]]).abs() < 1e-6 * hess[[j, i]].abs().max(1.0),
                    "H[{j},{i}]"
                );
            }
        }
        // along a unit direction u, q(s) = uᵀ H(x + s u) u from the analytic Hessian: D³E[u,u,u]
        // = q'(0) and D⁴E[u,u,u,u] = q''(0), by fourth-order central stencils at h = 1e-3
        // (truncation ~h⁴ q⁽⁵⁾ ≈ 1e-12, round-off ~1e-16/h² = 1e-10), so the cumulant formulas
        // are held to theory.md's 1e-6 relative. (Stencils on E itself need h ≈ 1e-2 against
        // their 1e-16/h⁴ round-off and could only check 1e-3.)
        let u = random(1, 5, 5).row(0).to_owned();
        let u = &u / u.dot(&u).sqrt();
        let q = |s: f64| {
            let hs = land.hessian((&x + &(&u * s)).view());
            u.dot(&hs.dot(&u))
        };
        let (d3, d4) = land.directional_derivatives_3_4(x.view(), u.view());
        let h = 1e-3;
        let fd3 = (-q(2.0 * h) + 8.0 * q(h) - 8.0 * q(-h) + q(-2.0 * h)) / (12.0 * h);
        let fd4 = (-q(2.0 * h) + 16.0 * q(h) - 30.0 * q(0.0) + 16.0 * q(-h) - q(-2.0 * h))
            / (12.0 * h * h);
        assert!(
            (fd3 - d3).abs() < 1e-6 * d3.abs().max(1.0),
            "D3: fd {fd3} vs {d3}"
        );
        assert!(
            (fd4 - d4).abs() < 1e-6 * d4.abs().max(1.0),
            "D4: fd {fd4} vs {d4}"
        );
    }

    #[test]
    fn score_is_grad_log_p() {
        // ∇ log p_sigma(x) = −beta ∇E = (D − x)/sigma², against finite differences of
        // log p_sigma(x) = log (1/K) Σ N(x; ξ, sigma² I).
        let p = random(9, 3, 6);
        let sigma: f64 = 0.6;
        let land = Landscape::new(p.view(), 1.0 / (sigma * sigma)).unwrap();
        let log_p = |x: &Array1<f64>| -> f64 {
            let terms: Vec<f64> = p
                .rows()
                .into_iter()
                .map(|r| -(&r - x).mapv(|v| v * v).sum() / (2.0 * sigma * sigma))
                .collect();
            let m = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
        };
        let x = random(1, 3, 7).row(0).to_owned();
        let score = (land.denoise(x.view()) - &x) / (sigma * sigma);
        for i in 0..3 {
            let mut e = Array1::zeros(3);
            e[i] = 1e-5;
            let fd = (log_p(&(&x + &e)) - log_p(&(&x - &e))) / 2e-5;
            assert!((fd - score[i]).abs() < 1e-6 * score[i].abs().max(1.0));
        }
    }
}
