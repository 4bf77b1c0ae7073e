//! A phase map as it is read and written: the rows of `results.json` and `--json`, the
//! capacities, the CSV tables, and the run directory.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::landscape::{
    ExactLandscape, ExactLandscapeRequest, LandscapeCounts, LandscapeRequest, MapLandscape,
    TrainedLandscape, exact_landscape, trained_landscape,
};
use super::map::{EMBEDDING_HEADER, MapRow, MapRun, ModelCapacities, NONLINEAR_HEADER};
use crate::analysis::landscape::attractor::CensusSummary;
use crate::analysis::samples::chance::Chance;
use crate::analysis::samples::classify::{CSV_HEADER, Estimate, FractionValues};
use crate::analysis::samples::cluster::ClusterCounts;
use crate::analysis::samples::fidelity::{Fidelity, fidelity_fields};
use crate::analysis::samples::support::{Quality, SupportCalibration};
use crate::denoiser::Denoiser;
use crate::error::Result;
use crate::numbers::field;
use crate::store::{CsvTable, Manifest, RunDir};

/// One row of a map's `results.json` and `--json` document: a [`MapRow`] as its readers (the
/// report, Python) take it, with the fractions flat and their intervals under `ci`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRow {
    pub k: usize,
    pub model: String,
    #[serde(flatten)]
    pub fractions: FractionValues,
    pub support: Option<SupportCalibration>,
    /// The chance levels of held-out draws and the excess over them (none without held-out
    /// data, or in documents written before them).
    #[serde(default)]
    pub chance: Option<Chance>,
    pub quality: Option<Quality>,
    /// The Fréchet distance (with its held-out floor), precision and recall of the samples in
    /// the data's space (none without held-out data, or in documents written before them).
    #[serde(default)]
    pub fidelity: Option<Fidelity>,
    pub exact_quality: Option<ExactQualityRow>,
    pub num_attractors: usize,
    /// The attractor census at sigma_min (counts by kind, basins, unsettled share).
    #[serde(default)]
    pub census: Option<CensusSummary>,
    pub clusters: ClusterTable,
    pub settled: f64,
    pub delta_m: f64,
    pub delta_s: f64,
    pub train_spacing: f64,
    pub seconds: f64,
}

/// The exact quality of the samples and of held-out data (see [`crate::dataset::ExactQuality`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactQualityRow {
    pub measure: String,
    pub samples: f64,
    pub heldout: Option<f64>,
}

/// The three clusterings of a row's settled samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterTable {
    pub dbscan: ClusterCounts,
    pub single_linkage: ClusterCounts,
    pub hdbscan: ClusterCounts,
}

/// One model's capacities with their bootstrap intervals (`None`: outside the swept K).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySummary {
    pub memorization: Option<f64>,
    pub memorization_ci: [Option<f64>; 2],
    pub spurious_peak_k: usize,
    pub spurious_peak: f64,
    pub spurious_peak_ci: [f64; 2],
    pub generalization: Option<f64>,
    pub generalization_ci: [Option<f64>; 2],
}

/// A trained model's capacities and its training configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedSummary {
    pub capacities: CapacitySummary,
    pub config: Option<serde_json::Value>,
}

/// A map's `results.json` and `--json` document: the rows, the exact model's capacities, each
/// trained model's, and the settling scale. The CLI writes it, the report and Python read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapResults {
    pub rows: Vec<PhaseRow>,
    pub capacities: CapacitySummary,
    pub trained: BTreeMap<String, TrainedSummary>,
    pub sigma_min: f64,
    /// 1/sigma_min²: the inverse temperature the samples settle at.
    pub beta_max: f64,
    /// 2 sigma_min: training points closer than this merge into one attractor.
    pub pair_merge_distance: f64,
    pub num_samples: usize,
    pub image_shape: Option<[usize; 2]>,
    /// On 2-D data, the landscapes drawn beside the map ([`MapRun::landscapes`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landscapes: Vec<MapLandscape>,
}

impl PhaseRow {
    fn of(r: &MapRow) -> Self {
        PhaseRow {
            k: r.k,
            model: r.model.clone(),
            fractions: (&r.fractions).into(),
            support: r.support,
            chance: r.chance,
            quality: r.quality,
            fidelity: r.fidelity,
            exact_quality: r.exact_quality.as_ref().map(|q| ExactQualityRow {
                measure: q.measure.clone(),
                samples: q.value,
                heldout: r.exact_quality_heldout.filter(|h| h.is_finite()),
            }),
            num_attractors: r.num_attractors,
            census: r.census.clone(),
            clusters: ClusterTable {
                dbscan: r.clusters[0].clone(),
                single_linkage: r.clusters[1].clone(),
                hdbscan: r.clusters[2].clone(),
            },
            settled: r.settled,
            delta_m: r.thresholds.delta_m,
            delta_s: r.thresholds.delta_s,
            train_spacing: r.thresholds.train_spacing,
            seconds: r.seconds,
        }
    }
}

/// Header of `phase.csv`.
pub const PHASE_HEADER: &str = "model,k,memorized,memorized_lo,memorized_hi,spurious,spurious_lo,spurious_hi,generalized,generalized_lo,generalized_hi,f_mem,f_mem_lo,f_mem_hi,num_attractors,dbscan_clusters,dbscan_spurious,dbscan_noise,linkage_clusters,hdbscan_clusters,hdbscan_spurious,settled,delta_m,delta_s,off_support,off_support_lo,off_support_hi,support_threshold,mmd2,mmd2_heldout,memories,spurious_attractors,off_support_attractors,manifolds,saddles,uncertain,unsettled,unsettled_lo,unsettled_hi,chance_memorized,chance_memorized_lo,chance_memorized_hi,chance_spurious,chance_spurious_lo,chance_spurious_hi,chance_f_mem,chance_f_mem_lo,chance_f_mem_hi,excess_memorized,excess_memorized_lo,excess_memorized_hi,excess_spurious,excess_spurious_lo,excess_spurious_hi,excess_f_mem,excess_f_mem_lo,excess_f_mem_hi,frechet,frechet_heldout,precision,recall";

/// A map's trained networks, for the trained landscape beside it: the model's name, its last
/// training step, and its network at a K (`None` where none was kept).
pub struct MapNetworks<'a> {
    pub name: &'a str,
    pub step: usize,
    pub at: NetworkAt<'a>,
}

/// The network of a K, where one was kept.
pub type NetworkAt<'a> = Box<dyn Fn(usize) -> Result<Option<Box<dyn Denoiser>>> + Send + Sync + 'a>;

/// The landscapes drawn beside a map on 2-D data, at one K: the exact model's and, where a
/// network was mapped, the network's (with its model name and step), and their entries in
/// `results.json`.
pub struct MapLandscapes {
    pub exact: ExactLandscape,
    pub trained: Option<(String, usize, TrainedLandscape)>,
    pub entries: Vec<MapLandscape>,
}

impl MapLandscapes {
    /// Writes each landscape into its subdirectory of `out` (`landscape_{model}_k{K}/`, as
    /// `memscape attractors` writes it); returns each subdirectory with its files.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{ExactDocument, LandscapeCounts, MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    /// use memscape::store::RunDir;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let drawn = run.landscapes(None)?.expect("2-D data");
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-map-landscapes-{}", std::process::id()));
    /// let written = drawn.write(&RunDir::create(&dir)?)?;
    /// // the exact landscape only (no network was mapped), in its subdirectory
    /// assert_eq!(written.len(), 1);
    /// let (sub, files) = &written[0];
    /// assert_eq!((sub, files[0].as_str()), (&drawn.entries[0].dir, "attractors.json"));
    /// let text = std::fs::read_to_string(dir.join(sub).join("attractors.json")).unwrap();
    /// let doc: ExactDocument = serde_json::from_str(&text).unwrap();
    /// assert_eq!(LandscapeCounts::Exact(doc.counts), drawn.entries[0].counts);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir) -> Result<Vec<(String, Vec<String>)>> {
        let mut written = vec![];
        for entry in &self.entries {
            let dir = RunDir::create(out.path().join(&entry.dir))?;
            let files = match &self.trained {
                Some((name, step, trained)) if *name == entry.model => {
                    trained.write(&dir, Some(*step), None)?
                }
                _ => self.exact.write(&dir)?,
            };
            written.push((entry.dir.clone(), files));
        }
        Ok(written)
    }
}

impl MapRun {
    /// On 2-D data, the exact and the trained landscapes at the spurious-peak K (the trained
    /// model's peak when one was mapped, else the exact model's), at the sampler's sigma_min,
    /// with 500 stopped samples each: the exact one from 200 random starts, the trained one's
    /// census at the map's settings. `None` on data of another dimension, or where no model
    /// has a peak.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let drawn = run.landscapes(None)?.expect("2-D data");
    /// // the exact model's landscape at its spurious-peak K, at sigma_min
    /// let entry = &drawn.entries[0];
    /// assert_eq!((entry.model.as_str(), entry.k), ("exact", run.models[0].capacities.spurious_peak_k));
    /// assert_eq!(entry.dir, format!("landscape_exact_k{}", entry.k));
    /// assert_eq!(entry.sigma, run.sampler.schedule.sigma_min);
    /// // its critical set is complete: Euler characteristic 1
    /// assert_eq!(entry.euler_characteristic, Some(Some(1)));
    /// assert!(drawn.trained.is_none());
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The landscapes' errors, and `networks`' own.
    pub fn landscapes(&self, networks: Option<&MapNetworks>) -> Result<Option<MapLandscapes>> {
        if self.train.ncols() != 2 {
            return Ok(None);
        }
        let peak = |model: &str| {
            self.models
                .iter()
                .find(|m| m.model == model)
                .map(|m| m.capacities.spurious_peak_k)
        };
        let chosen = networks
            .and_then(|n| Some((peak(n.name)?, n.name)))
            .or_else(|| Some((peak("exact")?, "exact")));
        let Some((k, peak_of)) = chosen else {
            return Ok(None);
        };
        let sigma = self.sampler.schedule.sigma_min;
        let patterns = self.train.slice(ndarray::s![..k, ..]).to_owned();
        let exact = exact_landscape(
            patterns.view(),
            &ExactLandscapeRequest {
                beta: 1.0 / (sigma * sigma),
                random_starts: 200,
                basin_starts: 0,
                samples: 500,
                seed: self.request.plan.seed,
            },
        )?;
        let entry = |model: &str, counts, euler_characteristic| MapLandscape {
            counts,
            dir: format!("landscape_{model}_k{k}"),
            euler_characteristic,
            k,
            model: model.to_string(),
            peak_of: peak_of.to_string(),
            sigma,
        };
        let mut entries = vec![entry(
            "exact",
            LandscapeCounts::Exact(exact.counts()),
            Some(exact.set.euler_characteristic),
        )];
        let mut trained = None;
        if let Some(n) = networks
            && let Some(model) = (n.at)(k)?
        {
            let landscape = trained_landscape(
                model.as_ref(),
                patterns.view(),
                Array2::<f64>::zeros((0, 2)).view(),
                &LandscapeRequest {
                    sigma,
                    samples: 500,
                    eigenvalues: 2,
                    recovery: 0,
                    trials: 16,
                    seed: self.request.plan.seed,
                    census: self.request.census,
                },
            )?;
            entries.push(entry(
                n.name,
                LandscapeCounts::Trained(landscape.census.counts),
                None,
            ));
            trained = Some((n.name.to_string(), n.step, landscape));
        }
        Ok(Some(MapLandscapes {
            exact,
            trained,
            entries,
        }))
    }

    /// The `--json` document and `results.json`.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let results = run.results();
    /// assert_eq!((results.rows.len(), results.num_samples), (2, 20));
    /// assert!(results.rows[1].fractions.memorized >= 0.9 && results.trained.is_empty());
    /// // the samples settle at beta_max = 1/sigma_min², and patterns closer than 2 sigma_min merge
    /// let sigma_min = results.sigma_min;
    /// assert!((results.beta_max * sigma_min * sigma_min - 1.0).abs() < 1e-12);
    /// assert_eq!(results.pair_merge_distance, 2.0 * sigma_min);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn results(&self) -> MapResults {
        let sigma_min = self.sampler.schedule.sigma_min;
        MapResults {
            rows: self.rows.iter().map(PhaseRow::of).collect(),
            capacities: self.models[0].summary(),
            trained: self.models[1..]
                .iter()
                .map(|m| {
                    let summary = TrainedSummary {
                        capacities: m.summary(),
                        config: self.trained.clone(),
                    };
                    (m.model.to_string(), summary)
                })
                .collect(),
            sigma_min,
            beta_max: 1.0 / (sigma_min * sigma_min),
            pair_merge_distance: 2.0 * sigma_min,
            num_samples: self.request.num_samples,
            image_shape: self.image_shape.map(|(h, w)| [h, w]),
            landscapes: vec![],
        }
    }

    /// The phase table as CSV: one row per K, fractions with their intervals.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let csv = run.phase_csv();
    /// let lines: Vec<&str> = csv.lines().collect();
    /// assert_eq!(lines.len(), 3); // the header, then a row per K
    /// assert!(lines[0].starts_with("model,k,memorized,memorized_lo,memorized_hi,spurious,"));
    /// assert!(lines[1].starts_with("exact,2,") && lines[2].starts_with("exact,4,"));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn phase_csv(&self) -> String {
        let mut table = CsvTable::new(PHASE_HEADER);
        for r in &self.rows {
            let f = &r.fractions;
            let mut row = vec![r.model.clone(), r.k.to_string()];
            let estimate = |e: &Estimate| [e.value, e.ci[0], e.ci[1]].map(|v| v.to_string());
            for e in [&f.memorized, &f.spurious, &f.generalized, &f.f_mem] {
                row.extend(estimate(e));
            }
            row.extend(
                [
                    r.num_attractors,
                    r.clusters[0].clusters,
                    r.clusters[0].spurious,
                    r.clusters[0].noise,
                    r.clusters[1].clusters,
                    r.clusters[2].clusters,
                    r.clusters[2].spurious,
                ]
                .map(|v| v.to_string()),
            );
            row.extend(
                [r.settled, r.thresholds.delta_m, r.thresholds.delta_s].map(|v| v.to_string()),
            );
            row.extend(estimate(&f.off_support));
            row.extend([
                field(r.support.map(|s| s.threshold)),
                field(r.quality.map(|q| q.mmd2)),
                field(r.quality.map(|q| q.mmd2_heldout)),
            ]);
            row.extend(match &r.census {
                Some(c) => {
                    let n = &c.counts;
                    let counts = [
                        n.memory,
                        n.spurious,
                        n.off_support,
                        n.manifold,
                        n.saddle,
                        n.uncertain,
                    ];
                    let shares = [c.unsettled_share, c.unsettled_ci[0], c.unsettled_ci[1]];
                    counts
                        .map(|v| v.to_string())
                        .into_iter()
                        .chain(shares.map(|v| v.to_string()))
                        .collect()
                }
                None => vec![String::new(); 9],
            });
            row.extend(match &r.chance {
                Some(c) => [
                    Some(c.memorized),
                    c.spurious,
                    Some(c.f_mem),
                    Some(c.excess.memorized),
                    c.excess.spurious,
                    Some(c.excess.f_mem),
                ]
                .iter()
                .flat_map(|e| e.as_ref().map_or(Default::default(), estimate))
                .collect(),
                None => vec![String::new(); 18],
            });
            row.extend(fidelity_fields(r.fidelity.as_ref()));
            table.row(row);
        }
        table.into_string()
    }

    /// Per-sample labels of every K as CSV.
    ///
    /// ```
    /// use memscape::analysis::samples::classify::CSV_HEADER;
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let csv = run.labels_csv();
    /// // the classification's columns after the model and K, and a row per sample of each K
    /// assert_eq!(csv.lines().next(), Some(format!("model,k,{CSV_HEADER}").as_str()));
    /// assert_eq!(csv.lines().count(), 1 + 2 * 20);
    /// assert!(csv.lines().nth(1).unwrap().starts_with("exact,2,0,"));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn labels_csv(&self) -> String {
        let mut table = CsvTable::new(&format!("model,k,{CSV_HEADER}"));
        for (r, c) in self.rows.iter().zip(&self.classifications) {
            for row in c.csv_rows() {
                table.row([r.model.clone(), r.k.to_string()].into_iter().chain(row));
            }
        }
        table.into_string()
    }

    /// Writes phase.csv, labels.csv, the embeddings and per-K samples and attractors, each
    /// once. Returns the manifest, which lists them and results.json and manifest.json: the
    /// caller writes those after what it draws beside the map (the landscapes on 2-D data, with
    /// their entries in results.json), so a failure there keeps the tables.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapRequest, map};
    /// # use memscape::sampler::SamplingPlan;
    /// use memscape::store::RunDir;
    ///
    /// // `request`: a brief map of the unit circle at K = 2 and 4, 20 samples each, no held-out points
    /// # let request = MapRequest {
    /// #     data: DataSpec::parse("circle")?,
    /// #     ks: vec![2, 4],
    /// #     num_samples: 20,
    /// #     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    /// #     resamples: 10,
    /// #     holdout: Some(0),
    /// #     ..MapRequest::default()
    /// # };
    /// let run = map(request, None)?;
    /// let dir = std::env::temp_dir().join(format!("memscape-doc-map-{}", std::process::id()));
    /// let manifest = run.write(&RunDir::create(&dir)?, vec!["memscape".into(), "map".into()])?;
    /// assert_eq!(std::fs::read_to_string(dir.join("phase.csv")).unwrap(), run.phase_csv());
    /// assert!(dir.join("samples_k4.npy").is_file() && dir.join("attractors_k2.npy").is_file());
    /// // results.json and manifest.json are listed, and left to the caller
    /// assert_eq!(manifest.files[manifest.files.len() - 2..], ["results.json", "manifest.json"]);
    /// assert!(!dir.join("results.json").exists() && !dir.join("manifest.json").exists());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The run directory's write errors.
    pub fn write(&self, out: &RunDir, command: Vec<String>) -> Result<Manifest> {
        let clock = Instant::now();
        let config = serde_json::json!({"request": self.request, "sampler": self.sampler, "trained": self.trained});
        let mut manifest = Manifest::new(command, config);
        manifest
            .seeds
            .insert("sampler".into(), self.request.plan.seed);
        manifest
            .seeds
            .insert("subset".into(), self.request.subset_seed);
        for ((r, s), a) in self.rows.iter().zip(&self.samples).zip(&self.attractors) {
            // the exact model's files keep their plain names
            let tag = match r.model.as_str() {
                "exact" => String::new(),
                m => format!("{m}_"),
            };
            let (sn, an) = (
                format!("samples_{tag}k{}.npy", r.k),
                format!("attractors_{tag}k{}.npy", r.k),
            );
            out.write_npy(&sn, s)?;
            out.write_npy(&an, a)?;
            manifest.files.extend([sn, an]);
        }
        out.write_bytes("phase.csv", self.phase_csv().as_bytes())?;
        out.write_bytes("labels.csv", self.labels_csv().as_bytes())?;
        out.write_bytes(
            "embedding.csv",
            CsvTable::of(EMBEDDING_HEADER, &self.embedding).as_bytes(),
        )?;
        out.write_npy("train.npy", &self.train)?;
        manifest.files.push("train.npy".into());
        if !self.nonlinear.is_empty() {
            out.write_bytes(
                "embedding_nonlinear.csv",
                CsvTable::of(NONLINEAR_HEADER, &self.nonlinear).as_bytes(),
            )?;
            manifest.files.push("embedding_nonlinear.csv".into());
        }
        manifest.files.extend([
            "phase.csv".into(),
            "labels.csv".into(),
            "embedding.csv".into(),
            "results.json".into(),
        ]);
        manifest.timings = self.timings.clone();
        manifest
            .timings
            .insert("write_s".into(), clock.elapsed().as_secs_f64());
        manifest.files.push("manifest.json".into());
        Ok(manifest)
    }
}

impl ModelCapacities {
    fn summary(&self) -> CapacitySummary {
        CapacitySummary {
            memorization: self.capacities.memorization,
            memorization_ci: self.ci.memorization,
            spurious_peak_k: self.capacities.spurious_peak_k,
            spurious_peak: self.capacities.spurious_peak,
            spurious_peak_ci: self.ci.spurious_peak,
            generalization: self.capacities.generalization,
            generalization_ci: self.ci.generalization,
        }
    }
}
