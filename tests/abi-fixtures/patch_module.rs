//! Build script of each fixture variant's `apify-plugin-api`: derives `module.rs` from the real
//! `plugin-api/src/module.rs` by textual patches. A patch whose text is not found fails the
//! build, so a change of the real interface is noticed here instead of silently testing
//! something else.

use std::path::PathBuf;

fn patch(src: &mut String, from: &str, to: &str) {
    assert!(src.contains(from), "fixture patch: {from:?} not found in plugin-api/src/module.rs");
    *src = src.replacen(from, to, 1);
}

/// Like `patch`, for every occurrence (the two root-module builders initialise the same fields).
fn patch_all(src: &mut String, from: &str, to: &str) {
    assert!(src.contains(from), "fixture patch: {from:?} not found in plugin-api/src/module.rs");
    *src = src.replace(from, to);
}

/// Removes the source from the line starting with `from` through the end of `to`.
fn remove_field(src: &mut String, from: &str, to: &str) {
    let start = src.find(from).unwrap_or_else(|| panic!("fixture patch: {from:?} not found"));
    let end = src[start..].find(to).unwrap_or_else(|| panic!("fixture patch: {to:?} not found"))
        + start
        + to.len();
    src.replace_range(start..end, "");
}

/// Takes out the 1.5 field `new_driven_client`, its initialisers and its import, and makes
/// `Capabilities::DRIVEN` empty (without a name): the glue adds it to every `export_plugin!(T)`
/// transport's metadata, but a plugin before 1.5 has no `new_driven_client` to back it. (The
/// glue's driven constructors stay compiled, unused.)
fn remove_1_5_fields(src: &mut String) {
    remove_field(src, "\n    /// Added in 1.5: like `new_streaming_client`", "RResult<DrivenClient, FfiError>,\n");
    patch(src, "        new_driven_client: crate::export::new_driven_client::<T, IN_PLACE>,\n", "");
    patch(src, "        new_driven_client: crate::export::no_driven_client,\n", "");
    patch(
        src,
        "use crate::ffi::{\n    DrivenClient, FfiError, HostLogBox, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox,\n};",
        "use crate::ffi::{FfiError, HostLogBox, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox};",
    );
    patch(
        src,
        "pub const DRIVEN: Capabilities = Capabilities(1 << 6);",
        "pub const DRIVEN: Capabilities = Capabilities(0);",
    );
    patch(src, "        (Self::DRIVEN, \"driven\"),\n", "");
    patch(src, "const NAMES: [(Capabilities, &'static str); 7]", "const NAMES: [(Capabilities, &'static str); 6]");
}

/// Takes out the 1.4 field `set_host_log` and its initialisers, after the 1.5 ones. (The glue
/// keeps installing its panic hook: a 1.3 plugin's layout is what this variant is about.)
fn remove_1_4_fields(src: &mut String) {
    remove_1_5_fields(src);
    remove_field(src, "\n    /// Added in 1.4: takes the host's log channel", "pub set_host_log: extern \"C\" fn(log: HostLogBox),\n");
    patch_all(src, "        set_host_log: crate::log::set_host_log,\n", "");
    patch(
        src,
        "use crate::ffi::{FfiError, HostLogBox, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox};",
        "use crate::ffi::{FfiError, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox};",
    );
}

/// Takes out the 1.3 field `new_hosted_client`, its initialiser, and the root module of hosted
/// transports (which needs it), after the 1.4 fields.
fn remove_1_3_fields(src: &mut String) {
    remove_1_4_fields(src);
    remove_field(src, "\n    /// Added in 1.3: like `new_streaming_client`", ") -> RResult<StreamingHttpClientBox, FfiError>,\n");
    patch(src, "        new_hosted_client: crate::export::no_hosted_client,\n", "");
    remove_field(src, "/// Builds the root module for hosted transport", ".leak_into_prefix()\n}\n");
    patch(
        src,
        "use crate::ffi::{FfiError, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox};",
        "use crate::ffi::{FfiError, HttpClientBox, StreamingHttpClientBox};",
    );
}

/// Takes out the 1.2 field `new_streaming_client` and its initialiser (after the 1.3 ones).
fn remove_1_2_fields(src: &mut String) {
    remove_1_3_fields(src);
    remove_field(src, "\n    /// Added in 1.2: like `new_client`", "RResult<StreamingHttpClientBox, FfiError>,\n");
    patch(src, "        new_streaming_client: crate::export::new_streaming_client::<T, IN_PLACE>,\n", "");
    patch(
        src,
        "use crate::ffi::{FfiError, HttpClientBox, StreamingHttpClientBox};",
        "use crate::ffi::{FfiError, HttpClientBox};",
    );
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
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 0;");
            remove_field(&mut src, "    /// Added in 1.1:", "pub diagnostics: extern \"C\" fn() -> RString,\n");
            remove_1_2_fields(&mut src);
            patch(&mut src, "        diagnostics: crate::export::diagnostics::<T>,\n", "");
        }
        "api-1.1" => {
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 1;");
            remove_1_2_fields(&mut src);
        }
        "api-1.2" => {
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 2;");
            remove_1_3_fields(&mut src);
        }
        "api-1.3" => {
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 3;");
            remove_1_4_fields(&mut src);
        }
        "api-1.4" => {
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 4;");
            remove_1_5_fields(&mut src);
        }
        "api-1.6" => {
            patch(&mut src, "pub const API_MINOR: u16 = 5;", "pub const API_MINOR: u16 = 6;");
            patch(
                &mut src,
                "    pub new_driven_client: extern \"C\" fn(options_json: RStr<'_>) -> RResult<DrivenClient, FfiError>,\n}",
                "    pub new_driven_client: extern \"C\" fn(options_json: RStr<'_>) -> RResult<DrivenClient, FfiError>,\n    /// Added in 1.6 (fixture).\n    pub added_in_1_6: extern \"C\" fn() -> u32,\n}",
            );
            patch(
                &mut src,
                "        new_driven_client: crate::export::new_driven_client::<T, IN_PLACE>,\n",
                "        new_driven_client: crate::export::new_driven_client::<T, IN_PLACE>,\n        added_in_1_6: answer,\n",
            );
            patch(
                &mut src,
                "        new_driven_client: crate::export::no_driven_client,\n",
                "        new_driven_client: crate::export::no_driven_client,\n        added_in_1_6: answer,\n",
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
