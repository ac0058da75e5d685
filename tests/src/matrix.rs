//! One test per (case, transport): [`transport_tests!`](crate::transport_tests) turns each
//! `async fn case(t: TransportUnderTest)` into tests `case::builtin`, `case::plugin_reqwest` (the
//! reqwest plugin loaded from its `.so`, its runtime driven by the test's threads),
//! `case::plugin_reqwest_threads` (the same on runtime threads of its own, as with
//! `[transport] hosted = false`), `case::plugin_hyper` (the hyper plugin, which runs on
//! the test's own runtime through the services the host lends it), `case::custom_reqwest` (the
//! reqwest code linked in-process), `case::isolated_reqwest` and `case::isolated_hyper` (the
//! same plugins served by a confined `apify-transport-worker` process) and `case::plugin_extra`, so a failure names its transport
//! and hides no other's result.
//!
//! `plugin_extra` runs the suites against a plugin author's own plugin, loaded as `plugin:extra`
//! from `APIFY_CONFORMANCE_PLUGIN=/path/to/libmy_transport.so` (options as JSON in
//! `APIFY_CONFORMANCE_PLUGIN_OPTIONS`); without the variable it prints that it is skipped.

use std::{future::Future, path::Path, sync::Arc};

use apify_host::{
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{BuiltinTransport, HttpTransport, InProcess},
};
use apify_transport_reqwest::ReqwestTransport;
use serde_json::json;

use crate::{hyper_plugin, reqwest_plugin, TransportUnderTest};

/// Generates the per-transport tests of the listed cases: groups of a test attribute, then names
/// of `async fn case(t: TransportUnderTest)` in the calling module (an unlisted case is dead code).
///
/// ```
/// # use apify_tests::{transport_tests, TransportUnderTest};
/// transport_tests! {
///     #[tokio::test] a_case,
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_concurrent_case,
/// }
/// async fn a_case(t: TransportUnderTest) { /* t.name, t.transport */ }
/// # async fn a_concurrent_case(_: TransportUnderTest) {}
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! transport_tests {
    (@each #[$test:meta] $case:ident: $($transport:ident)+) => {$(
        #[$test]
        async fn $transport() {
            $crate::matrix::run(stringify!($transport), super::$case).await
        }
    )+};
    ($(#[$test:meta] $($case:ident),+ $(,)?)+) => {$($(
        mod $case {
            $crate::transport_tests!(
                @each #[$test] $case: builtin plugin_reqwest plugin_reqwest_threads plugin_hyper custom_reqwest isolated_reqwest isolated_hyper plugin_extra
            );
        }
    )+)+};
}

/// The transport a generated test is named after; `None` for `plugin_extra` when
/// `APIFY_CONFORMANCE_PLUGIN` is not set.
pub fn transport(test_name: &str) -> Option<TransportUnderTest> {
    let (name, transport): (_, Arc<dyn HttpTransport>) = match test_name {
        "builtin" => (
            "builtin",
            Arc::new(BuiltinTransport::new().expect("builtin transport")),
        ),
        "plugin_reqwest" => ("plugin:reqwest", reqwest_plugin()),
        "plugin_reqwest_threads" => (
            // No space: test servers route on paths made from the name.
            "plugin:reqwest-threads",
            Arc::new(
                load_plugin(
                    &crate::plugin_path("apify_transport_reqwest"),
                    &PluginLoadOptions::default(),
                )
                .and_then(|p| p.new_client_on_own_runtime(&json!({})))
                .unwrap_or_else(|e| panic!("{e}")),
            ),
        ),
        "plugin_hyper" => ("plugin:hyper", hyper_plugin()),
        "custom_reqwest" => (
            "custom:reqwest",
            Arc::new(
                InProcess::<ReqwestTransport>::from_options(json!({})).expect("in-process reqwest"),
            ),
        ),
        "isolated_reqwest" => ("isolated:reqwest", isolated("apify_transport_reqwest")),
        "isolated_hyper" => ("isolated:hyper", isolated("apify_transport_hyper")),
        "plugin_extra" => ("plugin:extra", extra_plugin()?),
        other => panic!("no transport is named {other}"),
    };
    Some(TransportUnderTest { name, transport })
}

/// A workspace plugin served by a confined worker process (`isolation = "process"`).
fn isolated(lib_name: &str) -> Arc<dyn HttpTransport> {
    let t = apify_host::transport::IsolatedTransport::start(
        &crate::plugin_path(lib_name),
        &PluginLoadOptions::default().isolation(apify_host::transport::Isolation::Process),
        &json!({}),
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(t)
}

fn extra_plugin() -> Option<Arc<dyn HttpTransport>> {
    let path = std::env::var_os("APIFY_CONFORMANCE_PLUGIN").filter(|p| !p.is_empty())?;
    let options = std::env::var("APIFY_CONFORMANCE_PLUGIN_OPTIONS")
        .map(|o| serde_json::from_str(&o).expect("APIFY_CONFORMANCE_PLUGIN_OPTIONS is not JSON"))
        .unwrap_or_else(|_| json!({}));
    let loaded = load_plugin(Path::new(&path), &PluginLoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let client = loaded
        .new_client(&options)
        .unwrap_or_else(|e| panic!("{e}"));
    Some(Arc::new(client))
}

/// Runs `case` against the transport `test_name` names, or prints why it is skipped.
pub async fn run<F: Future<Output = ()>>(
    test_name: &str,
    case: impl FnOnce(TransportUnderTest) -> F,
) {
    match transport(test_name) {
        Some(t) => case(t).await,
        None => println!(
            "skipped: APIFY_CONFORMANCE_PLUGIN is not set (set it to /path/to/libmy_transport.so \
             to run this case against that plugin)"
        ),
    }
}
