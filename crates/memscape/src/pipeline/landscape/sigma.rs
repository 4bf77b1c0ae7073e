//! A model's fixed points followed through the noise level ([`sigma_trace`]): the census of its
//! own samples at the lowest and the highest sigma, every point continued between them
//! ([`crate::analysis::landscape::trace`], θ = ln sigma), and the same for the exact model of
//! its training set beside it. As sigma grows the exact model's memories merge until one
//! minimum remains (Biroli & Mézard's speciation and collapse, read backward).

use std::time::Instant;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::trained::{LandscapeRequest, own_census};
use crate::analysis::landscape::attractor::{AttractorKind, KindCounts};
use crate::analysis::landscape::trace::{
    Interval, SigmaPath, TraceConfig, TraceEvent, trace_interval,
};
use crate::dataset::data_scale;
use crate::denoiser::{Denoiser, EmpiricalDenoiser};
use crate::error::{Error, Result};

/// One model's diagram in sigma.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigmaSide {
    /// θ = ln sigma; events at sigma = e^θ.
    pub interval: Interval,
    /// The census's counts at the lowest and the highest sigma.
    pub counts_from: KindCounts,
    pub counts_to: KindCounts,
    /// Every event at its sigma, in order of sigma.
    pub events: Vec<SigmaEvent>,
    /// Whether one stable point remains at the highest sigma.
    pub one_left: bool,
    pub seconds: f64,
}

/// An event of a sigma diagram at its noise level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigmaEvent {
    pub sigma: f64,
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// The sigma diagrams of a network and of the exact model of its training set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigmaTrace {
    pub sigma_from: f64,
    pub sigma_to: f64,
    pub network: SigmaSide,
    pub exact: SigmaSide,
}

/// Checks a sigma range: finite, positive, increasing.
///
/// # Errors
/// The range, named `sigma range`.
pub fn check_sigma_range(from: f64, to: f64) -> Result<()> {
    if !(from.is_finite() && to.is_finite() && from > 0.0 && from < to) {
        return Err(Error::invalid(
            "sigma range",
            "positive and increasing (0 < from < to)",
            format!("{from} .. {to}"),
        ));
    }
    Ok(())
}

/// The diagram of one model between `from` and `to`.
fn side(
    model: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    (from, to): (f64, f64),
    request: &LandscapeRequest,
) -> Result<SigmaSide> {
    let clock = Instant::now();
    let at = |sigma: f64| {
        own_census(
            model,
            train,
            heldout,
            &LandscapeRequest { sigma, ..*request },
        )
    };
    let (low, high) = (at(from)?, at(to)?);
    let points = |c: &crate::pipeline::OwnCensus| -> Vec<Vec<f64>> {
        c.census
            .attractors
            .iter()
            .filter(|a| a.kind != AttractorKind::Manifold)
            .map(|a| a.x.clone())
            .collect()
    };
    let range = (from.ln(), to.ln());
    let config = TraceConfig::for_scale(
        data_scale(train),
        model.arithmetic(),
        range.1 - range.0,
        train.ncols(),
    );
    let interval = trace_interval(
        &SigmaPath(model),
        range,
        &points(&low),
        &points(&high),
        &config,
    )?;
    let events = interval
        .events
        .iter()
        .map(|e| SigmaEvent {
            sigma: e.theta.exp(),
            event: e.clone(),
        })
        .collect();
    let one_left = interval.counts_after.minima == 1;
    Ok(SigmaSide {
        counts_from: low.census.counts,
        counts_to: high.census.counts,
        interval,
        events,
        one_left,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// The sigma diagram of `model` and of the exact model of `train`, from `from` to `to`: the
/// census of each at both ends ([`own_census`], `request`'s samples, eigenvalues and seed; its
/// sigma unused), every point continued between them.
///
/// # Errors
/// A range that is not positive and increasing (named `sigma range`), and the errors of the
/// census and the trace.
pub fn sigma_trace(
    model: &(impl Denoiser + ?Sized),
    train: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
    (from, to): (f64, f64),
    request: &LandscapeRequest,
) -> Result<SigmaTrace> {
    check_sigma_range(from, to)?;
    request.validate(train.ncols(), heldout)?;
    let exact = EmpiricalDenoiser::<f64>::new(train)?;
    Ok(SigmaTrace {
        sigma_from: from,
        sigma_to: to,
        network: side(model, train, heldout, (from, to), request)?,
        exact: side(&exact, train, heldout, (from, to), request)?,
    })
}
