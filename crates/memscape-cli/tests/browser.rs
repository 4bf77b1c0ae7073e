//! Opens run reports in headless Chromium (Debian's `chromium`, installed by `.ci/run`) and
//! checks that each renders with no console message and every figure laid out and drawn: a
//! probe script reads each figure's box and its SVG's rendered size after layout, and the
//! figure's part of a full-page screenshot must hold a picture. A page that logs an error must be caught (negative
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

/// Appended to a copy of each report: once the page has loaded, it writes the laid-out box of
/// every figure's SVG (page coordinates) and the SVG content's bounding box (`getBBox`, which
/// needs layout) into the DOM, where `--dump-dom` reads them; and the page's scroll width, the
/// window's width and every table's right edge.
const PROBE: &str = r#"<script>addEventListener('load', () => {
  const out = [...document.querySelectorAll('figure[id]')].map(f => {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {left: 0, top: 0, width: 0, height: 0};
    const b = svg ? svg.getBBox() : {width: 0, height: 0};
    return [f.id, r.left + scrollX, r.top + scrollY, r.width, r.height, b.width, b.height];
  });
  const tables = [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right);
  const page = [document.documentElement.scrollWidth, innerWidth, tables];
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  const widths = document.createElement('pre');
  widths.id = 'widths';
  widths.textContent = JSON.stringify(page);
  document.body.appendChild(pre);
  document.body.appendChild(widths);
});</script>"#;

/// A figure as Chromium laid it out: id, its SVG's page box (x, y, width, height) and content
/// size.
struct Laid {
    id: String,
    area: [f64; 4],
    content: [f64; 2],
}

const FLAGS: [&str; 9] = [
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
/// A common laptop window: every figure (the widest is drawn 1200 pixels wide) must scale into
/// the 980-pixel page column and so lie wholly inside it.
const WIDTH: u32 = 1280;

/// The page's width as laid out: its scroll width, the window's inner width, and the right
/// edge of every table.
type Widths = (f64, f64, Vec<f64>);

/// Renders `page` headless: the console lines, the figures as laid out, the page's widths, and
/// a screenshot of the whole page (`{name}.png` in `work`).
fn render(page: &Path, work: &Path, name: &str) -> (Vec<String>, Vec<Laid>, Widths) {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = page.with_file_name(format!("{name}-probe.html"));
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let url = format!("file://{}", probed.display());
    let dump = Command::new("chromium")
        .args(FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            work.join(format!("profile-{name}")).display()
        ))
        .arg(format!("--window-size={WIDTH},1600"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&dump.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let dom = String::from_utf8_lossy(&dump.stdout);
    let laid = match dom.split_once("<pre id=\"probe\">") {
        Some((_, rest)) => {
            let json = rest.split("</pre>").next().unwrap().replace("&quot;", "\"");
            let rows: Vec<(String, f64, f64, f64, f64, f64, f64)> =
                serde_json::from_str(&json).expect("the probe's JSON");
            rows.into_iter()
                .map(|(id, x, y, w, h, cw, ch)| Laid {
                    id,
                    area: [x, y, w, h],
                    content: [cw, ch],
                })
                .collect()
        }
        None => vec![],
    };
    let widths: Widths = dom
        .split_once("<pre id=\"widths\">")
        .map(|(_, rest)| {
            let json = rest.split("</pre>").next().unwrap().replace("&quot;", "\"");
            serde_json::from_str(&json).expect("the probe's widths")
        })
        .unwrap_or_default();
    let bottom = laid
        .iter()
        .map(|f| f.area[1] + f.area[3])
        .fold(1600.0, f64::max);
    let shot = work.join(format!("{name}.png"));
    let s = Command::new("chromium")
        .args(FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            work.join(format!("shot-{name}")).display()
        ))
        .arg(format!(
            "--window-size={WIDTH},{}",
            bottom.ceil() as u32 + 20
        ))
        .arg("--hide-scrollbars")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(s.status.success() && shot.is_file(), "screenshot of {name}");
    (console, laid, widths)
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
    let (console, _, _) = render(&work.join("bad.html"), work, "bad");
    assert!(
        console.iter().any(|l| l.contains("boom")),
        "the console check must catch an error: {console:?}"
    );
    // negative control: a table wider than the window is seen
    std::fs::write(
        work.join("wide.html"),
        "<!DOCTYPE html><html><body><table><tr><td style=\"min-width:2000px\">x</td></tr></table></body></html>",
    )
    .unwrap();
    let (_, _, (scroll, window, tables)) = render(&work.join("wide.html"), work, "wide");
    assert!(
        scroll > window && tables[0] > window,
        "the width check must catch a wide table: {scroll} {window} {tables:?}"
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
        run(
            "rf",
            &[
                "rf",
                "--d",
                "20",
                "--psi-p",
                "8",
                "--psi-n",
                "2,4",
                "--steps",
                "20000",
                "--seeds",
                "2",
                "--test-points",
                "300",
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
        let (console, laid, (scroll, window, tables)) =
            render(&out.join("report.html"), work, &name);
        assert!(console.is_empty(), "{name}: console messages {console:?}");
        // nothing overflows a 1280-px window: wide tables scroll inside their own box
        assert_eq!(window, f64::from(WIDTH), "{name}");
        assert!(scroll <= window, "{name}: the page is {scroll} px wide");
        assert!(
            html.matches("<table").count() == tables.len(),
            "{name}: {} tables",
            tables.len()
        );
        for (i, right) in tables.iter().enumerate() {
            assert!(*right <= window, "{name}: table {i} ends at {right} px");
        }
        let ids: Vec<&str> = laid.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, figures, "{name}: every figure is laid out");
        let shot = image::open(work.join(format!("{name}.png")))
            .unwrap()
            .to_rgb8();
        for f in &laid {
            // the SVG has a box, drew content, and its part of the screenshot holds a picture:
            // many colours, and not mostly the white page
            let [x, y, w, h] = f.area.map(|v| v.round() as u32);
            assert!(w > 200 && h > 150, "{name}: {} laid out as {w}×{h}", f.id);
            assert!(
                f.content[0] > 0.5 * w as f64 && f.content[1] > 0.5 * h as f64,
                "{name}: {} drew {:?} into {w}×{h}",
                f.id,
                f.content
            );
            assert!(
                f.area[0] >= 0.0 && f.area[0] + f.area[2] <= WIDTH as f64,
                "{name}: {} at {:?} is cut off in a {WIDTH}-pixel window",
                f.id,
                f.area
            );
            assert!(
                y + h <= shot.height() && x + w <= shot.width(),
                "{name}: {} at {:?} outside the {}×{} screenshot",
                f.id,
                f.area,
                shot.width(),
                shot.height()
            );
            let crop = image::imageops::crop_imm(&shot, x, y, w, h).to_image();
            let colours: std::collections::HashSet<[u8; 3]> = crop.pixels().map(|p| p.0).collect();
            let inked = crop.pixels().filter(|p| p.0 != [255, 255, 255]).count();
            assert!(
                colours.len() > 20 && inked as f64 > 0.02 * (w * h) as f64,
                "{name}: {} renders blank ({} colours, {inked} inked pixels)",
                f.id,
                colours.len()
            );
        }
    }
}
