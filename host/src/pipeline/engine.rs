//! Step 3 of the pipeline: the loop. Prepare once ([`super::prepare`]), then attempt, classify
//! ([`super::retry`]), wait and attempt again.
//!
//! Everything here runs above the transport, so a plugin only ever performs one exchange and
//! every transport gets the same retries, timeouts, error mapping, statistics and logs.
//!
//! Bounds, so that no server can make a call hang or grow without limit: every body read has
//! an idle limit (the attempt's timeout, or `stream_idle_timeout` for streamed bodies); a body
//! read into memory is capped at `max_body_bytes`; every body is checked against its
//! `Content-Length`; a streamed `GET` that breaks mid-body resumes with `Range` ([`resume`]).

mod resume;

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, StatusCode};

use super::{
    prepare::{self, PreparedBody, PreparedRequest},
    retry,
    sink::{Accumulator, BodySink, Whole},
    slot::{LineupChange, Route, TransportSlot, TransportStatistics, TransportSwap},
    stats::Statistics,
    upload::{gzip_stream, OpenError},
    ApiRequest, ApiResponse, ByteStream, HttpSettings, TimeoutTier,
};
use crate::{
    error::{ApiError, Error, TransportFailure},
    token::Token,
    transport::{
        HttpTransport, TransportBody as Body, TransportError, TransportErrorKind as ErrorKind,
        TransportRequest as Request, TransportRequestBody as RequestBody,
    },
};

/// How much of an error response body is read for its message. Error bodies are small JSON;
/// a proxy's error page may not be, and only the first part of it is worth showing.
const ERROR_BODY_LIMIT: usize = 1 << 20;

/// Runs every API call of one client through the same steps, whatever the transport.
///
/// Cheap to clone (the transport and the counters are shared): a resuming body stream holds
/// a clone to send its `Range` requests.
pub struct Pipeline {
    /// The transport in service, swappable while calls run (see [`super::slot`]).
    transport: TransportSlot,
    settings: HttpSettings,
    /// API base URL without a trailing slash, e.g. `https://api.apify.com`.
    base_url: String,
    /// The globally reachable API URL that public (signed) storage URLs are built on, when
    /// it differs from `base_url` (an internal URL); see [`Pipeline::public_url`].
    public_url: Option<String>,
    token: Option<Token>,
    default_headers: HeaderMap,
    stats: Statistics,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("transport", &self.transport.name())
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why one attempt did not produce a response for the caller, and whether to try again.
struct AttemptFailure {
    error: Error,
    retryable: bool,
    /// The server's `Retry-After` (429/503 only).
    retry_after: Option<Duration>,
    /// The attempt failed at the transport level (no answer, or a broken one), not with an
    /// HTTP status: on a canary, the call goes on on the primary.
    transport_level: bool,
}

impl Pipeline {
    /// A pipeline over `transport`. Default headers (including `APIFY_IS_AT_HOME` and
    /// `APIFY_WORKFLOW_KEY` from the environment) are computed here, once.
    pub fn new(
        transport: Arc<dyn HttpTransport>,
        settings: HttpSettings,
        base_url: &str,
        token: Option<Token>,
    ) -> Self {
        Pipeline {
            transport: TransportSlot::new(transport, settings.drain_timeout),
            settings,
            base_url: base_url.trim_end_matches('/').to_string(),
            public_url: None,
            default_headers: prepare::default_headers(token.as_ref()),
            token,
            stats: Statistics::default(),
        }
    }

    /// The name of the transport in service.
    pub fn transport_name(&self) -> Arc<str> {
        self.transport.name()
    }

    /// Puts `transport` in service for new calls; the old one drains.
    pub fn swap_transport(&self, transport: Arc<dyn HttpTransport>) -> TransportSwap {
        self.transport.change(LineupChange::primary(transport))
    }

    /// Changes the primary and/or the canary at once; what they replace drains.
    pub(crate) fn change_transports(&self, change: LineupChange) -> TransportSwap {
        self.transport.change(change)
    }

    /// The statistics of each transport: the one in service, then those draining.
    pub fn transport_statistics(&self) -> Vec<TransportStatistics> {
        self.transport.statistics()
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same pipeline whose public storage URLs are built on `url` (normalized by the
    /// caller: no trailing `/` or `/v2`).
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url;
        self
    }

    /// The base of public storage URLs: the `api_public_url` setting, else the API URL.
    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or(&self.base_url)
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The counters of this pipeline (and so of its transport).
    pub fn statistics(&self) -> &Statistics {
        &self.stats
    }

    /// The token, if any (never printed: its `Debug` is redacted).
    pub(crate) fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Sends one API call and returns its 2xx response, or the error of its last attempt.
    ///
    /// Retries 429, 5xx and transient transport errors up to `max_retries` times with jittered
    /// exponential backoff (or the server's longer `Retry-After`); each attempt's timeout
    /// doubles. Without [`ApiRequest::stream`], the body is read whole inside the loop (a reset
    /// mid-body is retried) and the response carries it in memory; with it, the caller gets
    /// the body stream as it arrives, and a failure mid-stream is the caller's to handle.
    ///
    /// A streamed body is bounded too: each chunk must arrive within `stream_idle_timeout`,
    /// its length must match `Content-Length`, and a body announced at most `read_whole_below`
    /// bytes long is read whole inside the loop (so a small streamed answer is retried like any
    /// other). A streamed `GET` that breaks mid-body is resumed with `Range: bytes=N-` up to
    /// `max_resumes` times when the server supports ranges, or restarted while nothing has
    /// been delivered yet; otherwise the stream's error says how many bytes were delivered.
    ///
    /// With an [`super::AbortHandle`] on the request, aborting it ends the call wherever it is
    /// (the transport's exchange is dropped, closing its connection) and ends a streamed body.
    pub async fn call(self: &Arc<Self>, req: ApiRequest) -> Result<ApiResponse, Error> {
        let Some(abort) = req.abort.clone() else {
            return self.call_to_the_end(req).await;
        };
        let what = format!("{} {}", req.method, req.path);
        if abort.is_aborted() {
            return Err(Error::aborted(format!(
                "{what}: not sent, its abort handle was already aborted"
            )));
        }
        tokio::select! {
            biased;
            _ = abort.aborted() => Err(Error::aborted(format!(
                "{what}: aborted by its abort handle"
            ))),
            r = self.call_to_the_end(req) => r.map(|resp| resp.abortable(&abort, what)),
        }
    }

    /// [`Pipeline::call`] without the abort handle.
    async fn call_to_the_end(self: &Arc<Self>, req: ApiRequest) -> Result<ApiResponse, Error> {
        self.stats.add_call();
        let response = self.call_once(&req).await?;
        let resumable = req.stream
            && req.method == http::Method::GET
            && self.settings.max_resumes > 0
            && response.buffered_body().is_none();
        Ok(if resumable {
            resume::resuming(Arc::clone(self), req, response)
        } else {
            response
        })
    }

    /// The retry loop of one call (no resume): its 2xx response or its last error.
    async fn call_once(&self, req: &ApiRequest) -> Result<ApiResponse, Error> {
        // Once, before any attempt: retries re-send the same (compressed) bytes.
        let prepared = prepare::prepare(
            req,
            &self.base_url,
            &self.default_headers,
            self.settings.compress_requests,
        )
        .await?;
        let max_attempts = self.settings.max_retries.saturating_add(1);
        let mut attempt = 1;
        let mut route = Route::Undecided {
            replayable: prepared.is_replayable(),
        };
        loop {
            let failure = match self.attempt(req, &prepared, attempt, &mut route).await {
                Ok(response) => return Ok(response),
                Err(f) => f,
            };
            let idempotent = matches!(
                req.method,
                http::Method::GET | http::Method::HEAD | http::Method::PUT | http::Method::DELETE
            );
            // Failures that happen before the request leaves: nothing was acted on.
            let unsent = matches!(
                failure.error.transport_error_kind(),
                Some(ErrorKind::CONNECT | ErrorKind::TLS | ErrorKind::INVALID_REQUEST)
            );
            if route == Route::Canary
                && failure.transport_level
                && (failure.retryable || idempotent || unsent)
            {
                // The canary failed to exchange: the call goes on on the primary at once,
                // without using one of its retries, so a canary never costs a failed call.
                // Not when the server may have acted on it and sending it again could do it
                // twice (a POST that failed after it was sent, e.g. a plugin that panics on
                // the answer): that error is the caller's, as it would be on the primary.
                tracing::debug!(
                    method = %req.method,
                    path = %req.path,
                    attempt,
                    "the canary transport failed; sending the call on the primary"
                );
                route = Route::Primary;
                continue;
            }
            if !failure.retryable || attempt >= max_attempts {
                return Err(failure.error);
            }
            let backoff = retry::random_backoff(self.settings.min_delay_between_retries, attempt);
            let delay = retry::delay_before_retry(&self.settings, backoff, failure.retry_after);
            tracing::debug!(
                method = %req.method,
                path = %req.path,
                attempt,
                delay_ms = delay.as_millis() as u64,
                retry_after_ms = failure.retry_after.map(|d| d.as_millis() as u64),
                transport = &*self.transport.name(),
                "retrying API request"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: send, then read what the caller (or the error) needs.
    async fn attempt(
        &self,
        req: &ApiRequest,
        prepared: &PreparedRequest,
        attempt: u32,
        route: &mut Route,
    ) -> Result<ApiResponse, AttemptFailure> {
        self.stats.add_request();
        let timeout = self.timeout_for(req.timeout, attempt);
        let started = Instant::now();
        // This attempt's transport, held until its exchange has ended (its body included).
        let lease = self.transport.lease(route);
        let context = TransportFailure {
            kind: ErrorKind::OTHER,
            message: String::new(),
            attempt,
            method: req.method.clone(),
            path: req.path.clone(),
            transport: lease.name().to_string(),
            retryable: false,
        };
        // Bytes of a one-time upload the transport has taken, for the verdict on a failure
        // (a buffered body or a file can always be sent again: nothing to count).
        let sent = match &prepared.body {
            PreparedBody::Upload { body, .. } if !body.is_replayable() => {
                Some(Arc::new(AtomicU64::new(0)))
            }
            _ => None,
        };
        let body = match &prepared.body {
            PreparedBody::Bytes(b) => RequestBody::Full(b.clone()),
            PreparedBody::Upload { body, gzip } => match body.open(sent.as_ref()) {
                Ok(stream) if *gzip => RequestBody::Stream {
                    stream: gzip_stream(stream),
                    length: None,
                },
                Ok(stream) => RequestBody::Stream {
                    stream,
                    length: body.len(),
                },
                Err(OpenError::AlreadySent) => {
                    return Err(AttemptFailure {
                        error: Error::invalid_input(format!(
                            "{} {}: the request body was a one-time stream (such as standard \
                             input) that an earlier attempt already used, so it cannot be \
                             sent again; send a file instead to have failed attempts retried",
                            req.method, req.path
                        )),
                        retryable: false,
                        retry_after: None,
                        transport_level: false,
                    })
                }
            },
        };
        let request = Request {
            method: prepared.method.clone(),
            url: prepared.url.clone(),
            headers: prepared.headers.clone(),
            body,
            timeout,
            stream: prepared.stream,
        };

        // The transport gets the timeout too, but the host enforces it as well, so a hanging
        // plugin cannot hang the caller.
        let head = within(timeout, lease.call(request), "no response head").await;
        let response = match head {
            Ok(r) => r,
            Err(mut e) => {
                self.transport
                    .record(&lease, started.elapsed(), Some(&e.kind));
                // A one-time body that is partly sent cannot go again: the failure is final,
                // and says why, instead of a retry sending a body without its beginning.
                let sent = sent.map_or(0, |n| n.load(Ordering::Relaxed));
                if sent > 0 && retry::is_retryable_transport_error(&e) {
                    e.message = format!(
                        "{}; the request body was a one-time stream (such as standard input) \
                         and {sent} bytes of it had been sent, so it cannot be sent again and \
                         the call was not retried: the server stored nothing of this request. \
                         Send a file instead (`@path` in the CLI) to have failed attempts retried",
                        e.message
                    );
                    let mut failure = self.transport_failure(context, e, started);
                    failure.retryable = false;
                    return Err(failure);
                }
                return Err(self.transport_failure(context, e, started));
            }
        };
        let status = response.status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.add_rate_limit_error(attempt);
        }

        if status.is_success() {
            let announced = content_length(&response.headers);
            // The length a body must have: none for HEAD and 204, whose headers describe
            // a body that is not sent.
            let expected = announced
                .filter(|_| req.method != http::Method::HEAD && status != StatusCode::NO_CONTENT);
            let cap = self.settings.max_body_bytes;
            // A sink reads the body inside the loop too: it is how the caller gets it.
            let read_whole = req.sink.is_some()
                || !req.stream
                || announced.is_some_and(|n| n <= self.settings.read_whole_below);
            let body = if read_whole {
                if let Some(n) = announced.filter(|&n| n > cap) {
                    return Err(self.too_large(req, &format!("its Content-Length is {n}")));
                }
                // Read inside the loop, so a reset or a stall mid-body is one more failed
                // attempt instead of an error in the caller's hands. One byte past the cap
                // tells an unsized body that is too large from one that just fits.
                let idle = timeout.or(Some(self.settings.stream_idle_timeout));
                let limit = usize::try_from(cap.saturating_add(1)).unwrap_or(usize::MAX);
                let hint = announced.and_then(|n| usize::try_from(n).ok());
                let mut whole = match req.sink {
                    Some(make) => Whole::Sink(make()),
                    None => Whole::Buffer(Accumulator::new(hint.map(|n| n.min(limit)))),
                };
                let read = lease.until_cut(read_body(response.body, idle, limit, |chunk| {
                    whole.push(chunk)
                }));
                let read = read
                    .await
                    .unwrap_or_else(|| Err(ReadFailure::Transport(lease.cut_error())));
                let len = match read {
                    Ok(len) => len as u64,
                    Err(ReadFailure::Transport(e)) => {
                        self.transport
                            .record(&lease, started.elapsed(), Some(&e.kind));
                        return Err(self.transport_failure(context, e, started));
                    }
                    Err(ReadFailure::Refused(error)) => {
                        self.transport.record(&lease, started.elapsed(), None);
                        self.log_status(req, attempt, status, started);
                        return Err(AttemptFailure {
                            error,
                            retryable: false,
                            retry_after: None,
                            transport_level: false,
                        });
                    }
                };
                self.transport.record(&lease, started.elapsed(), None);
                if len > cap {
                    return Err(self.too_large(req, &format!("more than {cap} bytes arrived")));
                }
                if let Some(n) = expected.filter(|&n| n != len) {
                    let e = TransportError::new(
                        ErrorKind::IO,
                        format!("the body has {len} bytes but its Content-Length is {n}"),
                    );
                    return Err(self.transport_failure(context, e, started));
                }
                match whole {
                    Whole::Buffer(acc) => ByteStream::from_bytes(acc.finish()),
                    Whole::Sink(sink) => {
                        return self.sunk(req, attempt, status, started, response.headers, sink)
                    }
                }
            } else {
                self.transport.record(&lease, started.elapsed(), None);
                ByteStream::from_transport_guarded(
                    lease.hold_body(response.body),
                    context,
                    self.token.clone(),
                    self.settings.stream_idle_timeout,
                    expected,
                )
            };
            self.log_status(req, attempt, status, started);
            return Ok(ApiResponse::new(status, response.headers, body));
        }

        // An error status: read the body (also for streamed calls) so the error says what the
        // API said. For the transport, an answer is a success.
        self.transport.record(&lease, started.elapsed(), None);
        let hint = content_length(&response.headers).and_then(|n| usize::try_from(n).ok());
        let read = lease.until_cut(read_body_whole(
            response.body,
            timeout.or(Some(self.settings.stream_idle_timeout)),
            ERROR_BODY_LIMIT,
            hint,
        ));
        let read = read
            .await
            .unwrap_or_else(|| Err((Bytes::new(), lease.cut_error())));
        let (bytes, read_error) = match read {
            Ok(b) => (b, None),
            Err((partial, e)) => (partial, Some(e)),
        };
        let mut api = ApiError::from_body(
            status.as_u16(),
            &bytes,
            attempt,
            req.method.clone(),
            req.path.clone(),
        );
        if let (Some(e), None) = (&read_error, &api.error_type) {
            api.message = format!(
                "the API answered {status} but its body could not be read ({} error: {})",
                e.kind, e.message
            );
        }
        self.log_status(req, attempt, status, started);
        Err(AttemptFailure {
            error: Error::from(api.redacted(self.token.as_ref())),
            retryable: retry::is_retryable_status(status),
            retry_after: retry::retry_after(status, &response.headers),
            transport_level: false,
        })
    }

    /// The answer of a call whose body went into its sink: the sink's verdict on the whole
    /// body is the call's (not retried: the same body would come again).
    fn sunk(
        &self,
        req: &ApiRequest,
        attempt: u32,
        status: StatusCode,
        started: Instant,
        headers: http::HeaderMap,
        mut sink: Box<dyn BodySink>,
    ) -> Result<ApiResponse, AttemptFailure> {
        self.log_status(req, attempt, status, started);
        sink.finish().map_err(|error| AttemptFailure {
            error,
            retryable: false,
            retry_after: None,
            transport_level: false,
        })?;
        Ok(ApiResponse::new(status, headers, ByteStream::from_bytes(Bytes::new())).with_sink(sink))
    }

    /// A body larger than `max_body_bytes` for a call that reads it into memory: not retried
    /// (the next attempt would be as large), and the message says what to do instead.
    fn too_large(&self, req: &ApiRequest, why: &str) -> AttemptFailure {
        let cap = self.settings.max_body_bytes;
        AttemptFailure {
            error: Error::decode(format!(
                "the response to {} {} is too large to read into memory: {why}, and the \
                 limit is max_body_bytes = {cap} bytes ({} MiB). Stream it instead (a raw \
                 request with .stream(), KeyValueStoreClient::stream_record, \
                 DatasetClient::stream_items, or the CLI's --out), or raise [http] \
                 max_body_bytes",
                req.method,
                req.path,
                cap >> 20
            )),
            retryable: false,
            retry_after: None,
            transport_level: false,
        }
    }

    /// A transport error of one attempt, classified, redacted and logged.
    fn transport_failure(
        &self,
        context: TransportFailure,
        e: TransportError,
        started: Instant,
    ) -> AttemptFailure {
        let retryable = retry::is_retryable_transport_error(&e);
        let failure = context
            .with_error(e, retryable)
            .redacted(self.token.as_ref());
        tracing::debug!(
            method = %failure.method,
            path = %failure.path,
            attempt = failure.attempt,
            error_kind = %failure.kind,
            error = %failure.message,
            retryable,
            duration_ms = started.elapsed().as_millis() as u64,
            transport = failure.transport.as_str(),
            "API request failed"
        );
        AttemptFailure {
            error: Error::from(failure),
            retryable,
            retry_after: None,
            transport_level: true,
        }
    }

    fn log_status(&self, req: &ApiRequest, attempt: u32, status: StatusCode, started: Instant) {
        tracing::debug!(
            method = %req.method,
            path = %req.path,
            attempt,
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            transport = &*self.transport.name(),
            "API request answered"
        );
    }

    /// The timeout of attempt `attempt` (1-based) for `tier`: `min(base · 2^(attempt-1),
    /// timeout_max)`, or `None` for [`TimeoutTier::NoTimeout`].
    pub fn timeout_for(&self, tier: TimeoutTier, attempt: u32) -> Option<Duration> {
        let base = match tier {
            TimeoutTier::Short => self.settings.timeout_short,
            TimeoutTier::Medium => self.settings.timeout_medium,
            TimeoutTier::Long => self.settings.timeout_long,
            TimeoutTier::Custom(d) => d,
            TimeoutTier::NoTimeout => return None,
        };
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        Some(base.saturating_mul(factor).min(self.settings.timeout_max))
    }
}

/// Runs `fut` within `limit`; running out is a transient TIMEOUT error naming `what` ran late.
async fn within<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = Result<T, TransportError>>,
    what: &str,
) -> Result<T, TransportError> {
    let Some(limit) = limit else {
        return fut.await;
    };
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(TransportError::new(
            ErrorKind::TIMEOUT,
            format!("{what} within {limit:?} (the host's limit for this attempt)"),
        )),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Why [`read_body`] stopped early.
enum ReadFailure<E> {
    /// The exchange failed (a reset, a stall): the attempt's failure, retried as usual.
    Transport(TransportError),
    /// The body's consumer refused a chunk: the call's error, as it is.
    Refused(E),
}

/// Reads a body, at most `limit` bytes (the rest is dropped unread), handing each chunk to
/// `take`; answers how many bytes it took. Each chunk must arrive within `idle`: an idle limit,
/// not a total one, so a large but flowing body is never cut short while a stalled one is.
async fn read_body<E>(
    mut body: Body,
    idle: Option<Duration>,
    limit: usize,
    mut take: impl FnMut(Bytes) -> Result<(), E>,
) -> Result<usize, ReadFailure<E>> {
    let mut len = 0;
    while len < limit {
        match within(idle, async { Ok(body.next().await) }, "no body data").await {
            Ok(None) => break,
            Ok(Some(Ok(chunk))) => {
                len += chunk.len();
                take(chunk).map_err(ReadFailure::Refused)?;
            }
            Ok(Some(Err(e))) | Err(e) => return Err(ReadFailure::Transport(e)),
        }
    }
    Ok(len)
}

/// [`read_body`] into one buffer; on failure, what was read so far with the error.
async fn read_body_whole(
    body: Body,
    idle: Option<Duration>,
    limit: usize,
    size_hint: Option<usize>,
) -> Result<Bytes, (Bytes, TransportError)> {
    let mut acc = Accumulator::new(size_hint.map(|n| n.min(limit)));
    let read = read_body(body, idle, limit, |chunk| {
        acc.push(chunk);
        Ok::<_, std::convert::Infallible>(())
    })
    .await;
    match read {
        Ok(_) => Ok(acc.finish()),
        Err(ReadFailure::Transport(e)) => Err((acc.finish(), e)),
        Err(ReadFailure::Refused(never)) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CallFuture;
    use crate::transport::TransportRequest as Request;

    struct Never;
    impl HttpTransport for Never {
        fn name(&self) -> &str {
            "never"
        }
        fn call(&self, _request: Request) -> CallFuture {
            Box::pin(std::future::pending())
        }
    }

    fn pipeline(settings: HttpSettings) -> Arc<Pipeline> {
        Arc::new(Pipeline::new(Arc::new(Never), settings, "http://h/", None))
    }

    #[test]
    fn timeouts_double_per_attempt_up_to_the_cap() {
        let p = pipeline(HttpSettings {
            timeout_short: Duration::from_secs(1),
            timeout_max: Duration::from_secs(5),
            ..HttpSettings::default()
        });
        let t: Vec<_> = (1..=5)
            .map(|a| p.timeout_for(TimeoutTier::Short, a).unwrap().as_secs())
            .collect();
        assert_eq!(t, [1, 2, 4, 5, 5]);
        assert_eq!(p.timeout_for(TimeoutTier::NoTimeout, 3), None);
        assert_eq!(
            p.timeout_for(TimeoutTier::Custom(Duration::from_secs(3)), 2),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            p.timeout_for(TimeoutTier::Medium, u32::MAX),
            Some(Duration::from_secs(5))
        );
        let d = HttpSettings::default();
        let p = pipeline(d.clone());
        assert_eq!(p.timeout_for(TimeoutTier::Short, 1), Some(d.timeout_short));
        assert_eq!(
            p.timeout_for(TimeoutTier::Medium, 1),
            Some(d.timeout_medium)
        );
        assert_eq!(p.timeout_for(TimeoutTier::Long, 1), Some(d.timeout_long));
        assert_eq!(p.base_url(), "http://h");
    }

    fn body_of(chunks: Vec<Result<&'static [u8], TransportError>>) -> Body {
        Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(|c| c.map(Bytes::from_static)),
        ))
    }

    #[tokio::test]
    async fn read_body_joins_limits_and_keeps_partial_data() {
        let b = read_body_whole(
            body_of(vec![Ok(b"ab"), Ok(b""), Ok(b"cd")]),
            None,
            usize::MAX,
            Some(4),
        );
        assert_eq!(&b.await.unwrap()[..], b"abcd");
        let b = read_body_whole(
            body_of(vec![Ok(b"ab"), Ok(b"cd"), Ok(b"ef")]),
            None,
            3,
            None,
        );
        assert_eq!(&b.await.unwrap()[..], b"abcd");
        let err = TransportError::new(ErrorKind::IO, "reset");
        let b = read_body_whole(body_of(vec![Ok(b"ab"), Err(err)]), None, usize::MAX, None);
        let (partial, e) = b.await.unwrap_err();
        assert_eq!((&partial[..], e.kind), (&b"ab"[..], ErrorKind::IO));
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let stalled: Body = Box::pin(futures_util::stream::pending());
        let (_, e) = read_body_whole(stalled, Some(Duration::from_millis(50)), usize::MAX, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TIMEOUT);
    }

    #[tokio::test]
    async fn a_hanging_transport_times_out_on_every_attempt() {
        let p = pipeline(HttpSettings {
            max_retries: 2,
            min_delay_between_retries: Duration::from_millis(1),
            timeout_short: Duration::from_millis(30),
            ..HttpSettings::default()
        });
        let req = ApiRequest::new(http::Method::GET, "/v2/x").timeout(TimeoutTier::Short);
        let e = p.call(req).await.unwrap_err();
        let t = e.transport_failure().expect("transport error");
        assert_eq!(
            (t.kind, t.attempt, t.transport.as_str()),
            (ErrorKind::TIMEOUT, 3, "never")
        );
        assert!(t.message.contains("120ms"), "{}", t.message);
        let s = p.statistics().snapshot();
        assert_eq!((s.calls, s.requests), (1, 3));
    }
}
