//! The exact model's landscape at one beta ([`exact_landscape`]): its critical points,
//! Morse–Smale connections, basins, 2-D grids and stopped samples, and its `attractors.json`
//! ([`ExactDocument`]).

use std::time::Instant;

use ndarray::{Array2, Array3, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::basin::{
    Connection, basin_map, basin_weights, energy_grid, morse_smale, padded_box, score_grid,
};
use crate::analysis::landscape::bifurcation::Counts;
use crate::analysis::landscape::critical::{
    CriticalPoint, CriticalSet, SearchConfig, critical_points,
};
use crate::analysis::samples::classify::train_spacing;
use crate::denoiser::{EmpiricalDenoiser, Landscape};
use crate::error::Result;
use crate::sampler::{SamplerConfig, stopped_samples};
use crate::store::{RunDir, sorted_json};
use crate::units::Beta;

use super::trained::*;

/// What the exact landscape (`memscape attractors` without a checkpoint, and `map`'s exact
/// landscape on 2-D data) is searched and drawn with.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExactLandscapeRequest {
    /// The inverse temperature, 1/sigma².
    pub beta: f64,
    /// Random starts of the critical-point search, besides the structured ones.
    pub random_starts: usize,
    /// Monte Carlo starts for the basin weights (0: skip).
    pub basin_starts: usize,
    /// Samples of the exact model stopped at sigma = 1/√beta, on 2-D data (0: none).
    pub samples: usize,
    /// Seeds the random starts, the basin starts and the sampler.
    pub seed: u64,
}

impl Default for ExactLandscapeRequest {
    /// `memscape attractors`' defaults: 200 random starts besides the structured ones, 2000
    /// basin starts, and [`LANDSCAPE_DEFAULTS`]' samples and seed, at beta = 100 (sigma = 0.1):
    /// a level a caller replaces with the one studied (the command asks for it).
    fn default() -> Self {
        ExactLandscapeRequest {
            beta: 100.0,
            random_starts: 200,
            basin_starts: 2000,
            samples: LANDSCAPE_DEFAULTS.samples,
            seed: LANDSCAPE_DEFAULTS.seed,
        }
    }
}

/// The exact landscape's 2-D grids over the patterns' padded box, and its stopped samples.
#[derive(Debug, Clone)]
pub struct ExactGrids {
    pub bounds: [f64; 4],
    /// The position in the critical points of the minimum each grid point descends to (−1:
    /// elsewhere), 101 × 101.
    pub basin_map: Array2<f64>,
    /// E(x; beta) on 101 × 101, row = y.
    pub energy: Array2<f64>,
    /// −beta ∇E on 21 × 21 × 2.
    pub score: Array3<f64>,
    /// The exact model's samples stopped at sigma, with the sampler (when asked for).
    pub samples: Option<(Array2<f64>, SamplerConfig)>,
    pub patterns: Array2<f64>,
}

/// Grids of the exact landscape: basins and energy, and the score arrows.
pub(super) const EXACT_GRID: usize = 101;
pub(super) const EXACT_SCORE_GRID: usize = 21;

/// The critical points of the exact landscape at one beta, their connections and basins.
#[derive(Debug, Clone)]
pub struct ExactLandscape {
    pub request: ExactLandscapeRequest,
    pub set: CriticalSet,
    pub config: SearchConfig,
    pub connections: Vec<Connection>,
    /// (critical point, weight) of each basin with Monte Carlo starts; the share that ended
    /// elsewhere and the share that did not converge.
    pub basin_weights: Vec<(usize, f64)>,
    pub basin_elsewhere: f64,
    pub basin_unconverged: f64,
    pub seconds: f64,
    /// On 2-D data.
    pub grids: Option<ExactGrids>,
}

/// The critical points of E(x; beta) over `patterns` ([`critical_points`]), their Morse–Smale
/// connections and basin weights; on 2-D data the basin, energy and score grids and the exact
/// model's samples stopped at sigma = 1/√beta.
///
/// # Errors
/// Patterns that do not make a landscape (empty, non-finite, a non-positive beta), fewer than
/// two distinct patterns, and the sampler's errors.
///
/// ```
/// use memscape::pipeline::{ExactLandscapeRequest, exact_landscape};
/// use ndarray::array;
///
/// // an equilateral triangle at beta = 4: three minima, three saddles, and Euler characteristic 1
/// let triangle = array![[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]];
/// let request = ExactLandscapeRequest { beta: 4.0, random_starts: 100, basin_starts: 0, samples: 0, seed: 0 };
/// let l = exact_landscape(triangle.view(), &request)?;
/// let c = l.counts();
/// assert_eq!((c.minima, c.saddles), (3, 3));
/// assert_eq!(l.set.euler_characteristic, Some(1));
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn exact_landscape(
    patterns: ArrayView2<f64>,
    request: &ExactLandscapeRequest,
) -> Result<ExactLandscape> {
    let beta = request.beta;
    let land = Landscape::new(patterns, beta)?;
    let spacing = train_spacing(patterns)?;
    let mut config = SearchConfig::for_spacing(spacing);
    config.random_starts = request.random_starts;
    config.seed = request.seed;
    let clock = Instant::now();
    let set = critical_points(&land, &config, None)?;
    let radius = 0.05 * spacing;
    let connections = morse_smale(&land, &set, radius);
    let (basin_weights, basin_elsewhere, basin_unconverged) = if request.basin_starts > 0 {
        basin_weights(&land, &set, request.basin_starts, request.seed, radius)
    } else {
        (vec![], 0.0, 0.0)
    };
    let seconds = clock.elapsed().as_secs_f64();
    let grids = if patterns.ncols() == 2 {
        // the basin of every point of a grid over the data's box, padded by 20%
        let bounds = padded_box(patterns);
        let samples = if request.samples > 0 {
            let den = EmpiricalDenoiser::<f64>::new(patterns)?;
            Some(stopped_samples(
                &den,
                patterns,
                request.samples,
                Beta(beta).sigma(),
                ("em", 100, true),
                request.seed,
            )?)
        } else {
            None
        };
        Some(ExactGrids {
            bounds,
            basin_map: basin_map(&land, &set, bounds, EXACT_GRID, radius).mapv(|v| v as f64),
            energy: energy_grid(&land, bounds, EXACT_GRID),
            score: score_grid(&land, bounds, EXACT_SCORE_GRID),
            samples,
            patterns: patterns.to_owned(),
        })
    } else {
        None
    };
    Ok(ExactLandscape {
        request: *request,
        set,
        config,
        connections,
        basin_weights,
        basin_elsewhere,
        basin_unconverged,
        seconds,
        grids,
    })
}

/// `attractors.json` of an exact landscape (written with its keys sorted): the critical
/// points with their counts and Euler characteristic, the saddle connections, the basin
/// weights, the search's bookkeeping, and on 2-D data where the grids and samples are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExactDocument {
    pub beta: f64,
    pub sigma: f64,
    pub critical_points: Vec<CriticalPoint>,
    pub counts: Counts,
    pub euler_characteristic: Option<i64>,
    /// Whether the critical set is known complete (its Euler characteristic is 1).
    pub complete: bool,
    pub degenerate: usize,
    pub connections: Vec<Connection>,
    pub basin_weights: Vec<BasinWeight>,
    pub basin_elsewhere: f64,
    pub basin_unconverged: f64,
    pub num_starts: usize,
    pub num_unconverged: usize,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basin_map: Option<BasinMapRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<SamplesRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grids: Option<ExactGridsRecord>,
}

/// The share of basin starts that descend to one critical point.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct BasinWeight {
    pub point: usize,
    pub weight: f64,
}

/// Where the basin map is and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BasinMapRecord {
    pub file: String,
    pub bounds: [f64; 4],
    pub resolution: usize,
    pub labels: String,
}

/// Where the stopped samples are, how many, and the sampler that drew them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplesRecord {
    pub file: String,
    pub n: usize,
    pub sampler: SamplerConfig,
}

/// Where an exact landscape's 2-D grids are and what they hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExactGridsRecord {
    pub bounds: [f64; 4],
    pub energy: String,
    pub score: String,
}

impl ExactLandscape {
    /// The critical points by index class.
    ///
    /// ```
    /// use memscape::pipeline::{ExactLandscapeRequest, exact_landscape};
    /// use ndarray::array;
    ///
    /// // an equilateral triangle at beta = 4
    /// let triangle = array![[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]];
    /// let request = ExactLandscapeRequest { beta: 4.0, random_starts: 100, basin_starts: 0, samples: 0, seed: 0 };
    /// let l = exact_landscape(triangle.view(), &request)?;
    /// // three minima at the vertices, three saddles between them, the maximum at the centre
    /// let c = l.counts();
    /// assert_eq!((c.minima, c.saddles, c.maxima), (3, 3, 1));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn counts(&self) -> Counts {
        Counts::of(&self.set)
    }

    /// The `attractors.json` document (and `--json` output).
    ///
    /// ```
    /// use memscape::pipeline::{ExactLandscapeRequest, exact_landscape};
    /// use ndarray::array;
    ///
    /// // an equilateral triangle at beta = 4
    /// let triangle = array![[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]];
    /// let request = ExactLandscapeRequest { beta: 4.0, random_starts: 100, basin_starts: 0, samples: 0, seed: 0 };
    /// let l = exact_landscape(triangle.view(), &request)?;
    /// let doc = l.document();
    /// assert_eq!((doc.sigma, doc.critical_points.len()), (0.5, 7));
    /// // Euler characteristic 3 − 3 + 1 = 1: the set is known complete
    /// assert_eq!((doc.euler_characteristic, doc.complete), (Some(1), true));
    /// // 2-D data: the grids are written beside it, no samples were asked for
    /// assert!(doc.grids.is_some() && doc.samples.is_none());
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn document(&self) -> ExactDocument {
        let set = &self.set;
        let g = self.grids.as_ref();
        ExactDocument {
            beta: self.request.beta,
            sigma: Beta(self.request.beta).sigma(),
            critical_points: set.points.clone(),
            counts: self.counts(),
            euler_characteristic: set.euler_characteristic,
            complete: set.euler_characteristic == Some(1),
            degenerate: set.points.iter().filter(|p| p.degenerate).count(),
            connections: self.connections.clone(),
            basin_weights: self
                .basin_weights
                .iter()
                .map(|&(point, weight)| BasinWeight { point, weight })
                .collect(),
            basin_elsewhere: self.basin_elsewhere,
            basin_unconverged: self.basin_unconverged,
            num_starts: set.num_starts,
            num_unconverged: set.num_unconverged,
            seconds: self.seconds,
            basin_map: g.map(|g| BasinMapRecord {
                file: "basin_map.npy".into(),
                bounds: g.bounds,
                resolution: EXACT_GRID,
                labels: "position in critical_points, −1 where the descent ends elsewhere".into(),
            }),
            samples: g
                .and_then(|g| g.samples.as_ref())
                .map(|(_, sampler)| SamplesRecord {
                    file: "samples.npy".into(),
                    n: self.request.samples,
                    sampler: *sampler,
                }),
            grids: g.map(|g| ExactGridsRecord {
                bounds: g.bounds,
                energy: format!("energy_grid.npy ({EXACT_GRID} × {EXACT_GRID}, row = y)"),
                score: format!(
                    "score_grid.npy ({EXACT_SCORE_GRID} × {EXACT_SCORE_GRID} × 2, −beta ∇E)"
                ),
            }),
        }
    }

    /// Writes, on 2-D data, `basin_map.npy`, `energy_grid.npy`, `score_grid.npy`,
    /// `patterns.npy` and `samples.npy` (when drawn), then `attractors.json`
    /// ([`Self::document`]); returns the files.
    ///
    /// ```
    /// use memscape::pipeline::{ExactDocument, ExactLandscapeRequest, exact_landscape};
    /// use memscape::store::RunDir;
    /// use ndarray::array;
    ///
    /// // an equilateral triangle at beta = 4
    /// let triangle = array![[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]];
    /// let request = ExactLandscapeRequest { beta: 4.0, random_starts: 100, basin_starts: 0, samples: 0, seed: 0 };
    /// let l = exact_landscape(triangle.view(), &request)?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-exact-{}", std::process::id()));
    /// let files = l.write(&RunDir::create(&dir)?)?;
    /// // no samples were asked for
    /// let expected = ["attractors.json", "basin_map.npy", "energy_grid.npy", "score_grid.npy", "patterns.npy"];
    /// assert_eq!(files, expected);
    /// let text = std::fs::read_to_string(dir.join("attractors.json")).unwrap();
    /// let back: ExactDocument = serde_json::from_str(&text).unwrap();
    /// assert_eq!((back.counts.minima, back.counts.saddles, back.counts.maxima), (3, 3, 1));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<Vec<String>> {
        let mut files = vec!["attractors.json".to_string()];
        if let Some(g) = &self.grids {
            out.write_npy("basin_map.npy", &g.basin_map)?;
            files.push("basin_map.npy".into());
            out.write_npy("energy_grid.npy", &g.energy)?;
            out.write_npy("score_grid.npy", &g.score)?;
            out.write_npy("patterns.npy", &g.patterns)?;
            if let Some((samples, _)) = &g.samples {
                out.write_npy("samples.npy", samples)?;
                files.push("samples.npy".into());
            }
            files.extend(["energy_grid.npy", "score_grid.npy", "patterns.npy"].map(String::from));
        }
        out.write_json("attractors.json", &sorted_json(&self.document()))?;
        Ok(files)
    }
}
