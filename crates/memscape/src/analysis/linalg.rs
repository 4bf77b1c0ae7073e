//! Dense linear algebra shared by both halves of the analysis.

use faer::{Mat, Side};
use ndarray::Array2;

/// Symmetric eigen-decomposition: eigenvalues ascending and eigenvectors as columns.
///
/// ```
/// use memscape::analysis::linalg::symmetric_eigen;
/// use ndarray::array;
///
/// let (values, vectors) = symmetric_eigen(&array![[2.0, 1.0], [1.0, 2.0]]);
/// assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
/// // the eigenvector of 3 is (1, 1)/√2, up to sign
/// assert!((vectors[[0, 1]].abs() - 0.5f64.sqrt()).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let m = Mat::<f64>::from_fn(d, d, |i, j| a[[i, j]]);
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .expect("symmetric eigen-decomposition converges");
    let values = (0..d).map(|i| evd.S()[i]).collect();
    let vectors = Array2::from_shape_fn((d, d), |(i, j)| evd.U()[(i, j)]);
    (values, vectors)
}
