//! What a census finds: the attractors and saddles by kind ([`AttractorKind`], [`Attractor`]),
//! their counts, the unsettled samples, the cost, the Euler check ([`Census`]) and the summary
//! a dynamics row keeps ([`CensusSummary`]).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::fixed::Uncertainty;
use crate::analysis::landscape::saddles::Origin;

/// What a fixed point (or set) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttractorKind {
    Memory,
    Spurious,
    OffSupport,
    Manifold,
    Saddle,
    Uncertain,
}

impl AttractorKind {
    pub const ALL: [AttractorKind; 6] = [
        AttractorKind::Memory,
        AttractorKind::Spurious,
        AttractorKind::OffSupport,
        AttractorKind::Manifold,
        AttractorKind::Saddle,
        AttractorKind::Uncertain,
    ];

    /// The kind as tables and JSON write it (snake case).
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::AttractorKind;
    ///
    /// assert_eq!(AttractorKind::OffSupport.name(), "off_support");
    /// let names: Vec<&str> = AttractorKind::ALL.iter().map(|k| k.name()).collect();
    /// assert_eq!(names, ["memory", "spurious", "off_support", "manifold", "saddle", "uncertain"]);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            AttractorKind::Memory => "memory",
            AttractorKind::Spurious => "spurious",
            AttractorKind::OffSupport => "off_support",
            AttractorKind::Manifold => "manifold",
            AttractorKind::Saddle => "saddle",
            AttractorKind::Uncertain => "uncertain",
        }
    }

    /// Whether samples can settle in it: a stable point or a manifold.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::AttractorKind;
    ///
    /// assert!(AttractorKind::Spurious.is_attractor() && AttractorKind::Manifold.is_attractor());
    /// assert!(!AttractorKind::Saddle.is_attractor() && !AttractorKind::Uncertain.is_attractor());
    /// ```
    pub fn is_attractor(self) -> bool {
        matches!(
            self,
            AttractorKind::Memory
                | AttractorKind::Spurious
                | AttractorKind::OffSupport
                | AttractorKind::Manifold
        )
    }
}

/// One fixed point (or manifold) of the census.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attractor {
    /// The point (for a manifold, its member with the smallest residual).
    pub x: Vec<f64>,
    pub kind: AttractorKind,
    /// Unstable directions found (None when no spectrum was computed).
    pub index: Option<usize>,
    pub certified: bool,
    /// Why the index is not certified.
    pub uncertain: Option<Uncertainty>,
    /// Share of the samples whose converged flow reached it (0 for points found only by the
    /// saddle search), and its bootstrap 95% interval.
    pub basin: f64,
    pub basin_ci: [f64; 2],
    /// 1 − Re λ_max of J: the flow's contraction rate onto a stable point (see
    /// [`crate::analysis::landscape::fixed::Stability`]).
    pub gap: Option<f64>,
    /// The leading eigenvalues of J as (re, im), largest real part first.
    pub eigenvalues: Vec<[f64; 2]>,
    /// ‖J − Jᵀ‖_F / ‖J‖_F.
    pub asymmetry: Option<f64>,
    /// Distance to the nearest training pattern.
    pub nearest_train: f64,
    /// |x − D(x)|.
    pub residual: f64,
    /// How far the true fixed point may lie: residual / distance from degeneracy.
    pub position_uncertainty: Option<f64>,
    /// A manifold's neutral directions (its dimension) and extent (the largest distance
    /// between two of its settled samples).
    pub dimension: Option<usize>,
    pub extent: Option<f64>,
    pub origin: Origin,
}

/// Counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub memory: usize,
    pub spurious: usize,
    pub off_support: usize,
    #[serde(default)]
    pub manifold: usize,
    pub saddle: usize,
    pub uncertain: usize,
}

impl KindCounts {
    /// The count of `kind`.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::{AttractorKind, KindCounts};
    ///
    /// let counts = KindCounts { memory: 3, saddle: 2, ..Default::default() };
    /// assert_eq!(counts.get(AttractorKind::Memory), 3);
    /// assert_eq!(counts.get(AttractorKind::Saddle), 2);
    /// assert_eq!(counts.get(AttractorKind::Spurious), 0);
    /// ```
    pub fn get(&self, kind: AttractorKind) -> usize {
        match kind {
            AttractorKind::Memory => self.memory,
            AttractorKind::Spurious => self.spurious,
            AttractorKind::OffSupport => self.off_support,
            AttractorKind::Manifold => self.manifold,
            AttractorKind::Saddle => self.saddle,
            AttractorKind::Uncertain => self.uncertain,
        }
    }

    pub(super) fn add(&mut self, kind: AttractorKind) {
        *match kind {
            AttractorKind::Memory => &mut self.memory,
            AttractorKind::Spurious => &mut self.spurious,
            AttractorKind::OffSupport => &mut self.off_support,
            AttractorKind::Manifold => &mut self.manifold,
            AttractorKind::Saddle => &mut self.saddle,
            AttractorKind::Uncertain => &mut self.uncertain,
        } += 1;
    }

    /// Stable points and manifolds: the states samples can settle in.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::KindCounts;
    ///
    /// // saddles and uncertain points hold no samples
    /// let counts =
    ///     KindCounts { memory: 3, spurious: 1, manifold: 1, saddle: 2, uncertain: 1, off_support: 0 };
    /// assert_eq!(counts.attractors(), 5);
    /// ```
    pub fn attractors(&self) -> usize {
        self.memory + self.spurious + self.off_support + self.manifold
    }
}

/// Why samples are in no basin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsettledCounts {
    /// The flow did not converge (or left the finite numbers).
    pub unconverged: usize,
    /// It ended on a flat set (D near the identity).
    pub flat: usize,
    /// It ended at a saddle or at a point whose index is uncertain.
    pub saddle_or_uncertain: usize,
    /// Its group was beyond `max_groups`.
    pub not_analysed: usize,
}

impl UnsettledCounts {
    /// All the unsettled samples, whatever the reason.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::UnsettledCounts;
    ///
    /// let reasons = UnsettledCounts { unconverged: 2, flat: 1, saddle_or_uncertain: 0, not_analysed: 4 };
    /// assert_eq!(reasons.total(), 7);
    /// ```
    pub fn total(&self) -> usize {
        self.unconverged + self.flat + self.saddle_or_uncertain + self.not_analysed
    }
}

/// The denoiser rows of each stage (a stage a stored document lacks reads as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CensusCost {
    /// Settling the samples.
    pub settle: usize,
    /// The midpoint flows that link near-neutral sets.
    pub link: usize,
    /// Newton (with polishing and the merge tests), spectra and asymmetry probes.
    pub newton: usize,
    pub stability: usize,
    /// Strings and the Newton runs and spectra of the saddle search.
    pub saddles: usize,
}

impl CensusCost {
    /// The denoiser rows of all the stages.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::CensusCost;
    ///
    /// let cost = CensusCost { settle: 100, link: 10, newton: 40, stability: 30, saddles: 20 };
    /// assert_eq!(cost.total(), 200);
    /// ```
    pub fn total(&self) -> usize {
        self.settle + self.link + self.newton + self.stability + self.saddles
    }
}

/// The Poincaré–Hopf count of a 2-D census.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EulerCheck {
    /// The box [x0, x1, y0, y1] counted in (the data's padded box).
    pub bounds: [f64; 4],
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
    /// #minima − #saddles + #maxima.
    pub chi: i64,
    /// Whether the flow points into the box all along its edge (where χ must be 1).
    pub inward: bool,
    /// Whether the count can be made: no manifold or uncertain point inside.
    pub countable: bool,
}

impl EulerCheck {
    /// Whether the count shows points missing: inward flow, countable, and χ ≠ 1.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::EulerCheck;
    ///
    /// // two minima and one saddle: χ = 1, complete
    /// let check = EulerCheck {
    ///     bounds: [-1.0, 1.0, -1.0, 1.0],
    ///     minima: 2, saddles: 1, maxima: 0, chi: 1,
    ///     inward: true, countable: true,
    /// };
    /// assert!(!check.fails());
    /// // the saddle between them missed: χ = 2
    /// let missing = EulerCheck { saddles: 0, chi: 2, ..check };
    /// assert!(missing.fails());
    /// // with the flow leaving the box, χ need not be 1
    /// assert!(!EulerCheck { inward: false, ..missing }.fails());
    /// ```
    pub fn fails(&self) -> bool {
        self.inward && self.countable && self.chi != 1
    }
}

/// The census at one noise level.
#[derive(Debug, Clone, Serialize)]
pub struct Census {
    pub sigma: f64,
    pub attractors: Vec<Attractor>,
    pub counts: KindCounts,
    /// For each sample, the position in `attractors` of the attractor its converged flow
    /// reached (None: unsettled).
    pub sample_attractor: Vec<Option<usize>>,
    /// Samples in no basin: their number, share with its bootstrap interval, and the reasons.
    pub unsettled: usize,
    pub unsettled_share: f64,
    pub unsettled_ci: [f64; 2],
    pub unsettled_reasons: UnsettledCounts,
    /// Samples whose flow converged (or settled on a near-neutral set).
    pub settled: usize,
    /// Groups of converged samples and near-neutral sets, and Newton starts that did not
    /// converge.
    pub groups: usize,
    pub neutral_sets: usize,
    pub unconverged_starts: usize,
    /// Denoiser rows of each stage.
    pub cost: CensusCost,
    /// On 2-D data, the Poincaré–Hopf count.
    pub euler: Option<EulerCheck>,
    /// Where each sample's flow ended.
    #[serde(skip)]
    pub settled_points: Array2<f64>,
}

impl Census {
    /// The census of a network near the identity: no attractor, every sample unsettled on a
    /// flat set.
    pub(super) fn flat(sigma: f64, samples: ArrayView2<f64>, cost: CensusCost) -> Self {
        let n = samples.nrows();
        Census {
            sigma,
            attractors: vec![],
            counts: KindCounts::default(),
            sample_attractor: vec![None; n],
            unsettled: n,
            unsettled_share: 1.0,
            unsettled_ci: [1.0, 1.0],
            unsettled_reasons: UnsettledCounts {
                flat: n,
                ..Default::default()
            },
            settled: 0,
            groups: 0,
            neutral_sets: 0,
            unconverged_starts: 0,
            cost,
            euler: None,
            settled_points: samples.to_owned(),
        }
    }

    /// The kind of the attractor each sample reached.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::AttractorKind;
    /// # use memscape::analysis::landscape::attractor::{CensusConfig, census};
    /// # use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// # use ndarray::array;
    /// // three patterns at sigma = 0.1: two samples settle into the first memory, one into each other
    /// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
    /// # let den = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
    /// # let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
    ///
    /// assert_eq!(c.sample_kinds(), vec![Some(AttractorKind::Memory); 4]);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn sample_kinds(&self) -> Vec<Option<AttractorKind>> {
        self.sample_attractor
            .iter()
            .map(|a| a.map(|i| self.attractors[i].kind))
            .collect()
    }

    /// The basin sizes (shares of samples) of the attractors of `kind`, largest first.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::AttractorKind;
    /// # use memscape::analysis::landscape::attractor::{CensusConfig, census};
    /// # use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// # use ndarray::array;
    /// // three patterns at sigma = 0.1: two samples settle into the first memory, one into each other
    /// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
    /// # let den = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
    /// # let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
    ///
    /// assert_eq!(c.basins(AttractorKind::Memory), [0.5, 0.25, 0.25]);
    /// assert!(c.basins(AttractorKind::Spurious).is_empty());
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn basins(&self, kind: AttractorKind) -> Vec<f64> {
        let mut b: Vec<f64> = self
            .attractors
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.basin)
            .collect();
        b.sort_by(|a, b| b.total_cmp(a));
        b
    }

    /// Distinct attractors that hold samples: stable points and manifolds with a basin.
    ///
    /// ```
    /// # use memscape::analysis::landscape::attractor::{CensusConfig, census};
    /// # use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// # use ndarray::array;
    /// // three patterns at sigma = 0.1: two samples settle into the first memory, one into each other
    /// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
    /// # let den = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
    /// # let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
    ///
    /// // the three memories; saddles found between them hold no samples
    /// assert_eq!(c.attractors_reached(), 3);
    /// assert!(c.counts.saddle > 0 && c.attractors.len() == 3 + c.counts.saddle);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn attractors_reached(&self) -> usize {
        self.attractors
            .iter()
            .filter(|a| a.kind.is_attractor() && a.basin > 0.0)
            .count()
    }

    /// Denoiser rows per settled sample, for all the census's work.
    ///
    /// ```
    /// # use memscape::analysis::landscape::attractor::{CensusConfig, census};
    /// # use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// # use ndarray::array;
    /// // three patterns at sigma = 0.1: two samples settle into the first memory, one into each other
    /// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
    /// # let den = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
    /// # let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
    ///
    /// // all four samples settled
    /// assert_eq!(c.settled, 4);
    /// assert_eq!(c.rows_per_settled_sample(), c.cost.total() as f64 / 4.0);
    /// assert!(c.rows_per_settled_sample() >= 1.0); // settling alone takes a row per sample
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn rows_per_settled_sample(&self) -> f64 {
        self.cost.total() as f64 / self.settled.max(1) as f64
    }
}

/// A census as one row of a table: counts by kind, basin shares, masses, the unsettled share
/// and the cost (`map` and `dynamics` keep one per K and checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CensusSummary {
    pub counts: KindCounts,
    /// Basin shares of the memory, spurious, off-support and manifold attractors, largest
    /// first.
    pub memory_basins: Vec<f64>,
    pub spurious_basins: Vec<f64>,
    pub off_support_basins: Vec<f64>,
    #[serde(default)]
    pub manifold_basins: Vec<f64>,
    /// Shares of the samples in memory, spurious and manifold basins.
    #[serde(default, deserialize_with = "crate::numbers::null_as_nan")]
    pub memory_mass: f64,
    #[serde(default, deserialize_with = "crate::numbers::null_as_nan")]
    pub spurious_mass: f64,
    #[serde(default, deserialize_with = "crate::numbers::null_as_nan")]
    pub manifold_mass: f64,
    /// The share of samples in spurious basins that persist to the next checkpoint (set by a
    /// study along training; None elsewhere).
    #[serde(default)]
    pub persistent_spurious_mass: Option<f64>,
    /// The manifolds' dimensions, largest basin first.
    #[serde(default)]
    pub manifold_dimensions: Vec<usize>,
    /// Samples in no basin: their number, share (with its bootstrap interval) and reasons.
    #[serde(default)]
    pub unsettled: usize,
    #[serde(default, deserialize_with = "crate::numbers::null_as_nan")]
    pub unsettled_share: f64,
    #[serde(default)]
    pub unsettled_ci: [f64; 2],
    #[serde(default)]
    pub unsettled_reasons: UnsettledCounts,
    /// Newton starts that did not converge.
    #[serde(default)]
    pub unconverged_starts: usize,
    /// Denoiser rows of the whole census, and per settled sample.
    #[serde(default)]
    pub rows: usize,
    #[serde(default, deserialize_with = "crate::numbers::null_as_nan")]
    pub rows_per_settled_sample: f64,
    /// Median asymmetry ‖J − Jᵀ‖/‖J‖ over the stable points (None: none measured).
    #[serde(default)]
    pub asymmetry: Option<f64>,
    /// Whether the census can be read: some attractor holds samples, or at most half the
    /// samples are unsettled. A network whose D is near the identity (early in training)
    /// has neither: its checkpoint is too early to read.
    #[serde(default = "readable_default")]
    pub readable: bool,
}

fn readable_default() -> bool {
    true
}

impl CensusSummary {
    /// The summary of census `c`.
    ///
    /// ```
    /// # use memscape::analysis::landscape::attractor::{CensusConfig, CensusSummary, census};
    /// # use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
    /// # use ndarray::array;
    /// // three patterns at sigma = 0.1: two samples settle into the first memory, one into each other
    /// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
    /// # let den = EmpiricalDenoiser::<f64>::new(train.view())?;
    /// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
    /// # let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
    ///
    /// let s = CensusSummary::of(&c);
    /// assert_eq!(s.counts.memory, 3);
    /// assert_eq!(s.memory_basins, [0.5, 0.25, 0.25]);
    /// assert_eq!((s.memory_mass, s.spurious_mass, s.unsettled_share), (1.0, 0.0, 0.0));
    /// assert!(s.readable);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn of(c: &Census) -> Self {
        let kinds = c.sample_kinds();
        let n = kinds.len().max(1) as f64;
        let mass =
            |kind: AttractorKind| kinds.iter().filter(|k| **k == Some(kind)).count() as f64 / n;
        let mut asym: Vec<f64> = c
            .attractors
            .iter()
            .filter(|a| a.index == Some(0) && a.kind != AttractorKind::Manifold)
            .filter_map(|a| a.asymmetry)
            .collect();
        asym.sort_by(f64::total_cmp);
        let mut manifolds: Vec<&Attractor> = c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Manifold)
            .collect();
        manifolds.sort_by(|a, b| b.basin.total_cmp(&a.basin));
        CensusSummary {
            counts: c.counts,
            memory_basins: c.basins(AttractorKind::Memory),
            spurious_basins: c.basins(AttractorKind::Spurious),
            off_support_basins: c.basins(AttractorKind::OffSupport),
            manifold_basins: c.basins(AttractorKind::Manifold),
            memory_mass: mass(AttractorKind::Memory),
            spurious_mass: mass(AttractorKind::Spurious),
            manifold_mass: mass(AttractorKind::Manifold),
            persistent_spurious_mass: None,
            manifold_dimensions: manifolds.iter().filter_map(|a| a.dimension).collect(),
            unsettled: c.unsettled,
            unsettled_share: c.unsettled_share,
            unsettled_ci: c.unsettled_ci,
            unsettled_reasons: c.unsettled_reasons,
            unconverged_starts: c.unconverged_starts,
            rows: c.cost.total(),
            rows_per_settled_sample: c.rows_per_settled_sample(),
            asymmetry: (!asym.is_empty()).then(|| asym[asym.len() / 2]),
            readable: c.attractors_reached() > 0 || c.unsettled_share <= 0.5,
        }
    }
}
