//! Fixed points `x = D(x, sigma)` of any [`Denoiser`] (trained networks included), matrix-free,
//! and their stability.
//!
//! ```text
//! F(x) = x − D(x, sigma)          (∇E for the exact model, theory.md §1)
//! Newton: (I − J) s = −F,  J = ∂D/∂x, solved by GMRES on central-difference products J v
//! stable ⇔ every eigenvalue of J has Re λ < 1;  index = #{Re λ > 1}
//! ```
//!
//! Newton–Krylov follows Knoll & Keyes (2004, J. Comput. Phys. 193, 357): inexact Newton with
//! the Eisenstat–Walker forcing term (1996, choice 2: eta = 0.9 (|F_k|/|F_{k−1}|)², at most
//! 0.1), a trust radius on the step, and backtracking on |F|. Each Newton step costs one
//! denoiser call per GMRES iteration (2 rows); the dense finite-difference path
//! [`fixed_points_dense`] costs 2d rows per step and is kept as the naive check.
//!
//! For the exact model, J = beta Cov_p(ξ) is symmetric and 1 − λ are the Hessian eigenvalues of
//! E, so the index is the Morse index. A learned map need not be a gradient field: its
//! asymmetry ‖J − Jᵀ‖_F / ‖J‖_F is estimated from random probes.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::krylov::{Cost, Probe, RitzValues, arnoldi_until, gmres};
use crate::analysis::linalg::symmetric_eigen;
use crate::analysis::samples::distance::squared_distance;
use crate::denoiser::{Arithmetic, Denoiser};
use crate::error::{Error, Result};
use crate::rng::{fill_normal, stream};

/// How the search runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FixedPointConfig {
    /// Stop when |x − D(x)| is below this (data units).
    pub tolerance: f64,
    pub max_newton: usize,
    /// Newton steps past the tolerance that polish a point to the arithmetic's round-off: they
    /// go on while each step at least halves |x − D(x)| (0: stop at the tolerance; documents
    /// written before the polish read as 0).
    #[serde(default)]
    pub polish: usize,
    /// GMRES iterations per Newton step (at most d).
    pub max_krylov: usize,
    /// Finite-difference displacement of a Jacobian-vector product (data units): about
    /// u^(1/3) × the data scale for round-off u ([`Arithmetic::fd_step`]).
    pub fd_step: f64,
    /// Longest Newton step (data units).
    pub max_step: f64,
    /// Converged points closer than this are one.
    pub merge: f64,
    /// Rightmost eigenvalues of J to report at each point (0: no stability analysis).
    pub eigenvalues: usize,
    /// Largest Krylov dimension for the eigenvalues (at most d).
    pub max_arnoldi: usize,
    /// Relative residual at which a Ritz value counts as converged.
    pub eig_tolerance: f64,
    /// The neutral band: an eigenvalue with |1 − Re λ| ≤ margin leaves the index undecided (a
    /// near-degenerate point, or one of a continuum of fixed points). In (0, 1); 0.01 for
    /// float32 networks, whose finite-difference Jacobians carry errors of about 1e-3.
    pub margin: f64,
    /// Probe pairs of the asymmetry estimate (0: skip).
    pub asymmetry_probes: usize,
    pub seed: u64,
}

impl FixedPointConfig {
    /// Defaults for data of RMS scale `scale` and a denoiser computing in `arithmetic`: its
    /// Newton tolerance, polish, finite-difference step, margin and Ritz residual
    /// ([`Arithmetic`]).
    ///
    /// ```
    /// use memscape::analysis::landscape::fixed::FixedPointConfig;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// // data of scale 2 in float32: Newton to 2e-4, steps of at most 0.5, the f32 neutral band
    /// let config = FixedPointConfig::for_scale(2.0, Arithmetic::F32);
    /// assert_eq!((config.tolerance, config.max_step), (2e-4, 0.5));
    /// assert_eq!(config.margin, Arithmetic::F32.margin());
    /// assert_eq!(config.polish, 4);
    /// ```
    pub fn for_scale(scale: f64, arithmetic: Arithmetic) -> Self {
        FixedPointConfig {
            tolerance: arithmetic.newton_tolerance(scale),
            max_newton: 50,
            polish: arithmetic.polish(),
            max_krylov: 200,
            fd_step: arithmetic.fd_step(scale),
            max_step: 0.25 * scale,
            merge: 1e-3 * scale,
            eigenvalues: 10,
            max_arnoldi: 200,
            eig_tolerance: arithmetic.eig_tolerance(),
            margin: arithmetic.margin(),
            asymmetry_probes: 16,
            seed: 0,
        }
    }

    /// Checks the fields against dimension `d`; errors name the field.
    ///
    /// ```
    /// use memscape::analysis::landscape::fixed::FixedPointConfig;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// // the defaults ask for 10 eigenvalues: fine in 10 dimensions, not in 2
    /// let config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
    /// assert!(config.validate(10).is_ok());
    /// assert_eq!(config.validate(2).unwrap_err().to_string(), "eigenvalues must be at most the dimension 2, got 10");
    /// let closed = FixedPointConfig { margin: 0.0, ..config };
    /// assert!(closed.validate(10).unwrap_err().to_string().starts_with("margin"));
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule, named.
    pub fn validate(&self, d: usize) -> Result<()> {
        for (what, v) in [
            ("tolerance", self.tolerance),
            ("fd_step", self.fd_step),
            ("max_step", self.max_step),
            ("eig_tolerance", self.eig_tolerance),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(what, "a finite number > 0", v));
            }
        }
        if !(self.margin > 0.0 && self.margin < 1.0) {
            return Err(Error::invalid("margin", "in (0, 1)", self.margin));
        }
        if !(self.merge.is_finite() && self.merge >= 0.0) {
            return Err(Error::invalid("merge", "a finite number ≥ 0", self.merge));
        }
        if self.eigenvalues > d {
            return Err(Error::invalid(
                "eigenvalues",
                format!("at most the dimension {d}"),
                self.eigenvalues,
            ));
        }
        Ok(())
    }
}

/// How a Newton–Krylov run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Converged,
    /// `max_newton` steps without reaching the tolerance.
    MaxIterations,
    /// No step along the Newton direction lowered |F| (a minimum of |F| that is not a zero).
    Stalled,
    /// The iterate left the finite numbers.
    NonFinite,
}

/// One Newton–Krylov run.
#[derive(Debug, Clone)]
pub struct NewtonRun {
    pub x: Array1<f64>,
    /// |x − D(x)| at the end.
    pub residual: f64,
    pub status: Status,
    pub iterations: usize,
    pub cost: Cost,
}

/// Newton–Krylov on F(x) = x − D(x, sigma) from `start`.
///
/// ```
/// use memscape::analysis::landscape::fixed::{FixedPointConfig, Status, newton_krylov};
/// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
/// use memscape::units::Beta;
/// use ndarray::array;
///
/// // ±1 at beta = 2: x = D(x) at ±0.957504 (theory.md §5)
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
/// let config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
/// let run = newton_krylov(&den, Beta(2.0).sigma(), array![0.8].view(), &config);
/// assert_eq!(run.status, Status::Converged);
/// assert!((run.x[0] - 0.957504).abs() < 1e-6);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn newton_krylov(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    start: ArrayView1<f64>,
    config: &FixedPointConfig,
) -> NewtonRun {
    let probe = Probe::new(denoiser, sigma, config.fd_step);
    let norm = |v: &Array1<f64>| v.dot(v).sqrt();
    let mut x = start.to_owned();
    let mut f = &x - &probe.apply(x.view());
    let mut f_norm = norm(&f);
    let mut eta = 0.1_f64;
    let mut status = Status::MaxIterations;
    let mut iterations = 0;
    // Newton steps past the tolerance, and the residual before the last of them
    let (mut polished, mut before) = (0, f64::INFINITY);
    while iterations < config.max_newton {
        if !f_norm.is_finite() {
            status = Status::NonFinite;
            break;
        }
        if f_norm <= config.tolerance {
            status = Status::Converged;
            // polish while each step at least halves the residual: the round-off floor
            if polished >= config.polish || f_norm > 0.5 * before {
                break;
            }
            polished += 1;
            before = f_norm;
            eta = eta.min(1e-3);
        }
        iterations += 1;
        let minus_f = -&f;
        let solve = gmres(
            |v| &v - &probe.jvp1(x.view(), v),
            minus_f.view(),
            eta,
            config.max_krylov,
        );
        let mut step = solve.x;
        let len = norm(&step);
        if len > config.max_step {
            step *= config.max_step / len;
        }
        // backtracking on |F| (Armijo with c = 1e-4 on the merit |F|)
        let mut lambda = 1.0;
        let mut accepted = None;
        for _ in 0..8 {
            let trial = &x + &(&step * lambda);
            let f_trial = &trial - &probe.apply(trial.view());
            let n = norm(&f_trial);
            if n.is_finite() && n <= (1.0 - 1e-4 * lambda) * f_norm {
                accepted = Some((trial, f_trial, n));
                break;
            }
            lambda *= 0.5;
        }
        let Some((next, f_next, n_next)) = accepted else {
            // a polishing step that lowers nothing has met the round-off floor
            if status != Status::Converged {
                status = Status::Stalled;
            }
            break;
        };
        // Eisenstat–Walker choice 2, safeguarded (tight while polishing)
        eta = (0.9 * (n_next / f_norm).powi(2)).clamp(1e-12, if polished > 0 { 1e-3 } else { 0.1 });
        (x, f, f_norm) = (next, f_next, n_next);
    }
    if status == Status::MaxIterations && f_norm <= config.tolerance {
        status = Status::Converged;
    }
    NewtonRun {
        x,
        residual: f_norm,
        status,
        iterations,
        cost: probe.cost(),
    }
}

/// Why a point's index is not certified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Uncertainty {
    /// An eigenvalue sits within the margin of Re λ = 1 (a near-degenerate point, or a point
    /// of a continuum).
    NearOne,
    /// The rightmost part of the spectrum (every value above 1 − margin and the first below)
    /// did not converge within the Krylov budget.
    Unconverged,
}

/// The rightmost spectrum of J = ∂D/∂x at a fixed point.
///
/// The index needs only the rightmost part of the spectrum: the Ritz values from the right
/// down to and including the first one with Re θ < 1 − margin. Once those have converged, no
/// further eigenvalue can lie past 1 (for a symmetric J the largest Ritz values approach the
/// largest eigenvalues from below, Saad 2011 §6.3), so inner values need not converge.
#[derive(Debug, Clone, Serialize)]
pub struct Stability {
    /// Rightmost eigenvalues of J as (re, im), largest real part first (the values asked for;
    /// the inner ones may be unconverged: see `residuals`).
    pub eigenvalues: Vec<[f64; 2]>,
    /// Residual bound of each (Ritz) value.
    pub residuals: Vec<f64>,
    /// Unstable directions found: #{Re λ > 1} (the Morse index for the exact model).
    pub index: usize,
    /// Neutral directions: #{|1 − Re λ| ≤ margin} among the converged values; the dimension of
    /// a continuum of fixed points through the point.
    pub neutral: usize,
    /// 1 − Re λ_max: the rate at which the flow dx/ds = D(x) − x contracts onto a stable point
    /// (negative at saddles); the smallest Hessian eigenvalue for the exact model. It is not
    /// the contraction rate of x ← D(x): a trained network's J can have eigenvalues below −1,
    /// where that iteration moves away from the point.
    pub gap: f64,
    /// min |1 − Re λ| over the values found: the distance from degeneracy.
    pub margin: f64,
    /// Whether the index is certain: the rightmost part converged and no value lies within
    /// the margin of 1.
    pub certified: bool,
    /// Why not, when not.
    pub uncertain: Option<Uncertainty>,
    /// Whether the rightmost part of the spectrum converged.
    pub converged: bool,
    pub krylov_dimension: usize,
    /// Unit Ritz vectors of the rightmost values (the softest directions of a stable point),
    /// as many as asked for.
    #[serde(skip)]
    pub vectors: Vec<Array1<f64>>,
    pub cost: Cost,
}

impl Stability {
    /// Every value found neutral: the map is near the identity here (J ≈ I), and no finite
    /// count of neutral directions can be told.
    ///
    /// ```
    /// use memscape::analysis::landscape::fixed::{FixedPointConfig, stability};
    /// use memscape::denoiser::Arithmetic;
    /// use ndarray::{Array2, ArrayView2, array};
    ///
    /// let config = FixedPointConfig { eigenvalues: 2, max_arnoldi: 2, ..FixedPointConfig::for_scale(1.0, Arithmetic::F64) };
    /// // D(x) = x (J = I) is flat; D(x) = x/2 (J = I/2) is not
    /// let identity = |x: ArrayView2<f64>, _: f64| x.to_owned();
    /// let half = |x: ArrayView2<f64>, _: f64| -> Array2<f64> { &x * 0.5 };
    /// assert!(stability(&identity, 1.0, array![0.3, -0.2].view(), &config, 0).flat());
    /// assert!(!stability(&half, 1.0, array![0.0, 0.0].view(), &config, 0).flat());
    /// ```
    pub fn flat(&self) -> bool {
        self.neutral > 0 && self.neutral == self.eigenvalues.len()
    }

    /// A point of a continuum of fixed points: the rightmost spectrum converged, some
    /// eigenvalue within the margin of 1, none past 1 + margin, and not flat.
    ///
    /// ```
    /// use memscape::analysis::landscape::fixed::{FixedPointConfig, stability};
    /// use memscape::denoiser::Arithmetic;
    /// use ndarray::{Array2, ArrayView2, array};
    ///
    /// let config = FixedPointConfig { eigenvalues: 2, max_arnoldi: 2, ..FixedPointConfig::for_scale(1.0, Arithmetic::F64) };
    /// // D(x, y) = (x, y/2): the x-axis is a line of fixed points, eigenvalues 1 and 1/2
    /// let line = |x: ArrayView2<f64>, _: f64| -> Array2<f64> { &x * &array![1.0, 0.5] };
    /// let s = stability(&line, 1.0, array![0.4, 0.0].view(), &config, 0);
    /// assert!(s.neutral_stable(config.margin) && !s.flat());
    /// // D(x) = x/2: an isolated stable point
    /// let half = |x: ArrayView2<f64>, _: f64| -> Array2<f64> { &x * 0.5 };
    /// assert!(!stability(&half, 1.0, array![0.0, 0.0].view(), &config, 0).neutral_stable(config.margin));
    /// ```
    pub fn neutral_stable(&self, margin: f64) -> bool {
        self.converged
            && self.neutral > 0
            && !self.flat()
            && self.eigenvalues.iter().all(|v| v[0] <= 1.0 + margin)
    }

    /// How far the point may lie from the true fixed point given its residual |x − D(x)|:
    /// residual / σ_min(I − J), with σ_min taken as the distance from degeneracy (exact for a
    /// normal J), at least `floor`.
    ///
    /// ```
    /// use memscape::analysis::landscape::fixed::{FixedPointConfig, stability};
    /// use memscape::denoiser::Arithmetic;
    /// use ndarray::{Array2, ArrayView2, array};
    ///
    /// // D(x) = x/2 at the origin: 1 − λ = 1/2, so a residual of 1e-3 places it within 2e-3
    /// let config = FixedPointConfig { eigenvalues: 2, max_arnoldi: 2, ..FixedPointConfig::for_scale(1.0, Arithmetic::F64) };
    /// let half = |x: ArrayView2<f64>, _: f64| -> Array2<f64> { &x * 0.5 };
    /// let s = stability(&half, 1.0, array![0.0, 0.0].view(), &config, 0);
    /// assert!((s.position_uncertainty(1e-3, 0.01) - 2e-3).abs() < 1e-12);
    /// // the floor caps the division
    /// assert!((s.position_uncertainty(1e-3, 1.0) - 1e-3).abs() < 1e-12);
    /// ```
    pub fn position_uncertainty(&self, residual: f64, floor: f64) -> f64 {
        residual / self.margin.max(floor)
    }
}

/// Whether the rightmost part of a spectrum has converged: the values from the right down to
/// the first with Re θ < 1 − margin, each with residual ≤ tol · max(1, |θ|max).
fn rightmost_converged(ritz: &RitzValues, tol: f64, margin: f64) -> bool {
    let top = ritz.scale();
    for (v, &r) in ritz.values.iter().zip(&ritz.residuals) {
        if r > tol * top {
            return false;
        }
        if v[0] < 1.0 - margin {
            return true;
        }
    }
    ritz.exhausted
}

/// The rightmost eigenvalues of J at `x` by Arnoldi on central-difference products, stopped
/// once the rightmost part has converged (see [`Stability`]).
///
/// ```
/// use memscape::analysis::landscape::fixed::{FixedPointConfig, stability};
/// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
/// use memscape::units::Beta;
/// use ndarray::array;
///
/// // ±1 at beta = 2: the minimum at 0.957504 is stable (index 0), the origin is not (index 1)
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
/// let config = FixedPointConfig { eigenvalues: 1, max_arnoldi: 1, ..FixedPointConfig::for_scale(1.0, Arithmetic::F64) };
/// let sigma = Beta(2.0).sigma();
/// assert_eq!(stability(&den, sigma, array![0.957504].view(), &config, 0).index, 0);
/// assert_eq!(stability(&den, sigma, array![0.0].view(), &config, 0).index, 1);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn stability(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    x: ArrayView1<f64>,
    config: &FixedPointConfig,
    seed: u64,
) -> Stability {
    stability_with_vectors(denoiser, sigma, x, config, seed, 0)
}

/// [`stability`] with the Ritz vectors of the first `vectors` values.
pub(crate) fn stability_with_vectors(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    x: ArrayView1<f64>,
    config: &FixedPointConfig,
    seed: u64,
    vectors: usize,
) -> Stability {
    let d = x.len();
    let probe = Probe::new(denoiser, sigma, config.fd_step);
    let (tol, margin) = (config.eig_tolerance, config.margin);
    let want = config.eigenvalues.max(1);
    let ritz = arnoldi_until(
        |v| probe.jvp1(x, v),
        d,
        want,
        config.max_arnoldi.max(want + 1),
        seed,
        vectors,
        |r| rightmost_converged(r, tol, margin),
    );
    let converged = rightmost_converged(&ritz, tol, margin);
    let top = ritz.scale();
    let index = ritz.values.iter().filter(|v| v[0] > 1.0).count();
    let neutral = ritz
        .values
        .iter()
        .zip(&ritz.residuals)
        .filter(|(v, r)| **r <= tol * top && (1.0 - v[0]).abs() <= margin)
        .count();
    let distance = ritz
        .values
        .iter()
        .map(|v| (1.0 - v[0]).abs())
        .fold(f64::INFINITY, f64::min);
    let uncertain = if !converged {
        Some(Uncertainty::Unconverged)
    } else if distance <= margin {
        Some(Uncertainty::NearOne)
    } else {
        None
    };
    Stability {
        gap: 1.0 - ritz.values.first().map_or(0.0, |v| v[0]),
        certified: uncertain.is_none(),
        uncertain,
        converged,
        index,
        neutral,
        margin: distance,
        krylov_dimension: ritz.dimension,
        eigenvalues: ritz.values,
        residuals: ritz.residuals,
        vectors: ritz.vectors,
        cost: probe.cost(),
    }
}

/// ‖J − Jᵀ‖_F / ‖J‖_F at a point, from `probes` pairs of Gaussian vectors (z, y):
/// E[(zᵀJy − yᵀJz)²] = ‖J − Jᵀ‖_F² and E|Jz|² = ‖J‖_F² (both unbiased for iid N(0, I)).
/// Central differences put a floor of about fd_step² ‖D'''‖ / ‖J‖ under it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Asymmetry {
    /// None when the probes saw J = 0.
    pub ratio: Option<f64>,
    pub probes: usize,
    pub cost: Cost,
}

/// Estimates the asymmetry of J at `x`; one denoiser call of 4 × `probes` rows.
///
/// ```
/// use memscape::analysis::landscape::fixed::asymmetry;
/// use memscape::denoiser::EmpiricalDenoiser;
/// use ndarray::array;
///
/// // the exact denoiser is a gradient map: its Jacobian is symmetric
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]].view())?;
/// let a = asymmetry(&den, 0.5, array![0.2, 0.1].view(), 8, 1e-5, 0);
/// assert!(a.ratio.unwrap() < 1e-6);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn asymmetry(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    x: ArrayView1<f64>,
    probes: usize,
    fd_step: f64,
    seed: u64,
) -> Asymmetry {
    let d = x.len();
    let probe = Probe::new(denoiser, sigma, fd_step);
    let mut rng = stream(seed, 0xA5F);
    let mut vs = Array2::<f64>::zeros((2 * probes, d));
    fill_normal(&mut rng, vs.as_slice_mut().expect("contiguous"));
    let jv = probe.jvp(x, vs.view());
    let (mut skew, mut norm) = (0.0, 0.0);
    for i in 0..probes {
        let (z, y) = (vs.row(2 * i), vs.row(2 * i + 1));
        let (jz, jy) = (jv.row(2 * i), jv.row(2 * i + 1));
        skew += (z.dot(&jy) - y.dot(&jz)).powi(2);
        norm += 0.5 * (jz.dot(&jz) + jy.dot(&jy));
    }
    Asymmetry {
        ratio: (norm > 0.0).then(|| (skew / norm).sqrt()),
        probes,
        cost: probe.cost(),
    }
}

/// Ritz vectors kept per analysed point: the softest directions a saddle search follows.
pub const SOFTEST: usize = 2;

/// A distinct fixed point.
#[derive(Debug, Clone, Serialize)]
pub struct FixedPoint {
    pub x: Vec<f64>,
    /// |x − D(x)|.
    pub residual: f64,
    /// Starts whose runs converged here.
    pub starts: usize,
    pub stability: Option<Stability>,
    pub asymmetry: Option<Asymmetry>,
}

/// A start whose run did not converge.
#[derive(Debug, Clone, Serialize)]
pub struct Unconverged {
    pub start: usize,
    pub status: Status,
    pub residual: f64,
}

/// The fixed points reached from a set of starts.
#[derive(Debug, Clone, Serialize)]
pub struct FixedPointSet {
    pub sigma: f64,
    /// Distinct converged points, in the order of the first start that reached each.
    pub points: Vec<FixedPoint>,
    /// For each start, the position in `points` it converged to (None: not converged).
    pub assignment: Vec<Option<usize>>,
    pub unconverged: Vec<Unconverged>,
    /// Work of the Newton runs, and of the stability and asymmetry analyses.
    pub newton_cost: Cost,
    pub stability_cost: Cost,
}

/// Newton–Krylov from every row of `starts`, merged within `config.merge`, each distinct point
/// analysed for stability. Deterministic whatever the thread count: runs are independent and
/// merged in start order; point i's Arnoldi start is seeded by (seed, i).
///
/// ```
/// use memscape::analysis::landscape::fixed::{FixedPointConfig, fixed_points};
/// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
/// use memscape::units::Beta;
/// use ndarray::array;
///
/// // ±1 at beta = 2 from five starts: the two minima and the origin
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
/// let config = FixedPointConfig { eigenvalues: 1, max_arnoldi: 1, ..FixedPointConfig::for_scale(1.0, Arithmetic::F64) };
/// let starts = array![[-2.0], [-0.7], [0.01], [0.6], [1.5]];
/// let set = fixed_points(&den, Beta(2.0).sigma(), starts.view(), &config)?;
/// let mut xs: Vec<f64> = set.points.iter().map(|p| p.x[0]).collect();
/// xs.sort_by(f64::total_cmp);
/// assert_eq!(xs.len(), 3);
/// assert!((xs[2] - 0.957504).abs() < 1e-6 && xs[1].abs() < 1e-9);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A configuration that breaks a rule ([`FixedPointConfig::validate`]), or starts of another dimension than the denoiser's.
pub fn fixed_points(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    starts: ArrayView2<f64>,
    config: &FixedPointConfig,
) -> Result<FixedPointSet> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(Error::invalid("sigma", "a finite number > 0", sigma));
    }
    config.validate(starts.ncols())?;
    crate::error::require_finite("starts", starts)?;
    let runs: Vec<NewtonRun> = (0..starts.nrows())
        .into_par_iter()
        .map(|i| newton_krylov(denoiser, sigma, starts.row(i), config))
        .collect();
    let mut newton_cost = Cost::default();
    let (mut points, mut assignment, mut unconverged) = (Vec::<FixedPoint>::new(), vec![], vec![]);
    for (i, run) in runs.into_iter().enumerate() {
        newton_cost += run.cost;
        if run.status != Status::Converged {
            unconverged.push(Unconverged {
                start: i,
                status: run.status,
                residual: run.residual,
            });
            assignment.push(None);
            continue;
        }
        let near = points
            .iter()
            .position(|p| squared_distance(&p.x, &run.x).sqrt() <= config.merge);
        match near {
            Some(j) => {
                points[j].starts += 1;
                assignment.push(Some(j));
            }
            None => {
                assignment.push(Some(points.len()));
                points.push(FixedPoint {
                    x: run.x.to_vec(),
                    residual: run.residual,
                    starts: 1,
                    stability: None,
                    asymmetry: None,
                });
            }
        }
    }
    let analysed: Vec<(Option<Stability>, Option<Asymmetry>)> = points
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let x = ArrayView1::from(&p.x);
            let seed = config.seed ^ ((i as u64) << 24);
            (
                (config.eigenvalues > 0)
                    .then(|| stability_with_vectors(denoiser, sigma, x, config, seed, SOFTEST)),
                (config.asymmetry_probes > 0).then(|| {
                    asymmetry(
                        denoiser,
                        sigma,
                        x,
                        config.asymmetry_probes,
                        config.fd_step,
                        seed,
                    )
                }),
            )
        })
        .collect();
    let mut stability_cost = Cost::default();
    for (p, (s, a)) in points.iter_mut().zip(analysed) {
        if let Some(s) = &s {
            stability_cost += s.cost;
        }
        if let Some(a) = &a {
            stability_cost += a.cost;
        }
        (p.stability, p.asymmetry) = (s, a);
    }
    Ok(FixedPointSet {
        sigma,
        points,
        assignment,
        unconverged,
        newton_cost,
        stability_cost,
    })
}

/// A fixed point from the dense path, [`fixed_points_dense`].
#[derive(Debug, Clone, Serialize)]
pub struct DenseFixedPoint {
    pub x: Vec<f64>,
    /// Eigenvalues of the symmetric part of I − J, ascending (the Hessian of E for the exact
    /// model, theory.md §1).
    pub eigenvalues: Vec<f64>,
    pub index: usize,
    pub cost: Cost,
}

/// The naive path, kept to check [`fixed_points`] and to time it against: Newton on F with a
/// dense central-difference Jacobian (2d + 1 rows per step, displacement `h`) and a dense
/// symmetric eigen-decomposition; points closer than `merge` are one. The index counts the
/// negative eigenvalues of the symmetric part of I − J.
///
/// ```
/// use memscape::analysis::landscape::fixed::fixed_points_dense;
/// use memscape::denoiser::EmpiricalDenoiser;
/// use memscape::units::Beta;
/// use ndarray::array;
///
/// // the dense reference (full Jacobians by finite differences) finds the same minimum
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
/// let points = fixed_points_dense(&den, Beta(2.0).sigma(), array![[0.8]].view(), 1e-5, 1e-10, 1e-4);
/// assert_eq!(points.len(), 1);
/// assert!((points[0].x[0] - 0.957504).abs() < 1e-6 && points[0].index == 0);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn fixed_points_dense(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    starts: ArrayView2<f64>,
    h: f64,
    tolerance: f64,
    merge: f64,
) -> Vec<DenseFixedPoint> {
    let d = starts.ncols();
    let probe = Probe::new(denoiser, sigma, h);
    let jacobian_of_residual = |x: &Array1<f64>| -> (Array1<f64>, Array2<f64>) {
        let mut probes = Array2::zeros((2 * d + 1, d));
        for i in 0..d {
            probes.row_mut(2 * i).assign(x);
            probes.row_mut(2 * i + 1).assign(x);
            probes[[2 * i, i]] += h;
            probes[[2 * i + 1, i]] -= h;
        }
        probes.row_mut(2 * d).assign(x);
        let out = probe.denoise(probes.view());
        let a = Array2::from_shape_fn((d, d), |(r, c)| {
            f64::from(u8::from(r == c)) - (out[[2 * c, r]] - out[[2 * c + 1, r]]) / (2.0 * h)
        });
        (x - &out.row(2 * d), a)
    };
    let mut found: Vec<DenseFixedPoint> = Vec::new();
    for start in starts.rows() {
        let before = probe.cost();
        let mut x = start.to_owned();
        let mut converged = false;
        for _ in 0..100 {
            let (residual, a) = jacobian_of_residual(&x);
            let (values, vectors) = symmetric_eigen(&((&a + &a.t()) / 2.0));
            // Newton step with the symmetrised Jacobian (exact for gradient maps), |λ| ≥ 1e-12
            let coeffs: Array1<f64> = vectors
                .t()
                .dot(&residual)
                .iter()
                .zip(&values)
                .map(|(c, &l)| c / l.abs().max(1e-12).copysign(l))
                .collect();
            let step = vectors.dot(&coeffs);
            x -= &step;
            if step.dot(&step).sqrt() < tolerance {
                converged = true;
                break;
            }
        }
        let near = found
            .iter()
            .any(|f| squared_distance(&f.x, &x).sqrt() < merge);
        if !converged || near {
            continue;
        }
        let (_, a) = jacobian_of_residual(&x);
        let (eigenvalues, _) = symmetric_eigen(&((&a + &a.t()) / 2.0));
        let after = probe.cost();
        found.push(DenseFixedPoint {
            x: x.to_vec(),
            index: eigenvalues.iter().filter(|&&l| l < 0.0).count(),
            eigenvalues,
            cost: Cost {
                calls: after.calls - before.calls,
                rows: after.rows - before.rows,
            },
        });
    }
    found
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::analysis::landscape::critical::{SearchConfig, critical_points};
    use crate::analysis::landscape::newton::{newton, scales};
    use crate::dataset::synthetic::{kgon, two_points};
    use crate::denoiser::{EmpiricalDenoiser, Landscape};

    /// The data scale √(mean |ξ|²) (the pipeline's, which this stage may not import).
    fn data_scale(patterns: ArrayView2<f64>) -> f64 {
        (patterns.mapv(|v| v * v).sum() / patterns.nrows() as f64).sqrt()
    }

    fn distance(a: &[f64], b: ArrayView1<f64>) -> f64 {
        squared_distance(a, b).sqrt()
    }

    /// The nonzero eigenvalues of J = beta Cov_w(ξ) at x, from the K × K Gram matrix
    /// beta B Bᵀ with B = diag(√w)(Ξ − m) (same nonzero spectrum as beta BᵀB); descending.
    fn analytic_jacobian_spectrum(land: &Landscape, x: ArrayView1<f64>) -> Vec<f64> {
        let w = land.weights(x);
        let patterns = land.patterns();
        let mean = patterns.t().dot(&w);
        let b = Array2::from_shape_fn(patterns.dim(), |(i, j)| {
            w[i].sqrt() * (patterns[[i, j]] - mean[j])
        });
        let (mut values, _) = symmetric_eigen(&(b.dot(&b.t()) * land.beta));
        values.reverse();
        values
    }

    #[test]
    fn matrix_free_and_dense_paths_agree_with_the_analytic_kgon() {
        // the K = 6 polygon at beta = 5 seen only through `Denoiser`: every analytic critical
        // point (theory.md §7.8: 6 minima, 6 saddles, 1 maximum) is found by Newton–Krylov and
        // by the dense path from a start 0.01 away, to 1e-8; the indices agree, and the
        // rightmost eigenvalues of J are 1 − the Hessian eigenvalues to 1e-6.
        let patterns = kgon(6, 1.0, 0.2);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let beta: f64 = 5.0;
        let sigma = beta.sqrt().recip();
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let analytic = critical_points(&land, &SearchConfig::for_spacing(1.0), None).unwrap();
        assert_eq!(analytic.points.len(), 13);
        let starts = Array2::from_shape_fn((analytic.points.len(), 2), |(i, j)| {
            analytic.points[i].x[j] + 0.01 * ((i + j) % 3) as f64
        });
        let mut config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
        config.eigenvalues = 2;
        let set = fixed_points(&exact, sigma, starts.view(), &config).unwrap();
        let dense = fixed_points_dense(&exact, sigma, starts.view(), 1e-5, 1e-10, 1e-4);
        assert_eq!(set.points.len(), 13);
        assert_eq!(dense.len(), 13);
        for p in &analytic.points {
            let x = ArrayView1::from(&p.x);
            let q = set
                .points
                .iter()
                .min_by(|a, b| distance(&a.x, x).total_cmp(&distance(&b.x, x)))
                .unwrap();
            assert!(distance(&q.x, x) < 1e-8, "{:?} vs {:?}", q.x, p.x);
            let s = q.stability.as_ref().unwrap();
            assert_eq!(s.index, p.index);
            assert!(s.certified && s.krylov_dimension == 2);
            for (l, h) in s.eigenvalues.iter().zip(p.eigenvalues.iter()) {
                assert!(
                    (l[0] - (1.0 - h)).abs() < 1e-6 && l[1] == 0.0,
                    "{l:?} vs 1 − {h}"
                );
            }
            let r = dense
                .iter()
                .min_by(|a, b| distance(&a.x, x).total_cmp(&distance(&b.x, x)))
                .unwrap();
            assert!(distance(&r.x, x) < 1e-7);
            assert_eq!(r.index, p.index);
        }
    }

    /// K random Gaussian patterns in dimension d, beta with beta D²/4 ≈ 4 at the typical
    /// pairwise distance D ≈ √(2d): the patterns are memories (the others weigh e^−8 there) and
    /// pairwise midpoints are index-1 saddles. (At beta D²/4 ≈ 2 the six patterns' memories are
    /// gone and Newton stalls at minima of |F|, as it should.)
    fn high_dimensional_check(d: usize, k: usize) {
        let patterns = crate::rng::normal_matrix(k, d, 17 + d as u64);
        let scale = data_scale(patterns.view());
        let beta = 8.0 / d as f64;
        let sigma = beta.sqrt().recip();
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let land = Landscape::new(patterns.view(), beta).unwrap();
        // starts: the patterns nudged, and the midpoints of pattern 0 with the others, nudged
        let nudge = crate::rng::normal_matrix(2 * k - 1, d, 5) * (0.02 * scale / (d as f64).sqrt());
        let mut starts = Array2::zeros((2 * k - 1, d));
        for i in 0..k {
            starts.row_mut(i).assign(&patterns.row(i));
        }
        for j in 1..k {
            starts
                .row_mut(k + j - 1)
                .assign(&((&patterns.row(0) + &patterns.row(j)) / 2.0));
        }
        starts += &nudge;
        let mut config = FixedPointConfig::for_scale(scale, Arithmetic::F64);
        config.eigenvalues = 6;
        let set = fixed_points(&exact, sigma, starts.view(), &config).unwrap();
        // every nudged pattern converges; Newton from a midpoint may stall (a local method: at
        // seed 81 in d = 64, 2 of the 5 midpoint starts stall), which must be reported
        assert!(
            set.unconverged.iter().all(|u| u.start >= k
                && u.status == Status::Stalled
                && u.residual > config.tolerance)
        );
        assert!(
            set.unconverged.len() <= (k - 1) / 2,
            "{:?}",
            set.unconverged
        );
        let (_, _, floor) = scales(&land);
        let mut indices = vec![];
        for p in &set.points {
            let x = ArrayView1::from(&p.x);
            // a critical point of the analytic energy: |∇E| = |x − D(x)| to 1e-9 of the scale
            let g = land.gradient(x);
            assert!(
                g.dot(&g).sqrt() < 1e-9 * scale,
                "d = {d}: |∇E| = {}",
                g.dot(&g).sqrt()
            );
            // the analytic Newton path from the matrix-free point stays there
            if d <= 64 {
                let (y, ok, _) = newton(&land, x, floor, 0.25 * scale, 50);
                assert!(ok && distance(&p.x, y.view()) < 1e-8 * scale);
            }
            // the 6 rightmost eigenvalues of J against the dense analytic spectrum
            let s = p.stability.as_ref().unwrap();
            let exact_values = analytic_jacobian_spectrum(&land, x);
            for (i, l) in s.eigenvalues.iter().enumerate() {
                let e = exact_values.get(i).copied().unwrap_or(0.0).max(0.0);
                assert!(
                    (l[0] - e).abs() < 1e-6 * (1.0 + e) && l[1].abs() < 1e-6,
                    "d = {d}, eigenvalue {i}: {l:?} vs {e}"
                );
            }
            assert_eq!(s.index, exact_values.iter().filter(|&&e| e > 1.0).count());
            assert!(s.certified, "d = {d}: {s:?}");
            // the exact J is symmetric: the asymmetry is at the finite-difference floor
            assert!(p.asymmetry.unwrap().ratio.unwrap() < 1e-6);
            indices.push(s.index);
        }
        assert!(
            indices.contains(&0) && indices.contains(&1),
            "d = {d}: {indices:?}"
        );
        // the Newton runs cost no more than 2 rows per GMRES product and a few per step
        assert!(set.newton_cost.rows < (2 * k - 1) * 50 * (2 * 200 + 9));
    }

    #[test]
    fn exact_model_in_d64_matrix_free_against_analytic() {
        high_dimensional_check(64, 6);
    }

    #[test]
    fn exact_model_in_d784_matrix_free_against_analytic() {
        high_dimensional_check(784, 6);
    }

    /// The positive root of m = (D/2) tanh(beta m D/2): the memories of two patterns ±(D/2)e.
    pub(crate) fn two_pattern_memory(distance: f64, beta: f64) -> f64 {
        let (mut lo, mut hi) = (1e-12, distance / 2.0);
        for _ in 0..200 {
            let m = 0.5 * (lo + hi);
            if m < distance / 2.0 * (beta * m * distance / 2.0).tanh() {
                lo = m;
            } else {
                hi = m;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn two_patterns_in_d100_have_two_memories_and_a_midpoint_saddle() {
        // theory.md §5 in d = 100 (patterns ±(D/2) e₁, D = 3, beta = 1 > 4/D² = 0.444):
        // along e₁, D(x)₁ = (D/2) tanh(beta (D/2) x₁), so the memories sit at ±m e₁ with
        // m = (D/2) tanh(beta m D/2); J = beta Cov_w, whose only nonzero eigenvalue is
        // beta (D²/4)(1 − (2m/D)²) at a memory and beta D²/4 = 2.25 at the midpoint saddle.
        let (dist, beta, d) = (3.0, 1.0, 100);
        let patterns = two_points(dist, d);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let nudge = crate::rng::normal_matrix(3, d, 2) * 0.01;
        let mut starts = Array2::zeros((3, d));
        starts.row_mut(0).assign(&patterns.row(0));
        starts.row_mut(1).assign(&patterns.row(1));
        starts += &nudge;
        let mut config = FixedPointConfig::for_scale(1.5, Arithmetic::F64);
        config.eigenvalues = 3;
        let set = fixed_points(&exact, 1.0 / f64::sqrt(beta), starts.view(), &config).unwrap();
        assert_eq!(set.points.len(), 3);
        let m = two_pattern_memory(dist, beta);
        let (mut memories, mut saddles) = (0, 0);
        for p in &set.points {
            let s = p.stability.as_ref().unwrap();
            assert!(s.certified);
            let off_axis: f64 = p.x[1..].iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(off_axis < 1e-9);
            match s.index {
                0 => {
                    memories += 1;
                    assert!((p.x[0].abs() - m).abs() < 1e-9, "{} vs {m}", p.x[0]);
                    let l = beta * dist * dist / 4.0 * (1.0 - (2.0 * m / dist).powi(2));
                    assert!((s.eigenvalues[0][0] - l).abs() < 1e-7);
                }
                1 => {
                    saddles += 1;
                    assert!(p.x[0].abs() < 1e-9);
                    let unstable = beta * dist * dist / 4.0;
                    assert!(
                        (s.eigenvalues[0][0] - unstable).abs() < 1e-7,
                        "{:?}",
                        s.eigenvalues
                    );
                    // the rest of the spectrum is 0 (J has rank 1 at the midpoint)
                    assert!(s.eigenvalues[1][0].abs() < 1e-7);
                }
                i => panic!("index {i}"),
            }
        }
        assert_eq!((memories, saddles), (2, 1));
    }

    #[test]
    fn a_start_that_diverges_is_a_status_not_an_error() {
        // D(x) = 2x + 1 has its fixed point at −1, but a map with no fixed point (D(x) = x + 1)
        // stalls: no step lowers |F| = 1
        let shift = |x: ArrayView2<f64>, _s: f64| x.mapv(|v| v + 1.0);
        let mut config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
        config.eigenvalues = 3;
        let set = fixed_points(&shift, 1.0, Array2::zeros((2, 3)).view(), &config).unwrap();
        assert!(set.points.is_empty());
        assert_eq!(set.unconverged.len(), 2);
        assert!(set.unconverged.iter().all(|u| u.status == Status::Stalled));
        let affine = |x: ArrayView2<f64>, _s: f64| x.mapv(|v| 2.0 * v + 1.0);
        let set = fixed_points(&affine, 1.0, Array2::zeros((1, 3)).view(), &config).unwrap();
        assert!(set.points[0].x.iter().all(|v| (v + 1.0).abs() < 1e-10));
        // J = 2 I: three unstable directions, the whole spectrum found
        let s = set.points[0].stability.as_ref().unwrap();
        assert_eq!(s.index, 3);
        assert!(s.certified);
    }

    #[test]
    fn the_index_counts_eigenvalues_past_one_and_certifies_only_clear_of_it() {
        // D(x) = Λ x with Λ = diag(1.05, 0.95, 0.5, 0.2) rotated: the fixed point 0 has one
        // unstable direction (1.05), gap 1 − 1.05 = −0.05, margin 0.05 (from 0.95 and 1.05)
        let q = symmetric_eigen(&crate::rng::normal_matrix(4, 4, 3)).1;
        let linear = |values: [f64; 4]| {
            let m = q
                .dot(&Array2::from_diag(&Array1::from(values.to_vec())))
                .dot(&q.t());
            move |x: ArrayView2<f64>, _s: f64| x.dot(&m.t())
        };
        let mut config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
        config.eigenvalues = 4;
        let s = stability(
            &linear([1.05, 0.95, 0.5, 0.2]),
            1.0,
            Array1::zeros(4).view(),
            &config,
            0,
        );
        assert_eq!(s.index, 1);
        assert!(
            (s.gap + 0.05).abs() < 1e-8 && (s.margin - 0.05).abs() < 1e-8,
            "{s:?}"
        );
        assert!(s.certified);
        // an eigenvalue within the tolerance of 1 makes the index uncertain
        let s = stability(
            &linear([1.0 + 1e-9, 0.95, 0.5, 0.2]),
            1.0,
            Array1::zeros(4).view(),
            &config,
            0,
        );
        assert!(!s.certified, "{s:?}");
        // with 2 of the 4 values asked for, a Krylov space of dimension 3 (not the whole
        // space) and both unstable, a third may hide: partial
        config.eigenvalues = 2;
        config.max_arnoldi = 2;
        let s = stability(
            &linear([1.3, 1.2, 1.1, 0.2]),
            1.0,
            Array1::zeros(4).view(),
            &config,
            0,
        );
        assert_eq!((s.index, s.krylov_dimension), (2, 3));
        assert!(!s.certified, "{s:?}");
        // the same with room to exhaust the space: every eigenvalue, index 3, certified
        config.max_arnoldi = 200;
        let s = stability(
            &linear([1.3, 1.2, 1.1, 0.2]),
            1.0,
            Array1::zeros(4).view(),
            &config,
            0,
        );
        assert_eq!((s.index, s.eigenvalues.len()), (3, 4));
        assert!(s.certified, "{s:?}");
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let id = |x: ArrayView2<f64>, _s: f64| x.to_owned();
        let config = FixedPointConfig::for_scale(1.0, Arithmetic::F64);
        let starts = Array2::zeros((1, 3));
        let e = fixed_points(&id, -1.0, starts.view(), &config).unwrap_err();
        assert_eq!(e.to_string(), "sigma must be a finite number > 0, got -1");
        let mut too_many = config;
        too_many.eigenvalues = 4;
        let e = fixed_points(&id, 1.0, starts.view(), &too_many).unwrap_err();
        assert_eq!(
            e.to_string(),
            "eigenvalues must be at most the dimension 3, got 4"
        );
    }

    #[test]
    fn an_asymmetric_map_has_its_asymmetry_measured() {
        // D(x) = M x with M = S + A (S symmetric, A skew): ‖M − Mᵀ‖_F/‖M‖_F = 2‖A‖/‖M‖;
        // 400 probe pairs estimate it to within 10%
        let g = crate::rng::normal_matrix(20, 20, 8);
        let (sym, skew) = ((&g + &g.t()) / 2.0, (&g - &g.t()) / 2.0 * 0.3);
        let m = &sym + &skew;
        let f = |a: &Array2<f64>| a.mapv(|v| v * v).sum().sqrt();
        let truth = 2.0 * f(&skew) / f(&m);
        let den = |x: ArrayView2<f64>, _s: f64| x.dot(&m.t());
        let a = asymmetry(&den, 1.0, Array1::zeros(20).view(), 400, 1e-3, 1);
        let est = a.ratio.unwrap();
        assert!((est / truth - 1.0).abs() < 0.1, "{est} vs {truth}");
        assert_eq!(
            a.cost,
            Cost {
                calls: 1,
                rows: 1600
            }
        );
    }
}
