//! One random-features model ([`RfProblem`]): its frozen first layer, the training draws folded
//! into U and V in chunks, a fresh test set, U's eigenbasis ([`Modes`]), and the losses and
//! score error of gradient descent's iterates, step by step or in closed form.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::BlockStructure;
use faer::{Accum, Mat, MatRef, Par};
use memscape::rng::{normal, stream};
use rayon::prelude::*;

use super::theory::RfTheory;
use super::{CHUNK, PSEUDO_INVERSE_CUT, RfRequest};

/// One model: its training draws folded into U and V, and a fresh test set.
pub struct RfProblem {
    pub d: usize,
    pub p: usize,
    pub n: usize,
    pub draws: usize,
    pub theory: RfTheory,
    /// The frozen first layer (p×d).
    w: Mat<f64>,
    /// U = (1/nm) Σ σσᵀ (p×p).
    u: Mat<f64>,
    /// V = E_ξ[σ ξᵀ] = (√Δ_t/√d) diag(κ) W (p×d).
    v: Mat<f64>,
    /// Test features σ(y/√d) (N×p), the points y = x_t (N×d) and their noise ξ (N×d).
    test_features: Mat<f64>,
    test_y: Mat<f64>,
    test_xi: Mat<f64>,
}

/// U = Q Λ Qᵀ, eigenvalues ascending, C = Vᵀ Q (d×p) and the test features in the eigenbasis,
/// σ(y)ᵀ Q (N×p): the losses of Ã = A Q then cost O(dp) (train) and O(Ndp) (test).
pub struct Modes {
    pub values: Vec<f64>,
    q: Mat<f64>,
    c: Mat<f64>,
    test_features: Mat<f64>,
}

/// `dst = [dst +] alpha · lhs · rhs` on faer's GEMM (bitwise the same on any thread count).
pub(super) fn gemm(
    dst: faer::MatMut<f64>,
    accumulate: bool,
    lhs: MatRef<f64>,
    rhs: MatRef<f64>,
    alpha: f64,
) {
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst, accum, lhs, rhs, alpha, Par::rayon(0));
}

/// Rows of standard normal draws: row i from stream i of `seed`, so a prefix of rows is the same
/// at any row count.
pub(super) fn normal_rows(rows: std::ops::Range<usize>, d: usize, seed: u64) -> Mat<f64> {
    let mut m = Mat::<f64>::zeros(rows.len(), d);
    for (r, i) in rows.enumerate() {
        let mut rng = stream(seed, i as u64);
        for j in 0..d {
            m[(r, j)] = normal(&mut rng);
        }
    }
    m
}

/// tanh((y Wᵀ)/√d) for the rows of y.
pub(super) fn features(y: MatRef<f64>, w: MatRef<f64>) -> Mat<f64> {
    let d = w.ncols();
    let mut f = Mat::<f64>::zeros(y.nrows(), w.nrows());
    gemm(f.as_mut(), false, y, w.transpose(), 1.0 / (d as f64).sqrt());
    f.as_mut()
        .par_col_iter_mut()
        .for_each(|col| col.iter_mut().for_each(|v| *v = v.tanh()));
    f
}

/// Σ_ij a_ij b_ij.
pub(super) fn inner(a: MatRef<f64>, b: MatRef<f64>) -> f64 {
    (0..a.ncols())
        .map(|j| (0..a.nrows()).map(|i| a[(i, j)] * b[(i, j)]).sum::<f64>())
        .sum()
}

/// (1 − (1 − h)^k)/h for a whole number of steps k and 0 ≤ h < 2 (a stable step): through
/// expm1/ln1p where 1 − h > 0 (accurate for small h), by |1 − h|^k with its sign (−1)^k past h = 1;
/// k at h = 0.
pub(super) fn relaxed_over_rate(h: f64, k: usize) -> f64 {
    if h <= 0.0 {
        return k as f64;
    }
    let base = 1.0 - h;
    if base > 0.0 {
        return -(k as f64 * (-h).ln_1p()).exp_m1() / h;
    }
    let sign = if k.is_multiple_of(2) { 1.0 } else { -1.0 };
    (1.0 - sign * base.abs().powf(k as f64)) / h
}

impl RfProblem {
    /// Draws the model of one request, ψ_n and seed: W from stream 0 of the seed's W stream,
    /// training point i and its m noise draws from stream i, the test pairs likewise.
    pub fn new(request: &RfRequest, psi_n: f64, seed: u64) -> Self {
        let (d, p, n) = (request.d, request.p(), request.n(psi_n));
        let m = request.draws(n);
        let theory = RfTheory::at(request.t);
        let alpha = (-request.t).exp();
        let beta = theory.delta.sqrt();
        let seeds = |salt: u64| seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
        let w = normal_rows(0..p, d, seeds(0x57));
        let x = normal_rows(0..n, d, seeds(0xDA7A));
        // the draws of point i are rows i·m .. (i+1)·m: stream i gives m·d values in order
        let xi_of = |rows: std::ops::Range<usize>| -> Mat<f64> {
            let mut out = Mat::<f64>::zeros(rows.len(), d);
            let (first, last) = (rows.start / m, (rows.end - 1) / m);
            for point in first..=last {
                let mut rng = stream(seeds(0x0153), point as u64);
                for j in 0..m {
                    let row = point * m + j;
                    for c in 0..d {
                        let z = normal(&mut rng);
                        if rows.contains(&row) {
                            out[(row - rows.start, c)] = z;
                        }
                    }
                }
            }
            out
        };
        let total = n * m;
        let mut u = Mat::<f64>::zeros(p, p);
        let mut slope = vec![0.0; p];
        let mut start = 0;
        while start < total {
            let end = (start + CHUNK).min(total);
            let xi = xi_of(start..end);
            let y = Mat::<f64>::from_fn(end - start, d, |r, c| {
                alpha * x[((start + r) / m, c)] + beta * xi[(r, c)]
            });
            let f = features(y.as_ref(), w.as_ref());
            // the lower half of U += FᵀF/nm (half the work of a GEMM; the eigen-solver reads it)
            faer::linalg::matmul::triangular::matmul(
                u.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                f.transpose(),
                BlockStructure::Rectangular,
                f.as_ref(),
                BlockStructure::Rectangular,
                1.0 / total as f64,
                Par::rayon(0),
            );
            for (i, s) in slope.iter_mut().enumerate() {
                *s += f.col(i).iter().map(|v| 1.0 - v * v).sum::<f64>();
            }
            start = end;
        }
        for j in 0..p {
            for i in 0..j {
                u[(i, j)] = u[(j, i)];
            }
        }
        let scale = beta / (d as f64).sqrt() / total as f64;
        let v = Mat::<f64>::from_fn(p, d, |i, j| scale * slope[i] * w[(i, j)]);
        let test_x = normal_rows(0..request.test_points, d, seeds(0x7E57));
        let test_xi = normal_rows(0..request.test_points, d, seeds(0x7E5E));
        let test_y = Mat::<f64>::from_fn(request.test_points, d, |r, c| {
            alpha * test_x[(r, c)] + beta * test_xi[(r, c)]
        });
        let test_features = features(test_y.as_ref(), w.as_ref());
        RfProblem {
            d,
            p,
            n,
            draws: m,
            theory,
            w,
            u,
            v,
            test_features,
            test_y,
            test_xi,
        }
    }

    /// The frozen first layer W (p×d).
    pub fn w(&self) -> MatRef<'_, f64> {
        self.w.as_ref()
    }

    /// U's eigen-decomposition and C = Vᵀ Q. The decomposition runs on one thread: faer's
    /// parallel tridiagonal reduction sums per thread (for p above about 315), so its result
    /// would depend on the thread count.
    pub fn modes(&self) -> Modes {
        let p = self.p;
        let mut s = faer::diag::Diag::<f64>::zeros(p);
        let mut q = Mat::<f64>::zeros(p, p);
        let scratch = self_adjoint_evd_scratch::<f64>(
            p,
            ComputeEigenvectors::Yes,
            Par::Seq,
            Default::default(),
        );
        self_adjoint_evd(
            self.u.as_ref(),
            s.as_mut(),
            Some(q.as_mut()),
            Par::Seq,
            MemStack::new(&mut MemBuffer::new(scratch)),
            Default::default(),
        )
        .expect("the symmetric eigen-decomposition of U converges");
        let values = (0..p).map(|i| s[i]).collect();
        let mut c = Mat::<f64>::zeros(self.d, self.p);
        gemm(c.as_mut(), false, self.v.transpose(), q.as_ref(), 1.0);
        let mut test_features = Mat::<f64>::zeros(self.test_y.nrows(), self.p);
        gemm(
            test_features.as_mut(),
            false,
            self.test_features.as_ref(),
            q.as_ref(),
            1.0,
        );
        Modes {
            values,
            q,
            c,
            test_features,
        }
    }

    /// Ã = A Q.
    pub fn rotate(&self, modes: &Modes, a: MatRef<f64>) -> Mat<f64> {
        let mut rotated = Mat::<f64>::zeros(self.d, self.p);
        gemm(rotated.as_mut(), false, a, modes.q.as_ref(), 1.0);
        rotated
    }

    /// The largest stable step: h_max = 2 Δ_t λ_max dτ/ψ_p < 2, i.e. dτ < ψ_p/(Δ_t λ_max).
    pub fn stability_limit(&self, modes: &Modes) -> f64 {
        let psi_p = self.p as f64 / self.d as f64;
        let top = modes
            .values
            .last()
            .copied()
            .unwrap_or(1.0)
            .max(f64::MIN_POSITIVE);
        psi_p / (self.theory.delta * top)
    }

    /// ∇L(A) = (2Δ_t/(dp)) A U + (2√Δ_t/(d√p)) Vᵀ.
    pub fn gradient(&self, a: MatRef<f64>) -> Mat<f64> {
        let (d, p, delta) = (self.d as f64, self.p as f64, self.theory.delta);
        let mut g = Mat::<f64>::from_fn(self.d, self.p, |i, j| {
            2.0 * delta.sqrt() / (d * p.sqrt()) * self.v[(j, i)]
        });
        gemm(g.as_mut(), true, a, self.u.as_ref(), 2.0 * delta / (d * p));
        g
    }

    /// The iterates A_k of gradient descent with step dτ (η = dτ d²) at `steps`, step by step.
    pub fn gradient_descent(&self, dtau: f64, steps: &[usize]) -> Vec<Mat<f64>> {
        let eta = dtau * (self.d * self.d) as f64;
        let mut a = Mat::<f64>::zeros(self.d, self.p);
        let mut out = vec![];
        let mut k = 0;
        for &target in steps {
            while k < target {
                let g = self.gradient(a.as_ref());
                a.as_mut()
                    .col_iter_mut()
                    .zip(g.col_iter())
                    .for_each(|(a, g)| a.iter_mut().zip(g.iter()).for_each(|(a, g)| *a -= eta * g));
                k += 1;
            }
            out.push(a.clone());
        }
        out
    }

    /// Ã = A Q from the per-mode factors g_i: Ã_i = −(√p/√Δ_t) C_i g_i.
    fn rotated_iterate(&self, modes: &Modes, g: &[f64]) -> Mat<f64> {
        let scale = -(self.p as f64).sqrt() / self.theory.delta.sqrt();
        Mat::<f64>::from_fn(self.d, self.p, |i, j| scale * modes.c[(i, j)] * g[j])
    }

    /// A = Ã Qᵀ.
    pub fn unrotate(&self, modes: &Modes, rotated: MatRef<f64>) -> Mat<f64> {
        let mut a = Mat::<f64>::zeros(self.d, self.p);
        gemm(a.as_mut(), false, rotated, modes.q.transpose(), 1.0);
        a
    }

    /// The k-th gradient-descent iterate in closed form, in U's eigenbasis: mode i of Ã = A Q
    /// is −(√p/√Δ_t) C_i (1 − (1 − h_i)^k)/λ_i with h_i = 2 Δ_t λ_i dτ/ψ_p.
    pub fn descent_in_modes(&self, modes: &Modes, dtau: f64, k: usize) -> Mat<f64> {
        let rate = 2.0 * self.theory.delta * dtau * self.d as f64 / self.p as f64;
        let g: Vec<f64> = modes
            .values
            .iter()
            .map(|&l| rate * relaxed_over_rate(rate * l.max(0.0), k))
            .collect();
        self.rotated_iterate(modes, &g)
    }

    /// Prop. C.1 in U's eigenbasis (Ã = A Q): A(τ)/√p = (1/√Δ_t) Vᵀ U⁻¹ (e^{−(2Δ_t/ψ_p) U τ} − I);
    /// at τ = ∞ the least-squares fit −(√p/√Δ_t) Vᵀ U⁺ (eigenvalues below 1e-12 λ_max
    /// dropped).
    pub fn closed_form(&self, modes: &Modes, tau: f64) -> Mat<f64> {
        let rate = 2.0 * self.theory.delta * self.d as f64 / self.p as f64;
        let top = modes.values.last().copied().unwrap_or(0.0);
        let g: Vec<f64> = modes
            .values
            .iter()
            .map(|&l| {
                if tau.is_infinite() {
                    if l > PSEUDO_INVERSE_CUT * top {
                        1.0 / l
                    } else {
                        0.0
                    }
                } else {
                    let x = rate * l.max(0.0);
                    if x == 0.0 {
                        rate * tau
                    } else {
                        -(-x * tau).exp_m1() / l.max(0.0)
                    }
                }
            })
            .collect();
        self.rotated_iterate(modes, &g)
    }

    /// L_train(A) = (1/d)[(Δ_t/p) tr(A U Aᵀ) + (2√Δ_t/√p) tr(A V)] + 1.
    pub fn train_loss(&self, a: MatRef<f64>) -> f64 {
        let (d, p, delta) = (self.d as f64, self.p as f64, self.theory.delta);
        let mut au = Mat::<f64>::zeros(self.d, self.p);
        gemm(au.as_mut(), false, a, self.u.as_ref(), 1.0);
        let quadratic = inner(au.as_ref(), a);
        let linear = inner(a, self.v.transpose());
        (delta / p * quadratic + 2.0 * delta.sqrt() / p.sqrt() * linear) / d + 1.0
    }

    /// [`RfProblem::train_loss`] of A from Ã = A Q: with tr(A U Aᵀ) = Σ_i λ_i ‖Ã_i‖² and
    /// tr(A V) = Σ_i Ã_i · C_i, O(dp).
    pub fn train_loss_in_modes(&self, modes: &Modes, rotated: MatRef<f64>) -> f64 {
        let (d, p, delta) = (self.d as f64, self.p as f64, self.theory.delta);
        let (mut quadratic, mut linear) = (0.0, 0.0);
        for (j, &l) in modes.values.iter().enumerate() {
            let col = rotated.col(j);
            quadratic += l * col.iter().map(|v| v * v).sum::<f64>();
            linear += col
                .iter()
                .zip(modes.c.col(j).iter())
                .map(|(a, c)| a * c)
                .sum::<f64>();
        }
        (delta / p * quadratic + 2.0 * delta.sqrt() / p.sqrt() * linear) / d + 1.0
    }

    /// The test loss (1/(Nd)) Σ‖√Δ_t s_A(y) + ξ‖² and E_score = (1/(Nd)) Σ‖s_A(y) + y/Γ_t²‖²
    /// on the fresh pairs.
    pub fn test_losses(&self, a: MatRef<f64>) -> (f64, f64) {
        self.test_losses_of(self.test_features.as_ref(), a)
    }

    /// [`RfProblem::test_losses`] of A from Ã = A Q, through σ(y)ᵀ Q.
    pub fn test_losses_in_modes(&self, modes: &Modes, rotated: MatRef<f64>) -> (f64, f64) {
        self.test_losses_of(modes.test_features.as_ref(), rotated)
    }

    /// The test losses of the predictions s = features · aᵀ/√p.
    fn test_losses_of(&self, features: MatRef<f64>, a: MatRef<f64>) -> (f64, f64) {
        let (n, d) = (self.test_y.nrows(), self.d);
        let mut s = Mat::<f64>::zeros(n, d);
        gemm(
            s.as_mut(),
            false,
            features,
            a.transpose(),
            1.0 / (self.p as f64).sqrt(),
        );
        let (sqrt_delta, gamma2) = (self.theory.delta.sqrt(), self.theory.gamma2);
        let (mut loss, mut score) = (0.0, 0.0);
        for j in 0..d {
            for i in 0..n {
                loss += (sqrt_delta * s[(i, j)] + self.test_xi[(i, j)]).powi(2);
                score += (s[(i, j)] + self.test_y[(i, j)] / gamma2).powi(2);
            }
        }
        let count = (n * d) as f64;
        (loss / count, score / count)
    }
}
