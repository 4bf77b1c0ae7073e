//! A study's documents: `results.json` ([`DynamicsResults`], a flat row per K, seed and
//! checkpoint, and the interventions table) and the CSV tables of its run directory (phase,
//! attractors, loss, the grid's labels).

use memscape::analysis::landscape::attractor::CensusSummary;
use memscape::analysis::samples::chance::Chance;
use memscape::analysis::samples::classify::CSV_HEADER;
use memscape::analysis::samples::fidelity::{Fidelity, fidelity_fields};
use memscape::analysis::samples::support::Quality;
use memscape::dataset::ExactQuality;
use memscape::error::Result;
use memscape::numbers::{field, null_as_nan};
use memscape::store::{CsvTable, RunDir, sorted_json};
use serde::{Deserialize, Serialize};

use super::{DYNAMICS_DEFAULTS, DynamicsRun, ExponentGap, PowerFit, Ratio, Tau};
use crate::train::TrainConfig;

/// A study's `results.json` (and `--json` document): a flat row per (K, seed, checkpoint),
/// the timescales with their intervals and fits, the levels that define them, and, from the
/// command line, the interventions table. Written with its keys sorted ([`Self::write`]).
/// Fields missing from a stored document take their defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DynamicsResults {
    pub rows: Vec<ResultRow>,
    pub tau_mem: Vec<Tau>,
    pub tau_gen: Vec<Tau>,
    pub tau_gen_quality: Vec<Tau>,
    pub tau_spur: Vec<Tau>,
    pub fit: Option<PowerFit>,
    pub fit_spur: Option<PowerFit>,
    pub spur_ratio: Vec<Ratio>,
    pub exponent_gap: Option<ExponentGap>,
    /// With `--trace`: tau_spur from births, per K with its interval over seeds, and its fit
    /// (empty and null without).
    pub tau_spur_birth: Vec<Tau>,
    pub fit_spur_birth: Option<PowerFit>,
    /// (height, width) when the patterns are images.
    pub image_shape: Option<[usize; 2]>,
    pub grid_k: Option<usize>,
    /// The levels of tau_mem and tau_gen (documents written before they were kept used
    /// [`DYNAMICS_DEFAULTS`]' levels, which they read as).
    #[serde(default = "default_fmem_level")]
    pub fmem_level: f64,
    #[serde(default = "default_gen_level")]
    pub gen_level: f64,
    /// The spurious-mass level of tau_spur (None without a census).
    pub spur_level: Option<f64>,
    pub seeds: usize,
    pub num_samples: usize,
    pub seconds: f64,
    /// One entry per training configuration: the baseline (`none`) and each intervention.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interventions: Vec<InterventionSummary>,
}

fn default_fmem_level() -> f64 {
    DYNAMICS_DEFAULTS.fmem_level
}

fn default_gen_level() -> f64 {
    DYNAMICS_DEFAULTS.gen_level
}

/// One (K, seed, checkpoint) of [`DynamicsResults`]: the fractions (f_mem with its interval),
/// the dominant class, the losses, the sample quality and the census summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResultRow {
    pub k: usize,
    pub seed: u64,
    pub step: usize,
    pub memorized: f64,
    pub spurious: f64,
    pub generalized: f64,
    pub off_support: f64,
    pub f_mem: f64,
    pub f_mem_ci: [f64; 2],
    pub dominant: String,
    #[serde(deserialize_with = "null_as_nan")]
    pub train_loss: f64,
    /// NaN without held-out data.
    #[serde(deserialize_with = "null_as_nan")]
    pub test_loss: f64,
    pub quality: Option<Quality>,
    /// The Fréchet distance (with its held-out floor), precision and recall in the data's
    /// space (none without held-out data).
    pub fidelity: Option<Fidelity>,
    pub exact_quality: Option<ExactQuality>,
    pub attractors: Option<CensusSummary>,
    /// The chance levels of held-out draws and the excess over them (none without held-out
    /// data).
    pub chance: Option<Chance>,
}

/// A training configuration's line of the interventions table: its configuration, last
/// checkpoint, fits, and per K the timescales and the census at the last checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterventionSummary {
    pub name: String,
    pub train: TrainConfig,
    /// The last checkpoint, where the census columns are measured.
    pub step: usize,
    pub by_k: Vec<InterventionAtK>,
    pub fit: Option<PowerFit>,
    pub fit_spur: Option<PowerFit>,
    pub exponent_gap: Option<ExponentGap>,
}

/// One K of an [`InterventionSummary`]: tau_mem and tau_spur with their intervals, and the
/// seed means (of the finite values; None where there are none) of the census at the last
/// checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterventionAtK {
    pub k: usize,
    pub tau_mem: Option<f64>,
    pub tau_mem_ci: [Option<f64>; 2],
    pub tau_spur: Option<f64>,
    pub tau_spur_ci: Option<[Option<f64>; 2]>,
    pub memory_attractors: Option<f64>,
    pub spurious_attractors: Option<f64>,
    pub off_support_attractors: Option<f64>,
    pub manifolds: Option<f64>,
    pub saddles: Option<f64>,
    pub uncertain: Option<f64>,
    pub memory_mass: Option<f64>,
    pub spurious_mass: Option<f64>,
    pub manifold_mass: Option<f64>,
    pub unsettled_share: Option<f64>,
    pub mean_memory_basin: Option<f64>,
    pub mean_spurious_basin: Option<f64>,
}

impl DynamicsResults {
    /// Writes `results.json` with its keys sorted ([`memscape::store::sorted_json`]), as it
    /// has always been written.
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<()> {
        out.write_json("results.json", &sorted_json(self))?;
        Ok(())
    }
}

impl DynamicsRun {
    /// The `--json` document and `results.json`, without the interventions table
    /// ([`Self::intervention_summary`] gives a line of it).
    pub fn results(&self) -> DynamicsResults {
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let f = &r.fractions;
                ResultRow {
                    k: r.k,
                    seed: r.seed,
                    step: r.step,
                    memorized: f.memorized.value,
                    spurious: f.spurious.value,
                    generalized: f.generalized.value,
                    off_support: f.off_support.value,
                    f_mem: f.f_mem.value,
                    f_mem_ci: f.f_mem.ci,
                    dominant: r.dominant().to_string(),
                    train_loss: r.train_loss,
                    test_loss: r.test_loss,
                    quality: r.quality,
                    fidelity: r.fidelity,
                    exact_quality: r.exact_quality.clone(),
                    attractors: r.attractors.clone(),
                    chance: r.chance,
                }
            })
            .collect();
        DynamicsResults {
            rows,
            tau_mem: self.tau_mem.clone(),
            tau_gen: self.tau_gen.clone(),
            tau_gen_quality: self.tau_gen_quality.clone(),
            tau_spur: self.tau_spur.clone(),
            fit: self.fit,
            fit_spur: self.fit_spur,
            spur_ratio: self.spur_ratio.clone(),
            exponent_gap: self.exponent_gap,
            tau_spur_birth: self.tau_spur_birth.clone(),
            fit_spur_birth: self.fit_spur_birth,
            image_shape: self.image_shape.map(|(h, w)| [h, w]),
            grid_k: self.request.grid_k,
            fmem_level: self.request.fmem_level,
            gen_level: self.request.gen_level,
            spur_level: self.request.attractors.map(|a| a.spur_level),
            seeds: self.request.seeds,
            num_samples: self.request.num_samples,
            seconds: self.seconds,
            interventions: vec![],
        }
    }

    /// This run's line of the interventions table under `name`: per K, tau_mem and tau_spur,
    /// and the seed means of the census at the last checkpoint.
    pub fn intervention_summary(&self, name: &str) -> InterventionSummary {
        let last = self.rows.iter().map(|r| r.step).max().unwrap_or(0);
        let by_k = self
            .request
            .ks
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let censuses: Vec<&CensusSummary> = self
                    .rows
                    .iter()
                    .filter(|r| r.k == k && r.step == last)
                    .filter_map(|r| r.attractors.as_ref())
                    .collect();
                let mean = |f: &dyn Fn(&CensusSummary) -> f64| {
                    let v: Vec<f64> = censuses
                        .iter()
                        .map(|a| f(a))
                        .filter(|v| v.is_finite())
                        .collect();
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                };
                let average = |b: &[f64]| {
                    if b.is_empty() {
                        f64::NAN
                    } else {
                        b.iter().sum::<f64>() / b.len() as f64
                    }
                };
                InterventionAtK {
                    k,
                    tau_mem: self.tau_mem[i].step,
                    tau_mem_ci: self.tau_mem[i].ci,
                    tau_spur: self.tau_spur.get(i).and_then(|t| t.step),
                    tau_spur_ci: self.tau_spur.get(i).map(|t| t.ci),
                    memory_attractors: mean(&|a| a.counts.memory as f64),
                    spurious_attractors: mean(&|a| a.counts.spurious as f64),
                    off_support_attractors: mean(&|a| a.counts.off_support as f64),
                    manifolds: mean(&|a| a.counts.manifold as f64),
                    saddles: mean(&|a| a.counts.saddle as f64),
                    uncertain: mean(&|a| a.counts.uncertain as f64),
                    memory_mass: mean(&|a| a.memory_mass),
                    spurious_mass: mean(&|a| a.spurious_mass),
                    manifold_mass: mean(&|a| a.manifold_mass),
                    unsettled_share: mean(&|a| a.unsettled_share),
                    mean_memory_basin: mean(&|a| average(&a.memory_basins)),
                    mean_spurious_basin: mean(&|a| average(&a.spurious_basins)),
                }
            })
            .collect();
        InterventionSummary {
            name: name.to_string(),
            train: self.request.train.clone(),
            step: last,
            by_k,
            fit: self.fit,
            fit_spur: self.fit_spur,
            exponent_gap: self.exponent_gap,
        }
    }

    /// The (K, seed, step) phase table as CSV; the attractor columns are empty without a
    /// census.
    pub fn phase_csv(&self) -> String {
        let mut table = CsvTable::new(PHASE_HEADER);
        for r in &self.rows {
            let f = &r.fractions;
            let mut row: Vec<String> = [r.k, r.seed as usize, r.step].map(|v| v.to_string()).into();
            row.extend(
                [
                    f.memorized.value,
                    f.spurious.value,
                    f.generalized.value,
                    f.f_mem.value,
                    f.f_mem.ci[0],
                    f.f_mem.ci[1],
                ]
                .map(|v| v.to_string()),
            );
            row.push(r.dominant().to_string());
            row.extend([r.train_loss, r.test_loss, f.off_support.value].map(|v| v.to_string()));
            row.extend([
                field(r.quality.map(|q| q.mmd2)),
                field(r.quality.map(|q| q.mmd2_heldout)),
            ]);
            row.extend(match &r.attractors {
                Some(a) => {
                    let c = &a.counts;
                    let counts = [c.memory, c.spurious, c.off_support, c.saddle, c.uncertain];
                    counts
                        .map(|v| v.to_string())
                        .into_iter()
                        .chain([a.memory_mass, a.spurious_mass].map(|v| v.to_string()))
                        .collect()
                }
                None => vec![String::new(); 7],
            });
            row.extend(match &r.chance {
                Some(c) => {
                    let levels = [Some(c.memorized), c.spurious, Some(c.f_mem)]
                        .map(|e| field(e.map(|e| e.value)));
                    let excess = [
                        Some(c.excess.memorized),
                        c.excess.spurious,
                        Some(c.excess.f_mem),
                    ]
                    .into_iter()
                    .flat_map(|e| {
                        [e.map(|e| e.value), e.map(|e| e.ci[0]), e.map(|e| e.ci[1])].map(field)
                    });
                    levels.into_iter().chain(excess).collect()
                }
                None => vec![String::new(); 12],
            });
            row.extend(fidelity_fields(r.fidelity.as_ref()));
            table.row(row);
        }
        table.into_string()
    }

    /// Every attractor of every checkpoint as rows of `attractors.csv` ([`ATTRACTORS_HEADER`]
    /// after its `intervention` column): kind, certified index, basin share, spectral gap,
    /// asymmetry, distance to the nearest training pattern, residual.
    pub fn attractor_rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.attractors.iter().map(|r| {
            let a = &r.attractor;
            let mut row: Vec<String> = [r.k, r.seed as usize, r.step].map(|v| v.to_string()).into();
            row.extend([
                a.kind.name().to_string(),
                field(a.index),
                a.certified.to_string(),
                a.basin.to_string(),
                field(a.gap),
                field(a.asymmetry),
                a.nearest_train.to_string(),
                a.residual.to_string(),
                a.basin_ci[0].to_string(),
                a.basin_ci[1].to_string(),
                a.uncertain
                    .map_or("", |u| match u {
                        memscape::analysis::landscape::fixed::Uncertainty::NearOne => "near_one",
                        memscape::analysis::landscape::fixed::Uncertainty::Unconverged => {
                            "unconverged"
                        }
                    })
                    .to_string(),
                field(a.dimension),
                field(a.extent),
            ]);
            row
        })
    }

    /// The grid's name for the samples of checkpoint `step` (a "model" in `labels.csv`).
    pub fn grid_name(step: usize) -> String {
        format!("step{step:08}")
    }

    /// Per-sample labels of the grid's checkpoints as CSV, `model` naming the step.
    pub fn grid_labels_csv(&self) -> String {
        let mut table = CsvTable::new(&format!("model,k,{CSV_HEADER}"));
        let k = self.request.grid_k.unwrap_or(0).to_string();
        for cell in &self.grid {
            for row in cell.classification.csv_rows() {
                table.row(
                    [Self::grid_name(cell.step), k.clone()]
                        .into_iter()
                        .chain(row),
                );
            }
        }
        table.into_string()
    }

    /// Mini-batch loss curves as CSV `k,seed,step,loss`.
    pub fn loss_csv(&self) -> String {
        let mut table = CsvTable::new("k,seed,step,loss");
        for (k, seed, curve) in &self.losses {
            for (i, l) in curve.iter().enumerate() {
                table.row([
                    k.to_string(),
                    seed.to_string(),
                    (i + 1).to_string(),
                    l.to_string(),
                ]);
            }
        }
        table.into_string()
    }
}

/// Header of a study's `phase.csv`.
pub const PHASE_HEADER: &str = "k,seed,step,memorized,spurious,generalized,f_mem,f_mem_lo,f_mem_hi,dominant,train_loss,test_loss,off_support,mmd2,mmd2_heldout,memory_attractors,spurious_attractors,off_support_attractors,saddles,uncertain,memory_mass,spurious_mass,chance_memorized,chance_spurious,chance_f_mem,excess_memorized,excess_memorized_lo,excess_memorized_hi,excess_spurious,excess_spurious_lo,excess_spurious_hi,excess_f_mem,excess_f_mem_lo,excess_f_mem_hi,frechet,frechet_heldout,precision,recall";

/// Header of `attractors.csv`, after its `intervention` column.
pub const ATTRACTORS_HEADER: &str = "k,seed,step,kind,index,certified,basin,gap,asymmetry,nearest_train,residual,basin_lo,basin_hi,uncertain,dimension,extent";

#[cfg(test)]
mod tests {
    use super::*;

    /// A `results.json` written before the levels were kept reads them as the levels those
    /// versions used (the report then states them as it did), and a written one reads back
    /// as written.
    #[test]
    fn results_without_levels_read_the_default_levels() {
        let read: DynamicsResults =
            serde_json::from_str(r#"{"rows": [], "seconds": 1.0}"#).unwrap();
        assert_eq!(read.fmem_level, DYNAMICS_DEFAULTS.fmem_level);
        assert_eq!(read.gen_level, DYNAMICS_DEFAULTS.gen_level);
        let written = DynamicsResults {
            gen_level: 0.25,
            fmem_level: 0.5,
            ..read
        };
        let again: DynamicsResults =
            serde_json::from_value(serde_json::to_value(&written).unwrap()).unwrap();
        assert_eq!((again.gen_level, again.fmem_level), (0.25, 0.5));
    }
}
