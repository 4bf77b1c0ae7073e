//! Time to find and classify all critical points (issue 5's benchmark).
//!
//! `cargo bench -p memscape --bench landscape`: K = 100 standard-normal points in 2-D at three
//! beta (all structured starts plus 200 random), and K = 1000 standard-normal patterns in
//! d = 64 from 1000 random starts only (beta = 1, where every pattern is its own minimum).

mod common;

use common::{gemm_peak, time};
use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
use memscape::analysis::samples::classify::train_spacing;
use memscape::denoiser::Landscape;
use memscape::rng::normal_matrix;

fn main() {
    println!(
        "machine: faer f32 GEMM peak {:.0} GFLOP/s on {} threads (for scale; this search is not GEMM-bound)",
        gemm_peak(1024),
        rayon::current_num_threads()
    );
    println!(
        "| workload | time (median of 3) | starts | minima / saddles / maxima | Euler χ |\n|---|---|---|---|---|"
    );
    let p2 = normal_matrix(100, 2, 1);
    let spacing = train_spacing(p2.view()).unwrap();
    for beta in [10.0, 100.0, 1000.0] {
        let land = Landscape::new(p2.view(), beta).unwrap();
        let config = SearchConfig::for_spacing(spacing);
        let mut set = None;
        let s = time(3, || {
            set = Some(critical_points(&land, &config, None).unwrap())
        });
        let set = set.unwrap();
        println!(
            "| K = 100, d = 2, beta = {beta} | {:.2} s | {} | {} / {} / {} | {} |",
            s,
            set.num_starts,
            set.minima,
            set.saddles,
            set.maxima,
            set.euler_characteristic
                .map_or("undefined".into(), |c| c.to_string())
        );
    }
    let p64 = normal_matrix(1000, 64, 2);
    let land = Landscape::new(p64.view(), 1.0).unwrap();
    let mut config = SearchConfig::for_spacing(train_spacing(p64.view()).unwrap());
    config.structured_starts = false;
    config.random_starts = 1000;
    let mut set = None;
    let s = time(1, || {
        set = Some(critical_points(&land, &config, None).unwrap())
    });
    let set = set.unwrap();
    println!(
        "| K = 1000, d = 64, beta = 1, 1000 random starts | {:.2} s | {} | {} / {} / {} | (partial search) |",
        s, set.num_starts, set.minima, set.saddles, set.maxima
    );
}
