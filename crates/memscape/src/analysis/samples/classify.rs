//! Memorized / spurious / generalized, and f_mem.
//!
//! Pham et al. (2025; pham.md §1.3), for a generated sample x, training set T and the other
//! generated samples S:
//!
//! ```text
//! d_m(x) = min_{ξ∈T} |x − ξ|                  memorized    if d_m ≤ delta_m
//! d_s(x) = min_{x'∈S, x'≠x} |x − x'|           spurious     if not memorized and d_s ≤ delta_s
//!                                              generalized  otherwise
//! ```
//!
//! With a second, independent batch B of samples, S = B: "spurious" then means reproduced by
//! an independent generation, not merely dense.
//!
//! With a support gate calibrated on held-out data ([`super::support`]), a sample that is
//! neither memorized nor spurious is **off-support** when it lies farther from the data than
//! held-out points do, and generalized only otherwise: "generalized" means a new sample that
//! looks like the data, never noise. The precedence is memorized, spurious, off-support,
//! generalized; `d_support` keeps every sample's distance to the data, so a reproducible
//! attractor off the data (a spurious sample with `d_support` past the threshold) can be
//! told apart. Bonnaire et al.'s f_mem (bonnaire.md §1) is the
//! fraction with d1/d2 < ratio (nearest over second-nearest training distance; ratio 1/3).
//!
//! **Calibrated thresholds** (held-out data). `calibrated:q` sets delta_m at the q-quantile
//! of the held-out points' nearest-neighbour distances to the training set, and delta_s at the
//! q-quantile of their leave-one-out distances to each other (q = 0.01 by default), so a fresh
//! draw of the data is memorized, or reproduced by another, with probability about q whatever
//! the data's dimension and density (Pham et al.'s wish for thresholds from train↔test
//! distances, `pham.md` §5.2). delta_s is calibrated at the held-out set's density: compare
//! batches of samples about as large as it.
//!
//! **Automatic thresholds** (scale-free). Let `s` be the median over training points of the
//! distance to their nearest other training point. Then `delta_m = s/4` and `delta_s = s/16`.
//! A copy sits much closer to its source than training points sit to each other. For samples
//! spread continuously along a 1-D manifold (the worst case), P(d_m < s/c) ≈ ln2/c, which is
//! 0.17 for c = 4; on a 2-D manifold it is ln2/c² ≈ 0.04. Two samples of one attractor coincide
//! far more tightly than continuously spread ones. With N samples at the training density,
//! P(d_s < s/16) ≈ 0.04 on a 1-D manifold, and it grows with N/K: compare batches no larger
//! than the training set, or give explicit thresholds.

use ndarray::{Array1, ArrayView2};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::distance::knn;
use super::support::{SupportCalibration, SupportGate, order_quantile};
use crate::error::{Error, Result};
use crate::rng::stream;

/// delta_m = median training nearest-neighbour spacing × this.
pub const AUTO_MEMORIZED: f64 = 0.25;
/// delta_s = median training nearest-neighbour spacing × this.
pub const AUTO_SPURIOUS: f64 = 1.0 / 16.0;
/// Bonnaire et al.'s d1/d2 threshold.
pub const F_MEM_RATIO: f64 = 1.0 / 3.0;

/// Default quantile of `calibrated` thresholds.
pub const CALIBRATION_QUANTILE: f64 = 0.01;

/// A threshold given explicitly, derived from the training set, or calibrated on held-out
/// data at a quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    Auto,
    Value(f64),
    Calibrated(f64),
}

impl Threshold {
    /// Parses `auto`, `calibrated`, `calibrated:q` or a positive number; `flag` names it in
    /// errors.
    ///
    /// ```
    /// use memscape::analysis::samples::classify::Threshold;
    ///
    /// assert_eq!(Threshold::parse("--delta-m", "auto")?, Threshold::Auto);
    /// assert_eq!(Threshold::parse("--delta-m", "0.05")?, Threshold::Value(0.05));
    /// assert_eq!(Threshold::parse("--delta-m", "calibrated")?, Threshold::Calibrated(0.01));
    /// assert_eq!(Threshold::parse("--delta-s", "calibrated:0.05")?, Threshold::Calibrated(0.05));
    /// let err = Threshold::parse("--delta-m", "-1").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"--delta-m must be a number > 0, "auto" or "calibrated[:q]", got -1"#
    /// );
    /// let err = Threshold::parse("--delta-m", "calibrated:1.5").unwrap_err();
    /// assert_eq!(err.to_string(), "--delta-m must be calibrated:q with q in (0, 1), got calibrated:1.5");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// Text that is none of these, or a quantile outside (0, 1), named by `flag`.
    pub fn parse(flag: &str, text: &str) -> Result<Self> {
        if text == "auto" {
            return Ok(Threshold::Auto);
        }
        if text == "calibrated" {
            return Ok(Threshold::Calibrated(CALIBRATION_QUANTILE));
        }
        if let Some(q) = text.strip_prefix("calibrated:") {
            return match q.parse::<f64>() {
                Ok(q) if q > 0.0 && q < 1.0 => Ok(Threshold::Calibrated(q)),
                _ => Err(Error::invalid(flag, "calibrated:q with q in (0, 1)", text)),
            };
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Threshold::Value(v)),
            _ => Err(Error::invalid(
                flag,
                "a number > 0, \"auto\" or \"calibrated[:q]\"",
                text,
            )),
        }
    }
}

/// The thresholds of one classification.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdSpec {
    pub delta_m: Threshold,
    pub delta_s: Threshold,
    pub f_mem_ratio: f64,
}

impl Default for ThresholdSpec {
    fn default() -> Self {
        ThresholdSpec {
            delta_m: Threshold::Auto,
            delta_s: Threshold::Auto,
            f_mem_ratio: F_MEM_RATIO,
        }
    }
}

/// The thresholds actually used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub delta_m: f64,
    pub delta_s: f64,
    pub f_mem_ratio: f64,
    /// Median nearest-neighbour spacing of the training set.
    pub train_spacing: f64,
}

/// A sample's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Memorized,
    Spurious,
    Generalized,
    /// Farther from the data than held-out data is (see [`super::support`]).
    #[serde(rename = "off-support")]
    OffSupport,
}

impl Class {
    /// The class as tables write it.
    ///
    /// ```
    /// use memscape::analysis::samples::classify::Class;
    ///
    /// assert_eq!(Class::Memorized.name(), "memorized");
    /// assert_eq!(Class::OffSupport.name(), "off-support");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Class::Memorized => "memorized",
            Class::Spurious => "spurious",
            Class::Generalized => "generalized",
            Class::OffSupport => "off-support",
        }
    }
}

/// Per-sample results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub classes: Vec<Class>,
    /// Distance to the nearest training point (d_m = d1) and its index.
    pub d_train: Array1<f64>,
    pub nearest_train: Vec<usize>,
    /// Distance to the second-nearest training point (d2).
    pub d_train2: Array1<f64>,
    /// Distance to the nearest other sample (or nearest sample of batch B): d_s.
    pub d_sample: Array1<f64>,
    /// d1/d2 < ratio (Bonnaire et al.).
    pub ratio_memorized: Vec<bool>,
    /// Distance to the data (training and held-out points), when a support gate was given.
    pub d_support: Option<Array1<f64>>,
    /// The gate's calibration, when one was given.
    pub support: Option<SupportCalibration>,
    pub thresholds: Resolved,
}

/// Median distance from each training point to its nearest other training point.
///
/// ```
/// use memscape::analysis::samples::classify::train_spacing;
/// use ndarray::array;
///
/// // nearest-neighbour distances 1, 1 and 2: the median is 1
/// let train = array![[0.0], [1.0], [3.0]];
/// assert_eq!(train_spacing(train.view())?, 1.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than two training points, all of them equal, or non-finite values (named
/// `training set`).
pub fn train_spacing(train: ArrayView2<f64>) -> Result<f64> {
    if train.nrows() < 2 {
        return Err(Error::invalid(
            "training set",
            "at least 2 points (for the nearest-neighbour spacing and f_mem)",
            train.nrows(),
        ));
    }
    let nn = knn(train, train, 1, true)?;
    let mut d: Vec<f64> = nn
        .distances
        .column(0)
        .iter()
        .cloned()
        .filter(|&v| v > 0.0)
        .collect();
    if d.is_empty() {
        return Err(Error::invalid(
            "training set",
            "at least two distinct points",
            "all points equal",
        ));
    }
    d.sort_by(f64::total_cmp);
    Ok(d[d.len() / 2])
}

impl ThresholdSpec {
    /// The thresholds for the training set `train`: automatic ones from its spacing,
    /// calibrated ones from the held-out points `heldout` (see the module documentation).
    ///
    /// ```
    /// use memscape::analysis::samples::classify::{Threshold, ThresholdSpec};
    /// use ndarray::array;
    ///
    /// // spacing 1: an automatic delta_m is 1/4 of it; a given delta_s stays as given
    /// let train = array![[0.0], [1.0], [3.0]];
    /// let spec = ThresholdSpec { delta_s: Threshold::Value(0.1), ..Default::default() };
    /// let r = spec.resolve(train.view(), None)?;
    /// assert_eq!((r.train_spacing, r.delta_m, r.delta_s), (1.0, 0.25, 0.1));
    /// // one point has no spacing
    /// assert!(spec.resolve(array![[0.0]].view(), None).is_err());
    /// // calibrated at the median: held-out points 0.1, 0.2 and 0.4 from the training set,
    /// // and 0.7, 0.7 and 1.8 from each other
    /// let heldout = array![[0.1], [0.8], [2.6]];
    /// let spec = ThresholdSpec {
    ///     delta_m: Threshold::Calibrated(0.5),
    ///     delta_s: Threshold::Calibrated(0.5),
    ///     ..Default::default()
    /// };
    /// let r = spec.resolve(train.view(), Some(heldout.view()))?;
    /// assert!((r.delta_m - 0.2).abs() < 1e-12 && (r.delta_s - 0.7).abs() < 1e-12);
    /// // calibrated needs held-out data
    /// let err = spec.resolve(train.view(), None).unwrap_err();
    /// assert!(err.to_string().starts_with("delta_m must be"), "{err}");
    /// // a 0.1-quantile needs 10 points at least
    /// let spec = ThresholdSpec { delta_s: Threshold::Calibrated(0.1), ..Default::default() };
    /// let err = spec.resolve(train.view(), Some(heldout.view())).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "delta_s must be calibrated:0.1 on at least 10 held-out points, got 3 held-out points"
    /// );
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A training set whose spacing is undefined ([`train_spacing`]); a calibrated threshold
    /// at q without held-out data, or with fewer than max(2, 1/q) held-out points (named by
    /// the threshold).
    pub fn resolve(
        &self,
        train: ArrayView2<f64>,
        heldout: Option<ArrayView2<f64>>,
    ) -> Result<Resolved> {
        let spacing = train_spacing(train)?;
        // (name, automatic factor, calibrated on distances to the training set or to the
        // other held-out points)
        let resolve = |what: &str, t: Threshold, factor: f64, to_train: bool| match t {
            Threshold::Auto => Ok(factor * spacing),
            Threshold::Value(v) => Ok(v),
            Threshold::Calibrated(q) => {
                let heldout = heldout.ok_or_else(|| {
                    Error::invalid(
                        what,
                        "a distance or auto without held-out data to calibrate on",
                        format!("calibrated:{q}"),
                    )
                })?;
                // the ⌈q n⌉-th smallest distance is the q-quantile only when q n ≥ 1
                let needed = (1.0 / q).ceil().max(2.0);
                if (heldout.nrows() as f64) < needed {
                    return Err(Error::invalid(
                        what,
                        format!("calibrated:{q} on at least {needed} held-out points"),
                        format!("{} held-out points", heldout.nrows()),
                    ));
                }
                let nn = if to_train {
                    knn(heldout, train, 1, false)?
                } else {
                    knn(heldout, heldout, 1, true)?
                };
                let mut d = nn.distances.column(0).to_vec();
                d.sort_by(f64::total_cmp);
                Ok(order_quantile(&d, q))
            }
        };
        Ok(Resolved {
            delta_m: resolve("delta_m", self.delta_m, AUTO_MEMORIZED, true)?,
            delta_s: resolve("delta_s", self.delta_s, AUTO_SPURIOUS, false)?,
            f_mem_ratio: self.f_mem_ratio,
            train_spacing: spacing,
        })
    }
}

/// Classifies `samples` against `train`; with `samples_b`, "spurious" is judged against that
/// independent batch instead of the other samples.
///
/// ```
/// use memscape::analysis::samples::classify::{Class, ThresholdSpec, classify};
/// use ndarray::array;
///
/// // Two patterns 1 apart: automatic thresholds delta_m = 1/4, delta_s = 1/16 of that spacing.
/// // One sample on a pattern; two on the midpoint, a state the model shares but no pattern is.
/// let train = array![[0.0, 0.0], [1.0, 0.0]];
/// let samples = array![[0.0, 0.01], [0.5, 0.0], [0.5, 0.0]];
/// let c = classify(train.view(), samples.view(), None, &ThresholdSpec::default(), None)?;
/// assert_eq!(c.classes, [Class::Memorized, Class::Spurious, Class::Spurious]);
/// assert_eq!(c.thresholds.delta_m, 0.25);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// An `f_mem_ratio` outside (0, 1]; fewer than two distinct training points; empty or
/// non-finite point sets, or sets of different dimensions ([`knn`]'s errors); a support gate
/// of another dimension.
pub fn classify(
    train: ArrayView2<f64>,
    samples: ArrayView2<f64>,
    samples_b: Option<ArrayView2<f64>>,
    spec: &ThresholdSpec,
    support: Option<&SupportGate>,
) -> Result<Classification> {
    if !(spec.f_mem_ratio > 0.0 && spec.f_mem_ratio <= 1.0) {
        return Err(Error::invalid("f_mem_ratio", "in (0, 1]", spec.f_mem_ratio));
    }
    let thresholds = spec.resolve(train, support.map(SupportGate::heldout))?;
    let to_train = knn(samples, train, 2, false)?;
    let d_sample = match samples_b {
        Some(b) => knn(samples, b, 1, false)?.distances.column(0).to_owned(),
        None if samples.nrows() >= 2 => knn(samples, samples, 1, true)?
            .distances
            .column(0)
            .to_owned(),
        None => Array1::from_elem(1, f64::INFINITY),
    };
    let d_train = to_train.distances.column(0).to_owned();
    let d_train2 = to_train.distances.column(1).to_owned();
    let d_support = support.map(|g| g.distances(samples)).transpose()?;
    let classes = (0..samples.nrows())
        .map(|i| {
            if d_train[i] <= thresholds.delta_m {
                Class::Memorized
            } else if d_sample[i] <= thresholds.delta_s {
                Class::Spurious
            } else if let (Some(g), Some(d)) = (support, &d_support)
                && g.is_off_support(d[i])
            {
                Class::OffSupport
            } else {
                Class::Generalized
            }
        })
        .collect();
    let ratio_memorized = d_train
        .iter()
        .zip(&d_train2)
        .map(|(&d1, &d2)| d1 < spec.f_mem_ratio * d2)
        .collect();
    Ok(Classification {
        classes,
        nearest_train: to_train.indices.column(0).to_vec(),
        d_train,
        d_train2,
        d_sample,
        ratio_memorized,
        d_support,
        support: support.map(|g| g.calibration),
        thresholds,
    })
}

impl Classification {
    /// Per-sample rows of a CSV table ([`CSV_HEADER`]): `sample, class, d_train, d_train2,
    /// nearest_train, d_sample, ratio_memorized, d_support` (empty without a support gate).
    ///
    /// ```
    /// use memscape::analysis::samples::classify::{CSV_HEADER, ThresholdSpec, classify};
    /// use ndarray::array;
    ///
    /// let train = array![[0.0, 0.0], [1.0, 0.0]];
    /// let samples = array![[1.0, 0.0], [0.5, 3.0]];
    /// let c = classify(train.view(), samples.view(), None, &ThresholdSpec::default(), None)?;
    /// let rows: Vec<[String; 8]> = c.csv_rows().collect();
    /// // the copy of pattern 1: d_train 0, d_train2 1, the other sample √9.25 away, no gate
    /// assert_eq!(rows[0], ["0", "memorized", "0", "1", "1", "3.0413812651491097", "true", ""]);
    /// assert_eq!(rows[1][1], "generalized");
    /// assert_eq!(CSV_HEADER.split(',').count(), 8);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn csv_rows(&self) -> impl Iterator<Item = [String; 8]> + '_ {
        (0..self.classes.len()).map(|i| {
            [
                i.to_string(),
                self.classes[i].name().to_string(),
                self.d_train[i].to_string(),
                self.d_train2[i].to_string(),
                self.nearest_train[i].to_string(),
                self.d_sample[i].to_string(),
                self.ratio_memorized[i].to_string(),
                crate::numbers::field(self.d_support.as_ref().map(|d| d[i])),
            ]
        })
    }
}

/// The header of [`Classification::csv_rows`].
pub const CSV_HEADER: &str =
    "sample,class,d_train,d_train2,nearest_train,d_sample,ratio_memorized,d_support";

/// A fraction with its bootstrap 95% percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub ci: [f64; 2],
}

/// The class fractions and f_mem of one set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fractions {
    pub memorized: Estimate,
    pub spurious: Estimate,
    pub generalized: Estimate,
    pub off_support: Estimate,
    pub f_mem: Estimate,
}

/// The 95% intervals of [`Fractions`], by class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    pub memorized: [f64; 2],
    pub spurious: [f64; 2],
    pub generalized: [f64; 2],
    pub off_support: [f64; 2],
    pub f_mem: [f64; 2],
}

/// [`Fractions`] as documents show them: the values under their names, the intervals under
/// `ci` (flattened into `pipeline::ClassifySummary` and a map's `PhaseRow`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FractionValues {
    pub memorized: f64,
    pub spurious: f64,
    pub generalized: f64,
    pub off_support: f64,
    pub f_mem: f64,
    pub ci: Intervals,
}

impl From<&Fractions> for FractionValues {
    fn from(f: &Fractions) -> Self {
        FractionValues {
            memorized: f.memorized.value,
            spurious: f.spurious.value,
            generalized: f.generalized.value,
            off_support: f.off_support.value,
            f_mem: f.f_mem.value,
            ci: Intervals {
                memorized: f.memorized.ci,
                spurious: f.spurious.ci,
                generalized: f.generalized.ci,
                off_support: f.off_support.ci,
                f_mem: f.f_mem.ci,
            },
        }
    }
}

/// Per-sample indicators (memorized, spurious, generalized, ratio-memorized).
fn indicators(c: &Classification) -> Vec<[bool; 5]> {
    c.classes
        .iter()
        .zip(&c.ratio_memorized)
        .map(|(&k, &r)| {
            [
                k == Class::Memorized,
                k == Class::Spurious,
                k == Class::Generalized,
                k == Class::OffSupport,
                r,
            ]
        })
        .collect()
}

/// Means of the four indicators over the resampled rows `idx`.
fn means(ind: &[[bool; 5]], idx: impl Iterator<Item = usize>) -> [f64; 5] {
    let mut sums = [0usize; 5];
    let mut n = 0;
    for i in idx {
        for (s, &b) in sums.iter_mut().zip(&ind[i]) {
            *s += usize::from(b);
        }
        n += 1;
    }
    sums.map(|s| s as f64 / n as f64)
}

/// The 2.5% and 97.5% percentiles.
///
/// ```
/// use memscape::analysis::samples::classify::percentile_interval;
///
/// let values: Vec<f64> = (0..=1000).map(|i| i as f64 / 1000.0).collect();
/// let [lo, hi] = percentile_interval(values);
/// assert!((lo - 0.025).abs() < 1e-9 && (hi - 0.975).abs() < 1e-9);
/// ```
pub fn percentile_interval(mut values: Vec<f64>) -> [f64; 2] {
    if values.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    [at(0.025), at(0.975)]
}

/// The 95% percentile interval of estimates that may lie outside the measured range, coded
/// as −∞ (below it) or +∞ (beyond it, e.g. a crossing never reached): such resamples count in
/// the ranks, and a bound that falls on one is `None` (not bounded inside the range).
///
/// ```
/// use memscape::analysis::samples::classify::censored_interval;
///
/// // most resamples never cross: the upper bound is not inside the measured range
/// let mut values = vec![f64::INFINITY; 90];
/// values.extend((1..=10).map(|i| i as f64));
/// assert_eq!(censored_interval(values)[1], None);
/// ```
pub fn censored_interval(values: Vec<f64>) -> [Option<f64>; 2] {
    percentile_interval(values).map(|v| v.is_finite().then_some(v))
}

/// Bootstrap resamples of the samples' indices: `resamples[b]` lists n indices drawn with
/// replacement from stream b of `seed`.
///
/// ```
/// use memscape::analysis::samples::classify::bootstrap_indices;
///
/// let resamples: Vec<Vec<usize>> = bootstrap_indices(5, 3, 1).collect();
/// assert_eq!(resamples.len(), 3);
/// assert!(resamples.iter().all(|r| r.len() == 5 && r.iter().all(|&i| i < 5)));
/// // the same seed draws the same resamples
/// assert_eq!(resamples, bootstrap_indices(5, 3, 1).collect::<Vec<_>>());
/// ```
pub fn bootstrap_indices(
    n: usize,
    resamples: usize,
    seed: u64,
) -> impl Iterator<Item = Vec<usize>> {
    (0..resamples).map(move |b| {
        let mut rng = stream(seed, b as u64);
        (0..n).map(|_| rng.random_range(0..n)).collect()
    })
}

/// The means of the indicators (memorized, spurious, generalized, off-support, f_mem) over the
/// samples, and over each of `resamples` bootstrap resamples of them ([`bootstrap_indices`]).
pub(crate) fn bootstrap(
    c: &Classification,
    resamples: usize,
    seed: u64,
) -> ([f64; 5], Vec<[f64; 5]>) {
    let ind = indicators(c);
    let n = ind.len();
    let boot = bootstrap_indices(n, resamples, seed)
        .map(|idx| means(&ind, idx.into_iter()))
        .collect();
    (means(&ind, 0..n), boot)
}

/// Fractions with bootstrap 95% intervals over `resamples` resamples of the samples.
///
/// ```
/// use memscape::analysis::samples::classify::{ThresholdSpec, classify, fractions};
/// use ndarray::array;
///
/// let train = array![[0.0, 0.0], [4.0, 0.0]];
/// // two copies of training points and two new points far from both
/// let samples = array![[0.0, 0.0], [4.0, 0.0], [2.0, 3.0], [2.0, -3.0]];
/// let c = classify(train.view(), samples.view(), None, &ThresholdSpec::default(), None)?;
/// let f = fractions(&c, 200, 0);
/// assert_eq!(f.memorized.value, 0.5);
/// assert!(f.memorized.ci[0] <= 0.5 && 0.5 <= f.memorized.ci[1]);
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn fractions(c: &Classification, resamples: usize, seed: u64) -> Fractions {
    let (point, boot) = bootstrap(c, resamples, seed);
    let est = |j: usize| Estimate {
        value: point[j],
        ci: percentile_interval(boot.iter().map(|b| b[j]).collect()),
    };
    Fractions {
        memorized: est(0),
        spurious: est(1),
        generalized: est(2),
        off_support: est(3),
        f_mem: est(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn classes_partition_with_memorized_first() {
        let train = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        // spacing 1 → delta_m 0.25, delta_s 1/16
        let samples = array![
            [0.01, 0.0], // memorized (and its neighbour is close, memorized wins)
            [0.02, 0.0], // memorized
            [0.5, 0.5],  // spurious: reproduced by the next row
            [0.51, 0.5], // spurious
            [0.5, 2.0],  // generalized
        ];
        let c = classify(
            train.view(),
            samples.view(),
            None,
            &ThresholdSpec::default(),
            None,
        )
        .unwrap();
        assert_eq!(c.thresholds.train_spacing, 1.0);
        use Class::*;
        assert_eq!(
            c.classes,
            vec![Memorized, Memorized, Spurious, Spurious, Generalized]
        );
        assert_eq!(c.ratio_memorized, vec![true, true, false, false, false]);
        let f = fractions(&c, 200, 1);
        let values = [
            f.memorized,
            f.spurious,
            f.generalized,
            f.off_support,
            f.f_mem,
        ];
        assert_eq!(values.map(|e| e.value), [0.4, 0.4, 0.2, 0.0, 0.4]);
        // 2 of 5 resampled: P(0 of 5) = 0.6⁵ = 0.078 and P(≥ 4 of 5) = 0.087 exceed 2.5%, while
        // P(5 of 5) = 0.010 does not: the percentile interval is [0, 0.8]
        assert_eq!(f.memorized.ci, [0.0, 0.8]);
        assert_eq!(f.off_support.ci, [0.0, 0.0]);
    }

    #[test]
    fn censored_interval_leaves_open_the_side_that_resamples_miss() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        v[99] = f64::INFINITY; // 1 of 100 never crosses: the 97.5% rank (97) is still finite
        assert_eq!(censored_interval(v.clone()), [Some(3.0), Some(98.0)]);
        v[90..].fill(f64::INFINITY); // 10 of 100 never cross
        assert_eq!(censored_interval(v.clone()), [Some(3.0), None]);
        v[..10].fill(f64::NEG_INFINITY); // and 10 lie below the range
        assert_eq!(censored_interval(v), [None, None]);
        assert_eq!(censored_interval(vec![]), [None, None]);
    }

    #[test]
    fn an_independent_batch_decides_spurious() {
        let train = array![[0.0], [10.0]];
        let a = array![[5.0], [5.001]];
        let far = array![[7.0]];
        let near = array![[5.0005]];
        let spec = ThresholdSpec {
            delta_s: Threshold::Value(0.01),
            ..Default::default()
        };
        let alone = classify(train.view(), a.view(), Some(far.view()), &spec, None).unwrap();
        assert_eq!(alone.classes, vec![Class::Generalized; 2]);
        let reproduced = classify(train.view(), a.view(), Some(near.view()), &spec, None).unwrap();
        assert_eq!(reproduced.classes, vec![Class::Spurious; 2]);
    }

    #[test]
    fn bad_input() {
        let one = Array2::<f64>::zeros((1, 2));
        assert!(
            classify(
                one.view(),
                one.view(),
                None,
                &ThresholdSpec::default(),
                None
            )
            .unwrap_err()
            .to_string()
            .contains("at least 2 points")
        );
        assert!(
            Threshold::parse("--delta-m", "-1")
                .unwrap_err()
                .to_string()
                .contains("--delta-m must be a number > 0, \"auto\" or \"calibrated[:q]\", got -1")
        );
        assert_eq!(
            Threshold::parse("--delta-s", "auto").unwrap(),
            Threshold::Auto
        );
    }

    /// The gate's contract on data whose distribution is known (issue 14): fresh draws of the
    /// true distribution are generalized (≥ 0.9) and rarely off-support (≤ 0.05), copies of
    /// training points stay memorized (= 1), and Gaussian noise at the data's scale is
    /// off-support (≥ 0.9), for the circle and an 8-D Gaussian mixture. On the circle (a 1-D
    /// manifold) the automatic delta_m = s/4 labels ln2/4 ≈ 17% of fresh draws memorized by
    /// design (module docs), so there the thresholds are copy-scale ones, s/50 and s/200.
    #[test]
    fn the_support_gate_passes_the_distribution_and_fails_noise() {
        use crate::analysis::samples::support::{SUPPORT_QUANTILE, SupportGate};
        use crate::dataset::synthetic;
        let (gmm, _) = synthetic::gmm(2600, 8, 2, 8f64.sqrt(), 1.0, 5);
        let pools = [
            (
                "circle",
                synthetic::circle(2600, 1.0, 5),
                Some((50.0, 200.0)),
            ),
            ("gmm", gmm, None),
        ];
        for (name, pool, copy_scale) in pools {
            let d = pool.ncols();
            let train = pool.slice(ndarray::s![..100, ..]);
            let heldout = pool.slice(ndarray::s![100..1100, ..]);
            let fresh = pool.slice(ndarray::s![1100..1600, ..]);
            let fresh_b = pool.slice(ndarray::s![1600..2100, ..]);
            let gate = SupportGate::calibrate(train, heldout, SUPPORT_QUANTILE).unwrap();
            let spacing = train_spacing(train).unwrap();
            let spec = match copy_scale {
                Some((m, s)) => ThresholdSpec {
                    delta_m: Threshold::Value(spacing / m),
                    delta_s: Threshold::Value(spacing / s),
                    ..Default::default()
                },
                None => ThresholdSpec::default(),
            };
            let f = |c: &Classification| fractions(c, 0, 0);
            let c = classify(train, fresh, Some(fresh_b), &spec, Some(&gate)).unwrap();
            let fr = f(&c);
            assert!(
                fr.generalized.value >= 0.9 && fr.off_support.value <= 0.05,
                "{name}: fresh draws {fr:?}"
            );
            let copies = train.to_owned();
            let c = classify(train, copies.view(), None, &spec, Some(&gate)).unwrap();
            assert_eq!(f(&c).memorized.value, 1.0, "{name}: copies");
            let scale = (pool.mapv(|v| v * v).sum() / pool.nrows() as f64).sqrt();
            let noise = crate::rng::normal_matrix(500, d, 9) * (2.0 * scale / (d as f64).sqrt());
            let c = classify(train, noise.view(), None, &spec, Some(&gate)).unwrap();
            let fr = f(&c);
            assert!(
                fr.off_support.value >= 0.9 && fr.generalized.value <= 0.1,
                "{name}: noise {fr:?}"
            );
            assert_eq!(c.support.unwrap().heldout, 1000);
        }
    }
}
