//! Build script of each fixture variant's `apify-plugin-api`: derives `module.rs` from the real
//! `plugin-api/src/module.rs` by textual patches. A patch whose text is not found fails the
//! build, so a change of the real interface is noticed here instead of silently testing
//! something else.

use std::path::PathBuf;

fn patch(src: &mut String, from: &str, to: &str) {
    assert!(src.contains(from), "fixture patch: {from:?} not found in plugin-api/src/module.rs");
    *src = src.replacen(from, to, 1);
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let variant = manifest.parent().unwrap().file_name().unwrap().to_str().unwrap().to_string();
    let real = manifest.join("../../../../plugin-api/src/module.rs");
    println!("cargo:rerun-if-changed={}", real.display());
    let mut src = std::fs::read_to_string(&real).expect("read plugin-api/src/module.rs");
    // include!() cannot take inner doc comments.
    src = src.lines().filter(|l| !l.starts_with("//!")).collect::<Vec<_>>().join("\n");
    match variant.as_str() {
        "api-1.0" => {
            patch(&mut src, "pub const API_MINOR: u16 = 1;", "pub const API_MINOR: u16 = 0;");
            let start = src.find("    /// Added in 1.1:").expect("diagnostics field doc");
            let end_pat = "pub diagnostics: extern \"C\" fn() -> RString,\n";
            let end = src.find(end_pat).expect("diagnostics field") + end_pat.len();
            src.replace_range(start..end, "");
            patch(&mut src, "        diagnostics: crate::export::diagnostics::<T>,\n", "");
        }
        "api-1.2" => {
            patch(&mut src, "pub const API_MINOR: u16 = 1;", "pub const API_MINOR: u16 = 2;");
            patch(
                &mut src,
                "pub diagnostics: extern \"C\" fn() -> RString,\n",
                "pub diagnostics: extern \"C\" fn() -> RString,\n    /// Added in 1.2 (fixture).\n    pub added_in_1_2: extern \"C\" fn() -> u32,\n",
            );
            patch(
                &mut src,
                "        diagnostics: crate::export::diagnostics::<T>,\n",
                "        diagnostics: crate::export::diagnostics::<T>,\n        added_in_1_2: answer,\n",
            );
            src.push_str("\nextern \"C\" fn answer() -> u32 { 42 }\n");
        }
        "changed-layout" => {
            patch(&mut src, "    pub api_major: u16,", "    pub api_major: u32,");
            patch(&mut src, "        api_major: API_MAJOR,", "        api_major: API_MAJOR as u32,");
        }
        "api-2.0" => {
            patch(&mut src, "pub const API_MAJOR: u16 = 1;", "pub const API_MAJOR: u16 = 2;");
            patch(&mut src, "VersionStrings::new(\"1.0.0\")", "VersionStrings::new(\"2.0.0\")");
        }
        other => panic!("unknown fixture variant {other}"),
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("module.rs");
    std::fs::write(out, src).unwrap();
}
