//! Capacities over a K sweep (pham.md §1.4, operational definitions):
//!
//! ```text
//! memorization capacity    largest K with memorized ≥ 1/2, interpolated linearly in log K to
//!                          the crossing with the next K
//! spurious peak            the K with the largest spurious fraction, and that fraction
//! generalization capacity  smallest K with generalized ≥ 1/2, interpolated in log K to the
//!                          crossing with the previous K
//! ```
//!
//! A capacity is `None` when its crossing lies outside the swept range.

use serde::Serialize;

/// Capacities of one sweep (fractions indexed like `ks`, which must ascend).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Capacities {
    pub memorization: Option<f64>,
    pub spurious_peak_k: usize,
    pub spurious_peak: f64,
    pub generalization: Option<f64>,
}

/// Where the piecewise-linear curve through (ln x_i, f_i) reaches `level` between x_i and
/// x_{i+1}, as an x (interpolated linearly in ln x).
pub fn log_crossing(xs: &[f64], f: &[f64], i: usize, level: f64) -> f64 {
    let (a, b) = (xs[i].ln(), xs[i + 1].ln());
    let t = (level - f[i]) / (f[i + 1] - f[i]);
    (a + t * (b - a)).exp()
}

fn crossing(ks: &[usize], f: &[f64], i: usize) -> f64 {
    let xs = [ks[i] as f64, ks[i + 1] as f64];
    log_crossing(&xs, &f[i..i + 2], 0, 0.5)
}

/// Capacities from the class fractions at each K.
pub fn capacities(
    ks: &[usize],
    memorized: &[f64],
    spurious: &[f64],
    generalized: &[f64],
) -> Capacities {
    let memorization = memorized
        .iter()
        .rposition(|&m| m >= 0.5)
        .and_then(|i| (i + 1 < ks.len()).then(|| crossing(ks, memorized, i)));
    let generalization = generalized
        .iter()
        .position(|&g| g >= 0.5)
        .and_then(|i| (i > 0).then(|| crossing(ks, generalized, i - 1)));
    let (peak_i, &spurious_peak) = spurious
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("at least one K");
    Capacities {
        memorization,
        spurious_peak_k: ks[peak_i],
        spurious_peak,
        generalization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_in_log_k() {
        let ks = [10, 100, 1000];
        let c = capacities(&ks, &[1.0, 0.0, 0.0], &[0.0, 0.6, 0.1], &[0.0, 0.4, 0.9]);
        // memorized falls 1 → 0 between 10 and 100: halfway in log K is √1000 = 31.6
        assert!((c.memorization.unwrap() - 1000f64.sqrt()).abs() < 1e-9);
        assert_eq!((c.spurious_peak_k, c.spurious_peak), (100, 0.6));
        // generalized 0.4 → 0.9 between 100 and 1000: t = 0.2, K = 10^(2.2)
        assert!((c.generalization.unwrap() - 10f64.powf(2.2)).abs() < 1e-9);
        let never = capacities(&ks, &[1.0, 1.0, 1.0], &[0.0; 3], &[0.0; 3]);
        assert_eq!((never.memorization, never.generalization), (None, None));
    }
}
