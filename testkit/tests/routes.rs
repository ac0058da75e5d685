//! Default routes, HTTP/1.1 framing, keep-alive and the request log.

mod common;

use std::time::Duration;

use common::RawClient;
use sha2::{Digest, Sha256};
use testkit::{closed_port_url, pattern_bytes, pattern_matches, pattern_sha256, TestServer};

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn echo_describes_the_request() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    let body = b"hello \xc3\xa9";
    let resp = c
        .request(
            "POST",
            "/echo?status=201&header=X-One:1&header=X-Two%3A%202&content_type=text/x-test",
            &[("X-Custom", "Value"), ("Accept", "*/*")],
            body,
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("content-type"), Some("text/x-test"));
    assert_eq!(resp.header("x-one"), Some("1"));
    assert_eq!(resp.header("x-two"), Some("2"));
    let j = resp.json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["path"], "/echo");
    assert_eq!(
        j["query"],
        "status=201&header=X-One:1&header=X-Two%3A%202&content_type=text/x-test"
    );
    assert_eq!(
        j["headers"],
        serde_json::json!([
            ["host", "test"],
            ["x-custom", "Value"],
            ["accept", "*/*"],
            ["content-length", "8"]
        ])
    );
    assert_eq!(j["body_len"], 8);
    assert_eq!(j["body_sha256"], sha_hex(body));
    assert_eq!(j["body_utf8"], "hello é");
    assert_eq!(j["body_base64"], "aGVsbG8gw6k=");

    // Not UTF-8 → null; no query → null.
    let resp = c.request("PUT", "/echo", &[], &[0xff, 0xfe]).await.unwrap();
    let j = resp.json();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert!(j["body_utf8"].is_null());
    assert!(j["query"].is_null());
    assert_eq!(j["body_base64"], "//4=");
}

#[tokio::test]
async fn chunked_request_bodies_are_decoded() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    c.send(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n",
    )
    .await;
    let resp = c.read_response(false).await.unwrap();
    assert_eq!(resp.json()["body_utf8"], "hello, world");
    // The connection is still in sync afterwards.
    assert_eq!(c.get("/small").await.unwrap().status, 200);
    assert_eq!(server.requests()[0].body.as_ref(), b"hello, world");
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    for i in 0..3 {
        let resp = c.get(&format!("/echo?i={i}")).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), None);
    }
    assert_eq!(server.connections_accepted(), 1);
    let log = server.requests();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.connection == 0));
    assert_eq!(log[2].query.as_deref(), Some("i=2"));

    // A second connection gets the next id.
    let mut c2 = RawClient::connect(server.addr()).await;
    c2.get("/small").await.unwrap();
    assert_eq!(server.connections_accepted(), 2);
    assert_eq!(server.requests()[3].connection, 1);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    c.send(
        b"GET /status/404 HTTP/1.1\r\nhost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc\
          GET /bytes/10 HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await;
    assert_eq!(c.read_response(false).await.unwrap().status, 404);
    assert_eq!(
        c.read_response(false).await.unwrap().json()["body_utf8"],
        "abc"
    );
    assert_eq!(
        c.read_response(false).await.unwrap().body,
        pattern_bytes(10)
    );
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    let resp = c
        .request("GET", "/small", &[("Connection", "close")], &[])
        .await
        .unwrap();
    assert_eq!(resp.header("connection"), Some("close"));
    let (n, end) = c.read_to_end_counting().await;
    assert_eq!(n, 0);
    end.unwrap(); // clean FIN, not a reset

    // HTTP/1.0 without keep-alive closes too.
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"GET /bytes/3 HTTP/1.0\r\n\r\n").await;
    let resp = c.read_response(false).await.unwrap();
    assert_eq!(resp.body, pattern_bytes(3));
    assert_eq!(c.read_to_end_counting().await.0, 0);
}

#[tokio::test]
async fn bytes_route_with_length_and_chunked() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    for n in [0usize, 1, 251, 70_000, 262_044, 600_001] {
        let resp = c.get(&format!("/bytes/{n}")).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()));
        assert_eq!(
            resp.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(resp.body.len(), n);
        assert!(pattern_matches(0, &resp.body));
        assert_eq!(sha_hex(&resp.body), pattern_sha256(n as u64));

        let resp = c.get(&format!("/bytes/{n}?chunked=1")).await.unwrap();
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
        assert_eq!(resp.header("content-length"), None);
        assert_eq!(resp.body, pattern_bytes(n), "chunked {n}");
    }
    assert_eq!(c.get("/bytes/abc").await.unwrap().status, 400);
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn head_requests_get_no_body() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    let resp = c.request("HEAD", "/bytes/100", &[], &[]).await.unwrap();
    assert_eq!(resp.header("content-length"), Some("100"));
    assert!(resp.body.is_empty());
    let resp = c.request("HEAD", "/small", &[], &[]).await.unwrap();
    assert!(
        resp.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 500
    );
    // Nothing stray on the wire: the next response parses.
    assert_eq!(c.get("/bytes/5").await.unwrap().body, pattern_bytes(5));
    assert_eq!(c.buffered(), 0);
}

#[tokio::test]
async fn small_status_and_not_found_routes() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;

    let small = c.get("/small").await.unwrap();
    assert_eq!(small.status, 200);
    assert!((900..1400).contains(&small.body.len()));
    assert!(small.json()["data"]["id"].is_string());

    for code in [400u16, 404, 429, 500, 503] {
        let resp = c
            .request("POST", &format!("/status/{code}"), &[], b"x")
            .await
            .unwrap();
        assert_eq!(resp.status, code);
        let err = &resp.json()["error"];
        assert!(
            err["type"].is_string() && err["message"].is_string(),
            "{err}"
        );
    }
    assert_eq!(
        c.get("/status/429").await.unwrap().json()["error"]["type"],
        "rate-limit-exceeded"
    );
    let ok = c.get("/status/200").await.unwrap();
    assert_eq!((ok.status, ok.body.len()), (200, 0));
    let no_content = c.get("/status/204").await.unwrap();
    assert_eq!(no_content.status, 204);
    assert_eq!(no_content.header("content-length"), None);
    assert_eq!(c.get("/status/99").await.unwrap().status, 400);

    let missing = c.get("/nope?x=1").await.unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["type"], "record-not-found");
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn expect_continue_is_answered() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n")
        .await;
    let (status, _) = c.read_head().await.unwrap();
    assert_eq!(status, 100);
    c.send(b"hi").await;
    assert_eq!(
        c.read_response(false).await.unwrap().json()["body_utf8"],
        "hi"
    );
}

#[tokio::test]
async fn malformed_requests_get_400_and_close() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"GET /x HTTP/1.1\r\ncontent-length: nope\r\n\r\n")
        .await;
    let resp = c.read_response(false).await.unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(c.read_to_end_counting().await.0, 0);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn request_log_records_and_clears() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    let before = std::time::Instant::now();
    c.request("PATCH", "/anything?a=b", &[("X-Api-Key", "k")], b"{}")
        .await
        .unwrap();
    let log = server.requests();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PATCH", "/anything"));
    assert_eq!(r.query.as_deref(), Some("a=b"));
    assert_eq!(r.header("x-api-key"), Some("k"));
    assert_eq!(r.header("X-API-KEY"), Some("k"));
    assert_eq!(r.body.as_ref(), b"{}");
    assert!(r.received_at >= before);
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn url_and_closed_port() {
    let server = TestServer::start().await;
    let port = server.addr().port();
    assert_eq!(
        server.url("/a?b=c"),
        format!("http://127.0.0.1:{port}/a?b=c")
    );
    assert_eq!(server.url("a"), format!("http://127.0.0.1:{port}/a"));

    let url = closed_port_url();
    let hostport = url
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let err = tokio::net::TcpStream::connect(hostport).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn dropping_the_server_closes_listener_and_connections() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let mut c = RawClient::connect(addr).await;
    c.get("/small").await.unwrap();
    drop(server);
    // The open keep-alive connection is dropped...
    let (_, _) = tokio::time::timeout(Duration::from_secs(5), c.read_to_end_counting())
        .await
        .expect("connection closed on drop");
    // ...and, once the accept task has noticed, nobody listens any more.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn blocking_server_works_without_a_runtime() {
    use std::io::{Read, Write};
    let server = TestServer::start_blocking();
    let addr = server.addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /bytes/5 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(out.ends_with(&pattern_bytes(5)));
    assert_eq!(server.connections_accepted(), 1);
    drop(server);
    // Drop joins the server thread, so the port is closed right away.
    assert!(std::net::TcpStream::connect(addr).is_err());
}
