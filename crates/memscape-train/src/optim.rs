//! Optimisation: Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019, Algorithm
//! 2; plain Adam when the decay is 0), the learning-rate schedule, and an exponential moving
//! average of the parameters.
//!
//! ```text
//! m ← β1 m + (1−β1) g      v ← β2 v + (1−β2) g²      m̂ = m/(1−β1^t)   v̂ = v/(1−β2^t)
//! θ ← θ − lr_t (m̂ / (√v̂ + ε) + λ θ)          (λ only on weights, not on biases)
//! ```

use serde::{Deserialize, Serialize};

/// Adam's moment decays and epsilon (PyTorch's defaults).
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// How the learning rate varies over training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The base rate throughout (after warm-up).
    Constant,
    /// Cosine decay from the base rate to 0 at the last step (after warm-up).
    Cosine,
}

impl LrSchedule {
    /// Learning rate at `step` (1-based) of `total`, with a linear warm-up over `warmup` steps.
    pub fn rate(&self, base: f64, step: usize, total: usize, warmup: usize) -> f64 {
        if step <= warmup {
            return base * step as f64 / warmup as f64;
        }
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => {
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                0.5 * base * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// AdamW state for one flat parameter vector.
#[derive(Debug, Clone)]
pub struct AdamW {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    /// `decays[i]`: whether parameter i takes weight decay.
    decays: Vec<bool>,
}

impl AdamW {
    /// Fresh state; `decays[i]` says whether parameter i is a weight (decayed) or a bias.
    pub fn new(decays: Vec<bool>) -> Self {
        let n = decays.len();
        AdamW {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            decays,
        }
    }

    /// One update of `params` with gradient `grads`, rate `lr` and decoupled decay `weight_decay`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f64, weight_decay: f64) {
        self.t += 1;
        // m̂/(√v̂ + ε) = (m c1)/(√(v c2) + ε), in f32 so the loop vectorises
        let c1 = (1.0 / (1.0 - BETA1.powi(self.t))) as f32;
        let c2 = (1.0 / (1.0 - BETA2.powi(self.t))) as f32;
        let (b1, b2, eps, lr) = (BETA1 as f32, BETA2 as f32, EPSILON as f32, lr as f32);
        let wd = weight_decay as f32;
        for ((((p, &g), m), v), &decays) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
            .zip(&self.decays)
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let decay = if decays { wd } else { 0.0 };
            *p -= lr * ((*m * c1) / ((*v * c2).sqrt() + eps) + decay * *p);
        }
    }
}

/// `ema ← decay · ema + (1 − decay) · params`.
pub fn ema_update(ema: &mut [f32], params: &[f32], decay: f64) {
    let (a, b) = (decay as f32, (1.0 - decay) as f32);
    for (e, &p) in ema.iter_mut().zip(params) {
        *e = a * *e + b * p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let s = LrSchedule::Cosine;
        assert!((s.rate(1.0, 5, 100, 10) - 0.5).abs() < 1e-12);
        assert!((s.rate(1.0, 10, 110, 10) - 1.0).abs() < 1e-12);
        assert!((s.rate(1.0, 60, 110, 10) - 0.5).abs() < 1e-12);
        assert!(s.rate(1.0, 110, 110, 10).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.rate(0.3, 50, 100, 0), 0.3);
    }

    /// Oracle: the first Adam step moves every parameter by lr · sign(g) (m̂ = g, v̂ = g²;
    /// Kingma & Ba 2015, §2.1), and decoupled decay adds lr·λ·θ only where asked.
    #[test]
    fn first_step_is_the_sign_of_the_gradient() {
        let mut adam = AdamW::new(vec![true, false, false]);
        let mut p = vec![1.0f32, 1.0, -2.0];
        adam.step(&mut p, &[0.3, -7.0, 1e-3], 0.01, 0.5);
        assert!((p[0] - (1.0 - 0.01 - 0.005)).abs() < 1e-6);
        assert!((p[1] - 1.01).abs() < 1e-6);
        assert!((p[2] - (-2.01)).abs() < 1e-5);
    }

    /// Adam minimises a quadratic.
    #[test]
    fn converges_on_a_quadratic() {
        let mut adam = AdamW::new(vec![true; 2]);
        let mut p = vec![3.0f32, -2.0];
        for _ in 0..3000 {
            let g = [2.0 * (p[0] - 1.0), 2.0 * (p[1] + 0.5)];
            adam.step(&mut p, &g, 0.01, 0.0);
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 0.5).abs() < 1e-3,
            "{p:?}"
        );
    }

    #[test]
    fn ema_moves_toward_the_parameters() {
        let mut e = vec![0.0f32];
        ema_update(&mut e, &[1.0], 0.9);
        assert!((e[0] - 0.1).abs() < 1e-7);
    }
}
