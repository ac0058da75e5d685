//! Cases about the bytes on the wire and the connections under them: the request line and
//! `Host` (RFC 9112 §3), https with a CA of the suite's own, keep-alive (reuse and a connection
//! the server closed), many calls in flight, bodiless responses and IPv6.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use apify_host::transport::HttpTransport;
use apify_plugin_api::Capabilities;
use bytes::Bytes;
use http::{HeaderValue, Method};
use sha2::{Digest, Sha256};
use testkit::{Action, TestServer};

use crate::support::{call, echo, echoed_headers, ensure, fail, read_all, request};
use crate::tls::TlsFront;
use crate::{CaseResult, Subject, Verdict};

/// The `Host` headers the server saw in a call to `url`, after checking it answered 200.
async fn hosts_sent(t: &dyn HttpTransport, url: String) -> Result<Vec<String>, Verdict> {
    let (status, _, e) = echo(t, request(Method::GET, url.clone()), &format!("GET {url}")).await?;
    ensure!(status == 200, "GET {url}: status {status}, expected 200");
    Ok(echoed_headers(&e)
        .filter(|(k, _)| *k == "host")
        .map(|(_, v)| v.to_string())
        .collect())
}

pub(crate) async fn host_header(s: Subject) -> CaseResult {
    let t = &*s.transport;
    let mut servers = vec![(TestServer::start().await, "")];
    // Port 80 (default port: no `:80` in Host) where this process may bind it; 127.0.0.80
    // keeps clear of a web server on 127.0.0.1:80.
    if let Ok(server) = TestServer::start_at(([127, 0, 0, 80], 80).into()).await {
        servers.push((server, " (the default port is left out)"));
    }
    if let Ok(server) = TestServer::start_at("[::1]:0".parse::<SocketAddr>().unwrap()).await {
        servers.push((server, " (an IPv6 address goes in brackets)"));
    }
    for (server, rule) in &servers {
        let url = server.url("/echo");
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches("/echo")
            .to_string();
        let hosts = hosts_sent(t, url.clone()).await?;
        ensure!(
            hosts.len() == 1,
            "GET {url} was sent with {} Host headers ({hosts:?}): send exactly one, set from the \
             URL's authority (a server answers a request without Host, or with two, with 400)",
            hosts.len()
        );
        ensure!(
            hosts[0] == authority,
            "GET {url} was sent with Host: {}, expected Host: {authority}{rule}",
            hosts[0]
        );
    }
    Ok(())
}

/// The request lines `server` received.
fn request_lines(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .map(|r| r.request_line)
        .collect()
}

pub(crate) async fn origin_form(s: Subject) -> CaseResult {
    let builtin = apify_host::transport::BuiltinTransport::new()
        .map_err(|e| fail(format!("the built-in transport did not start: {e}")))?;
    let targets = [
        (
            Method::GET,
            "/v2/datasets/abc/items?offset=0&limit=10&fields=a%2Cb",
        ),
        (Method::PUT, "/v2/key-value-stores/s/records/a%20b"),
        (Method::DELETE, "/v2/request-queues/q"),
    ];
    let mut lines = Vec::new();
    for t in [&builtin as &dyn HttpTransport, &*s.transport] {
        let server = TestServer::start().await;
        for (method, target) in &targets {
            let mut req = request(method.clone(), server.url(target));
            if *method == Method::PUT {
                req.body = Bytes::from_static(b"{}").into();
                req.headers
                    .insert("content-type", HeaderValue::from_static("application/json"));
            }
            let resp = call(t, req, &format!("{method} {target}")).await?;
            let _ = read_all(resp).await;
        }
        lines.push(request_lines(&server));
    }
    let (want, got) = (&lines[0], &lines[1]);
    for (want, got) in want.iter().zip(got) {
        let absolute = got
            .split(' ')
            .nth(1)
            .is_some_and(|target| !target.starts_with('/'));
        ensure!(
            want == got,
            "the server received the request line `{got}` where the built-in transport sends \
             `{want}`{}",
            if absolute {
                ": that is the absolute form, for proxies only; send the origin form (path and \
                 query) to a server"
            } else {
                ""
            }
        );
    }
    ensure!(
        got.len() == targets.len(),
        "the server received {} requests for the {} calls",
        got.len(),
        targets.len()
    );
    Ok(())
}

pub(crate) async fn https_success(s: Subject) -> CaseResult {
    if !s.capabilities.contains(Capabilities::TLS) {
        return Err(Verdict::Skip("the transport does not claim `tls`".into()));
    }
    let Some(construct) = s.constructor.clone() else {
        return Err(Verdict::Skip(
            "this front end cannot build the transport with the `ca_cert_file` option".into(),
        ));
    };
    let server = TestServer::start().await;
    let front = TlsFront::start(server.addr())
        .await
        .map_err(|e| fail(format!("the suite could not set up its TLS server: {e}")))?;
    let mut options = serde_json::Map::new();
    options.insert(
        "ca_cert_file".into(),
        front.ca_file.display().to_string().into(),
    );
    let t = construct(options).map_err(|e| {
        fail(format!(
            "the transport refused the standard option `ca_cert_file` (a PEM file of extra CA \
             certificates to trust): {e}; take that option, so that users can trust a private CA"
        ))
    })?;
    let t: Arc<dyn HttpTransport> = t;
    for method in [Method::GET, Method::POST] {
        let mut req = request(method.clone(), front.url("/echo?tls=1"));
        let body = Bytes::from_static(br#"{"over":"tls"}"#);
        if method == Method::POST {
            req.body = body.clone().into();
            req.headers
                .insert("content-type", HeaderValue::from_static("application/json"));
        }
        let what = format!("{method} {} (CA in `ca_cert_file`)", front.url("/echo"));
        let (status, _, e) = echo(&*t, req, &what).await?;
        ensure!(status == 200, "{what}: status {status}, expected 200");
        let sent = if method == Method::POST {
            body.len()
        } else {
            0
        };
        ensure!(
            e["method"] == method.as_str() && e["body_len"] == sent && e["query"] == "tls=1",
            "{what}: the server received {} with {} body bytes and query {}",
            e["method"],
            e["body_len"],
            e["query"]
        );
    }
    Ok(())
}

pub(crate) async fn keep_alive_reuse(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for i in 0..20 {
        let resp = call(
            t,
            request(Method::GET, server.url("/small")),
            &format!("call {}", i + 1),
        )
        .await?;
        ensure!(resp.status == 200, "call {}: status {}", i + 1, resp.status);
        read_all(resp)
            .await
            .map_err(|e| fail(format!("call {}: reading the body failed: {e}", i + 1)))?;
        // A pause before the next call: hyper's pool puts a connection back from a task it
        // spawns once the body has ended, so on a loaded machine a call sent at once could
        // find no idle connection yet and open one (CI saw 3 for 20 back-to-back calls). The
        // rule is reuse, not how fast a connection returns to the pool.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = server.connections_accepted();
    ensure!(
        n <= 2,
        "20 sequential calls, 10 ms apart, each body read to its end, opened {n} \
         connections: keep connections alive and reuse them (pool them per host)"
    );
    Ok(())
}

pub(crate) async fn stale_keep_alive(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    for method in [Method::GET, Method::POST] {
        // A complete response that looks keep-alive, then the server closes (FIN): what an
        // idle timeout on a server or a load balancer does.
        server.script(
            "/then-close",
            vec![Action::Raw(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                    .to_vec(),
            )],
        );
        let resp = call(
            t,
            request(Method::GET, server.url("/then-close")),
            "the call the server closes after",
        )
        .await?;
        let body = read_all(resp)
            .await
            .map_err(|e| fail(format!("reading the body before the close failed: {e}")))?;
        ensure!(
            body == b"{}",
            "the body before the close came back as {body:?}"
        );
        // The close reaches the client's side of the idle connection.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut req = request(method.clone(), server.url("/echo"));
        if method == Method::POST {
            req.body = Bytes::from_static(b"{\"after\":\"close\"}").into();
            req.headers
                .insert("content-type", HeaderValue::from_static("application/json"));
        }
        let what = format!(
            "{method} after the server closed the idle connection (without Connection: close)"
        );
        let (status, _, e) = echo(t, req, &what).await.map_err(|v| match v {
            Verdict::Fail(why) => fail(format!(
                "{why} (a pooled connection the server closed must not be used: notice its \
                 close and open a new one)"
            )),
            other => other,
        })?;
        ensure!(
            status == 200 && e["method"] == method.as_str(),
            "{what}: status {status}"
        );
    }
    Ok(())
}

pub(crate) async fn concurrency(s: Subject) -> CaseResult {
    const CALLS: usize = 64;
    let (server, t) = (TestServer::start().await, &s.transport);
    let calls = (0..CALLS).map(|i| {
        let t = t.clone();
        // Each body is its own: 16 KiB from a seed, of a length of its own.
        let body: Vec<u8> = (0..16 * 1024 + i * 131)
            .map(|j| ((j * 31 + i * 7919) % 251) as u8)
            .collect();
        let sent = hex::encode(Sha256::digest(&body));
        let url = server.url(&format!("/echo?call={i}"));
        async move {
            let mut req = request(Method::POST, url);
            req.headers.insert(
                "content-type",
                HeaderValue::from_static("application/octet-stream"),
            );
            req.body = Bytes::from(body).into();
            let what = format!("call {i} of {CALLS}");
            let (status, _, e) = echo(&*t, req, &what).await?;
            ensure!(status == 200, "{what}: status {status}");
            ensure!(
                e["query"] == format!("call={i}").as_str(),
                "{what} got the response of another call ({}): responses were mixed up",
                e["query"]
            );
            ensure!(
                e["body_sha256"] == sent.as_str(),
                "{what}: the server received a body with another sha256 ({}) than the one sent \
                 ({sent}): bodies were mixed up or cut",
                e["body_sha256"]
            );
            Ok::<_, Verdict>(())
        }
    });
    let results = futures_util::future::join_all(calls).await;
    for r in results {
        r?;
    }
    let logged = server.requests().len();
    ensure!(
        logged == CALLS,
        "the server received {logged} requests for {CALLS} calls"
    );
    Ok(())
}

pub(crate) async fn bodiless_responses(s: Subject) -> CaseResult {
    let (server, t) = (TestServer::start().await, &*s.transport);
    server.script("/no-content", vec![Action::status(204)]);
    server.script(
        "/not-modified",
        vec![Action::Respond {
            status: 304,
            headers: vec![("etag".into(), "\"v1\"".into())],
            body: Vec::new(),
        }],
    );
    let cases = [
        (
            Method::HEAD,
            "/bytes/1000",
            200u16,
            "a HEAD response (Content-Length: 1000)",
        ),
        (Method::GET, "/no-content", 204, "a 204 No Content"),
        (Method::GET, "/not-modified", 304, "a 304 Not Modified"),
    ];
    for (method, path, code, what) in cases {
        let resp = call(t, request(method.clone(), server.url(path)), what).await?;
        ensure!(
            resp.status.as_u16() == code,
            "{what}: status {}, expected {code}",
            resp.status
        );
        let body = tokio::time::timeout(Duration::from_secs(10), read_all(resp))
            .await
            .map_err(|_| {
                fail(format!(
                    "{what}: the body never ended (10 s): such a response has no body, it ends \
                     at its head"
                ))
            })?
            .map_err(|e| fail(format!("{what}: reading its (empty) body failed: {e}")))?;
        ensure!(
            body.is_empty(),
            "{what} came back with {} body bytes: it has none",
            body.len()
        );
    }
    // The connection those answers came on is still in step: the next body is the right one.
    let resp = call(
        t,
        request(Method::GET, server.url("/bytes/5000")),
        "GET after them",
    )
    .await?;
    let body = read_all(resp)
        .await
        .map_err(|e| fail(format!("GET after them: reading the body failed: {e}")))?;
    ensure!(
        body == testkit::pattern_bytes(5000),
        "the call after HEAD, 204 and 304 got {} bytes that are not its body",
        body.len()
    );
    Ok(())
}

pub(crate) async fn ipv6(s: Subject) -> CaseResult {
    let server = match TestServer::start_at("[::1]:0".parse::<SocketAddr>().unwrap()).await {
        Ok(server) => server,
        Err(e) => {
            return Err(Verdict::Skip(format!(
                "this machine has no IPv6 loopback ([::1] cannot be bound: {e})"
            )))
        }
    };
    let t = &*s.transport;
    let url = server.url("/echo?v=6");
    let (status, _, e) = echo(t, request(Method::GET, url.clone()), &format!("GET {url}")).await?;
    ensure!(status == 200, "GET {url}: status {status}");
    ensure!(
        e["query"] == "v=6",
        "GET {url}: the query arrived as {}",
        e["query"]
    );
    let resp = call(
        t,
        request(Method::GET, server.url("/bytes/100000")),
        "GET 100 kB over IPv6",
    )
    .await?;
    let body = read_all(resp).await.map_err(|e| {
        fail(format!(
            "GET 100 kB over IPv6: reading the body failed: {e}"
        ))
    })?;
    ensure!(
        body == testkit::pattern_bytes(100_000),
        "GET 100 kB over IPv6: {} bytes arrived, not the ones sent",
        body.len()
    );
    Ok(())
}
