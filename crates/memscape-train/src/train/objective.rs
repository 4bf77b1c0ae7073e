//! The objective: one step's batch (patterns, noise levels and noise from the step's ChaCha
//! stream), the weighted denoising loss, its gradient, and the fixed evaluation draws.

use memscape::noise::VpSchedule;
use memscape::rng;
use ndarray::ArrayView2;

use crate::network::{Dropout, Network};
use crate::precondition::Preconditioning;

use super::{Objective, TrainConfig};

/// Smallest diffusion time of the VP objective (Song et al. 2021's epsilon).
pub(super) const VP_T_MIN: f64 = 1e-3;

/// Default noise range of the VE objective, relative to the data's RMS norm.
pub(super) const DEFAULT_SIGMA_MIN: f64 = 0.01;
pub(super) const DEFAULT_SIGMA_MAX: f64 = 10.0;

/// Rows of the fixed evaluation draws for the train and held-out losses.
pub(super) const EVAL_ROWS: usize = 1024;

/// Seed offset that keeps the evaluation draws apart from the step streams.
pub(super) const EVAL_SEED: u64 = 0xE7A1_0000;

/// The noise range of the VE objective for data of RMS norm `scale`.
pub(super) fn sigma_range(config: &TrainConfig, scale: f64) -> (f64, f64) {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    (
        config.sigma_min.unwrap_or(DEFAULT_SIGMA_MIN * scale),
        config.sigma_max.unwrap_or(DEFAULT_SIGMA_MAX * scale),
    )
}

/// A noise level drawn from the objective's distribution, from u ∈ [0, 1).
pub(super) fn noise_level(objective: Objective, (lo, hi): (f64, f64), u: f64) -> f64 {
    match objective {
        Objective::Ve => (lo.ln() + u * (hi / lo).ln()).exp(),
        Objective::Vp => VpSchedule::DDPM_LINEAR.sigma(VP_T_MIN + u * (1.0 - VP_T_MIN)),
    }
}

/// The loss weight w(sigma) times c_out², i.e. the weight on |F − target|².
pub(super) fn output_weight(objective: Objective, p: &Preconditioning, sigma: f64) -> f64 {
    match objective {
        Objective::Ve => 1.0,
        Objective::Vp => (p.c_out(sigma) / sigma).powi(2),
    }
}

/// One batch: network inputs u = c_in y and c_noise, regression targets and per-row weights.
pub(super) struct Batch {
    u: Vec<f32>,
    c_noise: Vec<f64>,
    targets: Vec<f32>,
    weights: Vec<f64>,
}

/// Builds a batch from clean rows `x0` (already jittered), noise levels and noise.
pub(super) fn batch(
    d: usize,
    p: &Preconditioning,
    objective: Objective,
    x0: &[f64],
    sigmas: &[f64],
    noise: &[f64],
) -> Batch {
    let mut u = Vec::with_capacity(x0.len());
    let mut targets = Vec::with_capacity(x0.len());
    let mut c_noise = Vec::with_capacity(sigmas.len());
    let mut weights = Vec::with_capacity(sigmas.len());
    for (b, &sigma) in sigmas.iter().enumerate() {
        let (c_in, c_skip, c_out) = (p.c_in(sigma), p.c_skip(sigma), p.c_out(sigma));
        for j in b * d..(b + 1) * d {
            let y = x0[j] + sigma * noise[j];
            u.push((c_in * y) as f32);
            targets.push(((x0[j] - c_skip * y) / c_out) as f32);
        }
        c_noise.push(p.c_noise(sigma));
        weights.push(output_weight(objective, p, sigma));
    }
    Batch {
        u,
        c_noise,
        targets,
        weights,
    }
}

/// Weighted mean squared error per coordinate of outputs `out` against rows `r0..` of `b`;
/// with `grad`, also its gradient with respect to `out` for a batch of `total_rows`.
pub(super) fn loss(
    out: &[f32],
    b: &Batch,
    r0: usize,
    d: usize,
    total_rows: usize,
    grad: Option<&mut [f32]>,
) -> f64 {
    let mut sum = 0.0;
    let scale = 2.0 / (total_rows * d) as f64;
    let mut g = grad;
    for (i, o) in out.chunks(d).enumerate() {
        let w = b.weights[r0 + i];
        for (j, &v) in o.iter().enumerate() {
            let e = (v - b.targets[(r0 + i) * d + j]) as f64;
            sum += w * e * e;
            if let Some(g) = g.as_deref_mut() {
                g[i * d + j] = (scale * w * e) as f32;
            }
        }
    }
    sum
}

/// The batch loss, and its gradient with respect to every parameter in `grads` (micro-batches
/// summed in order: [`Network::gradient`]).
pub(super) fn gradient(
    net: &Network,
    params: &[f32],
    b: &Batch,
    dropout: &Dropout,
    grads: &mut [f32],
) -> f64 {
    let (rows, d) = (b.weights.len(), net.dim());
    let loss = |out: &[f32], r0: usize, g: &mut [f32]| loss(out, b, r0, d, rows, Some(g));
    net.gradient(params, &b.u, &b.c_noise, dropout, &loss, grads) / (rows * d) as f64
}

/// The fixed evaluation batch of `patterns`: row i takes pattern i mod n, the i-th quantile of
/// the noise-level distribution, and noise from stream i of the evaluation seed (built once,
/// scored at every checkpoint).
pub(super) fn eval_batch(
    net: &Network,
    p: &Preconditioning,
    config: &TrainConfig,
    range: (f64, f64),
    patterns: ArrayView2<f64>,
) -> Batch {
    let (n, d) = patterns.dim();
    let rows = EVAL_ROWS.max(n.min(8 * EVAL_ROWS));
    let mut x0 = Vec::with_capacity(rows * d);
    let mut noise = vec![0.0; rows * d];
    let mut sigmas = Vec::with_capacity(rows);
    for i in 0..rows {
        x0.extend(patterns.row(i % n).iter());
        sigmas.push(noise_level(
            config.objective,
            range,
            (i as f64 + 0.5) / rows as f64,
        ));
        rng::fill_normal(
            &mut rng::stream(config.seed ^ EVAL_SEED, i as u64),
            &mut noise[i * d..(i + 1) * d],
        );
    }
    batch(net.dim(), p, config.objective, &x0, &sigmas, &noise)
}

/// The loss of `params` on a fixed batch.
pub(super) fn batch_loss(net: &Network, params: &[f32], b: &Batch) -> f64 {
    let (rows, d) = (b.weights.len(), net.dim());
    let out = net.forward(params, &b.u, &b.c_noise);
    loss(&out, b, 0, d, rows, None) / (rows * d) as f64
}
