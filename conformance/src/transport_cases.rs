//! Cases that call the transport directly: one exchange each, against a testkit server.

use std::{io::Write, time::Duration};

use apify_host::transport::{TransportErrorKind as ErrorKind, TransportRequestBody};
use apify_plugin_api::Capabilities;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Method};
use sha2::{Digest, Sha256};
use testkit::{Action, TestServer};

use crate::support::{call, echo, echoed_header, echoed_headers, ensure, fail, read_all, request};
use crate::{CaseResult, Subject, Verdict};

pub(crate) async fn methods_and_bodies(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let mut req = request(method.clone(), server.url("/echo"));
        let (body, ctype): (Bytes, &str) = match method {
            Method::GET => (Bytes::new(), "application/json"),
            Method::PUT => (
                (0..=255u8).cycle().take(5000).collect::<Vec<_>>().into(),
                "application/octet-stream",
            ),
            _ => (
                Bytes::from_static(br#"{"hello":"world","n":[1,2,3]}"#),
                "application/json",
            ),
        };
        req.headers
            .insert("content-type", HeaderValue::from_static(ctype));
        req.body = body.clone().into();
        let (status, _, e) = echo(t, req, method.as_str()).await?;
        ensure!(status == 200, "{method}: status {status}, expected 200");
        ensure!(
            e["method"] == method.as_str(),
            "{method} arrived as {}",
            e["method"]
        );
        ensure!(
            e["body_len"] == body.len() && e["body_sha256"] == hex::encode(Sha256::digest(&body)),
            "{method}: the server received {} body bytes (sha256 {}), not the {} sent",
            e["body_len"],
            e["body_sha256"],
            body.len()
        );
        if !body.is_empty() {
            let got = echoed_header(&e, "content-type");
            ensure!(
                got == Some(ctype),
                "{method}: content-type arrived as {got:?}"
            );
        }
    }
    Ok(())
}

pub(crate) async fn headers_and_query(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
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
    let (status, headers, e) = echo(t, req, "GET /echo").await?;
    ensure!(status == 200, "status {status}, expected 200");
    ensure!(e["path"] == "/echo", "the path arrived as {}", e["path"]);
    let query = e["query"].as_str().unwrap_or_default();
    ensure!(
        query.starts_with("a=1&b=x%20y"),
        "the query arrived as {query:?}, not as sent (a=1&b=x%20y...)"
    );
    let custom = echoed_header(&e, "x-custom");
    ensure!(custom == Some("abc"), "x-custom arrived as {custom:?}");
    let repeats: Vec<&str> = echoed_headers(&e)
        .filter(|(k, _)| *k == "x-repeat")
        .map(|(_, v)| v)
        .collect();
    ensure!(
        repeats == ["1", "2"] || repeats == ["1, 2"],
        "the repeated header x-repeat: 1, x-repeat: 2 arrived as {repeats:?}"
    );
    for (name, want) in [("x-answer", "42"), ("x-multi", "one")] {
        let got = headers.get(name).and_then(|v| v.to_str().ok());
        ensure!(
            got == Some(want),
            "the response header {name}: {want} came back as {got:?}"
        );
    }
    Ok(())
}

pub(crate) async fn empty_body(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let (status, _, e) = echo(t, request(method.clone(), server.url("/echo")), "").await?;
        ensure!(status == 200, "{method}: status {status}");
        ensure!(
            e["body_len"] == 0,
            "{method} with an empty body sent {} body bytes",
            e["body_len"]
        );
        let te = echoed_header(&e, "transfer-encoding");
        ensure!(
            te.is_none(),
            "{method} with an empty body was sent with transfer-encoding: {}",
            te.unwrap_or_default()
        );
    }
    Ok(())
}

/// The chunks of a 3 MiB body in uneven pieces, and its sha256.
fn upload_chunks() -> (Vec<Bytes>, u64, String) {
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let digest = hex::encode(Sha256::digest(&data));
    let len = data.len() as u64;
    let data = Bytes::from(data);
    let mut chunks = Vec::new();
    let mut at = 0;
    for size in [1usize, 100, 65_536, 1 << 20].iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        chunks.push(data.slice(at..end));
        at = end;
    }
    (chunks, len, digest)
}

pub(crate) async fn streamed_upload(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for known_length in [true, false] {
        let (chunks, len, digest) = upload_chunks();
        let mut req = request(Method::PUT, server.url("/digest/upload"));
        req.headers.insert(
            "content-type",
            HeaderValue::from_static("application/octet-stream"),
        );
        if known_length {
            req.headers.insert("content-length", HeaderValue::from(len));
        }
        req.body = TransportRequestBody::Stream {
            stream: Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok))),
            length: known_length.then_some(len),
        };
        let what = if known_length {
            "a streamed body of known length"
        } else {
            "a streamed body of unknown length (chunked)"
        };
        let resp = call(t, req, what).await?;
        let status = resp.status.as_u16();
        let _ = read_all(resp).await;
        ensure!(status == 201, "{what}: status {status}, expected 201");
        let logged = server.requests();
        let Some(got) = logged.last() else {
            return Err(fail(format!("{what}: the server logged no request")));
        };
        ensure!(
            got.body_len == len && got.body_sha256.as_deref() == Some(digest.as_str()),
            "{what}: the server received {} bytes (sha256 {:?}), not the {len} sent",
            got.body_len,
            got.body_sha256
        );
        let lengths = got
            .headers
            .iter()
            .filter(|(k, _)| k == "content-length")
            .count();
        let chunked = got
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"));
        ensure!(
            lengths <= 1,
            "{what}: content-length was sent {lengths} times (drop the request's own \
             content-length when the library frames the body itself)"
        );
        ensure!(
            known_length || lengths == 0 || !chunked,
            "{what}: sent both content-length and chunked transfer-encoding"
        );
    }
    Ok(())
}

pub(crate) async fn statuses_are_responses(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for code in [400u16, 404, 429, 500, 503] {
        let resp = t
            .call(request(Method::GET, server.url(&format!("/status/{code}"))))
            .await
            .map_err(|e| {
                fail(format!(
                    "status {code} must be a response, got the error {e}"
                ))
            })?;
        ensure!(
            resp.status.as_u16() == code,
            "status {code} came back as {}",
            resp.status
        );
        let body = read_all(resp)
            .await
            .map_err(|e| fail(format!("status {code}: reading its body failed: {e}")))?;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        ensure!(
            v["error"]["type"].is_string(),
            "status {code}: its JSON error body was not returned as sent"
        );
    }
    Ok(())
}

pub(crate) async fn no_redirects(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for (code, method) in [
        (301u16, Method::GET),
        (302, Method::GET),
        (307, Method::POST),
    ] {
        server.clear_requests();
        server.script(
            "/moved",
            vec![Action::json(code, serde_json::json!({"moved": true}))
                .with_header("location", server.url("/echo"))],
        );
        let mut req = request(method.clone(), server.url("/moved"));
        if method == Method::POST {
            req.body = Bytes::from_static(b"{}").into();
            req.headers
                .insert("content-type", HeaderValue::from_static("application/json"));
        }
        let resp = call(t, req, &format!("{method} answered by {code}")).await?;
        let status = resp.status.as_u16();
        let _ = read_all(resp).await;
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        ensure!(
            status == code && paths == ["/moved"],
            "a {code} to {method} was followed: the transport returned {status} and the server \
             saw {paths:?} (a transport returns 3xx as the response; the host decides)"
        );
    }
    Ok(())
}

pub(crate) async fn no_added_headers(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    let framing = ["host", "content-length", "transfer-encoding"];
    for method in [Method::GET, Method::POST] {
        let mut req = request(method.clone(), server.url("/echo"));
        req.headers
            .insert("x-conformance", HeaderValue::from_static("1"));
        req.headers
            .insert("accept", HeaderValue::from_static("application/json"));
        if method == Method::POST {
            req.headers
                .insert("content-type", HeaderValue::from_static("application/json"));
            req.headers.insert("content-length", HeaderValue::from(2));
            req.body = Bytes::from_static(b"{}").into();
        }
        let sent = req.headers.clone();
        let (_, _, e) = echo(t, req, method.as_str()).await?;
        let added: Vec<String> = echoed_headers(&e)
            .filter(|(k, _)| !framing.contains(k) && !sent.contains_key(*k))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        ensure!(
            added.is_empty(),
            "{method}: the server received headers the request did not have: {} (a transport \
             sends exactly Request::headers, plus Host and the body's framing)",
            added.join(", ")
        );
        for name in ["accept", "x-conformance"] {
            let n = echoed_headers(&e).filter(|(k, _)| *k == name).count();
            ensure!(
                n == 1,
                "{method}: the header {name} arrived {n} times, sent once"
            );
        }
    }
    Ok(())
}

pub(crate) async fn no_decompression(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    let json = serde_json::json!({"data": {"items": vec!["compressible"; 200]}}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let gzipped = gz
        .write_all(json.as_bytes())
        .and_then(|_| gz.finish())
        .map_err(|e| fail(format!("gzip in the suite failed: {e}")))?;
    server.script(
        "/gzipped",
        vec![Action::Respond {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-encoding".into(), "gzip".into()),
            ],
            body: gzipped.clone(),
        }],
    );
    let resp = call(
        t,
        request(Method::GET, server.url("/gzipped")),
        "GET /gzipped",
    )
    .await?;
    let encoding = resp
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_all(resp)
        .await
        .map_err(|e| fail(format!("reading the gzip body failed: {e}")))?;
    ensure!(
        encoding.as_deref() == Some("gzip"),
        "the response's content-encoding: gzip came back as {encoding:?}"
    );
    ensure!(
        gzipped == body,
        "the gzip body came back changed ({} bytes, {} sent{}): a transport does not decompress",
        body.len(),
        gzipped.len(),
        if body == json.as_bytes() {
            "; it was decompressed"
        } else {
            ""
        }
    );
    Ok(())
}

pub(crate) async fn connect_error(s: Subject) -> CaseResult {
    let t = &*s.transport;
    match t
        .call(request(Method::GET, testkit::closed_port_url()))
        .await
    {
        Ok(r) => Err(fail(format!(
            "a closed port answered {} (nothing listens there)",
            r.status
        ))),
        Err(e) => {
            ensure!(
                e.kind == ErrorKind::CONNECT,
                "a refused connection was reported as {e}"
            );
            Ok(())
        }
    }
}

pub(crate) async fn timeout_error(s: Subject) -> CaseResult {
    if !s.capabilities.contains(Capabilities::TIMEOUTS) {
        return Err(Verdict::Skip(
            "the transport does not claim `timeouts` (the host enforces them)".into(),
        ));
    }
    let (server, t) = (TestServer::start().await, &*s.transport);
    server.script("/slow", vec![Action::Hang]);
    let mut req = request(Method::GET, server.url("/slow"));
    let deadline = Duration::from_millis(300);
    req.timeout = Some(deadline);
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), t.call(req))
        .await
        .map_err(|_| fail("Request::timeout (300 ms) was ignored: no answer after 10 s"))?;
    let elapsed = started.elapsed();
    match outcome {
        Ok(r) => Err(fail(format!(
            "a server that never answers gave {}",
            r.status
        ))),
        Err(e) => {
            ensure!(
                e.kind == ErrorKind::TIMEOUT,
                "the missed deadline was reported as {e}"
            );
            ensure!(
                elapsed >= deadline.mul_f32(0.95),
                "the timeout fired after {elapsed:?}, before the 300 ms deadline"
            );
            Ok(())
        }
    }
}

pub(crate) async fn io_error(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    server.script(
        "/reset",
        vec![Action::ResetMidBody {
            total_len: 1 << 20,
            send: 1000,
        }],
    );
    cut_body(
        t,
        server.url("/reset"),
        "1 MiB declared, reset after 1000 bytes",
    )
    .await
}

pub(crate) async fn truncated_body(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    server.script(
        "/short",
        vec![Action::TruncatedBody {
            total_len: 1 << 20,
            send: 1000,
        }],
    );
    cut_body(
        t,
        server.url("/short"),
        "1 MiB declared, closed after 1000 bytes",
    )
    .await?;
    // A chunked body whose last (empty) chunk never comes: one 1000-byte chunk, then FIN.
    let mut raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                    transfer-encoding: chunked\r\n\r\n3e8\r\n"
        .to_vec();
    raw.extend(std::iter::repeat_n(b'x', 1000));
    raw.extend_from_slice(b"\r\n");
    server.script("/short-chunked", vec![Action::Raw(raw)]);
    cut_body(
        t,
        server.url("/short-chunked"),
        "chunked, closed after a 1000-byte chunk, before the last one",
    )
    .await
}

pub(crate) async fn interim_responses(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    let raw = b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n\
                HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n\
                {\"ok\":true}";
    server.script("/hints", vec![Action::Raw(raw.to_vec())]);
    let resp = call(
        t,
        request(Method::GET, server.url("/hints")),
        "GET after a 103",
    )
    .await?;
    let status = resp.status.as_u16();
    let body = read_all(resp)
        .await
        .map_err(|e| fail(format!("reading the final response failed: {e}")))?;
    ensure!(
        status == 200 && body == br#"{"ok":true}"#,
        "a 103 Early Hints before the 200 came back as {status} with {} body bytes (skip \
         interim 1xx responses and return the final one)",
        body.len()
    );
    Ok(())
}

/// A body cut short as `how` says: an IO error.
async fn cut_body(
    t: &dyn apify_host::transport::HttpTransport,
    url: String,
    how: &str,
) -> CaseResult {
    let resp = call(t, request(Method::GET, url), "the head").await?;
    match read_all(resp).await {
        Ok(body) => Err(fail(format!(
            "a body cut short ({how}) ended cleanly with {} bytes: a cut body must end with \
             an error",
            body.len()
        ))),
        Err(e) => {
            ensure!(
                e.kind == ErrorKind::IO,
                "a body cut ({how}) was reported as {e}"
            );
            Ok(())
        }
    }
}

pub(crate) async fn large_streamed_body(s: Subject) -> CaseResult {
    const N: u64 = 200 * 1024 * 1024;
    let expected = testkit::pattern_sha256(N);
    let (server, t) = (TestServer::start().await, &*s.transport);
    let mut req = request(Method::GET, server.url(&format!("/bytes/{N}")));
    req.stream = true;
    let resp = call(t, req, "GET 200 MB").await?;
    ensure!(resp.status == 200, "status {}", resp.status);
    let mut body = resp.body;
    let mut hasher = Sha256::new();
    let (mut total, mut chunks, mut largest) = (0u64, 0u64, 0usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| fail(format!("after {total} bytes: {e}")))?;
        total += chunk.len() as u64;
        chunks += 1;
        largest = largest.max(chunk.len());
        hasher.update(&chunk);
    }
    ensure!(total == N, "{total} bytes arrived, {N} sent");
    ensure!(
        hex::encode(hasher.finalize()) == expected,
        "the body's sha256 differs from what was sent"
    );
    ensure!(
        chunks > 100 && largest < 16 << 20,
        "the body came in {chunks} chunks, the largest {largest} bytes: it was buffered, not \
         streamed"
    );
    Ok(())
}

pub(crate) async fn tls_error(s: Subject) -> CaseResult {
    if !s.capabilities.contains(Capabilities::TLS) {
        return Err(Verdict::Skip("the transport does not claim `tls`".into()));
    }
    let (server, t) = (TestServer::start().await, &*s.transport);
    // https:// to a plain-HTTP server: the handshake fails, which no retry can heal.
    let url = server.url("/echo").replacen("http://", "https://", 1);
    match t.call(request(Method::GET, url)).await {
        Ok(r) => Err(fail(format!(
            "https to a plain-HTTP server answered {}",
            r.status
        ))),
        Err(e) => {
            ensure!(
                e.kind == ErrorKind::TLS,
                "a failed handshake was reported as {e}"
            );
            ensure!(!e.retryable, "a failed handshake was marked retryable: {e}");
            Ok(())
        }
    }
}

pub(crate) async fn drop_closes_connection(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    let mut req = request(Method::GET, server.url("/bytes/104857600"));
    req.stream = true;
    let resp = call(t, req, "GET 100 MB").await?;
    let mut body = resp.body;
    match body.next().await {
        Some(Ok(chunk)) if !chunk.is_empty() => {}
        other => return Err(fail(format!("no first chunk: {other:?}"))),
    }
    drop(body);
    let conn = server
        .requests()
        .first()
        .map(|r| r.connection)
        .ok_or_else(|| fail("the server logged no request"))?;
    ensure!(
        server
            .wait_closed_by_peer(conn, Duration::from_secs(5))
            .await,
        "the connection of a body dropped mid-stream was still open 5 s later (it must be \
         closed, not pooled or drained)"
    );
    Ok(())
}
