//! Matrix-free linear algebra on a denoiser's Jacobian `J = ∂D/∂x (x, sigma)` at one point:
//! Jacobian-vector products by central differences, GMRES for Newton steps (Saad & Schultz
//! 1986), and Arnoldi for the rightmost eigenvalues (Saad 2011, "Numerical Methods for Large
//! Eigenvalue Problems", §6.2). Nothing here forms a d × d matrix; the cost is counted in
//! denoiser calls and rows.

use std::cell::Cell;

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use serde::{Deserialize, Serialize};

use crate::denoiser::Denoiser;
use crate::rng::{fill_normal, stream};

/// Denoiser work: batched calls and the rows (points) they evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub calls: usize,
    pub rows: usize,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.calls += other.calls;
        self.rows += other.rows;
    }
}

/// A denoiser at one noise level that counts its evaluations.
pub struct Probe<'a, D: Denoiser + ?Sized> {
    denoiser: &'a D,
    pub sigma: f64,
    /// Length of the finite-difference displacement, in data units.
    pub fd_step: f64,
    cost: Cell<Cost>,
}

impl<'a, D: Denoiser + ?Sized> Probe<'a, D> {
    /// A probe of `denoiser` at `sigma`, with finite-difference displacement `fd_step`; it has
    /// spent nothing yet.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::{Cost, Probe};
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let probe = Probe::new(&den, 0.5, 1e-5);
    /// assert_eq!((probe.sigma, probe.fd_step), (0.5, 1e-5));
    /// assert_eq!(probe.cost(), Cost::default());
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn new(denoiser: &'a D, sigma: f64, fd_step: f64) -> Self {
        Probe {
            denoiser,
            sigma,
            fd_step,
            cost: Cell::new(Cost::default()),
        }
    }

    /// The work spent so far.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::{Cost, Probe};
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0, 0.0], [-1.0, 0.0]].view())?;
    /// let probe = Probe::new(&den, 1.0, 1e-5);
    /// let x = array![0.3, 0.1];
    /// probe.apply(x.view()); // one call of one row
    /// probe.jvp(x.view(), array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]].view()); // one call of 2 × 3 rows
    /// assert_eq!(probe.cost(), Cost { calls: 2, rows: 7 });
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn cost(&self) -> Cost {
        self.cost.get()
    }

    /// `D(x, sigma)` for every row, counted; unwinds here when the work was interrupted
    /// ([`crate::progress::interrupt`]).
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::Probe;
    /// use memscape::denoiser::{Denoiser, EmpiricalDenoiser};
    /// use ndarray::array;
    ///
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0, 0.0], [-1.0, 2.0]].view())?;
    /// let probe = Probe::new(&den, 0.7, 1e-5);
    /// let x = array![[0.3, 0.1], [-0.5, 1.5], [2.0, 2.0]];
    /// assert_eq!(probe.denoise(x.view()), den.denoise(x.view(), 0.7));
    /// assert_eq!(probe.cost().rows, 3);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn denoise(&self, x: ArrayView2<f64>) -> Array2<f64> {
        crate::progress::check_interrupt();
        let mut c = self.cost.get();
        c.calls += 1;
        c.rows += x.nrows();
        self.cost.set(c);
        self.denoiser.denoise(x, self.sigma)
    }

    /// `D(x, sigma)` of one point.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::Probe;
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// // ±1 at sigma = 1: D(x) = tanh(x)
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let probe = Probe::new(&den, 1.0, 1e-5);
    /// assert!((probe.apply(array![0.5].view())[0] - 0.5f64.tanh()).abs() < 1e-12);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn apply(&self, x: ArrayView1<f64>) -> Array1<f64> {
        self.denoise(x.insert_axis(Axis(0)))
            .index_axis_move(Axis(0), 0)
    }

    /// `J v` for every row `v` of `vs`, by central differences
    /// `(D(x + h v̂) − D(x − h v̂)) |v| / 2h` with `h = fd_step`, `v̂ = v/|v|`: one denoiser call
    /// of 2m rows. Error O(h² ‖D'''‖) + O(u ‖D‖/h) for round-off u.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::Probe;
    /// use memscape::denoiser::{EmpiricalDenoiser, Landscape};
    /// use ndarray::{Array2, array};
    ///
    /// // the exact denoiser's Jacobian at sigma = 1 is Cov_p(ξ): J e_i are its columns
    /// let patterns = array![[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]];
    /// let den = EmpiricalDenoiser::<f64>::new(patterns.view())?;
    /// let x = array![0.2, -0.1];
    /// let j = Probe::new(&den, 1.0, 1e-5).jvp(x.view(), Array2::eye(2).view());
    /// let (cov, _) = Landscape::new(patterns.view(), 1.0)?.covariance(x.view());
    /// assert!((&j.t() - &cov).iter().all(|e| e.abs() < 1e-9));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn jvp(&self, x: ArrayView1<f64>, vs: ArrayView2<f64>) -> Array2<f64> {
        let (m, d) = vs.dim();
        let h = self.fd_step;
        let norms: Vec<f64> = vs.rows().into_iter().map(|v| v.dot(&v).sqrt()).collect();
        let mut probes = Array2::zeros((2 * m, d));
        for (i, v) in vs.rows().into_iter().enumerate() {
            let scale = if norms[i] > 0.0 { h / norms[i] } else { 0.0 };
            probes.row_mut(2 * i).assign(&(&x + &(&v * scale)));
            probes.row_mut(2 * i + 1).assign(&(&x - &(&v * scale)));
        }
        let out = self.denoise(probes.view());
        Array2::from_shape_fn((m, d), |(i, j)| {
            (out[[2 * i, j]] - out[[2 * i + 1, j]]) * norms[i] / (2.0 * h)
        })
    }

    /// `J v` by forward differences `(D(x + h v̂) − D(x)) |v| / h`, given `dx = D(x)`: one
    /// denoiser row, error O(h ‖D''‖) + O(u ‖D‖/h). For the settling flow, whose linear solves
    /// need only a descent direction.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::Probe;
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// // ±1 at sigma = 1: D(x) = tanh(x), so J v = v / cosh²(x), to O(h)
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let probe = Probe::new(&den, 1.0, 1e-6);
    /// let x = array![0.5];
    /// let dx = probe.apply(x.view());
    /// let jv = probe.jvp_forward(x.view(), dx.view(), array![2.0].view());
    /// assert!((jv[0] - 2.0 / 0.5f64.cosh().powi(2)).abs() < 1e-5);
    /// assert_eq!(probe.cost().rows, 2); // D(x), then one displaced row
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn jvp_forward(
        &self,
        x: ArrayView1<f64>,
        dx: ArrayView1<f64>,
        v: ArrayView1<f64>,
    ) -> Array1<f64> {
        let norm = v.dot(&v).sqrt();
        if norm == 0.0 {
            return Array1::zeros(v.len());
        }
        let h = self.fd_step;
        let moved = self.apply((&x + &(&v * (h / norm))).view());
        (moved - dx) * (norm / h)
    }

    /// `J v` of one vector.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::Probe;
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// // ±1 at sigma = 1: D(x) = tanh(x), so J v = v / cosh²(x)
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let jv = Probe::new(&den, 1.0, 1e-5).jvp1(array![0.5].view(), array![2.0].view());
    /// assert!((jv[0] - 2.0 / 0.5f64.cosh().powi(2)).abs() < 1e-9);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn jvp1(&self, x: ArrayView1<f64>, v: ArrayView1<f64>) -> Array1<f64> {
        self.jvp(x, v.insert_axis(Axis(0)))
            .index_axis_move(Axis(0), 0)
    }
}

/// Orthogonalizes `w` against the first `n` columns of `basis` by classical Gram–Schmidt applied
/// twice (CGS2, "twice is enough": Giraud et al. 2005); returns the coefficients.
fn orthogonalize(basis: &Array2<f64>, n: usize, w: &mut Array1<f64>) -> Array1<f64> {
    let v = basis.slice(s![.., ..n]);
    let mut h = v.t().dot(w);
    *w -= &v.dot(&h);
    let again = v.t().dot(w);
    *w -= &v.dot(&again);
    h += &again;
    h
}

/// The result of [`gmres`].
#[derive(Debug, Clone)]
pub struct GmresSolution {
    pub x: Array1<f64>,
    /// |b − A x| / |b|.
    pub relative_residual: f64,
    pub iterations: usize,
}

/// Solves `A x = b` by GMRES without restarts (Saad & Schultz 1986): Arnoldi on the Krylov space
/// of `b` with CGS2, Givens rotations for the least-squares problem, stop when the relative
/// residual is below `rtol` or after `max_iterations` products.
///
/// ```
/// use memscape::analysis::landscape::krylov::gmres;
/// use ndarray::{Array1, array};
///
/// // A = [[2, 1], [1, 3]], b = (3, 5): x = (0.8, 1.4)
/// let a = array![[2.0, 1.0], [1.0, 3.0]];
/// let solution = gmres(|v| a.dot(&v), array![3.0, 5.0].view(), 1e-12, 10);
/// let want: Array1<f64> = array![0.8, 1.4];
/// assert!((&solution.x - &want).iter().all(|e| e.abs() < 1e-10));
/// ```
pub fn gmres(
    mut apply: impl FnMut(ArrayView1<f64>) -> Array1<f64>,
    b: ArrayView1<f64>,
    rtol: f64,
    max_iterations: usize,
) -> GmresSolution {
    let d = b.len();
    let beta = b.dot(&b).sqrt();
    if beta == 0.0 {
        return GmresSolution {
            x: Array1::zeros(d),
            relative_residual: 0.0,
            iterations: 0,
        };
    }
    let m = max_iterations.min(d).max(1);
    let mut basis = Array2::<f64>::zeros((d, m + 1));
    basis.column_mut(0).assign(&(&b / beta));
    let mut h = Array2::<f64>::zeros((m + 1, m));
    let (mut cs, mut sn) = (vec![0.0; m], vec![0.0; m]);
    let mut g = Array1::<f64>::zeros(m + 1);
    g[0] = beta;
    let mut k = 0;
    while k < m {
        let mut w = apply(basis.column(k));
        let coeffs = orthogonalize(&basis, k + 1, &mut w);
        let norm = w.dot(&w).sqrt();
        for i in 0..=k {
            h[[i, k]] = coeffs[i];
        }
        h[[k + 1, k]] = norm;
        if norm > 0.0 {
            basis.column_mut(k + 1).assign(&(&w / norm));
        }
        // apply the earlier rotations to the new column, then make one to zero h[k+1, k]
        for i in 0..k {
            let t = cs[i] * h[[i, k]] + sn[i] * h[[i + 1, k]];
            h[[i + 1, k]] = -sn[i] * h[[i, k]] + cs[i] * h[[i + 1, k]];
            h[[i, k]] = t;
        }
        let r = h[[k, k]].hypot(h[[k + 1, k]]);
        (cs[k], sn[k]) = if r > 0.0 {
            (h[[k, k]] / r, h[[k + 1, k]] / r)
        } else {
            (1.0, 0.0)
        };
        h[[k, k]] = r;
        h[[k + 1, k]] = 0.0;
        g[k + 1] = -sn[k] * g[k];
        g[k] *= cs[k];
        k += 1;
        if g[k].abs() <= rtol * beta || norm <= 1e-14 * beta {
            break;
        }
    }
    // back-substitution in the rotated (upper-triangular) k × k system
    let mut y = Array1::<f64>::zeros(k);
    for i in (0..k).rev() {
        let tail: f64 = (i + 1..k).map(|j| h[[i, j]] * y[j]).sum();
        y[i] = if h[[i, i]] != 0.0 {
            (g[i] - tail) / h[[i, i]]
        } else {
            0.0
        };
    }
    GmresSolution {
        x: basis.slice(s![.., ..k]).dot(&y),
        relative_residual: g[k].abs() / beta,
        iterations: k,
    }
}

/// Rightmost eigenvalues of an operator from [`arnoldi`], largest real part first: the `want`
/// asked for, or all d of them when the Krylov space exhausted the space.
#[derive(Debug, Clone, Serialize)]
pub struct RitzValues {
    /// (re, im) pairs.
    pub values: Vec<[f64; 2]>,
    /// Residual bound |A u − θ u| of each Ritz pair (|h_{m+1,m}| |e_mᵀ y| for unit y).
    pub residuals: Vec<f64>,
    /// Krylov dimension reached.
    pub dimension: usize,
    /// Whether the Krylov space is the whole space (the values are the full spectrum).
    pub exhausted: bool,
    /// Unit Ritz vectors (real parts) of the first values, as many as asked for (in Krylov
    /// coordinates until `arnoldi_until` lifts them).
    #[serde(skip)]
    pub vectors: Vec<Array1<f64>>,
}

impl RitzValues {
    /// The largest modulus among the values, at least 1: the scale of the residual test.
    ///
    /// ```
    /// use memscape::analysis::landscape::krylov::arnoldi;
    /// use ndarray::{Array1, ArrayView1, array};
    ///
    /// // diag(−3, 0.5): the largest modulus is 3; diag(0.1, 0.2): 1, the floor
    /// let diag = |a: Array1<f64>| move |v: ArrayView1<f64>| &a * &v;
    /// assert!((arnoldi(diag(array![-3.0, 0.5]), 2, 2, 2, 1e-12, 0).scale() - 3.0).abs() < 1e-12);
    /// assert_eq!(arnoldi(diag(array![0.1, 0.2]), 2, 2, 2, 1e-12, 0).scale(), 1.0);
    /// ```
    pub fn scale(&self) -> f64 {
        self.values
            .iter()
            .map(|v| v[0].hypot(v[1]))
            .fold(1.0, f64::max)
    }
}

/// The first `want` eigenvalues by real part of a d × d operator given by its action, by
/// Arnoldi without restarts (Saad 2011 §6.2): grow the Krylov space from a seeded Gaussian
/// vector until the `want` rightmost Ritz pairs have residual ≤ `tol` · max(1, |θ|max), or the
/// dimension reaches `max_dimension` (or d, where the Ritz values are the eigenvalues).
///
/// ```
/// use memscape::analysis::landscape::krylov::arnoldi;
/// use ndarray::Array1;
///
/// // diag(1, 2, …, 10): the rightmost eigenvalue is 10
/// let d = 10;
/// let ritz = arnoldi(|v| Array1::from_shape_fn(d, |i| (i + 1) as f64 * v[i]), d, 1, d, 1e-10, 0);
/// assert!((ritz.values[0][0] - 10.0).abs() < 1e-8 && ritz.values[0][1].abs() < 1e-8);
/// ```
pub fn arnoldi(
    apply: impl FnMut(ArrayView1<f64>) -> Array1<f64>,
    d: usize,
    want: usize,
    max_dimension: usize,
    tol: f64,
    seed: u64,
) -> RitzValues {
    let want = want.min(d);
    arnoldi_until(apply, d, want, max_dimension, seed, 0, |r| {
        let top = r.scale();
        r.residuals.iter().take(want).all(|&res| res <= tol * top)
    })
}

/// Arnoldi as [`arnoldi`], stopping as soon as `done` accepts the Ritz values (sorted by real
/// part, largest first, with their residual bounds); checked every 4 steps once the dimension
/// reaches `want`. A fresh seeded direction continues the space whenever it becomes invariant
/// (and `done` is not asked before that direction's block has grown). Reports the `want`
/// rightmost values (every value when the space is exhausted) and the Ritz vectors of the
/// first `vectors`.
pub(crate) fn arnoldi_until(
    mut apply: impl FnMut(ArrayView1<f64>) -> Array1<f64>,
    d: usize,
    want: usize,
    max_dimension: usize,
    seed: u64,
    vectors: usize,
    done: impl Fn(&RitzValues) -> bool,
) -> RitzValues {
    let m = max_dimension.min(d).max(1);
    let want = want.min(d);
    let mut rng = stream(seed, 0x4A21);
    let mut basis = Array2::<f64>::zeros((d, m + 1));
    let mut h = Array2::<f64>::zeros((m + 1, m));
    let fresh = |basis: &Array2<f64>, n: usize, rng: &mut rand_chacha::ChaCha8Rng| {
        let mut v = Array1::<f64>::zeros(d);
        fill_normal(rng, v.as_slice_mut().expect("contiguous"));
        orthogonalize(basis, n, &mut v);
        let norm = v.dot(&v).sqrt();
        v / norm
    };
    let v0 = fresh(&basis, 0, &mut rng);
    basis.column_mut(0).assign(&v0);
    let mut scale: f64 = 0.0;
    let mut last = ritz(&h, 0, 0.0, 0);
    // steps since the space last became invariant (a multiple eigenvalue shows its further
    // copies only in the fresh direction's block, so that block must grow before stopping)
    let (mut since_restart, mut restarted) = (0, false);
    for k in 0..m {
        let mut w = apply(basis.column(k));
        let coeffs = orthogonalize(&basis, k + 1, &mut w);
        for i in 0..=k {
            h[[i, k]] = coeffs[i];
        }
        let norm = w.dot(&w).sqrt();
        scale = scale.max(coeffs.dot(&coeffs).sqrt()).max(norm);
        let invariant = norm <= 1e-12 * scale.max(f64::MIN_POSITIVE);
        if k + 1 < d {
            if invariant {
                // the space is invariant: continue with a new direction (h[k+1, k] = 0)
                let v = fresh(&basis, k + 1, &mut rng);
                basis.column_mut(k + 1).assign(&v);
                (since_restart, restarted) = (0, true);
            } else {
                h[[k + 1, k]] = norm;
                basis.column_mut(k + 1).assign(&(&w / norm));
            }
        }
        let n = k + 1;
        since_restart += usize::from(!invariant);
        let settled = !invariant && (!restarted || since_restart >= want.min(d - n));
        let due = n == m || n == d || (n >= want.max(1) && n % 4 == 0 && settled);
        if !due {
            continue;
        }
        last = ritz(&h, n, if n < d && !invariant { norm } else { 0.0 }, vectors);
        last.exhausted = n == d;
        if last.exhausted || (settled && done(&last)) {
            break;
        }
    }
    // the Ritz vectors, from Krylov coordinates to the space
    let n = last.dimension;
    for y in &mut last.vectors {
        let u = basis.slice(s![.., ..n]).dot(&*y);
        let norm = u.dot(&u).sqrt().max(f64::MIN_POSITIVE);
        *y = u / norm;
    }
    if !last.exhausted {
        last.values.truncate(want);
        last.residuals.truncate(want);
    }
    last
}

/// The eigen-decomposition of the leading n × n block of `h`, as (value, vector) pairs sorted
/// by real part descending (then imaginary part).
fn hessenberg_eigen(h: &Array2<f64>, n: usize) -> Vec<([f64; 2], Vec<[f64; 2]>)> {
    let block = Mat::<f64>::from_fn(n, n, |i, j| h[[i, j]]);
    let evd = block
        .eigen()
        .expect("eigen-decomposition of a small Hessenberg matrix converges");
    let mut pairs: Vec<([f64; 2], Vec<[f64; 2]>)> = (0..n)
        .map(|i| {
            let lambda = evd.S()[i];
            let col = evd.U().col(i);
            (
                [lambda.re, lambda.im],
                (0..n).map(|r| [col[r].re, col[r].im]).collect(),
            )
        })
        .collect();
    pairs.sort_by(|a, b| b.0[0].total_cmp(&a.0[0]).then(b.0[1].total_cmp(&a.0[1])));
    pairs
}

/// Ritz values of the leading n × n block of `h`, sorted by real part descending, with their
/// residual bounds `next · |e_nᵀ y|`, and the real parts of the first `vectors` eigenvectors y
/// (in Krylov coordinates).
fn ritz(h: &Array2<f64>, n: usize, next: f64, vectors: usize) -> RitzValues {
    let pairs = if n == 0 {
        vec![]
    } else {
        hessenberg_eigen(h, n)
    };
    let residual = |y: &[[f64; 2]]| {
        let norm: f64 = y
            .iter()
            .map(|c| c[0] * c[0] + c[1] * c[1])
            .sum::<f64>()
            .sqrt();
        next * y[n - 1][0].hypot(y[n - 1][1]) / norm.max(f64::MIN_POSITIVE)
    };
    RitzValues {
        values: pairs.iter().map(|p| p.0).collect(),
        residuals: pairs.iter().map(|p| residual(&p.1)).collect(),
        dimension: n,
        exhausted: false,
        vectors: pairs
            .iter()
            .take(vectors)
            .map(|p| p.1.iter().map(|c| c[0]).collect())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::linalg::symmetric_eigen;

    /// A random symmetric matrix (GOE-like, spectrum in about [−√2, √2]).
    fn test_matrix(d: usize, seed: u64) -> Array2<f64> {
        let g = crate::rng::normal_matrix(d, d, seed);
        (&g + &g.t()) / (2.0 * (d as f64).sqrt())
    }

    #[test]
    fn gmres_solves_against_a_dense_solve() {
        // a well-conditioned non-symmetric system, d = 60: x = A⁻¹ b to 1e-10
        let d = 60;
        let a = Array2::<f64>::eye(d) * 3.0 + crate::rng::normal_matrix(d, d, 3) * 0.1;
        let x_true = crate::rng::normal_matrix(1, d, 4).row(0).to_owned();
        let b = a.dot(&x_true);
        let sol = gmres(|v| a.dot(&v), b.view(), 1e-12, d);
        assert!(sol.relative_residual < 1e-12, "{}", sol.relative_residual);
        let err = (&sol.x - &x_true)
            .mapv(f64::abs)
            .fold(0.0, |m: f64, &v| m.max(v));
        assert!(err < 1e-10, "{err}");
        assert!(sol.iterations < d, "converged before d: {}", sol.iterations);
    }

    #[test]
    fn arnoldi_finds_the_rightmost_eigenvalues_of_a_symmetric_matrix() {
        // the 5 largest eigenvalues of a 200 × 200 symmetric matrix against faer's dense
        // self-adjoint solver (oracle), residual tolerance 1e-10
        let a = test_matrix(200, 11);
        let (dense, _) = symmetric_eigen(&a);
        let r = arnoldi(|v| a.dot(&v), 200, 5, 200, 1e-10, 1);
        for (i, v) in r.values.iter().enumerate() {
            assert!(
                (v[0] - dense[199 - i]).abs() < 1e-8,
                "{i}: {v:?} vs {}",
                dense[199 - i]
            );
            assert!(v[1].abs() < 1e-8);
        }
    }

    #[test]
    fn arnoldi_on_a_low_rank_operator_restarts_past_its_invariant_space() {
        // rank 3 in d = 50: the Krylov space is invariant after 3 steps; the eigenvalue 0
        // (multiplicity 47) must still be reported, not missed
        let u = crate::rng::normal_matrix(50, 3, 5);
        let a = u.dot(&u.t());
        let (dense, _) = symmetric_eigen(&a);
        let r = arnoldi(|v| a.dot(&v), 50, 5, 50, 1e-10, 2);
        for i in 0..3 {
            assert!((r.values[i][0] - dense[49 - i]).abs() < 1e-8 * dense[49]);
        }
        for i in 3..5 {
            assert!(r.values[i][0].abs() < 1e-8 * dense[49], "{:?}", r.values[i]);
        }
    }

    #[test]
    fn arnoldi_finds_complex_pairs() {
        // a rotation block with eigenvalues 2 ± 3i on top of a diagonal with values below 1
        let d = 30;
        let mut a = Array2::<f64>::zeros((d, d));
        for i in 0..d {
            a[[i, i]] = i as f64 / d as f64;
        }
        a[[0, 0]] = 2.0;
        a[[1, 1]] = 2.0;
        a[[0, 1]] = 3.0;
        a[[1, 0]] = -3.0;
        let q = crate::analysis::linalg::symmetric_eigen(&test_matrix(d, 9)).1;
        let b = q.dot(&a).dot(&q.t());
        let r = arnoldi(|v| b.dot(&v), d, 3, d, 1e-10, 3);
        assert!((r.values[0][0] - 2.0).abs() < 1e-9 && (r.values[0][1].abs() - 3.0).abs() < 1e-9);
        assert!(
            (r.values[1][0] - 2.0).abs() < 1e-9 && (r.values[1][1] + r.values[0][1]).abs() < 1e-9
        );
        assert!((r.values[2][0] - (d - 1) as f64 / d as f64).abs() < 1e-9);
    }

    #[test]
    fn central_differences_of_a_linear_map_are_exact() {
        // D(x) = M x: J v = M v up to round-off, whatever the step
        let m = crate::rng::normal_matrix(8, 8, 1);
        let den = |x: ArrayView2<f64>, _s: f64| x.dot(&m.t());
        let probe = Probe::new(&den, 1.0, 1e-3);
        let x = Array1::from_elem(8, 0.5);
        let vs = crate::rng::normal_matrix(3, 8, 2);
        let j = probe.jvp(x.view(), vs.view());
        let exact = vs.dot(&m.t());
        assert!(
            (&j - &exact)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b))
                < 1e-10
        );
        assert_eq!(probe.cost(), Cost { calls: 1, rows: 6 });
    }
}
