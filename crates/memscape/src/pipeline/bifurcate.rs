//! `memscape bifurcate` as a library study: a sweep's events, branches and counts along beta
//! or one pattern's weight ([`bifurcate`], `bifurcations.json`), and the curves of folds in
//! (beta, w) with their cusps ([`cusps`], `cusps.json`). [`sweep`] and [`fold_curves`] compute
//! them; the report reads the documents back.

use std::time::Instant;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::bifurcation::{
    Cusp, Event, FoldCurve, Sweep, SweepConfig, fold_curves, sweep,
};
use crate::analysis::landscape::continuation::{Branch, Parameter};
use crate::analysis::landscape::critical::SearchConfig;
use crate::analysis::samples::classify::train_spacing;
use crate::error::{Error, Result};
use crate::store::{RunDir, sorted_json};

/// A bifurcation study of the exact landscape of a set of patterns: beta over
/// [`beta_from`, `beta_to`], or, with `weight_of`, that pattern's weight (multiplicity) over
/// [0, `weight_to`] at beta = `beta_to`; the multi-start grid that seeds the continuation, the
/// width to which events are located, and the random starts of each multi-start search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BifurcateRequest {
    pub beta_from: f64,
    pub beta_to: f64,
    pub weight_of: Option<usize>,
    pub weight_to: f64,
    /// Grid values of the multi-start search (at most 0.25 apart in ln beta, or in w).
    pub steps: usize,
    /// Events are located to this width in ln beta (or in w), within [1e-12, 1e-3].
    pub tolerance: f64,
    pub random_starts: usize,
}

impl Default for BifurcateRequest {
    /// `memscape bifurcate`'s defaults: 40 grid values, events to 1e-9, 100 random starts,
    /// the weight moved up to 1, over beta in [1, 6] (a range the command asks for).
    fn default() -> Self {
        BifurcateRequest {
            beta_from: 1.0,
            beta_to: 6.0,
            weight_of: None,
            weight_to: 1.0,
            steps: 40,
            tolerance: 1e-9,
            random_starts: 100,
        }
    }
}

impl BifurcateRequest {
    /// The sweep's configuration for `patterns`: the multi-start search scaled to their
    /// spacing ([`SearchConfig::for_spacing`]), with this request's starts, grid and width.
    ///
    /// ```
    /// use memscape::pipeline::BifurcateRequest;
    /// use ndarray::array;
    ///
    /// // ±1 are 2 apart: memories within a quarter of that, and the request's 100 random starts
    /// let request = BifurcateRequest { steps: 12, ..Default::default() };
    /// let config = request.config(array![[-1.0], [1.0]].view())?;
    /// assert_eq!((config.steps, config.tolerance), (12, 1e-9));
    /// assert_eq!((config.search.memory_radius, config.search.random_starts), (0.5, 100));
    /// // one pattern has no spacing
    /// assert!(request.config(array![[1.0]].view()).is_err());
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// Fewer than two patterns, or patterns that are not finite.
    pub fn config(&self, patterns: ArrayView2<f64>) -> Result<SweepConfig> {
        let mut search = SearchConfig::for_spacing(train_spacing(patterns)?);
        search.random_starts = self.random_starts;
        Ok(SweepConfig {
            steps: self.steps,
            tolerance: self.tolerance,
            search,
        })
    }

    /// The swept parameter and its range: beta, or the weight of `weight_of` at `beta_to`.
    ///
    /// ```
    /// use memscape::analysis::landscape::bifurcation::Parameter;
    /// use memscape::pipeline::BifurcateRequest;
    ///
    /// let request = BifurcateRequest { beta_from: 0.5, beta_to: 4.0, ..Default::default() };
    /// assert_eq!(request.parameter(), (Parameter::Beta, 0.5, 4.0));
    /// // with `weight_of`: that pattern's weight over [0, weight_to], at beta_to
    /// let weight = BifurcateRequest { weight_of: Some(0), weight_to: 2.0, ..request };
    /// assert_eq!(weight.parameter(), (Parameter::Weight { index: 0, beta: 4.0 }, 0.0, 2.0));
    /// ```
    pub fn parameter(&self) -> (Parameter, f64, f64) {
        match self.weight_of {
            None => (Parameter::Beta, self.beta_from, self.beta_to),
            Some(index) => (
                Parameter::Weight {
                    index,
                    beta: self.beta_to,
                },
                0.0,
                self.weight_to,
            ),
        }
    }
}

/// The events, branches and counts of the exact landscape of `patterns` along the request's
/// parameter ([`sweep`]: pseudo-arclength continuation from a multi-start grid, events located
/// and classified, counts carried across them and checked).
///
/// ```
/// use memscape::pipeline::{BifurcateRequest, bifurcate};
/// use ndarray::array;
///
/// // two points ±1: one minimum at 0 for small beta, a pitchfork into two at beta = 1
/// let patterns = array![[-1.0], [1.0]];
/// let request = BifurcateRequest { beta_from: 0.5, beta_to: 2.0, steps: 12, ..Default::default() };
/// let doc = bifurcate(patterns.view(), &request)?;
/// assert_eq!(doc.events.len(), 1);
/// assert!((doc.events[0].at - 1.0).abs() < 1e-6);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// The configuration's ([`BifurcateRequest::config`]) and the sweep's: a range or grid it
/// refuses, a weight index past the patterns.
pub fn bifurcate(
    patterns: ArrayView2<f64>,
    request: &BifurcateRequest,
) -> Result<BifurcationDocument> {
    let clock = Instant::now();
    let config = request.config(patterns)?;
    let (parameter, from, to) = request.parameter();
    let s = sweep(patterns, parameter, from, to, &config)?;
    Ok(BifurcationDocument::of(&s, clock.elapsed().as_secs_f64()))
}

/// The curves of folds of the exact landscape in (beta, w), w the weight of the request's
/// `weight_of` over [0, `weight_to`] and beta over [`beta_from`, `beta_to`], traced from the
/// folds of beta sweeps at `seed_weights`, and the cusps on them ([`fold_curves`]).
///
/// ```
/// use memscape::pipeline::{BifurcateRequest, cusps};
/// use ndarray::array;
///
/// // ±1, the first at weight w: off w = 1 the pitchfork at beta = 1 unfolds into a fold, and
/// // the curve of folds in (beta, w) has its cusp at (1, 1)
/// let patterns = array![[-1.0], [1.0]];
/// let request = BifurcateRequest {
///     beta_from: 0.5,
///     beta_to: 4.0,
///     weight_of: Some(0),
///     weight_to: 2.0,
///     steps: 10,
///     ..Default::default()
/// };
/// let doc = cusps(patterns.view(), &request, &[0.5])?;
/// assert_eq!(doc.cusps.len(), 1);
/// assert!((doc.cusps[0].beta - 1.0).abs() < 1e-6 && (doc.cusps[0].weight - 1.0).abs() < 1e-6);
/// // without `weight_of` there is no weight to trace
/// let none = BifurcateRequest { weight_of: None, ..request };
/// let e = cusps(patterns.view(), &none, &[0.5]).unwrap_err();
/// assert!(e.to_string().starts_with("weight_of"), "{e}");
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A request without `weight_of`, and as [`fold_curves`]: ranges it refuses, no seed weights.
pub fn cusps(
    patterns: ArrayView2<f64>,
    request: &BifurcateRequest,
    seed_weights: &[f64],
) -> Result<CuspDocument> {
    let clock = Instant::now();
    let Some(index) = request.weight_of else {
        return Err(Error::invalid(
            "weight_of",
            "a pattern's index for the curves of folds in (beta, w)",
            "none",
        ));
    };
    let config = request.config(patterns)?;
    let curves = fold_curves(
        patterns,
        index,
        (request.beta_from, request.beta_to),
        (0.0, request.weight_to),
        seed_weights,
        &config,
    )?;
    Ok(CuspDocument::of(
        curves,
        seed_weights.to_vec(),
        clock.elapsed().as_secs_f64(),
    ))
}

/// `bifurcations.json`: the sweep's parameter (and its name, "beta" or "weight"), its events
/// and branches, the counts at every grid value, the intervals whose count changes no event
/// explains, and the grid values whose multi-start set was incomplete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BifurcationDocument {
    pub parameter: Parameter,
    #[serde(default)]
    pub name: String,
    pub events: Vec<Event>,
    pub branches: Vec<Branch>,
    #[serde(default)]
    pub grid: Vec<GridCounts>,
    #[serde(default)]
    pub unexplained: Vec<[f64; 2]>,
    #[serde(default)]
    pub incomplete: Vec<f64>,
    pub seconds: f64,
}

/// The critical points at one grid value of the parameter (under its name: `beta` or
/// `weight`) by index class, and their Euler characteristic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
    pub euler_characteristic: Option<i64>,
}

/// What `bifurcate --json` prints: the events, the parameter and the unexplained intervals.
#[derive(Debug, Clone, Serialize)]
pub struct BifurcationEvents<'a> {
    pub events: &'a [Event],
    pub parameter: &'a Parameter,
    pub unexplained: &'a [[f64; 2]],
}

/// The parameter's name in documents and tables.
///
/// ```
/// use memscape::analysis::landscape::bifurcation::Parameter;
/// use memscape::pipeline::parameter_name;
///
/// assert_eq!(parameter_name(&Parameter::Beta), "beta");
/// assert_eq!(parameter_name(&Parameter::Weight { index: 0, beta: 4.0 }), "weight");
/// ```
pub fn parameter_name(parameter: &Parameter) -> &'static str {
    match parameter {
        Parameter::Weight { .. } => "weight",
        _ => "beta",
    }
}

impl BifurcationDocument {
    /// The document of sweep `s`, which took `seconds`.
    ///
    /// ```
    /// use memscape::analysis::landscape::bifurcation::{Parameter, SweepConfig, sweep};
    /// use memscape::analysis::landscape::critical::SearchConfig;
    /// use memscape::pipeline::BifurcationDocument;
    /// use ndarray::array;
    ///
    /// // ±1 over beta in [0.5, 2]: one minimum below the pitchfork at beta = 1, two above it
    /// let patterns = array![[-1.0], [1.0]];
    /// let config = SweepConfig { steps: 12, tolerance: 1e-9, search: SearchConfig::for_spacing(2.0) };
    /// let s = sweep(patterns.view(), Parameter::Beta, 0.5, 2.0, &config)?;
    /// let doc = BifurcationDocument::of(&s, 0.1);
    /// assert_eq!((doc.name.as_str(), doc.events.len(), doc.grid.len()), ("beta", 1, 12));
    /// let (first, last) = (&doc.grid[0], &doc.grid[11]);
    /// assert_eq!((first.beta, first.weight, first.minima), (Some(0.5), None, 1));
    /// assert_eq!((last.beta, last.minima, last.maxima), (Some(2.0), 2, 1));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn of(s: &Sweep, seconds: f64) -> Self {
        let name = parameter_name(&s.parameter);
        let grid = s
            .values
            .iter()
            .zip(&s.sets)
            .map(|(&v, set)| GridCounts {
                beta: (name == "beta").then_some(v),
                weight: (name == "weight").then_some(v),
                minima: set.minima,
                saddles: set.saddles,
                maxima: set.maxima,
                euler_characteristic: set.euler_characteristic,
            })
            .collect();
        BifurcationDocument {
            parameter: s.parameter,
            name: name.to_string(),
            events: s.events.clone(),
            branches: s.branches.clone(),
            grid,
            unexplained: s.unexplained.clone(),
            incomplete: s.incomplete.clone(),
            seconds,
        }
    }

    /// What `--json` prints of it.
    ///
    /// ```
    /// use memscape::pipeline::{BifurcateRequest, bifurcate};
    /// use ndarray::array;
    ///
    /// let request = BifurcateRequest { beta_from: 0.5, beta_to: 2.0, steps: 12, ..Default::default() };
    /// let doc = bifurcate(array![[-1.0], [1.0]].view(), &request)?;
    /// let printed = serde_json::to_value(doc.events()).unwrap();
    /// assert_eq!(printed["parameter"]["parameter"], "beta");
    /// assert_eq!(printed["events"].as_array().unwrap().len(), 1);
    /// assert_eq!(printed["unexplained"], serde_json::json!([]));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn events(&self) -> BifurcationEvents<'_> {
        BifurcationEvents {
            events: &self.events,
            parameter: &self.parameter,
            unexplained: &self.unexplained,
        }
    }

    /// Writes `bifurcations.json` (keys sorted, [`sorted_json`]).
    ///
    /// ```
    /// use memscape::pipeline::{BifurcateRequest, BifurcationDocument, bifurcate};
    /// use memscape::store::RunDir;
    /// use ndarray::array;
    ///
    /// let request = BifurcateRequest { beta_from: 0.5, beta_to: 2.0, steps: 12, ..Default::default() };
    /// let doc = bifurcate(array![[-1.0], [1.0]].view(), &request)?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-bifurcations-{}", std::process::id()));
    /// doc.write(&RunDir::create(&dir)?)?;
    /// // it reads back as the report reads it: the pitchfork at beta = 1
    /// let text = std::fs::read_to_string(dir.join("bifurcations.json")).unwrap();
    /// let back: BifurcationDocument = serde_json::from_str(&text).unwrap();
    /// assert_eq!((back.name.as_str(), back.events.len()), ("beta", 1));
    /// assert!((back.events[0].at - 1.0).abs() < 1e-6);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<()> {
        out.write_json("bifurcations.json", &sorted_json(self))?;
        Ok(())
    }
}

/// `cusps.json`: the curves of folds in (beta, w) traced from the folds at the seed weights,
/// and the cusps on them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CuspDocument {
    pub fold_curves: Vec<FoldCurve>,
    pub cusps: Vec<Cusp>,
    pub seed_weights: Vec<f64>,
    pub seconds: f64,
}

impl CuspDocument {
    /// The document of `curves`, traced from `seed_weights` in `seconds`.
    ///
    /// ```
    /// use memscape::analysis::landscape::bifurcation::{SweepConfig, fold_curves};
    /// use memscape::analysis::landscape::critical::SearchConfig;
    /// use memscape::pipeline::CuspDocument;
    /// use ndarray::array;
    ///
    /// // the curve of folds of ±1 in (beta, w) passes through the cusp at (1, 1)
    /// let patterns = array![[-1.0], [1.0]];
    /// let config = SweepConfig { steps: 10, tolerance: 1e-9, search: SearchConfig::for_spacing(2.0) };
    /// let curves = fold_curves(patterns.view(), 0, (0.5, 4.0), (0.0, 2.0), &[0.5], &config)?;
    /// let on_curves: usize = curves.iter().map(|c| c.cusps.len()).sum();
    /// let doc = CuspDocument::of(curves, vec![0.5], 0.2);
    /// // the cusps of every curve, gathered
    /// assert_eq!((doc.cusps.len(), on_curves), (1, 1));
    /// assert!((doc.cusps[0].beta - 1.0).abs() < 1e-6);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn of(curves: Vec<FoldCurve>, seed_weights: Vec<f64>, seconds: f64) -> Self {
        let cusps = curves
            .iter()
            .flat_map(|c| c.cusps.iter().cloned())
            .collect();
        CuspDocument {
            fold_curves: curves,
            cusps,
            seed_weights,
            seconds,
        }
    }

    /// Writes `cusps.json` (keys sorted, [`sorted_json`]).
    ///
    /// ```
    /// use memscape::pipeline::{BifurcateRequest, CuspDocument, cusps};
    /// use memscape::store::RunDir;
    /// use ndarray::array;
    ///
    /// let request = BifurcateRequest {
    ///     beta_from: 0.5,
    ///     beta_to: 4.0,
    ///     weight_of: Some(0),
    ///     weight_to: 2.0,
    ///     steps: 10,
    ///     ..Default::default()
    /// };
    /// let doc = cusps(array![[-1.0], [1.0]].view(), &request, &[0.5])?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-cusps-{}", std::process::id()));
    /// doc.write(&RunDir::create(&dir)?)?;
    /// // it reads back as the report reads it: the cusp at (1, 1), traced from w = 0.5
    /// let text = std::fs::read_to_string(dir.join("cusps.json")).unwrap();
    /// let back: CuspDocument = serde_json::from_str(&text).unwrap();
    /// assert_eq!((back.cusps.len(), back.seed_weights), (1, vec![0.5]));
    /// assert!((back.cusps[0].weight - 1.0).abs() < 1e-6);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<()> {
        out.write_json("cusps.json", &sorted_json(self))?;
        Ok(())
    }
}
