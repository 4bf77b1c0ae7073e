//! The arithmetic precisions of the denoisers, with the constants each one's round-off sets:
//! the exact denoiser's cut-offs ([`Float`]) and the tolerances to which a fixed point of any
//! denoiser can be resolved ([`Arithmetic`]).

use serde::Serialize;

/// The arithmetic a denoiser computes in ([`super::Denoiser::arithmetic`]). Its round-off u
/// bounds how closely `x = D(x)` can be resolved, so it sets the tolerances of settling and
/// Newton and the finite-difference step of a Jacobian-vector product, all in units of the
/// data's RMS scale. The values, one place for each:
///
/// | | f32 (u = 6e-8) | f64 (u = 1.1e-16) |
/// |---|---|---|
/// | settling tolerance | 1e-5 | 1e-9 |
/// | Newton tolerance | 1e-4, then polished to round-off | 1e-10 |
/// | finite-difference step, about u^(1/3) | 2e-3 | 1e-5 |
/// | neutral band \|1 − λ\| ≤ margin | 1e-2 | 1e-6 |
/// | Ritz residual of a converged eigenvalue | 1e-3 | 1e-6 |
///
/// A finite-difference Jacobian of an f32 network carries errors of about 1e-3, which sets
/// the f32 margin and Ritz residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arithmetic {
    F32,
    F64,
}

impl Arithmetic {
    /// Settling stops once |x − D(x)| is below this, for data of RMS scale `scale`.
    pub fn settle_tolerance(self, scale: f64) -> f64 {
        self.pick(1e-5, 1e-9) * scale
    }

    /// Newton stops once |x − D(x)| is below this, for data of RMS scale `scale`.
    pub fn newton_tolerance(self, scale: f64) -> f64 {
        self.pick(1e-4, 1e-10) * scale
    }

    /// Newton steps past [`Self::newton_tolerance`] that polish a point to round-off.
    pub fn polish(self) -> usize {
        match self {
            Arithmetic::F32 => 4,
            Arithmetic::F64 => 0,
        }
    }

    /// The finite-difference displacement of a Jacobian-vector product, for data of RMS scale
    /// `scale`.
    pub fn fd_step(self, scale: f64) -> f64 {
        self.pick(2e-3, 1e-5) * scale
    }

    /// The neutral band: an eigenvalue with |1 − Re λ| at most this leaves an index undecided.
    pub fn margin(self) -> f64 {
        self.pick(1e-2, 1e-6)
    }

    /// The relative error of one denoiser output, |δD| / |D|: its round-off.
    pub fn round_off(self) -> f64 {
        self.pick(1e-6, 1e-14)
    }

    /// The relative residual at which a Ritz value counts as converged.
    pub fn eig_tolerance(self) -> f64 {
        self.pick(1e-3, 1e-6)
    }

    fn pick(self, f32: f64, f64: f64) -> f64 {
        match self {
            Arithmetic::F32 => f32,
            Arithmetic::F64 => f64,
        }
    }
}

/// The two precisions the denoiser runs in: f64 for analysis and sampling, f32 for throughput.
pub trait Float:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + std::ops::MulAssign
    + 'static
{
    /// The arithmetic of this precision.
    const ARITHMETIC: Arithmetic;
    /// Unit round-off.
    const UNIT_ROUNDOFF: f64;
    /// Logits this far below the row maximum have weight < e^−CUTOFF: below the precision.
    const CUTOFF: f64;
    /// Estimated logit error above which near-maximal logits are recomputed directly.
    const REFINE_TOL: f64;
    /// Default bound on the weight fraction the pruned denoiser may skip: about the unit
    /// round-off, so that pruning changes the result by no more than rounding does.
    const PRUNE_TOL: f64;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// e^x for x in [−CUTOFF, 0], branch-free so that loops over it vectorise.
    fn exp_nonpositive(x: Self) -> Self;
    fn max(self, other: Self) -> Self;
}

impl Float for f64 {
    const ARITHMETIC: Arithmetic = Arithmetic::F64;
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    const CUTOFF: f64 = 60.0;
    const REFINE_TOL: f64 = 1e-12;
    const PRUNE_TOL: f64 = 1e-14;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    /// Cody–Waite reduction x = n ln2 + r, |r| ≤ ln2/2, then the degree-12 Taylor polynomial
    /// (truncation error r¹³/13! < 2e-16), scaled by 2^n through the exponent bits.
    #[inline(always)]
    fn exp_nonpositive(x: f64) -> f64 {
        const LN2_HI: f64 = 6.931_471_803_691_238e-1;
        const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
        const INV_FACTORIALS: [f64; 12] = [
            1.0 / 39_916_800.0,
            1.0 / 3_628_800.0,
            1.0 / 362_880.0,
            1.0 / 40_320.0,
            1.0 / 5040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ];
        // round to nearest by adding and subtracting 1.5·2^52 (no libm call: vectorises)
        // (the low mantissa bits of t = x log2 e + ROUND then hold n + 2^51, so 2^n is
        // (bits(t) + 1023) << 52: integer lanes, no float-to-int conversion).
        const ROUND: f64 = 6_755_399_441_055_744.0;
        let t = x * std::f64::consts::LOG2_E + ROUND;
        let n = t - ROUND;
        let r = (x - n * LN2_HI) - n * LN2_LO;
        let mut p = 1.0 / 479_001_600.0;
        for c in INV_FACTORIALS {
            p = p * r + c;
        }
        p * f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
    }
    #[inline(always)]
    fn max(self, other: f64) -> f64 {
        if other > self { other } else { self }
    }
}

impl Float for f32 {
    const ARITHMETIC: Arithmetic = Arithmetic::F32;
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    const CUTOFF: f64 = 30.0;
    const REFINE_TOL: f64 = 1e-3;
    const PRUNE_TOL: f64 = 1e-7;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    /// Cephes `expf`: Cody–Waite reduction and a degree-5 minimax polynomial (≈1 ulp).
    #[inline(always)]
    fn exp_nonpositive(x: f32) -> f32 {
        const C1: f32 = 0.693_359_4;
        const C2: f32 = -2.121_944_4e-4;
        const ROUND: f32 = 12_582_912.0; // 1.5·2^23, as for f64
        let t = x * std::f32::consts::LOG2_E + ROUND;
        let n = t - ROUND;
        let r = (x - n * C1) - n * C2;
        let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
            * r
            + 1.666_666_5e-1)
            * r
            + 0.5;
        let e = p * r * r + r + 1.0;
        e * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
    }
    #[inline(always)]
    fn max(self, other: f32) -> f32 {
        if other > self { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tolerances follow each precision's round-off u (`Float::UNIT_ROUNDOFF`): the
    /// finite-difference step is within a factor 3 of u^(1/3) (the step that balances
    /// truncation against round-off in a forward difference, Nocedal & Wright 2006 §8.1), and
    /// the settling and Newton tolerances are at least 100 u, so they can be reached.
    #[test]
    fn tolerances_follow_the_round_off() {
        for (arithmetic, u) in [
            (f32::ARITHMETIC, f32::UNIT_ROUNDOFF),
            (f64::ARITHMETIC, f64::UNIT_ROUNDOFF),
        ] {
            let scale = 3.0;
            let step = arithmetic.fd_step(scale) / scale;
            let ideal = u.cbrt();
            assert!(
                step / ideal < 3.0 && ideal / step < 3.0,
                "{arithmetic:?}: {step} vs {ideal}"
            );
            assert!(arithmetic.settle_tolerance(scale) / scale >= 100.0 * u);
            assert!(arithmetic.newton_tolerance(scale) / scale >= 100.0 * u);
            assert!(arithmetic.margin() > 0.0 && arithmetic.margin() < 1.0);
        }
        assert_eq!(f32::ARITHMETIC, Arithmetic::F32);
        assert_eq!(f64::ARITHMETIC, Arithmetic::F64);
    }
}
