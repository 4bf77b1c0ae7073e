//! Profiling target: U-Net training steps at 28 × 28, batch 128 (`perf record` this).
use memscape_train::Network;
use memscape_train::network::Dropout;
use memscape_train::unet::{Unet, UnetConfig};

fn main() {
    let res = 28;
    let net = Network::Unet(Box::new(Unet::new(UnetConfig::small(1, res, res)).unwrap()));
    let d = res * res;
    let params = net.init_parameters(1);
    let mut grads = vec![0.0f32; params.len()];
    let x: Vec<f32> = (0..128 * d)
        .map(|i| ((i % 17) as f32 - 8.0) / 8.0)
        .collect();
    let c: Vec<f64> = (0..128).map(|i| i as f64 / 128.0).collect();
    let loss = |out: &[f32], _r0: usize, g: &mut [f32]| -> f64 {
        g.copy_from_slice(out);
        0.0
    };
    for i in 0..4 {
        let t = std::time::Instant::now();
        net.gradient(
            &params,
            &x,
            &c,
            &Dropout::Seeded { rate: 0.1, seed: i },
            &loss,
            &mut grads,
        );
        eprintln!("step {:.3} s", t.elapsed().as_secs_f64());
    }
}
