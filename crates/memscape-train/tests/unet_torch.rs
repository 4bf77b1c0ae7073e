//! Oracle: memscape's U-Net against the PyTorch module it mirrors. The fixture
//! (`fixtures/make_unet_fixture.py`) is the anchor's `UNet` of
//! `../shared/research/anchors/bench_unet_train.py` at base 8, multipliers 1,2,2, 2 channels,
//! 7 × 7 images, random weights (GroupNorm affine perturbed), saved by PyTorch 2.15 as a
//! memscape-unet/1 checkpoint with its eval-mode output on 4 images. Loading it by name and
//! reproducing that output checks the tensor names and layouts, GroupNorm, attention, the
//! nearest resizes and the time embedding at once. Tolerance 1e-4 relative to the output's
//! scale: f32 sums in another order (PyTorch's oneDNN kernels against faer's GEMMs).

use std::path::Path;

use memscape_train::{Network, ScoreModel};

#[test]
fn the_unet_reproduces_the_pytorch_module() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/unet_torch.safetensors");
    let (model, meta) = ScoreModel::load(&path).unwrap();
    assert_eq!(meta.format, "memscape-unet/1");
    let Network::Unet(unet) = &model.network else {
        panic!("not a U-Net")
    };
    assert_eq!(unet.num_parameters(), 50730);
    let (tensors, _) = memscape_train::safetensors::read(&path).unwrap();
    let x = &tensors["fixture.x"].data;
    let t = &tensors["fixture.t"].data;
    let expected = &tensors["fixture.out"].data;
    let c_noise: Vec<f64> = t.iter().map(|&v| v as f64 / 1000.0).collect();
    let out = unet.apply(&model.params, x, &c_noise);
    assert_eq!(out.len(), expected.len());
    let scale = expected.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    let worst = out
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "max |memscape − PyTorch| = {worst} (output scale {scale})"
    );
}
