//! A module may import only modules declared before it (ARCHITECTURE.md: "a stage imports only
//! earlier stages"). `lib.rs` declares the stages in flow order, and every `mod.rs` declares its
//! sub-stages the same way (`analysis`: `linalg`, then `samples`, then `landscape`), so one rule
//! covers every level: for a `crate::` or `super::` path in a module's source, the first
//! component where the path leaves the module's own ancestry must be a sibling declared earlier
//! (or an item a `mod.rs` re-exports from one). Inline modules (`mod tests`) may also use a
//! later sibling of their own file: a part's tests may exercise it through the rest of its
//! folder, never through a later stage or sub-stage.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The stages in flow order; `error`, `units`, `rng` and `progress` are shared foundations.
const STAGES: &[&str] = &[
    "error", "numbers", "units", "rng", "progress", "dataset", "noise", "denoiser", "hopfield",
    "sampler", "analysis", "store", "pipeline",
];

/// The analysis stage's halves: statistics of samples before the geometry of landscapes.
const ANALYSIS: &[&str] = &["linalg", "samples", "landscape"];
const SAMPLES: &[&str] = &[
    "distance", "support", "classify", "chance", "fidelity", "capacity", "cluster", "embed",
    "dynamics",
];
const LANDSCAPE: &[&str] = &[
    "newton",
    "local",
    "critical",
    "basin",
    "continuation",
    "bifurcation",
    "krylov",
    "settle",
    "fixed",
    "manifold",
    "saddles",
    "recovery",
    "attractor",
    "trace",
];

type ModPath = Vec<String>;

/// A parent module's children in declaration order, and the items it re-exports from them
/// (`pub use child::{A, B};`), each with its child.
#[derive(Default)]
struct Children {
    order: Vec<String>,
    reexports: HashMap<String, String>,
}

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
fn module_of(file: &Path, src: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_string())
        .collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" && last != "lib.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The source as statements: comment lines dropped, a `use` spread over several lines joined
/// into one; each with its first line's number.
fn statements(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = vec![];
    let mut open = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("//") {
            continue; // doc links may point anywhere
        }
        if open {
            let last = out.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(t);
        } else {
            out.push((n + 1, line.to_string()));
        }
        let is_use = t.starts_with("use ") || t.starts_with("pub use ") || open;
        open = is_use && !t.ends_with(';');
    }
    out
}

fn identifier(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The entries of a brace group starting at `rest` (just after `{`), split at top-level commas,
/// and the text after its closing brace.
fn group_entries(rest: &str) -> (Vec<&str>, &str) {
    let (mut depth, mut start, mut entries) = (0usize, 0, vec![]);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                entries.push(rest[start..i].trim());
                return (entries, &rest[i + 1..]);
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                entries.push(rest[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    (entries, "")
}

/// Every path `rest` names below `base`: `a::b::C` gives base + [a, b, C]; a brace group
/// `a::{b::C, d}` gives one path per entry.
fn components(mut rest: &str, mut base: ModPath, out: &mut Vec<ModPath>) {
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            for entry in group_entries(group).0 {
                if !entry.is_empty() {
                    components(entry, base.clone(), out);
                }
            }
            return;
        }
        let name = identifier(rest);
        if name.is_empty() || name == "self" {
            break;
        }
        base.push(name.to_string());
        match rest[name.len()..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(base);
}

/// The module paths a statement names through `crate::…` or `super::…` (relative to `own`, the
/// module the statement sits in, inline modules included).
fn paths_in(statement: &str, own: &[String]) -> Vec<ModPath> {
    let mut out = vec![];
    let word_before =
        |i: usize| statement[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
    for (i, _) in statement.match_indices("crate::") {
        if !word_before(i) {
            components(&statement[i + 7..], vec![], &mut out);
        }
    }
    let mut i = 0;
    while let Some(at) = statement[i..].find("super::") {
        let start = i + at;
        let mut rest = &statement[start..];
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            up += 1;
        }
        i = statement.len() - rest.len();
        if !word_before(start) && up <= own.len() {
            components(rest, own[..own.len() - up].to_vec(), &mut out);
        }
    }
    out
}

/// The inline modules (`mod name {`) open after each statement, as a running path suffix:
/// braces are counted outside string and char literals' common cases (balanced `{}` in format
/// strings leave the count unchanged).
struct Inline {
    depth: usize,
    open: Vec<(String, usize)>,
}

impl Inline {
    fn enter(&mut self, statement: &str) {
        let t = statement.trim();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        if let Some(rest) = t.strip_prefix("mod ") {
            let name = identifier(rest);
            if rest[name.len()..].trim_start().starts_with('{') {
                self.open.push((name.to_string(), self.depth));
            }
        }
        for c in statement.chars() {
            match c {
                '{' => self.depth += 1,
                '}' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.open.last().is_some_and(|(_, d)| *d == self.depth) {
                        self.open.pop();
                    }
                }
                _ => {}
            }
        }
    }
}

/// Each parent module's children and re-exports, from every `lib.rs` and `mod.rs`.
fn declarations(src: &Path) -> HashMap<ModPath, Children> {
    let mut all = HashMap::new();
    for f in rust_files(src) {
        if !(f.ends_with("lib.rs") || f.ends_with("mod.rs")) {
            continue;
        }
        let mut children = Children::default();
        for (_, s) in statements(&std::fs::read_to_string(&f).unwrap()) {
            let s = s.trim();
            let decl = s
                .strip_prefix("pub mod ")
                .or_else(|| s.strip_prefix("pub(crate) mod "))
                .or_else(|| s.strip_prefix("mod "));
            if let Some(name) = decl.and_then(|d| d.strip_suffix(';')) {
                children.order.push(name.trim().to_string());
            } else if let Some(rest) = s.strip_prefix("pub use ") {
                let mut paths = vec![];
                components(rest.trim_end_matches(';'), vec![], &mut paths);
                for p in paths {
                    if p.len() >= 2 && children.order.contains(&p[0]) {
                        children
                            .reexports
                            .insert(p[p.len() - 1].clone(), p[0].clone());
                    }
                }
            }
        }
        all.insert(module_of(&f, src), children);
    }
    all
}

/// Where `target` leaves `own`'s ancestry: the parent and the two siblings (own's, target's),
/// when target's is a module declared there or an item re-exported from one.
fn divergence(
    own: &[String],
    target: &[String],
    modules: &HashMap<ModPath, Children>,
) -> Option<(ModPath, String, String)> {
    let i = own.iter().zip(target).take_while(|(a, b)| a == b).count();
    if i >= own.len() || i >= target.len() {
        return None; // an ancestor, the module itself, or one of its own children
    }
    let parent = own[..i].to_vec();
    let children = modules.get(&parent)?;
    let sibling = if children.order.contains(&target[i]) {
        target[i].clone()
    } else {
        children.reexports.get(&target[i])?.clone()
    };
    Some((parent, own[i].clone(), sibling))
}

fn violations(src: &Path) -> Vec<String> {
    let modules = declarations(src);
    let mut out = vec![];
    for f in rust_files(src) {
        let file_module = module_of(&f, src);
        let mut inline = Inline {
            depth: 0,
            open: vec![],
        };
        for (n, statement) in statements(&std::fs::read_to_string(&f).unwrap()) {
            let mut own = file_module.clone();
            own.extend(inline.open.iter().map(|(name, _)| name.clone()));
            for target in paths_in(&statement, &own) {
                let Some((parent, mine, theirs)) = divergence(&own, &target, &modules) else {
                    continue;
                };
                if !inline.open.is_empty() && parent.len() + 1 == file_module.len() {
                    continue; // a test of a part may use the rest of its own folder
                }
                let order = &modules[&parent].order;
                let pos = |m: &str| order.iter().position(|c| c == m);
                if pos(&theirs) > pos(&mine) {
                    let mut via = parent.clone();
                    via.push(theirs.clone());
                    out.push(format!(
                        "{}:{}: {} imports {}, declared after it in {}",
                        f.strip_prefix(src).unwrap().display(),
                        n,
                        own.join("::"),
                        via.join("::"),
                        if parent.is_empty() {
                            "lib.rs".to_string()
                        } else {
                            format!("{}/mod.rs", parent.join("/"))
                        }
                    ));
                }
            }
            inline.enter(&statement);
        }
    }
    out
}

#[test]
fn lib_and_analysis_declare_their_stages_in_flow_order() {
    let modules = declarations(&src());
    let order = |path: &[&str]| {
        let key: ModPath = path.iter().map(|s| s.to_string()).collect();
        modules[&key].order.clone()
    };
    assert_eq!(order(&[]), STAGES);
    assert_eq!(order(&["analysis"]), ANALYSIS);
    assert_eq!(order(&["analysis", "samples"]), SAMPLES);
    assert_eq!(order(&["analysis", "landscape"]), LANDSCAPE);
}

#[test]
fn no_module_imports_one_declared_after_it() {
    let found = violations(&src());
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}

/// The check itself: every upward import in a small tree is found, at its line, whichever form
/// names it (a `crate::` or `super::` path, a brace group spread over lines, an item re-exported
/// by a parent, `super::` inside an inline module), and nothing else is: not a doc link, not a
/// test's use of a later sibling in its own folder.
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
    write("error.rs", "use std::fmt;\nuse crate::store::RunDir;\n");
    write("store.rs", "use crate::analysis::samples::classify;\n");
    write("analysis/mod.rs", "pub mod samples;\npub mod landscape;\n");
    write(
        "analysis/samples/mod.rs",
        "pub mod distance;\npub mod classify;\npub use classify::{Class, classify};\n",
    );
    write(
        "analysis/samples/distance.rs",
        concat!(
            "use super::classify::Class;\n",
            "// [`super::super::landscape`] in a doc link\n",
            "use super::Class as Reexported;\n",
            "fn f() {}\n",
            "#[cfg(test)]\n",
            "mod tests {\n",
            "    use super::*;\n",
            "    use super::super::super::landscape::fixed;\n",
            "    use super::super::classify::Class;\n",
            "    fn g() { let _ = format!(\"{}\", 1); }\n",
            "}\n",
            "use super::super::landscape::fixed;\n",
        ),
    );
    write(
        "analysis/samples/classify.rs",
        concat!(
            "use crate::analysis::{\n",
            "    samples::distance::knn,\n",
            "    landscape::fixed::Stability,\n",
            "};\n",
        ),
    );
    write("analysis/landscape/mod.rs", "pub mod fixed;\n");
    write(
        "analysis/landscape/fixed.rs",
        "use crate::analysis::samples::distance::knn;\nuse crate::store::RunDir;\n",
    );
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let at: Vec<&str> = found
        .iter()
        .map(|v| v.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            "analysis/landscape/fixed.rs:2",
            "analysis/samples/classify.rs:1",
            "analysis/samples/distance.rs:1",
            "analysis/samples/distance.rs:3",
            "analysis/samples/distance.rs:8",
            "analysis/samples/distance.rs:12",
            "error.rs:2",
        ],
        "{found:#?}"
    );
}
