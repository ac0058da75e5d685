//! What a plugin writes besides its answers (plugin interface 1.4), through the real loader and
//! real `.so` files: its log messages and the panics of its own threads become `tracing` events
//! of the host, bounded per plugin; the panics of its calls come back as their errors, with
//! their location, and are printed nowhere; and in a host before 1.4, which hands it no log
//! channel, the same plugin falls back to standard error.
//!
//! What reaches standard error is read from a child process (this test binary, run again with
//! [`CHILD`] naming the scenario).

use std::{
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use abi_stable::std_types::{RResult, RStr};
use apify_host::transport::plugin::{load_plugin, PluginLoadOptions};
use apify_plugin_api::abi::{history, log::RateLimit};
use apify_tests::{pipeline_support::LogCapture, plugin_path};

/// Set in a child process: the scenario it runs.
const CHILD: &str = "APIFY_TESTS_PLUGIN_LOG_CHILD";

/// Runs `test` of this binary again in a child process, as `scenario`.
fn child(test: &str, scenario: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, scenario)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a host of interface 1.3 does: check the root module against the 1.3 layout (it knows
/// no other), and build a client with `new_streaming_client`, never handing a log channel.
fn build_as_a_1_3_host(path: &Path, options: &str) -> Result<(), String> {
    let header = abi_stable::library::lib_header_from_path(path).map_err(|e| e.to_string())?;
    let module = header
        .init_root_module::<history::v1_3::PluginModRef>()
        .map_err(|e| format!("a 1.3 host refuses it: {e}"))?;
    let new = module
        .new_streaming_client()
        .expect("a plugin of 1.2 or later has new_streaming_client");
    match new(RStr::from_str(options)) {
        RResult::ROk(client) => {
            client.close();
            Ok(())
        }
        RResult::RErr(e) => Err(e.message.into_string()),
    }
}

#[test]
fn a_1_4_plugin_in_a_1_3_host_falls_back_to_standard_error() {
    if std::env::var(CHILD).as_deref() == Ok("old-host") {
        let reqwest = plugin_path("apify_transport_reqwest");
        build_as_a_1_3_host(&reqwest, r#"{"http2_prior_knowledge": true}"#).unwrap();
        let faulty = plugin_path("fixture_faulty_plugin");
        build_as_a_1_3_host(&faulty, r#"{"panic_on_thread": "own thread, old host"}"#).unwrap();
        let e = build_as_a_1_3_host(&faulty, r#"{"fail": "panic"}"#).unwrap_err();
        println!("constructor: {e}");
        return;
    }
    let out = child(
        "a_1_4_plugin_in_a_1_3_host_falls_back_to_standard_error",
        "old-host",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The deprecation warning: once, in the format plugins printed before 1.4.
    assert!(
        stderr.contains(
            "warning: the reqwest transport: option `http2_prior_knowledge` is deprecated: \
             write `http2 = true`"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("deprecated").count(), 1, "once: {stderr}");
    // A panic of the plugin's own thread: the previous (default) hook prints it, as before.
    assert!(
        stderr.contains("panicked at tests/fixtures/faulty-plugin/src/lib.rs:"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("own thread, old host").count(),
        1,
        "{stderr}"
    );
    // A panic inside a call (the constructor): the error has it, with its location, and
    // nothing printed it.
    assert!(
        stdout.contains(
            "constructor: the plugin panicked during client construction: option `fail` asked \
             the constructor to panic (at tests/fixtures/faulty-plugin/src/lib.rs:"
        ),
        "{stdout}"
    );
    assert!(
        !stderr.contains("asked the constructor to panic"),
        "{stderr}"
    );
}

#[test]
fn a_panic_on_a_plugin_s_own_thread_is_one_error_event_of_the_host_and_nothing_on_stderr() {
    if std::env::var(CHILD).as_deref() == Ok("new-host") {
        let capture = LogCapture::global();
        let faulty = load_plugin(
            &plugin_path("fixture_faulty_plugin"),
            &PluginLoadOptions::default(),
        )
        .unwrap();
        faulty
            .new_client(&serde_json::json!({"panic_on_thread": "own thread, 1.4 host"}))
            .unwrap();
        let e = faulty
            .new_client(&serde_json::json!({"fail": "panic"}))
            .err()
            .expect("the constructor panics");
        println!("constructor: {}", e.reason);
        println!("---- log ----\n{}", capture.text());
        return;
    }
    let out = child(
        "a_panic_on_a_plugin_s_own_thread_is_one_error_event_of_the_host_and_nothing_on_stderr",
        "new-host",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let (_, log) = stdout.split_once("---- log ----").expect("the child's log");
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("own thread, 1.4 host"))
        .collect();
    assert_eq!(events.len(), 1, "{log}");
    assert!(
        events[0].contains(
            " ERROR apify_host::plugin: a thread of the plugin panicked: own thread, 1.4 host \
             (at tests/fixtures/faulty-plugin/src/lib.rs:"
        ),
        "{log}"
    );
    assert!(events[0].contains(r#"plugin="faulty""#), "{log}");
    assert!(
        stdout.contains(
            "asked the constructor to panic (at tests/fixtures/faulty-plugin/src/lib.rs:"
        ),
        "{stdout}"
    );
    // Neither panic was printed: the plugin's hook logged the one and recorded the other.
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!log.contains("asked the constructor to panic"), "{log}");
}

#[test]
fn a_plugin_that_logs_in_a_loop_is_cut_to_the_host_s_rate_and_told_how_much_was_dropped() {
    let capture = LogCapture::global();
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    faulty
        .new_client(&serde_json::json!({"log_flood": 10_000}))
        .unwrap();
    let shown = capture.text().matches("flood line ").count();
    let burst = RateLimit::BURST as usize;
    // The burst, and what refilled while the loop ran (10 a second).
    assert!((burst..burst + 20).contains(&shown), "{shown} shown");
    // After a pause, the next message passes, and says how many were dropped before it.
    std::thread::sleep(Duration::from_millis(
        1000 / RateLimit::PER_SECOND as u64 + 100,
    ));
    faulty
        .new_client(&serde_json::json!({"log_flood": 1}))
        .unwrap();
    let log = capture.text();
    assert!(log.contains("flood line 0 of 1"), "{log}");
    let notice = log
        .lines()
        .find(|l| l.contains("of them were dropped"))
        .unwrap_or_else(|| panic!("no notice of the drops: {log}"));
    assert!(notice.contains(r#"plugin="faulty""#), "{notice}");
    assert!(notice.contains(" WARN apify_host::plugin: "), "{notice}");
}
