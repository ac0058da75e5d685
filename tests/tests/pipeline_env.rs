//! Default headers that come from the environment, for every transport:
//! `APIFY_WORKFLOW_KEY` → `X-Apify-Workflow-Key`, `APIFY_IS_AT_HOME` → `isAtHome/true`.
//!
//! In its own binary: it changes the process environment, which no other test must observe, and
//! does so before `main`, so before any transport (and its threads) exists.

use apify_host::pipeline::ApiRequest;
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use http::Method;
use testkit::TestServer;

/// Runs from `.init_array` (as with the `ctor` crate): before `main`, while the process has one
/// thread, so no transport can read the environment while it changes.
#[used]
#[link_section = ".init_array"]
static SET_ENV: extern "C" fn() = set_env;
extern "C" fn set_env() {
    std::env::set_var("APIFY_WORKFLOW_KEY", "workflow_key_123");
    std::env::set_var("APIFY_IS_AT_HOME", "1");
}

transport_tests! {
    #[tokio::test]
    workflow_key_and_at_home_come_from_the_environment,
}

async fn workflow_key_and_at_home_come_from_the_environment(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), Some("tok"));
    p.execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        r.header("x-apify-workflow-key"),
        Some("workflow_key_123"),
        "{}",
        t.name
    );
    let ua = r.header("user-agent").unwrap_or_default();
    assert_eq!(parse_user_agent(ua), Some(true), "{}: {ua}", t.name);
    assert_eq!(r.header("authorization"), Some("Bearer tok"), "{}", t.name);
}
