//! Shared by the benches: timing and the machine's f32 GEMM peak.

use std::time::Instant;

use faer::{Accum, Mat, Par};

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median wall time of `reps` runs after one warm-up run.
pub fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// faer f32 GEMM n×n×n on the global thread pool, in GFLOP/s (2n³ FLOPs).
pub fn gemm_peak(n: usize) -> f64 {
    let a = Mat::<f32>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let b = Mat::<f32>::from_fn(n, n, |i, j| ((i * 5 + j) % 13) as f32 / 13.0);
    let mut c = Mat::<f32>::zeros(n, n);
    let s = time(10, || {
        faer::linalg::matmul::matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        )
    });
    2.0 * (n as f64).powi(3) / s / 1e9
}
