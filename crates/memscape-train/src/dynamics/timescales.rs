//! The timescales of a study and their intervals: tau_mem and tau_spur (first crossings of
//! seed-averaged curves, with a paired bootstrap over seeds and samples), their power-law fits
//! in K and the exponent gap, and tau_gen from the held-out loss and from sample quality.

use memscape::analysis::samples::classify::{censored_interval, percentile_interval};
use memscape::analysis::samples::dynamics::{first_crossing, plateau_onset_over_seeds, power_law};
use memscape::numbers::{nan, nan_pair, null_as_nan, null_as_nan_pair};
use memscape::rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::DynamicsRow;

/// Per-sample indicators: `flags[k][seed][checkpoint][sample]`.
pub(super) type Flags = Vec<Vec<Vec<bool>>>;

/// tau_mem (or tau_gen) of one K with its interval; `step` is `None` when never reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tau {
    pub k: usize,
    pub step: Option<f64>,
    #[serde(default)]
    pub ci: [Option<f64>; 2],
}

/// The fitted exponent of tau_mem = a K^p. Numbers a stored document lacks read as NaN (the
/// report draws them as "—"), counts as 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerFit {
    #[serde(default = "nan", deserialize_with = "null_as_nan")]
    pub a: f64,
    #[serde(default = "nan", deserialize_with = "null_as_nan")]
    pub p: f64,
    /// NaN without resamples.
    #[serde(default = "nan_pair", deserialize_with = "null_as_nan_pair")]
    pub ci: [f64; 2],
    /// The K values that entered the fit (those whose tau_mem was reached).
    #[serde(default)]
    pub num_k: usize,
    /// Bootstrap resamples behind `ci`: those in which all `num_k` values crossed (0 in
    /// documents written before it was kept).
    #[serde(default)]
    pub resamples: usize,
}

/// tau_spur/tau_mem at one K with its paired-bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub k: usize,
    pub ratio: Option<f64>,
    pub ci: [Option<f64>; 2],
    /// Resamples in which both taus crossed.
    pub resamples: usize,
}

/// p_spur − p_mem of the two power laws with its paired-bootstrap interval: 0 when the ratio
/// tau_spur/tau_mem does not depend on K.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentGap {
    pub gap: f64,
    /// NaN without resamples.
    #[serde(default = "nan_pair", deserialize_with = "null_as_nan_pair")]
    pub ci: [f64; 2],
    #[serde(default)]
    pub resamples: usize,
}

/// The first crossings of one indicator: the point estimate per K, and per resample the
/// crossing of every K (+∞ when not reached).
pub(super) struct Crossings {
    pub(super) point: Vec<Option<f64>>,
    pub(super) boot: Vec<Vec<f64>>,
}

/// First crossings of the seed-averaged curves of several per-sample indicators, each at its
/// level, with bootstrap resamples shared by all of them (paired). Each resample (stream b of
/// `seed`) draws the seeds with replacement and, inside every drawn (seed, checkpoint), the
/// samples with replacement; the same draws serve every indicator, which must have the same
/// shape.
pub(super) fn crossing_bootstrap(
    sets: &[(&[Flags], f64)],
    steps: &[usize],
    resamples: usize,
    seed: u64,
) -> Vec<Crossings> {
    let steps_f: Vec<f64> = steps.iter().map(|&s| s as f64).collect();
    let mean = |v: &[bool], pick: &[usize]| {
        pick.iter().filter(|&&i| v[i]).count() as f64 / pick.len().max(1) as f64
    };
    // the curve of K index ki with seeds `drawn` and per (seed slot, checkpoint) sample draws
    let crossing = |flags: &Flags, level: f64, drawn: &[usize], picks: &[Vec<Vec<usize>>]| {
        let curve: Vec<f64> = (0..steps.len())
            .map(|c| {
                (0..drawn.len())
                    .map(|s| mean(&flags[drawn[s]][c], &picks[s][c]))
                    .sum::<f64>()
                    / drawn.len() as f64
            })
            .collect();
        first_crossing(&steps_f, &curve, level)
    };
    let num_k = sets[0].0.len();
    let mut out: Vec<Crossings> = sets
        .iter()
        .map(|(flags, level)| Crossings {
            point: flags
                .iter()
                .map(|per_seed| {
                    let all: Vec<usize> = (0..per_seed.len()).collect();
                    let picks: Vec<Vec<Vec<usize>>> = per_seed
                        .iter()
                        .map(|cells| cells.iter().map(|v| (0..v.len()).collect()).collect())
                        .collect();
                    crossing(per_seed, *level, &all, &picks)
                })
                .collect(),
            boot: vec![],
        })
        .collect();
    for b in 0..resamples {
        let mut r = rng::stream(seed, b as u64);
        let mut draws: Vec<Vec<f64>> = vec![vec![]; sets.len()];
        for ki in 0..num_k {
            let per_seed = &sets[0].0[ki];
            let drawn: Vec<usize> = (0..per_seed.len())
                .map(|_| r.random_range(0..per_seed.len()))
                .collect();
            let mut picks: Vec<Vec<Vec<usize>>> = vec![vec![]; drawn.len()];
            // checkpoint-major, then seed slot: the order of the draws is part of the seed
            (0..steps.len()).for_each(|c| {
                for (pick, &seed_index) in picks.iter_mut().zip(&drawn) {
                    let n = per_seed[seed_index][c].len();
                    pick.push((0..n).map(|_| r.random_range(0..n)).collect());
                }
            });
            for (set, (flags, level)) in sets.iter().enumerate() {
                let t = crossing(&flags[ki], *level, &drawn, &picks);
                draws[set].push(t.unwrap_or(f64::INFINITY));
            }
        }
        for (set, d) in draws.into_iter().enumerate() {
            out[set].boot.push(d);
        }
    }
    out
}

/// Per K, the geometric mean over seeds of one step per seed (None: the seed never reached
/// it, which makes the mean +∞, not reached), and per resample the same over seeds drawn with
/// replacement (stream b of `seed`): tau_spur from births, whose interval is over seeds.
pub(super) fn seed_bootstrap(per_k: &[Vec<Option<f64>>], resamples: usize, seed: u64) -> Crossings {
    let mean = |values: &[Option<f64>], pick: &mut dyn Iterator<Item = usize>| -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for i in pick {
            match values[i] {
                Some(v) => sum += v.ln(),
                None => return f64::INFINITY,
            }
            n += 1;
        }
        if n == 0 {
            f64::INFINITY
        } else {
            (sum / n as f64).exp()
        }
    };
    let point = per_k
        .iter()
        .map(|v| Some(mean(v, &mut (0..v.len()))).filter(|m| m.is_finite()))
        .collect();
    let boot = (0..resamples)
        .map(|b| {
            let mut r = rng::stream(seed, b as u64);
            per_k
                .iter()
                .map(|v| {
                    let drawn: Vec<usize> = (0..v.len())
                        .map(|_| r.random_range(0..v.len().max(1)))
                        .collect();
                    mean(v, &mut drawn.into_iter())
                })
                .collect()
        })
        .collect();
    Crossings { point, boot }
}

/// tau of every K with its interval, and the power-law fit over the K values whose point
/// estimate crossed; a resample in which one of them never crosses has no exponent (tau
/// beyond the last checkpoint) and is counted out.
pub(super) fn taus_and_fit(ks: &[usize], c: &Crossings) -> (Vec<Tau>, Option<PowerFit>) {
    let fitted: Vec<usize> = (0..ks.len()).filter(|&i| c.point[i].is_some()).collect();
    let boot_p: Vec<f64> = c
        .boot
        .iter()
        .filter_map(|taus| fit_over(ks, &fitted, taus))
        .map(|(_, p)| p)
        .collect();
    let taus = ks
        .iter()
        .enumerate()
        .map(|(i, &k)| Tau {
            k,
            step: c.point[i],
            ci: censored_interval(c.boot.iter().map(|t| t[i]).collect()),
        })
        .collect();
    let point: Vec<f64> = c.point.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect();
    let fit = fit_over(ks, &fitted, &point).map(|(a, p)| PowerFit {
        a,
        p,
        num_k: fitted.len(),
        resamples: boot_p.len(),
        ci: percentile_interval(boot_p),
    });
    (taus, fit)
}

/// The power law tau = a K^p over the K indices `fitted` (None when one is +∞ or fewer than
/// two remain).
pub(super) fn fit_over(ks: &[usize], fitted: &[usize], taus: &[f64]) -> Option<(f64, f64)> {
    if fitted.iter().any(|&i| !taus[i].is_finite()) {
        return None;
    }
    let xs: Vec<f64> = fitted.iter().map(|&i| ks[i] as f64).collect();
    let ys: Vec<f64> = fitted.iter().map(|&i| taus[i]).collect();
    power_law(&xs, &ys)
}

/// tau_spur/tau_mem per K and p_spur − p_mem, each from the resamples in which the taus
/// involved crossed (paired: one resample draws both).
pub(super) fn relation(
    ks: &[usize],
    mem: &Crossings,
    spur: &Crossings,
) -> (Vec<Ratio>, Option<ExponentGap>) {
    let ratios = (0..ks.len())
        .map(|i| {
            let boot: Vec<f64> = mem
                .boot
                .iter()
                .zip(&spur.boot)
                .filter(|(m, s)| m[i].is_finite() && s[i].is_finite())
                .map(|(m, s)| s[i] / m[i])
                .collect();
            Ratio {
                k: ks[i],
                ratio: mem.point[i].zip(spur.point[i]).map(|(m, s)| s / m),
                resamples: boot.len(),
                ci: if boot.is_empty() {
                    [None, None]
                } else {
                    percentile_interval(boot).map(Some)
                },
            }
        })
        .collect();
    let fitted: Vec<usize> = (0..ks.len())
        .filter(|&i| mem.point[i].is_some() && spur.point[i].is_some())
        .collect();
    let point = |c: &Crossings| -> Vec<f64> {
        c.point.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect()
    };
    let gap_of = |m: &[f64], s: &[f64]| -> Option<f64> {
        Some(fit_over(ks, &fitted, s)?.1 - fit_over(ks, &fitted, m)?.1)
    };
    let boot: Vec<f64> = mem
        .boot
        .iter()
        .zip(&spur.boot)
        .filter_map(|(m, s)| gap_of(m, s))
        .collect();
    let gap = gap_of(&point(mem), &point(spur)).map(|gap| ExponentGap {
        gap,
        resamples: boot.len(),
        ci: percentile_interval(boot),
    });
    (ratios, gap)
}

/// tau_mem of every K with its bootstrap interval, and the power-law fit with its interval
/// (one indicator of [`crossing_bootstrap`]).
#[cfg(test)]
pub(super) fn tau_mem_bootstrap(
    ks: &[usize],
    flags: &[Flags],
    steps: &[usize],
    level: f64,
    resamples: usize,
    seed: u64,
) -> (Vec<Tau>, Option<PowerFit>) {
    let c = crossing_bootstrap(&[(flags, level)], steps, resamples, seed);
    taus_and_fit(ks, &c[0])
}

/// The seed-averaged curve of `value` over `steps` at K = `k` (NaN where no seed has one).
pub(super) fn seed_mean(
    rows: &[DynamicsRow],
    k: usize,
    steps: &[usize],
    value: fn(&DynamicsRow) -> f64,
) -> Vec<(usize, f64)> {
    steps
        .iter()
        .map(|&step| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.k == k && r.step == step)
                .map(value)
                .collect();
            (step, v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect()
}

/// tau_gen per K: the checkpoint of the smallest seed-averaged held-out loss.
pub(super) fn tau_gen(ks: &[usize], rows: &[DynamicsRow], steps: &[usize]) -> Vec<Tau> {
    ks.iter()
        .map(|&k| {
            let best = seed_mean(rows, k, steps, |r| r.test_loss)
                .into_iter()
                .filter(|(_, l)| l.is_finite())
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(s, _)| s as f64);
            Tau {
                k,
                step: best,
                ci: [None, None],
            }
        })
        .collect()
}

/// tau_gen from sample quality per K: the plateau onset of the seed-averaged MMD² above the
/// seed-averaged held-out floor (`mmd2_heldout`), with its interval over the seeds; `None`
/// without quality scores.
pub(super) fn tau_gen_quality(
    ks: &[usize],
    rows: &[DynamicsRow],
    steps: &[usize],
    level: f64,
    resamples: usize,
    seed: u64,
) -> Vec<Tau> {
    let at: Vec<f64> = steps.iter().map(|&s| s as f64).collect();
    ks.iter()
        .map(|&k| {
            let mut seeds: Vec<u64> = rows.iter().filter(|r| r.k == k).map(|r| r.seed).collect();
            seeds.dedup();
            let (mut curves, mut floors) = (vec![], vec![]);
            for &s in &seeds {
                let of = |step: usize| {
                    rows.iter()
                        .find(|r| r.k == k && r.seed == s && r.step == step)
                };
                curves.push(
                    steps
                        .iter()
                        .map(|&t| of(t).and_then(|r| r.quality).map_or(f64::NAN, |q| q.mmd2))
                        .collect(),
                );
                let held: Vec<f64> = steps
                    .iter()
                    .filter_map(|&t| of(t).and_then(|r| r.quality).map(|q| q.mmd2_heldout))
                    .collect();
                floors.push(held.iter().sum::<f64>() / held.len().max(1) as f64);
            }
            let onset = plateau_onset_over_seeds(&at, &curves, &floors, level, resamples, seed);
            Tau {
                k,
                step: onset.step,
                ci: onset.ci,
            }
        })
        .collect()
}
