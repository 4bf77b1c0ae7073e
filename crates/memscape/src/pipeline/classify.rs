//! `memscape classify` as a library study: samples from anywhere, labelled memorized,
//! spurious, generalized or off-support against a training set, with the class fractions'
//! bootstrap intervals ([`classify`]).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::analysis::samples::chance::{Chance, chance};
use crate::analysis::samples::classify::{
    self as samples, CSV_HEADER, Classification, FractionValues, Fractions, Resolved,
    ThresholdSpec, fractions,
};
use crate::analysis::samples::fidelity::{Fidelity, fidelity_if_measurable};
use crate::analysis::samples::support::SupportCalibration;
use crate::analysis::samples::support::{SUPPORT_QUANTILE, SupportGate};
use crate::error::{Error, Result};
use crate::store::{CsvTable, RunDir};

/// How samples are classified: the thresholds (distances or automatic) and the f_mem ratio,
/// the support gate's quantile (used when held-out points are given), and the bootstrap of
/// the fractions' intervals.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClassifyRequest {
    pub thresholds: ThresholdSpec,
    pub support_quantile: f64,
    /// Bootstrap resamples of the samples for the fractions' 95% intervals.
    pub resamples: usize,
    pub seed: u64,
}

impl Default for ClassifyRequest {
    /// Automatic thresholds with Bonnaire et al.'s f_mem ratio 1/3
    /// ([`ThresholdSpec::default`]), the gate's default quantile, 1000 resamples, seed 0:
    /// `memscape classify`'s flags and Python's `classify` read these.
    fn default() -> Self {
        ClassifyRequest {
            thresholds: ThresholdSpec::default(),
            support_quantile: SUPPORT_QUANTILE,
            resamples: 1000,
            seed: 0,
        }
    }
}

/// What a classification of one set of samples reports: the class fractions and f_mem with
/// their intervals, the thresholds used and the support gate's calibration. The CLI's
/// `classify --json` prints it and the Python package returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifySummary {
    #[serde(flatten)]
    pub fractions: FractionValues,
    pub thresholds: Resolved,
    pub support: Option<SupportCalibration>,
    pub num_samples: usize,
    pub num_train: usize,
    /// "other samples", or "samples-b" when spurious was judged against an independent batch.
    pub spurious_against: String,
    /// The chance levels of held-out draws and the excess over them, when held-out data was
    /// given.
    pub chance: Option<Chance>,
    /// The Fréchet distance of the samples to the held-out data (with its floor), precision
    /// and recall, when held-out data was given and both sets are large enough.
    pub fidelity: Option<Fidelity>,
}

impl ClassifySummary {
    /// The summary of `c` with fractions `f`, chance levels `chance` and fidelity `fidelity`, for
    /// a training set of `num_train` points.
    ///
    /// ```
    /// use memscape::analysis::samples::classify::{ThresholdSpec, classify, fractions};
    /// use memscape::pipeline::ClassifySummary;
    /// use ndarray::array;
    ///
    /// // one sample on a pattern, two reproducing the midpoint
    /// let train = array![[0.0, 0.0], [1.0, 0.0]];
    /// let samples = array![[0.0, 0.01], [0.5, 0.0], [0.5, 0.0]];
    /// let c = classify(train.view(), samples.view(), None, &ThresholdSpec::default(), None)?;
    /// let s = ClassifySummary::new(&c, &fractions(&c, 50, 0), train.nrows(), false, None, None);
    /// assert_eq!((s.num_samples, s.num_train), (3, 2));
    /// assert_eq!(s.spurious_against, "other samples");
    /// assert!((s.fractions.spurious - 2.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn new(
        c: &Classification,
        f: &Fractions,
        num_train: usize,
        against_batch: bool,
        chance: Option<Chance>,
        fidelity: Option<Fidelity>,
    ) -> Self {
        ClassifySummary {
            fractions: f.into(),
            thresholds: c.thresholds,
            support: c.support,
            num_samples: c.classes.len(),
            num_train,
            spurious_against: if against_batch {
                "samples-b"
            } else {
                "other samples"
            }
            .into(),
            chance,
            fidelity,
        }
    }
}

/// A classified set of samples: per-sample labels and distances, the class fractions with
/// their intervals, and the summary `results.json` holds.
#[derive(Debug, Clone)]
pub struct ClassifyRun {
    pub classification: Classification,
    pub fractions: Fractions,
    pub summary: ClassifySummary,
}

impl ClassifyRun {
    /// Writes `labels.csv` (a row per sample) and `results.json` (the summary); returns the
    /// names written.
    ///
    /// ```
    /// use memscape::analysis::samples::classify::CSV_HEADER;
    /// use memscape::pipeline::{ClassifyRequest, classify};
    /// use memscape::store::RunDir;
    /// use ndarray::array;
    ///
    /// let train = array![[0.0, 0.0], [10.0, 0.0]];
    /// let samples = array![[0.0, 0.01], [5.0, 5.0], [5.0, 5.001]];
    /// let run = classify(train.view(), samples.view(), None, None, &ClassifyRequest::default())?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-classify-{}", std::process::id()));
    /// assert_eq!(run.write(&RunDir::create(&dir)?)?, ["labels.csv", "results.json"]);
    /// // a header and a row per sample, the first on a training point
    /// let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    /// let lines: Vec<&str> = labels.lines().collect();
    /// assert_eq!((lines.len(), lines[0]), (4, CSV_HEADER));
    /// assert!(lines[1].starts_with("0,memorized,"));
    /// let results: serde_json::Value =
    ///     serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    /// assert_eq!((results["num_samples"].as_u64(), results["num_train"].as_u64()), (Some(3), Some(2)));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<Vec<String>> {
        let mut labels = CsvTable::new(CSV_HEADER);
        for row in self.classification.csv_rows() {
            labels.row(row);
        }
        out.write_bytes("labels.csv", labels.into_string().as_bytes())?;
        out.write_json("results.json", &self.summary)?;
        Ok(vec!["labels.csv".into(), "results.json".into()])
    }
}

/// Classifies `samples` against `train` (rows are points): memorized within delta_m of a
/// training point, spurious within delta_s of another sample (or of `samples_b`, an
/// independent batch), off-support past the support gate calibrated on `heldout` (when given),
/// generalized otherwise; then the fractions with bootstrap intervals (Pham et al. 2025 §4.1;
/// `theory.md` §4).
///
/// ```
/// use memscape::pipeline::{ClassifyRequest, classify};
/// use ndarray::array;
///
/// let train = array![[0.0, 0.0], [10.0, 0.0]];
/// // one sample on a training point, two close together far from both
/// let samples = array![[0.0, 0.01], [5.0, 5.0], [5.0, 5.001]];
/// let run = classify(train.view(), samples.view(), None, None, &ClassifyRequest::default())?;
/// assert_eq!(run.summary.num_samples, 3);
/// assert!((run.fractions.memorized.value - 1.0 / 3.0).abs() < 1e-12);
/// assert!((run.fractions.spurious.value - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// No samples, samples, `samples_b` or `heldout` of another dimension than `train`, a
/// held-out set that shares points with `train` or is too small for the gate, and the
/// classification's own (an f_mem ratio outside (0, 1], non-finite points).
pub fn classify(
    train: ArrayView2<f64>,
    samples: ArrayView2<f64>,
    samples_b: Option<ArrayView2<f64>>,
    heldout: Option<ArrayView2<f64>>,
    request: &ClassifyRequest,
) -> Result<ClassifyRun> {
    if samples.nrows() == 0 {
        return Err(Error::invalid("samples", "at least one row", "none"));
    }
    let d = train.ncols();
    for (name, x) in [
        ("samples", Some(samples)),
        ("samples_b", samples_b),
        ("heldout", heldout),
    ] {
        if let Some(x) = x
            && x.ncols() != d
        {
            return Err(Error::invalid(
                name,
                format!("the training set's dimension {d}"),
                format!("{} columns", x.ncols()),
            ));
        }
    }
    let gate = heldout
        .map(|h| SupportGate::calibrate_user(train, h, request.support_quantile))
        .transpose()?;
    let classification = samples::classify(
        train,
        samples,
        samples_b,
        &request.thresholds,
        gate.as_ref(),
    )?;
    let fractions = fractions(&classification, request.resamples, request.seed);
    let chance = heldout
        .map(|h| {
            chance(
                train,
                h,
                &classification,
                samples_b.map(|b| b.nrows()),
                request.resamples,
                request.seed,
                request.seed,
            )
        })
        .transpose()?;
    let fidelity = heldout
        .map(|h| fidelity_if_measurable(samples, h))
        .transpose()?
        .flatten();
    let summary = ClassifySummary::new(
        &classification,
        &fractions,
        train.nrows(),
        samples_b.is_some(),
        chance,
        fidelity,
    );
    Ok(ClassifyRun {
        classification,
        fractions,
        summary,
    })
}
