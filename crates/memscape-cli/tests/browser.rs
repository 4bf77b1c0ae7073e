//! Opens run reports in headless Chromium (Debian's `chromium`, installed by `.ci/run`) and
//! checks that each renders with every figure present and no console message, keeping a
//! screenshot in the test's temp dir. A page that logs an error must be caught (negative
//! control). Without Chromium the test fails under CI=true and is skipped elsewhere.

use std::path::Path;
use std::process::Command;

fn memscape(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_memscape"))
        .args(args)
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Renders `page` headless: the DOM after loading, the console lines, and a screenshot.
fn render(page: &Path, work: &Path, name: &str) -> (String, Vec<String>) {
    let profile = work.join(format!("profile-{name}"));
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let dump = Command::new("chromium")
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&dump.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let shot = work.join(format!("{name}.png"));
    let s = Command::new("chromium")
        .args(flags)
        .arg(format!("--user-data-dir={}-shot", profile.display()))
        .arg("--window-size=1100,1600")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(s.status.success() && shot.is_file(), "screenshot of {name}");
    (String::from_utf8_lossy(&dump.stdout).into_owned(), console)
}

#[test]
fn reports_render_in_chromium_with_every_figure_and_no_console_message() {
    if Command::new("chromium").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing, but .ci/run installs it"
        );
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // negative control: a console error is seen
    std::fs::write(
        work.join("bad.html"),
        "<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let (_, console) = render(&work.join("bad.html"), work, "bad");
    assert!(
        console.iter().any(|l| l.contains("boom")),
        "the console check must catch an error: {console:?}"
    );

    let run = |name: &str, args: &[&str]| {
        let out = work.join(name);
        let mut all = args.to_vec();
        all.extend(["--out", out.to_str().unwrap()]);
        memscape(&all);
        out
    };
    let runs = [
        run(
            "map",
            &[
                "map",
                "--train-steps",
                "300",
                "--embed",
                "tsne,umap",
                "--k",
                "2,9,90,500",
                "--n-samples",
                "300",
                "--steps",
                "40",
                "--resamples",
                "50",
            ],
        ),
        run(
            "attractors",
            &[
                "attractors",
                "--data",
                "circle:n=30,seed=3",
                "--beta",
                "40",
                "--basin-starts",
                "200",
            ],
        ),
        run(
            "dynamics",
            &[
                "dynamics",
                "--data",
                "gmm:d=4,n=400",
                "--k",
                "4,8",
                "--steps",
                "300",
                "--checkpoints",
                "4",
                "--seeds",
                "2",
                "--width",
                "32",
                "--depth",
                "2",
                "--holdout",
                "100",
                "--n-samples",
                "60",
                "--sample-steps",
                "20",
                "--resamples",
                "20",
            ],
        ),
        run(
            "bifurcate",
            &[
                "bifurcate",
                "--data",
                "kgon:k=4",
                "--beta-from",
                "0.5",
                "--beta-to",
                "6",
                "--steps",
                "16",
            ],
        ),
    ];
    for out in runs {
        let name = out.file_name().unwrap().to_str().unwrap().to_string();
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let figures: Vec<&str> = html
            .match_indices("<figure id=\"")
            .map(|(i, _)| &html[i + 12..i + 12 + html[i + 12..].find('"').unwrap()])
            .collect();
        assert!(!figures.is_empty(), "{name}: the report has figures");
        let (dom, console) = render(&out.join("report.html"), work, &name);
        assert!(console.is_empty(), "{name}: console messages {console:?}");
        for id in &figures {
            assert!(
                dom.contains(&format!("id=\"{id}\"")),
                "{name}: figure {id} missing from the rendered page"
            );
        }
        assert_eq!(
            dom.matches("<svg").count(),
            html.matches("<svg").count(),
            "{name}: every inline SVG renders"
        );
        let shot = image::open(work.join(format!("{name}.png")))
            .unwrap()
            .to_rgb8();
        assert!(
            shot.pixels()
                .map(|p| p.0)
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 50,
            "{name}: the screenshot is not blank"
        );
    }
}
