//! What the server does with one request.

use std::time::Duration;

/// What the server does with one request: a normal response or a fault.
///
/// Queue them with [`TestServer::script`](crate::TestServer::script); every request on
/// a scripted path pops one action (once its head is parsed, before its body is read;
/// put back if the body cannot be read), and the default routes take over once the
/// queue is empty. Body faults send bytes of the deterministic pattern (see
/// [`pattern_bytes`](crate::pattern_bytes)), so a client can check what it did receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A complete response. `content-length` is added unless `headers` already has a
    /// `content-length` or `transfer-encoding` (then the bytes go out exactly as given,
    /// and the connection is closed afterwards if the declared length does not match
    /// the body, because the framing is broken). Header names keep their case.
    Respond {
        /// Status code; the reason phrase is the canonical one.
        status: u16,
        /// Response headers, written in order.
        headers: Vec<(String, String)>,
        /// Response body.
        body: Vec<u8>,
    },
    /// Read the whole request, then reset the connection (SO_LINGER 0 + close → RST)
    /// without sending anything.
    ResetBeforeResponse,
    /// Read the head and the first `after` bytes of the body (de-chunked; all of it if
    /// the body is shorter), then reset the connection (RST, as
    /// [`Action::ResetBeforeResponse`]) without answering: a server that dies or gives
    /// up in the middle of an upload. The request is logged with
    /// [`LoggedRequest::body_len`](crate::LoggedRequest::body_len) = the bytes read and
    /// [`complete`](crate::LoggedRequest::complete) = `false` if the body was longer
    /// (for a chunked body: unless its end was read within `after` bytes). The partial
    /// body is not gzip-decoded, also on `/digest/...` paths, where `body_sha256` is the
    /// digest of exactly the bytes read. `100 Continue` is sent only if `after > 0`.
    /// Inside [`Action::DelayHeaders`] the server reads the partial body first, then
    /// waits, then resets.
    ResetDuringRequestBody {
        /// Body bytes to read before the reset.
        after: u64,
    },
    /// Read the whole request, then close the connection cleanly (FIN) without sending
    /// anything: what a keep-alive connection closed by the server looks like.
    CloseBeforeResponse,
    /// Send a 200 head with `Content-Length: total_len`, then `send` pattern bytes, then
    /// reset the connection. The server waits (up to 2 s) for the client to acknowledge
    /// those bytes first, so the RST does not discard them in the server's send queue.
    ResetMidBody {
        /// Declared body length.
        total_len: u64,
        /// Pattern bytes actually sent before the reset (capped at `total_len`).
        send: u64,
    },
    /// Like [`Action::ResetMidBody`], but ends with a clean FIN (write shutdown), so the
    /// client sees an unexpected EOF instead of a reset.
    TruncatedBody {
        /// Declared body length.
        total_len: u64,
        /// Pattern bytes actually sent before the FIN (capped at `total_len`).
        send: u64,
    },
    /// Sleep, then perform the inner action. Nothing is sent during the sleep.
    DelayHeaders(Duration, Box<Action>),
    /// Send a 200 head with `Content-Length: total_len` at once, then `chunk` pattern
    /// bytes after every `interval` (the first chunk also waits one interval). The
    /// connection stays usable afterwards.
    SlowBody {
        /// Declared (and eventually sent) body length.
        total_len: u64,
        /// Bytes per write; 0 is treated as 1.
        chunk: usize,
        /// Pause before each chunk.
        interval: Duration,
    },
    /// Never answer: keep the socket open (discarding anything the client sends) until
    /// the client closes it (listed by
    /// [`TestServer::closed_by_peer`](crate::TestServer::closed_by_peer)) or the server
    /// stops.
    Hang,
    /// A 200 `application/octet-stream` response carrying the first `len` pattern bytes,
    /// with `Content-Length` or, if `chunked`, chunked transfer-encoding. This is what
    /// `GET /bytes/{n}` does.
    PatternBody {
        /// Body length.
        len: u64,
        /// Use chunked transfer-encoding instead of `Content-Length`.
        chunked: bool,
    },
    /// Write these bytes verbatim, then close the connection cleanly. For malformed or
    /// unusual responses (bad status lines, close-delimited bodies, ...).
    Raw(Vec<u8>),
}

impl Action {
    /// A response with this status and no headers. For 4xx/5xx the body is an
    /// Apify-shaped error (`{"error":{"type":..,"message":..}}`, `application/json`),
    /// the same as `GET /status/{code}`; otherwise the body is empty.
    pub fn status(status: u16) -> Action {
        crate::routes::status_response(status)
    }

    /// A JSON response (`content-type: application/json`).
    ///
    /// # Panics
    /// If `value` cannot be serialized to JSON.
    pub fn json(status: u16, value: impl serde::Serialize) -> Action {
        Action::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&value).expect("Action::json: value is not serializable"),
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Action {
        Action::Respond {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
        }
    }

    /// Adds a response header. Applies to [`Action::Respond`], also when wrapped in
    /// [`Action::DelayHeaders`].
    ///
    /// # Panics
    /// On any other action: they have no user-defined headers, and silently dropping the
    /// header would make a test assert on something that never happened.
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Action {
        match self {
            Action::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Action::Respond {
                    status,
                    headers,
                    body,
                }
            }
            Action::DelayHeaders(d, inner) => {
                Action::DelayHeaders(d, Box::new(inner.with_header(name, value)))
            }
            other => panic!("Action::with_header: not a Respond action: {other:?}"),
        }
    }

    /// Wraps this action in [`Action::DelayHeaders`].
    pub fn delayed(self, delay: Duration) -> Action {
        Action::DelayHeaders(delay, Box::new(self))
    }
}
