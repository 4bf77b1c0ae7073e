//! Training dynamics: when memorization sets in, and how that time scales with K.
//!
//! ```text
//! tau_mem   the first checkpoint step where f_mem reaches a level θ, interpolated linearly in
//!           ln(step) from the checkpoint before (Bonnaire et al. 2025 read it off f_mem(τ) by
//!           eye; bonnaire.md §6 suggests the 1% and 10% crossings; memscape's default θ = 0.1)
//! tau_gen   the checkpoint of the smallest held-out denoising loss (the end of the
//!           generalization phase: later steps fit the training set at the held-out set's cost)
//! tau_gen   from a quality score s (MMD², a test loss): the first checkpoint whose seed-averaged
//!           score, above the held-out floor f, is within x of its minimum,
//!           (s − f)⁺ ≤ (1 + x)(min s − f)⁺, x = 0.1 by default (Bonnaire et al. 2025 define
//!           tau_gen as the time FID reaches its minimum plateau; bonnaire.md §6 gives the
//!           operational "within x% of its minimum")
//! fit       ln tau_mem = ln a + p ln K, least squares (bonnaire.md: p ≈ 1)
//! ```

use super::capacity::log_crossing;
use super::classify::{bootstrap_indices, censored_interval};

/// The first step where `f` reaches `level`, interpolated in log step; the first checkpoint
/// itself when `f` starts at or above `level`; `None` when it never does.
///
/// ```
/// use memscape::analysis::samples::dynamics::first_crossing;
///
/// // f_mem crosses 0.5 halfway (in log step) between steps 10 and 1000
/// let step = first_crossing(&[1.0, 10.0, 1000.0], &[0.0, 0.2, 0.8], 0.5).unwrap();
/// assert!((step - 100.0).abs() < 1e-9);
/// assert_eq!(first_crossing(&[1.0, 10.0], &[0.0, 0.1], 0.5), None);
/// ```
pub fn first_crossing(steps: &[f64], f: &[f64], level: f64) -> Option<f64> {
    let i = f.iter().position(|&v| v >= level)?;
    if i == 0 {
        return Some(steps[0]);
    }
    Some(log_crossing(steps, f, i - 1, level))
}

/// The first checkpoint of a quality curve on its minimum plateau: the first `steps[i]` whose
/// excess over the floor is within `1 + level` of the smallest excess,
/// (s_i − floor)⁺ ≤ (1 + level)(min s − floor)⁺, where (·)⁺ = max(·, 0). A curve that reaches
/// the floor (a minimum at or below it, as an unbiased MMD² can) is on its plateau from the first
/// checkpoint at or below the floor. Non-finite scores are skipped; `None` when none is finite.
///
/// ```
/// use memscape::analysis::samples::dynamics::plateau_onset;
///
/// // the excess over the floor 0.1 falls to its minimum 0.1 by step 100; within 10% of it from there
/// let steps = [1.0, 10.0, 100.0, 1000.0];
/// let scores = [2.1, 0.5, 0.205, 0.2];
/// assert_eq!(plateau_onset(&steps, &scores, 0.1, 0.1), Some(100.0));
/// ```
pub fn plateau_onset(steps: &[f64], scores: &[f64], floor: f64, level: f64) -> Option<f64> {
    let excess = |s: f64| (s - floor).max(0.0);
    let lowest = scores
        .iter()
        .filter(|s| s.is_finite())
        .map(|&s| excess(s))
        .fold(f64::INFINITY, f64::min);
    steps
        .iter()
        .zip(scores)
        .find(|&(_, &s)| s.is_finite() && excess(s) <= (1.0 + level) * lowest)
        .map(|(&t, _)| t)
}

/// A plateau onset of a seed-averaged curve with its bootstrap 95% interval over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Onset {
    pub step: Option<f64>,
    pub ci: [Option<f64>; 2],
}

/// A time read off seed-averaged curves, with its bootstrap 95% interval over the seeds:
/// `time(seeds)` reads it from the seeds listed (with repeats), once from all `n` seeds and once
/// from each of `resamples` draws of n seeds with replacement (stream b of `seed`). A resample
/// in which the time is not reached counts as beyond the range.
///
/// ```
/// use memscape::analysis::samples::dynamics::time_over_seeds;
///
/// // a time that every resample of the seeds reads as 7
/// let onset = time_over_seeds(4, 50, 0, |_| Some(7.0));
/// assert_eq!(onset.step, Some(7.0));
/// assert_eq!(onset.ci, [Some(7.0), Some(7.0)]);
/// ```
pub fn time_over_seeds(
    n: usize,
    resamples: usize,
    seed: u64,
    time: impl Fn(&[usize]) -> Option<f64>,
) -> Onset {
    if n == 0 {
        return Onset {
            step: None,
            ci: [None, None],
        };
    }
    let all: Vec<usize> = (0..n).collect();
    let boot: Vec<f64> = bootstrap_indices(n, resamples, seed)
        .map(|idx| time(&idx).unwrap_or(f64::INFINITY))
        .collect();
    Onset {
        step: time(&all),
        ci: censored_interval(boot),
    }
}

/// The mean over `seeds` (with repeats) of `curves[seed][i]`, for every i.
///
/// ```
/// use memscape::analysis::samples::dynamics::seed_mean;
///
/// let curves = vec![vec![1.0, 2.0], vec![3.0, 6.0]];
/// assert_eq!(seed_mean(&curves, &[0, 1]), [2.0, 4.0]);
/// // seeds drawn with repeats weigh accordingly
/// assert_eq!(seed_mean(&curves, &[1, 1, 0]), [7.0 / 3.0, 14.0 / 3.0]);
/// ```
pub fn seed_mean(curves: &[Vec<f64>], seeds: &[usize]) -> Vec<f64> {
    let len = curves.first().map_or(0, Vec::len);
    (0..len)
        .map(|i| seeds.iter().map(|&s| curves[s][i]).sum::<f64>() / seeds.len() as f64)
        .collect()
}

/// [`plateau_onset`] of the seed-averaged curve `curves[seed][checkpoint]` above the
/// seed-averaged floor, with its interval over the seeds ([`time_over_seeds`]).
///
/// ```
/// use memscape::analysis::samples::dynamics::plateau_onset_over_seeds;
///
/// // three seeds whose quality curves all settle by step 100
/// let steps = [1.0, 10.0, 100.0, 1000.0];
/// let curves = vec![vec![2.0, 0.5, 0.11, 0.1]; 3];
/// let onset = plateau_onset_over_seeds(&steps, &curves, &[0.0; 3], 0.1, 100, 0);
/// assert_eq!(onset.step, Some(100.0));
/// ```
pub fn plateau_onset_over_seeds(
    steps: &[f64],
    curves: &[Vec<f64>],
    floors: &[f64],
    level: f64,
    resamples: usize,
    seed: u64,
) -> Onset {
    time_over_seeds(curves.len(), resamples, seed, |seeds| {
        let floor = seeds.iter().map(|&s| floors[s]).sum::<f64>() / seeds.len() as f64;
        plateau_onset(steps, &seed_mean(curves, seeds), floor, level)
    })
}

/// Least-squares fit of `y = a x^p` in log–log space; `None` with fewer than two distinct x.
///
/// ```
/// use memscape::analysis::samples::dynamics::power_law;
///
/// // tau = 3 K^0.5
/// let ks = [4.0, 16.0, 64.0];
/// let taus = ks.map(|k: f64| 3.0 * k.sqrt());
/// let (a, p) = power_law(&ks, &taus).unwrap();
/// assert!((a - 3.0).abs() < 1e-9 && (p - 0.5).abs() < 1e-12);
/// assert_eq!(power_law(&[2.0, 2.0], &[1.0, 3.0]), None);
/// ```
pub fn power_law(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let ly: Vec<f64> = ys.iter().map(|y| y.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxx: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    if xs.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let p = sxy / sxx;
    Some(((my - p * mx).exp(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_interpolates_in_log_step() {
        let steps = [10.0, 100.0, 1000.0];
        // halfway in ln step between 100 and 1000
        let t = first_crossing(&steps, &[0.0, 0.0, 0.2], 0.1).unwrap();
        assert!((t - 100f64 * 10f64.sqrt()).abs() < 1e-9);
        assert_eq!(first_crossing(&steps, &[0.5, 0.6, 0.7], 0.1), Some(10.0));
        assert_eq!(first_crossing(&steps, &[0.0, 0.05, 0.09], 0.1), None);
    }

    /// On a curve linear in ln(step), f = α ln(step / t0), the interpolation is exact: the
    /// crossing is t0·e^(θ/α) on any checkpoint grid (random grids here); on a curve that
    /// crosses, falls back and crosses again, it is the first crossing.
    #[test]
    fn crossing_is_exact_on_curves_linear_in_log_step() {
        let (alpha, t0, level): (f64, f64, f64) = (0.05, 40.0, 0.1);
        let exact = t0 * (level / alpha).exp();
        let mut rng = crate::rng::stream(3, 0);
        for _ in 0..50 {
            let mut steps: Vec<f64> = (0..12)
                .map(|_| 10f64.powf(1.0 + 4.0 * crate::rng::uniform(&mut rng)))
                .collect();
            steps.sort_by(f64::total_cmp);
            let f: Vec<f64> = steps
                .iter()
                .map(|&t| (alpha * (t / t0).ln()).max(-1.0))
                .collect();
            match first_crossing(&steps, &f, level) {
                Some(t) => assert!((t / exact - 1.0).abs() < 1e-12, "{t} vs {exact}"),
                None => assert!(steps[11] < exact),
            }
        }
        let steps = [1.0, 10.0, 100.0, 1000.0, 10000.0];
        let t = first_crossing(&steps, &[0.0, 0.2, 0.0, 0.2, 0.4], level).unwrap();
        assert!((t - 10f64.sqrt()).abs() < 1e-12, "{t}");
    }

    /// Synthetic curves with a known answer: s(t) = floor + e·(1 + A e^(−t/T)), whose excess is
    /// within 10% of its minimum e (reached at the last checkpoint when A e^(−t_end/T) ≈ 0) from
    /// t* = T ln(A / 0.1) on: the onset is the first checkpoint at or past t*.
    #[test]
    fn plateau_onset_is_the_first_checkpoint_within_the_level_of_the_minimum() {
        let steps: Vec<f64> = (0..60).map(|i| 10f64.powf(i as f64 / 12.0)).collect();
        for (floor, e, a, tau) in [
            (0.0, 0.02, 30.0, 40.0),
            (0.3, 0.5, 5.0, 700.0),
            (-0.01, 1e-3, 100.0, 5.0),
        ] {
            let s: Vec<f64> = steps
                .iter()
                .map(|t| floor + e * (1.0 + a * (-t / tau).exp()))
                .collect();
            let min = s.iter().cloned().fold(f64::INFINITY, f64::min);
            let t_star = tau * (a * e / ((1.1 * (min - floor)) - e)).ln();
            let want = steps
                .iter()
                .cloned()
                .find(|&t| t >= t_star * (1.0 - 1e-12))
                .unwrap();
            let got = plateau_onset(&steps, &s, floor, 0.1).unwrap();
            assert_eq!(got, want, "floor {floor}, tau {tau}");
            // never a checkpoint above 1.1 (min − floor) + floor
            let i = steps.iter().position(|&t| t == got).unwrap();
            assert!(s[i] <= 1.1 * (min - floor) + floor);
        }
        // the old rule (within 10% of the range) fires where the excess is still 2.6× its minimum
        let s = [0.636, 0.067, 0.04, 0.03, 0.026];
        let steps = [1.0, 26.0, 100.0, 400.0, 2000.0];
        assert_eq!(plateau_onset(&steps, &s, 0.0, 0.1), Some(2000.0));
        assert_eq!(
            plateau_onset(&steps, &[0.5, 0.02, -0.001, 0.0, -0.002], 0.0, 0.1),
            Some(100.0)
        );
        assert_eq!(plateau_onset(&steps, &[f64::NAN; 5], 0.0, 0.1), None);
    }

    #[test]
    fn the_onset_interval_spans_the_seeds() {
        let steps: Vec<f64> = (1..=8).map(|i| 10f64.powi(i)).collect();
        // seed j reaches its plateau at checkpoint 2 + j
        let curves: Vec<Vec<f64>> = (0..3)
            .map(|j| (0..8).map(|i| if i >= 2 + j { 1.0 } else { 5.0 }).collect())
            .collect();
        let o = plateau_onset_over_seeds(&steps, &curves, &[0.0; 3], 0.1, 400, 7);
        assert_eq!(o.step, Some(1e5)); // the mean is on its plateau once every seed is
        assert_eq!(o.ci, [Some(1e3), Some(1e5)]);
        let one = plateau_onset_over_seeds(&steps, &curves[..1], &[0.0], 0.1, 50, 7);
        assert_eq!((one.step, one.ci), (Some(1e3), [Some(1e3), Some(1e3)]));
    }

    #[test]
    fn power_law_recovers_its_exponent() {
        let ks = [8.0, 16.0, 32.0, 64.0];
        let taus: Vec<f64> = ks.iter().map(|k: &f64| 300.0 * k.powf(1.1)).collect();
        let (a, p) = power_law(&ks, &taus).unwrap();
        assert!((p - 1.1).abs() < 1e-12 && (a - 300.0).abs() < 1e-9);
        assert!(power_law(&[5.0], &[1.0]).is_none());
    }
}
