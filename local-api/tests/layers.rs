//! Guards the layering of `local-api/src` (see the crate docs and README "Layout"):
//!
//! - the module graph (one node a file, one edge per `crate::…` / `super::…` path, and per
//!   child module named in a `mod.rs`) has no cycle;
//! - a file imports only from its own layer or a lower one;
//! - an api file never imports another api file (only `api/mod.rs` knows them all).
//!
//! It reads the sources as text: `use` lines and paths in code, not comments, and not the
//! `#[cfg(test)]` module at the end of a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a module, by its first path segment; higher layers may import lower ones.
fn layer(module: &str) -> Option<u8> {
    let first = module.split("::").next().unwrap_or_default();
    Some(match first {
        "error" | "util" | "identity" | "params" | "json" | "process" | "signing"
        | "request_log" => 0,
        "config" => 1,
        "db" => 2,
        "state" => 3,
        "engine" => 4,
        "web" => 5,
        "api" => 6,
        "server" | "shutdown" => 7,
        _ => return None,
    })
}

const LAYER_NAMES: [&str; 8] = [
    "L0 leaves",
    "L1 config",
    "L2 db",
    "L3 state",
    "L4 engine",
    "L5 web",
    "L6 api",
    "L7 server",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/db/runs.rs` → `db::runs`, `src/db/mod.rs` → `db`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the path that starts at `s` (just after `prefix::`) into full paths, following
/// `{a, b::c, d::{e, f}}` groups.
fn expand(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut rest = s;
    loop {
        let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                // Split the group at its top-level commas.
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            expand(&path, group[start..i].trim_start(), out);
                            return;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            expand(&path, group[start..i].trim_start(), out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            break;
        }
        rest = &rest[ident.len()..];
        if ident != "self" {
            path.push(ident);
        }
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(path);
}

/// Every path of the code that starts with `anchor::` (not as part of a longer path).
fn paths_after(code: &str, anchor: &str, base: &[String], out: &mut Vec<Vec<String>>) {
    let needle = format!("{anchor}::");
    let mut from = 0;
    while let Some(at) = code[from..].find(&needle) {
        let start = from + at;
        from = start + needle.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        expand(base, &code[from..], out);
    }
}

/// The longest known module that `path` starts with.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// References to the crate root (re-exports), which no layer may use.
    root_refs: Vec<(String, String)>,
}

fn build_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let files: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| (module_of(&src, &f), f))
        .filter(|(m, _)| m != "lib" && m != "main")
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut root_refs = Vec::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        let code = code_of(&text);
        let segments: Vec<String> = module.split("::").map(str::to_owned).collect();
        let is_mod_rs = file.ends_with("mod.rs");
        let mut paths = Vec::new();
        paths_after(&code, "crate", &[], &mut paths);
        // `super` is the parent of this file's module.
        paths_after(&code, "super", &segments[..segments.len() - 1], &mut paths);
        paths_after(&code, "self", &segments, &mut paths);
        if is_mod_rs {
            // A `mod.rs` names its children without a prefix (`supervisor::start_process`).
            for child in modules.iter().filter_map(|m| {
                m.strip_prefix(&format!("{module}::"))
                    .filter(|rest| !rest.contains("::"))
            }) {
                paths_after(&code, child, &segments, &mut paths);
            }
        }
        let targets = edges.entry(module.clone()).or_default();
        for path in paths {
            match resolve(&path, &modules) {
                Some(target) if &target != module => {
                    targets.insert(target);
                }
                Some(_) => {}
                None => root_refs.push((module.clone(), path.join("::"))),
            }
        }
    }
    Graph { edges, root_refs }
}

/// A cycle of the graph, if there is one, as the list of its modules (first = last).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|m| m == next).expect("on stack");
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node) {
            if let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = build_graph();
    assert!(
        graph.edges.len() > 30 && graph.edges.values().map(BTreeSet::len).sum::<usize>() > 60,
        "the guard read too little of local-api/src: {:?}",
        graph.edges
    );
    if let Some(cycle) = find_cycle(&graph.edges) {
        panic!(
            "local-api/src imports in a circle: {}\nMove the shared code down a layer (see README \"Layout\").",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn each_file_imports_only_its_layer_or_lower() {
    let graph = build_graph();
    let mut problems = Vec::new();
    for (from, targets) in &graph.edges {
        let Some(from_layer) = layer(from) else {
            problems.push(format!(
                "{from}: not in any layer (add it to `layer` in tests/layers.rs)"
            ));
            continue;
        };
        for to in targets {
            let Some(to_layer) = layer(to) else {
                problems.push(format!("{from} -> {to}: {to} is not in any layer"));
                continue;
            };
            if to_layer > from_layer {
                problems.push(format!(
                    "{from} ({}) imports {to} ({}), a higher layer",
                    LAYER_NAMES[from_layer as usize], LAYER_NAMES[to_layer as usize]
                ));
            }
            let api_file = from.starts_with("api::");
            if api_file && (to == "api" || to.starts_with("api::")) {
                problems.push(format!(
                    "{from} imports {to}: api files never import each other; move the shared code to web/, engine/ or state.rs"
                ));
            }
        }
    }
    for (from, path) in &graph.root_refs {
        problems.push(format!(
            "{from} uses crate::{path}: import it from its own module, not the crate root"
        ));
    }
    assert!(
        problems.is_empty(),
        "local-api/src breaks its layering:\n  {}",
        problems.join("\n  ")
    );
}
