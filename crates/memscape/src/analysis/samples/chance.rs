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
//! Memorized and f_mem compare each draw with the training set only. d_s depends on how many
//! points are compared, so the spurious level needs as many draws as samples (and a second
//! batch of draws as large as the samples' second batch): the draws are a seeded random subset
//! of the held-out points, as many as the samples where there are enough, and without enough
//! the spurious level and its excess are not given (`draws` says how many were used). Each
//! level has a bootstrap 95% interval over the draws; the excess has one over independent
//! resamples of the samples and of the draws.

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::classify::{
    Classification, Estimate, Threshold, ThresholdSpec, bootstrap, classify, percentile_interval,
};
use crate::error::{Error, Result};
use crate::rng::permutation;

/// The keys of the draws' subset and of their bootstrap streams, apart from the samples'.
const SUBSET_KEY: u64 = 0x6472_6177_7321;
const DRAW_STREAMS: u64 = 0x6368_616e_6365;

/// Chance levels of one classification and the samples' excess over them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Chance {
    pub memorized: Estimate,
    /// None with fewer held-out draws than samples (see the module documentation).
    pub spurious: Option<Estimate>,
    pub f_mem: Estimate,
    /// Held-out draws classified (the first batch, under the two-batch rule).
    pub draws: usize,
    /// Fraction − chance, by class.
    pub excess: Excess,
}

/// The samples' fractions above their chance levels, with 95% intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Excess {
    pub memorized: Estimate,
    pub spurious: Option<Estimate>,
    pub f_mem: Estimate,
}

/// The chance levels of the classification `samples` of samples against `train`: held-out draws
/// (`heldout`, none of them training points) classified with the same thresholds, as many as the
/// samples, against a second batch of `batch_b` draws when the samples were judged against a
/// second batch of that size. The draws' subset and bootstrap are seeded by `draws_seed`, the
/// samples' bootstrap by `seed` (the seed of their [`super::classify::fractions`]), with
/// `resamples` resamples each.
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
/// let chance = chance(train.view(), heldout.view(), &c, None, 200, 0, 0)?;
/// // fresh draws are memorized by coincidence, at the chance level: no excess
/// assert!(chance.memorized.value > 0.05);
/// assert!(chance.excess.memorized.ci[0] <= 0.0 && 0.0 <= chance.excess.memorized.ci[1]);
/// // as many draws as samples: the spurious level too
/// assert!(chance.spurious.is_some() && chance.draws == 300);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// `heldout` of another dimension than `train`, or with no point (one per batch under the
/// two-batch rule), named `heldout`.
pub fn chance(
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    samples: &Classification,
    batch_b: Option<usize>,
    resamples: usize,
    seed: u64,
    draws_seed: u64,
) -> Result<Chance> {
    if heldout.ncols() != train.ncols() {
        return Err(Error::invalid(
            "heldout",
            format!("of the training set's dimension {}", train.ncols()),
            heldout.ncols(),
        ));
    }
    let n = samples.classes.len();
    let available = heldout.nrows();
    let draws = n.min(match batch_b {
        Some(_) => available / 2,
        None => available,
    });
    if draws == 0 {
        return Err(Error::invalid(
            "heldout",
            format!(
                "at least {} points for the chance levels",
                if batch_b.is_some() { 2 } else { 1 }
            ),
            available,
        ));
    }
    let order = permutation(available, draws_seed ^ SUBSET_KEY);
    let a = heldout.select(Axis(0), &order[..draws]);
    let b_size = batch_b.map(|m| m.min(available - draws));
    let b = b_size.map(|m| heldout.select(Axis(0), &order[draws..draws + m]));
    let comparable = draws == n && b_size == batch_b && b_size != Some(0);
    let t = &samples.thresholds;
    let spec = ThresholdSpec {
        delta_m: Threshold::Value(t.delta_m),
        delta_s: Threshold::Value(t.delta_s),
        f_mem_ratio: t.f_mem_ratio,
    };
    let b_view = b.as_ref().filter(|b| b.nrows() > 0).map(|b| b.view());
    let c = classify(train, a.view(), b_view, &spec, None)?;
    let (level, level_boot) = bootstrap(&c, resamples, draws_seed ^ DRAW_STREAMS);
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
        spurious: comparable.then(|| estimate(1, false)),
        f_mem: estimate(4, false),
        draws,
        excess: Excess {
            memorized: estimate(0, true),
            spurious: comparable.then(|| estimate(1, true)),
            f_mem: estimate(4, true),
        },
    })
}
