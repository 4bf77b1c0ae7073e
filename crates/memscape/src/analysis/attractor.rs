//! The attractors a model's samples reach, by kind, with their basins: a census of the
//! landscape of any [`Denoiser`] at one noise level.
//!
//! 1. Settle every sample, `x ← D(x, sigma)`, until it moves less than the tolerance or its
//!    estimated distance to its limit is below a quarter of `group_radius`
//!    ([`super::settle::settle_within`]).
//! 2. Group the settled points within `group_radius` (delta_s); each group's first member starts
//!    a matrix-free Newton–Krylov run ([`super::fixed`]); so does the midpoint of every stable
//!    point and each of its two nearest stable neighbours (where index-1 saddles sit between
//!    memories, as in theory.md §5). Runs that reach one point are merged.
//! 3. Each distinct fixed point gets its rightmost Jacobian spectrum and a kind:
//!
//! ```text
//! memory       certified index 0, within delta_m of a training pattern
//! spurious     certified index 0, not a memory, on the data's support
//! off_support  certified index 0, farther from the data than the support gate allows
//! saddle       certified index ≥ 1
//! uncertain    index not certified (degenerate or unconverged spectrum)
//! ```
//!
//! The basin of a point is the share of samples whose group's run converged to it (a Monte
//! Carlo estimate of the basin's mass under the sampling distribution). The kinds follow the
//! sample classes' precedence ([`super::classify`]): a stable state off the data is never
//! counted as spurious.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::distance::{knn, squared_distance};
use super::fixed::{FixedPointConfig, FixedPointSet, fixed_points};
use super::krylov::Cost;
use super::settle::{SettleConfig, group, settle_within};
use super::support::SupportGate;
use crate::denoiser::Denoiser;
use crate::error::{Error, Result};

/// Settling stops once a point is estimated within this × `group_radius` of its limit.
const SETTLE_DISTANCE: f64 = 0.25;

/// What a fixed point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttractorKind {
    Memory,
    Spurious,
    OffSupport,
    Saddle,
    Uncertain,
}

impl AttractorKind {
    pub const ALL: [AttractorKind; 5] = [
        AttractorKind::Memory,
        AttractorKind::Spurious,
        AttractorKind::OffSupport,
        AttractorKind::Saddle,
        AttractorKind::Uncertain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AttractorKind::Memory => "memory",
            AttractorKind::Spurious => "spurious",
            AttractorKind::OffSupport => "off_support",
            AttractorKind::Saddle => "saddle",
            AttractorKind::Uncertain => "uncertain",
        }
    }
}

/// How the census runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CensusConfig {
    pub settle: SettleConfig,
    pub fixed: FixedPointConfig,
    /// Settled samples closer than this are one group (delta_s).
    pub group_radius: f64,
    /// Stable points within this of a training pattern are memories (delta_m).
    pub memory_radius: f64,
    /// Newton runs from at most this many groups, the most populated first (the samples of
    /// the others count as not analysed).
    pub max_groups: usize,
    /// Also start from the midpoints of each stable point and its two nearest stable neighbours.
    pub saddle_starts: bool,
}

/// One fixed point of the census.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attractor {
    pub x: Vec<f64>,
    pub kind: AttractorKind,
    /// Unstable directions found (None when no spectrum was computed).
    pub index: Option<usize>,
    pub certified: bool,
    /// Share of the samples in its basin (0 for points reached only from saddle starts).
    pub basin: f64,
    /// Spectral gap 1 − Re λ_max of J (see [`super::fixed::Stability`]).
    pub gap: Option<f64>,
    /// ‖J − Jᵀ‖_F / ‖J‖_F.
    pub asymmetry: Option<f64>,
    /// Distance to the nearest training pattern.
    pub nearest_train: f64,
    /// |x − D(x)|.
    pub residual: f64,
}

/// Counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub memory: usize,
    pub spurious: usize,
    pub off_support: usize,
    pub saddle: usize,
    pub uncertain: usize,
}

impl KindCounts {
    pub fn get(&self, kind: AttractorKind) -> usize {
        match kind {
            AttractorKind::Memory => self.memory,
            AttractorKind::Spurious => self.spurious,
            AttractorKind::OffSupport => self.off_support,
            AttractorKind::Saddle => self.saddle,
            AttractorKind::Uncertain => self.uncertain,
        }
    }

    fn add(&mut self, kind: AttractorKind) {
        *match kind {
            AttractorKind::Memory => &mut self.memory,
            AttractorKind::Spurious => &mut self.spurious,
            AttractorKind::OffSupport => &mut self.off_support,
            AttractorKind::Saddle => &mut self.saddle,
            AttractorKind::Uncertain => &mut self.uncertain,
        } += 1;
    }
}

/// The census at one noise level.
#[derive(Debug, Clone, Serialize)]
pub struct Census {
    pub sigma: f64,
    pub attractors: Vec<Attractor>,
    pub counts: KindCounts,
    /// For each sample, the position in `attractors` of the point it reached (None: its group
    /// was not analysed, or its Newton run did not converge).
    pub sample_attractor: Vec<Option<usize>>,
    /// Samples whose settling did not converge within `settle.max_iterations`.
    pub unsettled: usize,
    /// Groups of settled samples, and Newton starts that did not converge.
    pub groups: usize,
    pub unconverged_starts: usize,
    /// Denoiser work of the Newton runs and the spectra (settling not counted).
    pub cost: Cost,
}

impl Census {
    /// The kind of the attractor each sample reached.
    pub fn sample_kinds(&self) -> Vec<Option<AttractorKind>> {
        self.sample_attractor
            .iter()
            .map(|a| a.map(|i| self.attractors[i].kind))
            .collect()
    }

    /// The basin sizes (shares of samples) of the attractors of `kind`, largest first.
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
}

/// Runs the census of `denoiser` at `sigma` from `samples`, against the training set `train`
/// and, where given, the support gate.
pub fn census(
    denoiser: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    samples: ArrayView2<f64>,
    sigma: f64,
    gate: Option<&SupportGate>,
    config: &CensusConfig,
) -> Result<Census> {
    if samples.ncols() != train.ncols() {
        return Err(Error::ShapeMismatch {
            what: "samples".into(),
            expected: vec![samples.nrows(), train.ncols()],
            got: vec![samples.nrows(), samples.ncols()],
        });
    }
    if samples.nrows() == 0 {
        return Err(Error::invalid("samples", "at least one row", 0));
    }
    let n = samples.nrows();
    let settled = settle_within(
        denoiser,
        samples,
        sigma,
        &config.settle,
        SETTLE_DISTANCE * config.group_radius,
    );
    let (group_of, groups) = group(settled.points.view(), config.group_radius)?;
    // groups by size, largest first (ties: first member), up to max_groups
    let mut members: Vec<Vec<usize>> = vec![vec![]; groups];
    for (i, &g) in group_of.iter().enumerate() {
        members[g].push(i);
    }
    let mut order: Vec<usize> = (0..groups).collect();
    order.sort_by(|&a, &b| members[b].len().cmp(&members[a].len()).then(a.cmp(&b)));
    order.truncate(config.max_groups);
    let d = train.ncols();
    let starts = Array2::from_shape_fn((order.len(), d), |(r, j)| {
        settled.points[[members[order[r]][0], j]]
    });
    let mut set = fixed_points(denoiser, sigma, starts.view(), &config.fixed)?;
    let mut sample_point = vec![None; n];
    for (r, &g) in order.iter().enumerate() {
        for &i in &members[g] {
            sample_point[i] = set.assignment[r];
        }
    }
    let mut cost = set.newton_cost;
    cost += set.stability_cost;
    let mut unconverged_starts = set.unconverged.len();
    if config.saddle_starts {
        let extra = saddle_starts(&set)?;
        if extra.nrows() > 0 {
            let more = fixed_points(denoiser, sigma, extra.view(), &config.fixed)?;
            cost += more.newton_cost;
            cost += more.stability_cost;
            unconverged_starts += more.unconverged.len();
            for p in more.points {
                let dup = set
                    .points
                    .iter()
                    .any(|q| squared_distance(&q.x, &p.x).sqrt() <= config.fixed.merge);
                if !dup {
                    set.points.push(p);
                }
            }
        }
    }
    let xs = Array2::from_shape_fn((set.points.len(), d), |(i, j)| set.points[i].x[j]);
    let nearest = if xs.nrows() > 0 {
        knn(xs.view(), train, 1, false)?
            .distances
            .column(0)
            .to_owned()
    } else {
        ndarray::Array1::zeros(0)
    };
    let off = match (gate, xs.nrows()) {
        (Some(g), m) if m > 0 => g
            .distances(xs.view())?
            .iter()
            .map(|&r| g.is_off_support(r))
            .collect(),
        _ => vec![false; xs.nrows()],
    };
    let mut basin = vec![0usize; set.points.len()];
    for p in sample_point.iter().flatten() {
        basin[*p] += 1;
    }
    let mut counts = KindCounts::default();
    let attractors: Vec<Attractor> = set
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = p.stability.as_ref();
            let certified = s.is_some_and(|s| s.certified);
            let kind = match s.map(|s| s.index) {
                _ if !certified => AttractorKind::Uncertain,
                Some(0) if nearest[i] <= config.memory_radius => AttractorKind::Memory,
                Some(0) if off[i] => AttractorKind::OffSupport,
                Some(0) => AttractorKind::Spurious,
                _ => AttractorKind::Saddle,
            };
            counts.add(kind);
            Attractor {
                x: p.x.clone(),
                kind,
                index: s.map(|s| s.index),
                certified,
                basin: basin[i] as f64 / n as f64,
                gap: s.map(|s| s.gap),
                asymmetry: p.asymmetry.and_then(|a| a.ratio),
                nearest_train: nearest[i],
                residual: p.residual,
            }
        })
        .collect();
    Ok(Census {
        sigma,
        attractors,
        counts,
        sample_attractor: sample_point,
        unsettled: settled.converged.iter().filter(|c| !**c).count(),
        groups,
        unconverged_starts,
        cost,
    })
}

/// Nearest stable neighbours whose midpoints start saddle searches: 2, so that points on a
/// ring (each with two equidistant neighbours) get both.
const SADDLE_NEIGHBOURS: usize = 2;

/// Midpoints of each stable point and its [`SADDLE_NEIGHBOURS`] nearest other stable points
/// (each pair once).
fn saddle_starts(set: &FixedPointSet) -> Result<Array2<f64>> {
    let stable: Vec<&Vec<f64>> = set
        .points
        .iter()
        .filter(|p| p.stability.as_ref().is_some_and(|s| s.index == 0))
        .map(|p| &p.x)
        .collect();
    if stable.len() < 2 {
        return Ok(Array2::zeros((
            0,
            set.points.first().map_or(0, |p| p.x.len()),
        )));
    }
    let d = stable[0].len();
    let xs = Array2::from_shape_fn((stable.len(), d), |(i, j)| stable[i][j]);
    let neighbours = SADDLE_NEIGHBOURS.min(stable.len() - 1);
    let nn = knn(xs.view(), xs.view(), neighbours, true)?;
    let mut pairs: Vec<(usize, usize)> = (0..stable.len())
        .flat_map(|i| {
            nn.indices
                .row(i)
                .iter()
                .map(move |&j| (i.min(j), i.max(j)))
                .collect::<Vec<_>>()
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    Ok(Array2::from_shape_fn((pairs.len(), d), |(r, j)| {
        0.5 * (xs[[pairs[r].0, j]] + xs[[pairs[r].1, j]])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synthetic::kgon;
    use crate::denoiser::EmpiricalDenoiser;

    fn config(scale: f64) -> CensusConfig {
        CensusConfig {
            settle: SettleConfig {
                tolerance: 1e-10 * scale,
                max_iterations: 2000,
            },
            fixed: FixedPointConfig {
                eigenvalues: 2,
                ..FixedPointConfig::for_scale(scale, false)
            },
            group_radius: 1e-3 * scale,
            memory_radius: 0.1 * scale,
            max_groups: 64,
            saddle_starts: true,
        }
    }

    #[test]
    fn the_exact_kgon_census_finds_its_memories_and_saddles() {
        // the K = 6 polygon at beta = 5 (theory.md §7.8: 6 minima at the vertices, 6 saddles
        // between them, 1 maximum): 600 samples spread over the plane settle into the 6
        // memories, each with basin ≈ 1/6 (the basins are the 6 congruent sectors); the
        // midpoint starts find the 6 saddles, certified index 1
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
                saddle: 6,
                ..Default::default()
            }
        );
        assert!(c.sample_attractor.iter().all(|a| a.is_some()));
        for a in c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Memory)
        {
            // binomial sd of a share of 1/6 over 600 samples: 0.015; 4 sd
            assert!((a.basin - 1.0 / 6.0).abs() < 0.06, "{}", a.basin);
        }
        for a in c
            .attractors
            .iter()
            .filter(|a| a.kind == AttractorKind::Saddle)
        {
            assert_eq!((a.index, a.basin), (Some(1), 0.0));
            let r = a.x.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(r < 1.0 && r > 0.5, "{r}");
        }
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
        cfg.saddle_starts = false;
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
