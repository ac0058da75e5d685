//! The transport conformance suite: the same test bodies run against every transport (built-in,
//! the reqwest plugin loaded from its `.so`, reqwest linked in-process as a custom transport, and
//! the plugin named in `APIFY_CONFORMANCE_PLUGIN`), one test each, talking to a loopback server.

use std::time::Duration;

use apify_host::{
    HttpTransport, TransportErrorKind as ErrorKind, TransportRequest as Request,
    TransportResponse as Response,
};
use apify_tests::{transport_tests, TransportUnderTest};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};
use testkit::{Action, TestServer};

fn request(method: Method, url: String) -> Request {
    Request {
        method,
        url,
        headers: HeaderMap::new(),
        body: Bytes::new().into(),
        timeout: Some(Duration::from_secs(30)),
        stream: false,
    }
}

async fn read_all(resp: Response) -> Result<Vec<u8>, apify_host::TransportError> {
    let mut body = resp.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn echo(t: &dyn HttpTransport, req: Request) -> (u16, HeaderMap, serde_json::Value) {
    let resp = t.call(req).await.expect("echo call");
    let status = resp.status.as_u16();
    let headers = resp.headers.clone();
    let body = read_all(resp).await.expect("echo body");
    (
        status,
        headers,
        serde_json::from_slice(&body).expect("echo JSON"),
    )
}

fn header<'a>(echoed: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echoed["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str() == Some(name))
        .and_then(|h| h[1].as_str())
}

transport_tests! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    methods_with_json_and_binary_bodies,
    request_and_response_headers_and_query,
    error_statuses_are_responses_not_errors,
    connection_refused_is_a_connect_error,
    slow_headers_are_a_timeout_error,
    reset_mid_body_is_an_io_error,
    a_200_mb_body_streams_with_matching_sha256,
    a_tls_handshake_failure_is_a_tls_error,
    the_server_sees_byte_identical_requests_from_every_transport,
}

async fn methods_with_json_and_binary_bodies(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let mut req = request(method.clone(), server.url("/echo"));
        let (body, ctype): (Bytes, &str) = if method == Method::GET {
            (Bytes::new(), "application/json")
        } else if method == Method::PUT {
            (
                (0..=255u8).cycle().take(5000).collect::<Vec<_>>().into(),
                "application/octet-stream",
            )
        } else {
            (
                Bytes::from_static(br#"{"hello":"world","n":[1,2,3]}"#),
                "application/json",
            )
        };
        req.headers
            .insert("content-type", HeaderValue::from_static(ctype));
        req.body = body.clone().into();
        let (status, _, e) = echo(t, req).await;
        assert_eq!(status, 200);
        assert_eq!(e["method"], method.as_str());
        assert_eq!(e["body_len"], body.len());
        assert_eq!(e["body_sha256"], hex::encode(Sha256::digest(&body)));
        if !body.is_empty() {
            assert_eq!(header(&e, "content-type"), Some(ctype));
        }
    }
}

async fn request_and_response_headers_and_query(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    let mut req = request(
        Method::GET,
        server.url("/echo?a=1&b=x%20y&header=X-Answer:42&header=X-Multi:one"),
    );
    req.headers
        .insert("x-custom", HeaderValue::from_static("abc"));
    req.headers
        .append("x-repeat", HeaderValue::from_static("1"));
    req.headers
        .append("x-repeat", HeaderValue::from_static("2"));
    let (status, headers, e) = echo(t, req).await;
    assert_eq!(status, 200);
    assert_eq!(e["path"], "/echo");
    assert!(
        e["query"].as_str().unwrap().starts_with("a=1&b=x%20y"),
        "{}",
        e["query"]
    );
    assert_eq!(header(&e, "x-custom"), Some("abc"));
    let repeats: Vec<_> = e["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "x-repeat")
        .map(|h| h[1].as_str().unwrap().to_string())
        .collect();
    assert!(repeats == ["1", "2"] || repeats == ["1, 2"], "{repeats:?}");
    assert_eq!(headers.get("x-answer").unwrap(), "42");
    assert_eq!(headers.get("x-multi").unwrap(), "one");
}

async fn error_statuses_are_responses_not_errors(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    for code in [400u16, 404, 429, 500, 503] {
        let resp = t
            .call(request(Method::GET, server.url(&format!("/status/{code}"))))
            .await
            .unwrap_or_else(|e| panic!("status {code} must be a response, got {e}"));
        assert_eq!(resp.status.as_u16(), code);
        let body = read_all(resp).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["type"].is_string(), "{v}");
    }
}

async fn connection_refused_is_a_connect_error(t: TransportUnderTest) {
    let t = &*t.transport;
    let err = t
        .call(request(Method::GET, testkit::closed_port_url()))
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind, ErrorKind::CONNECT, "{err}");
    assert!(err.retryable);
}

async fn slow_headers_are_a_timeout_error(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    server.script("/slow", vec![Action::Hang]);
    let mut req = request(Method::GET, server.url("/slow"));
    req.timeout = Some(Duration::from_millis(300));
    let started = std::time::Instant::now();
    // A transport that ignores `Request::timeout` would hang here; fail instead.
    let err = tokio::time::timeout(Duration::from_secs(10), t.call(req))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} ignored Request::timeout (no answer after 10 s)",
                t.name()
            )
        })
        .expect_err("the server never answers");
    assert_eq!(err.kind, ErrorKind::TIMEOUT, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(290));
}

async fn reset_mid_body_is_an_io_error(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    server.script(
        "/reset",
        vec![Action::ResetMidBody {
            total_len: 1 << 20,
            send: 1000,
        }],
    );
    let resp = t
        .call(request(Method::GET, server.url("/reset")))
        .await
        .expect("head arrives");
    let err = read_all(resp).await.expect_err("the body is cut");
    assert_eq!(err.kind, ErrorKind::IO, "{err}");
    assert!(err.retryable);
}

async fn a_200_mb_body_streams_with_matching_sha256(t: TransportUnderTest) {
    const N: u64 = 200 * 1024 * 1024;
    let expected = testkit::pattern_sha256(N);
    let (server, t) = (TestServer::start().await, &*t.transport);
    let mut req = request(Method::GET, server.url(&format!("/bytes/{N}")));
    req.stream = true;
    let resp = t.call(req).await.expect("head");
    assert_eq!(resp.status.as_u16(), 200);
    let mut body = resp.body;
    let mut hasher = Sha256::new();
    let (mut total, mut chunks, mut largest) = (0u64, 0u64, 0usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("chunk");
        total += chunk.len() as u64;
        chunks += 1;
        largest = largest.max(chunk.len());
        hasher.update(&chunk);
    }
    assert_eq!(total, N);
    assert_eq!(hex::encode(hasher.finalize()), expected);
    // Streamed, not buffered: many chunks, each far smaller than the body.
    assert!(
        chunks > 100 && largest < 16 << 20,
        "{chunks} chunks, largest {largest}"
    );
}

async fn a_tls_handshake_failure_is_a_tls_error(t: TransportUnderTest) {
    let (server, t) = (TestServer::start().await, &*t.transport);
    // https:// to a plain-HTTP server: the handshake fails, which no retry can heal.
    let url = server.url("/echo").replacen("http://", "https://", 1);
    let err = t
        .call(request(Method::GET, url))
        .await
        .expect_err("no TLS there");
    assert_eq!(err.kind, ErrorKind::TLS, "{err}");
    assert!(!err.retryable, "{err}");
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
async fn odd_workload(transport: std::sync::Arc<dyn HttpTransport>, server: &TestServer) {
    let client = apify_host::ApifyClient::builder()
        .transport(transport)
        .api_url(server.url(""))
        .token("conformance-token")
        .settings(apify_host::HttpSettings::default().max_retries(0))
        .build()
        .expect("client builds");
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
}

/// What the server logged, as the bytes it received: method, path, query.
fn wire(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.query))
        .collect()
}

async fn the_server_sees_byte_identical_requests_from_every_transport(t: TransportUnderTest) {
    let reference = TestServer::start().await;
    let builtin = apify_host::BuiltinTransport::new().expect("builtin transport");
    odd_workload(std::sync::Arc::new(builtin), &reference).await;
    let server = TestServer::start().await;
    odd_workload(t.transport.clone(), &server).await;

    let (expected, got) = (wire(&reference), wire(&server));
    assert_eq!(got, expected, "{}: the server saw other requests", t.name);
    // Dot segments never left the client: 13 keys that may be sent, 6 calls each.
    assert_eq!(got.len(), 13 * 6, "{}: {got:#?}", t.name);
    for line in [
        r#"PUT /v2/key-value-stores/me~store/records/a..b None"#,
        r#"DELETE /v2/key-value-stores/me~store/records/a%2F..%2Fb None"#,
        r#"GET /v2/request-queues/q/requests/..a None"#,
        r#"GET /v2/datasets/... None"#,
        r#"GET /v2/key-value-stores/s/records/q%3Fx%23y Some("signature=q%3Fx%23y")"#,
        r#"PUT /v2/key-value-stores/me~store/records/%25 None"#,
        r#"GET /v2/key-value-stores/me~store/records/%252e%252e%252f Some("attachment=true")"#,
    ] {
        assert!(
            got.iter().any(|l| l == line),
            "{}: no {line} in {got:#?}",
            t.name
        );
    }
    assert!(
        got.iter()
            .all(|l| !l.contains("/.. ") && !l.contains("/. ")),
        "{}: {got:#?}",
        t.name
    );
}
