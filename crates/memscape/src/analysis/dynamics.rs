//! Training dynamics: when memorization sets in, and how that time scales with K.
//!
//! ```text
//! tau_mem   the first checkpoint step where f_mem reaches a level θ, interpolated linearly in
//!           ln(step) from the checkpoint before (Bonnaire et al. 2025 read it off f_mem(τ) by
//!           eye; bonnaire.md §6 suggests the 1% and 10% crossings; memscape's default θ = 0.1)
//! tau_gen   the checkpoint of the smallest held-out denoising loss (the end of the
//!           generalization phase: later steps fit the training set at the held-out set's cost)
//! fit       ln tau_mem = ln a + p ln K, least squares (bonnaire.md: p ≈ 1)
//! ```

use super::capacity::log_crossing;

/// The first step where `f` reaches `level`, interpolated in log step; the first checkpoint
/// itself when `f` starts at or above `level`; `None` when it never does.
pub fn first_crossing(steps: &[f64], f: &[f64], level: f64) -> Option<f64> {
    let i = f.iter().position(|&v| v >= level)?;
    if i == 0 {
        return Some(steps[0]);
    }
    Some(log_crossing(steps, f, i - 1, level))
}

/// Least-squares fit of `y = a x^p` in log–log space; `None` with fewer than two distinct x.
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

    #[test]
    fn power_law_recovers_its_exponent() {
        let ks = [8.0, 16.0, 32.0, 64.0];
        let taus: Vec<f64> = ks.iter().map(|k: &f64| 300.0 * k.powf(1.1)).collect();
        let (a, p) = power_law(&ks, &taus).unwrap();
        assert!((p - 1.1).abs() < 1e-12 && (a - 300.0).abs() < 1e-9);
        assert!(power_law(&[5.0], &[1.0]).is_none());
    }
}
