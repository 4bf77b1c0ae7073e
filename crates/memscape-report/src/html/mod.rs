//! `report.html`: one self-contained page per run directory (figures inline as SVG, no network):
//! what was run, the headline numbers with their intervals, each figure with a caption naming
//! the table it was drawn from, the tables themselves, and the manifest. Missing or corrupt
//! files are listed at the top; everything that reads is still shown.

mod landscapes;
mod studies;

use landscapes::*;
use studies::*;

use std::fmt::Write;
use std::path::Path;

use memscape::store::sorted_json;

use crate::{Results, RunFileError, RunReader};

/// The report and the problems met while writing it (missing or corrupt files).
pub struct Report {
    pub html: String,
    pub problems: Vec<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Formats an estimate with its interval: `0.291 [0.275, 0.307]`.
fn estimate(v: f64, ci: [f64; 2]) -> String {
    match (v.is_finite(), ci[0].is_finite() && ci[1].is_finite()) {
        (true, true) => format!("{v:.3} [{:.3}, {:.3}]", ci[0], ci[1]),
        (true, false) => format!("{v:.3}"),
        _ => "—".into(),
    }
}

fn capacity(v: Option<f64>, ci: [Option<f64>; 2]) -> String {
    match v {
        // an open bound (None) means more than 2.5% of the resamples crossed outside the sweep
        Some(k) => format!(
            "K ≈ {k:.0} [{}, {}]",
            ci[0].map_or("below the sweep".into(), |lo| format!("{lo:.0}")),
            ci[1].map_or("beyond the sweep".into(), |hi| format!("{hi:.0}"))
        ),
        None => "outside the swept K".into(),
    }
}

/// A training step, or "not reached".
fn step(v: Option<f64>) -> String {
    v.map_or("not reached".into(), |s| format!("{s:.0}"))
}

/// `v` to 2 decimals, or "—".
fn two_places(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format!("{s:.2}"))
}

/// `v` to `places` decimals where finite, else "—" (as JSON's null reads).
fn finite(v: f64, places: usize) -> String {
    if v.is_finite() {
        format!("{v:.places$}")
    } else {
        "—".into()
    }
}

/// Inlines `NAME.svg` as a figure with `caption`, or records it as missing.
fn figure(
    reader: &RunReader,
    name: &str,
    caption: &str,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    match std::fs::read_to_string(reader.dir().join(format!("{name}.svg"))) {
        Ok(svg) if svg.trim_start().starts_with("<svg") => {
            let _ = write!(
                out,
                "<figure id=\"fig-{name}\">{svg}<figcaption>{caption}</figcaption></figure>"
            );
        }
        _ => problems.push(format!(
            "{}: missing or not SVG",
            reader.dir().join(format!("{name}.svg")).display()
        )),
    }
}

/// Builds the report of a run directory.
pub fn report(dir: &Path) -> Result<Report, RunFileError> {
    let reader = RunReader::open(dir)?;
    let inventory = reader.inventory();
    let mut problems: Vec<String> = inventory.problems().iter().map(|e| e.to_string()).collect();
    let manifest = inventory.manifest.as_ref().ok();
    let command = manifest
        .map(|m| m.command.join(" "))
        .unwrap_or_else(|| "(no manifest)".into());
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>memscape run</h1><p><code>{}</code></p><p>version {}, git {}, {} threads</p></header>",
        escape(&command),
        escape(manifest.map_or("?", |m| m.version.as_str())),
        escape(manifest.map_or("?", |m| m.git_revision.as_str())),
        manifest.map_or("?".into(), |m| m.threads.to_string()),
    );
    if inventory.files.iter().any(|(n, _)| n == "results.json") {
        match reader.results() {
            Ok(Some(Results::Dynamics(d))) => {
                dynamics_section(&reader, &d, &mut body, &mut problems)
            }
            Ok(Some(Results::Map(map))) => phase_section(&reader, &map, &mut body, &mut problems),
            Ok(None) => problems.push(format!(
                "{}: neither a map's nor a dynamics study's results",
                reader.dir().join("results.json").display()
            )),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if inventory
        .files
        .iter()
        .any(|(n, _)| n == "bifurcations.json")
    {
        bifurcation_section(&reader, &mut body, &mut problems);
    }
    if inventory.files.iter().any(|(n, _)| n == "attractors.json") {
        attractors_section(&reader, &mut body, &mut problems);
    }
    if inventory.files.iter().any(|(n, _)| n == "trace.json") {
        trace_section(&reader, &mut body, &mut problems);
    }
    if inventory.files.iter().any(|(n, _)| n == "rf.json") {
        rf_section(&reader, &mut body, &mut problems);
    }
    if let Some(m) = manifest {
        let _ = write!(
            body,
            "<section><h2>Manifest</h2><pre id=\"manifest\">{}</pre></section>",
            escape(&serde_json::to_string_pretty(&sorted_json(m)).unwrap_or_default())
        );
    }
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>memscape report</title><style>\
         body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
         figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption,.note{color:#555;font-size:90%}.problems{background:#fff3f3;border:1px solid #d66;padding:0.5em 1em}\
         pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:80%}</style></head><body>",
    );
    if !problems.is_empty() {
        html.push_str("<section class=\"problems\"><h2>Missing or unreadable files</h2><ul>");
        for p in &problems {
            let _ = write!(html, "<li>{}</li>", escape(p));
        }
        html.push_str("</ul></section>");
    }
    html.push_str(&body);
    html.push_str("</body></html>\n");
    Ok(Report { html, problems })
}

/// Writes `report.html` into the run directory; returns the problems met.
pub fn write_report(dir: &Path) -> Result<Vec<String>, RunFileError> {
    let r = report(dir)?;
    memscape::store::write_atomic(&dir.join("report.html"), r.html.as_bytes()).map_err(|e| {
        RunFileError::Corrupt {
            path: dir.join("report.html"),
            reason: e.to_string(),
        }
    })?;
    Ok(r.problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_is_named_and_the_rest_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("manifest.json"), r#"{"command": ["memscape", "map"], "version": "0.1.0", "git_revision": "x", "threads": 2, "files": ["results.json", "phase.csv"]}"#).unwrap();
        std::fs::write(
            d.join("results.json"),
            r#"{"rows": [{"k": 2, "model": "exact", "memorized": 1.0, "spurious": 0.0, "generalized": 0.0, "off_support": 0.0, "f_mem": 1.0,
                "ci": {"memorized": [1, 1], "spurious": [0, 0], "generalized": [0, 0], "off_support": [0, 0], "f_mem": [1, 1]},
                "support": null, "quality": null, "exact_quality": null, "num_attractors": 2,
                "clusters": {"dbscan": {"method": "dbscan", "threshold": 0.0, "clusters": 2, "memorized": 2, "spurious": 0, "generalized": 0, "off_support": 0, "noise": 0},
                             "single_linkage": {"method": "single-linkage", "threshold": 0.0, "clusters": 2, "memorized": 2, "spurious": 0, "generalized": 0, "off_support": 0, "noise": 0},
                             "hdbscan": {"method": "hdbscan", "threshold": null, "clusters": 2, "memorized": 2, "spurious": 0, "generalized": 0, "off_support": 0, "noise": 0}},
                "settled": 1.0, "delta_m": 0.17, "delta_s": 0.04, "train_spacing": 0.68, "seconds": 0.0}],
                "capacities": {"memorization": null, "memorization_ci": [null, null], "spurious_peak_k": 2, "spurious_peak": 0.0, "spurious_peak_ci": [0, 0], "generalization": null, "generalization_ci": [null, null]},
                "trained": {}, "sigma_min": 0.02, "beta_max": 2500.0, "pair_merge_distance": 0.04, "num_samples": 10, "image_shape": null}"#,
        )
        .unwrap();
        let problems = write_report(d).unwrap();
        let html = std::fs::read_to_string(d.join("report.html")).unwrap();
        assert!(
            problems.iter().any(|p| p.contains("phase.csv: missing")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("phase.svg")),
            "{problems:?}"
        );
        assert!(
            html.contains("Missing or unreadable files")
                && html.contains("<table>")
                && html.contains("id=\"manifest\"")
        );
        assert!(html.contains("outside the swept K"));
    }
}
