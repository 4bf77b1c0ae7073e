//! A training run's landscape followed through training time: the census of every checkpoint
//! ([`memscape::pipeline::own_census`]), and between consecutive checkpoints the homotopy of
//! the weights θ(s) = (1 − s) θ_i + s θ_{i+1} ([`WeightPath`]), along which every fixed point
//! is continued ([`memscape::analysis::landscape::trace`]). The chord is a choice: training
//! does not move on it, so an event's step is known to within the spacing of the checkpoints
//! around it.

use std::time::Instant;

use memscape::analysis::landscape::attractor::{AttractorKind, Census, CensusSummary, KindCounts};
use memscape::analysis::landscape::trace::{
    Checkpoint, Diagram, Homotopy, Interval, TraceConfig, trace_run,
};
use memscape::dataset::data_scale;
use memscape::denoiser::{Arithmetic, Denoiser};
use memscape::error::{Error, Result};
use memscape::pipeline::{LandscapeRequest, own_census};
use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use crate::model::ScoreModel;
use crate::network::Network;

/// The network of two checkpoints with the weights (1 − s) θ_a + s θ_b, at one noise level.
pub struct WeightPath<'a> {
    a: &'a ScoreModel,
    b: &'a ScoreModel,
    sigma: f64,
}

/// What must agree for two checkpoints to lie on one weight path: the format, the network's
/// shape and fixed frequencies, and the preconditioning.
fn architecture(model: &ScoreModel) -> (serde_json::Value, Option<Vec<f32>>) {
    let meta = model.meta(0, false, serde_json::Value::Null);
    let frequencies = match &model.network {
        Network::Mlp(m) => Some(m.frequencies.clone()),
        Network::Unet(_) => None,
    };
    (
        serde_json::to_value(&meta).expect("metadata serialises"),
        frequencies,
    )
}

impl<'a> WeightPath<'a> {
    /// The path from `a` (s = 0) to `b` (s = 1) at `sigma`.
    ///
    /// # Errors
    /// Checkpoints of different architectures (named `checkpoints`).
    pub fn new(a: &'a ScoreModel, b: &'a ScoreModel, sigma: f64) -> Result<Self> {
        if architecture(a) != architecture(b) || a.params.len() != b.params.len() {
            return Err(Error::invalid(
                "checkpoints",
                "one architecture (network shape, frequencies, preconditioning) across the run",
                format!(
                    "a {} of {} parameters and a {} of {}",
                    a.network.architecture().name(),
                    a.params.len(),
                    b.network.architecture().name(),
                    b.params.len()
                ),
            ));
        }
        Ok(WeightPath { a, b, sigma })
    }
}

impl Homotopy for WeightPath<'_> {
    fn denoise(&self, x: ArrayView2<f64>, s: f64) -> Array2<f64> {
        let params: Vec<f32> = self
            .a
            .params
            .iter()
            .zip(&self.b.params)
            .map(|(&p, &q)| ((1.0 - s) * p as f64 + s * q as f64) as f32)
            .collect();
        self.a.denoise_with(&params, x, self.sigma)
    }

    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::F32
    }
}

/// A checkpoint's census as the trace reads it: its isolated points (near-neutral sets
/// cannot be continued as points), their kinds and basins.
pub fn checkpoint_of(step: usize, census: &Census) -> Checkpoint {
    let isolated: Vec<_> = census
        .attractors
        .iter()
        .filter(|a| a.kind != AttractorKind::Manifold)
        .collect();
    Checkpoint {
        step: step as f64,
        points: isolated.iter().map(|a| a.x.clone()).collect(),
        kinds: isolated.iter().map(|a| a.kind.name().to_string()).collect(),
        basins: isolated.iter().map(|a| a.basin).collect(),
        indices: isolated.iter().map(|a| a.index).collect(),
    }
}

/// The first checkpoint a trace starts at: the first whose census is readable (an attractor
/// reached, or at most half the samples unsettled: [`CensusSummary`]'s `readable`), else the
/// last. Before it the network is near the identity, where fixed points are not isolated and
/// a continuation would wander.
pub fn first_readable(readable: &[bool]) -> usize {
    readable
        .iter()
        .position(|&r| r)
        .unwrap_or(readable.len().saturating_sub(1))
}

/// The trace of `models` between their censuses `checkpoints` (one each, in step order), at
/// `sigma`, along the chords of the weights; `on_interval` hears each interval traced.
///
/// # Errors
/// No network, not one census per network, checkpoints of different architectures, and the
/// errors of [`trace_run`].
pub fn trace_models(
    models: &[(usize, &ScoreModel)],
    checkpoints: &[Checkpoint],
    train: ArrayView2<f64>,
    sigma: f64,
    mut on_interval: impl FnMut(usize),
) -> Result<Diagram> {
    if models.is_empty() || models.len() != checkpoints.len() {
        return Err(Error::invalid(
            "checkpoints",
            format!(
                "one census per network, and at least one ({} networks)",
                models.len()
            ),
            checkpoints.len(),
        ));
    }
    for w in models.windows(2) {
        WeightPath::new(w[0].1, w[1].1, sigma)?;
    }
    let config = TraceConfig::for_scale(
        data_scale(train),
        models[0].1.arithmetic(),
        1.0,
        train.ncols(),
    );
    trace_run(
        |i| WeightPath::new(models[i].1, models[i + 1].1, sigma),
        checkpoints,
        train,
        &config,
        |i, _: &Interval| on_interval(i),
    )
}

/// A traced run: the censuses, the diagram, and what they cost.
#[derive(Debug, Clone, Serialize)]
pub struct RunTrace {
    pub sigma: f64,
    /// Each checkpoint's census as the trace read it.
    pub checkpoints: Vec<Checkpoint>,
    /// Each checkpoint's counts by kind.
    pub counts: Vec<KindCounts>,
    /// The first checkpoint traced ([`first_readable`]); the diagram's steps start there.
    pub traced_from: usize,
    pub diagram: Diagram,
    /// The earliest spurious attractor holding at least `spur_level` of the samples at some
    /// checkpoint: its first step, and whether that is a located birth (false: it was already
    /// there at the first checkpoint it was found at).
    pub spurious_birth: Option<(f64, bool)>,
    pub spur_level: f64,
    /// Denoiser rows of the censuses (sampling included) and of the continuation.
    pub census_rows: usize,
    pub trace_rows: usize,
    pub census_seconds: f64,
    pub trace_seconds: f64,
}

/// The census of every checkpoint at `request.sigma`, then the trace between consecutive ones.
/// `on_step` hears each stage ("census", i) and ("interval", i) as it ends.
///
/// # Errors
/// Fewer than two checkpoints, checkpoints of different architectures or of another dimension
/// than `train`, steps that do not increase, and the errors of the census and the trace.
pub fn trace_checkpoints(
    models: &[(usize, &ScoreModel)],
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    request: &LandscapeRequest,
    spur_level: f64,
    mut on_step: impl FnMut(&str, usize),
) -> Result<RunTrace> {
    if models.len() < 2 {
        return Err(Error::invalid(
            "checkpoints",
            "at least two, to trace between",
            models.len(),
        ));
    }
    for w in models.windows(2) {
        WeightPath::new(w[0].1, w[1].1, request.sigma)?;
    }
    if let Some((step, m)) = models.iter().find(|(_, m)| m.dim() != train.ncols()) {
        return Err(Error::invalid(
            "checkpoints",
            format!("networks of the training set's dimension {}", train.ncols()),
            format!("{} at step {step}", m.dim()),
        ));
    }
    if !(spur_level > 0.0 && spur_level <= 1.0) {
        return Err(Error::invalid("spur_level", "in (0, 1]", spur_level));
    }
    request.validate(train.ncols(), heldout)?;
    let clock = Instant::now();
    let (mut checkpoints, mut counts, mut readable, mut census_rows) = (vec![], vec![], vec![], 0);
    for (i, &(step, model)) in models.iter().enumerate() {
        let c = own_census(model, train, heldout, request)?;
        census_rows += c.sampling_rows + c.census.cost.total();
        checkpoints.push(checkpoint_of(step, &c.census));
        counts.push(c.census.counts);
        readable.push(CensusSummary::of(&c.census).readable);
        on_step("census", i);
    }
    let census_seconds = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let from = first_readable(&readable);
    let diagram = trace_models(
        &models[from..],
        &checkpoints[from..],
        train,
        request.sigma,
        |i| on_step("interval", i),
    )?;
    let spurious_birth = diagram.first_birth(
        &checkpoints[from..],
        AttractorKind::Spurious.name(),
        spur_level,
    );
    Ok(RunTrace {
        traced_from: from,
        sigma: request.sigma,
        trace_rows: diagram.cost.rows,
        checkpoints,
        counts,
        diagram,
        spurious_birth,
        spur_level,
        census_rows,
        census_seconds,
        trace_seconds: clock.elapsed().as_secs_f64(),
    })
}
