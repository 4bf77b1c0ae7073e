//! Dense linear algebra shared by both halves of the analysis.

use faer::{Mat, Side};
use ndarray::Array2;

/// Symmetric eigen-decomposition: eigenvalues ascending and eigenvectors as columns.
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
