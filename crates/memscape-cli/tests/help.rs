//! Every command's `--help` is committed under `docs/help/` (one file per command and
//! subcommand: `memscape.txt`, `memscape-map.txt`, `memscape-sweep-status.txt`, …), so a changed
//! or lost flag shows in review. After changing a flag on purpose, rewrite them with
//! `MEMSCAPE_BLESS_HELP=1 cargo test -p memscape-cli --test help`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// `memscape PATH… --help`.
fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memscape"))
        .args(path)
        .arg("--help")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    assert!(out.status.success(), "memscape {path:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands listed under `Commands:`, one per line indented by two spaces (a wrapped
/// description's lines are indented further); clap's own `help` left out.
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// The help text of every command and subcommand, by file name.
fn all_help() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut queue = vec![vec![]];
    while let Some(path) = queue.pop() {
        let text = help(&path);
        for sub in subcommands(&text) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
        let name = std::iter::once("memscape".to_string())
            .chain(path)
            .collect::<Vec<_>>()
            .join("-");
        found.insert(format!("{name}.txt"), text);
    }
    found
}

#[test]
fn every_commands_help_is_committed_under_docs_help() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/help");
    let found = all_help();
    assert!(found.len() > 12, "{:?}", found.keys());
    let committed: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    if std::env::var_os("MEMSCAPE_BLESS_HELP").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for name in committed.keys().filter(|n| !found.contains_key(*n)) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        for (name, text) in &found {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let changed: Vec<&String> = found
        .iter()
        .filter(|(name, text)| committed.get(*name) != Some(text))
        .map(|(name, _)| name)
        .collect();
    let gone: Vec<&String> = committed
        .keys()
        .filter(|n| !found.contains_key(*n))
        .collect();
    assert!(
        changed.is_empty() && gone.is_empty(),
        "--help differs from docs/help/ for {changed:?}; commands no longer there: {gone:?}. \
         If the change is meant, run MEMSCAPE_BLESS_HELP=1 cargo test -p memscape-cli --test help \
         and commit docs/help/"
    );
}
