//! Default headers that come from the environment, for every transport:
//! `APIFY_WORKFLOW_KEY` → `X-Apify-Workflow-Key`, `APIFY_IS_AT_HOME` → `isAtHome/true`.
//!
//! One test in its own binary: it changes the process environment, which no other test must
//! observe, and does so before any transport (and its threads) exists.

use apify_host::ApiRequest;
use apify_tests::{all_transports, pipeline_support::*};
use http::Method;
use testkit::TestServer;

#[tokio::test]
async fn workflow_key_and_at_home_come_from_the_environment() {
    std::env::set_var("APIFY_WORKFLOW_KEY", "workflow_key_123");
    std::env::set_var("APIFY_IS_AT_HOME", "1");
    for t in all_transports() {
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
}
