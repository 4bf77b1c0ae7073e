//! The (K, training step) phase map: for each K and seed, train once; at every checkpoint,
//! sample, classify (memorized / spurious / generalized, f_mem) and record the train and
//! held-out losses; then estimate tau_mem(K) with a bootstrap interval, tau_gen, and the
//! exponent p of tau_mem = a K^p (definitions in [`memscape::analysis::dynamics`]).
//!
//! Bootstrap: each resample draws the seeds with replacement and, inside every drawn seed and
//! checkpoint, the samples with replacement; it recomputes the seed-averaged f_mem curve of
//! every K, its crossing, and the fit. Intervals are the 2.5% and 97.5% percentiles; a
//! crossing that some resamples miss gets an upper bound of `null` (not reached).

use std::time::Instant;

use memscape::analysis::classify::{
    Class, Classification, Fractions, ThresholdSpec, classify, fractions, percentile_interval,
};
use memscape::analysis::dynamics::{first_crossing, power_law};
use memscape::analysis::support::{MIN_HELDOUT, Quality, SupportGate, quality};
use memscape::dataset::{DataSpec, ExactQuality};
use memscape::error::{Error, Result};
use memscape::pipeline::{
    MAP_SIGMA_MIN, SamplingPlan, data_scale, default_sigma_range, training_set,
};
use memscape::rng;
use memscape::sampler;
use ndarray::Array2;
use rand::RngExt;
use serde::Serialize;

use crate::model::{CheckpointMeta, ScoreModel};
use crate::train::{TrainConfig, checkpoint_steps, train};

/// A dynamics study as a user gives it.
#[derive(Debug, Clone, Serialize)]
pub struct DynamicsRequest {
    pub data: DataSpec,
    pub ks: Vec<usize>,
    /// Training seeds `train.seed, train.seed + 1, ...`.
    pub seeds: usize,
    pub train: TrainConfig,
    pub subset_seed: u64,
    /// Held-out points (the tail of the permutation) for the test loss, the support gate and
    /// the quality score (the gate needs at least 20).
    pub holdout: usize,
    /// Quantile of the held-out distances past which a sample is off-support.
    pub support_quantile: f64,
    pub plan: SamplingPlan,
    pub num_samples: usize,
    pub thresholds: ThresholdSpec,
    /// The f_mem level θ whose first crossing is tau_mem.
    pub fmem_level: f64,
    pub resamples: usize,
    /// A K whose first seed's samples and labels are kept at every checkpoint (for pictures).
    pub grid_k: Option<usize>,
}

/// The samples of one checkpoint at the grid's K, with their labels.
#[derive(Debug)]
pub struct GridCell {
    pub step: usize,
    pub samples: Array2<f64>,
    pub classification: Classification,
}

/// One (K, seed, checkpoint) cell.
#[derive(Debug, Clone, Serialize)]
pub struct DynamicsRow {
    pub k: usize,
    pub seed: u64,
    pub step: usize,
    pub fractions: Fractions,
    pub train_loss: f64,
    pub test_loss: f64,
    /// Kernel MMD² of the samples against held-out data (none without held-out data).
    pub quality: Option<Quality>,
    /// The exact quality of the samples where the data's distribution is known.
    pub exact_quality: Option<ExactQuality>,
}

impl DynamicsRow {
    /// The class with the largest fraction.
    pub fn dominant(&self) -> &'static str {
        let f = &self.fractions;
        [
            (f.memorized.value, Class::Memorized),
            (f.spurious.value, Class::Spurious),
            (f.generalized.value, Class::Generalized),
            (f.off_support.value, Class::OffSupport),
        ]
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.name())
        .expect("four classes")
    }
}

/// tau_mem (or tau_gen) of one K with its interval; `step` is `None` when never reached.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tau {
    pub k: usize,
    pub step: Option<f64>,
    pub ci: [Option<f64>; 2],
}

/// The fitted exponent of tau_mem = a K^p.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PowerFit {
    pub a: f64,
    pub p: f64,
    pub ci: [f64; 2],
    /// The K values that entered the fit (those whose tau_mem was reached).
    pub num_k: usize,
}

/// A finished study.
#[derive(Debug)]
pub struct DynamicsRun {
    pub request: DynamicsRequest,
    pub rows: Vec<DynamicsRow>,
    pub tau_mem: Vec<Tau>,
    /// The checkpoint of the smallest seed-averaged held-out loss.
    pub tau_gen: Vec<Tau>,
    /// The first checkpoint whose seed-averaged MMD² is within 10% of its range above its
    /// minimum (Bonnaire et al.'s tau_gen with MMD² for FID, bonnaire.md "τ_gen").
    pub tau_gen_quality: Vec<Tau>,
    pub fit: Option<PowerFit>,
    /// Mini-batch loss curves, one per (K, seed).
    pub losses: Vec<(usize, u64, Vec<f32>)>,
    /// At `grid_k`, first seed: every checkpoint's samples and labels, and the training set.
    pub grid: Vec<GridCell>,
    pub grid_train: Option<Array2<f64>>,
    /// (height, width) when the patterns are images.
    pub image_shape: Option<(usize, usize)>,
    pub seconds: f64,
}

/// Runs the study. `on_checkpoint` sees every checkpoint (to save it) with its K and seed.
pub fn dynamics(
    request: DynamicsRequest,
    mut on_checkpoint: impl FnMut(usize, u64, &ScoreModel, &CheckpointMeta) -> Result<()>,
) -> Result<DynamicsRun> {
    if request.ks.is_empty() || request.ks.windows(2).any(|w| w[0] >= w[1]) || request.ks[0] < 2 {
        return Err(Error::invalid(
            "--k",
            "a non-empty, strictly increasing list of values ≥ 2",
            format!("{:?}", request.ks),
        ));
    }
    if request.seeds == 0 {
        return Err(Error::invalid("--seeds", "≥ 1", 0));
    }
    if request.num_samples < 2 {
        return Err(Error::invalid("--n-samples", "≥ 2", request.num_samples));
    }
    if let Some(g) = request.grid_k
        && !request.ks.contains(&g)
    {
        return Err(Error::invalid(
            "--grid-k",
            format!("one of the K values {:?}", request.ks),
            g,
        ));
    }
    if !(request.fmem_level > 0.0 && request.fmem_level <= 1.0) {
        return Err(Error::invalid(
            "--fmem-level",
            "in (0, 1]",
            request.fmem_level,
        ));
    }
    let clock = Instant::now();
    let mut rows = vec![];
    let mut losses = vec![];
    // indicator[k][seed][checkpoint] = per-sample f_mem flags
    let mut flags: Vec<Vec<Vec<Vec<bool>>>> = vec![];
    let steps = checkpoint_steps(request.train.last_step(), request.train.checkpoints);
    let (mut grid, mut grid_train, mut image_shape) = (vec![], None, None);
    for &k in &request.ks {
        let set = training_set(&request.data, k, request.holdout, request.subset_seed)?;
        image_shape = set.train.image_shape;
        let keep_grid = request.grid_k == Some(k);
        if keep_grid {
            grid_train = Some(set.train.points.clone());
        }
        let scale = data_scale(set.train.points.view());
        let (default_max, _) = default_sigma_range(scale);
        let plan = request
            .plan
            .config(default_max, MAP_SIGMA_MIN * scale, true)?;
        let heldout = (set.heldout.num_patterns() > 0).then(|| set.heldout.points.view());
        let gate = heldout
            .filter(|h| h.nrows() >= MIN_HELDOUT)
            .map(|h| SupportGate::calibrate(set.train.points.view(), h, request.support_quantile))
            .transpose()?;
        let mut per_seed = vec![];
        for s in 0..request.seeds as u64 {
            let config = TrainConfig {
                seed: request.train.seed + s,
                image_shape: set.train.image_shape,
                ..request.train.clone()
            };
            let mut cells = vec![];
            let run = train(
                &config,
                set.train.points.view(),
                heldout,
                |model, meta, point| {
                    on_checkpoint(k, config.seed, model, meta)?;
                    let samples =
                        sampler::sample(model, model.dim(), request.num_samples, &plan, &mut ())?;
                    let c = classify(
                        set.train.points.view(),
                        samples.view(),
                        None,
                        &request.thresholds,
                        gate.as_ref(),
                    )?;
                    let quality = match (&gate, heldout) {
                        (Some(_), Some(h)) => Some(quality(samples.view(), h)?),
                        _ => None,
                    };
                    let seed = request.plan.seed ^ (k as u64) ^ (meta.step as u64) << 20;
                    rows.push(DynamicsRow {
                        k,
                        seed: config.seed,
                        step: meta.step,
                        fractions: fractions(&c, request.resamples, seed),
                        train_loss: point.train_loss,
                        test_loss: point.test_loss,
                        quality,
                        exact_quality: request.data.exact_quality(samples.view()),
                    });
                    cells.push(c.ratio_memorized.clone());
                    if keep_grid && s == 0 {
                        grid.push(GridCell {
                            step: meta.step,
                            samples,
                            classification: c,
                        });
                    }
                    Ok(())
                },
            )?;
            losses.push((k, config.seed, run.losses));
            per_seed.push(cells);
        }
        flags.push(per_seed);
    }
    let steps_f: Vec<f64> = steps.iter().map(|&s| s as f64).collect();
    let level = request.fmem_level;
    let curve = |per_seed: &[Vec<Vec<bool>>], pick: &mut dyn FnMut(usize, usize) -> f64| {
        (0..steps.len())
            .map(|c| (0..per_seed.len()).map(|s| pick(s, c)).sum::<f64>() / per_seed.len() as f64)
            .collect::<Vec<f64>>()
    };
    let mean = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / v.len() as f64;
    let point_taus: Vec<Option<f64>> = flags
        .iter()
        .map(|per_seed| {
            let f = curve(per_seed, &mut |s, c| mean(&per_seed[s][c]));
            first_crossing(&steps_f, &f, level)
        })
        .collect();
    // bootstrap: resample seeds, then samples inside each drawn (seed, checkpoint)
    let mut boot_taus: Vec<Vec<Option<f64>>> = vec![vec![]; request.ks.len()];
    let mut boot_p = vec![];
    for b in 0..request.resamples {
        let mut r = rng::stream(request.plan.seed ^ 0xB007, b as u64);
        let mut taus = vec![];
        for (ki, per_seed) in flags.iter().enumerate() {
            let drawn: Vec<usize> = (0..per_seed.len())
                .map(|_| r.random_range(0..per_seed.len()))
                .collect();
            let f = curve(per_seed, &mut |s, c| {
                let v = &per_seed[drawn[s]][c];
                (0..v.len())
                    .filter(|_| v[r.random_range(0..v.len())])
                    .count() as f64
                    / v.len() as f64
            });
            let t = first_crossing(&steps_f, &f, level);
            boot_taus[ki].push(t);
            taus.push(t);
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = request
            .ks
            .iter()
            .zip(&taus)
            .filter_map(|(&k, t)| t.map(|t| (k as f64, t)))
            .unzip();
        if let Some((_, p)) = power_law(&xs, &ys) {
            boot_p.push(p);
        }
    }
    let tau_mem = request
        .ks
        .iter()
        .zip(&point_taus)
        .zip(&boot_taus)
        .map(|((&k, &step), boot)| Tau {
            k,
            step,
            ci: interval_with_misses(boot),
        })
        .collect();
    let (xs, ys): (Vec<f64>, Vec<f64>) = request
        .ks
        .iter()
        .zip(&point_taus)
        .filter_map(|(&k, t)| t.map(|t| (k as f64, t)))
        .unzip();
    let fit = power_law(&xs, &ys).map(|(a, p)| PowerFit {
        a,
        p,
        ci: percentile_interval(boot_p),
        num_k: xs.len(),
    });
    let tau_gen = tau_gen(&request.ks, &rows, &steps);
    let tau_gen_quality = tau_gen_quality(&request.ks, &rows, &steps);
    Ok(DynamicsRun {
        request,
        rows,
        tau_mem,
        tau_gen,
        tau_gen_quality,
        fit,
        losses,
        grid,
        grid_train,
        image_shape,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// Percentile interval of crossings where some resamples never cross: those count as +∞.
fn interval_with_misses(boot: &[Option<f64>]) -> [Option<f64>; 2] {
    if boot.is_empty() {
        return [None, None];
    }
    let values: Vec<f64> = boot.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect();
    let [lo, hi] = percentile_interval(values);
    let finite = |v: f64| v.is_finite().then_some(v);
    [finite(lo), finite(hi)]
}

/// The seed-averaged curve of `value` over `steps` at K = `k` (NaN where no seed has one).
fn seed_mean(
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
fn tau_gen(ks: &[usize], rows: &[DynamicsRow], steps: &[usize]) -> Vec<Tau> {
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

/// Share of its range above its minimum within which the MMD² curve counts as arrived.
const QUALITY_PLATEAU: f64 = 0.1;

/// tau_gen from sample quality per K: the first checkpoint whose seed-averaged MMD² is at most
/// min + 0.1 (max − min) of its curve (`None` without quality scores).
fn tau_gen_quality(ks: &[usize], rows: &[DynamicsRow], steps: &[usize]) -> Vec<Tau> {
    ks.iter()
        .map(|&k| {
            let curve: Vec<(usize, f64)> =
                seed_mean(rows, k, steps, |r| r.quality.map_or(f64::NAN, |q| q.mmd2))
                    .into_iter()
                    .filter(|(_, v)| v.is_finite())
                    .collect();
            let lo = curve.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
            let hi = curve.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max);
            let step = curve
                .iter()
                .find(|(_, v)| *v <= lo + QUALITY_PLATEAU * (hi - lo))
                .map(|(s, _)| *s as f64);
            Tau {
                k,
                step,
                ci: [None, None],
            }
        })
        .collect()
}

impl DynamicsRun {
    /// The `--json` document: rows, tau_mem, tau_gen, fit.
    pub fn results(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let f = &r.fractions;
                serde_json::json!({
                    "k": r.k, "seed": r.seed, "step": r.step,
                    "memorized": f.memorized.value, "spurious": f.spurious.value,
                    "generalized": f.generalized.value, "off_support": f.off_support.value,
                    "f_mem": f.f_mem.value,
                    "f_mem_ci": f.f_mem.ci, "dominant": r.dominant(),
                    "train_loss": r.train_loss, "test_loss": r.test_loss,
                    "quality": r.quality,
                    "exact_quality": r.exact_quality,
                })
            })
            .collect();
        serde_json::json!({
            "rows": rows,
            "tau_mem": self.tau_mem,
            "tau_gen": self.tau_gen,
            "tau_gen_quality": self.tau_gen_quality,
            "image_shape": self.image_shape.map(|(h, w)| [h, w]),
            "grid_k": self.request.grid_k,
            "fit": self.fit,
            "fmem_level": self.request.fmem_level,
            "seeds": self.request.seeds,
            "num_samples": self.request.num_samples,
            "seconds": self.seconds,
        })
    }

    /// The (K, seed, step) phase table as CSV.
    pub fn phase_csv(&self) -> String {
        let mut out = String::from(
            "k,seed,step,memorized,spurious,generalized,f_mem,f_mem_lo,f_mem_hi,dominant,train_loss,test_loss,off_support,mmd2,mmd2_heldout\n",
        );
        for r in &self.rows {
            let f = &r.fractions;
            let q = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
            out += &format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.k,
                r.seed,
                r.step,
                f.memorized.value,
                f.spurious.value,
                f.generalized.value,
                f.f_mem.value,
                f.f_mem.ci[0],
                f.f_mem.ci[1],
                r.dominant(),
                r.train_loss,
                r.test_loss,
                f.off_support.value,
                q(r.quality.map(|q| q.mmd2)),
                q(r.quality.map(|q| q.mmd2_heldout)),
            );
        }
        out
    }

    /// The grid's name for the samples of checkpoint `step` (a "model" in `labels.csv`).
    pub fn grid_name(step: usize) -> String {
        format!("step{step:08}")
    }

    /// Per-sample labels of the grid's checkpoints as CSV, `model` naming the step.
    pub fn grid_labels_csv(&self) -> String {
        let mut out = format!("model,k,{}\n", memscape::analysis::classify::CSV_HEADER);
        for cell in &self.grid {
            let prefix = format!(
                "{},{},",
                Self::grid_name(cell.step),
                self.request.grid_k.unwrap_or(0)
            );
            out += &cell.classification.csv_rows(&prefix);
        }
        out
    }

    /// Mini-batch loss curves as CSV `k,seed,step,loss`.
    pub fn loss_csv(&self) -> String {
        let mut out = String::from("k,seed,step,loss\n");
        for (k, seed, curve) in &self.losses {
            for (i, l) in curve.iter().enumerate() {
                out += &format!("{k},{seed},{},{l}\n", i + 1);
            }
        }
        out
    }
}
