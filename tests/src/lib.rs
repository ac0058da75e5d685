//! Shared helpers for the cross-transport suites in `tests/tests/`.
//!
//! Every suite runs the same test bodies against each transport from [`all_transports`].

#![warn(missing_docs)]
pub mod pipeline_support;

pub mod abi_fixtures;

use std::{path::PathBuf, sync::Arc};

use apify_host::{load_plugin, BuiltinTransport, HttpTransport, InProcess, PluginLoadOptions};
use apify_transport_reqwest::ReqwestTransport;

/// A transport under test, with a name for messages.
pub struct TransportUnderTest {
    /// `builtin`, `plugin:reqwest`, `custom:reqwest`.
    pub name: &'static str,
    /// The transport.
    pub transport: Arc<dyn HttpTransport>,
}

/// The directory holding the test binary's dependencies (`target/<profile>/deps`).
pub fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir
    } else {
        dir.join("deps")
    }
}

/// Path of a cdylib built in this workspace, e.g. `plugin_path("apify_transport_reqwest")`.
///
/// # Panics
/// If the library was not built; the message says how to build it.
pub fn plugin_path(lib_name: &str) -> PathBuf {
    let file = format!("lib{lib_name}.so");
    let deps = deps_dir();
    for candidate in [deps.join(&file), deps.parent().unwrap().join(&file)] {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{file} was not found in {} or its parent: build the workspace with `cargo test --workspace` \
         so cargo builds the plugin crates",
        deps.display()
    )
}

/// Loads the reqwest plugin through the real loader.
pub fn reqwest_plugin() -> Arc<dyn HttpTransport> {
    let loaded = load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &PluginLoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(
        loaded
            .new_client(&serde_json::json!({}))
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

/// Every transport the suites must pass with: the built-in one, the reqwest plugin loaded from
/// its `.so` through the real loader, and the same reqwest code linked in-process as a custom
/// transport.
///
/// A plugin author runs the same suites against their own plugin by naming it in
/// `APIFY_CONFORMANCE_PLUGIN=/path/to/libmy_transport.so` (options as JSON in
/// `APIFY_CONFORMANCE_PLUGIN_OPTIONS`); it is then added as `plugin:extra`.
pub fn all_transports() -> Vec<TransportUnderTest> {
    let mut all = vec![
        TransportUnderTest {
            name: "builtin",
            transport: Arc::new(BuiltinTransport::new().expect("builtin transport")),
        },
        TransportUnderTest {
            name: "plugin:reqwest",
            transport: reqwest_plugin(),
        },
        TransportUnderTest {
            name: "custom:reqwest",
            transport: Arc::new(
                InProcess::<ReqwestTransport>::from_options(serde_json::json!({}))
                    .expect("in-process reqwest"),
            ),
        },
    ];
    if let Some(path) = std::env::var_os("APIFY_CONFORMANCE_PLUGIN").filter(|p| !p.is_empty()) {
        let options = std::env::var("APIFY_CONFORMANCE_PLUGIN_OPTIONS")
            .ok()
            .map(|o| {
                serde_json::from_str(&o).expect("APIFY_CONFORMANCE_PLUGIN_OPTIONS is not JSON")
            })
            .unwrap_or_else(|| serde_json::json!({}));
        let loaded = load_plugin(std::path::Path::new(&path), &PluginLoadOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        all.push(TransportUnderTest {
            name: "plugin:extra",
            transport: Arc::new(
                loaded
                    .new_client(&options)
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
        });
    }
    all
}
