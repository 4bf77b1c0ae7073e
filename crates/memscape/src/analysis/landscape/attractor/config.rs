//! What a census is run with: its settling, fixed-point, grouping and saddle-search
//! configuration ([`CensusConfig`]) and the margin and settling a user sets ([`CensusSettings`]).

use serde::{Deserialize, Serialize};

use crate::analysis::landscape::fixed::FixedPointConfig;
use crate::analysis::landscape::settle::SettleConfig;
use crate::denoiser::Arithmetic;
use crate::error::{Error, Result};

/// Where the census looks for saddles beyond the samples' own attractors. Documents written
/// when this was a yes/no read `true` as [`SaddleSearch::Full`] (the search it switched on)
/// and `false` as [`SaddleSearch::None`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "SaddleSearchRecord")]
pub enum SaddleSearch {
    /// Only the points the samples reach.
    None,
    /// Newton from the midpoints of neighbouring stable points (one start per pair).
    Midpoints,
    /// Midpoints, strings, softest directions, and the index ladder on 2-D data.
    Full,
}

/// [`SaddleSearch`] as documents hold it: its name, or the yes/no of earlier versions.
#[derive(Deserialize)]
#[serde(untagged)]
enum SaddleSearchRecord {
    Named(SaddleSearchName),
    Old(bool),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum SaddleSearchName {
    None,
    Midpoints,
    Full,
}

impl From<SaddleSearchRecord> for SaddleSearch {
    fn from(record: SaddleSearchRecord) -> Self {
        match record {
            SaddleSearchRecord::Named(SaddleSearchName::None) | SaddleSearchRecord::Old(false) => {
                SaddleSearch::None
            }
            SaddleSearchRecord::Named(SaddleSearchName::Midpoints) => SaddleSearch::Midpoints,
            SaddleSearchRecord::Named(SaddleSearchName::Full) | SaddleSearchRecord::Old(true) => {
                SaddleSearch::Full
            }
        }
    }
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
