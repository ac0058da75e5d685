//! Prism (Stoplight's OpenAPI mock server) as a request validator for contract tests.
//!
//! - [`Prism::start`] runs `prism mock --errors <spec>` on a free loopback port and kills it
//!   (its whole process group) when the guard drops;
//! - [`Recorder`] is an in-process transport that delegates to the built-in one and records
//!   every exchange with Prism's verdict on the request;
//! - [`RecordingProxy`] does the same for another process (the CLI): a reverse proxy that
//!   forwards requests and responses unchanged (method, target, headers, body bytes).
//!
//! With `--errors`, Prism answers a request that violates the spec with an error status and
//! lists the violations in the `sl-violations` header (and, for its own errors, in an
//! `application/problem+json` body). [`judge`] turns that into a [`Verdict`].

// Shared with `host/tests/spec_coverage.rs` (by `#[path]`), which uses the in-process
// `Recorder` and not the proxy; the CLI's tests use the proxy. Each leaves part unused.
#![allow(dead_code)]

use std::{
    convert::Infallible,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};

use apify_host::transport::{
    BuiltinTransport, CallFuture, HttpTransport, TransportRequest as Request,
};

/// The Prism binary installed by `npm install --prefix tools/prism`.
pub const PRISM_BIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tools/prism/node_modules/.bin/prism"
);

/// The official Apify OpenAPI spec (shared, never copied into the repository).
pub const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/apify-openapi.json"
);

/// How long Prism may take to load the spec and listen.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Prism mock server; killed on drop.
pub struct Prism {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prism {
    /// Starts Prism and waits until it answers. `None` when Prism is not installed and `CI` is
    /// not set (the caller then skips); with `CI` set, a missing Prism fails the test.
    pub fn start() -> Option<Prism> {
        if !Path::new(PRISM_BIN).exists() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "prism is not installed at {PRISM_BIN}: run `npm install --prefix tools/prism` \
                     (from the workspace root) before the contract tests"
                );
            }
            println!("SKIPPED: prism not installed (run npm install --prefix tools/prism)");
            return None;
        }
        assert!(
            Path::new(SPEC).is_file(),
            "the Apify OpenAPI spec is missing at {SPEC}"
        );
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir for the Prism log");
        let log_path = dir.path().join("prism.log");
        let log = std::fs::File::create(&log_path).expect("Prism log file");
        let mut cmd = Command::new(PRISM_BIN);
        cmd.args([
            "mock",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--errors",
            SPEC,
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        // Its own process group, so the guard can kill whatever node starts.
        .process_group(0);
        // If this test process dies without unwinding (SIGKILL), do not leave Prism behind.
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PRISM_BIN} (is node installed?): {e}"));
        let mut prism = Prism {
            child,
            port,
            log_path,
            _dir: dir,
        };
        prism.wait_ready();
        Some(prism)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last `n` lines of Prism's output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "prism exited with {status} before listening; its output:\n{}",
                    self.log_tail(40)
                );
            }
            if self.answers() {
                return;
            }
            if start.elapsed() > STARTUP_TIMEOUT {
                panic!(
                    "prism did not answer on port {} within {STARTUP_TIMEOUT:?}; its output:\n{}",
                    self.port,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Whether Prism answers an HTTP request (it listens only once the spec is loaded).
    fn answers(&self) -> bool {
        let addr = ([127, 0, 0, 1], self.port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = "GET /v2/users/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n\
                   Connection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signals our own child's process group (created with process_group(0)).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; also reaps anything of the group that ignored SIGTERM.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// What Prism made of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Valid per the spec.
    Accepted,
    /// Valid, but Prism could not build a response from the spec's examples (e.g.
    /// `NO_COMPLEX_OBJECT_TEXT`): a mock limitation, not a request problem.
    MockLimitation(String),
    /// The request violates the spec: the violations as Prism states them.
    Rejected(String),
    /// No response (transport failure).
    NoResponse(String),
}

impl Verdict {
    /// Prism found the request invalid, or there was no answer at all.
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Rejected(_) | Verdict::NoResponse(_))
    }
}

/// One recorded exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request method.
    pub method: String,
    /// Path and query as sent (percent-encoded).
    pub target: String,
    /// The response status (0 without a response).
    pub status: u16,
    /// Prism's verdict on the request.
    pub verdict: Verdict,
    /// Violations of severity below `Error` (reported, not failed).
    pub warnings: Vec<String>,
}

impl Exchange {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// A shared list of exchanges.
pub type Log = Arc<Mutex<Vec<Exchange>>>;

/// Takes (and clears) the exchanges recorded so far.
pub fn take(log: &Log) -> Vec<Exchange> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Prism error types that come from building the response, not from validating the request.
const MOCK_LIMITATIONS: &[&str] = &["NO_COMPLEX_OBJECT_TEXT", "NO_RESPONSE_DEFINED"];

/// Whether the response body should be read to judge the request.
fn needs_body(status: u16, headers: &HeaderMap) -> bool {
    status >= 400 || headers.contains_key("sl-violations") || is_problem(headers)
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/problem+json")
        })
}

/// Prism's verdict on a request, from the response status, headers and (for error answers)
/// body; plus the violations of lower severity.
pub fn judge(status: u16, headers: &HeaderMap, body: &[u8]) -> (Verdict, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for v in headers.get_all("sl-violations") {
        let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(list)) => {
                for item in list {
                    let loc = item["location"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .map(|p| p.as_str().map_or(p.to_string(), str::to_string))
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let line = format!(
                        "{loc}: {} [{}]",
                        item["message"].as_str().unwrap_or("?"),
                        item["code"]
                    );
                    if item["severity"].as_str() == Some("Error") {
                        errors.push(line);
                    } else {
                        warnings.push(line);
                    }
                }
            }
            _ => errors.push(format!("unparsable sl-violations header: {text}")),
        }
    }
    if !errors.is_empty() {
        return (Verdict::Rejected(errors.join("; ")), warnings);
    }
    if is_problem(headers) {
        let p: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let kind = p["type"]
            .as_str()
            .unwrap_or("")
            .rsplit('#')
            .next()
            .unwrap_or("");
        let mut text = format!(
            "{status} {}: {}",
            p["title"].as_str().unwrap_or(kind),
            p["detail"].as_str().unwrap_or("")
        );
        if let Some(v) = p.get("validation") {
            text.push_str(&format!(" {v}"));
        }
        return if MOCK_LIMITATIONS.contains(&kind) {
            (Verdict::MockLimitation(text), warnings)
        } else {
            (Verdict::Rejected(text), warnings)
        };
    }
    if status >= 400 {
        // Prism answers a valid request with the spec's first 2xx response: an error status
        // without any violation is still not an acceptance.
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return (
            Verdict::Rejected(format!("status {status} without violations: {text}")),
            warnings,
        );
    }
    (Verdict::Accepted, warnings)
}

/// An in-process transport that delegates to the built-in one and records every exchange.
pub struct Recorder {
    inner: BuiltinTransport,
    log: Log,
}

impl Recorder {
    /// A recorder writing to `log`.
    pub fn new(log: Log) -> Self {
        Recorder {
            inner: BuiltinTransport::new().expect("built-in transport"),
            log,
        }
    }
}

impl HttpTransport for Recorder {
    fn name(&self) -> &str {
        "prism-recorder"
    }

    fn call(&self, request: Request) -> CallFuture {
        let method = request.method.to_string();
        let target = match url::Url::parse(&request.url) {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            },
            Err(_) => request.url.clone(),
        };
        let log = self.log.clone();
        let fut = self.inner.call(request);
        Box::pin(async move {
            let mut resp = match fut.await {
                Ok(r) => r,
                Err(e) => {
                    log.lock().unwrap().push(Exchange {
                        method,
                        target,
                        status: 0,
                        verdict: Verdict::NoResponse(e.to_string()),
                        warnings: Vec::new(),
                    });
                    return Err(e);
                }
            };
            let status = resp.status.as_u16();
            let body = if needs_body(status, &resp.headers) {
                // Read the (small) error body to judge it, and hand the same bytes on.
                let mut buf = Vec::new();
                while let Some(chunk) = resp.body.next().await {
                    buf.extend_from_slice(&chunk?);
                }
                let bytes = Bytes::from(buf);
                let again = bytes.clone();
                resp.body = Box::pin(futures_util::stream::once(async move { Ok(again) }));
                bytes
            } else {
                Bytes::new()
            };
            let (verdict, warnings) = judge(status, &resp.headers, &body);
            log.lock().unwrap().push(Exchange {
                method,
                target,
                status,
                verdict,
                warnings,
            });
            Ok(resp)
        })
    }
}

/// A reverse proxy on 127.0.0.1 in front of Prism: forwards each request (method, target,
/// headers, body bytes) and each response (status, headers, body bytes) unchanged, and
/// records the exchange with Prism's verdict.
pub struct RecordingProxy {
    /// The proxy's port.
    pub port: u16,
    /// What went through it.
    pub log: Log,
    task: tokio::task::JoinHandle<()>,
}

type Upstream = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

impl RecordingProxy {
    /// Starts the proxy on the current tokio runtime, forwarding to `127.0.0.1:upstream_port`.
    pub async fn start(upstream_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let log: Log = Arc::default();
        let client: Upstream =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let client = client.clone();
                let log = task_log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, upstream_port, client.clone(), log.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RecordingProxy { port, log, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    req: hyper::Request<hyper::body::Incoming>,
    upstream_port: u16,
    client: Upstream,
    log: Log,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let record = |status: u16, verdict: Verdict, warnings: Vec<String>| {
        log.lock().unwrap().push(Exchange {
            method: method.clone(),
            target: target.clone(),
            status,
            verdict,
            warnings,
        });
    };
    let fail = |msg: String| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(msg)));
        *r.status_mut() = http::StatusCode::BAD_GATEWAY;
        r
    };
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            record(
                0,
                Verdict::NoResponse(format!("proxy: request body: {e}")),
                vec![],
            );
            return Ok(fail(format!("proxy: cannot read the request body: {e}")));
        }
    };
    // Same target on the upstream; the headers (Host included) stay as the client sent them.
    parts.uri = format!("http://127.0.0.1:{upstream_port}{target}")
        .parse()
        .expect("upstream URI");
    let resp = match client
        .request(hyper::Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            record(0, Verdict::NoResponse(format!("proxy: {e}")), vec![]);
            return Ok(fail(format!("proxy: upstream failed: {e}")));
        }
    };
    let (parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            record(
                0,
                Verdict::NoResponse(format!("proxy: response body: {e}")),
                vec![],
            );
            return Ok(fail(format!("proxy: cannot read the response body: {e}")));
        }
    };
    let status = parts.status.as_u16();
    let (verdict, warnings) = judge(status, &parts.headers, &bytes);
    record(status, verdict, warnings);
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}
