//! A stage may import only earlier stages (ARCHITECTURE.md: "a stage imports only earlier
//! stages"). Fails on any upward `crate::` path in the library's sources.

use std::path::Path;

/// Flow order; `error`, `units`, `rng` and `progress` are shared foundations usable by every
/// stage.
const STAGES: &[&str] = &[
    "error", "units", "rng", "progress", "dataset", "noise", "denoiser", "hopfield", "sampler",
    "analysis", "store", "pipeline",
];

fn stage_of(path: &Path, src: &Path) -> Option<usize> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .trim_end_matches(".rs");
    STAGES.iter().position(|s| *s == first)
}

#[test]
fn no_stage_imports_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p)
            }
        }
    }
    let mut violations = vec![];
    for f in files {
        let Some(own) = stage_of(&f, &src) else {
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + 7..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(target) = STAGES.iter().position(|s| *s == name)
                    && target > own
                {
                    violations.push(format!(
                        "{}:{}: {} imports {}",
                        f.display(),
                        n + 1,
                        STAGES[own],
                        name
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}
