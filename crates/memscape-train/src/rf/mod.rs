//! The random-features score model of Bonnaire et al. 2025 (MT §3, SM C–D; bonnaire.md §2.3),
//! whose training dynamics are solved exactly: an oracle for the timescales that `dynamics`
//! measures on networks.
//!
//! ```text
//! s_A(x) = (A/√p) tanh(Wx/√d),  W ∈ R^{p×d} Gaussian and frozen, A ∈ R^{d×p} from A = 0
//! x ~ N(0, I_d),  x_t = e^{−t} x + √Δ_t ξ,  Δ_t = 1 − e^{−2t},  p = ψ_p d,  n = ψ_n d
//! L_train(A) = (1/(d n m)) Σ_ν Σ_j ‖√Δ_t s_A(x^ν_t,j) + ξ^ν_j‖²        (MT Eq. 4)
//! U = (1/nm) Σ σσᵀ,  V = (1/nm) Σ σ ξᵀ,  σ = tanh(W x_t/√d)
//! ∇L = (2Δ_t/(dp)) A U + (2√Δ_t/(d√p)) Vᵀ,   gradient descent A ← A − η ∇L,  τ = k η / d²
//! A(τ)/√p = (1/√Δ_t) Vᵀ U⁻¹ (e^{−(2Δ_t/ψ_p) U τ} − I)                    (Prop. C.1)
//! ```
//!
//! The loss is the paper's, with E_ξ over the noise: exact for the constant, E‖ξ‖²/d = 1;
//! for V by Stein's lemma, E_ξ[σ(h) ξᵀ] = (√Δ_t/√d) diag(E_ξ σ'(h)) W, whose one scalar per
//! feature, κ_i = (1/n) Σ_ν E_ξ σ'(h_νi), is averaged over m draws per training point
//! (`noise_draws`); for U over the same m draws. V then lies in the span of diag(κ) W, as the
//! exact V does, and the draws' fluctuations, which spread the theory's δ peak at s_t² into a
//! Marchenko–Pastur bulk of ratio p/(nm) (the default m makes nm ≥ 32p), carry no linear term
//! that would let A fit the particular draws. The loss is one quadratic in A: gradient descent
//! has a closed form, Prop. C.1 with (1 − h_i)^k, h_i = 2Δ_t λ_i dτ/ψ_p, in place of the
//! exponential of each eigenmode λ_i of U.
//!
//! Along training, at log-spaced steps: the train loss (the loss above, computed from U and V),
//! the test
//! loss on fresh (x, ξ) pairs and the score error E_score = (1/d) E‖s_A(y) + y/Γ_t²‖² on the same
//! fresh y = x_t ~ N(0, Γ_t² I) (MT §3; the test loss exceeds the Bayes loss 1 − Δ_t/Γ_t² by
//! Δ_t E_score in expectation). The timescales read off them:
//! - τ_gen: the plateau onset of E_score (the test loss above its Bayes floor), the first
//!   checkpoint with E ≤ (1 + x) min E ([`memscape::analysis::samples::dynamics::plateau_onset`]);
//! - τ_mem: where the test loss departs from the train loss, the first time (interpolated in
//!   ln τ) the gap L_test − L_train reaches half its limit at τ → ∞ (where A is the least-squares
//!   fit of the training draws);
//!
//! each from the seed-averaged curves with a bootstrap interval over the seeds (fresh W, data
//! and draws), and the fit τ_mem = a ψ_n^q.

pub mod theory;
mod problem;

use faer::Mat;
use memscape::analysis::samples::classify::percentile_interval;
use memscape::analysis::samples::dynamics::{
    Onset, first_crossing, plateau_onset, power_law, seed_mean, time_over_seeds,
};
use memscape::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub use problem::{Modes, RfProblem};
pub use theory::RfTheory;

use crate::train::checkpoint_steps;

/// nm ≥ `NOISE_RATIO` p training draws by default. The draws' fluctuations spread the δ peak
/// over s_t² (1 ± √(p/nm))², here [0.68, 1.38] s_t², and its low end adds modes slower than
/// ρ₁ that fit the draws: measured at d = 40, ψ_p = 32, ψ_n = 2 (τ_mem predicted 1.28e3),
/// τ_mem was 3.5e4, 2.4e3, 1.6e3, 1.40e3 and 1.29e3 at nm = 2p, 8p, 16p, 32p and 64p.
pub const NOISE_RATIO: usize = 32;
/// τ_mem is where the test–train gap first reaches this share of its limit at τ → ∞.
pub const GAP_SHARE: f64 = 0.5;
/// The spectrum check widens each interval [a, b] of the theory to [a/(1 + SPILL), b(1 + SPILL)]
/// (finite d: the edges of Marchenko–Pastur bulks fluctuate on the scale d^(−2/3)).
pub const SPILL: f64 = 0.2;
/// Rows of the noised training draws whose features are formed and folded into U and V at once.
const CHUNK: usize = 2048;
/// The most features p: U, its eigenvectors and the eigen-solver's workspace take about
/// 3 · 8 p² bytes (9.6 GB here).
pub const MAX_FEATURES: usize = 20_000;
/// Eigenvalues of U below this share of the largest are treated as zero in the τ → ∞ limit.
const PSEUDO_INVERSE_CUT: f64 = 1e-12;

/// How the gradient-descent iterates are computed: both give the same iterates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RfSolver {
    /// In U's eigenbasis, where the k-th iterate is closed-form: O(dp) per checkpoint after
    /// one eigen-decomposition, whatever the number of steps.
    Modes,
    /// Step by step with the full gradient (2Δ_t/(dp)) A U + (2√Δ_t/(d√p)) Vᵀ: O(dp²) per step.
    Gradient,
}

/// A random-features study: one model per ψ_n and seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RfRequest {
    /// Data dimension d.
    pub d: usize,
    /// Features per dimension: p = round(ψ_p d).
    pub psi_p: f64,
    /// Training points per dimension: n = round(ψ_n d), one model per value.
    pub psi_n: Vec<f64>,
    /// Diffusion time (variance-preserving: x_t = e^{−t}x + √Δ_t ξ).
    pub t: f64,
    /// Gradient-descent steps.
    pub steps: usize,
    /// Seeds `seed, seed + 1, …`: each draws W, the data, the noise and the test set afresh.
    pub seeds: usize,
    pub seed: u64,
    /// Noise draws m per training point (None: the least m with nm ≥ 32p, [`NOISE_RATIO`]).
    pub noise_draws: Option<usize>,
    /// The step dτ as a share of the stability limit ψ_p/(Δ_t λ₊), λ₊ the theory's bound on
    /// λ_max(U) (the upper edge of the ρ₂ envelope at the smallest ψ_n): 0.5 makes the fastest
    /// mode contract by 1 − h ≥ 0 per step, every mode monotonically. One dτ for the whole
    /// study, so that every model is measured at the same τ.
    pub step_fraction: f64,
    /// Log-spaced steps at which the losses are measured.
    pub checkpoints: usize,
    /// Fresh (x, ξ) pairs for the test loss and E_score.
    pub test_points: usize,
    pub solver: RfSolver,
    /// τ_gen is the first checkpoint with E_score ≤ (1 + gen_level) min E_score.
    pub gen_level: f64,
    /// Bootstrap resamples of the seeds.
    pub resamples: usize,
}

impl RfSolver {
    /// The solver's name, as `--solver` and `rf.json` spell it.
    pub fn name(self) -> &'static str {
        match self {
            RfSolver::Modes => "modes",
            RfSolver::Gradient => "gradient",
        }
    }
}

impl Default for RfRequest {
    /// Bonnaire et al.'s MT Fig. 5 setting: d = 100, ψ_p = 64, ψ_n ∈ {4, 8, 16, 32}, t = 0.1.
    fn default() -> Self {
        RfRequest {
            d: 100,
            psi_p: 64.0,
            psi_n: vec![4.0, 8.0, 16.0, 32.0],
            t: 0.1,
            steps: 100_000,
            seeds: 3,
            seed: 0,
            noise_draws: None,
            step_fraction: 0.5,
            checkpoints: 60,
            test_points: 4000,
            solver: RfSolver::Modes,
            gen_level: 0.1,
            resamples: 200,
        }
    }
}

impl RfRequest {
    /// p = round(ψ_p d).
    pub fn p(&self) -> usize {
        (self.psi_p * self.d as f64).round() as usize
    }

    /// n = round(ψ_n d).
    pub fn n(&self, psi_n: f64) -> usize {
        (psi_n * self.d as f64).round() as usize
    }

    /// The study's step dτ = step_fraction · ψ_p/(Δ_t λ₊).
    pub fn dtau(&self) -> f64 {
        let th = RfTheory::at(self.t);
        let top = self
            .psi_n
            .iter()
            .map(|&psi_n| th.rho2_envelope(self.psi_p, psi_n)[1])
            .fold(f64::MIN_POSITIVE, f64::max);
        self.step_fraction * self.psi_p / (th.delta * top)
    }

    /// The noise draws per training point at n points.
    pub fn draws(&self, n: usize) -> usize {
        self.noise_draws
            .unwrap_or_else(|| (NOISE_RATIO * self.p()).div_ceil(n.max(1)))
    }

    /// Checks the request; returns the warnings (a ψ_n outside Regime I, where the theory's
    /// bulks are not separated, still runs).
    pub fn validate(&self) -> Result<Vec<String>> {
        if self.d < 2 {
            return Err(Error::invalid("d", "≥ 2", self.d));
        }
        if !(self.psi_p.is_finite() && self.psi_p > 0.0) {
            return Err(Error::invalid("psi_p", "> 0", self.psi_p));
        }
        if self.p() < 1 {
            return Err(Error::invalid(
                "psi_p",
                "≥ 1/d (at least one feature)",
                self.psi_p,
            ));
        }
        if self.p() > MAX_FEATURES {
            return Err(Error::invalid(
                "psi_p",
                format!(
                    "such that p = psi_p·d ≤ {MAX_FEATURES} (U is p×p; p = {} here)",
                    self.p()
                ),
                self.psi_p,
            ));
        }
        if self.psi_n.is_empty() {
            return Err(Error::invalid("psi_n", "at least one value", "none"));
        }
        for (i, &psi_n) in self.psi_n.iter().enumerate() {
            if !(psi_n.is_finite() && psi_n > 0.0) {
                return Err(Error::invalid("psi_n", "> 0", psi_n));
            }
            if self.psi_n[..i].contains(&psi_n) {
                return Err(Error::invalid("psi_n", "values without repeats", psi_n));
            }
            if self.n(psi_n) < 2 {
                return Err(Error::invalid(
                    "psi_n",
                    "≥ 2/d (at least two points)",
                    psi_n,
                ));
            }
        }
        if !(self.t.is_finite() && self.t > 0.0) {
            return Err(Error::invalid("t", "> 0", self.t));
        }
        if self.steps < 1 {
            return Err(Error::invalid("steps", "≥ 1", self.steps));
        }
        if self.seeds < 1 {
            return Err(Error::invalid("seeds", "≥ 1", self.seeds));
        }
        if self.noise_draws == Some(0) {
            return Err(Error::invalid("noise_draws", "≥ 1", 0));
        }
        if !(self.step_fraction > 0.0 && self.step_fraction < 1.0) {
            return Err(Error::invalid(
                "step_fraction",
                "in (0, 1) (a share of the stability limit)",
                self.step_fraction,
            ));
        }
        if self.checkpoints < 2 {
            return Err(Error::invalid("checkpoints", "≥ 2", self.checkpoints));
        }
        if self.test_points < 2 {
            return Err(Error::invalid("test_points", "≥ 2", self.test_points));
        }
        if !(self.gen_level > 0.0 && self.gen_level < 1.0) {
            return Err(Error::invalid("gen_level", "in (0, 1)", self.gen_level));
        }
        if self.resamples < 1 {
            return Err(Error::invalid("resamples", "≥ 1", self.resamples));
        }
        let mut warnings: Vec<String> = self
            .psi_n
            .iter()
            .filter(|&&psi_n| psi_n >= self.psi_p)
            .map(|psi_n| {
                format!(
                    "psi_n = {psi_n} ≥ psi_p = {}: outside the theory's Regime I (ψ_p > ψ_n), whose bulk edges and timescales are then not predictions",
                    self.psi_p
                )
            })
            .collect();
        for &psi_n in &self.psi_n {
            let n = self.n(psi_n);
            if n * self.draws(n) < self.p() {
                warnings.push(format!(
                    "psi_n = {psi_n}: n·m = {} noise draws is below p = {}: U is singular, its null modes grow without bound under gradient descent and tau_mem loses its meaning (more --noise-draws)",
                    n * self.draws(n),
                    self.p()
                ));
            }
        }
        Ok(warnings)
    }
}

/// The theory's three parts of U's spectrum and how many empirical eigenvalues fall in each.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SpectrumCheck {
    /// The draws' spread of the δ peak at s_t²: s_t² (1 ± √(p/nm))² (Marchenko–Pastur).
    pub peak: [f64; 2],
    /// The bulk ρ₁, s_t² + v_t² (1 ± √(ψ_p/ψ_n))², with s_t² spread as the δ peak is (Weyl's
    /// inequality for the sum of the two parts).
    pub rho1: [f64; 2],
    /// The envelope of the bulk ρ₂ at finite ψ_n ([`RfTheory::rho2_envelope`]).
    pub rho2: [f64; 2],
    /// The eigenvalues in each interval widened to [a/(1 + SPILL), b(1 + SPILL)] (one counted
    /// in the first that holds it).
    pub counts: [usize; 3],
    /// The theory's counts: p − n − d, n and d (Theorem 3.2, Regime I).
    pub expected: [usize; 3],
    /// The share of the eigenvalues in none of the widened intervals.
    pub outside: f64,
}

/// One model of the study, measured along training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RfRun {
    pub psi_n: f64,
    pub seed: u64,
    pub n: usize,
    pub p: usize,
    pub noise_draws: usize,
    /// τ per step.
    pub dtau: f64,
    pub steps: Vec<usize>,
    pub tau: Vec<f64>,
    pub train_loss: Vec<f64>,
    pub test_loss: Vec<f64>,
    pub score_error: Vec<f64>,
    /// L_test − L_train at τ → ∞.
    pub gap_limit: f64,
    pub spectrum: SpectrumCheck,
    /// U's eigenvalues, ascending.
    #[serde(skip)]
    pub eigenvalues: Vec<f64>,
}

/// Measured and predicted timescales at one ψ_n.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RfTimescales {
    pub psi_n: f64,
    pub rho1: [f64; 2],
    pub rho2: [f64; 2],
    pub predicted_tau_gen: f64,
    pub predicted_tau_mem: f64,
    pub tau_gen: Option<f64>,
    pub tau_gen_ci: [Option<f64>; 2],
    pub tau_mem: Option<f64>,
    pub tau_mem_ci: [Option<f64>; 2],
    /// The smallest seed-averaged score error along training, E_score* (MT Fig. 5: ∝ ψ_n^−0.59).
    pub score_min: f64,
}

/// τ_mem = a ψ_n^q with a bootstrap interval over the seeds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RfFit {
    pub a: f64,
    pub q: f64,
    pub ci: [f64; 2],
    /// Resamples in which every ψ_n reached τ_mem.
    pub resamples: usize,
    /// The exponent of the predicted τ_mem over the same ψ_n: 1 only where ψ_p ≫ ψ_n (the
    /// lower edge of ρ₁ tends to s_t² as ψ_n approaches ψ_p).
    pub predicted_q: f64,
}

/// A finished study.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RfStudy {
    pub request: RfRequest,
    pub theory: RfTheory,
    pub runs: Vec<RfRun>,
    pub timescales: Vec<RfTimescales>,
    pub fit: Option<RfFit>,
    /// The exponent of E_score* against ψ_n (MT Fig. 5: −0.59); None with one ψ_n.
    pub score_exponent: Option<f64>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

impl RfRun {
    /// Trains one model and measures it; an error when the study's dτ is past this draw's
    /// stability limit (a smaller `step_fraction`).
    pub fn measure(request: &RfRequest, psi_n: f64, seed: u64) -> Result<RfRun> {
        let problem = RfProblem::new(request, psi_n, seed);
        let modes = problem.modes();
        let (dtau, limit) = (request.dtau(), problem.stability_limit(&modes));
        if dtau >= limit {
            return Err(Error::invalid(
                "step_fraction",
                format!(
                    "small enough that dτ = {dtau:.4e} stays below the stability limit ψ_p/(Δ_t λ_max(U)) = {limit:.4e} of the draw at psi_n = {psi_n}, seed {seed}"
                ),
                request.step_fraction,
            ));
        }
        let steps = checkpoint_steps(request.steps, request.checkpoints);
        // the iterates in U's eigenbasis, Ã = A Q
        let iterates: Vec<Mat<f64>> = match request.solver {
            RfSolver::Modes => steps
                .iter()
                .map(|&k| problem.descent_in_modes(&modes, dtau, k))
                .collect(),
            RfSolver::Gradient => problem
                .gradient_descent(dtau, &steps)
                .iter()
                .map(|a| problem.rotate(&modes, a.as_ref()))
                .collect(),
        };
        let (mut train_loss, mut test_loss, mut score_error) = (vec![], vec![], vec![]);
        for a in &iterates {
            train_loss.push(problem.train_loss_in_modes(&modes, a.as_ref()));
            let (test, score) = problem.test_losses_in_modes(&modes, a.as_ref());
            test_loss.push(test);
            score_error.push(score);
        }
        let limit = problem.closed_form(&modes, f64::INFINITY);
        let gap_limit = problem.test_losses_in_modes(&modes, limit.as_ref()).0
            - problem.train_loss_in_modes(&modes, limit.as_ref());
        let spectrum = spectrum_check(&problem, &modes.values, request.psi_p, psi_n);
        Ok(RfRun {
            psi_n,
            seed,
            n: problem.n,
            p: problem.p,
            noise_draws: problem.draws,
            dtau,
            tau: steps.iter().map(|&k| k as f64 * dtau).collect(),
            steps,
            train_loss,
            test_loss,
            score_error,
            gap_limit,
            spectrum,
            eigenvalues: modes.values,
        })
    }

    /// L_test − L_train at every checkpoint.
    pub fn gap(&self) -> Vec<f64> {
        self.test_loss
            .iter()
            .zip(&self.train_loss)
            .map(|(t, r)| t - r)
            .collect()
    }
}

fn spectrum_check(problem: &RfProblem, values: &[f64], psi_p: f64, psi_n: f64) -> SpectrumCheck {
    let th = &problem.theory;
    let ratio = problem.p as f64 / (problem.n * problem.draws) as f64;
    let peak = [
        th.s2 * (1.0 - ratio.sqrt()).powi(2),
        th.s2 * (1.0 + ratio.sqrt()).powi(2),
    ];
    // the draws spread s_t² I over `peak`: by Weyl's inequality ρ₁'s edges move with it
    let edges = th.rho1(psi_p, psi_n);
    let rho1 = [edges[0] - th.s2 + peak[0], edges[1] - th.s2 + peak[1]];
    let rho2 = th.rho2_envelope(psi_p, psi_n);
    let (p, n, d) = (
        problem.p,
        problem.n.min(problem.p),
        problem.d.min(problem.p),
    );
    let mut counts = [0; 3];
    for &v in values {
        let part = [peak, rho1, rho2]
            .iter()
            .position(|&[lo, hi]| v >= lo / (1.0 + SPILL) && v <= hi * (1.0 + SPILL));
        if let Some(i) = part {
            counts[i] += 1;
        }
    }
    SpectrumCheck {
        peak,
        rho1,
        rho2,
        counts,
        expected: [p.saturating_sub(n + d), n, d],
        outside: (p - counts.iter().sum::<usize>()) as f64 / p as f64,
    }
}

/// The runs at one ψ_n, in seed order.
pub fn runs_at(runs: &[RfRun], psi_n: f64) -> Vec<&RfRun> {
    runs.iter().filter(|r| r.psi_n == psi_n).collect()
}

/// τ_gen of seed-averaged curves: the plateau onset of E_score.
fn tau_gen_of(runs: &[&RfRun], seeds: &[usize], level: f64) -> Option<f64> {
    let curves: Vec<Vec<f64>> = runs.iter().map(|r| r.score_error.clone()).collect();
    plateau_onset(&runs[0].tau, &seed_mean(&curves, seeds), 0.0, level)
}

/// τ_mem of seed-averaged curves: the first time the gap reaches GAP_SHARE of its limit.
fn tau_mem_of(runs: &[&RfRun], seeds: &[usize]) -> Option<f64> {
    let gaps: Vec<Vec<f64>> = runs.iter().map(|r| r.gap()).collect();
    let limit = seeds.iter().map(|&s| runs[s].gap_limit).sum::<f64>() / seeds.len() as f64;
    first_crossing(&runs[0].tau, &seed_mean(&gaps, seeds), GAP_SHARE * limit)
}

/// Runs the study: every ψ_n and seed, then the timescales with their intervals and the fit.
pub fn rf_study(request: RfRequest) -> Result<RfStudy> {
    let clock = std::time::Instant::now();
    let warnings = request.validate()?;
    let progress = memscape::progress::Task::start(
        "rf (psi_n × seed)",
        (request.psi_n.len() * request.seeds) as u64,
    );
    let mut runs = vec![];
    for &psi_n in &request.psi_n {
        for s in 0..request.seeds as u64 {
            runs.push(RfRun::measure(&request, psi_n, request.seed + s)?);
            progress.advance(1);
        }
    }
    drop(progress);
    let theory = RfTheory::at(request.t);
    let by_psi: Vec<Vec<&RfRun>> = request
        .psi_n
        .iter()
        .map(|&psi| runs_at(&runs, psi))
        .collect();
    let boot_seed = request.seed ^ 0xF17;
    let timescales: Vec<RfTimescales> = request
        .psi_n
        .iter()
        .zip(&by_psi)
        .map(|(&psi_n, group)| {
            let gen_: Onset = time_over_seeds(group.len(), request.resamples, boot_seed, |s| {
                tau_gen_of(group, s, request.gen_level)
            });
            let mem = time_over_seeds(group.len(), request.resamples, boot_seed, |s| {
                tau_mem_of(group, s)
            });
            let all: Vec<usize> = (0..group.len()).collect();
            let curves: Vec<Vec<f64>> = group.iter().map(|r| r.score_error.clone()).collect();
            let score_min = seed_mean(&curves, &all)
                .into_iter()
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min);
            RfTimescales {
                psi_n,
                score_min,
                rho1: theory.rho1(request.psi_p, psi_n),
                rho2: theory.rho2(request.psi_p),
                predicted_tau_gen: theory.tau_gen(request.psi_p),
                predicted_tau_mem: theory.tau_mem(request.psi_p, psi_n),
                tau_gen: gen_.step,
                tau_gen_ci: gen_.ci,
                tau_mem: mem.step,
                tau_mem_ci: mem.ci,
            }
        })
        .collect();
    let fit = fit_tau_mem(&request, &by_psi, boot_seed);
    let mins: Vec<f64> = timescales.iter().map(|t| t.score_min).collect();
    let score_exponent = power_law(&request.psi_n, &mins).map(|f| f.1);
    Ok(RfStudy {
        score_exponent,
        theory,
        runs,
        timescales,
        fit,
        warnings,
        seconds: clock.elapsed().as_secs_f64(),
        request,
    })
}

/// τ_mem = a ψ_n^q over every ψ_n, with the interval of q from the seed resamples (the same
/// seed draws for every ψ_n, paired) in which every ψ_n reached τ_mem.
fn fit_tau_mem(request: &RfRequest, by_psi: &[Vec<&RfRun>], seed: u64) -> Option<RfFit> {
    let fit = |seeds: &[usize]| -> Option<(f64, f64)> {
        let taus: Option<Vec<f64>> = by_psi.iter().map(|g| tau_mem_of(g, seeds)).collect();
        power_law(&request.psi_n, &taus?)
    };
    let all: Vec<usize> = (0..request.seeds).collect();
    let (a, q) = fit(&all)?;
    let boot: Vec<f64> = memscape::analysis::samples::classify::bootstrap_indices(
        request.seeds,
        request.resamples,
        seed,
    )
    .filter_map(|idx| fit(&idx).map(|f| f.1))
    .collect();
    let theory = RfTheory::at(request.t);
    let predicted: Vec<f64> = request
        .psi_n
        .iter()
        .map(|&psi_n| theory.tau_mem(request.psi_p, psi_n))
        .collect();
    Some(RfFit {
        a,
        q,
        predicted_q: power_law(&request.psi_n, &predicted)?.1,
        resamples: boot.len(),
        ci: percentile_interval(boot),
    })
}

impl RfStudy {
    /// Writes `rf.json` (the study, every curve included), `rf.csv` (one row per model and
    /// checkpoint) and `spectrum.csv` (U's eigenvalues of each ψ_n's first seed), each
    /// atomically; returns their names.
    pub fn write(&self, dir: &memscape::store::RunDir) -> Result<Vec<String>> {
        dir.write_json("rf.json", self)?;
        let io = |e: csv::Error| Error::file(dir.path(), e.to_string());
        let mut rows = csv::Writer::from_writer(vec![]);
        rows.write_record([
            "psi_n",
            "seed",
            "step",
            "tau",
            "train_loss",
            "test_loss",
            "score_error",
            "gap",
        ])
        .map_err(io)?;
        for r in &self.runs {
            let gap = r.gap();
            for (i, gap) in gap.iter().enumerate() {
                rows.serialize((
                    r.psi_n,
                    r.seed,
                    r.steps[i],
                    r.tau[i],
                    r.train_loss[i],
                    r.test_loss[i],
                    r.score_error[i],
                    gap,
                ))
                .map_err(io)?;
            }
        }
        let mut spectrum = csv::Writer::from_writer(vec![]);
        spectrum
            .write_record(["psi_n", "seed", "rank", "eigenvalue"])
            .map_err(io)?;
        for &psi_n in &self.request.psi_n {
            if let Some(r) = runs_at(&self.runs, psi_n).first() {
                for (rank, v) in r.eigenvalues.iter().enumerate() {
                    spectrum.serialize((psi_n, r.seed, rank, v)).map_err(io)?;
                }
            }
        }
        for (name, w) in [("rf.csv", rows), ("spectrum.csv", spectrum)] {
            let bytes = w
                .into_inner()
                .map_err(|e| Error::file(dir.path(), e.to_string()))?;
            dir.write_bytes(name, &bytes)?;
        }
        Ok(vec![
            "rf.json".into(),
            "rf.csv".into(),
            "spectrum.csv".into(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::problem::inner;
    use super::*;
    use faer::MatRef;
    use memscape::rng::{normal, stream};

    fn small(solver: RfSolver) -> RfRequest {
        RfRequest {
            d: 20,
            psi_p: 8.0,
            psi_n: vec![2.0],
            t: 0.1,
            steps: 400,
            seeds: 1,
            noise_draws: Some(8),
            step_fraction: 0.05,
            checkpoints: 8,
            test_points: 200,
            solver,
            ..RfRequest::default()
        }
    }

    fn frobenius(a: MatRef<f64>) -> f64 {
        inner(a, a).sqrt()
    }

    /// Gradient descent step by step equals (a) its closed form in U's eigenbasis to round-off
    /// and (b) Prop. C.1's flow with the empirical U and V within the discretisation bound:
    /// per mode |(1 − h)^k − e^{−hk}| ≤ (h/2e)(1 + h) for h ≤ 1 (maximum over k at k ≈ 1/h), so
    /// ‖A_GD(k) − A_C.1(k dτ)‖_F ≤ (h_max/2e)(1 + h_max) ‖A(∞)‖_F.
    #[test]
    fn gradient_descent_equals_the_closed_form() {
        let request = small(RfSolver::Gradient);
        let problem = RfProblem::new(&request, 2.0, 0);
        assert_eq!(
            (problem.d, problem.p, problem.n, problem.draws),
            (20, 160, 40, 8)
        );
        let modes = problem.modes();
        let dtau = request.step_fraction * problem.stability_limit(&modes);
        let h_max = 2.0 * request.step_fraction;
        let steps = [1, 10, 100, 400];
        let gd = problem.gradient_descent(dtau, &steps);
        // Q is orthogonal: norms and differences are the same in the eigenbasis
        let limit = frobenius(problem.closed_form(&modes, f64::INFINITY).as_ref());
        let bound = h_max / (2.0 * std::f64::consts::E) * (1.0 + h_max) * limit;
        for (a, &k) in gd.iter().zip(&steps) {
            let exact =
                problem.unrotate(&modes, problem.descent_in_modes(&modes, dtau, k).as_ref());
            let flow = problem.unrotate(
                &modes,
                problem.closed_form(&modes, k as f64 * dtau).as_ref(),
            );
            let scale = frobenius(a.as_ref());
            let e_exact = frobenius((a - &exact).as_ref());
            let e_flow = frobenius((a - &flow).as_ref());
            assert!(
                e_exact <= 1e-10 * scale,
                "k = {k}: {e_exact} vs |A| {scale}"
            );
            assert!(e_flow <= bound, "k = {k}: {e_flow} above {bound}");
            // the losses agree, and their fast paths in the eigenbasis equal the definitions
            let rotated = problem.rotate(&modes, a.as_ref());
            let train = problem.train_loss(a.as_ref());
            for (x, y) in [
                (train, problem.train_loss(exact.as_ref())),
                (train, problem.train_loss_in_modes(&modes, rotated.as_ref())),
                (
                    problem.test_losses(a.as_ref()).0,
                    problem.test_losses_in_modes(&modes, rotated.as_ref()).0,
                ),
                (
                    problem.test_losses(a.as_ref()).1,
                    problem.test_losses_in_modes(&modes, rotated.as_ref()).1,
                ),
            ] {
                assert!((x - y).abs() < 1e-11 * (1.0 + x.abs()), "{x} vs {y}");
            }
        }
        // the train loss falls monotonically to that of the least-squares fit
        let losses: Vec<f64> = gd.iter().map(|a| problem.train_loss(a.as_ref())).collect();
        assert!(
            losses.windows(2).all(|w| w[1] <= w[0] + 1e-15),
            "{losses:?}"
        );
        let fit = problem.unrotate(&modes, problem.closed_form(&modes, f64::INFINITY).as_ref());
        let floor = problem.train_loss(fit.as_ref());
        assert!(floor <= losses[3]);
        // the gradient vanishes there
        let g = problem.gradient(fit.as_ref());
        assert!(frobenius(g.as_ref()) < 1e-9, "{}", frobenius(g.as_ref()));
    }

    /// The train loss's gradient equals central differences of the loss (it tests the loss and
    /// the gradient against each other, independently of the closed form).
    #[test]
    fn the_gradient_is_the_loss_derivative() {
        let request = small(RfSolver::Gradient);
        let problem = RfProblem::new(&request, 2.0, 1);
        let mut rng = stream(5, 0);
        let a = Mat::<f64>::from_fn(problem.d, problem.p, |_, _| 0.3 * normal(&mut rng));
        let g = problem.gradient(a.as_ref());
        for (i, j) in [(0, 0), (3, 17), (19, 159), (7, 80)] {
            let h = 1e-5;
            let mut plus = a.clone();
            plus[(i, j)] += h;
            let mut minus = a.clone();
            minus[(i, j)] -= h;
            let fd = (problem.train_loss(plus.as_ref()) - problem.train_loss(minus.as_ref()))
                / (2.0 * h);
            assert!(
                (fd - g[(i, j)]).abs() < 1e-8 * (1.0 + g[(i, j)].abs()),
                "{fd} vs {}",
                g[(i, j)]
            );
        }
        // at A = 0 the loss is E‖ξ‖²/d = 1
        let zero = Mat::<f64>::zeros(problem.d, problem.p);
        assert_eq!(problem.train_loss(zero.as_ref()), 1.0);
    }

    /// At d = 100 (ψ_p = 8, ψ_n = 2, nm = 32p) U's eigenvalues fall, by rank, into the theory's
    /// three parts (Theorem 3.2, Regime I: p − n − d at the draws' spread of the δ peak, n in ρ₁,
    /// d in the envelope of ρ₂), each widened by the factor 1 + SPILL = 1.2 on each side.
    #[test]
    fn the_spectrum_of_u_lies_in_the_theory_bulks() {
        let request = RfRequest {
            d: 100,
            psi_p: 8.0,
            psi_n: vec![2.0],
            test_points: 10,
            ..RfRequest::default()
        };
        let problem = RfProblem::new(&request, 2.0, 0);
        assert_eq!(problem.draws, 128);
        let modes = problem.modes();
        let check = spectrum_check(&problem, &modes.values, 8.0, 2.0);
        // at most 3% in none (the lowest of ρ₁'s n eigenvalues spill below its edge at this
        // finite ψ_n: 1.6% of p here, 2.3% at ψ_p = 16, ψ_n = 4); the d largest all in ρ₂
        assert!(check.outside <= 0.03, "{check:?}");
        assert_eq!(check.counts[2], check.expected[2], "{check:?}");
        let low = (check.counts[0] + check.counts[1]) as f64;
        let want = (check.expected[0] + check.expected[1]) as f64;
        assert!(low >= 0.97 * want, "{check:?}");
        assert!(
            check.counts[1] as f64 >= 0.7 * check.expected[1] as f64,
            "{check:?}"
        );
        // the bulks are apart: the top of ρ₁ lies below the bottom of ρ₂
        assert!(check.rho1[1] < check.rho2[0], "{check:?}");
    }

    /// The modes solver and the gradient solver measure the same run.
    #[test]
    fn both_solvers_measure_the_same_run() {
        let a = RfRun::measure(&small(RfSolver::Modes), 2.0, 3).unwrap();
        let b = RfRun::measure(&small(RfSolver::Gradient), 2.0, 3).unwrap();
        for (x, y) in a
            .test_loss
            .iter()
            .zip(&b.test_loss)
            .chain(a.train_loss.iter().zip(&b.train_loss))
        {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
    }
}
