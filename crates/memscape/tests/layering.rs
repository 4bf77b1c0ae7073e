//! A module may import only modules declared before it (ARCHITECTURE.md: "a stage imports only
//! earlier stages"). `lib.rs` declares the stages in flow order, and every `mod.rs` declares its
//! sub-stages the same way (`analysis`: `linalg`, then `samples`, then `landscape`), so one rule
//! covers both levels: for a `crate::` or `super::` path in a module's source, the first
//! component where the path leaves the module's own ancestry must be a sibling declared earlier.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The stages in flow order; `error`, `units`, `rng` and `progress` are shared foundations.
const STAGES: &[&str] = &[
    "error", "units", "rng", "progress", "dataset", "noise", "denoiser", "hopfield", "sampler",
    "analysis", "store", "pipeline",
];

/// The analysis stage's halves: statistics of samples before the geometry of landscapes.
const ANALYSIS: &[&str] = &["linalg", "samples", "landscape"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    let mut stack = vec![dir.to_path_buf()];
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
    files.sort();
    files
}

/// The module path of a source file: `analysis/landscape/critical.rs` → analysis, landscape,
/// critical; a `mod.rs` or `lib.rs` is its directory's module.
fn module_of(file: &Path, src: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_string())
        .collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" && last != "lib.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The child modules a `lib.rs` or `mod.rs` declares (`pub mod x;`, `mod x;`), in order.
fn declared(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.strip_suffix(';')?.trim().to_string())
        })
        .collect()
}

/// Each parent module's children in declaration order.
fn declarations(src: &Path) -> HashMap<Vec<String>, Vec<String>> {
    rust_files(src)
        .into_iter()
        .filter(|f| f.ends_with("lib.rs") || f.ends_with("mod.rs"))
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (module_of(&f, src), declared(&text))
        })
        .collect()
}

fn identifier(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The module paths a line names through `crate::a::b` or `super::super::a` (components after
/// the prefix, up to the first that is not an identifier).
fn paths_in(line: &str, own: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![];
    for (i, _) in line.match_indices("crate::") {
        if line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `memscape_crate::`
        }
        out.push(components(&line[i + 7..], vec![]));
    }
    let mut i = 0;
    while let Some(at) = line[i..].find("super::") {
        let start = i + at;
        if start > 0 && line[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            i = start + 7;
            continue;
        }
        let mut rest = &line[start..];
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            up += 1;
        }
        if up <= own.len() {
            out.push(components(rest, own[..own.len() - up].to_vec()));
        }
        i = line.len() - rest.len();
    }
    out
}

fn components(mut rest: &str, mut base: Vec<String>) -> Vec<String> {
    loop {
        let name = identifier(rest);
        if name.is_empty() {
            break;
        }
        base.push(name.to_string());
        match rest[name.len()..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    base
}

/// Where `target` leaves `own`'s ancestry: the parent and the two siblings (own's, target's),
/// when target's is a module declared there.
fn divergence<'a>(
    own: &'a [String],
    target: &'a [String],
    modules: &HashMap<Vec<String>, Vec<String>>,
) -> Option<(Vec<String>, &'a str, &'a str)> {
    let i = own.iter().zip(target).take_while(|(a, b)| a == b).count();
    if i >= own.len() || i >= target.len() {
        return None; // an ancestor, the module itself, or one of its own children
    }
    let parent = own[..i].to_vec();
    let children = modules.get(&parent)?;
    children
        .contains(&target[i])
        .then_some((parent, own[i].as_str(), target[i].as_str()))
}

fn violations(src: &Path) -> Vec<String> {
    let modules = declarations(src);
    let mut out = vec![];
    for f in rust_files(src) {
        let own = module_of(&f, src);
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // doc links may point anywhere
            }
            for target in paths_in(line, &own) {
                let Some((parent, mine, theirs)) = divergence(&own, &target, &modules) else {
                    continue;
                };
                let order = &modules[&parent];
                let pos = |m: &str| order.iter().position(|c| c == m);
                if pos(theirs) > pos(mine) {
                    out.push(format!(
                        "{}:{}: {} imports {}, declared after it in {}",
                        f.strip_prefix(src).unwrap().display(),
                        n + 1,
                        own.join("::"),
                        target[..=parent.len()].join("::"),
                        if parent.is_empty() {
                            "lib.rs".to_string()
                        } else {
                            format!("{}/mod.rs", parent.join("/"))
                        }
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn lib_and_analysis_declare_their_stages_in_flow_order() {
    let modules = declarations(&src());
    assert_eq!(modules[&vec![]], STAGES);
    assert_eq!(modules[&vec!["analysis".to_string()]], ANALYSIS);
}

#[test]
fn no_module_imports_one_declared_after_it() {
    let found = violations(&src());
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}

/// The check itself: an upward import is found at both levels, whichever prefix names it.
#[test]
fn the_check_finds_upward_imports_at_every_level() {
    let dir = std::env::temp_dir().join(format!("memscape-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod error;\npub mod analysis;\npub mod store;\n",
    );
    write("error.rs", "use crate::store::RunDir;\n");
    write("store.rs", "use crate::analysis::samples::classify;\n");
    write("analysis/mod.rs", "pub mod samples;\npub mod landscape;\n");
    write(
        "analysis/samples/mod.rs",
        "pub mod distance;\npub mod classify;\n",
    );
    write(
        "analysis/samples/distance.rs",
        "use super::classify::Class;\n// [`super::super::landscape`] in a doc link\n",
    );
    write(
        "analysis/samples/classify.rs",
        "use super::super::landscape::fixed;\n",
    );
    write("analysis/landscape/mod.rs", "pub mod fixed;\n");
    write(
        "analysis/landscape/fixed.rs",
        "use crate::analysis::samples::distance::knn;\n",
    );
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let lines: Vec<&str> = found.iter().map(|v| v.split(':').next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "analysis/samples/classify.rs",
            "analysis/samples/distance.rs",
            "error.rs"
        ],
        "{found:#?}"
    );
}
