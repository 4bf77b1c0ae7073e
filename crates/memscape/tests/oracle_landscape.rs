//! Landscape oracles on the continuum circle (theory.md §5 and §7.6): 2000 equally spaced
//! points on the unit circle approximate the uniform ring.

use memscape::analysis::linalg::symmetric_eigen;
use memscape::dataset::synthetic::kgon;
use memscape::denoiser::Landscape;
use ndarray::array;

#[test]
fn ring_radius_and_the_origin_instability() {
    let patterns = kgon(2000, 1.0, 0.0);
    // origin: Hessian 1 − beta/2 in both directions (Cov = I/2): loses stability at beta = 2
    let origin = array![0.0, 0.0];
    for (beta, stable) in [(1.99, true), (2.01, false)] {
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let (eig, _) = symmetric_eigen(&land.hessian(origin.view()));
        assert_eq!(eig[0] > 0.0, stable, "beta {beta}: {eig:?}");
    }
    // ring of minima at R* = I1(beta R*)/I0(beta R*): 0.876823 at beta = 5, 0.987256 at 40
    for (beta, radius, tol) in [(5.0, 0.876823, 1e-3), (40.0, 0.987256, 1e-4)] {
        let land = Landscape::new(patterns.view(), beta).unwrap();
        let mut x = array![0.5, 0.0];
        for _ in 0..20_000 {
            x = land.denoise(x.view()); // CCCP: descends E to the ring
        }
        let r = x.dot(&x).sqrt();
        assert!((r - radius).abs() < tol, "beta {beta}: {r}");
        assert!(land.gradient(x.view()).iter().all(|g| g.abs() < 1e-9));
    }
}
