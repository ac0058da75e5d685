//! The transport conformance suite: every rule of the transport contract (the crate docs of
//! `apify-plugin-api`) that can be checked, as cases run against a transport and loopback
//! servers the suite starts itself.
//!
//! One suite, two front ends: `apify-host transport check PATH` runs it from the shipped binary
//! (no cargo, no checkout), and the workspace tests (`tests/tests/conformance.rs`) run every case
//! against every transport we ship.
//!
//! A case returns `Err(why)` instead of panicking, so a front end can print one line per case.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use apify_host::transport::HttpTransport;
use apify_plugin_api::Capabilities;
use serde::Serialize;

mod pipeline_cases;
mod support;
mod tls;
mod transport_cases;
mod wire_cases;

/// Builds another client of the transport under test, with these options added to the ones
/// it was built with (`{"ca_cert_file": "/tmp/..."}`); `Err` is why it refused them.
pub type Constructor = Arc<
    dyn Fn(serde_json::Map<String, serde_json::Value>) -> Result<Arc<dyn HttpTransport>, String>
        + Send
        + Sync,
>;

/// The transport under test, with what it claims.
#[derive(Clone)]
pub struct Subject {
    /// The transport.
    pub transport: Arc<dyn HttpTransport>,
    /// What it claims to support (the plugin's metadata; everything for the built-in one).
    pub capabilities: Capabilities,
    /// How to build it again with more options, for the cases that need one (`https-success`
    /// passes the CA it made as `ca_cert_file`); `None` skips those cases.
    pub constructor: Option<Constructor>,
}

impl Subject {
    /// The transport and its claims, with no way to build it again (see
    /// [`Subject::with_constructor`]).
    pub fn new(transport: Arc<dyn HttpTransport>, capabilities: Capabilities) -> Subject {
        Subject {
            transport,
            capabilities,
            constructor: None,
        }
    }

    /// Adds how to build the transport again with more options.
    pub fn with_constructor(mut self, constructor: Constructor) -> Subject {
        self.constructor = Some(constructor);
        self
    }
}

/// What a case found: `Ok(())`, [`Verdict::Skip`] or [`Verdict::Fail`], each with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The case does not apply to this transport (e.g. no TLS claimed); why.
    Skip(String),
    /// A rule is broken; what was seen, in a sentence.
    Fail(String),
}

/// What a case function returns.
pub type CaseResult = Result<(), Verdict>;

type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One case: a name, the contract rule it checks, and the check.
pub struct Case {
    /// The case's name, also the rule's name where the contract names one (`no-redirects`).
    pub name: &'static str,
    /// The rule in a sentence, as the contract states it.
    pub rule: &'static str,
    run: fn(Subject) -> CaseFuture,
}

impl Case {
    /// Runs the case (bounded by [`CASE_LIMIT`]: a transport that hangs fails it).
    pub async fn run(&self, subject: Subject) -> CaseResult {
        self.run_within(subject, CASE_LIMIT).await
    }

    /// Runs the case, bounded by `limit`. The bound is a tokio timer: it cannot fire while
    /// the transport blocks the runtime's thread (a front end needs a watchdog thread too).
    pub async fn run_within(&self, subject: Subject, limit: Duration) -> CaseResult {
        match tokio::time::timeout(limit, (self.run)(subject)).await {
            Ok(result) => result,
            Err(_) => Err(Verdict::Fail(format!(
                "the case did not finish within {} s: the transport hangs",
                limit.as_secs_f64()
            ))),
        }
    }
}

/// The longest a case may take, whatever the transport does.
pub const CASE_LIMIT: Duration = Duration::from_secs(120);

macro_rules! cases {
    ($($module:ident :: $f:ident => $name:literal : $rule:literal,)+) => {
        /// Every case, in the order the front ends run them.
        pub fn cases() -> &'static [Case] {
            const CASES: &[Case] = &[$(Case {
                name: $name,
                rule: $rule,
                run: |s| Box::pin($module::$f(s)),
            },)+];
            CASES
        }
    };
}

cases! {
    transport_cases::methods_and_bodies => "methods-and-bodies":
        "GET, POST, PUT and DELETE reach the server with their bodies byte for byte",
    transport_cases::headers_and_query => "headers-and-query":
        "the request's headers (repeated ones too) and query string are sent as given, and the response's headers come back",
    transport_cases::empty_body => "empty-body":
        "an empty body is sent as no body (no chunked encoding)",
    transport_cases::streamed_upload => "streamed-upload":
        "a streamed request body arrives whole, with and without a known length, framed once",
    transport_cases::statuses_are_responses => "statuses-are-responses":
        "4xx and 5xx are responses, not errors",
    transport_cases::no_redirects => "no-redirects":
        "a 3xx is returned as the response, never followed",
    transport_cases::no_added_headers => "no-added-headers":
        "the server receives only the request's headers, plus framing (Host, Content-Length, Transfer-Encoding)",
    transport_cases::no_decompression => "no-decompression":
        "a gzip response comes back as the bytes sent, with its Content-Encoding",
    transport_cases::connect_error => "connect-error":
        "a refused connection is a CONNECT error",
    transport_cases::timeout_error => "timeout-error":
        "a transport claiming `timeouts`: no response head within Request::timeout is a TIMEOUT error, on time",
    transport_cases::io_error => "io-error":
        "a connection reset in the middle of the body is an IO error",
    transport_cases::truncated_body => "truncated-body-is-an-error":
        "a body shorter than its Content-Length, or chunked without its last chunk, ends with an error, not a clean end",
    transport_cases::interim_responses => "interim-responses":
        "interim 1xx responses (103 Early Hints) are skipped: the final response is returned",
    transport_cases::large_streamed_body => "large-streamed-body":
        "a 200 MB body streams in chunks with the right sha256",
    transport_cases::tls_error => "tls-error":
        "a transport claiming `tls`: a failed TLS handshake is a TLS error, not retried",
    transport_cases::drop_closes_connection => "drop-closes-connection":
        "dropping a response body mid-stream closes its connection",
    wire_cases::host_header => "host-header":
        "RFC 9112 §3.2: one Host header, equal to the URL's authority (the default port left out, an IPv6 address in brackets)",
    wire_cases::origin_form => "origin-form":
        "RFC 9112 §3.2.1: the request line is in origin form (`GET /path?query HTTP/1.1`, no scheme or host), byte-identical to the built-in transport's",
    wire_cases::https_success => "https-success":
        "a transport claiming `tls`: an https exchange succeeds against a server whose CA is given in the standard `ca_cert_file` option",
    wire_cases::keep_alive_reuse => "keep-alive-reuse":
        "RFC 9112 §9.3: 20 sequential calls to one server, 10 ms apart, use at most 2 connections (persistent connections are reused)",
    wire_cases::stale_keep_alive => "stale-keep-alive":
        "RFC 9112 §9.6: when the server has closed an idle connection (without `Connection: close`), the next call opens a new one and succeeds on its first attempt",
    wire_cases::concurrency => "concurrency":
        "64 calls in flight at once each get their own response: every body arrives whole, by sha256, none mixed with another",
    wire_cases::bodiless_responses => "bodiless-responses":
        "RFC 9112 §6.3: a HEAD response, a 204 and a 304 have no body, whatever their Content-Length: the call ends at the head, and the next call on the connection is not disturbed",
    wire_cases::ipv6 => "ipv6":
        "a URL with an IPv6 literal (`http://[::1]:PORT/`) connects to that address and is answered (skipped where the machine has no IPv6 loopback)",
    pipeline_cases::retries_5xx => "pipeline-retries-5xx":
        "through the client, 500 and 503 are retried until a 200",
    pipeline_cases::retries_reset => "pipeline-retries-reset":
        "through the client, a connection reset before the response is retried",
    pipeline_cases::no_retry_4xx => "pipeline-no-retry-4xx":
        "through the client, a 404 is reported at once, not retried",
    pipeline_cases::timeout_kind => "pipeline-timeout":
        "through the client, a server that never answers is a timeout error after the retries",
    pipeline_cases::same_wire_as_builtin => "same-wire-as-builtin":
        "through the client, odd record keys and ids (`a/../b`, `q?x#y`, `%`, `é`...) reach the server with the method, path and query byte-identical to the built-in transport's: never decoded, re-encoded or normalised (the request line's form is `origin-form`'s rule)",
}

/// The case named `name`.
pub fn case(name: &str) -> Option<&'static Case> {
    cases().iter().find(|c| c.name == name)
}

/// The outcome of one case, for a report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The case.
    pub case: &'static str,
    /// The rule it checks.
    pub rule: &'static str,
    /// Passed, failed or skipped (`"pass"`, `"fail"`, `"skip"` in JSON).
    pub result: Status,
    /// Why it failed or was skipped; empty for a pass.
    pub why: String,
    /// How to fix a known mistake behind the failure (a front end recognises some); empty
    /// when there is none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

impl Outcome {
    /// Runs `case` on `subject` and times it.
    pub async fn of(case: &'static Case, subject: Subject) -> Outcome {
        Outcome::within(case, subject, CASE_LIMIT).await
    }

    /// Runs `case` on `subject`, bounded by `limit` (see [`Case::run_within`]), and times it.
    pub async fn within(case: &'static Case, subject: Subject, limit: Duration) -> Outcome {
        let started = std::time::Instant::now();
        let verdict = case.run_within(subject, limit).await;
        let (result, why) = match verdict {
            Ok(()) => (Status::Pass, String::new()),
            Err(Verdict::Skip(why)) => (Status::Skip, why),
            Err(Verdict::Fail(why)) => (Status::Fail, why),
        };
        Outcome {
            case: case.name,
            rule: case.rule,
            result,
            why,
            hint: String::new(),
            millis: started.elapsed().as_millis() as u64,
        }
    }

    /// Whether the case passed or did not apply.
    pub fn ok(&self) -> bool {
        self.result != Status::Fail
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The transport kept the rule.
    Pass,
    /// The transport broke the rule.
    Fail,
    /// The case does not apply to this transport.
    Skip,
}
