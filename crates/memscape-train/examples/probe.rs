use memscape::denoiser::{Denoiser, EmpiricalDenoiser};
use memscape_train::{TrainConfig, train};
fn main() {
    let k: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let steps: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let data = ndarray::Array2::from_shape_fn((k, 2), |(i, j)| {
        let a = std::f64::consts::TAU * i as f64 / k as f64;
        if j == 0 { a.cos() } else { a.sin() }
    });
    let config = TrainConfig {
        steps,
        checkpoints: 8,
        batch_size: std::env::args().nth(3).unwrap().parse().unwrap(),
        lr: std::env::args().nth(4).unwrap().parse().unwrap(),
        ..Default::default()
    };
    let exact = EmpiricalDenoiser::<f64>::new(data.view()).unwrap();
    let x = memscape::rng::normal_matrix(200, 2, 3) * 0.8;
    let run = train(&config, data.view(), Some(data.view()), |m, meta, p| {
        let mut errs = vec![];
        for sigma in [0.02, 0.1, 0.3, 1.0] {
            let e = (m.denoise(x.view(), sigma) - exact.denoise(x.view(), sigma))
                .mapv(|v| v * v)
                .sum_axis(ndarray::Axis(1))
                .mapv(f64::sqrt)
                .mean()
                .unwrap();
            errs.push(e);
        }
        println!(
            "step {} train {:.4} errs {:?}",
            meta.step, p.train_loss, errs
        );
        Ok(())
    })
    .unwrap();
    println!("{:.1} steps/s", steps as f64 / run.seconds);
    for w in run.losses.chunks(steps / 10) {
        println!(
            "window mean {:.4}",
            w.iter().map(|&v| v as f64).sum::<f64>() / w.len() as f64
        );
    }
    println!(
        "param sum {}",
        run.model.params.iter().map(|v| v.abs() as f64).sum::<f64>()
    );
}
