//! Matrix-free continuation of the fixed points of a one-parameter family of denoisers
//! D(x; θ) (a [`Homotopy`]): trained networks in high dimension, where no Jacobian is formed.
//!
//! ```text
//! G(u) = (x − D(x; θ)) / s,   u = (x/s, θ)                     s: the data scale
//! bordered solve  [[I − J, G_θ], [bᵀ]] z = r   by GMRES           J v: central differences in x
//! G_θ = −(D(x; θ + h) − D(x; θ − h)) / (2 h s)                    h: adapted, see below
//! ```
//!
//! A trained network need not be smooth in θ on the scale of the first h: a U-Net embeds
//! sigma as sinusoids of 1000 c_noise = 250 ln sigma, and at its fixed points (clean images,
//! inputs it never saw at large sigma) D(x; sigma) wiggles in ln sigma with periods of a few
//! hundredths. A central difference across such a wiggle gives a G_θ that disagrees with G,
//! the predictor leaves the curve by half its step, and the step shrinks until the branch is
//! lost. So h is halved until the central differences at h and h/2 agree to 1% or to their
//! round-off (Richardson's test of the truncation error; Nocedal & Wright 2006, §8.1), down to
//! the arithmetic's floor, and the smallest h any point needed is kept for the rest of the curve
//! and reported.
//!
//! The tangent and the Newton corrector are those of [`crate::analysis::landscape::continuation`] (Keller 1977;
//! Allgower & Georg ch. 2), with each bordered solve done by GMRES on Jacobian-vector products
//! (Knoll & Keyes 2004, §2): one Newton step costs four rows for G_θ and two rows per GMRES
//! iteration.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};

use crate::analysis::landscape::continuation::Curve;
use crate::analysis::landscape::krylov::{Cost, Probe, gmres};
use crate::denoiser::Arithmetic;
use crate::error::{Error, Result};

/// A one-parameter family of denoisers D(x; θ): the weights of a network moving between two
/// checkpoints, one pattern's weight, or the noise level of one network.
pub trait Homotopy: Sync {
    /// D(x; θ) at every row of x.
    fn denoise(&self, x: ArrayView2<f64>, theta: f64) -> Array2<f64>;

    /// The arithmetic D computes in: it sets the finite-difference steps and tolerances.
    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::F64
    }
}

/// The curve of fixed points x = D(x; θ) of a homotopy, with matrix-free linear algebra.
pub(crate) struct MatrixFree<'a, H: Homotopy + ?Sized> {
    pub homotopy: &'a H,
    /// The data scale s of the unknowns u = (x/s, θ).
    pub scale: f64,
    /// Finite-difference displacement in x (data units).
    pub fd_step: f64,
    /// Finite-difference displacement in θ: the first one, halved where the homotopy is not
    /// smooth on its scale (f64 bits).
    theta_step: AtomicU64,
    /// The smallest displacement in θ: below it round-off dominates.
    min_theta_step: f64,
    /// GMRES iterations per bordered solve, at most.
    pub krylov: usize,
    /// GMRES relative residual.
    pub rtol: f64,
    calls: AtomicUsize,
    rows: AtomicUsize,
}

/// The linearisation at one point: the point, and G_θ there.
pub(crate) struct Linear {
    x: Array1<f64>,
    theta: f64,
    g_theta: Array1<f64>,
}

impl<'a, H: Homotopy + ?Sized> MatrixFree<'a, H> {
    /// The curve of `homotopy` for data of scale `scale`, with the finite-difference steps and
    /// GMRES tolerance of its arithmetic; `theta_step` is the first displacement in θ.
    pub fn new(homotopy: &'a H, scale: f64, theta_step: f64, dim: usize) -> Self {
        let arithmetic = homotopy.arithmetic();
        let floor: f64 = match arithmetic {
            Arithmetic::F64 => 1e-9,
            Arithmetic::F32 => 1e-4,
        };
        let min_theta_step = floor.min(theta_step);
        MatrixFree {
            homotopy,
            scale,
            fd_step: arithmetic.fd_step(scale),
            theta_step: AtomicU64::new(theta_step.to_bits()),
            min_theta_step,
            krylov: dim + 1,
            rtol: match arithmetic {
                Arithmetic::F64 => 1e-10,
                Arithmetic::F32 => 1e-6,
            },
            calls: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
        }
    }

    /// Denoiser rows and calls spent so far.
    pub fn cost(&self) -> Cost {
        Cost {
            calls: self.calls.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
        }
    }

    /// The displacement in θ the curve's central differences use now.
    pub fn theta_step(&self) -> f64 {
        f64::from_bits(self.theta_step.load(Ordering::Relaxed))
    }

    /// G_θ at (x, θ): central differences at h and h/2, h halved until they agree to 1% or
    /// to their round-off, ε ‖D‖ / (h s) with ε [`Arithmetic::round_off`] (or h
    /// reaches its floor); the h/2 estimate is returned and h kept for the next point.
    fn g_theta(&self, row: ArrayView2<f64>, theta: f64, size_of_d: f64) -> Array1<f64> {
        let epsilon = self.homotopy.arithmetic().round_off();
        let slope = |h: f64| {
            let (up, down) = (self.call(row, theta + h), self.call(row, theta - h));
            (&down.row(0) - &up.row(0)) / (2.0 * h * self.scale)
        };
        let mut h = self.theta_step();
        let mut coarse = slope(h);
        loop {
            let fine = slope(0.5 * h);
            let diff = (&fine - &coarse).mapv(|v| v * v).sum().sqrt();
            let size = fine.mapv(|v| v * v).sum().sqrt();
            let round_off = epsilon * size_of_d / (0.5 * h * self.scale);
            // a NaN goes on to the finiteness check of `linearize`
            let smooth =
                diff <= 1e-2 * size + 4.0 * round_off || diff.is_nan() || round_off.is_nan();
            if smooth || 0.5 * h < self.min_theta_step {
                return fine;
            }
            h *= 0.5;
            self.theta_step.fetch_min(h.to_bits(), Ordering::Relaxed);
            coarse = fine;
        }
    }

    /// D(x; θ), counted.
    pub fn call(&self, x: ArrayView2<f64>, theta: f64) -> Array2<f64> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(x.nrows(), Ordering::Relaxed);
        self.homotopy.denoise(x, theta)
    }

    /// The unknowns of (θ, x).
    pub fn unknowns(&self, theta: f64, x: ArrayView1<f64>) -> Array1<f64> {
        let mut u = Array1::zeros(x.len() + 1);
        u.slice_mut(s![..x.len()]).assign(&(&x / self.scale));
        u[x.len()] = theta;
        u
    }

    /// (θ, x) of the unknowns.
    pub fn split(&self, u: &Array1<f64>) -> (f64, Array1<f64>) {
        let d = u.len() - 1;
        (u[d], u.slice(s![..d]).mapv(|v| v * self.scale))
    }
}

impl<H: Homotopy + ?Sized> Curve for MatrixFree<'_, H> {
    type Linear = Linear;

    fn linearize(&self, u: &Array1<f64>) -> Result<(Array1<f64>, Linear)> {
        let (theta, x) = self.split(u);
        let row = x.view().insert_axis(ndarray::Axis(0));
        let d0 = self.call(row, theta);
        let g = (&x - &d0.row(0)) / self.scale;
        let g_theta = self.g_theta(row, theta, d0.iter().map(|v| v * v).sum::<f64>().sqrt());
        if !(g.iter().chain(&g_theta).all(|v| v.is_finite())) {
            return Err(Error::invalid(
                "homotopy",
                "finite denoiser outputs along the curve",
                format!("a non-finite value at θ = {theta}"),
            ));
        }
        Ok((g, Linear { x, theta, g_theta }))
    }

    fn solve(&self, lin: &Linear, border: &Array1<f64>, rhs: &Array1<f64>) -> Option<Array1<f64>> {
        let d = lin.x.len();
        let at = |x: ArrayView2<f64>, _: f64| self.call(x, lin.theta);
        let probe = Probe::new(&at, 0.0, self.fd_step);
        let solution = gmres(
            |z| {
                let zx = z.slice(s![..d]);
                let mut out = Array1::zeros(d + 1);
                let jz = probe.jvp1(lin.x.view(), zx);
                out.slice_mut(s![..d])
                    .assign(&(&zx - &jz + &(&lin.g_theta * z[d])));
                out[d] = border.dot(&z);
                out
            },
            rhs.view(),
            self.rtol,
            self.krylov,
        );
        let ok = solution.relative_residual <= self.rtol.sqrt()
            && solution.x.iter().all(|v| v.is_finite());
        ok.then_some(solution.x)
    }

    /// The solution of the bordered system with the border along θ: the tangent of a regular
    /// point, whose I − J is invertible, has a nonzero θ component.
    fn first_tangent(&self, lin: &Linear) -> Option<Array1<f64>> {
        let d = lin.x.len();
        let mut e = Array1::zeros(d + 1);
        e[d] = 1.0;
        self.solve(lin, &e, &e)
    }

    fn corrector_tolerances(&self) -> (f64, f64) {
        match self.homotopy.arithmetic() {
            Arithmetic::F64 => (1e-10, 1e-6),
            Arithmetic::F32 => (1e-5, 1e-3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// D(x; θ) = (sin ωθ, θ) in f32, whatever x: ∂D/∂θ = (ω cos ωθ, 1).
    struct Wiggle(f64);

    impl Homotopy for Wiggle {
        fn denoise(&self, x: ArrayView2<f64>, theta: f64) -> Array2<f64> {
            let d = [(self.0 * theta).sin(), theta];
            Array2::from_shape_fn(x.dim(), |(_, j)| f64::from(d[j] as f32))
        }

        fn arithmetic(&self) -> Arithmetic {
            Arithmetic::F32
        }
    }

    #[test]
    fn the_theta_derivative_is_taken_on_the_scale_the_homotopy_is_smooth() {
        // ω = 250 (a U-Net's embedding of 1000 c_noise = 250 ln sigma): a first step h = 0.01
        // reads ω cos ωθ as 0.24 of itself (sin ωh / ωh). Halving h until h and h/2 agree to
        // 1% gives G_θ = −∂D/∂θ to 1% (the test's own rule), and keeps the h for the next point.
        let omega = 250.0;
        let wiggle = Wiggle(omega);
        let curve = MatrixFree::new(&wiggle, 1.0, 1e-2, 2);
        for theta in [0.0, 0.3, 0.71] {
            let (_, lin) = curve.linearize(&array![0.0, 0.0, theta]).unwrap();
            let want = [-omega * (omega * theta).cos(), -1.0];
            let err = (lin.g_theta[0] - want[0]).hypot(lin.g_theta[1] - want[1]);
            assert!(
                err <= 1.5e-2 * want[0].hypot(want[1]),
                "θ {theta}: {:?} vs {want:?}",
                lin.g_theta
            );
        }
        let h = curve.theta_step();
        assert!(h * omega < 0.5 && h >= curve.min_theta_step, "{h}");
    }
}
