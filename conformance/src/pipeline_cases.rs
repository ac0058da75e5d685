//! Cases that go through the whole client (`ApifyClient` → pipeline → the transport): the
//! retry and error-kind behaviour a user gets with this transport, which depends on the
//! transport reporting statuses and failures the way the contract says.

use std::{sync::Arc, time::Duration};

use apify_host::{pipeline::HttpSettings, transport::HttpTransport, ApifyClient};
use http::Method;
use testkit::{Action, TestServer};

use crate::support::{ensure, fail};
use crate::{CaseResult, Subject, Verdict};

const ME: &str = "/v2/users/me";

/// A client of `server` through `transport`, with quick retries.
fn client(
    transport: Arc<dyn HttpTransport>,
    server: &TestServer,
    settings: HttpSettings,
) -> Result<ApifyClient, Verdict> {
    ApifyClient::builder()
        .transport(transport)
        .api_url(server.url(""))
        .token("conformance-token")
        .settings(settings)
        .build()
        .map_err(|e| fail(format!("the client did not build: {e}")))
}

fn quick_retries(max_retries: u32) -> HttpSettings {
    HttpSettings::default()
        .max_retries(max_retries)
        .min_delay_between_retries(Duration::from_millis(10))
}

fn calls_to(server: &TestServer, path: &str) -> usize {
    server.requests().iter().filter(|r| r.path == path).count()
}

pub(crate) async fn retries_5xx(s: Subject) -> CaseResult {
    let server = TestServer::start().await;
    server.script(ME, vec![Action::status(500), Action::status(503)]);
    let client = client(s.transport, &server, quick_retries(3))?;
    let user = client.me().get().await;
    let calls = calls_to(&server, ME);
    ensure!(
        user.is_ok() && calls == 3,
        "500, 503, then 200 should succeed on the third attempt; got {} after {calls} requests",
        user.map(|_| "success".to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    Ok(())
}

pub(crate) async fn retries_reset(s: Subject) -> CaseResult {
    let server = TestServer::start().await;
    server.script(ME, vec![Action::ResetBeforeResponse]);
    let client = client(s.transport, &server, quick_retries(2))?;
    match client.me().get().await {
        Ok(_) => Ok(()),
        Err(e) => Err(fail(format!(
            "a reset before the response should be retried (an IO or CONNECT error), but the \
             call failed: {e}"
        ))),
    }
}

pub(crate) async fn no_retry_4xx(s: Subject) -> CaseResult {
    let server = TestServer::start().await;
    server.script(
        ME,
        vec![Action::json(
            400,
            serde_json::json!({"error": {"type": "invalid-input", "message": "bad input"}}),
        )],
    );
    let client = client(s.transport, &server, quick_retries(3))?;
    let result = client.me().get().await;
    let calls = calls_to(&server, ME);
    match result {
        Ok(_) => Err(fail("a 400 answer was reported as a success")),
        Err(e) => {
            ensure!(
                e.status() == Some(400) && calls == 1,
                "a 400 should fail at once with its status; got {e} after {calls} requests"
            );
            ensure!(
                e.to_string().contains("bad input"),
                "the API's error message did not reach the caller: {e}"
            );
            Ok(())
        }
    }
}

pub(crate) async fn timeout_kind(s: Subject) -> CaseResult {
    let server = TestServer::start().await;
    server.script(ME, vec![Action::Hang, Action::Hang]);
    let short = Duration::from_millis(200);
    let settings = quick_retries(1)
        .timeout_short(short)
        .timeout_medium(short)
        .timeout_long(short)
        .timeout_max(short * 2);
    let client = client(s.transport, &server, settings)?;
    let result = tokio::time::timeout(Duration::from_secs(20), client.me().get())
        .await
        .map_err(|_| fail("the call did not end within 20 s"))?;
    let calls = calls_to(&server, ME);
    match result {
        Ok(_) => Err(fail("a server that never answers gave a success")),
        Err(e) => {
            ensure!(
                e.is_timeout() && calls == 2,
                "a server that never answers should be a timeout error after 2 attempts; got \
                 {e} after {calls} requests"
            );
            Ok(())
        }
    }
}

/// Record keys and ids that stress path encoding: dots, slashes, spaces, reserved and
/// non-ASCII characters, percent signs. Dot segments (`.`, `..`, `%2e`...) among them are
/// refused before sending; every other one must reach the server byte-identically whatever
/// the transport (a URL parser once turned `records/..` into the store itself).
const ODD_KEYS: [&str; 16] = [
    "plain",
    "a..b",
    ".hidden",
    "...",
    "..a",
    "a/b",
    "a/../b",
    "a b",
    "q?x#y",
    "semi;colon",
    "é",
    "%",
    "%2e%2e%2f",
    ".",
    "..",
    "%2E",
];

/// The same calls through the library, with `transport`, against `server`.
async fn odd_workload(transport: Arc<dyn HttpTransport>, server: &TestServer) -> CaseResult {
    let client = client(transport, server, HttpSettings::default().max_retries(0))?;
    let kvs = client.key_value_store("me/store");
    for key in ODD_KEYS {
        // The test server answers 404 to all of these: only what it received matters here.
        let _ = kvs
            .set_record(key, serde_json::json!({"k": key}), None)
            .await;
        let _ = kvs.get_record(key).await;
        let _ = kvs.delete_record(key).await;
        let _ = client.request_queue("q").get_request(key).await;
        let _ = client.dataset(key).get().await;
        let _ = client
            .request(Method::GET, "/v2/key-value-stores/s/records")
            .key(key)
            .query("signature", key)
            .send()
            .await;
    }
    Ok(())
}

/// What the server logged of each request: its method, and its target's path and query as the
/// bytes it received (not percent-decoded). Whether the target came in origin form or absolute
/// form is left out on purpose: that is `origin-form`'s rule, so a transport that breaks it
/// fails that case alone, and this one tells only of the encoding of paths and queries.
fn wire(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.query))
        .collect()
}

pub(crate) async fn same_wire_as_builtin(s: Subject) -> CaseResult {
    let reference = TestServer::start().await;
    let builtin = apify_host::transport::BuiltinTransport::new()
        .map_err(|e| fail(format!("the built-in transport did not start: {e}")))?;
    odd_workload(Arc::new(builtin), &reference).await?;
    let server = TestServer::start().await;
    odd_workload(s.transport, &server).await?;

    let (expected, got) = (wire(&reference), wire(&server));
    if let Some((want, saw)) = expected.iter().zip(&got).find(|(a, b)| a != b) {
        return Err(fail(format!(
            "the server saw `{saw}` where the built-in transport sent `{want}` (method, path, \
             query): send the URL's path and query as the client encoded them, without \
             decoding, re-encoding or normalising them"
        )));
    }
    // Dot segments never left the client: 13 keys that may be sent, 6 calls each.
    ensure!(
        got.len() == 13 * 6 && expected.len() == got.len(),
        "the server saw {} requests, the built-in transport sent {}",
        got.len(),
        expected.len()
    );
    for line in [
        r#"PUT /v2/key-value-stores/me~store/records/a..b None"#,
        r#"DELETE /v2/key-value-stores/me~store/records/a%2F..%2Fb None"#,
        r#"GET /v2/request-queues/q/requests/..a None"#,
        r#"GET /v2/datasets/... None"#,
        r#"GET /v2/key-value-stores/s/records/q%3Fx%23y Some("signature=q%3Fx%23y")"#,
        r#"PUT /v2/key-value-stores/me~store/records/%25 None"#,
        r#"GET /v2/key-value-stores/me~store/records/%252e%252e%252f Some("attachment=true")"#,
    ] {
        ensure!(
            got.iter().any(|l| l == line),
            "the server never saw `{line}`"
        );
    }
    ensure!(
        got.iter()
            .all(|l| !l.contains("/.. ") && !l.contains("/. ")),
        "a dot segment reached the server: {got:?}"
    );
    Ok(())
}
