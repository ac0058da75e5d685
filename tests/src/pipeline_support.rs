//! Helpers for the pipeline suites (`tests/tests/pipeline_*.rs`): a pipeline over a transport
//! under test pointed at a [`TestServer`], fast settings, and transport wrappers that record
//! what the pipeline hands a transport or inject failures in front of it.
//!
//! The wrappers compose with any transport from [`crate::matrix`], so the same test
//! body runs for each one.

use std::{
    collections::VecDeque,
    io::{Read, Write},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apify_host::{
    pipeline::HttpSettings,
    transport::{CallFuture, HttpTransport, TransportError as Error, TransportRequest as Request},
    ApifyClient,
};
use testkit::{LoggedRequest, TestServer};

/// Settings that keep retry tests fast: 20 ms minimum backoff, 2 s tiers (generous: only the
/// timeout tests rely on a tier firing, and they set their own).
pub fn fast_settings() -> HttpSettings {
    HttpSettings::default()
        .max_retries(4)
        .min_delay_between_retries(Duration::from_millis(20))
        .timeout_short(Duration::from_secs(2))
        .timeout_medium(Duration::from_secs(2))
        .timeout_long(Duration::from_secs(2))
        .timeout_max(Duration::from_secs(10))
        .compress_requests(true)
}

/// A client over `transport` whose base URL is `server`.
pub fn pipeline_for(
    transport: Arc<dyn HttpTransport>,
    server: &TestServer,
    settings: HttpSettings,
    token: Option<&str>,
) -> ApifyClient {
    client_at(transport, settings, &server.url(""), token)
}

/// A client over `transport` whose base URL is `base_url`.
pub fn client_at(
    transport: Arc<dyn HttpTransport>,
    settings: HttpSettings,
    base_url: &str,
    token: Option<&str>,
) -> ApifyClient {
    let builder = ApifyClient::builder()
        .transport(transport)
        .settings(settings)
        .api_url(base_url);
    match token {
        Some(t) => builder.token(t),
        None => builder,
    }
    .build()
    .expect("client builds")
}

/// Time between two logged requests (`b` after `a`).
pub fn gap(a: &LoggedRequest, b: &LoggedRequest) -> Duration {
    b.received_at.saturating_duration_since(a.received_at)
}

/// Decompresses a gzip body.
///
/// # Panics
/// If `data` is not valid gzip.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// Gzips `data` (for bodies a caller sends pre-encoded).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// What the pipeline handed the transport for one attempt.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// The per-attempt timeout passed down in `Request::timeout`.
    pub timeout: Option<Duration>,
    /// The stream flag.
    pub stream: bool,
    /// The body as handed to the transport, when it was whole (`None` for a streamed one).
    pub body: Option<bytes::Bytes>,
    /// When the pipeline called the transport.
    pub at: Instant,
}

/// Wraps a transport: records every request it is given, then optionally answers the first
/// calls with scripted errors instead of delegating, then delegates.
pub struct Recording {
    inner: Arc<dyn HttpTransport>,
    seen: Mutex<Vec<SeenRequest>>,
    fail_first: Mutex<VecDeque<Error>>,
    strip_timeout: bool,
}

impl Recording {
    /// Records, delegates everything.
    pub fn new(inner: Arc<dyn HttpTransport>) -> Arc<Self> {
        Arc::new(Recording {
            inner,
            seen: Mutex::default(),
            fail_first: Mutex::default(),
            strip_timeout: false,
        })
    }

    /// Records; the first `errors.len()` calls fail with these errors without reaching the
    /// inner transport (a transport failing before anything hits the wire).
    pub fn failing_first(inner: Arc<dyn HttpTransport>, errors: Vec<Error>) -> Arc<Self> {
        Arc::new(Recording {
            inner,
            seen: Mutex::default(),
            fail_first: Mutex::new(errors.into()),
            strip_timeout: false,
        })
    }

    /// Records, but hands the inner transport no timeout: a transport that ignores timeouts,
    /// so only the host's own limit can end a hanging exchange.
    pub fn ignoring_timeouts(inner: Arc<dyn HttpTransport>) -> Arc<Self> {
        Arc::new(Recording {
            inner,
            seen: Mutex::default(),
            fail_first: Mutex::default(),
            strip_timeout: true,
        })
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl HttpTransport for Recording {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn call(&self, mut request: Request) -> CallFuture {
        self.seen.lock().unwrap().push(SeenRequest {
            timeout: request.timeout,
            stream: request.stream,
            body: request.body.as_bytes().cloned(),
            at: Instant::now(),
        });
        if let Some(e) = self.fail_first.lock().unwrap().pop_front() {
            return Box::pin(async move { Err(e) });
        }
        if self.strip_timeout {
            request.timeout = None;
        }
        self.inner.call(request)
    }
}

/// Checks the Apify `User-Agent` shape:
/// `ApifyClient/{semver} ({os}; Rust/{x.y.z...}); isAtHome/{true|false}`; returns the
/// `isAtHome` value.
pub fn parse_user_agent(ua: &str) -> Option<bool> {
    let rest = ua.strip_prefix("ApifyClient/")?;
    let (version, rest) = rest.split_once(" (")?;
    let is_version = |v: &str| {
        let parts: Vec<_> = v.split(['.', '-']).collect();
        parts.len() >= 3
            && parts[..3]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !is_version(version) {
        return None;
    }
    let (os, rest) = rest.split_once("; Rust/")?;
    if os != std::env::consts::OS {
        return None;
    }
    let (rustc, at_home) = rest.split_once("); isAtHome/")?;
    if !is_version(rustc) {
        return None;
    }
    match at_home {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A `tracing` subscriber writing into a shared buffer, for asserting on log output.
///
/// Installed as the process-wide default, once per test binary: a thread-scoped subscriber
/// (`tracing::subscriber::set_default`) misses events whose callsite another thread hit first
/// while it was the only registered subscriber (tracing then caches that thread's "never"
/// interest), which makes such tests flaky when they run beside others. The buffer therefore
/// also holds the logs of the other tests of the same binary.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The capture of this test binary, installed as the global default on first use.
    ///
    /// # Panics
    /// If something else already installed a global subscriber.
    pub fn global() -> &'static LogCapture {
        static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global tracing subscriber in this test binary");
            capture
        })
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
