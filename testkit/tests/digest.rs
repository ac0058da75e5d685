//! `/digest/...`: request bodies hashed as they stream in, plain, chunked and gzipped.

mod common;

use std::io::Write as _;
use std::time::Instant;

use common::RawClient;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use testkit::{pattern_bytes, pattern_sha256, Action, TestServer};
use tokio::io::AsyncWriteExt;

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data` in chunked framing, `chunk` bytes per chunk, with a trailer field.
fn chunked(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        out.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nx-trailer: t\r\n\r\n");
    out
}

/// The `data` object of a 201 digest answer: (bodyLength, bodySha256, encodedLength).
fn digest_of(r: &common::Response) -> (u64, String, u64) {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let d = &v["data"];
    (
        d["bodyLength"].as_u64().unwrap(),
        d["bodySha256"].as_str().unwrap().to_owned(),
        d["encodedLength"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn sized_body_is_digested_and_not_kept() {
    let server = TestServer::start().await;
    let body = pattern_bytes(3 << 20);
    let mut c = RawClient::connect(server.addr()).await;
    let r = c.request("PUT", "/digest/a/b", &[], &body).await.unwrap();
    assert_eq!(
        digest_of(&r),
        (
            body.len() as u64,
            pattern_sha256(body.len() as u64),
            body.len() as u64
        )
    );
    // Any method; an empty body has the empty digest. Same connection.
    let r = c.get("/digest/x?q=1").await.unwrap();
    assert_eq!(digest_of(&r), (0, pattern_sha256(0), 0));
    assert_eq!(server.connections_accepted(), 1);

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("PUT", "/digest/a/b")
    );
    assert!(log[0].body.is_empty(), "digested bodies are not kept");
    assert_eq!(log[0].body_len, body.len() as u64);
    assert_eq!(log[0].body_sha256.as_deref(), Some(sha_hex(&body).as_str()));
    assert!(log[0].complete);
    assert_eq!(
        log[1].body_sha256.as_deref(),
        Some(pattern_sha256(0).as_str())
    );
}

#[tokio::test]
async fn chunked_body_is_digested() {
    let server = TestServer::start().await;
    let body = pattern_bytes(1_000_003);
    let mut c = RawClient::connect(server.addr()).await;
    let mut req =
        b"POST /digest/c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(&chunked(&body, 70_001));
    c.send(&req).await;
    let r = c.read_response(false).await.unwrap();
    let n = body.len() as u64;
    assert_eq!(digest_of(&r), (n, sha_hex(&body), n));
    // The trailer was consumed: the connection is in step for the next request.
    assert_eq!(c.get("/small").await.unwrap().status, 200);
    let log = server.requests();
    assert_eq!((log[0].body_len, log[0].body.len()), (n, 0));
}

#[tokio::test]
async fn gzip_bodies_are_digested_decoded() {
    let server = TestServer::start().await;
    let body = pattern_bytes(5 << 20);
    let gz = gzip(&body);
    assert!(gz.len() < body.len() / 10);
    let mut c = RawClient::connect(server.addr()).await;

    let r = c
        .request("POST", "/digest/gz", &[("Content-Encoding", "gzip")], &gz)
        .await
        .unwrap();
    let n = body.len() as u64;
    assert_eq!(digest_of(&r), (n, pattern_sha256(n), gz.len() as u64));

    // Chunked framing around the gzip stream, in chunks that split its header.
    let mut req =
        b"POST /digest/gz HTTP/1.1\r\nhost: x\r\ncontent-encoding: x-gzip\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&chunked(&gz, 3));
    c.send(&req).await;
    let r = c.read_response(false).await.unwrap();
    assert_eq!(digest_of(&r), (n, pattern_sha256(n), gz.len() as u64));

    // Two gzip members back to back (RFC 1952 allows it) decode to the concatenation.
    let mut two = gzip(b"hello ");
    two.extend_from_slice(&gzip(b"world"));
    let r = c
        .request("POST", "/digest/gz", &[("content-encoding", "GZIP")], &two)
        .await
        .unwrap();
    assert_eq!(
        digest_of(&r),
        (11, sha_hex(b"hello world"), two.len() as u64)
    );

    // Other codings are hashed as sent.
    let r = c
        .request("POST", "/digest/br", &[("content-encoding", "br")], &gz)
        .await
        .unwrap();
    assert_eq!(
        digest_of(&r),
        (gz.len() as u64, sha_hex(&gz), gz.len() as u64)
    );

    let log = server.requests();
    assert_eq!(log[0].body_len, n);
    assert_eq!(
        log[0].body_sha256.as_deref(),
        Some(pattern_sha256(n).as_str())
    );
    assert!(log.iter().all(|r| r.body.is_empty() && r.complete));
}

#[tokio::test]
async fn malformed_gzip_gets_400_and_keeps_the_connection() {
    let server = TestServer::start().await;
    server.script("/digest/bad", vec![Action::status(503)]);
    let gz = gzip(&pattern_bytes(100_000));
    let mut trailing = gzip(b"ok");
    trailing.extend_from_slice(b"garbage after the member");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not gzip", pattern_bytes(300_000)),
        ("truncated", gz[..gz.len() / 2].to_vec()),
        ("no trailer", gz[..gz.len() - 4].to_vec()),
        ("empty", Vec::new()),
        ("trailing garbage", trailing),
    ];
    let mut c = RawClient::connect(server.addr()).await;
    for (what, body) in &cases {
        let r = c
            .request("POST", "/digest/bad", &[("content-encoding", "gzip")], body)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{what}");
        assert_eq!(r.json()["error"]["type"], "invalid-input", "{what}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.contains("gzip"), "{what}: {msg}");
    }
    // The whole body was read each time, so the connection is still in step.
    assert_eq!(c.get("/small").await.unwrap().status, 200);
    assert_eq!(server.connections_accepted(), 1);
    // The 400s answered instead of the scripted action, which is still queued.
    let ok = gzip(b"fine");
    let r = c
        .request("POST", "/digest/bad", &[("content-encoding", "gzip")], &ok)
        .await
        .unwrap();
    assert_eq!(r.status, 503);

    let log = server.requests();
    assert_eq!(log.len(), cases.len() + 2);
    assert!(log[..cases.len()]
        .iter()
        .all(|r| r.body_sha256.is_none() && r.complete && r.body.is_empty()));
    // The scripted request was digested all the same.
    let last = log.last().unwrap();
    assert_eq!(last.body_sha256.as_deref(), Some(sha_hex(b"fine").as_str()));
}

#[tokio::test]
async fn ordinary_requests_report_their_length() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr()).await;
    c.request("POST", "/echo", &[], b"12345").await.unwrap();
    c.get("/small").await.unwrap();
    // A gzipped body elsewhere is kept as sent.
    let gz = gzip(b"abc");
    c.request("POST", "/echo", &[("content-encoding", "gzip")], &gz)
        .await
        .unwrap();
    let log = server.requests();
    assert_eq!(log[0].body_len, 5);
    assert_eq!(log[1].body_len, 0);
    assert_eq!(log[2].body_len, gz.len() as u64);
    assert_eq!(log[2].body.as_ref(), gz.as_slice());
    assert!(log.iter().all(|r| r.body_sha256.is_none() && r.complete));
}

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Uploads `len` pattern bytes to `/digest/big` in `Content-Length` framing and checks
/// the digest. Returns the throughput in MB/s.
async fn upload(server: &TestServer, len: u64) -> f64 {
    // A whole number of pattern periods, so the same block repeats the pattern.
    let block = pattern_bytes(251 * 4096);
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let started = Instant::now();
    s.write_all(
        format!("POST /digest/big HTTP/1.1\r\nhost: x\r\ncontent-length: {len}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        s.write_all(&block[..n]).await.unwrap();
        left -= n as u64;
    }
    let mut c = RawClient::from_stream(s);
    let r = c.read_response(false).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(digest_of(&r), (len, pattern_sha256(len), len));
    len as f64 / secs / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_upload_streams_in_constant_memory() {
    const N: u64 = 1 << 30;
    let server = TestServer::start().await;
    let expected = pattern_sha256(N); // hashed up front, outside the timing
    let before = peak_rss();
    let mbps = upload(&server, N).await;
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grew = after.saturating_sub(before);
        // Buffering the body would add a GiB; read buffers and the client's block are
        // a few MiB.
        assert!(grew < 128 << 20, "peak RSS grew by {} MiB", grew >> 20);
    }
    eprintln!("1 GiB digest upload: {mbps:.0} MB/s");
    assert_eq!(
        server.requests()[0].body_sha256.as_deref(),
        Some(expected.as_str())
    );
}

/// 8 GiB, beyond the limit for kept bodies; slow, so run on demand:
/// `cargo test --release -p testkit --test digest -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "uploads 8 GiB (tens of seconds)"]
async fn an_8_gib_upload_is_digested() {
    const N: u64 = 8 << 30;
    let server = TestServer::start().await;
    let before = peak_rss();
    let mbps = upload(&server, N).await;
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grew = after.saturating_sub(before);
        assert!(grew < 128 << 20, "peak RSS grew by {} MiB", grew >> 20);
    }
    eprintln!("8 GiB digest upload: {mbps:.0} MB/s");
}
