//! The theory of the random-features score model (Bonnaire et al. 2025, MT §3 and SM C–D;
//! bonnaire.md §2.3) for s_A(x) = (A/√p) tanh(Wx/√d) and data x ~ N(0, I_d) noised at time t.
//!
//! ```text
//! Δ_t = 1 − e^{−2t},  Γ_t² = e^{−2t} + Δ_t                  (= 1 for unit-variance data)
//! a_t = E[σ(e^{−t}u + √Δ_t v) u] / e^{−t}                   MT Eq. 12, u, v, w iid N(0, 1)
//! b_t = E[v σ(e^{−t}u + √Δ_t v)]
//! v_t² = E_u[(E_v σ(e^{−t}u + √Δ_t v))²] − a_t² e^{−2t}      (the two σ share u)
//! s_t² = E[σ(Γ_t u)²] − a_t² e^{−2t} − v_t² − b_t²
//! μ₁  = E[σ(Γ_t u) u]
//! ρ(λ) = (1 − (1 + ψ_n)/ψ_p) δ(λ − s_t²) + (ψ_n/ψ_p) ρ₁ + (1/ψ_p) ρ₂       Theorem 3.2, Regime I
//! supp ρ₁ = s_t² + v_t² (1 ± √(ψ_p/ψ_n))²
//! supp ρ₂ ≈ s_t² + v_t² + μ₁² Γ_t² ψ_p (1 ± ψ_p^{−1/2})²     the bulk of Ũ = μ₁² W Σ_t Wᵀ/d +
//!                                                         (s_t² + v_t²) I, SM Lemma C.1 [derived]
//! at finite ψ_n, ρ₂ ⊂ s_t² + v_t² + [m₋ g₋, m₊ g₊]            the d nonzero eigenvalues of W M Wᵀ/d,
//!   M = e^{−2t} a_t² X'ᵀX'/n + b_t² I with m± = e^{−2t} a_t² (1 ± ψ_n^{−1/2})² + b_t²,
//!   g± = ψ_p (1 ± ψ_p^{−1/2})² (Marchenko–Pastur edges of X'ᵀX'/n and WᵀW/d; for PSD M and G
//!   the spectrum of M^{1/2} G M^{1/2} lies in [λ_min(M) λ_min(G), λ_max(M) λ_max(G)]) [derived]
//! τ_mem = ψ_p / (Δ_t λ_min(ρ₁)) ∝ ψ_n,   τ_gen = ψ_p / (Δ_t λ_min(ρ₂)) ~ 1/Δ_t
//! ```
//!
//! The paper gives τ_gen only as ~1/Δ_t; its form at the lower edge of ρ₂ is \[derived\], the
//! same convention as τ_mem. For unit-variance data Γ_t = 1 and μ₁ = a_t, so the ρ₂ scale
//! e^{−2t} a_t² + b_t² = Γ_t² a_t² is μ₁² Γ_t²; other data variances would need a_t there.
//!
//! A mode of U with eigenvalue λ relaxes as e^{−2Δ_t λ τ/ψ_p} (Prop. C.1); τ_mem and τ_gen use the
//! paper's convention ψ_p/(Δ_t λ) at the lower edge of each bulk. The expectations are one- and
//! two-dimensional Gaussian integrals, taken by the trapezoidal rule on [−10, 10] (spectrally
//! accurate for these smooth, fast-decaying integrands).

use serde::{Deserialize, Serialize};

/// Nodes of the trapezoidal rule per dimension.
const NODES: usize = 1601;
/// Half-width of the integration interval, in standard deviations.
const HALF_WIDTH: f64 = 10.0;

/// The theory's constants at one diffusion time, for tanh and unit-variance Gaussian data.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RfTheory {
    pub t: f64,
    /// Δ_t = 1 − e^{−2t}, the noise variance at time t.
    pub delta: f64,
    /// Γ_t², the variance of a noised coordinate.
    pub gamma2: f64,
    pub a: f64,
    pub b: f64,
    pub v2: f64,
    pub s2: f64,
    pub mu1: f64,
}

/// Nodes and weights of E[f(u)], u ~ N(0, 1).
fn gauss_rule() -> (Vec<f64>, Vec<f64>) {
    let h = 2.0 * HALF_WIDTH / (NODES - 1) as f64;
    let norm = h / (2.0 * std::f64::consts::PI).sqrt();
    (0..NODES)
        .map(|i| {
            let u = -HALF_WIDTH + i as f64 * h;
            let end = if i == 0 || i == NODES - 1 { 0.5 } else { 1.0 };
            (u, end * norm * (-0.5 * u * u).exp())
        })
        .unzip()
}

impl RfTheory {
    /// The constants at diffusion time `t` (> 0).
    pub fn at(t: f64) -> Self {
        let (u, w) = gauss_rule();
        let e1 = |f: &dyn Fn(f64) -> f64| u.iter().zip(&w).map(|(&u, &w)| w * f(u)).sum::<f64>();
        let alpha = (-t).exp();
        let delta = 1.0 - (-2.0 * t).exp();
        let beta = delta.sqrt();
        let gamma2 = alpha * alpha + delta;
        let gamma = gamma2.sqrt();
        // E[σ(αu + βv) u] = α E[σ'(αu + βv)] and E[v σ(..)] = β E[σ'(..)] (Stein), one
        // integral over z = αu + βv ~ N(0, Γ²)
        let slope = e1(&|z| 1.0 - (gamma * z).tanh().powi(2));
        let a = slope;
        let b = beta * slope;
        let inner = |u: f64| e1(&|v| (alpha * u + beta * v).tanh());
        let v2 = e1(&|u| inner(u).powi(2)) - a * a * alpha * alpha;
        let second = e1(&|z| (gamma * z).tanh().powi(2));
        let s2 = second - a * a * alpha * alpha - v2 - b * b;
        let mu1 = e1(&|z| (gamma * z).tanh() * z);
        RfTheory {
            t,
            delta,
            gamma2,
            a,
            b,
            v2,
            s2,
            mu1,
        }
    }

    /// The edges of the bulk ρ₁ (the n modes that fit the training points).
    pub fn rho1(&self, psi_p: f64, psi_n: f64) -> [f64; 2] {
        let r = (psi_p / psi_n).sqrt();
        [
            self.s2 + self.v2 * (1.0 - r).powi(2),
            self.s2 + self.v2 * (1.0 + r).powi(2),
        ]
    }

    /// The edges of the bulk ρ₂ (the d modes of the population score).
    pub fn rho2(&self, psi_p: f64) -> [f64; 2] {
        let scale = self.mu1 * self.mu1 * self.gamma2 * psi_p;
        let r = psi_p.powf(-0.5);
        [
            self.s2 + self.v2 + scale * (1.0 - r).powi(2),
            self.s2 + self.v2 + scale * (1.0 + r).powi(2),
        ]
    }

    /// The envelope of ρ₂ at finite ψ_n (the module's formula); the population edges
    /// [`RfTheory::rho2`] as ψ_n → ∞.
    pub fn rho2_envelope(&self, psi_p: f64, psi_n: f64) -> [f64; 2] {
        let signal = (-2.0 * self.t).exp() * self.a * self.a;
        let data = |sign: f64| signal * (1.0 + sign * psi_n.powf(-0.5)).powi(2) + self.b * self.b;
        let weights = |sign: f64| psi_p * (1.0 + sign * psi_p.powf(-0.5)).powi(2);
        let shift = self.s2 + self.v2;
        let lower = if psi_n <= 1.0 {
            self.b * self.b
        } else {
            data(-1.0)
        };
        let lower_w = if psi_p <= 1.0 { 0.0 } else { weights(-1.0) };
        [shift + lower * lower_w, shift + data(1.0) * weights(1.0)]
    }

    /// τ_mem = ψ_p / (Δ_t λ_min(ρ₁)).
    pub fn tau_mem(&self, psi_p: f64, psi_n: f64) -> f64 {
        psi_p / (self.delta * self.rho1(psi_p, psi_n)[0])
    }

    /// τ_gen = ψ_p / (Δ_t λ_min(ρ₂)) [derived; the paper: τ_gen ~ 1/Δ_t].
    pub fn tau_gen(&self, psi_p: f64) -> f64 {
        psi_p / (self.delta * self.rho2(psi_p)[0])
    }

    /// The smallest denoising loss, that of the true score −x/Γ_t²: (1/d) E‖ξ − √Δ_t x_t/Γ_t²‖²
    /// = 1 − Δ_t/Γ_t². The test loss exceeds it by Δ_t E_score (the denoising score-matching
    /// identity).
    pub fn bayes_loss(&self) -> f64 {
        1.0 - self.delta / self.gamma2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bonnaire.md §2.3, "Check values [derived; tanh, σ_x = 1; quadrature]", printed to 4–5
    /// digits: agreement to half a unit of the last printed digit.
    #[test]
    fn constants_match_the_check_values() {
        let c = RfTheory::at(0.01);
        for (got, want, tol) in [
            (c.mu1, 0.60571, 5e-6),
            (c.a, 0.60571, 5e-6),
            (c.b, 0.08523, 5e-6),
            (c.v2, 0.02554, 5e-6),
            (c.s2, 0.00187, 5e-6),
        ] {
            assert!((got - want).abs() <= tol, "{got} vs {want}: {c:?}");
        }
        let [lo, hi] = c.rho1(64.0, 8.0);
        assert!(
            (lo - 0.0873).abs() < 5e-5 && (hi - 0.3762).abs() < 5e-5,
            "{lo} {hi}"
        );
        let c = RfTheory::at(0.1);
        for (got, want, tol) in [
            (c.b, 0.2579, 5e-5),
            (c.v2, 0.01384, 5e-6),
            (c.s2, 0.01357, 5e-6),
        ] {
            assert!((got - want).abs() <= tol, "{got} vs {want}: {c:?}");
        }
        // λ_min(ρ₁) and τ_mem for ψ_p = 64 (the table of bonnaire.md §2.3, 2–3 digits)
        for (psi_n, lambda, tau) in [
            (4.0, 0.138, 2.6e3),
            (8.0, 0.0598, 5.9e3),
            (16.0, 0.0274, 1.29e4),
            (32.0, 0.0159, 2.2e4),
        ] {
            let l = c.rho1(64.0, psi_n)[0];
            assert!((l / lambda - 1.0).abs() < 0.01, "ψ_n {psi_n}: {l}");
            let t = c.tau_mem(64.0, psi_n);
            assert!((t / tau - 1.0).abs() < 0.03, "ψ_n {psi_n}: {t}");
        }
        assert!((c.gamma2 - 1.0).abs() < 1e-15);
    }
}
