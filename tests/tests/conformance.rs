//! The transport conformance suite (crate `apify-conformance`, the same cases `apify-host
//! transport check` runs) against every transport: built-in, the reqwest and hyper plugins
//! loaded from their `.so`, reqwest linked in-process as a custom transport, and the plugin
//! named in `APIFY_CONFORMANCE_PLUGIN`. One test per (case, transport), named after both.

use apify_conformance::{Subject, Verdict};
use apify_plugin_api::Capabilities;
use apify_tests::{transport_tests, TransportUnderTest};

/// Runs the suite's case `name` (its function name, with `_` for `-`) on `t`.
async fn check(name: &str, t: TransportUnderTest) {
    let name = name.replace('_', "-");
    let case = apify_conformance::case(&name).unwrap_or_else(|| panic!("no case {name}"));
    // Every transport of ours claims TLS and timeouts; a plugin author's claims are checked
    // by `apify-host transport check`, which reads them from the plugin.
    let subject = Subject::new(
        t.transport,
        Capabilities::STREAMING | Capabilities::TLS | Capabilities::TIMEOUTS,
    );
    match case.run(subject).await {
        Ok(()) => {}
        Err(Verdict::Skip(why)) => println!("skipped: {why}"),
        Err(Verdict::Fail(why)) => panic!("{}: {name}: {why} (rule: {})", t.name, case.rule),
    }
}

macro_rules! suite {
    ($($case:ident),+ $(,)?) => {
        $(async fn $case(t: TransportUnderTest) { check(stringify!($case), t).await })+
        transport_tests! { #[tokio::test(flavor = "multi_thread", worker_threads = 2)] $($case),+ }
        /// The cases listed here, to hold them to the suite's own list.
        const LISTED: &[&str] = &[$(stringify!($case)),+];
    };
}

suite! {
    methods_and_bodies,
    headers_and_query,
    empty_body,
    streamed_upload,
    statuses_are_responses,
    no_redirects,
    no_added_headers,
    no_decompression,
    connect_error,
    timeout_error,
    io_error,
    truncated_body_is_an_error,
    interim_responses,
    large_streamed_body,
    tls_error,
    drop_closes_connection,
    host_header,
    origin_form,
    https_success,
    keep_alive_reuse,
    stale_keep_alive,
    concurrency,
    bodiless_responses,
    ipv6,
    pipeline_retries_5xx,
    pipeline_retries_reset,
    pipeline_no_retry_4xx,
    pipeline_timeout,
    same_wire_as_builtin,
}

#[test]
fn every_case_of_the_suite_runs_here() {
    let suite: Vec<String> = apify_conformance::cases()
        .iter()
        .map(|c| c.name.replace('-', "_"))
        .collect();
    assert_eq!(
        suite, LISTED,
        "list every case of apify-conformance in suite! above"
    );
}
