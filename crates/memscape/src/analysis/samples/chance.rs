//! Chance levels: the class fractions a perfect generator gets by coincidence.
//!
//! Held-out points are fresh draws of the distribution the training set came from: what a
//! generator that has learnt the distribution exactly would produce. Classified as if they were
//! samples, with the samples' own thresholds, they give the level each fraction reaches by
//! chance where the data are dense (300 points on the unit circle: about 0.15 of fresh draws
//! fall within delta_m of a training point):
//!
//! ```text
//! chance memorized  = P_h(d_m(h) ≤ delta_m)                     h: held-out draws
//! chance spurious   = P_h(d_m(h) > delta_m, d_s(h) ≤ delta_s)     d_s among n draws, or against
//!                                                               a second batch of n (two-batch rule)
//! chance f_mem      = P_h(d1(h) / d2(h) < ratio)
//! excess            = fraction − chance
//! ```
//!
//! d_s depends on how many draws are compared, so the draws are as many as the samples (a seeded
//! random subset of the held-out points; fewer when the held-out set is smaller, and `draws`
//! says how many). Each level has a bootstrap 95% interval over the draws; the excess has one
//! over independent resamples of the samples and of the draws.

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::classify::{
    Classification, Estimate, Threshold, ThresholdSpec, bootstrap, classify, percentile_interval,
};
use crate::error::{Error, Result};
use crate::rng::permutation;

/// The bootstrap streams of the draws: apart from the samples' of the same seed.
const DRAW_STREAMS: u64 = 0x6368_616e_6365;

/// Chance levels of one classification and the samples' excess over them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Chance {
    pub memorized: Estimate,
    pub spurious: Estimate,
    pub f_mem: Estimate,
    /// Held-out draws classified (per batch, under the two-batch rule).
    pub draws: usize,
    /// Fraction − chance, by class.
    pub excess: Excess,
}

/// The samples' fractions above their chance levels, with 95% intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Excess {
    pub memorized: Estimate,
    pub spurious: Estimate,
    pub f_mem: Estimate,
}

/// The chance levels of the classification `samples` of samples against `train`: held-out draws
/// (`heldout`, none of them training points) classified with the same thresholds, as many as the
/// samples, against a second batch of draws when the samples were judged against one
/// (`against_batch`). Bootstrap of `resamples` over the draws, seeded by `seed`.
///
/// ```
/// use memscape::analysis::samples::chance::chance;
/// use memscape::analysis::samples::classify::{ThresholdSpec, classify};
/// # use std::f64::consts::TAU;
/// # use ndarray::Array2;
/// // 300 training points on the unit circle, and 600 fresh draws from it: half as samples of a
/// // perfect generator, half held out
/// let circle = |n: usize, seed: u64| Array2::from_shape_fn((n, 2), |(i, j)| {
///     let a = TAU * memscape::rng::uniform(&mut memscape::rng::stream(seed, i as u64));
///     if j == 0 { a.cos() } else { a.sin() }
/// });
/// let (train, fresh, heldout) = (circle(300, 1), circle(300, 2), circle(300, 3));
/// let c = classify(train.view(), fresh.view(), None, &ThresholdSpec::default(), None)?;
/// let chance = chance(train.view(), heldout.view(), &c, false, 200, 0)?;
/// // fresh draws are memorized by coincidence, at the chance level: no excess
/// assert!(chance.memorized.value > 0.05);
/// assert!(chance.excess.memorized.ci[0] <= 0.0 && 0.0 <= chance.excess.memorized.ci[1]);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than 2 held-out points (2 per batch under the two-batch rule), or `heldout` of another
/// dimension than `train` (named `heldout`).
pub fn chance(
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    samples: &Classification,
    against_batch: bool,
    resamples: usize,
    seed: u64,
) -> Result<Chance> {
    let batches = if against_batch { 2 } else { 1 };
    let draws = samples.classes.len().min(heldout.nrows() / batches);
    if draws < 2 {
        return Err(Error::invalid(
            "heldout",
            format!("at least {} points for the chance levels", 2 * batches),
            heldout.nrows(),
        ));
    }
    let order = permutation(heldout.nrows(), seed);
    let a = heldout.select(Axis(0), &order[..draws]);
    let b = against_batch.then(|| heldout.select(Axis(0), &order[draws..2 * draws]));
    let t = &samples.thresholds;
    let spec = ThresholdSpec {
        delta_m: Threshold::Value(t.delta_m),
        delta_s: Threshold::Value(t.delta_s),
        f_mem_ratio: t.f_mem_ratio,
    };
    let c = classify(train, a.view(), b.as_ref().map(|b| b.view()), &spec, None)?;
    let (level, level_boot) = bootstrap(&c, resamples, seed ^ DRAW_STREAMS);
    let (value, value_boot) = bootstrap(samples, resamples, seed);
    // memorized, spurious and f_mem: columns 0, 1 and 4 of the indicators
    let estimate = |j: usize, excess: bool| {
        let at = |p: &[f64; 5], q: &[f64; 5]| if excess { p[j] - q[j] } else { q[j] };
        Estimate {
            value: at(&value, &level),
            ci: percentile_interval(
                value_boot
                    .iter()
                    .zip(&level_boot)
                    .map(|(p, q)| at(p, q))
                    .collect(),
            ),
        }
    };
    Ok(Chance {
        memorized: estimate(0, false),
        spurious: estimate(1, false),
        f_mem: estimate(4, false),
        draws,
        excess: Excess {
            memorized: estimate(0, true),
            spurious: estimate(1, true),
            f_mem: estimate(4, true),
        },
    })
}
