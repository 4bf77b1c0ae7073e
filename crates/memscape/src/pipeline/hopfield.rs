//! `memscape hopfield`: the classical, dense and modern Hopfield baselines measured on random
//! ±1 patterns beside their theory (theory.md §3–4): the share of unstable bits, the retrieval
//! overlap from corrupted starts, and the predictions they are checked against.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::dataset::synthetic::binary;
use crate::error::{Error, Result};
use crate::hopfield::{self as hop, Interaction};
use crate::rng::{stream, uniform};

/// The most patterns a dense or modern network may store here (memory).
pub const MAX_HOPFIELD_PATTERNS: usize = 5_000_000;

/// Which network: classical (Hebbian), dense (F(z) = z^degree) or modern (F = exp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HopfieldModel {
    Classical,
    Dense,
    Modern,
}

/// A Hopfield baseline: the network, its size N and load alpha (K = alpha N classical,
/// alpha N^(degree−1) dense, e^(alpha N) modern), the dense degree, how many networks and
/// stored patterns per network to test, the flipped fraction of the starts, and the seed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct HopfieldRequest {
    pub model: HopfieldModel,
    pub n: usize,
    pub alpha: f64,
    pub degree: u32,
    pub nets: usize,
    pub per_net: usize,
    pub flip: f64,
    pub seed: u64,
}

impl Default for HopfieldRequest {
    /// `memscape hopfield`'s defaults: the classical network of N = 1000 neurons at load
    /// alpha = 0.1, inside its retrieval phase (alpha_c ≈ 0.138, Amit, Gutfreund & Sompolinsky
    /// 1985), degree 3 when dense, 3 networks of 20 tested patterns each, exact starts, seed 0.
    /// The command asks for the model and the load; its other flags read these.
    fn default() -> Self {
        HopfieldRequest {
            model: HopfieldModel::Classical,
            n: 1000,
            alpha: 0.1,
            degree: 3,
            nets: 3,
            per_net: 20,
            flip: 0.0,
            seed: 0,
        }
    }
}

/// The measured baseline beside its theory. Fields a model has no value for are left out of
/// its JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopfieldResult {
    /// "classical", "dense" or "modern".
    pub model: HopfieldModel,
    pub n: usize,
    pub alpha: f64,
    /// Patterns stored.
    pub k: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip: Option<f64>,
    /// The share of bits a single update flips, from the stored patterns (classical) or the
    /// corrupted starts (dense, modern), averaged over the networks.
    pub unstable_bit_fraction: f64,
    /// The one-step error the theory predicts (classical and dense).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theory_one_step: Option<f64>,
    /// The mean overlap after asynchronous retrieval (classical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_overlap: Option<f64>,
    /// AGS's retrieval overlap at alpha (classical; `Some(None)`, written `null`, above the
    /// critical load, where the retrieval state does not exist), and its critical load.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::numbers::present"
    )]
    pub ags_overlap: Option<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ags_alpha_c: Option<f64>,
    /// Demircigil et al.'s one-sweep correction bound at the flipped fraction (modern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demircigil_bound: Option<f64>,
}

impl HopfieldRequest {
    /// Checks the fields; errors name the parameter.
    ///
    /// ```
    /// use memscape::pipeline::{HopfieldModel, HopfieldRequest};
    ///
    /// let request = HopfieldRequest::default();
    /// request.validate()?;
    /// // half the bits flipped is no longer a corrupted copy of the pattern
    /// let e = HopfieldRequest { flip: 0.5, ..request }.validate().unwrap_err();
    /// assert!(e.to_string().starts_with("flip must be in [0, 0.5)"), "{e}");
    /// // a dense network of degree 1 is no network
    /// let dense = HopfieldRequest { model: HopfieldModel::Dense, degree: 1, ..request };
    /// assert!(dense.validate().unwrap_err().to_string().starts_with("degree"));
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A field that breaks its rule, named.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::invalid("alpha", "> 0", self.alpha));
        }
        if self.n < 2 {
            return Err(Error::invalid("n", "≥ 2", self.n));
        }
        if !(0.0..0.5).contains(&self.flip) {
            return Err(Error::invalid("flip", "in [0, 0.5)", self.flip));
        }
        if self.model == HopfieldModel::Dense && self.degree < 2 {
            return Err(Error::invalid(
                "degree",
                "≥ 2 (F(z) = z^degree; 2 is the classical network)",
                self.degree,
            ));
        }
        Ok(())
    }

    /// K, the number of stored patterns the load gives.
    ///
    /// ```
    /// use memscape::pipeline::{HopfieldModel, HopfieldRequest};
    ///
    /// // classical: K = alpha N
    /// let classical = HopfieldRequest { alpha: 0.1, n: 1000, ..Default::default() };
    /// assert_eq!(classical.num_patterns(), 100);
    /// // dense of degree 3: K = alpha N²
    /// let dense = HopfieldRequest { model: HopfieldModel::Dense, degree: 3, alpha: 0.5, n: 100, ..classical };
    /// assert_eq!(dense.num_patterns(), 5000);
    /// // modern: K = e^(alpha N), e^5 ≈ 148.4
    /// let modern = HopfieldRequest { model: HopfieldModel::Modern, alpha: 0.05, n: 100, ..classical };
    /// assert_eq!(modern.num_patterns(), 148);
    /// ```
    pub fn num_patterns(&self) -> usize {
        let n = self.n as f64;
        let k = match self.model {
            HopfieldModel::Classical => self.alpha * n,
            HopfieldModel::Dense => self.alpha * n.powi(self.degree as i32 - 1),
            HopfieldModel::Modern => (self.alpha * n).exp(),
        };
        (k.round() as usize).max(1)
    }
}

/// `rows` of `patterns` with a fraction `flip` of their bits flipped (stream per row).
fn corrupted(patterns: &Array2<f64>, rows: usize, flip: f64, seed: u64) -> Array2<f64> {
    let mut s = patterns.slice(ndarray::s![..rows, ..]).to_owned();
    for (i, mut row) in s.rows_mut().into_iter().enumerate() {
        let mut rng = stream(seed, i as u64);
        row.mapv_inplace(|v| if uniform(&mut rng) < flip { -v } else { v });
    }
    s
}

/// Measures the baseline `request` asks for on `nets` networks of random ±1 patterns.
///
/// # Errors
/// A request that breaks a rule ([`HopfieldRequest::validate`]), or a load that stores more
/// than [`MAX_HOPFIELD_PATTERNS`] patterns (named `alpha`).
///
/// ```
/// use memscape::pipeline::{HopfieldModel, HopfieldRequest, hopfield};
///
/// // a classical network at load 0.05 (below alpha_c = 0.138) retrieves its patterns
/// let request = HopfieldRequest {
///     model: HopfieldModel::Classical,
///     n: 400,
///     alpha: 0.05,
///     degree: 2,
///     nets: 1,
///     per_net: 5,
///     flip: 0.0,
///     seed: 0,
/// };
/// let r = hopfield(&request)?;
/// assert_eq!(r.k, 20);
/// assert!(r.retrieval_overlap.unwrap() > 0.99);
/// assert!(hopfield(&HopfieldRequest { alpha: -1.0, ..request }).is_err());
/// # Ok::<(), memscape::Error>(())
/// ```
pub fn hopfield(request: &HopfieldRequest) -> Result<HopfieldResult> {
    request.validate()?;
    let (n, k, nets) = (request.n, request.num_patterns(), request.nets);
    let patterns = |net_seed: u64| binary(k, n, request.seed * 1000 + net_seed);
    let mut result = HopfieldResult {
        model: request.model,
        n,
        alpha: request.alpha,
        k,
        flip: None,
        unstable_bit_fraction: 0.0,
        theory_one_step: None,
        retrieval_overlap: None,
        ags_overlap: None,
        ags_alpha_c: None,
        demircigil_bound: None,
    };
    if request.model == HopfieldModel::Classical {
        let (mut unstable, mut overlap, mut count) = (0.0, 0.0, 0);
        for net_seed in 0..nets as u64 {
            let p = patterns(net_seed);
            let net = hop::Classical::hebbian(p.view());
            unstable += hop::unstable_bit_fraction(&net, p.view());
            let starts = corrupted(&p, request.per_net.min(k), request.flip, net_seed);
            for (mu, s0) in starts.rows().into_iter().enumerate() {
                let mut s = s0.to_owned();
                net.run_async(&mut s, net_seed * 1000 + mu as u64, 200);
                overlap += hop::overlap(s.view(), p.row(mu));
                count += 1;
            }
        }
        result.unstable_bit_fraction = unstable / nets as f64;
        result.theory_one_step = Some(hop::normal_cdf(-1.0 / request.alpha.sqrt()));
        result.retrieval_overlap = Some(overlap / count as f64);
        result.ags_overlap = Some(hop::ags_overlap(request.alpha));
        result.ags_alpha_c = Some(hop::ags_critical_alpha());
        return Ok(result);
    }
    if k > MAX_HOPFIELD_PATTERNS {
        return Err(Error::invalid(
            "alpha",
            format!("a load that stores at most {MAX_HOPFIELD_PATTERNS} patterns (K = {k})"),
            request.alpha,
        ));
    }
    let f = match request.model {
        HopfieldModel::Dense => Interaction::Polynomial(request.degree),
        _ => Interaction::Exponential,
    };
    let mut unstable = 0.0;
    for net_seed in 0..nets as u64 {
        let p = patterns(net_seed);
        let starts = corrupted(&p, request.per_net.min(k), request.flip, net_seed);
        unstable += hop::dense_unstable_bit_fraction(p.view(), starts.view(), f);
    }
    result.flip = Some(request.flip);
    result.unstable_bit_fraction = unstable / nets as f64;
    match f {
        Interaction::Polynomial(d) => {
            result.theory_one_step = Some(hop::dense_error_theory(n, k, d))
        }
        Interaction::Exponential => {
            result.demircigil_bound = Some(hop::demircigil_bound(request.flip))
        }
    }
    Ok(result)
}
