//! Sample fidelity and coverage against held-out data, in any feature space: the Fréchet
//! distance, and precision and recall by k-nearest-neighbour manifolds.
//!
//! **Fréchet distance** (Dowson & Landau 1982; as FID, Heusel et al. 2017, eq. 6) between the
//! Gaussians fitted to two sets of features, means μ₁, μ₂ and covariances Σ₁, Σ₂:
//!
//! ```text
//! F = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}
//! tr (Σ₁ Σ₂)^{1/2} = Σ_i √λ_i,   λ_i the eigenvalues of Σ₁^{1/2} Σ₂ Σ₁^{1/2} (similar to Σ₁ Σ₂)
//! ```
//!
//! Σ₁^{1/2} comes from the symmetric eigen-decomposition of Σ₁, so the whole computation stays
//! symmetric (the reference, pytorch-fid, takes scipy's `sqrtm` of the non-symmetric Σ₁Σ₂ and
//! drops the imaginary round-off). Covariances are unbiased (divided by n − 1). The score of
//! n samples is biased upward by about 1/n; its **floor** is the score of as many points of one
//! half of the held-out set against the other half, what real data drawn as often reaches.
//!
//! **Precision and recall** (Kynkäänniemi et al. 2019, §2): each real feature φ gets a ball of
//! radius its distance to its k-th nearest other real feature (k = 3); the real manifold is
//! the union of the balls. Precision is the share of generated features inside the real
//! manifold (are the samples realistic?), recall the share of real features inside the manifold
//! of the generated ones built the same way (do the samples cover the data?).

use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use serde::{Deserialize, Serialize};

use super::distance::{knn, squared_distance};
use crate::analysis::linalg::symmetric_eigen;
use crate::error::{Error, Result};

/// Kynkäänniemi et al.'s neighbourhood size.
pub const MANIFOLD_NEIGHBOURS: usize = 3;

/// The fewest held-out points and samples [`fidelity`] scores: k + 1 per manifold, the
/// held-out set split in two.
const MIN_ROWS: [(&str, usize); 2] = [
    ("heldout", 2 * (MANIFOLD_NEIGHBOURS + 1)),
    ("samples", MANIFOLD_NEIGHBOURS + 1),
];

/// Mean and unbiased covariance of the rows of `x`.
fn moments(x: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
    let mean = x.mean_axis(Axis(0)).expect("rows");
    let centred = &x - &mean;
    let cov = centred.t().dot(&centred) / (x.nrows() as f64 - 1.0);
    (mean, cov)
}

/// The Fréchet distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂) (see the module
/// documentation).
///
/// ```
/// use memscape::analysis::samples::fidelity::frechet_gaussians;
/// use ndarray::array;
///
/// // commuting covariances: |μ₁ − μ₂|² + Σ_i (σ₁ᵢ − σ₂ᵢ)²
/// let (s1, s2) = (array![[4.0, 0.0], [0.0, 1.0]], array![[1.0, 0.0], [0.0, 9.0]]);
/// let f = frechet_gaussians(&array![0.0, 0.0], &s1, &array![3.0, 4.0], &s2);
/// assert!((f - (25.0 + 1.0 + 4.0)).abs() < 1e-12);
/// ```
///
/// # Panics
/// Means and covariances of different dimensions, or non-finite covariances
/// ([`frechet_distance`] checks its sets first).
pub fn frechet_gaussians(
    mean1: &Array1<f64>,
    cov1: &Array2<f64>,
    mean2: &Array1<f64>,
    cov2: &Array2<f64>,
) -> f64 {
    let (values, vectors) = symmetric_eigen(cov1);
    let roots = Array1::from_iter(values.iter().map(|&v| v.max(0.0).sqrt()));
    let sqrt1 = (&vectors * &roots).dot(&vectors.t());
    let inner = sqrt1.dot(cov2).dot(&sqrt1);
    let inner = (&inner + &inner.t()) * 0.5;
    let cross: f64 = symmetric_eigen(&inner)
        .0
        .iter()
        .map(|&v| v.max(0.0).sqrt())
        .sum();
    let gap = mean1 - mean2;
    gap.dot(&gap) + cov1.diag().sum() + cov2.diag().sum() - 2.0 * cross
}

/// The Fréchet distance between the Gaussians fitted to the rows of `a` and of `b`.
///
/// ```
/// use memscape::analysis::samples::fidelity::frechet_distance;
/// use ndarray::Array2;
///
/// // a set against itself shifted by (3, 4): the squared shift
/// let a = Array2::from_shape_fn((50, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
/// let b = &a + &ndarray::array![3.0, 4.0];
/// assert!((frechet_distance(a.view(), b.view())? - 25.0).abs() < 1e-9);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than 2 rows in either set, sets of different widths, or non-finite values (named
/// `samples` and `heldout`).
pub fn frechet_distance(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<f64> {
    check(a, b)?;
    Ok(frechet_of_checked(a, b))
}

/// [`frechet_distance`] of sets already checked.
fn frechet_of_checked(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let ((m1, c1), (m2, c2)) = (moments(a), moments(b));
    frechet_gaussians(&m1, &c1, &m2, &c2)
}

/// Checks two feature sets: at least 2 finite rows each, of one width.
fn check(samples: ArrayView2<f64>, heldout: ArrayView2<f64>) -> Result<()> {
    for (what, x) in [("samples", samples), ("heldout", heldout)] {
        if x.nrows() < 2 {
            return Err(Error::invalid(what, "at least 2 rows", x.nrows()));
        }
        crate::error::require_finite(what, x)?;
    }
    if samples.ncols() != heldout.ncols() {
        return Err(Error::invalid(
            "samples",
            format!("of the held-out features' width {}", heldout.ncols()),
            samples.ncols(),
        ));
    }
    Ok(())
}

/// Reference neighbours checked first per query: beyond the largest radius no ball reaches, so
/// the full scan is left for queries whose nearest few are all within it.
const NEAREST_CHECKED: usize = 32;

/// The share of `queries` inside the manifold of `reference`: within the distance from some
/// reference point to its k-th nearest other reference point.
fn coverage(queries: ArrayView2<f64>, reference: ArrayView2<f64>, k: usize) -> Result<f64> {
    let radii = knn(reference, reference, k, true)?
        .distances
        .column(k - 1)
        .to_owned();
    let largest = radii.iter().cloned().fold(0.0, f64::max);
    let m = NEAREST_CHECKED.min(reference.nrows());
    let nearest = knn(queries, reference, m, false)?;
    let inside = (0..queries.nrows())
        .filter(|&i| {
            let (d, j) = (nearest.distances.row(i), nearest.indices.row(i));
            d.iter().zip(j).any(|(&d, &j)| d <= radii[j])
                || (d[m - 1] <= largest
                    && reference
                        .rows()
                        .into_iter()
                        .zip(&radii)
                        .any(|(r, &radius)| squared_distance(queries.row(i), r).sqrt() <= radius))
        })
        .count();
    Ok(inside as f64 / queries.nrows() as f64)
}

/// Precision and recall of generated features against real ones (see the module
/// documentation), and the Fréchet distance with its held-out floor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Fréchet distance of the samples to the reference half of the held-out set.
    pub frechet: f64,
    /// The same score of the other half of the held-out set: real data's floor.
    pub frechet_heldout: f64,
    /// Share of samples inside the held-out manifold.
    pub precision: f64,
    /// Share of held-out points inside the samples' manifold.
    pub recall: f64,
    /// Neighbourhood size of the manifolds.
    pub neighbours: usize,
}

/// Scores samples against held-out data: the Fréchet distance of the samples to the first half
/// of `heldout`, with the second half's as the floor, both from as many points (the first m of
/// each, m the smaller count); precision and recall of all the samples against the first half,
/// with k = [`MANIFOLD_NEIGHBOURS`].
///
/// ```
/// use memscape::analysis::samples::fidelity::fidelity;
/// use ndarray::Array2;
///
/// // held-out points on a grid; samples on the same grid score as real data does, samples
/// // shifted far away are neither precise nor covering
/// let grid = |n: usize, off: f64| Array2::from_shape_fn((n * n, 2), |(i, j)| {
///     off + if j == 0 { (i / n) as f64 } else { (i % n) as f64 } / n as f64
/// });
/// let heldout = ndarray::concatenate![ndarray::Axis(0), grid(10, 0.0), grid(10, 0.01)];
/// let same = fidelity(grid(10, 0.005).view(), heldout.view())?;
/// assert!(same.precision > 0.9 && same.recall > 0.9);
/// let far = fidelity(grid(10, 5.0).view(), heldout.view())?;
/// assert!(far.precision == 0.0 && far.recall == 0.0 && far.frechet > 40.0);
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// Fewer than 2 × (k + 1) held-out points (named `heldout`) or k + 1 samples (`samples`), or
/// the sets' errors as [`frechet_distance`].
pub fn fidelity(samples: ArrayView2<f64>, heldout: ArrayView2<f64>) -> Result<Fidelity> {
    let k = MANIFOLD_NEIGHBOURS;
    check(samples, heldout)?;
    let half = heldout.nrows() / 2;
    for ((what, least), n) in MIN_ROWS.into_iter().zip([heldout.nrows(), samples.nrows()]) {
        if n < least {
            return Err(Error::invalid(
                what,
                format!("at least {least} rows for precision and recall"),
                n,
            ));
        }
    }
    let (reference, other) = heldout.view().split_at(Axis(0), half);
    // the Fréchet distance of n points is biased by about 1/n: the samples' score and the
    // floor are taken on as many points
    let m = samples.nrows().min(other.nrows());
    let (samples_m, other_m) = (samples.slice(s![..m, ..]), other.slice(s![..m, ..]));
    Ok(Fidelity {
        frechet: frechet_of_checked(samples_m, reference),
        frechet_heldout: frechet_of_checked(other_m, reference),
        precision: coverage(samples, reference, k)?,
        recall: coverage(reference, samples, k)?,
        neighbours: k,
    })
}

/// The `frechet, frechet_heldout, precision, recall` fields of a CSV row (empty for None).
pub fn fidelity_fields(f: Option<&Fidelity>) -> [String; 4] {
    match f {
        Some(f) => [f.frechet, f.frechet_heldout, f.precision, f.recall].map(|v| v.to_string()),
        None => Default::default(),
    }
}

/// [`fidelity`] where the sets are large enough for it (None otherwise): what studies report
/// beside MMD² whenever they have held-out data.
///
/// # Errors
/// As [`fidelity`], but for the sizes.
pub fn fidelity_if_measurable(
    samples: ArrayView2<f64>,
    heldout: ArrayView2<f64>,
) -> Result<Option<Fidelity>> {
    let rows = [heldout.nrows(), samples.nrows()];
    if MIN_ROWS.iter().zip(rows).any(|(&(_, least), n)| n < least) {
        return Ok(None);
    }
    fidelity(samples, heldout).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// tr (Σ₁Σ₂)^{1/2} of 2 × 2 covariances that do not commute, against the closed form for a
    /// 2 × 2 matrix A with real non-negative eigenvalues: tr √A = √(tr A + 2 √det A).
    #[test]
    fn the_cross_term_of_non_commuting_covariances_is_the_closed_form() {
        let s1 = array![[2.0, 0.7], [0.7, 1.0]];
        let s2 = array![[1.5, -0.4], [-0.4, 0.6]];
        let a = s1.dot(&s2);
        let det: f64 = a[[0, 0]] * a[[1, 1]] - a[[0, 1]] * a[[1, 0]];
        let tr_sqrt = (a[[0, 0]] + a[[1, 1]] + 2.0 * det.sqrt()).sqrt();
        let zero = array![0.0, 0.0];
        let want = 2.0 + 1.0 + 1.5 + 0.6 - 2.0 * tr_sqrt;
        let got = frechet_gaussians(&zero, &s1, &zero, &s2);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // symmetric in its arguments, zero on itself
        assert!((frechet_gaussians(&zero, &s2, &zero, &s1) - want).abs() < 1e-12);
        assert!(frechet_gaussians(&zero, &s1, &zero, &s1).abs() < 1e-12);
    }

    /// The Fréchet distance grows with the noise added to real data (issue 27: monotone in the
    /// noise level), from the held-out floor.
    #[test]
    fn the_frechet_distance_grows_with_added_noise() {
        let (gmm, _) = crate::dataset::synthetic::gmm(1200, 6, 3, 6.0, 1.0, 4);
        let (heldout, real) = gmm.view().split_at(Axis(0), 800);
        let noise = crate::rng::normal_matrix(400, 6, 9);
        let scores: Vec<f64> = [0.0, 0.1, 0.3, 1.0, 3.0]
            .iter()
            .map(|&s| {
                fidelity((&real + &(&noise * s)).view(), heldout)
                    .unwrap()
                    .frechet
            })
            .collect();
        assert!(scores.windows(2).all(|w| w[0] < w[1]), "{scores:?}");
        let floor = fidelity(real, heldout).unwrap().frechet_heldout;
        assert!(
            scores[0] < 3.0 * floor.max(1e-3),
            "{scores:?} vs floor {floor}"
        );
    }

    /// Precision and recall of a generator that drops half the modes of a 4-component mixture:
    /// its samples are as realistic as real data (precision within 0.05 of a real sample's),
    /// and they cover the kept modes only (recall about the kept share of the real recall).
    #[test]
    fn dropping_half_the_modes_keeps_precision_and_halves_recall() {
        let (gmm, labels) = crate::dataset::synthetic::gmm(1600, 4, 4, 20.0, 1.0, 3);
        let heldout = gmm.slice(ndarray::s![..800, ..]);
        let keep: Vec<usize> = (800..1600).filter(|&i| labels[i] < 2).collect();
        let dropped = gmm.select(Axis(0), &keep);
        let real = fidelity(gmm.slice(ndarray::s![800.., ..]), heldout).unwrap();
        let f = fidelity(dropped.view(), heldout).unwrap();
        let kept = (0..400).filter(|&i| labels[i] < 2).count() as f64 / 400.0;
        assert!(
            (f.precision - real.precision).abs() < 0.05,
            "{f:?} vs {real:?}"
        );
        assert!(
            (f.recall - kept * real.recall).abs() < 0.06,
            "{f:?} vs {kept} × {real:?}"
        );
        assert!(real.precision > 0.8 && real.recall > 0.8, "{real:?}");
        assert!(f.frechet > 10.0 * real.frechet, "{f:?} vs {real:?}");
    }
}
