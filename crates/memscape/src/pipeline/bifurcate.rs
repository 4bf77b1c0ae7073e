//! `memscape bifurcate`'s documents: a sweep's events, branches and counts along beta or one
//! pattern's weight (`bifurcations.json`), and the curves of folds in (beta, w) with their
//! cusps (`cusps.json`). [`sweep`](crate::analysis::landscape::bifurcation::sweep) and
//! [`fold_curves`](crate::analysis::landscape::bifurcation::fold_curves) compute them; the
//! report reads them back.

use serde::{Deserialize, Serialize};

use crate::analysis::landscape::bifurcation::{Cusp, Event, FoldCurve, Sweep};
use crate::analysis::landscape::continuation::{Branch, Parameter};
use crate::error::Result;
use crate::store::{RunDir, sorted_json};

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
    pub fn events(&self) -> BifurcationEvents<'_> {
        BifurcationEvents {
            events: &self.events,
            parameter: &self.parameter,
            unexplained: &self.unexplained,
        }
    }

    /// Writes `bifurcations.json` (keys sorted, [`sorted_json`]).
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
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<()> {
        out.write_json("cusps.json", &sorted_json(self))?;
        Ok(())
    }
}
