//! Carries points to the attractor they sit in, at a fixed noise level.
//!
//! ```text
//! flow        dx/ds = D(x, sigma) − x            (any denoiser; stop on |x − D(x)| ≤ tol)
//! unit step   x ← D(x, sigma)                    (the flow's Euler step of length 1)
//! ```
//!
//! For the exact model the unit step is CCCP: it lowers E(x; beta = 1/sigma²) at every step and
//! stops at a critical point (theory.md §1), so the exact model keeps it. A trained network's
//! Jacobian J = ∂D/∂x can have eigenvalues far below −1 at its stable points (−3 to −5 on a
//! U-Net), where x ← D(x) moves *away* from them: its Euler step of length 1 is unstable. Such
//! denoisers follow the flow by pseudo-transient continuation (Ψtc; Kelley & Keyes 1998, SIAM
//! J. Numer. Anal. 35, 508): the linearly implicit Euler step
//!
//! ```text
//! ((1/Δs) I + I − J) δ = D(x) − x,      solved by GMRES on forward-difference products J v,
//! ```
//!
//! is stable for any step Δs on the stiff directions; Δs grows as the residual falls (switched
//! evolution relaxation, Δs ← Δs |f_old|/|f_new|), so the last steps are Newton's. A step that
//! more than doubles the residual is refused and Δs cut by 4; no step is longer than
//! `max_step`.
//!
//! A slow point (drifting less than 0.1 sigma per unit of flow time) whose residual stops
//! falling (less than halved over three steps) gets a Newton probe, (I − J) δ = D(x) − x: when
//! |δ| ≥ |x − D(x)| / margin, what is left of the residual lies along directions with
//! |1 − λ| ≤ margin, where the flow only drifts. The point stops there as **neutral**: it sits
//! on a near-neutral set (a continuum of near-fixed points, the shape generalization takes),
//! whose drift the flow would follow for ever. The unit step
//! detects the same from its step ratios ρ = |step_n| / |step_{n−1}|: three in a row within
//! the margin of 1. Non-convergence is a status, not an error.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::krylov::{Cost, Probe, gmres};
use crate::denoiser::{Arithmetic, Denoiser};
use crate::error::{Error, Result};

/// How points are carried to their attractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettleMethod {
    /// `x ← D(x, sigma)`: for the exact model the CCCP step, which lowers the energy.
    UnitStep,
    /// The flow `dx/ds = D(x) − x` by pseudo-transient continuation (any denoiser).
    Flow,
}

/// When to stop, and how to step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SettleConfig {
    pub method: SettleMethod,
    /// Stop a point once |D(x) − x| is below this (data units).
    pub tolerance: f64,
    /// Steps per point at most.
    pub max_iterations: usize,
    /// The flow's longest step (data units).
    #[serde(deserialize_with = "null_as_infinity")]
    pub max_step: f64,
    /// Stop a point as neutral once its residual lies along directions with |1 − λ| ≤ margin
    /// (0: never; otherwise in (0, 1)).
    pub margin: f64,
    /// The flow's finite-difference displacement for J v (data units).
    pub fd_step: f64,
}

/// Reads a step bound JSON wrote as `null` (an unbounded step, `f64::INFINITY`) back.
fn null_as_infinity<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// A neutral point drifts slower than this × sigma per unit of flow time: it crosses the
/// landscape's resolution sigma in no less than 10 units, while it relaxes onto its set in
/// about 1 / (1 − λ) = O(1). Faster drift is flow, not a near-fixed point.
pub const NEUTRAL_DRIFT: f64 = 0.1;

/// GMRES iterations per flow step at most.
const FLOW_KRYLOV: usize = 40;
/// The flow's first pseudo-time step.
const FLOW_FIRST_STEP: f64 = 1.0;

impl SettleConfig {
    /// `x ← D(x)` to `tolerance`, without the neutral test.
    ///
    /// ```
    /// use memscape::analysis::landscape::settle::{SettleConfig, SettleMethod};
    ///
    /// let config = SettleConfig::unit_step(1e-10, 1000);
    /// assert_eq!((config.method, config.tolerance, config.max_iterations), (SettleMethod::UnitStep, 1e-10, 1000));
    /// // no neutral test, no step bound, and no finite differences to need a step for
    /// assert_eq!((config.margin, config.max_step), (0.0, f64::INFINITY));
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn unit_step(tolerance: f64, max_iterations: usize) -> Self {
        SettleConfig {
            method: SettleMethod::UnitStep,
            tolerance,
            max_iterations,
            max_step: f64::INFINITY,
            margin: 0.0,
            fd_step: 0.0,
        }
    }

    /// The flow with the defaults for data of RMS scale `scale` and a denoiser computing in
    /// `arithmetic`: its settling tolerance, margin and finite-difference step
    /// ([`Arithmetic`]), steps of at most 0.25 × scale.
    ///
    /// ```
    /// use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, flow};
    /// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// use memscape::units::Beta;
    /// use ndarray::array;
    ///
    /// // ±1 at beta = 2: the flow reaches the minima at ±0.957504 (theory.md §5)
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let config = SettleConfig::flow(1.0, Arithmetic::F64);
    /// let s = flow(&den, array![[0.3], [-2.0]].view(), Beta(2.0).sigma(), &config);
    /// assert!(s.status.iter().all(|&c| c == SettleStatus::Converged));
    /// assert!((s.points[[0, 0]] - 0.957504).abs() < 1e-6);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn flow(scale: f64, arithmetic: Arithmetic) -> Self {
        SettleConfig {
            method: SettleMethod::Flow,
            tolerance: arithmetic.settle_tolerance(scale),
            max_iterations: 200,
            max_step: 0.25 * scale,
            margin: arithmetic.margin(),
            fd_step: arithmetic.fd_step(scale),
        }
    }

    /// Checks the fields; errors name the parameter.
    ///
    /// ```
    /// use memscape::analysis::landscape::settle::SettleConfig;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let zero = SettleConfig::unit_step(0.0, 100);
    /// assert_eq!(zero.validate().unwrap_err().to_string(), "settle_tolerance must be a finite number > 0, got 0");
    /// // the flow takes finite differences, so it needs a step for them
    /// let flow = SettleConfig { fd_step: 0.0, ..SettleConfig::flow(1.0, Arithmetic::F64) };
    /// assert!(flow.validate().unwrap_err().to_string().starts_with("fd_step"));
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule, named.
    pub fn validate(&self) -> Result<()> {
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::invalid(
                "settle_tolerance",
                "a finite number > 0",
                self.tolerance,
            ));
        }
        if self.max_step.is_nan() || self.max_step <= 0.0 {
            return Err(Error::invalid("settle_max_step", "> 0", self.max_step));
        }
        if !(self.margin >= 0.0 && self.margin < 1.0) {
            return Err(Error::invalid("margin", "in [0, 1)", self.margin));
        }
        if self.method == SettleMethod::Flow && !(self.fd_step.is_finite() && self.fd_step > 0.0) {
            return Err(Error::invalid(
                "fd_step",
                "a finite number > 0",
                self.fd_step,
            ));
        }
        Ok(())
    }
}

/// How a point's settling ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettleStatus {
    /// |x − D(x)| ≤ tolerance.
    Converged,
    /// On a near-neutral set: the rest of the residual lies along directions with
    /// |1 − λ| ≤ margin.
    Neutral,
    /// `max_iterations` steps, or no step the flow could take.
    Unconverged,
    /// The point left the finite numbers.
    NonFinite,
}

impl SettleStatus {
    /// Whether the point ended at a (near-)fixed point: converged or neutral.
    ///
    /// ```
    /// use memscape::analysis::landscape::settle::SettleStatus;
    ///
    /// assert!(SettleStatus::Converged.settled() && SettleStatus::Neutral.settled());
    /// assert!(!SettleStatus::Unconverged.settled() && !SettleStatus::NonFinite.settled());
    /// ```
    pub fn settled(self) -> bool {
        matches!(self, SettleStatus::Converged | SettleStatus::Neutral)
    }
}

/// Where the points ended, how, and at what cost.
#[derive(Debug, Clone)]
pub struct Settled {
    pub points: Array2<f64>,
    pub status: Vec<SettleStatus>,
    /// |x − D(x)| at each end point (NaN where it left the finite numbers).
    pub residuals: Vec<f64>,
    /// The most steps any point took.
    pub iterations: usize,
    /// Denoiser rows each point spent.
    pub evaluations: Vec<usize>,
}

impl Settled {
    /// The denoiser work, in rows.
    ///
    /// ```
    /// use memscape::analysis::landscape::settle::{SettleConfig, settle};
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use ndarray::array;
    ///
    /// // five unit steps each from two points; the origin, a fixed point of ±1, stops after one
    /// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
    /// let s = settle(&den, array![[0.3], [-2.0], [0.0]].view(), 0.7, &SettleConfig::unit_step(1e-30, 5));
    /// assert_eq!(s.evaluations, [5, 5, 1]);
    /// assert_eq!(s.rows(), 11);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn rows(&self) -> usize {
        self.evaluations.iter().sum()
    }
}

/// Carries every row of `start` toward the attractor it sits in, by `config.method`.
///
/// ```
/// use memscape::analysis::landscape::settle::{SettleConfig, SettleStatus, settle};
/// use memscape::denoiser::EmpiricalDenoiser;
/// use memscape::units::Beta;
/// use ndarray::array;
///
/// // ±1 at beta = 2: the minima sit at ±0.957504 (theory.md §5); x ← D(x) is CCCP here
/// let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view())?;
/// let config = SettleConfig::unit_step(1e-13, 10_000);
/// let s = settle(&den, array![[0.3], [-2.0]].view(), Beta(2.0).sigma(), &config);
/// assert!(s.status.iter().all(|&c| c == SettleStatus::Converged));
/// assert!((s.points[[0, 0]] - 0.957504).abs() < 1e-6 && (s.points[[1, 0]] + 0.957504).abs() < 1e-6);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn settle(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
) -> Settled {
    match config.method {
        SettleMethod::UnitStep => unit_steps(denoiser, start, sigma, config),
        SettleMethod::Flow => flow(denoiser, start, sigma, config),
    }
}

fn unit_steps(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
) -> Settled {
    let n = start.nrows();
    let mut points = start.to_owned();
    let mut status = vec![SettleStatus::Unconverged; n];
    let mut residuals = vec![f64::INFINITY; n];
    let mut evaluations = vec![0; n];
    // the last three step lengths of each point, oldest first
    let mut last = vec![[f64::INFINITY; 3]; n];
    let mut iterations = 0;
    let active = |status: &[SettleStatus]| -> Vec<usize> {
        (0..n)
            .filter(|&i| status[i] == SettleStatus::Unconverged)
            .collect()
    };
    while iterations < config.max_iterations {
        crate::progress::check_interrupt();
        let rows = active(&status);
        if rows.is_empty() {
            break;
        }
        let x = points.select(Axis(0), &rows);
        let next = denoiser.denoise(x.view(), sigma);
        for (row, &i) in rows.iter().enumerate() {
            evaluations[i] += 1;
            let step = (&next.row(row) - &x.row(row)).mapv(|v| v * v).sum().sqrt();
            residuals[i] = step;
            points.row_mut(i).assign(&next.row(row));
            // neutral: three successive step ratios within the margin of 1
            let [a, b, c] = last[i];
            let neutral = config.margin > 0.0
                && step <= NEUTRAL_DRIFT * sigma
                && [b / a, c / b, step / c]
                    .iter()
                    .all(|rho| (rho - 1.0).abs() <= config.margin);
            status[i] = if !step.is_finite() {
                SettleStatus::NonFinite
            } else if step < config.tolerance {
                SettleStatus::Converged
            } else if neutral {
                SettleStatus::Neutral
            } else {
                SettleStatus::Unconverged
            };
            last[i] = [b, c, step];
        }
        iterations += 1;
    }
    Settled {
        points,
        status,
        residuals,
        iterations,
        evaluations,
    }
}

/// The flow dx/ds = D(x) − x from every row, by pseudo-transient continuation (module docs).
/// Points run independently (in parallel), one denoiser row at a time, so the result does not
/// depend on the thread count or on how the rows are batched.
///
/// ```
/// use memscape::analysis::landscape::settle::{SettleConfig, flow};
/// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
/// use ndarray::array;
///
/// // three patterns at sigma = 0.2: a start near each flows into it
/// let den = EmpiricalDenoiser::<f64>::new(array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]].view())?;
/// let s = flow(&den, array![[0.3, 0.1], [1.7, 0.2]].view(), 0.2, &SettleConfig::flow(1.0, Arithmetic::F64));
/// assert!(s.points[[0, 0]].abs() < 1e-3 && (s.points[[1, 0]] - 2.0).abs() < 1e-3);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn flow(
    denoiser: &(impl Denoiser + ?Sized),
    start: ArrayView2<f64>,
    sigma: f64,
    config: &SettleConfig,
) -> Settled {
    let runs: Vec<(Array1<f64>, SettleStatus, f64, usize, Cost)> = (0..start.nrows())
        .into_par_iter()
        .map(|i| {
            let probe = Probe::new(denoiser, sigma, config.fd_step);
            let (x, status, residual, steps) = flow_one(&probe, start.row(i), config);
            (x, status, residual, steps, probe.cost())
        })
        .collect();
    let mut points = start.to_owned();
    let (mut status, mut residuals, mut evaluations) = (vec![], vec![], vec![]);
    let mut iterations = 0;
    for (i, (x, s, r, steps, cost)) in runs.into_iter().enumerate() {
        points.row_mut(i).assign(&x);
        status.push(s);
        residuals.push(r);
        evaluations.push(cost.rows);
        iterations = iterations.max(steps);
    }
    Settled {
        points,
        status,
        residuals,
        iterations,
        evaluations,
    }
}

/// The solution δ of (shift · I − J) δ = f at x (with D(x) = `dx`), by GMRES to a relative
/// residual of 0.1 on forward-difference products: the linearly implicit Euler step of the
/// flow for shift = 1/Δs + 1, Newton's step for shift = 1.
fn implicit_step<D: Denoiser + ?Sized>(
    probe: &Probe<D>,
    x: &Array1<f64>,
    dx: &Array1<f64>,
    f: &Array1<f64>,
    shift: f64,
    krylov: usize,
) -> Array1<f64> {
    gmres(
        |v| &v * shift - &probe.jvp_forward(x.view(), dx.view(), v),
        f.view(),
        0.1,
        krylov,
    )
    .x
}

/// One point's flow: its end, status, residual and steps.
fn flow_one<D: Denoiser + ?Sized>(
    probe: &Probe<D>,
    start: ArrayView1<f64>,
    config: &SettleConfig,
) -> (Array1<f64>, SettleStatus, f64, usize) {
    let norm = |v: &Array1<f64>| v.dot(v).sqrt();
    let krylov = FLOW_KRYLOV.min(start.len());
    let mut x = start.to_owned();
    let mut dx = probe.apply(x.view());
    let mut f = &dx - &x;
    let mut r = norm(&f);
    let mut dt = FLOW_FIRST_STEP;
    // residuals of the last accepted steps, oldest first
    let mut history: Vec<f64> = vec![];
    let mut steps = 0;
    let capped = |mut step: Array1<f64>| {
        let len = step.dot(&step).sqrt();
        if len > config.max_step {
            step *= config.max_step / len;
        }
        step
    };
    while steps < config.max_iterations {
        if !r.is_finite() {
            return (x, SettleStatus::NonFinite, f64::NAN, steps);
        }
        if r <= config.tolerance {
            return (x, SettleStatus::Converged, r, steps);
        }
        steps += 1;
        if config.margin > 0.0
            && r <= NEUTRAL_DRIFT * probe.sigma
            && history.len() >= 3
            && r > 0.5 * history[history.len() - 3]
        {
            // stagnation of a slow point: is the rest of the residual along neutral directions?
            history.clear();
            let newton = implicit_step(probe, &x, &dx, &f, 1.0, krylov);
            if norm(&newton) * config.margin >= r {
                return (x, SettleStatus::Neutral, r, steps);
            }
        }
        let step = implicit_step(probe, &x, &dx, &f, 1.0 / dt + 1.0, krylov);
        let trial = &x + &capped(step);
        let d_trial = probe.apply(trial.view());
        let f_trial = &d_trial - &trial;
        let r_trial = norm(&f_trial);
        if !(r_trial.is_finite() && r_trial <= 2.0 * r) {
            dt *= 0.25;
            if dt < 1e-8 {
                return (x, SettleStatus::Unconverged, r, steps);
            }
            continue;
        }
        // switched evolution relaxation
        dt = (dt * r / r_trial).min(1e12);
        history.push(r_trial);
        (x, dx, f, r) = (trial, d_trial, f_trial, r_trial);
    }
    let status = if r <= config.tolerance {
        SettleStatus::Converged
    } else {
        SettleStatus::Unconverged
    };
    (x, status, r, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::samples::distance::group;
    use crate::denoiser::EmpiricalDenoiser;
    use crate::units::Beta;
    use ndarray::array;

    #[test]
    fn two_points_settle_on_the_pitchfork_branch() {
        // ±1 at beta = 2: minima at ±0.957504 (theory.md §5); the origin below beta_c = 1.
        let den = EmpiricalDenoiser::<f64>::new(array![[1.0], [-1.0]].view()).unwrap();
        let cfg = SettleConfig::unit_step(1e-13, 10_000);
        let s = settle(&den, array![[0.3], [-2.0]].view(), Beta(2.0).sigma(), &cfg);
        assert!(s.status.iter().all(|&c| c == SettleStatus::Converged));
        assert!((s.points[[0, 0]] - 0.957504).abs() < 1e-6);
        assert!((s.points[[1, 0]] + 0.957504).abs() < 1e-6);
        let merged = settle(&den, array![[0.7]].view(), Beta(0.5).sigma(), &cfg);
        assert!(merged.points[[0, 0]].abs() < 1e-9);
        let (groups, count) = group(s.points.view(), 1e-6).unwrap();
        assert_eq!((groups, count), (vec![0, 1], 2));
    }

    #[test]
    fn points_that_never_settle_are_reported_not_dropped() {
        // D(x) = −x: the origin is fixed, every other point flips sign for ever
        let flip = |x: ArrayView2<f64>, _sigma: f64| x.mapv(|v| -v);
        let cfg = SettleConfig::unit_step(1e-9, 7);
        let s = settle(&flip, array![[0.0, 0.0], [1.0, -2.0]].view(), 0.1, &cfg);
        assert_eq!(
            s.status,
            vec![SettleStatus::Converged, SettleStatus::Unconverged]
        );
        assert_eq!(s.iterations, 7);
        // the last iterate, after an odd number of flips
        assert_eq!(s.points.row(1).to_vec(), vec![-1.0, 2.0]);
    }
}
