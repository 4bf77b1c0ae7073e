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

mod config;
mod result;
mod stages;

pub use config::*;
pub use result::*;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::fixed::{Stability, fixed_points, stability};
use super::manifold::{extent, neutral_sets};
use super::saddles::Origin;
use super::settle::{SettleConfig, SettleStatus, settle};
use crate::analysis::samples::distance::{group, knn};
use crate::analysis::samples::support::SupportGate;
use crate::denoiser::Denoiser;
use crate::error::{Error, Result};

use stages::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::landscape::fixed::FixedPointConfig;
    use crate::dataset::synthetic::kgon;
    use crate::denoiser::Arithmetic;
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
