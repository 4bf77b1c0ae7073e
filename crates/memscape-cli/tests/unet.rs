//! `--model unet` from the command line (issue 14): a U-Net trained, sampled and mapped on a
//! small image stack, with the support gate's fourth class; and the bad inputs of images, each
//! one line naming the flag or file, exit 2, nothing written.

mod common;

use std::path::Path;

use common::{json, memscape};
use ndarray::Array3;
use ndarray_npy::WriteNpyExt;

/// `n` 8 × 8 images in [−1, 1]: a bright 2-wide bar, horizontal or vertical, at a place set by
/// the index (an N×H×W stack, so the file carries its image shape).
fn write_bars(path: &Path, n: usize, offset: usize) {
    let mut a = Array3::from_elem((n, 8, 8), -1.0f64);
    for i in 0..n {
        let at = (i + offset) % 7;
        for t in 0..8 {
            for b in at..at + 2 {
                if (i + offset).is_multiple_of(2) {
                    a[[i, t, b]] = 1.0;
                } else {
                    a[[i, b, t]] = 1.0;
                }
            }
            a[[i, t, (t * 3 + i) % 8]] += 0.1;
        }
    }
    a.write_npy(std::fs::File::create(path).unwrap()).unwrap();
}

const TINY: [&str; 8] = [
    "--unet-base",
    "8",
    "--unet-mults",
    "1,2",
    "--unet-groups",
    "4",
    "--train-batch",
    "16",
];

/// Runs `args`, expects exit 2 with `message` on one stderr line, and no `out` directory.
fn refused(args: &[&str], message: &str, out: &Path) {
    let o = memscape(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(message), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

#[test]
fn unet_trains_samples_and_maps_image_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars.npy");
    write_bars(&data, 120, 0);
    let data = data.to_str().unwrap();
    let train = dir.path().join("train");
    let mut args = vec![
        "train",
        "--model",
        "unet",
        "--data",
        data,
        "--k",
        "4",
        "--steps",
        "20",
        "--checkpoints",
        "2",
        "--out",
        train.to_str().unwrap(),
    ];
    args.extend(TINY);
    let o = memscape(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ckpt = train.join("checkpoints/step_00000020.safetensors");
    let header = std::fs::read(&ckpt).unwrap();
    let text = String::from_utf8_lossy(&header[..header.len().min(4096)]);
    assert!(
        text.contains("memscape-unet/1") && text.contains("\"inc.weight\""),
        "{text}"
    );
    let sample = dir.path().join("sample");
    let j = json(&memscape(&[
        "sample",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--data",
        data,
        "--k",
        "4",
        "--n",
        "16",
        "--steps",
        "20",
        "--out",
        sample.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["n"], 16);
    let map = dir.path().join("map");
    let mut args = vec![
        "map",
        "--model",
        "unet",
        "--data",
        data,
        "--k",
        "2,4",
        "--train-steps",
        "30",
        "--n-samples",
        "40",
        "--steps",
        "20",
        "--holdout",
        "40",
        "--resamples",
        "20",
        "--out",
        map.to_str().unwrap(),
        "--json",
    ];
    args.extend(TINY);
    let j = json(&memscape(&args));
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        let sum: f64 = ["memorized", "spurious", "generalized", "off_support"]
            .iter()
            .map(|c| r[c].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-12, "{r}");
        assert_eq!(r["support"]["heldout"], 40, "{r}");
        assert!(r["quality"]["mmd2"].is_number(), "{r}");
    }
    assert!(rows.iter().any(|r| r["model"] == "unet"));
    assert!(j["image_shape"] == serde_json::json!([8, 8]));
    // the trained model's samples beside their nearest training images, one grid per K
    let html = std::fs::read_to_string(map.join("report.html")).unwrap();
    for k in [2, 4] {
        let stem = format!("samples_grid_unet_k{k}");
        common::assert_figure(&map, &stem);
        assert!(
            html.contains(&format!("id=\"fig-{stem}\"")),
            "{stem} not in the report"
        );
    }
}

/// A dynamics run of the U-Net keeps the grid K's samples at every checkpoint and draws them.
#[test]
fn unet_dynamics_draws_samples_along_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars.npy");
    write_bars(&data, 120, 0);
    let out = dir.path().join("dyn");
    let mut args = vec![
        "dynamics",
        "--model",
        "unet",
        "--data",
        data.to_str().unwrap(),
        "--k",
        "2,4",
        "--steps",
        "20",
        "--checkpoints",
        "3",
        "--seeds",
        "1",
        "--n-samples",
        "30",
        "--sample-steps",
        "20",
        "--holdout",
        "40",
        "--resamples",
        "20",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend(TINY);
    let j = json(&memscape(&args));
    assert_eq!(j["grid_k"], 4, "the middle K by default on images");
    let rows = j["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| r["off_support"].is_number() && r["quality"]["mmd2"].is_number())
    );
    assert_eq!(j["tau_gen_quality"].as_array().unwrap().len(), 2);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for step in [1, 20] {
        let stem = format!("samples_grid_step{step:08}_k4");
        common::assert_figure(&out, &stem);
        assert!(
            html.contains(&format!("id=\"fig-{stem}\"")),
            "{stem} not in the report"
        );
    }
}

#[test]
fn bad_image_inputs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    // --model unet on points
    refused(
        &[
            "train", "--model", "unet", "--data", "circle", "--k", "4", "--out", o,
        ],
        "--model must be mlp on data without an image shape",
        &out,
    );
    refused(
        &[
            "map", "--model", "unet", "--data", "circle", "--k", "2,4", "--out", o,
        ],
        "--model must be mlp on data without an image shape",
        &out,
    );
    // an image shape that does not divide the data
    let flat = dir.path().join("flat.npy");
    ndarray::Array2::<f64>::zeros((30, 64))
        .write_npy(std::fs::File::create(&flat).unwrap())
        .unwrap();
    let spec = format!("{},image=5x5", flat.display());
    refused(
        &[
            "train", "--model", "unet", "--data", &spec, "--k", "4", "--out", o,
        ],
        "image shape 5x5 does not divide the data dimension 64",
        &out,
    );
    // a checkpoint for 8 × 8 images against 4 × 16 images of the same dimension
    let bars = dir.path().join("bars.npy");
    write_bars(&bars, 40, 0);
    let train = dir.path().join("train");
    let mut args = vec![
        "train",
        "--model",
        "unet",
        "--data",
        bars.to_str().unwrap(),
        "--k",
        "4",
        "--steps",
        "2",
        "--checkpoints",
        "1",
        "--out",
        train.to_str().unwrap(),
    ];
    args.extend(TINY);
    assert!(memscape(&args).status.success());
    let ckpt = train.join("checkpoints/step_00000002.safetensors");
    let wide = format!("{},image=4x16", flat.display());
    refused(
        &[
            "sample",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            &wide,
            "--k",
            "4",
            "--out",
            o,
        ],
        "checkpoint is a U-Net for images of 1×8×8, but --data has images of 1×4×16",
        &out,
    );
    refused(
        &[
            "sample",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            "circle",
            "--k",
            "4",
            "--out",
            o,
        ],
        "checkpoint is for data of dimension 64, but --data has dimension 2",
        &out,
    );
    // a held-out set of the wrong dimension
    let points = dir.path().join("points.npy");
    ndarray::Array2::<f64>::from_shape_fn((30, 3), |(i, j)| (i * 3 + j) as f64)
        .write_npy(std::fs::File::create(&points).unwrap())
        .unwrap();
    refused(
        &[
            "classify",
            "--train",
            points.to_str().unwrap(),
            "--samples",
            points.to_str().unwrap(),
            "--holdout",
            flat.to_str().unwrap(),
            "--out",
            o,
        ],
        "--holdout must have the dimension of --train (3), got 64",
        &out,
    );
}
