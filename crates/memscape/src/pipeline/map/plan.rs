//! A phase map's plan ([`MapPlan`]): what every point shares, resolved once from the request
//! (pool, nested split, held-out data, sampler, settling); one measured point per model and K;
//! their assembly into rows and capacities; and the embedding tables of each K.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ndarray::Array2;

use crate::analysis::landscape::attractor::{CensusConfig, CensusSummary, SaddleSearch, census};
use crate::analysis::samples::chance::chance;
use crate::analysis::samples::classify::{Classification, classify, fractions};
use crate::analysis::samples::cluster::cluster_samples;
use crate::analysis::samples::embed::Nonlinear;
use crate::analysis::samples::fidelity::fidelity_if_measurable;
use crate::analysis::samples::support::{self, MIN_HELDOUT, SupportGate};
use crate::dataset::Patterns;
use crate::dataset::subset::{Split, TrainingSets};
use crate::denoiser::{Denoiser, EmpiricalDenoiser, TrainedModel};
use crate::error::{Error, Result};
use crate::numbers::field;
use crate::pipeline::default_holdout;
use crate::sampler::{self, MAP_SIGMA_MIN, SamplerConfig, default_sigma_range};

use super::{MapPoint, MapRequest, MapRow, MapRun, ModelCapacities, Settling};

/// Points in a nonlinear map: the first (up to) half patterns, then samples.
pub(super) const NONLINEAR_POINTS: usize = 1000;

/// Rightmost Jacobian eigenvalues per fixed point in a map's census (at most the dimension).
pub(super) const MAP_EIGENVALUES: usize = 6;
/// Groups of settled samples a map's census analyses at each K, the most populated first (a
/// memorizing model at large K has one per pattern reached; the samples of the others are
/// reported as not analysed).
pub(super) const MAP_GROUPS: usize = 256;

/// What every point of a phase map shares, resolved once from its request: the pool, the
/// seeded split and its held-out tail, the support gate's data, the sampler and settling.
#[derive(Debug)]
pub struct MapPlan {
    pub request: MapRequest,
    sets: TrainingSets,
    /// Held-out points, resolved (0: no support gate).
    pub holdout: usize,
    heldout: Array2<f64>,
    pub sampler: SamplerConfig,
    /// The data's RMS norm, which sets the settling tolerances.
    scale: f64,
}

impl MapPlan {
    /// Checks the request, loads the data and resolves the held-out set and the sampler.
    ///
    /// # Errors
    /// A K list that is not increasing with every K ≥ 2, fewer than 2 samples, a held-out size
    /// between 0 and the gate's minimum, census settings that break a rule, or a pool smaller
    /// than the largest K.
    ///
    /// ```
    /// use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// use memscape::sampler::{MAP_SIGMA_MIN, SamplingPlan};
    ///
    /// // a brief map of the unit circle at K = 2 and 4, without held-out points
    /// let request = MapRequest {
    ///     data: DataSpec::parse("circle")?,
    ///     ks: vec![2, 4],
    ///     num_samples: 20,
    ///     plan: SamplingPlan { num_steps: 10, ..Default::default() },
    ///     resamples: 10,
    ///     holdout: Some(0),
    ///     ..MapRequest::default()
    /// };
    /// let plan = MapPlan::new(request.clone())?;
    /// assert_eq!(plan.holdout, 0);
    /// // sigma_min is MAP_SIGMA_MIN times the data's RMS norm, 1 on the unit circle
    /// assert!((plan.sampler.schedule.sigma_min - MAP_SIGMA_MIN).abs() < 1e-12);
    /// // by default 1000 of the circle's 10,000 points are held out
    /// let default_holdout = MapPlan::new(MapRequest { holdout: None, ..request.clone() })?;
    /// assert_eq!(default_holdout.holdout, 1000);
    /// // K must increase
    /// let e = MapPlan::new(MapRequest { ks: vec![4, 2], ..request }).unwrap_err();
    /// assert!(e.to_string().starts_with("k must be"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn new(request: MapRequest) -> Result<Self> {
        let pool = Arc::new(request.data.load()?);
        Self::with_pool(request, pool)
    }

    /// [`MapPlan::new`] on a pool already loaded from `request.data`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
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
    /// // one pool for two maps with different subset seeds
    /// let pool = Arc::new(request.data.load()?);
    /// let a = MapPlan::with_pool(request.clone(), Arc::clone(&pool))?;
    /// let b = MapPlan::with_pool(MapRequest { subset_seed: 7, ..request.clone() }, Arc::clone(&pool))?;
    /// assert_ne!(a.train(4)?.points, b.train(4)?.points);
    /// // the circle's 10,000 points hold no training set of 20,000
    /// let e = MapPlan::with_pool(MapRequest { ks: vec![2, 20_000], ..request }, pool).unwrap_err();
    /// assert!(e.to_string().starts_with("k must be"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MapPlan::new`].
    pub fn with_pool(request: MapRequest, pool: Arc<Patterns>) -> Result<Self> {
        Self::check_request(&request)?;
        let largest = *request.ks.last().expect("non-empty");
        let holdout = match request.holdout {
            Some(h) => h,
            None => default_holdout(pool.num_patterns(), largest),
        };
        Self::check_holdout(holdout)?;
        let split = Split::new(pool.num_patterns(), holdout, request.subset_seed)?;
        split.train_indices(largest)?;
        Self::resolve(request, TrainingSets::Split { pool, split })
    }

    /// A plan on training sets the caller gives, one per K of the request, with their held-out
    /// points (none: no support gate); `request.data` and `request.subset_seed` are not read.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// use memscape::dataset::DataSpec;
    /// use memscape::dataset::subset::TrainingSets;
    /// use memscape::pipeline::{MapPlan, MapRequest};
    ///
    /// // the sets of K = 2 and 4 drawn from the circle by the default plan, given back
    /// let request = MapRequest { ks: vec![2, 4], holdout: Some(0), ..MapRequest::default() };
    /// let drawn = MapPlan::new(request.clone())?;
    /// let train = BTreeMap::from([(2, drawn.train(2)?), (4, drawn.train(4)?)]);
    /// let sets = TrainingSets::given(&request.ks, train, None)?;
    /// let data = DataSpec::Given { source: "arrays".into() };
    /// let given = MapPlan::given(MapRequest { data, ..request }, sets)?;
    /// assert_eq!(given.train(4)?.points, drawn.train(4)?.points);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MapPlan::new`], held-out points between 0 and the gate's minimum, and sets that do
    /// not nest (each the first K rows of the largest).
    pub fn given(request: MapRequest, sets: TrainingSets) -> Result<Self> {
        Self::check_request(&request)?;
        Self::check_holdout(sets.holdout())?;
        // a map's run keeps the largest set, whose first K rows are the set of K
        let largest = sets.train(*request.ks.last().expect("checked non-empty"))?;
        for &k in &request.ks {
            let set = sets.train(k)?;
            if set.points != largest.points.slice(ndarray::s![..k, ..]) {
                return Err(Error::invalid(
                    format!("training_sets[{k}]"),
                    "the first K rows of the largest K's set (a map's sets are nested)",
                    "other rows",
                ));
            }
        }
        Self::resolve(request, sets)
    }

    fn check_request(request: &MapRequest) -> Result<()> {
        if request.ks.is_empty() || request.ks.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "k",
                "a non-empty, strictly increasing list",
                format!("{:?}", request.ks),
            ));
        }
        if request.ks[0] < 2 {
            return Err(Error::invalid(
                "k",
                "≥ 2 everywhere (f_mem needs two training points)",
                request.ks[0],
            ));
        }
        if request.num_samples < 2 {
            return Err(Error::invalid("num_samples", "≥ 2", request.num_samples));
        }
        request.census.validate()
    }

    fn check_holdout(holdout: usize) -> Result<()> {
        if holdout > 0 && holdout < MIN_HELDOUT {
            return Err(Error::invalid(
                "holdout",
                format!("0 or at least {MIN_HELDOUT} (to calibrate the support gate)"),
                holdout,
            ));
        }
        Ok(())
    }

    /// The plan once its training sets are known: held-out points and the sampler.
    fn resolve(request: MapRequest, sets: TrainingSets) -> Result<Self> {
        let heldout = sets.heldout().points;
        // thresholds calibrated on held-out data are refused here, before any K is sampled
        request.thresholds.resolve(
            sets.train(request.ks[0])?.points.view(),
            (heldout.nrows() > 0).then(|| heldout.view()),
        )?;
        let scale = sets.scale();
        let (default_max, _) = default_sigma_range(scale);
        let sampler = request
            .plan
            .config(default_max, MAP_SIGMA_MIN * scale, true)?;
        Ok(MapPlan {
            request,
            holdout: heldout.nrows(),
            sets,
            heldout,
            sampler,
            scale,
        })
    }

    /// The training set of size `k` (the first `k` of the seeded permutation).
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
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
    /// let plan = MapPlan::new(request)?;
    /// // nested: the set of 2 is the first 2 of the set of 4
    /// let (small, large) = (plan.train(2)?, plan.train(4)?);
    /// assert_eq!(small.points, large.points.slice(ndarray::s![..2, ..]));
    /// assert!(plan.train(20_000).is_err()); // the circle has 10,000 points
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// `k` larger than the pool.
    pub fn train(&self, k: usize) -> Result<Patterns> {
        self.sets.train(k)
    }

    /// The support gate of the training set of `k`, when there is held-out data.
    fn gate(&self, train: &Patterns) -> Result<Option<SupportGate>> {
        (self.holdout > 0)
            .then(|| {
                SupportGate::calibrate(
                    train.points.view(),
                    self.heldout.view(),
                    self.request.support_quantile,
                )
            })
            .transpose()
    }

    /// The exact model at `k`: sampled, settled, classified, with its embedding rows.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
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
    /// let point = MapPlan::new(request)?.measure_exact(4)?;
    /// assert_eq!((point.row.k, point.row.model.as_str()), (4, "exact"));
    /// assert_eq!(point.samples.dim(), (20, 2));
    /// // the exact model memorizes: its samples settle on at most K attractors
    /// assert!(point.row.fractions.memorized.value >= 0.9, "{:?}", point.row.fractions);
    /// assert!(point.row.num_attractors <= 4);
    /// // embedding rows: the 4 patterns, then the 20 samples
    /// assert_eq!(point.embedding.len(), 24);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The sampler's, the classification's or the census's errors.
    pub fn measure_exact(&self, k: usize) -> Result<MapPoint> {
        let train = self.train(k)?;
        let gate = self.gate(&train)?;
        let den =
            EmpiricalDenoiser::<f64>::new(train.points.view())?.with_pruning(self.request.pruning);
        let mut m = self.measure("exact", &den, &train, gate.as_ref(), true)?;
        m.row.pruning = den.pruning_tolerance().map(|_| den.pruning_stats());
        m.embedding = embedding_rows(
            k,
            &train.points,
            &m.samples,
            &m.classification,
            &m.attractor_of,
            &m.cluster_of,
        )?;
        Ok(m)
    }

    /// `model` trained at `k`, then sampled, settled and classified like the exact model.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::dataset::Patterns;
    /// use memscape::denoiser::{Denoiser, TrainedModel};
    /// use memscape::pipeline::{MapPlan, MapRequest};
    /// # use memscape::sampler::SamplingPlan;
    /// use ndarray::{Array2, ArrayView2, Axis};
    ///
    /// // a "network" that learns only its training set's mean: D(x, sigma) = mean
    /// struct Mean;
    /// impl TrainedModel for Mean {
    ///     fn name(&self) -> &'static str {
    ///         "mean"
    ///     }
    ///     fn fit(&self, train: &Patterns) -> memscape::Result<Box<dyn Denoiser>> {
    ///         let mean = train.points.mean_axis(Axis(0)).expect("K ≥ 2");
    ///         Ok(Box::new(move |x: ArrayView2<f64>, _sigma: f64| {
    ///             Array2::from_shape_fn(x.raw_dim(), |(_, j)| mean[j])
    ///         }))
    ///     }
    ///     fn config(&self) -> serde_json::Value {
    ///         serde_json::json!({ "model": "mean" })
    ///     }
    /// }
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
    /// let point = MapPlan::new(request)?.measure_trained(4, &Mean)?;
    /// assert_eq!((point.row.k, point.row.model.as_str()), (4, "mean"));
    /// // every sample is the mean, away from the patterns on the circle: one spurious attractor
    /// assert_eq!(point.row.fractions.spurious.value, 1.0);
    /// assert_eq!(point.row.num_attractors, 1);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// The model's training errors, and as [`Self::measure_exact`].
    pub fn measure_trained(&self, k: usize, model: &dyn TrainedModel) -> Result<MapPoint> {
        let train = self.train(k)?;
        let gate = self.gate(&train)?;
        let clock = Instant::now();
        let net = model.fit(&train)?;
        let fit_s = clock.elapsed().as_secs_f64();
        let mut m = self.measure(model.name(), net.as_ref(), &train, gate.as_ref(), false)?;
        m.row.seconds += fit_s;
        Ok(m)
    }

    /// A model the caller gives (trained elsewhere) at `k`, under the name `model`: sampled,
    /// classified against the training set of `k`, and its census drawn with `settling`.
    ///
    /// ```
    /// # use memscape::dataset::DataSpec;
    /// use memscape::denoiser::EmpiricalDenoiser;
    /// use memscape::pipeline::{MapPlan, MapRequest, Settling};
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
    /// let plan = MapPlan::new(request)?;
    /// // the exact model, given as any denoiser: the same samples and classes
    /// let given = EmpiricalDenoiser::<f64>::new(plan.train(4)?.points.view())?;
    /// let point = plan.measure_model(4, "given", &given, Settling::UnitStep)?;
    /// let exact = plan.measure_exact(4)?;
    /// assert_eq!(point.row.model, "given");
    /// assert_eq!(point.samples, exact.samples);
    /// // settled as the exact model settles, its whole row is the exact model's
    /// assert_eq!(point.row.census, exact.row.census);
    /// assert_eq!(point.row.fractions, exact.row.fractions);
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Self::measure_exact`].
    pub fn measure_model(
        &self,
        k: usize,
        model: &str,
        den: &dyn Denoiser,
        settling: Settling,
    ) -> Result<MapPoint> {
        let train = self.train(k)?;
        let gate = self.gate(&train)?;
        let unit_step = settling == Settling::UnitStep;
        self.measure(model, den, &train, gate.as_ref(), unit_step)
    }

    /// Samples `den`, classifies the samples against `train`, and runs the attractor census
    /// from them at sigma_min (the exact model's, with its unit step, or a network's).
    fn measure(
        &self,
        model: &str,
        den: &(impl Denoiser + ?Sized),
        train: &Patterns,
        gate: Option<&SupportGate>,
        exact: bool,
    ) -> Result<MapPoint> {
        let (request, sampler) = (&self.request, &self.sampler);
        let clock = Instant::now();
        let k = train.num_patterns();
        let raw = sampler::sample(den, train.dim(), request.num_samples, sampler, &mut ())?;
        let c = classify(
            train.points.view(),
            raw.view(),
            None,
            &request.thresholds,
            gate,
        )?;
        let eigenvalues = MAP_EIGENVALUES.min(train.dim());
        let (delta_s, delta_m) = (c.thresholds.delta_s, c.thresholds.delta_m);
        let mut config = if exact {
            CensusConfig::exact(den.arithmetic(), self.scale, delta_s, delta_m, eigenvalues)
        } else {
            CensusConfig::trained(den.arithmetic(), self.scale, delta_s, delta_m, eigenvalues)
        };
        config.fixed.max_arnoldi = train.dim().min(config.fixed.max_arnoldi);
        config.fixed.asymmetry_probes = 0;
        config.fixed.seed = request.plan.seed ^ k as u64;
        config.saddle_search = SaddleSearch::Midpoints;
        config.max_groups = MAP_GROUPS;
        config.resamples = request.resamples;
        request.census.apply(&mut config)?;
        let landscape = census(
            den,
            train.points.view(),
            raw.view(),
            sampler.schedule.sigma_min,
            gate,
            &config,
        )?;
        let heldout = gate.map(|_| self.heldout.view());
        let chance = heldout
            .map(|h| {
                chance(
                    train.points.view(),
                    h,
                    &c,
                    None,
                    request.resamples,
                    request.plan.seed ^ k as u64,
                    request.plan.seed ^ k as u64,
                )
            })
            .transpose()?;
        let quality = heldout
            .map(|h| support::quality(raw.view(), h))
            .transpose()?;
        let fidelity = heldout
            .map(|h| fidelity_if_measurable(raw.view(), h))
            .transpose()?
            .flatten();
        let exact_quality = request.data.exact_quality(raw.view());
        let exact_quality_heldout = heldout
            .and_then(|h| request.data.exact_quality(h))
            .map(|q| q.value);
        let ([cluster_of, _, _], clusters) =
            cluster_samples(landscape.settled_points.view(), &c.classes)?;
        Ok(MapPoint {
            row: MapRow {
                k,
                model: model.to_string(),
                fractions: fractions(&c, request.resamples, request.plan.seed ^ k as u64),
                num_attractors: landscape.attractors_reached(),
                settled: landscape.settled as f64 / request.num_samples as f64,
                census: Some(CensusSummary::of(&landscape)),
                clusters,
                thresholds: c.thresholds,
                support: c.support,
                chance,
                quality,
                fidelity,
                exact_quality,
                exact_quality_heldout,
                pruning: None,
                seconds: clock.elapsed().as_secs_f64(),
            },
            samples: raw,
            attractor_of: landscape.sample_attractor,
            attractors: landscape.settled_points,
            classification: c,
            cluster_of,
            embedding: vec![],
        })
    }

    /// The map from its points: the exact model's at every K of the request, then, when
    /// `trained` names a model's configuration, that model's at every K. Capacities,
    /// intervals and the nonlinear maps are computed here.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// # use memscape::dataset::DataSpec;
    /// use memscape::pipeline::{MapPlan, MapRequest};
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
    /// // the points may be measured anywhere (a sweep's machines), then assembled in K order
    /// let plan = MapPlan::new(request.clone())?;
    /// let (two, four) = (plan.measure_exact(2)?, plan.measure_exact(4)?);
    /// let run = plan.assemble(vec![two, four.clone()], None, BTreeMap::new())?;
    /// assert_eq!(run.rows.iter().map(|r| r.k).collect::<Vec<_>>(), [2, 4]);
    /// assert_eq!((run.models.len(), run.models[0].model.as_str()), (1, "exact"));
    /// assert_eq!(run.train.nrows(), 4); // the largest K's training set
    /// // a K of the request without its point
    /// let e = MapPlan::new(request)?.assemble(vec![four], None, BTreeMap::new()).unwrap_err();
    /// assert!(e.to_string().starts_with("points"), "{e}");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// Points missing for a K of the request, or the capacities' and embeddings' errors.
    pub fn assemble(
        self,
        points: Vec<MapPoint>,
        trained: Option<serde_json::Value>,
        mut timings: BTreeMap<String, f64>,
    ) -> Result<MapRun> {
        let request = &self.request;
        let ks = &request.ks;
        let models: Vec<String> = points.iter().fold(vec![], |mut names, p| {
            if !names.contains(&p.row.model) {
                names.push(p.row.model.clone());
            }
            names
        });
        if models.first().map(String::as_str) != Some("exact") {
            return Err(Error::invalid(
                "points",
                "the exact model's points first",
                models.join(", "),
            ));
        }
        let seed = request.plan.seed;
        let mut capacities = vec![];
        for name in &models {
            let of: Vec<&MapPoint> = points.iter().filter(|p| &p.row.model == name).collect();
            let at: Vec<usize> = of.iter().map(|p| p.row.k).collect();
            if &at != ks {
                return Err(Error::invalid(
                    "points",
                    format!("one per K of the request {ks:?}, in order, for each model"),
                    format!("{name} at {at:?}"),
                ));
            }
            capacities.push(ModelCapacities::of(name, ks, &of, request.resamples, seed));
        }
        let largest = *ks.last().expect("non-empty");
        let peak_k = capacities[0].capacities.spurious_peak_k;
        let nonlinear = match points.iter().find(|m| m.row.k == peak_k) {
            Some(m) if !request.nonlinear.is_empty() => {
                let clock = Instant::now();
                let rows = nonlinear_rows(&request.nonlinear, &self.train(peak_k)?, m, seed)?;
                timings.insert("nonlinear_s".into(), clock.elapsed().as_secs_f64());
                rows
            }
            _ => vec![],
        };
        let train = self.train(largest)?.points;
        let (mut rows, mut samples, mut attractors, mut classifications) =
            (vec![], vec![], vec![], vec![]);
        let mut embedding = vec![];
        for m in points {
            rows.push(m.row);
            samples.push(m.samples);
            attractors.push(m.attractors);
            classifications.push(m.classification);
            embedding.extend(m.embedding);
        }
        Ok(MapRun {
            trained,
            sampler: self.sampler,
            rows,
            models: capacities,
            samples,
            attractors,
            classifications,
            embedding,
            nonlinear,
            train,
            image_shape: self.sets.image_shape(),
            timings,
            request: self.request,
        })
    }
}

/// Header of `embedding_nonlinear.csv`.
pub const NONLINEAR_HEADER: &str = "method,k,kind,index,x,y,class,cluster";

/// Nonlinear maps of patterns and samples of one K: up to [`NONLINEAR_POINTS`] / 2 patterns,
/// then samples to fill [`NONLINEAR_POINTS`].
pub(super) fn nonlinear_rows(
    methods: &[Nonlinear],
    train: &Patterns,
    m: &MapPoint,
    seed: u64,
) -> Result<Vec<Vec<String>>> {
    let np = train.num_patterns().min(NONLINEAR_POINTS / 2);
    let ns = m.samples.nrows().min(NONLINEAR_POINTS - np);
    let both = ndarray::concatenate(
        ndarray::Axis(0),
        &[
            train.points.slice(ndarray::s![..np, ..]),
            m.samples.slice(ndarray::s![..ns, ..]),
        ],
    )
    .expect("same dimension");
    let k = m.row.k;
    let mut rows = vec![];
    for method in methods {
        let y = method.layout(both.view(), seed)?;
        let name = method.name();
        for i in 0..np {
            rows.push(vec![
                name.to_string(),
                k.to_string(),
                "pattern".into(),
                i.to_string(),
                y[[i, 0]].to_string(),
                y[[i, 1]].to_string(),
                String::new(),
                String::new(),
            ]);
        }
        for i in 0..ns {
            rows.push(vec![
                name.to_string(),
                k.to_string(),
                "sample".into(),
                i.to_string(),
                y[[np + i, 0]].to_string(),
                y[[np + i, 1]].to_string(),
                m.classification.classes[i].name().to_string(),
                field(m.cluster_of[i]),
            ]);
        }
    }
    Ok(rows)
}

/// Header of `embedding.csv`.
pub const EMBEDDING_HEADER: &str = "k,kind,index,pc1,pc2,class,attractor,cluster";

/// CSV rows of a joint PCA of patterns and samples ([`EMBEDDING_HEADER`]): `attractor` is the
/// census attractor each sample settles into (empty: unsettled), `cluster` its DBSCAN cluster
/// (empty: noise).
pub(super) fn embedding_rows(
    k: usize,
    patterns: &Array2<f64>,
    samples: &Array2<f64>,
    c: &Classification,
    attractor_of: &[Option<usize>],
    cluster_of: &[Option<usize>],
) -> Result<Vec<Vec<String>>> {
    let both = ndarray::concatenate(ndarray::Axis(0), &[patterns.view(), samples.view()])
        .expect("same dimension");
    let dims = both.ncols().min(2);
    let (proj, _) = crate::analysis::samples::embed::pca(both.view(), dims)?;
    let pc = |i: usize, j: usize| if j < dims { proj[[i, j]] } else { 0.0 };
    let mut rows = vec![];
    for i in 0..patterns.nrows() {
        rows.push(vec![
            k.to_string(),
            "pattern".into(),
            i.to_string(),
            pc(i, 0).to_string(),
            pc(i, 1).to_string(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for (i, ((class, attractor), cluster)) in c
        .classes
        .iter()
        .zip(attractor_of)
        .zip(cluster_of)
        .enumerate()
    {
        let r = patterns.nrows() + i;
        rows.push(vec![
            k.to_string(),
            "sample".into(),
            i.to_string(),
            pc(r, 0).to_string(),
            pc(r, 1).to_string(),
            class.name().to_string(),
            field(*attractor),
            field(*cluster),
        ]);
    }
    Ok(rows)
}
