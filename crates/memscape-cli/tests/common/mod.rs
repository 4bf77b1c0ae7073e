//! Helpers shared by the command-line tests.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `memscape` binary.
pub fn memscape(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscape"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// The one JSON document a successful command printed on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document on stdout")
}

/// The rows of a CSV file with a header, each as column → value.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let values: Vec<&str> = l.split(',').collect();
            assert_eq!(values.len(), header.len(), "{}: {l}", path.display());
            header
                .iter()
                .zip(values)
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// `STEM.svg` is an SVG with shapes, `STEM.png` decodes and is not blank (> 20 colours).
pub fn assert_figure(dir: &Path, stem: &str) {
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
    assert!(
        svg.starts_with("<svg") && (svg.contains("<rect") || svg.contains("<circle")),
        "{stem}.svg"
    );
    let png = image::open(dir.join(format!("{stem}.png")))
        .unwrap()
        .to_rgb8();
    let distinct: std::collections::HashSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 20, "{stem}.png is not blank");
}

/// One line on stderr that contains every one of `needles`, and exit 2, with nothing written.
pub fn refused(out: &std::process::Output, needles: &[&str], dir: &Path) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(!dir.exists(), "{} was written", dir.display());
}
