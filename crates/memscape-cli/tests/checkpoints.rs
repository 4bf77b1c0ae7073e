//! `--checkpoints DIR`: networks trained elsewhere, in memscape's checkpoint format, measured by
//! `memscape dynamics` and `memscape map` (issue 30). A study's own `--save-checkpoints` folder,
//! read back, gives its rows again (all but the losses, which a folder's study computes itself),
//! and every broken folder is one line naming the file, exit 2.

mod common;
use common::{memscape, refused};

use std::path::Path;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

fn dynamics(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "dynamics",
        "--n-samples",
        "60",
        "--sample-steps",
        "20",
        "--resamples",
        "20",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    memscape(&args)
}

/// The phase table without its two loss columns.
fn without_losses(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].ends_with("_loss"))
        .collect();
    assert_eq!(keep.len(), header.len() - 2, "{header:?}");
    text.lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i].to_string()).collect()
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_studys_saved_checkpoints_read_back_give_its_rows_and_broken_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("trained");
    let trained = dynamics(
        &first,
        &[
            "--k",
            "4,8",
            "--seeds",
            "2",
            "--steps",
            "300",
            "--checkpoints",
            "3",
            "--width",
            "32",
            "--depth",
            "2",
            "--holdout",
            "40",
            "--save-checkpoints",
        ],
    );
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let folder = first.join("checkpoints");
    for file in ["K4/train.npy", "K8/train.npy", "heldout.npy", "K8/seed1"] {
        assert!(folder.join(file).exists(), "{file}");
    }
    let again = tmp.path().join("again");
    let folder_arg = folder.to_str().unwrap();
    let read = dynamics(&again, &["--checkpoints", folder_arg]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(
        without_losses(&first.join("phase.csv")),
        without_losses(&again.join("phase.csv"))
    );
    assert_eq!(
        std::fs::read(first.join("attractors.csv")).unwrap(),
        std::fs::read(again.join("attractors.csv")).unwrap()
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(again.join("results.json")).unwrap()).unwrap();
    let own: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["tau_mem"], own["tau_mem"]);
    assert_eq!(results["tau_spur"], own["tau_spur"]);
    assert!(again.join("report.html").is_file());

    // the map of the same folder: the last network of each K's first seed beside the exact model
    let map_out = tmp.path().join("map");
    let map = memscape(&[
        "map",
        "--checkpoints",
        folder_arg,
        "--n-samples",
        "60",
        "--steps",
        "20",
        "--resamples",
        "20",
        "--out",
        map_out.to_str().unwrap(),
    ]);
    assert!(
        map.status.success(),
        "{}",
        String::from_utf8_lossy(&map.stderr)
    );
    let phase = std::fs::read_to_string(map_out.join("phase.csv")).unwrap();
    let models: Vec<&str> = phase
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(models, ["exact", "exact", "mlp", "mlp"]);
    assert!(map_out.join("landscape_mlp_k4").is_dir() || map_out.join("landscape_mlp_k8").is_dir());

    // broken folders: one line naming the file, exit 2, nothing written
    let nowhere = tmp.path().join("not-written");
    let broken = tmp.path().join("broken");
    let fresh = || {
        let _ = std::fs::remove_dir_all(&broken);
        copy_dir(&folder, &broken);
    };
    let run = || dynamics(&nowhere, &["--checkpoints", broken.to_str().unwrap()]);
    fresh();
    std::fs::remove_file(broken.join("K8/seed1/step_00000017.safetensors")).unwrap();
    refused(&run(), &["K8/seed1", "no checkpoint at step 17"], &nowhere);
    fresh();
    std::fs::remove_file(broken.join("K8/train.npy")).unwrap();
    refused(&run(), &["K8/train.npy", "missing", "K = 8"], &nowhere);
    fresh();
    let unet = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../memscape-train/tests/fixtures/unet_torch.safetensors"
    );
    std::fs::copy(unet, broken.join("K8/seed1/step_00000300.safetensors")).unwrap();
    refused(
        &run(),
        &[
            "K8/seed1/step_00000300.safetensors",
            "unet",
            "mlp",
            "one K takes one architecture",
        ],
        &nowhere,
    );
    fresh();
    std::fs::copy(broken.join("K4/train.npy"), broken.join("K8/train.npy")).unwrap();
    refused(&run(), &["K8/train.npy", "4 rows", "K = 8"], &nowhere);
    fresh();
    let out = dynamics(
        &nowhere,
        &[
            "--checkpoints",
            broken.to_str().unwrap(),
            "--intervention",
            "dropout=0.1",
        ],
    );
    refused(&out, &["--intervention", "none is trained"], &nowhere);
    refused(
        &dynamics(&nowhere, &["--checkpoints", "no-such-folder"]),
        &["no-such-folder", "not a folder"],
        &nowhere,
    );
    // a map's sets nest: K4's must be the first 4 rows of K8's
    fresh();
    let k8 =
        Array2::<f64>::read_npy(std::fs::File::open(broken.join("K8/train.npy")).unwrap()).unwrap();
    let last4 = k8.slice(ndarray::s![4.., ..]).to_owned();
    last4
        .write_npy(std::fs::File::create(broken.join("K4/train.npy")).unwrap())
        .unwrap();
    let out = memscape(&[
        "map",
        "--checkpoints",
        broken.to_str().unwrap(),
        "--out",
        nowhere.to_str().unwrap(),
    ]);
    refused(
        &out,
        &["K4/train.npy", "the first 4 rows of", "K8/train.npy"],
        &nowhere,
    );
}
