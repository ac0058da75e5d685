//! Plain Rust types for plugin authors, and helpers for their error messages.
//!
//! Their conversions to and from the FFI types are in [`crate::convert`].

use std::{fmt, pin::Pin, time::Duration};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, Method, StatusCode};

use crate::ffi::ErrorKind;
use crate::module::Capabilities;

/// A body as a stream of chunks that ends with `None`: every response body, and a streamed
/// request body ([`RequestBody::Stream`]).
pub type Body = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

/// A request body: the whole of it in memory, or a stream of chunks.
///
/// Added in 1.2. A host speaking interface 1.2 streams large bodies (a file upload, a JSONL
/// push) instead of buffering them; hosts before 1.2 send only [`RequestBody::Full`]. The
/// request's headers carry `Content-Length` only for a `Stream` of known length; a `Full` body
/// carries none, so frame it by its length ([`RequestBody::len`]).
pub enum RequestBody {
    /// The whole body in memory; empty for none.
    Full(Bytes),
    /// A body read chunk by chunk as the transport sends it. Poll it only while sending the
    /// request; an error from it (the source failed: a file read, a closed pipe) must fail the
    /// exchange.
    Stream {
        /// The chunks.
        stream: Body,
        /// The exact length in bytes, when the source knows it.
        length: Option<u64>,
    },
}

impl RequestBody {
    /// No body.
    pub fn empty() -> Self {
        RequestBody::Full(Bytes::new())
    }

    /// The exact length in bytes, when known (always for [`RequestBody::Full`]).
    pub fn len(&self) -> Option<u64> {
        match self {
            RequestBody::Full(b) => Some(b.len() as u64),
            RequestBody::Stream { length, .. } => *length,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes of a [`RequestBody::Full`] body; `None` for a stream.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            RequestBody::Full(b) => Some(b),
            RequestBody::Stream { .. } => None,
        }
    }

    /// The body as a stream, whatever its kind: what a transport that only streams needs.
    pub fn into_stream(self) -> Body {
        match self {
            RequestBody::Full(b) => one_item(Ok(b)),
            RequestBody::Stream { stream, .. } => stream,
        }
    }
}

/// A body of at most one item: a whole body (none at all when it is empty), or an error.
pub(crate) fn one_item(item: Result<Bytes, Error>) -> Body {
    let item = item.map_or_else(|e| Some(Err(e)), |b| (!b.is_empty()).then_some(Ok(b)));
    Box::pin(OneItem(item))
}

/// A stream of at most one item (`futures-core` has no constructors, and one is all it takes).
struct OneItem(Option<Result<Bytes, Error>>);

impl Stream for OneItem {
    type Item = Result<Bytes, Error>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take())
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        RequestBody::empty()
    }
}

impl From<Bytes> for RequestBody {
    fn from(b: Bytes) -> Self {
        RequestBody::Full(b)
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(b: Vec<u8>) -> Self {
        RequestBody::Full(b.into())
    }
}

impl From<&'static str> for RequestBody {
    fn from(s: &'static str) -> Self {
        RequestBody::Full(Bytes::from_static(s.as_bytes()))
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::Full(b) => write!(f, "Full({} bytes)", b.len()),
            RequestBody::Stream { length, .. } => f
                .debug_struct("Stream")
                .field("length", length)
                .finish_non_exhaustive(),
        }
    }
}

/// What a plugin tells the host about itself.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Short name, e.g. `"reqwest"`.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line on what it is.
    pub description: String,
    /// What it supports.
    pub capabilities: Capabilities,
}

/// One HTTP exchange to perform. Its `Debug` hides credentials: the URL's query string and
/// the values of sensitive headers (`Authorization`) are not printed.
pub struct Request {
    /// The method.
    pub method: Method,
    /// Absolute URL with the query string.
    pub url: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// The body (a [`RequestBody`] since 1.2; it was `Bytes`).
    pub body: RequestBody,
    /// Deadline for receiving the response head; `None` waits forever.
    pub timeout: Option<Duration>,
    /// The caller streams the body: do not buffer it whole.
    pub stream: bool,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?…"),
            None => self.url.clone(),
        };
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &self.headers) // sensitive values print as `Sensitive`
            .field("body", &self.body)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .finish()
    }
}

/// A response: head plus body stream.
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, streamed.
    pub body: Body,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A transport error: a kind the host's retry policy understands, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The class of failure.
    pub kind: ErrorKind,
    /// What happened, in a sentence; never include credentials.
    pub message: String,
    /// Hint for [`ErrorKind::OTHER`]: may a retry succeed?
    pub retryable: bool,
}

impl Error {
    /// An error of `kind`; `retryable` follows the kind's nature.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            retryable: kind.is_transient().unwrap_or(false),
        }
    }

    /// The same message with another kind, and that kind's retryable hint:
    /// `Error::classify(&e).with_kind(ErrorKind::TLS)`.
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        Error::new(kind, self.message)
    }

    /// Overrides the retryable hint.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// An error and its sources as one line, `outer: inner: root cause`, without repeating a
/// message that an outer one already contains. Transports use it for their error messages.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Whether an error of type `T` is anywhere in `e`'s chain, including inside `io::Error`s
/// (whose `source()` skips the error they wrap, and which libraries nest). Transports use it to
/// classify failures by type rather than by message, e.g. `chain_has::<rustls::Error>(&e)`.
/// `T` must be the very type the library uses: depend on the same major version of that crate
/// as your HTTP library does (Cargo then unifies them), or it never matches.
pub fn chain_has<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<T>() {
            return true;
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

/// `scheme://user:pass@host` → `scheme://***@host`, wherever a URL appears in `text`: the whole
/// userinfo goes, since the user part may be the secret too (`https://TOKEN@host`). A plugin
/// quoting a proxy URL with a password in an error must not leak it; the host redacts every
/// plugin message again, but this keeps a plugin safe with any host.
pub fn redact_userinfo(text: &str) -> String {
    const MASK: &str = "***";
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let authority = from + i + 3;
        // The authority ends where the path, query or fragment starts, or the URL does.
        let end = text[authority..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '/' | '?' | '#' | '\\' | '"' | '\'' | '<' | '>')
            })
            .map_or(text.len(), |e| authority + e);
        // The last `@`: a sloppy password may contain an unencoded `@` of its own.
        if let Some(at) = text[authority..end].rfind('@') {
            let at = authority + at;
            if at > authority && &text[authority..at] != MASK {
                out.push_str(&text[copied..authority]);
                out.push_str(MASK);
                copied = at;
            }
        }
        from = end.max(authority);
    }
    out.push_str(&text[copied..]);
    out
}
