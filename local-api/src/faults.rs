//! Fault injection: queued misbehaviours that matching requests consume one at a time.
//!
//! A [`FaultRule`] selects requests by method and path prefix and holds a list of [`Fault`]s;
//! each matching request takes the next fault off the front. Rules are tried in the order they
//! were pushed, and a rule disappears once its faults are used up.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use http_body::{Frame, SizeHint};
use serde::{Deserialize, Serialize};
use tokio::time::Sleep;

use crate::error::ApiError;

/// One misbehaviour for one request. The parts combine, applied in this order: `delay_ms`,
/// then `reset` (nothing else happens after a reset), then `status` (answered instead of the
/// real handler), then `truncate_after_bytes` / `slow_body` on whatever body is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Answer with this status instead of running the endpoint. The body is the API's error
    /// JSON (type chosen from the status, e.g. 429 `rate-limit-exceeded`) unless `body` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` header value to send with `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Overrides `error.type` of the answer for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Overrides `error.message` of the answer for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A raw body to send with `status` instead of the error JSON (e.g. invalid JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `Content-Type` of `body` (default `application/json; charset=utf-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Reset the TCP connection (RST, via `SO_LINGER` 0) instead of answering.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
    /// Wait this long before answering (slow response headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Send the headers (with the full `Content-Length`) and only this many body bytes, then
    /// abort the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate_after_bytes: Option<u64>,
    /// Send the body slowly: `chunk_bytes` at a time, `delay_ms` apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_body: Option<SlowBody>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Pacing of a slow body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowBody {
    /// Bytes per chunk (at least 1).
    pub chunk_bytes: usize,
    /// Pause before each chunk after the first.
    pub delay_ms: u64,
}

impl Fault {
    /// Answer with `status` and the API's error body.
    pub fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    /// A 429 with `Retry-After`.
    pub fn rate_limited(retry_after: impl Into<String>) -> Self {
        Self {
            status: Some(429),
            retry_after: Some(retry_after.into()),
            ..Self::default()
        }
    }

    /// Reset the connection instead of answering.
    pub fn reset() -> Self {
        Self {
            reset: true,
            ..Self::default()
        }
    }

    /// Answer normally, but only after `ms` milliseconds.
    pub fn delay_ms(ms: u64) -> Self {
        Self {
            delay_ms: Some(ms),
            ..Self::default()
        }
    }

    /// Answer normally, but cut the body after `bytes` bytes.
    pub fn truncate_after_bytes(bytes: u64) -> Self {
        Self {
            truncate_after_bytes: Some(bytes),
            ..Self::default()
        }
    }

    /// Answer normally, with the body sent `chunk_bytes` at a time, `delay_ms` apart.
    pub fn slow_body(chunk_bytes: usize, delay_ms: u64) -> Self {
        Self {
            slow_body: Some(SlowBody {
                chunk_bytes,
                delay_ms,
            }),
            ..Self::default()
        }
    }

    /// The answer for a `status` fault.
    pub(crate) fn status_response(&self, status: u16) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match &self.body {
            Some(body) => {
                let mut r = (status, body.clone()).into_response();
                let ct = self
                    .content_type
                    .as_deref()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                    .unwrap_or(HeaderValue::from_static(crate::util::JSON_CONTENT_TYPE));
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
                r
            }
            None => {
                let (kind, message) = default_error(status);
                ApiError::new(
                    status,
                    self.error_type.clone().unwrap_or_else(|| kind.to_owned()),
                    self.message.clone().unwrap_or_else(|| message.to_owned()),
                )
                .into_response()
            }
        };
        if let Some(v) = self
            .retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }

    /// Whether the body of the answer needs wrapping.
    pub(crate) fn affects_body(&self) -> bool {
        self.truncate_after_bytes.is_some() || self.slow_body.is_some()
    }
}

/// The API's error type and message for a status.
fn default_error(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "invalid-input",
            "Invalid input: The request body contains invalid data.",
        ),
        401 => (
            "user-or-token-not-found",
            "User was not found or authentication token is not valid",
        ),
        403 => (
            "insufficient-permissions",
            "You do not have permission to perform this action.",
        ),
        404 => ("record-not-found", "The requested resource was not found."),
        405 => (
            "method-not-allowed",
            "This API end-point can not be accessed using this HTTP method.",
        ),
        408 => ("operation-timed-out", "The operation timed out."),
        409 => (
            "concurrent-update-detected",
            "A concurrent update was detected.",
        ),
        413 => ("request-too-large", "The POST payload is too large."),
        429 => (
            "rate-limit-exceeded",
            "You have exceeded the rate limit. Please try again later.",
        ),
        s if s >= 500 => (
            "internal-server-error",
            "Internal server error (injected fault).",
        ),
        _ => ("testing-error", "Injected fault."),
    }
}

/// Which requests a list of faults applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match (any when absent), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/v2/datasets` (any when absent). The control API
    /// (`/_control`) is never faulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Faults for the next matching requests, first one first.
    pub faults: Vec<Fault>,
}

impl FaultRule {
    /// Faults for every request, in order.
    pub fn any(faults: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            method: None,
            path_prefix: None,
            faults: faults.into_iter().collect(),
        }
    }

    /// Faults for requests with this method (`None`: any) under this path prefix.
    pub fn matching(
        method: Option<&str>,
        path_prefix: &str,
        faults: impl IntoIterator<Item = Fault>,
    ) -> Self {
        Self {
            method: method.map(str::to_owned),
            path_prefix: Some(path_prefix.to_owned()),
            faults: faults.into_iter().collect(),
        }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

/// The queued rules.
#[derive(Default)]
pub struct FaultQueue {
    rules: Mutex<Vec<FaultRule>>,
    /// Set while any fault is queued, so requests skip the lock when there is none (always,
    /// in benchmarks).
    armed: AtomicBool,
}

impl FaultQueue {
    /// Queues a rule behind the existing ones.
    pub fn push(&self, rule: FaultRule) {
        if rule.faults.is_empty() {
            return;
        }
        let mut rules = self.rules.lock().expect("faults lock poisoned");
        rules.push(rule);
        self.armed.store(true, Ordering::Release);
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        let mut rules = self.rules.lock().expect("faults lock poisoned");
        rules.clear();
        self.armed.store(false, Ordering::Release);
    }

    /// The rules still queued.
    pub fn pending(&self) -> Vec<FaultRule> {
        self.rules.lock().expect("faults lock poisoned").clone()
    }

    /// Takes the next fault for this request, if a rule matches it.
    pub fn take(&self, method: &Method, path: &str) -> Option<Fault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = self.rules.lock().expect("faults lock poisoned");
        let index = rules.iter().position(|r| r.matches(method, path))?;
        let fault = rules[index].faults.remove(0);
        if rules[index].faults.is_empty() {
            rules.remove(index);
        }
        if rules.is_empty() {
            self.armed.store(false, Ordering::Release);
        }
        Some(fault)
    }
}

/// A response body that misbehaves as a [`Fault`] says: cut short and/or paced.
pub struct FaultBody {
    inner: Body,
    remaining: Option<u64>,
    slow: Option<SlowBody>,
    pending: Bytes,
    sleep: Option<Pin<Box<Sleep>>>,
    /// A chunk went out already (the first one is not delayed).
    sent_any: bool,
    /// The pause before the current chunk is over.
    paused: bool,
    /// The pause that lets a truncated answer's bytes out is over.
    flushed: bool,
}

impl FaultBody {
    /// Wraps `inner` with the body parts of `fault`.
    pub fn new(inner: Body, fault: &Fault) -> Self {
        Self {
            inner,
            remaining: fault.truncate_after_bytes,
            slow: fault.slow_body,
            pending: Bytes::new(),
            sleep: None,
            sent_any: false,
            paused: false,
            flushed: false,
        }
    }
}

impl http_body::Body for FaultBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if !this.pending.is_empty() {
                if this.remaining == Some(0) {
                    if !this.flushed {
                        // hyper only flushes its write buffer when the body is pending: wait
                        // a moment so the headers and the allowed bytes really go out.
                        this.flushed = true;
                        this.sleep = Some(Box::pin(tokio::time::sleep(Duration::from_millis(20))));
                        continue;
                    }
                    // Returning an error makes hyper abort the connection mid-body.
                    return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::other(
                        "injected fault: body truncated",
                    )))));
                }
                let mut n = this.pending.len();
                if let Some(slow) = this.slow {
                    n = n.min(slow.chunk_bytes.max(1));
                    if this.sent_any && !this.paused {
                        // Pace every chunk after the first: pause, then come back to send it.
                        this.sleep = Some(Box::pin(tokio::time::sleep(Duration::from_millis(
                            slow.delay_ms,
                        ))));
                        this.paused = true;
                        continue;
                    }
                    this.paused = false;
                }
                if let Some(rem) = this.remaining.as_mut() {
                    n = n.min(usize::try_from(*rem).unwrap_or(usize::MAX));
                    *rem -= n as u64;
                }
                this.sent_any = true;
                return Poll::Ready(Some(Ok(Frame::data(this.pending.split_to(n)))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        // The full size, so the client is promised the whole body and sees the cut.
        http_body::Body::size_hint(&self.inner)
    }
}
