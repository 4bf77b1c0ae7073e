//! The census's stages after settling and grouping: the candidates, merging duplicates and
//! absorbing points into manifolds, the saddle search beyond midpoints, the basins' shares
//! with their intervals, and the Poincaré–Hopf check on 2-D data.

use super::config::{CensusConfig, SaddleSearch};
use super::result::{Attractor, AttractorKind, CensusCost, EulerCheck};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use crate::analysis::landscape::basin::padded_box;
use crate::analysis::landscape::fixed::{
    FixedPoint, FixedPointConfig, SOFTEST, Stability, Status, fixed_points, newton_krylov,
};
use crate::analysis::landscape::krylov::Cost;
use crate::analysis::landscape::manifold::{LINK_PROBES, links_hold};
use crate::analysis::landscape::saddles::{
    Origin, SADDLE_NEIGHBOURS, directional_starts, midpoints, reaches, stack, string_starts,
};
use crate::analysis::landscape::settle::{SettleConfig, SettleStatus, Settled, settle};
use crate::analysis::samples::classify::{bootstrap_indices, percentile_interval};
use crate::analysis::samples::distance::{knn_pairs, squared_distance};
use crate::denoiser::Denoiser;
use crate::error::Result;

/// Members of a near-neutral set whose spectra decide its kind and dimension.
pub(super) const MANIFOLD_PROBES: usize = 3;
/// Points closer than this many position uncertainties are tested for being one.
pub(super) const MERGE_UNCERTAINTIES: f64 = 3.0;

/// A point under analysis, before its kind is decided.
pub(super) struct Candidate {
    pub(super) x: Array1<f64>,
    pub(super) residual: f64,
    pub(super) stability: Option<Stability>,
    pub(super) asymmetry: Option<f64>,
    /// The samples whose flow reached it.
    pub(super) members: Vec<usize>,
    /// For a near-neutral set: its dimension (None: not a manifold) and extent.
    pub(super) manifold: Option<(usize, f64)>,
    pub(super) flat: bool,
    pub(super) origin: Origin,
}

impl Candidate {
    pub(super) fn of(p: FixedPoint, members: Vec<usize>, origin: Origin) -> Self {
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

    pub(super) fn uncertainty(&self, margin: f64) -> f64 {
        self.stability.as_ref().map_or(f64::INFINITY, |s| {
            s.position_uncertainty(self.residual, margin)
        })
    }

    /// Index 0 without a neutral direction: a stable point.
    pub(super) fn stable(&self) -> bool {
        self.stability
            .as_ref()
            .is_some_and(|s| s.certified && s.index == 0)
    }

    /// A point of a continuum ([`Stability::neutral_stable`]).
    pub(super) fn neutral_stable(&self, margin: f64) -> bool {
        self.stability
            .as_ref()
            .is_some_and(|s| s.neutral_stable(margin))
    }
}

/// Up to [`MANIFOLD_PROBES`] members spread over a set: the best one, the member farthest from
/// it, then the member farthest from both.
pub(super) fn spread_members(
    points: ArrayView2<f64>,
    members: &[usize],
    first: usize,
) -> Vec<usize> {
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
pub(super) fn same_point(
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
pub(super) fn absorb(a: &mut Candidate, b: Candidate) {
    a.members.extend(b.members);
    a.members.sort_unstable();
    if b.residual < a.residual {
        (a.x, a.residual, a.stability, a.asymmetry) = (b.x, b.residual, b.stability, b.asymmetry);
    }
}

/// Merges the candidates that are one point ([`same_point`]), keeping the first of each.
/// Returns the Newton rows spent.
pub(super) fn merge_duplicates(
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
pub(super) fn absorb_into_manifolds(
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
pub(super) fn kick_off_saddles(
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

/// Starts beyond the samples' attractors (see [`crate::analysis::landscape::saddles`]), run by Newton and
/// analysed; returns the new candidates (basin 0) and the starts that did not converge.
pub(super) fn saddle_search(
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
pub(super) fn add_if_new(
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
pub(super) fn basin_shares(
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
pub(super) const EDGE_POINTS: usize = 32;

/// The Poincaré–Hopf count in the data's padded box: the flow must point inward along the
/// whole edge (checked at [`EDGE_POINTS`] points per side) for χ = 1 to hold.
pub(super) fn euler_check(
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
