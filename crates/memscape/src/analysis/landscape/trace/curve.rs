//! Matrix-free continuation of the fixed points of a one-parameter family of denoisers
//! D(x; θ) (a [`Homotopy`]): trained networks in high dimension, where no Jacobian is formed.
//!
//! ```text
//! G(u) = (x − D(x; θ)) / s,   u = (x/s, θ)                     s: the data scale
//! bordered solve  [[I − J, G_θ], [bᵀ]] z = r   by GMRES           J v: central differences in x
//! G_θ = −(D(x; θ + h) − D(x; θ − h)) / (2 h s)                    h: `theta_step`
//! ```
//!
//! The tangent and the Newton corrector are those of [`crate::analysis::landscape::continuation`] (Keller 1977;
//! Allgower & Georg ch. 2), with each bordered solve done by GMRES on Jacobian-vector products
//! (Knoll & Keyes 2004, §2): one Newton step costs two rows for G_θ and two rows per GMRES
//! iteration.

use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Finite-difference displacement in θ.
    pub theta_step: f64,
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
    /// GMRES tolerance of its arithmetic; `theta_step` is the displacement in θ.
    pub fn new(homotopy: &'a H, scale: f64, theta_step: f64, dim: usize) -> Self {
        let arithmetic = homotopy.arithmetic();
        MatrixFree {
            homotopy,
            scale,
            fd_step: arithmetic.fd_step(scale),
            theta_step,
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
        let h = self.theta_step;
        let (up, down) = (self.call(row, theta + h), self.call(row, theta - h));
        let g = (&x - &d0.row(0)) / self.scale;
        let g_theta = (&down.row(0) - &up.row(0)) / (2.0 * h * self.scale);
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
