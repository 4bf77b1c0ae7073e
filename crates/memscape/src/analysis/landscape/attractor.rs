//! The attractors a model's samples reach, by kind, with their basins: a census of the
//! landscape of any [`Denoiser`] at one noise level.
//!
//! 1. **Settle** every sample ([`super::settle`]): the flow dx/ds = D(x) − x for a trained
//!    network (pseudo-transient continuation, which converges where x ← D(x) diverges), the
//!    unit step x ← D(x) for the exact model (CCCP). A sample ends converged (|x − D(x)| ≤ tol),
//!    neutral (on a near-neutral set), or unsettled.
//! 2. **Group**: converged samples within `group_radius` (delta_s) are one group; neutral
//!    samples are linked into connected near-neutral sets ([`super::manifold`]).
//! 3. **Polish and certify**: each group's best sample starts Newton–Krylov, polished to the
//!    arithmetic's round-off ([`super::fixed`]); each point gets the rightmost part of its
//!    Jacobian spectrum (every eigenvalue with Re λ > 1 − margin, and the gap). Each
//!    near-neutral set gets the spectrum at up to three of its samples, spread over it.
//! 4. **Merge by what is known**: two points closer than 3 × their position uncertainties
//!    (residual / distance from degeneracy) are one when Newton from their midpoint reaches a
//!    point within those uncertainties of both.
//! 5. **Saddles beyond midpoints** ([`super::saddles`]): Newton from the midpoints of
//!    neighbouring stable points, from the saddle neighbourhoods of strings between them, from
//!    each stable point along its softest directions, and on 2-D data up the index ladder.
//! 6. **Kinds**:
//!
//! ```text
//! memory       certified index 0, within delta_m of a training pattern
//! spurious     certified index 0, not a memory, on the data's support
//! off_support  certified index 0, farther from the data than the support gate allows
//! manifold     a connected stable set with n ≥ 1 eigenvalues within the margin of 1 (a
//!              continuum of near-fixed points; dimension n) and no unstable direction
//! saddle       certified index ≥ 1
//! uncertain    index not certified: an eigenvalue within the margin of 1 beside an unstable
//!              one (near_one), or the rightmost spectrum did not converge (unconverged)
//! ```
//!
//! A set on which every eigenvalue found is neutral is **flat**: the map is near the identity there
//! (an untrained network), and it is no attractor. When the spectra at three spread samples are all
//! flat, the network is near the identity everywhere it was sampled: the census stops there, every
//! sample unsettled. The basin of an attractor is the share of samples whose converged flow reached
//! it (a Monte Carlo estimate of its mass under the sampling distribution), with a bootstrap 95%
//! interval; samples whose flow did not converge, ended on a flat set or at a saddle, or whose
//! group was not analysed are **unsettled**, and their share is reported beside every basin. The
//! kinds follow the sample classes' precedence ([`crate::analysis::samples::classify`]): a stable
//! state off the data is never spurious.
//!
//! On 2-D data the census checks its completeness as the exact model's search does: when the
//! flow points into the data's padded box all along its edge, the critical points inside
//! satisfy #minima − #saddles + #maxima = 1 (Poincaré–Hopf); a failure is reported, not hidden.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::basin::padded_box;
use super::fixed::{
    FixedPoint, FixedPointConfig, SOFTEST, Stability, Status, Uncertainty, fixed_points,
    newton_krylov, stability,
};
use super::krylov::Cost;
use super::manifold::{LINK_PROBES, extent, links_hold, neutral_sets};
use super::saddles::{
    Origin, SADDLE_NEIGHBOURS, directional_starts, midpoints, reaches, stack, string_starts,
};
use super::settle::{SettleConfig, SettleStatus, Settled, settle};
use crate::analysis::samples::classify::{bootstrap_indices, percentile_interval};
use crate::analysis::samples::distance::{group, knn, knn_pairs, squared_distance};
use crate::analysis::samples::support::SupportGate;
use crate::denoiser::{Arithmetic, Denoiser};
use crate::error::{Error, Result};

/// Members of a near-neutral set whose spectra decide its kind and dimension.
const MANIFOLD_PROBES: usize = 3;
/// Points closer than this many position uncertainties are tested for being one.
const MERGE_UNCERTAINTIES: f64 = 3.0;

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

/// Where the census looks for saddles beyond the samples' own attractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaddleSearch {
    /// Only the points the samples reach.
    None,
    /// Newton from the midpoints of neighbouring stable points (one start per pair).
    Midpoints,
    /// Midpoints, strings, softest directions, and the index ladder on 2-D data.
    Full,
}

/// How the census runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CensusConfig {
    pub settle: SettleConfig,
    /// Newton, the spectra and the neutral band (`fixed.margin`, which the settling shares).
    pub fixed: FixedPointConfig,
    /// Settled samples closer than this are one group (delta_s).
    pub group_radius: f64,
    /// Stable points within this of a training pattern are memories (delta_m).
    pub memory_radius: f64,
    /// Newton runs from at most this many groups and sets, the most populated first (the
    /// samples of the others count as not analysed).
    pub max_groups: usize,
    /// How far the search for saddles goes beyond the samples' own attractors.
    pub saddle_search: SaddleSearch,
    /// Bootstrap resamples of the basin shares' intervals.
    pub resamples: usize,
}

impl CensusConfig {
    /// The census of a trained network computing in `arithmetic` on data of RMS scale `scale`,
    /// with the classification's radii: the flow to the arithmetic's settling tolerance, Newton
    /// to its tolerance (polished to round-off in f32), the census margin.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::{CensusConfig, DEFAULT_MARGIN};
    /// use memscape::analysis::landscape::settle::SettleMethod;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let config = CensusConfig::trained(Arithmetic::F32, 1.0, 0.05, 0.2, 4);
    /// assert_eq!(config.settle.method, SettleMethod::Flow);
    /// assert_eq!((config.settle.margin, config.fixed.margin), (DEFAULT_MARGIN, DEFAULT_MARGIN));
    /// assert_eq!((config.group_radius, config.memory_radius), (0.05, 0.2));
    /// assert!(config.validate(4).is_ok());
    /// ```
    pub fn trained(
        arithmetic: Arithmetic,
        scale: f64,
        group_radius: f64,
        memory_radius: f64,
        eigenvalues: usize,
    ) -> Self {
        let settle = SettleConfig::flow(scale, arithmetic);
        Self::with(
            settle,
            scale,
            arithmetic,
            [group_radius, memory_radius],
            eigenvalues,
        )
    }

    /// The census of the exact model computing in `arithmetic`: the unit step (CCCP, which
    /// converges on the exact model) to the arithmetic's settling tolerance, Newton to its
    /// tolerance, the census margin.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::{CensusConfig, DEFAULT_MARGIN};
    /// use memscape::analysis::landscape::settle::SettleMethod;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// assert_eq!(config.settle.method, SettleMethod::UnitStep);
    /// assert_eq!(config.settle.max_iterations, 1000);
    /// assert_eq!(config.fixed.margin, DEFAULT_MARGIN);
    /// ```
    pub fn exact(
        arithmetic: Arithmetic,
        scale: f64,
        group_radius: f64,
        memory_radius: f64,
        eigenvalues: usize,
    ) -> Self {
        let settle = SettleConfig::unit_step(arithmetic.settle_tolerance(scale), 1000);
        Self::with(
            settle,
            scale,
            arithmetic,
            [group_radius, memory_radius],
            eigenvalues,
        )
    }

    /// `settle`, Newton and Arnoldi at their defaults for the scale and arithmetic, the census
    /// margin for both, 64 groups, the full saddle search, 200 resamples.
    fn with(
        settle: SettleConfig,
        scale: f64,
        arithmetic: Arithmetic,
        [group_radius, memory_radius]: [f64; 2],
        eigenvalues: usize,
    ) -> Self {
        CensusConfig {
            settle: SettleConfig {
                margin: DEFAULT_MARGIN,
                ..settle
            },
            fixed: FixedPointConfig {
                eigenvalues,
                max_arnoldi: 4 * eigenvalues.max(1) + 40,
                margin: DEFAULT_MARGIN,
                ..FixedPointConfig::for_scale(scale, arithmetic)
            },
            group_radius,
            memory_radius,
            max_groups: 64,
            saddle_search: SaddleSearch::Full,
            resamples: 200,
        }
    }

    /// Checks the fields against dimension `d`; errors name the parameter.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::CensusConfig;
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
    /// assert!(config.validate(2).is_ok());
    /// // two eigenvalues asked for in one dimension; a negative radius
    /// assert!(config.validate(1).unwrap_err().to_string().starts_with("eigenvalues"));
    /// let bad = CensusConfig { group_radius: -1.0, ..config };
    /// assert!(bad.validate(2).unwrap_err().to_string().starts_with("group_radius"));
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule (its settle and Newton parts included), named.
    pub fn validate(&self, d: usize) -> Result<()> {
        self.fixed.validate(d)?;
        self.settle.validate()?;
        for (what, v) in [
            ("group_radius", self.group_radius),
            ("memory_radius", self.memory_radius),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(what, "a finite number ≥ 0", v));
            }
        }
        Ok(())
    }
}

/// The census settings a user sets: the neutral band and the settling flow's tolerance and
/// step bound (data units; None: the defaults for the data's scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CensusSettings {
    /// |1 − Re λ| ≤ margin is neutral: in (0, 1).
    pub margin: f64,
    /// Stop the flow at |x − D(x)| ≤ this (> 0).
    pub settle_tolerance: Option<f64>,
    /// The flow's longest step (> 0).
    pub settle_max_step: Option<f64>,
}

/// The neutral band of a census: eigenvalues of J within 0.01 of 1. Finite-difference
/// Jacobians of float32 networks carry errors near 1e-3, and the tangential eigenvalues of a
/// trained network's data manifold lie within about 0.01 of 1 (the circle's MLP, issue 25).
pub const DEFAULT_MARGIN: f64 = 0.01;

impl Default for CensusSettings {
    fn default() -> Self {
        CensusSettings {
            margin: DEFAULT_MARGIN,
            settle_tolerance: None,
            settle_max_step: None,
        }
    }
}

impl CensusSettings {
    /// Checks the values; errors name the parameter.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::CensusSettings;
    ///
    /// assert!(CensusSettings::default().validate().is_ok());
    /// let wide = CensusSettings { margin: 1.5, ..Default::default() };
    /// assert_eq!(wide.validate().unwrap_err().to_string(), "margin must be in (0, 1), got 1.5");
    /// let still = CensusSettings { settle_tolerance: Some(0.0), ..Default::default() };
    /// assert!(still.validate().unwrap_err().to_string().starts_with("settle_tolerance"));
    /// ```
    ///
    /// # Errors
    /// A value that breaks its rule, named.
    pub fn validate(&self) -> Result<()> {
        if !(self.margin > 0.0 && self.margin < 1.0) {
            return Err(Error::invalid("margin", "in (0, 1)", self.margin));
        }
        for (what, v) in [
            ("settle_tolerance", self.settle_tolerance),
            ("settle_max_step", self.settle_max_step),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(Error::invalid(what, "a finite number > 0", v));
            }
        }
        Ok(())
    }

    /// Sets them on `config`.
    ///
    /// ```
    /// use memscape::analysis::landscape::attractor::{CensusConfig, CensusSettings};
    /// use memscape::denoiser::Arithmetic;
    ///
    /// let mut config = CensusConfig::trained(Arithmetic::F32, 1.0, 0.05, 0.2, 2);
    /// let settings = CensusSettings { margin: 0.05, settle_tolerance: Some(1e-4), settle_max_step: None };
    /// settings.apply(&mut config)?;
    /// assert_eq!((config.fixed.margin, config.settle.margin), (0.05, 0.05));
    /// assert_eq!((config.settle.tolerance, config.settle.max_step), (1e-4, 0.25));
    /// // a bad value sets nothing
    /// assert!(CensusSettings { margin: 0.0, ..settings }.apply(&mut config).is_err());
    /// assert_eq!(config.fixed.margin, 0.05);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A value that breaks its rule, named (nothing is set then).
    pub fn apply(&self, config: &mut CensusConfig) -> Result<()> {
        self.validate()?;
        config.fixed.margin = self.margin;
        config.settle.margin = self.margin;
        if let Some(t) = self.settle_tolerance {
            config.settle.tolerance = t;
        }
        if let Some(m) = self.settle_max_step {
            config.settle.max_step = m;
        }
        Ok(())
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
    /// [`super::fixed::Stability`]).
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

    fn add(&mut self, kind: AttractorKind) {
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

/// The denoiser rows of each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    fn flat(sigma: f64, samples: ArrayView2<f64>, cost: CensusCost) -> Self {
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

/// A point under analysis, before its kind is decided.
struct Candidate {
    x: Array1<f64>,
    residual: f64,
    stability: Option<Stability>,
    asymmetry: Option<f64>,
    /// The samples whose flow reached it.
    members: Vec<usize>,
    /// For a near-neutral set: its dimension (None: not a manifold) and extent.
    manifold: Option<(usize, f64)>,
    flat: bool,
    origin: Origin,
}

impl Candidate {
    fn of(p: FixedPoint, members: Vec<usize>, origin: Origin) -> Self {
        Candidate {
            x: Array1::from(p.x),
            residual: p.residual,
            asymmetry: p.asymmetry.and_then(|a| a.ratio),
            flat: p.stability.as_ref().is_some_and(|s| s.flat()),
            stability: p.stability,
            members,
            manifold: None,
            origin,
        }
    }

    fn uncertainty(&self, margin: f64) -> f64 {
        self.stability.as_ref().map_or(f64::INFINITY, |s| {
            s.position_uncertainty(self.residual, margin)
        })
    }

    /// Index 0 without a neutral direction: a stable point.
    fn stable(&self) -> bool {
        self.stability
            .as_ref()
            .is_some_and(|s| s.certified && s.index == 0)
    }

    /// A point of a continuum ([`Stability::neutral_stable`]).
    fn neutral_stable(&self, margin: f64) -> bool {
        self.stability
            .as_ref()
            .is_some_and(|s| s.neutral_stable(margin))
    }
}

/// Runs the census of `denoiser` at `sigma` from `samples`, against the training set `train`
/// and, where given, the support gate.
///
/// ```
/// use memscape::analysis::landscape::attractor::{CensusConfig, census};
/// use memscape::denoiser::{Arithmetic, EmpiricalDenoiser};
/// use ndarray::array;
///
/// // three patterns at sigma = 0.1: samples near each settle into its memory
/// let train = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];
/// let den = EmpiricalDenoiser::<f64>::new(train.view())?;
/// let samples = array![[0.1, 0.0], [1.9, 0.1], [0.0, 2.1], [0.05, -0.05]];
/// let config = CensusConfig::exact(Arithmetic::F64, 1.0, 0.05, 0.2, 2);
/// let c = census(&den, train.view(), samples.view(), 0.1, None, &config)?;
/// assert_eq!(c.counts.memory, 3);
/// assert_eq!(c.counts.spurious, 0);
/// assert_eq!(c.unsettled, 0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// No samples, a sigma that is not finite and > 0, a configuration that breaks a rule ([`CensusConfig::validate`]), or non-finite samples.
pub fn census(
    denoiser: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    samples: ArrayView2<f64>,
    sigma: f64,
    gate: Option<&SupportGate>,
    config: &CensusConfig,
) -> Result<Census> {
    let d = train.ncols();
    if samples.ncols() != d {
        return Err(Error::ShapeMismatch {
            what: "samples".into(),
            expected: vec![samples.nrows(), d],
            got: vec![samples.nrows(), samples.ncols()],
        });
    }
    if samples.nrows() == 0 {
        return Err(Error::invalid("samples", "at least one row", 0));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(Error::invalid("sigma", "a finite number > 0", sigma));
    }
    config.validate(d)?;
    crate::error::require_finite("samples", samples)?;
    let n = samples.nrows();
    let margin = config.fixed.margin;
    let settle_config = SettleConfig {
        margin,
        ..config.settle
    };
    let mut cost = CensusCost::default();
    // a network near the identity (untrained): every eigenvalue found is neutral at three
    // spread samples; its flow would only creep, and it has no attractor
    let everyone: Vec<usize> = (0..n).collect();
    let probes = spread_members(samples, &everyone, 0);
    let spectra: Vec<Stability> = probes
        .par_iter()
        .enumerate()
        .map(|(k, &i)| {
            let seed = config.fixed.seed ^ 0xF1A7 ^ k as u64;
            stability(denoiser, sigma, samples.row(i), &config.fixed, seed)
        })
        .collect();
    cost.stability = spectra.iter().map(|s| s.cost.rows).sum();
    if spectra.iter().all(|s| s.flat()) {
        return Ok(Census::flat(sigma, samples, cost));
    }
    let settled = settle(denoiser, samples, sigma, &settle_config);
    cost.settle = settled.rows();
    let mut reasons = UnsettledCounts::default();
    let of_status =
        |s: SettleStatus| -> Vec<usize> { (0..n).filter(|&i| settled.status[i] == s).collect() };
    let (converged, neutral) = (
        of_status(SettleStatus::Converged),
        of_status(SettleStatus::Neutral),
    );
    reasons.unconverged = n - converged.len() - neutral.len();

    // atoms: settled samples grouped within group_radius (converged and neutral apart), each
    // with its best member (the smallest residual)
    let best = |members: &[usize]| -> usize {
        *members
            .iter()
            .min_by(|&&a, &&b| {
                settled.residuals[a]
                    .total_cmp(&settled.residuals[b])
                    .then(a.cmp(&b))
            })
            .expect("non-empty")
    };
    let mut atoms: Vec<Vec<usize>> = vec![];
    for of in [&converged, &neutral] {
        if of.is_empty() {
            continue;
        }
        let (group_of, count) = group(
            settled.points.select(Axis(0), of).view(),
            config.group_radius,
        )?;
        let mut members = vec![vec![]; count];
        for (r, &g) in group_of.iter().enumerate() {
            members[g].push(of[r]);
        }
        atoms.extend(members);
    }
    let reps: Vec<usize> = atoms.iter().map(|m| best(m)).collect();
    // units: atoms linked into connected near-neutral sets (a continuum of fixed points
    // settles into many atoms along it; isolated attractors stay apart, a barrier between)
    let (unit_of, unit_count) = if atoms.is_empty() {
        (vec![], 0)
    } else {
        let drift: Vec<f64> = reps.iter().map(|&i| settled.residuals[i]).collect();
        let sets = neutral_sets(
            denoiser,
            sigma,
            settled.points.select(Axis(0), &reps).view(),
            &drift,
            margin,
            0.0,
        )?;
        cost.link = sets.rows;
        (sets.label, sets.count)
    };
    let mut units: Vec<Vec<usize>> = vec![vec![]; unit_count];
    for (atom, &u) in unit_of.iter().enumerate() {
        units[u].push(atom);
    }
    let size = |atom_list: &[usize]| atom_list.iter().map(|&a| atoms[a].len()).sum::<usize>();
    let is_neutral = |atom: usize| settled.status[reps[atom]] == SettleStatus::Neutral;
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| size(&units[b]).cmp(&size(&units[a])).then(a.cmp(&b)));

    let mut candidates: Vec<Candidate> = vec![];
    let mut unconverged_starts = 0;
    let mut neutral_count = 0;
    // units of several atoms or of neutral samples: the spectra at up to three spread members
    // decide manifold, flat, or neither (then each atom goes to Newton)
    let mut newton_atoms = vec![];
    for (rank, &u) in order.iter().enumerate() {
        if rank >= config.max_groups {
            reasons.not_analysed += size(&units[u]);
            continue;
        }
        let unit = &units[u];
        if unit.len() == 1 && !is_neutral(unit[0]) {
            newton_atoms.push(unit[0]);
            continue;
        }
        let members: Vec<usize> = unit
            .iter()
            .flat_map(|&a| atoms[a].iter().copied())
            .collect();
        let first = best(&members);
        let probes = spread_members(settled.points.view(), &members, first);
        let spectra: Vec<Stability> = probes
            .par_iter()
            .enumerate()
            .map(|(k, &i)| {
                let seed = config.fixed.seed ^ ((u as u64) << 24) ^ k as u64;
                stability(denoiser, sigma, settled.points.row(i), &config.fixed, seed)
            })
            .collect();
        cost.stability += spectra.iter().map(|s| s.cost.rows).sum::<usize>();
        let neutral_votes = spectra.iter().filter(|s| s.neutral_stable(margin)).count();
        let flat_votes = spectra.iter().filter(|s| s.flat()).count();
        if 2 * flat_votes > spectra.len() {
            reasons.flat += members.len();
            continue;
        }
        if 2 * neutral_votes > spectra.len() {
            neutral_count += 1;
            let mut dims: Vec<usize> = spectra.iter().map(|s| s.neutral).collect();
            dims.sort_unstable();
            let points = settled.points.select(Axis(0), &members);
            // the set is represented by a member whose spectrum voted neutral, so the point's
            // own spectrum agrees with its kind (a member off the majority, with a gap beyond
            // the margin, was reported certified under the kind manifold)
            let (shown, spectrum) = probes
                .iter()
                .zip(spectra)
                .find(|(_, s)| s.neutral_stable(margin))
                .expect("a majority voted neutral");
            candidates.push(Candidate {
                x: settled.points.row(*shown).to_owned(),
                residual: settled.residuals[*shown],
                asymmetry: None,
                stability: Some(spectrum),
                members,
                manifold: Some((dims[dims.len() / 2], extent(points.view()))),
                flat: false,
                origin: Origin::Samples,
            });
        } else {
            // not a continuum after all: each atom is a group of its own
            newton_atoms.extend(unit.iter().copied());
        }
    }
    // the remaining groups: Newton from each one's best sample
    let starts = Array2::from_shape_fn((newton_atoms.len(), d), |(r, j)| {
        settled.points[[reps[newton_atoms[r]], j]]
    });
    if starts.nrows() > 0 {
        let set = fixed_points(denoiser, sigma, starts.view(), &config.fixed)?;
        cost.newton += set.newton_cost.rows;
        cost.stability += set.stability_cost.rows;
        unconverged_starts += set.unconverged.len();
        let mut members = vec![vec![]; set.points.len()];
        for (r, a) in set.assignment.iter().enumerate() {
            match a {
                Some(p) => members[*p].extend(&atoms[newton_atoms[r]]),
                None => reasons.unconverged += atoms[newton_atoms[r]].len(),
            }
        }
        for (p, m) in set.points.into_iter().zip(members) {
            candidates.push(Candidate::of(p, m, Origin::Samples));
        }
    }
    let groups = atoms.len();
    cost.newton += merge_duplicates(denoiser, sigma, &mut candidates, &config.fixed);
    absorb_into_manifolds(
        denoiser,
        sigma,
        &mut candidates,
        &settled,
        margin,
        &mut cost,
    );

    // flat points hold no attractor
    candidates.retain(|c| {
        if c.flat {
            reasons.flat += c.members.len();
        }
        !c.flat
    });
    if config.saddle_search != SaddleSearch::None {
        let found = saddle_search(denoiser, sigma, &candidates, config, &mut cost)?;
        unconverged_starts += found.1;
        for c in found.0 {
            add_if_new(
                denoiser,
                sigma,
                &mut candidates,
                c,
                &config.fixed,
                &mut cost,
            );
        }
    }

    cost.settle += kick_off_saddles(
        denoiser,
        sigma,
        samples,
        &settled,
        &mut candidates,
        &settle_config,
        config,
    );

    // kinds, basins
    let xs = Array2::from_shape_fn((candidates.len(), d), |(i, j)| candidates[i].x[j]);
    let nearest = if xs.nrows() > 0 {
        knn(xs.view(), train, 1, false)?
            .distances
            .column(0)
            .to_owned()
    } else {
        Array1::zeros(0)
    };
    let off: Vec<bool> = match (gate, xs.nrows()) {
        (Some(g), m) if m > 0 => g
            .distances(xs.view())?
            .iter()
            .map(|&r| g.is_off_support(r))
            .collect(),
        _ => vec![false; xs.nrows()],
    };
    let kinds: Vec<AttractorKind> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = c.stability.as_ref();
            if c.manifold.is_some() {
                AttractorKind::Manifold
            } else if c.neutral_stable(margin) {
                // an isolated neutral point: a continuum seen through one group
                AttractorKind::Manifold
            } else if !s.is_some_and(|s| s.certified) {
                AttractorKind::Uncertain
            } else if c.stable() && nearest[i] <= config.memory_radius {
                AttractorKind::Memory
            } else if c.stable() && off[i] {
                AttractorKind::OffSupport
            } else if c.stable() {
                AttractorKind::Spurious
            } else {
                AttractorKind::Saddle
            }
        })
        .collect();
    // a manifold's point is represented by a spectrum that voted neutral: never certified
    debug_assert!(
        candidates.iter().zip(&kinds).all(|(c, k)| {
            *k != AttractorKind::Manifold || !c.stability.as_ref().is_some_and(|s| s.certified)
        }),
        "a manifold reported with a certified spectrum"
    );
    let mut sample_attractor = vec![None; n];
    for (i, c) in candidates.iter().enumerate() {
        if kinds[i].is_attractor() {
            for &m in &c.members {
                sample_attractor[m] = Some(i);
            }
        } else {
            reasons.saddle_or_uncertain += c.members.len();
        }
    }
    // shares of each attractor and, last, of the unsettled samples
    let (shares, share_ci) = basin_shares(
        &sample_attractor,
        candidates.len(),
        config.resamples,
        config.fixed.seed,
    );
    let mut counts = KindCounts::default();
    let attractors: Vec<Attractor> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = c.stability.as_ref();
            counts.add(kinds[i]);
            Attractor {
                x: c.x.to_vec(),
                kind: kinds[i],
                index: s.map(|s| s.index),
                certified: s.is_some_and(|s| s.certified),
                uncertain: s.and_then(|s| s.uncertain),
                basin: shares[i],
                basin_ci: share_ci[i],
                gap: s.map(|s| s.gap),
                eigenvalues: s.map_or(vec![], |s| s.eigenvalues.clone()),
                asymmetry: c.asymmetry,
                nearest_train: nearest[i],
                residual: c.residual,
                position_uncertainty: s.map(|s| s.position_uncertainty(c.residual, margin)),
                dimension: match (kinds[i], c.manifold) {
                    (AttractorKind::Manifold, Some((dim, _))) => Some(dim),
                    (AttractorKind::Manifold, None) => s.map(|s| s.neutral),
                    _ => None,
                },
                extent: match (kinds[i], c.manifold) {
                    (AttractorKind::Manifold, Some((_, e))) => Some(e),
                    (AttractorKind::Manifold, None) => {
                        Some(extent(settled.points.select(Axis(0), &c.members).view()))
                    }
                    _ => None,
                },
                origin: c.origin,
            }
        })
        .collect();
    let unsettled = sample_attractor.iter().filter(|a| a.is_none()).count();
    let euler = (d == 2).then(|| euler_check(denoiser, sigma, train, &attractors));
    Ok(Census {
        sigma,
        attractors,
        counts,
        unsettled,
        unsettled_share: shares[candidates.len()],
        unsettled_ci: share_ci[candidates.len()],
        unsettled_reasons: reasons,
        settled: converged.len() + neutral.len(),
        sample_attractor,
        groups,
        neutral_sets: neutral_count,
        unconverged_starts,
        cost,
        euler,
        settled_points: settled.points,
    })
}

/// Up to [`MANIFOLD_PROBES`] members spread over a set: the best one, the member farthest from
/// it, then the member farthest from both.
fn spread_members(points: ArrayView2<f64>, members: &[usize], first: usize) -> Vec<usize> {
    let mut chosen = vec![first];
    while chosen.len() < MANIFOLD_PROBES.min(members.len()) {
        let next = members
            .iter()
            .copied()
            .filter(|m| !chosen.contains(m))
            .max_by(|&a, &b| {
                let gap = |i: usize| {
                    chosen
                        .iter()
                        .map(|&c| squared_distance(points.row(i), points.row(c)))
                        .fold(f64::INFINITY, f64::min)
                };
                gap(a).total_cmp(&gap(b)).then(b.cmp(&a))
            })
            .expect("a member left");
        chosen.push(next);
    }
    chosen
}

/// Whether two candidates are one point: closer than the merge radius, or closer than
/// [`MERGE_UNCERTAINTIES`] × the sum of their position uncertainties with Newton from their
/// midpoint reaching a point within that distance of both. Adds the Newton rows to `rows`.
fn same_point(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    a: &Candidate,
    b: &Candidate,
    config: &FixedPointConfig,
    rows: &mut usize,
) -> bool {
    if a.manifold.is_some() || b.manifold.is_some() {
        return false;
    }
    let dist = squared_distance(&a.x, &b.x).sqrt();
    if dist <= config.merge {
        return true;
    }
    let reach = MERGE_UNCERTAINTIES * (a.uncertainty(config.margin) + b.uncertainty(config.margin));
    if dist > reach {
        return false;
    }
    let mid = (&a.x + &b.x) * 0.5;
    let run = newton_krylov(denoiser, sigma, mid.view(), config);
    *rows += run.cost.rows;
    run.status == Status::Converged
        && squared_distance(&run.x, &a.x).sqrt() <= reach
        && squared_distance(&run.x, &b.x).sqrt() <= reach
}

/// Folds `b` into `a`: both sets of samples, the smaller residual's point and spectrum.
fn absorb(a: &mut Candidate, b: Candidate) {
    a.members.extend(b.members);
    a.members.sort_unstable();
    if b.residual < a.residual {
        (a.x, a.residual, a.stability, a.asymmetry) = (b.x, b.residual, b.stability, b.asymmetry);
    }
}

/// Merges the candidates that are one point ([`same_point`]), keeping the first of each.
/// Returns the Newton rows spent.
fn merge_duplicates(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    candidates: &mut Vec<Candidate>,
    config: &FixedPointConfig,
) -> usize {
    let mut rows = 0;
    let mut i = 0;
    while i < candidates.len() {
        let mut j = i + 1;
        while j < candidates.len() {
            if same_point(
                denoiser,
                sigma,
                &candidates[i],
                &candidates[j],
                config,
                &mut rows,
            ) {
                let b = candidates.remove(j);
                absorb(&mut candidates[i], b);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    rows
}

/// A candidate that is a neutral stable point (a converged group on a continuum) joins the
/// manifold whose nearest settled sample it links to ([`links_hold`]: the segment stays as
/// near-fixed as its ends).
fn absorb_into_manifolds(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    candidates: &mut Vec<Candidate>,
    settled: &Settled,
    margin: f64,
    cost: &mut CensusCost,
) {
    let manifolds: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].manifold.is_some())
        .collect();
    if manifolds.is_empty() {
        return;
    }
    let mut absorbed = vec![];
    for i in 0..candidates.len() {
        if candidates[i].manifold.is_some() || !candidates[i].neutral_stable(margin) {
            continue;
        }
        // the nearest settled sample of any manifold
        let x = &candidates[i].x;
        let nearest = manifolds
            .iter()
            .flat_map(|&m| candidates[m].members.iter().map(move |&s| (m, s)))
            .min_by(|a, b| {
                squared_distance(x, settled.points.row(a.1))
                    .total_cmp(&squared_distance(x, settled.points.row(b.1)))
            });
        let Some((m, sample)) = nearest else {
            continue;
        };
        let pair = ndarray::stack![Axis(0), x.view(), settled.points.row(sample)];
        let drift = [candidates[i].residual, settled.residuals[sample]];
        cost.link += LINK_PROBES.len();
        if links_hold(denoiser, sigma, pair.view(), &drift, margin, &[(0, 1)])[0] {
            absorbed.push((i, m));
        }
    }
    for &(i, m) in &absorbed {
        let members = std::mem::take(&mut candidates[i].members);
        candidates[m].members.extend(members);
        candidates[m].members.sort_unstable();
    }
    let gone: Vec<usize> = absorbed.iter().map(|&(i, _)| i).collect();
    let mut k = 0;
    candidates.retain(|_| {
        let keep = !gone.contains(&k);
        k += 1;
        keep
    });
}

/// Samples whose flow converged onto a saddle (the flow's last, Newton-like steps can reach
/// one; the flow itself does so from a set of measure zero) are pushed off it along its
/// unstable direction v, to the side they came from, by max(10 × its position uncertainty,
/// group_radius), and flow on. A sample that then settles within group_radius of a stable
/// point, or of a sample of a manifold, joins that basin; the others stay at the saddle (and
/// count as unsettled). Returns the rows spent.
fn kick_off_saddles(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    samples: ArrayView2<f64>,
    settled: &Settled,
    candidates: &mut [Candidate],
    settle_config: &SettleConfig,
    config: &CensusConfig,
) -> usize {
    let margin = config.fixed.margin;
    let mut starts = vec![];
    let mut from = vec![];
    for (c, cand) in candidates.iter().enumerate() {
        let Some(s) = cand.stability.as_ref() else {
            continue;
        };
        if cand.members.is_empty() || !s.certified || s.index == 0 || s.vectors.is_empty() {
            continue;
        }
        let v = &s.vectors[0];
        let eps = (10.0 * cand.uncertainty(margin)).max(config.group_radius);
        for &m in &cand.members {
            let side = if (&samples.row(m) - &cand.x).dot(v) < 0.0 {
                -1.0
            } else {
                1.0
            };
            starts.push(&cand.x + &(v * (side * eps)));
            from.push((c, m));
        }
    }
    if starts.is_empty() {
        return 0;
    }
    let ends = settle(
        denoiser,
        stack(&starts, samples.ncols()).view(),
        sigma,
        settle_config,
    );
    let radius = config.group_radius.max(config.fixed.merge);
    let mut moves = vec![];
    for (r, &(c, m)) in from.iter().enumerate() {
        let end = ends.points.row(r);
        let target = match ends.status[r] {
            SettleStatus::Converged => candidates.iter().position(|k| {
                k.stable() && squared_distance(&k.x, end).sqrt() <= radius + k.uncertainty(margin)
            }),
            SettleStatus::Neutral => candidates.iter().position(|k| {
                k.manifold.is_some()
                    && k.members
                        .iter()
                        .any(|&s| squared_distance(settled.points.row(s), end).sqrt() <= radius)
            }),
            _ => None,
        };
        if let Some(t) = target {
            moves.push((c, m, t));
        }
    }
    for (c, m, t) in moves {
        candidates[c].members.retain(|&x| x != m);
        candidates[t].members.push(m);
    }
    for c in candidates.iter_mut() {
        c.members.sort_unstable();
    }
    ends.rows()
}

/// Starts beyond the samples' attractors (see [`super::saddles`]), run by Newton and
/// analysed; returns the new candidates (basin 0) and the starts that did not converge.
fn saddle_search(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    candidates: &[Candidate],
    config: &CensusConfig,
    cost: &mut CensusCost,
) -> Result<(Vec<Candidate>, usize)> {
    let stable: Vec<&Candidate> = candidates.iter().filter(|c| c.stable()).collect();
    let d = candidates.first().map_or(0, |c| c.x.len());
    let full = config.saddle_search == SaddleSearch::Full;
    let mut starts: Vec<(Array1<f64>, Origin)> = vec![];
    if stable.len() >= 2 {
        let xs = Array2::from_shape_fn((stable.len(), d), |(i, j)| stable[i].x[j]);
        let pairs = knn_pairs(xs.view(), SADDLE_NEIGHBOURS)?;
        let slices: Vec<&[f64]> = stable
            .iter()
            .map(|c| c.x.as_slice().expect("contiguous"))
            .collect();
        starts.extend(
            midpoints(&slices, &pairs)
                .into_iter()
                .map(|m| (m, Origin::Midpoint)),
        );
        let strings: Vec<(Vec<Array1<f64>>, Cost)> = pairs
            .par_iter()
            .filter(|_| full)
            .map(|&(a, b)| {
                string_starts(
                    denoiser,
                    sigma,
                    stable[a].x.view(),
                    stable[b].x.view(),
                    config.fixed.max_step,
                )
            })
            .collect();
        for (s, c) in strings {
            cost.saddles += c.rows;
            starts.extend(s.into_iter().map(|x| (x, Origin::String)));
        }
    }
    let slices: Vec<&[f64]> = stable
        .iter()
        .map(|c| c.x.as_slice().expect("contiguous"))
        .collect();
    let reach = reaches(
        &slices,
        config.fixed.merge,
        config.memory_radius.max(config.group_radius),
    );
    for (c, &r) in stable.iter().zip(&reach).filter(|_| full) {
        let s = c.stability.as_ref().expect("stable points have spectra");
        // in the plane both directions; above it the softest one
        let follow = if d == 2 { SOFTEST } else { 1 };
        let directions: Vec<Array1<f64>> = s.vectors.iter().take(follow).cloned().collect();
        starts.extend(
            directional_starts(c.x.view(), &directions, &[0.5 * r, r])
                .into_iter()
                .map(|x| (x, Origin::Softest)),
        );
    }
    let run = |starts: &[(Array1<f64>, Origin)],
               cost: &mut CensusCost|
     -> Result<(Vec<Candidate>, usize)> {
        if starts.is_empty() {
            return Ok((vec![], 0));
        }
        let xs = stack(&starts.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), d);
        let set = fixed_points(denoiser, sigma, xs.view(), &config.fixed)?;
        cost.saddles += set.newton_cost.rows + set.stability_cost.rows;
        let mut origin = vec![Origin::Samples; set.points.len()];
        for (r, a) in set.assignment.iter().enumerate().rev() {
            if let Some(p) = a {
                origin[*p] = starts[r].1;
            }
        }
        let unconverged = set.unconverged.len();
        let found = set
            .points
            .into_iter()
            .zip(origin)
            .map(|(p, o)| Candidate::of(p, vec![], o))
            .filter(|c| !c.flat)
            .collect();
        Ok((found, unconverged))
    };
    let (mut found, mut unconverged) = run(&starts, cost)?;
    if d == 2 && full {
        // the index ladder: from each index-1 saddle along its stable direction
        let known: Vec<&Candidate> = candidates.iter().chain(&found).collect();
        let mut saddles: Vec<&Candidate> = vec![];
        for c in known.iter().copied() {
            let index_one = c
                .stability
                .as_ref()
                .is_some_and(|s| s.certified && s.index == 1);
            let copy = saddles
                .iter()
                .any(|s| squared_distance(&s.x, &c.x).sqrt() <= config.fixed.merge);
            if index_one && !copy {
                saddles.push(c);
            }
        }
        let all: Vec<&[f64]> = known
            .iter()
            .map(|c| c.x.as_slice().expect("contiguous"))
            .collect();
        let reach_all = reaches(
            &all,
            config.fixed.merge,
            config.memory_radius.max(config.group_radius),
        );
        let mut ladder = vec![];
        for s in &saddles {
            let i = known
                .iter()
                .position(|c| std::ptr::eq(*c, *s))
                .expect("listed");
            let spectrum = s.stability.as_ref().expect("certified");
            let directions: Vec<Array1<f64>> = spectrum
                .vectors
                .iter()
                .skip(1)
                .take(SOFTEST - 1)
                .cloned()
                .collect();
            ladder.extend(
                directional_starts(
                    s.x.view(),
                    &directions,
                    &[0.5, 1.0, 2.0, 4.0, 8.0].map(|t| t * reach_all[i]),
                )
                .into_iter()
                .map(|x| (x, Origin::Ladder)),
            );
        }
        let (more, missed) = run(&ladder, cost)?;
        found.extend(more);
        unconverged += missed;
    }
    Ok((found, unconverged))
}

/// Adds `c` unless it is one of the candidates already ([`same_point`]).
fn add_if_new(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    candidates: &mut Vec<Candidate>,
    c: Candidate,
    config: &FixedPointConfig,
    cost: &mut CensusCost,
) {
    let known = candidates
        .iter()
        .position(|k| same_point(denoiser, sigma, k, &c, config, &mut cost.saddles));
    match known {
        Some(k) => absorb(&mut candidates[k], c),
        None => candidates.push(c),
    }
}

/// Basin shares of `m` attractors from each sample's attractor, then (at position m) the share
/// of samples in none, each with its bootstrap 95% interval (resampling the samples).
fn basin_shares(
    sample_attractor: &[Option<usize>],
    m: usize,
    resamples: usize,
    seed: u64,
) -> (Vec<f64>, Vec<[f64; 2]>) {
    let n = sample_attractor.len();
    let shares = |idx: &mut dyn Iterator<Item = usize>| {
        let mut c = vec![0usize; m + 1];
        for i in idx {
            c[sample_attractor[i].unwrap_or(m)] += 1;
        }
        c.into_iter()
            .map(|v| v as f64 / n as f64)
            .collect::<Vec<f64>>()
    };
    let point = shares(&mut (0..n));
    let boot: Vec<Vec<f64>> = bootstrap_indices(n, resamples, seed ^ 0xBA51)
        .map(|idx| shares(&mut idx.into_iter()))
        .collect();
    let ci = (0..=m)
        .map(|a| {
            if resamples == 0 {
                [point[a], point[a]]
            } else {
                percentile_interval(boot.iter().map(|b| b[a]).collect())
            }
        })
        .collect();
    (point, ci)
}

/// Boundary points per side of the box for the inward test.
const EDGE_POINTS: usize = 32;

/// The Poincaré–Hopf count in the data's padded box: the flow must point inward along the
/// whole edge (checked at [`EDGE_POINTS`] points per side) for χ = 1 to hold.
fn euler_check(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    train: ArrayView2<f64>,
    attractors: &[Attractor],
) -> EulerCheck {
    let bounds = padded_box(train);
    let [x0, x1, y0, y1] = bounds;
    let mut edge = Array2::zeros((4 * EDGE_POINTS, 2));
    let mut normals = Array2::zeros((4 * EDGE_POINTS, 2));
    for k in 0..EDGE_POINTS {
        let t = (k as f64 + 0.5) / EDGE_POINTS as f64;
        let sides = [
            ([x0 + t * (x1 - x0), y0], [0.0, -1.0]),
            ([x0 + t * (x1 - x0), y1], [0.0, 1.0]),
            ([x0, y0 + t * (y1 - y0)], [-1.0, 0.0]),
            ([x1, y0 + t * (y1 - y0)], [1.0, 0.0]),
        ];
        for (s, (p, nrm)) in sides.into_iter().enumerate() {
            edge.row_mut(4 * k + s).assign(&ArrayView1::from(&p));
            normals.row_mut(4 * k + s).assign(&ArrayView1::from(&nrm));
        }
    }
    let flow = &denoiser.denoise(edge.view(), sigma) - &edge;
    let inward = flow
        .rows()
        .into_iter()
        .zip(normals.rows())
        .all(|(f, nrm)| f.dot(&nrm) < 0.0);
    let inside = |a: &&Attractor| a.x[0] >= x0 && a.x[0] <= x1 && a.x[1] >= y0 && a.x[1] <= y1;
    let within: Vec<&Attractor> = attractors.iter().filter(inside).collect();
    let count = |k: usize| {
        within
            .iter()
            .filter(|a| a.certified && a.kind != AttractorKind::Manifold && a.index == Some(k))
            .count()
    };
    let (minima, saddles, maxima) = (count(0), count(1), count(2));
    EulerCheck {
        bounds,
        minima,
        saddles,
        maxima,
        chi: minima as i64 - saddles as i64 + maxima as i64,
        inward,
        countable: within.iter().all(|a| {
            matches!(
                a.kind,
                AttractorKind::Memory
                    | AttractorKind::Spurious
                    | AttractorKind::OffSupport
                    | AttractorKind::Saddle
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::kgon;
    use crate::denoiser::EmpiricalDenoiser;

    fn config(scale: f64) -> CensusConfig {
        CensusConfig {
            settle: SettleConfig::unit_step(1e-10 * scale, 2000),
            fixed: FixedPointConfig {
                eigenvalues: 2,
                ..FixedPointConfig::for_scale(scale, Arithmetic::F64)
            },
            group_radius: 1e-3 * scale,
            memory_radius: 0.1 * scale,
            max_groups: 64,
            saddle_search: SaddleSearch::Full,
            resamples: 100,
        }
    }

    #[test]
    fn the_exact_kgon_census_finds_its_memories_and_saddles() {
        // the K = 6 polygon at beta = 5 (theory.md §7.8: 6 minima at the vertices, 6 saddles
        // between them, 1 maximum): 600 samples spread over the plane settle into the 6
        // memories, each with basin ≈ 1/6 (the basins are the 6 congruent sectors); the
        // saddle search finds the 6 saddles, certified index 1, and the maximum at the centre
        // (index ladder), so χ = 6 − 6 + 1 = 1
        let patterns = kgon(6, 1.0, 0.2);
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let samples = crate::rng::normal_matrix(600, 2, 3) * 1.5;
        let c = census(
            &exact,
            patterns.view(),
            samples.view(),
            5f64.sqrt().recip(),
            None,
            &config(1.0),
        )
        .unwrap();
        assert_eq!(
            c.counts,
            KindCounts {
                memory: 6,
                saddle: 7,
                ..Default::default()
            },
            "{:?}",
            c.attractors
                .iter()
                .map(|a| (a.kind, a.index, a.x.clone()))
                .collect::<Vec<_>>()
        );
        assert_eq!(c.unsettled, 0, "{:?}", c.unsettled_reasons);
        assert!(c.sample_attractor.iter().all(|a| a.is_some()));
        for a in c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Memory)
        {
            // binomial sd of a share of 1/6 over 600 samples: 0.015; 4 sd
            assert!((a.basin - 1.0 / 6.0).abs() < 0.06, "{}", a.basin);
            assert!(a.basin_ci[0] <= a.basin && a.basin <= a.basin_ci[1]);
        }
        let mut indices: Vec<usize> = c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Saddle)
            .map(|a| a.index.unwrap())
            .collect();
        indices.sort();
        assert_eq!(indices, [1, 1, 1, 1, 1, 1, 2]);
        for a in c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Saddle && a.index == Some(1))
        {
            assert_eq!(a.basin, 0.0);
            let r = a.x.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(r < 1.0 && r > 0.5, "{r}");
        }
        let e = c.euler.unwrap();
        assert!(e.inward && e.countable && !e.fails(), "{e:?}");
        assert_eq!((e.minima, e.saddles, e.maxima, e.chi), (6, 6, 1, 1));
    }

    #[test]
    fn a_stable_state_away_from_the_patterns_is_spurious_and_off_the_data_off_support() {
        // a map with three stable points (D pulls each coordinate to the nearest of 0, 1, 10
        // along the first axis): 0 is a pattern (memory), 1 is not (spurious), 10 is off the
        // support of data at 0 and 1 (gate calibrated on held-out points near them)
        let den = |x: ArrayView2<f64>, _s: f64| {
            x.mapv(|v| {
                let t = [0.0_f64, 1.0, 10.0]
                    .into_iter()
                    .min_by(|a, b| (a - v).abs().total_cmp(&(b - v).abs()))
                    .unwrap();
                t + 0.5 * (v - t)
            })
        };
        let train = ndarray::array![[0.0], [0.02], [-0.03], [0.01]];
        let heldout = Array2::from_shape_fn((40, 1), |(i, _)| {
            -0.1 + 0.2 * i as f64 / 39.0 + if i % 2 == 0 { 0.0 } else { 1.0 }
        });
        let gate = SupportGate::calibrate(train.view(), heldout.view(), 0.99).unwrap();
        let samples = ndarray::array![[0.1], [0.2], [1.1], [0.9], [9.0], [11.0], [10.2]];
        let mut cfg = config(1.0);
        cfg.fixed.eigenvalues = 1;
        cfg.saddle_search = SaddleSearch::None;
        let c = census(&den, train.view(), samples.view(), 0.1, Some(&gate), &cfg).unwrap();
        assert_eq!(
            c.counts,
            KindCounts {
                memory: 1,
                spurious: 1,
                off_support: 1,
                ..Default::default()
            }
        );
        let kinds = c.sample_kinds();
        use AttractorKind::*;
        assert_eq!(
            kinds,
            [
                Memory, Memory, Spurious, Spurious, OffSupport, OffSupport, OffSupport
            ]
            .map(Some)
        );
    }
}
