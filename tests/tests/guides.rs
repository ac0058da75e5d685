//! The guides (`docs/guides/*.md`) show complete code, and that code is compiled: every
//! ```` ```rust ```` block that starts with `// file: PATH` must be exactly the file at PATH
//! (relative to the repository root), which the workspace build or CI's external-plugin checks
//! compile. A guide that drifts from its file fails here, naming both.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `// file:` blocks of a guide: (path, code).
fn file_blocks(guide: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() != "```rust" {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        if let Some(path) = body.first().and_then(|l| l.strip_prefix("// file: ")) {
            blocks.push((path.trim().to_string(), body[1..].join("\n") + "\n"));
        }
    }
    blocks
}

#[test]
fn every_code_file_a_guide_shows_is_the_file_itself() {
    let dir = root().join("docs/guides");
    let mut shown = 0;
    for entry in std::fs::read_dir(&dir).expect("docs/guides exists") {
        let guide = entry.unwrap().path();
        if guide.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&guide).unwrap();
        for (path, code) in file_blocks(&text) {
            let file = std::fs::read_to_string(root().join(&path)).unwrap_or_else(|e| {
                panic!(
                    "{}: shows {path}, which cannot be read: {e}",
                    guide.display()
                )
            });
            assert!(
                code == file,
                "{} shows {path}, but the file differs: run scripts/sync-guides.py",
                guide.display()
            );
            shown += 1;
        }
    }
    assert!(shown >= 1, "no guide shows a file");
}
