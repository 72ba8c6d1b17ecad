//! The layering stays as ARCHITECTURE.md draws it: no source file of any crate in the
//! workspace reaches, through the `crate::…` and `super::…` paths it names, a file that reaches
//! back to it. Vocabulary (options, records, errors) sits below the code that uses it; an import
//! circle means something was put in the wrong place.
//!
//! Paths are read as text, in `use` lines, code and doc links alike (a doc link ties two files
//! together as much as a `use` does), up to the file's first `#[cfg(test)]`. `crate::a::b::C`
//! names the file of the longest module prefix that exists (`a/b.rs`, `a/b/mod.rs`, or `a.rs`
//! holding `b` inline); `crate::C` alone names lib.rs and is not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The crates whose `src/` is checked.
const CRATES: &[&str] = &["sockeye-proto", "sockeye", "sockeye-cli", "sockeye-test"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, as a module path (`a/b.rs` and `a/b/mod.rs` → `["a", "b"]`,
/// `lib.rs` and `main.rs` → `[]`) with its file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("a readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut segments: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(
                segments.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                segments.pop();
            }
            found.insert(segments, path);
        }
    }
    found
}

/// The `crate::…`/`super::…` paths in `text`, each as its segments after the keyword, with
/// `use crate::a::{b, c::d}` groups expanded (one level of braces).
fn paths(text: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for keyword in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(keyword) {
            let start = from + at;
            from = start + keyword.len();
            // A whole word: not `my_crate::`.
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let is_super = keyword == "super::";
            let mut segments = Vec::new();
            let mut rest = &text[from..];
            // `super::super::x`
            while is_super && rest.starts_with("super::") {
                segments.push("super".to_string());
                rest = &rest["super::".len()..];
            }
            loop {
                if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let item: Vec<String> = item
                            .trim()
                            .split("::")
                            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                            .filter(|s| !s.is_empty() && s != "self")
                            .collect();
                        let mut full = segments.clone();
                        full.extend(item);
                        out.push((is_super, full));
                    }
                    break;
                }
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    break;
                }
                segments.push(rest[..len].to_string());
                rest = &rest[len..];
                if !rest.starts_with("::") {
                    break;
                }
                rest = &rest[2..];
            }
            out.push((is_super, segments));
        }
    }
    out
}

/// The file that `segments` (absolute module path) lands in: its longest prefix that is a file.
fn target(modules: &BTreeMap<Vec<String>, PathBuf>, segments: &[String]) -> Option<Vec<String>> {
    (1..=segments.len())
        .rev()
        .map(|len| segments[..len].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

/// Strongly connected groups of more than one file (Tarjan's algorithm).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a Vec<String>) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in state.graph.get(node).into_iter().flatten() {
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[next].min(state.low[node]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.index[next].min(state.low[node]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut group = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                group.push(member.clone());
                if member == node {
                    break;
                }
            }
            if group.len() > 1 {
                state.found.push(group);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// Which files each file of `src` reaches.
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).expect("a readable source file");
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut edges = BTreeSet::new();
        for (is_super, segments) in paths(text) {
            let absolute = if is_super {
                // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` (module `a::b`) also `a`.
                let mut base = module.clone();
                base.pop();
                let mut segments = segments.as_slice();
                while segments.first().is_some_and(|s| s == "super") {
                    base.pop();
                    segments = &segments[1..];
                }
                base.extend(segments.iter().cloned());
                base
            } else {
                segments
            };
            if absolute.is_empty() {
                continue;
            }
            if let Some(to) = target(&modules, &absolute) {
                if &to != module && !to.is_empty() {
                    edges.insert(to);
                }
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

fn show(module: &[String]) -> String {
    if module.is_empty() {
        "lib.rs".into()
    } else {
        format!("{}.rs", module.join("/"))
    }
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut report = Vec::new();
    for name in CRATES {
        let src = workspace().join("crates").join(name).join("src");
        let graph = graph(&src);
        assert!(graph.len() > 3, "{name}: found only {} files", graph.len());
        for circle in circles(&graph) {
            let files: BTreeSet<&Vec<String>> = circle.iter().collect();
            let mut lines = vec![format!(
                "circle of {} files in crates/{name}/src:",
                circle.len()
            )];
            for file in &files {
                let into: Vec<String> = graph[*file]
                    .iter()
                    .filter(|to| files.contains(to))
                    .map(|to| show(to))
                    .collect();
                lines.push(format!("  {} -> {}", show(file), into.join(", ")));
            }
            report.push(lines.join("\n"));
        }
    }
    assert!(
        report.is_empty(),
        "vocabulary must sit below the code that uses it:\n{}",
        report.join("\n")
    );
}

/// The checker sees a circle when there is one: `a` names `c` in a `use` group, `c` names `b`
/// through `super::`, and `b` names `a` in a doc link.
#[test]
fn the_checker_finds_a_planted_circle() {
    let dir = std::env::temp_dir().join(format!("sockeye-layering-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("a")).expect("a temporary folder");
    fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("write");
    fs::write(src.join("a/mod.rs"), "use crate::{b::Thing, c};\n").expect("write");
    fs::write(
        src.join("b.rs"),
        "/// See [`A`](crate::a::A).\npub struct Thing;\n",
    )
    .expect("write");
    fs::write(src.join("c.rs"), "use super::b::Thing;\n").expect("write");
    let graph = graph(&src);
    let found = circles(&graph);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 1, "{graph:?}");
    let mut files: Vec<String> = found[0].iter().map(|m| show(m)).collect();
    files.sort();
    assert_eq!(files, ["a.rs", "b.rs", "c.rs"]);
}
