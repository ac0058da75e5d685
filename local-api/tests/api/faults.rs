//! Fault injection (Rust API and control API) and the request log.

use std::time::{Duration, Instant};

use apify_local_api::{Fault, FaultRule, LocalApiConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{expect_error, header, Ctx};

#[tokio::test]
async fn status_sequence_then_normal() {
    let t = Ctx::start().await;
    t.api.push_faults(FaultRule::matching(
        Some("GET"),
        "/v2/datasets",
        [
            Fault::status(503),
            Fault::rate_limited("1"),
            Fault::status(500),
        ],
    ));
    // Other methods and paths are not affected.
    assert_eq!(
        t.http
            .post(t.url("/v2/datasets"))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(t.get("/v2/users/me").await.status(), 200);

    expect_error(t.get("/v2/datasets").await, 503, "internal-server-error").await;
    let r = t.get("/v2/datasets").await;
    assert_eq!(header(&r, "retry-after"), "1");
    expect_error(r, 429, "rate-limit-exceeded").await;
    expect_error(
        t.get("/v2/datasets?x=1").await,
        500,
        "internal-server-error",
    )
    .await;
    assert_eq!(t.get("/v2/datasets").await.status(), 200);
    assert!(t.api.pending_faults().is_empty());

    let log = t.api.request_log();
    let statuses: Vec<Option<u16>> = log.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            Some(201),
            Some(200),
            Some(503),
            Some(429),
            Some(500),
            Some(200)
        ]
    );
    assert_eq!(log[2].fault, Some(Fault::status(503)));
    assert_eq!(log[4].query.as_deref(), Some("x=1"));
    t.api.clear_request_log();
    assert!(t.api.request_log().is_empty());
}

#[tokio::test]
async fn reset_is_a_connection_error() {
    let t = Ctx::start().await;
    t.api
        .push_faults(FaultRule::any([Fault::reset(), Fault::reset()]));
    let err = t.get_err("/v2/users/me").await;
    assert!(err.is_request() || err.is_connect(), "{err:?}");

    // On the wire it is a real RST: the read fails with ECONNRESET, not a clean EOF.
    let mut stream = tokio::net::TcpStream::connect(t.api.addr()).await.unwrap();
    stream
        .write_all(b"GET /v2/users/me HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let err = stream.read(&mut buf).await.expect_err("reset, not EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    // The next request is served normally; the log has no status for the resets.
    assert_eq!(t.get("/v2/users/me").await.status(), 200);
    let statuses: Vec<Option<u16>> = t.api.request_log().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [None, None, Some(200)]);
}

#[tokio::test]
async fn delay_and_slow_body() {
    let t = Ctx::start().await;
    t.api.push_faults(FaultRule::matching(
        None,
        "/v2/users/me",
        [Fault::delay_ms(300), Fault::slow_body(100, 50)],
    ));
    let start = Instant::now();
    assert_eq!(t.get("/v2/users/me").await.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    let start = Instant::now();
    let r = t.get("/v2/users/me").await;
    let body = r.bytes().await.unwrap();
    // More than 100 bytes, so at least one pause.
    assert!(body.len() > 300);
    assert!(start.elapsed() >= Duration::from_millis(50 * (body.len() as u64 / 100)));
    serde_json::from_slice::<Value>(&body).expect("the paced body is complete");
}

#[tokio::test]
async fn truncated_body() {
    let t = Ctx::start().await;
    let id = t.create("key-value-stores", "trunc").await;
    let url = t.url(&format!("/v2/key-value-stores/{id}/records/r"));
    t.http
        .put(&url)
        .body(vec![b'x'; 10_000])
        .send()
        .await
        .unwrap();
    t.api.push_faults(FaultRule::matching(
        Some("GET"),
        "/v2/key-value-stores",
        [
            Fault::truncate_after_bytes(100),
            Fault::truncate_after_bytes(100),
        ],
    ));

    let r = t.http.get(&url).send().await.unwrap();
    assert_eq!(header(&r, "content-length"), "10000");
    assert!(r.bytes().await.is_err(), "client sees the body cut short");

    // On the wire: full headers, at most 100 body bytes, then the connection ends.
    let mut stream = tokio::net::TcpStream::connect(t.api.addr()).await.unwrap();
    let path = url.trim_start_matches(&t.api.base_url()).to_owned();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers sent");
    assert!(head.contains("content-length: 10000"), "{head}");
    assert!(body.len() <= 100, "{} body bytes", body.len());
}

#[tokio::test]
async fn control_api_over_http() {
    let t = Ctx::start_with(LocalApiConfig::with_token("s3cret")).await;
    let rule = json!({
        "method": "GET",
        "path_prefix": "/v2/datasets",
        "faults": [{"status": 503}, {"status": 429, "retry_after": "2"}, {"delay_ms": 10}]
    });
    // The control API needs no token.
    let r = t
        .http
        .post(t.url("/_control/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let pending: Vec<Value> = t.get("/_control/faults").await.json().await.unwrap();
    assert_eq!(pending[0]["faults"].as_array().unwrap().len(), 3);
    let bad = t
        .http
        .post(t.url("/_control/faults"))
        .json(&json!({"faults": [{"stauts": 1}]}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "invalid-value").await;

    let auth = |rb: reqwest::RequestBuilder| rb.bearer_auth("s3cret");
    assert_eq!(
        auth(t.http.get(t.url("/v2/datasets")))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let r = auth(t.http.get(t.url("/v2/datasets")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "2");
    assert_eq!(
        t.http
            .delete(t.url("/_control/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        auth(t.http.get(t.url("/v2/datasets?limit=5")))
            .header("x-apify-workflow-key", "wf")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let log: Vec<Value> = t.get("/_control/requests").await.json().await.unwrap();
    assert_eq!(log.len(), 3, "control calls are not logged: {log:?}");
    let last = &log[2];
    assert_eq!(last["method"], "GET");
    assert_eq!(last["path"], "/v2/datasets");
    assert_eq!(last["query"], "limit=5");
    assert_eq!(last["status"], 200);
    assert_eq!(last["headers"]["authorization"], "Bearer s3cret");
    assert_eq!(last["headers"]["x-apify-workflow-key"], "wf");
    assert_eq!(
        t.http
            .delete(t.url("/_control/requests"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let log: Vec<Value> = t.get("/_control/requests").await.json().await.unwrap();
    assert!(log.is_empty());

    assert_eq!(
        t.http
            .post(t.url("/_control/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(t.get("/_control/health").await.text().await.unwrap(), "ok");
}

impl Ctx {
    async fn get_err(&self, path: &str) -> reqwest::Error {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect_err("the request fails")
    }
}
