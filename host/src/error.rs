//! The errors of the client library. Messages read like sentences and never contain the token.

use std::fmt;

use http::Method;

use crate::redact::{redact, Redactor};
use crate::token::Token;
use crate::transport::{PluginLoadError, TransportError, TransportErrorKind};

/// Any failure of a client call: an opaque error you question, as with `reqwest::Error`.
///
/// [`Error::kind`] says what happened as one [`ErrorKind`] to `match` on, the most specific
/// kind first (a missing Actor is [`ErrorKind::NotFound`], not "an API error"). The `is_*`
/// methods ([`Error::is_timeout`], [`Error::is_connect`], [`Error::is_rate_limited`],
/// [`Error::is_not_found`], ...) ask the same questions one at a time, some more broadly
/// ([`Error::is_api`] is true for every status kind). Read the details with
/// [`Error::status`], [`Error::api_error`], [`Error::transport_failure`] and
/// [`Error::plugin_load_error`].
///
/// - `Display` is one sentence that names what failed and never contains the token.
/// - [`std::error::Error::source`] is the underlying cause of a local failure (the
///   [`std::io::Error`] of a file that cannot be read, the `serde_json::Error` of input that
///   cannot be serialized), or `None`: never an error that repeats this one's sentence.
/// - `Debug` is the sentence and the structured fields (kind, status, type, method, path,
///   attempt, ...), redacted like `Display`.
///
/// ```
/// use apify_host::{Error, ErrorKind};
///
/// fn explain(e: &Error) -> &'static str {
///     match e.kind() {
///         ErrorKind::NotFound => "no such resource",
///         ErrorKind::RateLimited => "slow down",
///         ErrorKind::Unauthorized | ErrorKind::Forbidden => "check the token",
///         ErrorKind::Timeout | ErrorKind::Connect => "network trouble; try again",
///         ErrorKind::Config | ErrorKind::InvalidInput => "fix the call",
///         ErrorKind::Misuse => "a bug in the calling code",
///         _ => "something else",
///     }
/// }
///
/// let client = apify_host::ApifyClient::builder().api_url("ftp://x").build();
/// let e = client.err().unwrap();
/// assert_eq!(e.kind(), ErrorKind::Config);
/// assert_eq!(explain(&e), "fix the call");
/// ```
pub struct Error {
    inner: Box<Repr>,
    /// What the caller was doing when it failed, appended to the message (e.g. how many items
    /// of a push were stored before the failing request).
    context: Option<Box<str>>,
    /// The underlying cause of a local failure, for [`std::error::Error::source`]: only
    /// errors of local I/O and of (de)serializing the caller's own values, never text that came
    /// from the network or a config file (which `Display` shows redacted instead).
    cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What an [`Error`] is, from [`Error::kind`], to `match` on: the most specific kind that
/// applies. New kinds may be added, so a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The API answered 404 ([`Error::is_not_found`]; [`Error::is_record_not_found`] narrows it),
    /// or a resource went away while it was used (the run `call` waits for: no status then).
    NotFound,
    /// The API answered 429 Too Many Requests on the last attempt.
    RateLimited,
    /// The API answered 401: the token is missing or wrong.
    Unauthorized,
    /// The API answered 403: the token lacks a permission.
    Forbidden,
    /// The API answered 409 Conflict.
    Conflict,
    /// The API answered 400: it refused the request as invalid.
    BadRequest,
    /// The API answered a 5xx status (after retries).
    ServerError,
    /// The API answered another error status ([`Error::status`] has it).
    Api,
    /// An attempt ran out of time: the response head or a body chunk did not arrive in time.
    Timeout,
    /// The connection could not be established (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// Any other transport failure (I/O, protocol, a plugin's panic...):
    /// [`Error::transport_error_kind`] has the transport's own kind.
    Transport,
    /// The API's answer could not be decoded (not the JSON the call expects).
    Decode,
    /// The caller's input was refused before anything was sent.
    InvalidInput,
    /// The client is misconfigured: a bad API URL, token, HTTP setting, config or token file.
    Config,
    /// The configured transport plugin could not be loaded or constructed.
    PluginLoad,
    /// The library was called where it cannot work (the blocking client inside a
    /// current-thread tokio runtime, an Actor-only call outside an Actor run): fix the code.
    Misuse,
    /// The call was ended by its [`crate::pipeline::AbortHandle`].
    Aborted,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Conflict => "conflict",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::ServerError => "server error",
            ErrorKind::Api => "API error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Transport => "transport error",
            ErrorKind::Decode => "decode error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Config => "config error",
            ErrorKind::PluginLoad => "plugin load error",
            ErrorKind::Misuse => "misuse",
            ErrorKind::Aborted => "aborted",
        })
    }
}

/// What an [`Error`] holds. Private, so that variants can be added and split freely.
enum Repr {
    Api(ApiError),
    Transport(TransportFailure),
    PluginLoad(PluginLoadError),
    InvalidInput(String),
    Decode(String),
    Config(String),
    Misuse(String),
    Aborted(String),
    /// A resource that existed went away while the client was using it (not an API answer).
    Vanished(String),
}

impl Error {
    fn new(repr: Repr) -> Self {
        Error {
            inner: Box::new(repr),
            context: None,
            cause: None,
        }
    }

    /// The same error, with `cause` as its [`std::error::Error::source`]. Only for causes
    /// whose text holds no secret (local I/O, serializing the caller's values): the source
    /// chain is not redacted.
    pub(crate) fn with_source(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// The same error, with `context` appended to its message after a `;`.
    pub(crate) fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into().into_boxed_str());
        self
    }

    /// The caller's input cannot be sent (not serializable, an impossible value...).
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(Repr::InvalidInput(message.into()))
    }

    /// The call was ended by its [`crate::pipeline::AbortHandle`].
    pub(crate) fn aborted(message: impl Into<String>) -> Self {
        Error::new(Repr::Aborted(message.into()))
    }

    /// The API's answer could not be decoded.
    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Error::new(Repr::Decode(message.into()))
    }

    /// The client is misconfigured (bad URL, unreadable config or token file...).
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(Repr::Config(message.into()))
    }

    /// A resource the client was using (e.g. the run `call` waits for) went away:
    /// [`ErrorKind::NotFound`], without an [`ApiError`].
    pub(crate) fn vanished(message: impl Into<String>) -> Self {
        Error::new(Repr::Vanished(message.into()))
    }

    /// The library was called where it cannot work (see [`ErrorKind::Misuse`]).
    pub(crate) fn misuse(message: impl Into<String>) -> Self {
        Error::new(Repr::Misuse(message.into()))
    }

    /// What this error is: the most specific [`ErrorKind`] that applies.
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Repr::Api(e) => match e.kind() {
                ApiErrorKind::NotFound => ErrorKind::NotFound,
                ApiErrorKind::RateLimited => ErrorKind::RateLimited,
                ApiErrorKind::Unauthorized => ErrorKind::Unauthorized,
                ApiErrorKind::Forbidden => ErrorKind::Forbidden,
                ApiErrorKind::Conflict => ErrorKind::Conflict,
                ApiErrorKind::BadRequest => ErrorKind::BadRequest,
                ApiErrorKind::Server => ErrorKind::ServerError,
                ApiErrorKind::Other => ErrorKind::Api,
            },
            Repr::Transport(f) => match f.kind {
                TransportErrorKind::TIMEOUT => ErrorKind::Timeout,
                TransportErrorKind::CONNECT => ErrorKind::Connect,
                TransportErrorKind::TLS => ErrorKind::Tls,
                _ => ErrorKind::Transport,
            },
            Repr::PluginLoad(_) => ErrorKind::PluginLoad,
            Repr::InvalidInput(_) => ErrorKind::InvalidInput,
            Repr::Decode(_) => ErrorKind::Decode,
            Repr::Config(_) => ErrorKind::Config,
            Repr::Misuse(_) => ErrorKind::Misuse,
            Repr::Aborted(_) => ErrorKind::Aborted,
            Repr::Vanished(_) => ErrorKind::NotFound,
        }
    }

    /// The library was called where it cannot work: the blocking client inside a
    /// current-thread tokio runtime, an Actor-only call outside an Actor run.
    pub fn is_misuse(&self) -> bool {
        matches!(*self.inner, Repr::Misuse(_))
    }

    /// The call was ended by its [`crate::pipeline::AbortHandle`].
    pub fn is_aborted(&self) -> bool {
        matches!(&*self.inner, Repr::Aborted(_))
    }

    /// The API answered with an error status (after retries, where they apply): true for every
    /// kind from [`ErrorKind::NotFound`] to [`ErrorKind::Api`].
    pub fn is_api(&self) -> bool {
        matches!(*self.inner, Repr::Api(_))
    }

    /// The transport could not complete an exchange (after retries, where they apply): true
    /// for [`ErrorKind::Timeout`], [`ErrorKind::Connect`], [`ErrorKind::Tls`] and
    /// [`ErrorKind::Transport`].
    pub fn is_transport(&self) -> bool {
        matches!(*self.inner, Repr::Transport(_))
    }

    /// The configured transport plugin could not be loaded or constructed.
    pub fn is_plugin_load(&self) -> bool {
        matches!(*self.inner, Repr::PluginLoad(_))
    }

    /// The caller's input was refused before anything was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(*self.inner, Repr::InvalidInput(_))
    }

    /// The API's answer could not be decoded (not the JSON the call expects).
    pub fn is_decode(&self) -> bool {
        matches!(*self.inner, Repr::Decode(_))
    }

    /// The client is misconfigured: a bad API URL, token, config file or token file. (A call
    /// made where the library cannot work is [`Error::is_misuse`] instead.)
    pub fn is_config(&self) -> bool {
        matches!(*self.inner, Repr::Config(_))
    }

    /// An attempt ran out of time: the response head or a body chunk did not arrive in time.
    pub fn is_timeout(&self) -> bool {
        self.transport_error_kind() == Some(TransportErrorKind::TIMEOUT)
    }

    /// The connection could not be established (refused, unreachable, DNS).
    pub fn is_connect(&self) -> bool {
        self.transport_error_kind() == Some(TransportErrorKind::CONNECT)
    }

    /// The TLS handshake or certificate check failed.
    pub fn is_tls(&self) -> bool {
        self.transport_error_kind() == Some(TransportErrorKind::TLS)
    }

    /// The API answered 429 Too Many Requests on the last attempt.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// The API answered 404, whatever its error type.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A 404 `record-not-found` (or a 404 without a type): what `get`-like calls turn into
    /// `None`. Other 404 types, e.g. `page-not-found` for a wrong path, are not.
    pub fn is_record_not_found(&self) -> bool {
        self.api_error().is_some_and(|e| {
            e.status == 404
                && e.error_type
                    .as_deref()
                    .is_none_or(|t| t == "record-not-found")
        })
    }

    /// The API answered 401 or 403: the token is missing, wrong or lacks a permission.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status)
    }

    /// The API error (status, type, message, data), if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match &*self.inner {
            Repr::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The transport failure (kind, message, transport, attempt), if this is one.
    pub fn transport_failure(&self) -> Option<&TransportFailure> {
        match &*self.inner {
            Repr::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// The transport's error kind, if this is a transport failure.
    pub fn transport_error_kind(&self) -> Option<TransportErrorKind> {
        self.transport_failure().map(|f| f.kind)
    }

    /// Why the transport plugin could not be loaded: which check failed, the reason, the fix.
    pub fn plugin_load_error(&self) -> Option<&PluginLoadError> {
        match &*self.inner {
            Repr::PluginLoad(e) => Some(e),
            _ => None,
        }
    }

    /// Which attempt (1-based) produced this error, for API and transport errors.
    pub fn attempt(&self) -> Option<u32> {
        match &*self.inner {
            Repr::Api(e) => Some(e.attempt),
            Repr::Transport(e) => Some(e.attempt),
            _ => None,
        }
    }
}

impl fmt::Debug for Error {
    /// The sentence and the structured fields, never the private representation; redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            format!("{:#?}", DebugFields(self))
        } else {
            format!("{:?}", DebugFields(self))
        };
        f.write_str(&redact(&text))
    }
}

/// The fields `Debug` of [`Error`] shows.
struct DebugFields<'a>(&'a Error);

impl fmt::Debug for DebugFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &e.kind());
        d.field("message", &e.to_string());
        match &*e.inner {
            Repr::Api(a) => {
                d.field("status", &a.status);
                if let Some(t) = &a.error_type {
                    d.field("type", t);
                }
                d.field("method", &a.method)
                    .field("path", &a.path)
                    .field("attempt", &a.attempt);
            }
            Repr::Transport(t) => {
                d.field("transport_kind", &format_args!("{}", t.kind))
                    .field("transport", &t.transport)
                    .field("method", &t.method)
                    .field("path", &t.path)
                    .field("attempt", &t.attempt)
                    .field("retryable", &t.retryable);
            }
            Repr::PluginLoad(p) => {
                d.field("path", &p.path).field("failure", &p.failure);
            }
            _ => {}
        }
        if let Some(c) = &e.cause {
            d.field("source", &format_args!("{c}"));
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Repr::Api(e) => e.fmt(f),
            Repr::Transport(e) => e.fmt(f),
            Repr::PluginLoad(e) => write_redacted(f, format_args!("{e}")),
            Repr::InvalidInput(m) => write_redacted(f, format_args!("invalid input: {m}")),
            Repr::Decode(m)
            | Repr::Config(m)
            | Repr::Misuse(m)
            | Repr::Aborted(m)
            | Repr::Vanished(m) => write_redacted(f, format_args!("{m}")),
        }?;
        match &self.context {
            Some(c) => write_redacted(f, format_args!("; {c}")),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    /// The underlying cause of a local failure, or `None`. Never the [`ApiError`],
    /// [`TransportFailure`] or [`PluginLoadError`] this error holds: their `Display` is this
    /// error's sentence (read them with [`Error::api_error`] and its siblings).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::new(Repr::Api(e))
    }
}

impl From<TransportFailure> for Error {
    fn from(e: TransportFailure) -> Self {
        Error::new(Repr::Transport(e))
    }
}

impl From<PluginLoadError> for Error {
    fn from(mut e: PluginLoadError) -> Self {
        // The reason may quote what the plugin said about its options (a proxy URL with a
        // password), and callers read it through `plugin_load_error()` too.
        e.reason = redact(&e.reason);
        e.fix = redact(&e.fix);
        Error::new(Repr::PluginLoad(e))
    }
}

/// Turns a 404 `record-not-found` into `Ok(None)`, as the reference clients' `get` does.
pub(crate) fn not_found_as_none<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_record_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The class of an [`ApiError`], by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400
    BadRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 429
    RateLimited,
    /// 5xx
    Server,
    /// Any other status.
    Other,
}

/// An error status from the API, with the API's error type and message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The API's `error.type` (e.g. `record-not-found`), if the body had one.
    pub error_type: Option<String>,
    /// The API's `error.message`, or the body text when it was not JSON.
    pub message: String,
    /// The API's `error.data`, if any.
    pub data: Option<serde_json::Value>,
    /// Which attempt got this answer (1-based).
    pub attempt: u32,
    /// The request method.
    pub method: Method,
    /// The request path (no query string, so no token can leak through `?token=`).
    pub path: String,
}

impl ApiError {
    /// The class of this error.
    pub fn kind(&self) -> ApiErrorKind {
        match self.status {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            429 => ApiErrorKind::RateLimited,
            500..=599 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }

    /// Builds the error from a status and the (possibly non-JSON) error body.
    pub(crate) fn from_body(
        status: u16,
        body: &[u8],
        attempt: u32,
        method: Method,
        path: String,
    ) -> Self {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let error_type = err
            .and_then(|e| e.get("type"))
            .and_then(|t| t.as_str())
            .map(str::to_string);
        let data = err.and_then(|e| e.get("data")).cloned();
        let message = match err.and_then(|e| e.get("message")).and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    format!("the API answered {status} with an empty body")
                } else {
                    // Keep error text readable even if the server sent a large page.
                    text.chars().take(1000).collect()
                }
            }
        };
        ApiError {
            status,
            error_type,
            message,
            data,
            attempt,
            method,
            path,
        }
    }

    /// Removes the token from the message and data: an error body may echo what the client
    /// sent (e.g. a proxy's error page quoting the `Authorization` header).
    pub(crate) fn redacted(mut self, token: Option<&Token>) -> Self {
        self.message = redact_secrets(&self.message, token);
        if let (Some(data), Some(token)) = (&self.data, token) {
            let text = data.to_string();
            let clean = redact_secrets(&text, Some(token));
            if clean != text {
                self.data = serde_json::from_str(&clean).ok();
            }
        }
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.error_type {
            Some(t) => format!(" ({t})"),
            None => String::new(),
        };
        write_redacted(
            f,
            format_args!(
                "{} {} failed with status {}{kind} on attempt {}: {}",
                self.method, self.path, self.status, self.attempt, self.message
            ),
        )
    }
}

impl std::error::Error for ApiError {}

/// A transport failure with the call's context.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportFailure {
    /// The transport's error kind.
    pub kind: TransportErrorKind,
    /// The transport's message.
    pub message: String,
    /// Which attempt failed (1-based).
    pub attempt: u32,
    /// The request method.
    pub method: Method,
    /// The request path (no query string).
    pub path: String,
    /// Which transport (`builtin`, `plugin:reqwest`, ...).
    pub transport: String,
    /// Whether the pipeline's retry policy judged this failure transient (worth another
    /// attempt): by kind, and by the transport's own hint for `OTHER` and unknown kinds.
    pub retryable: bool,
}

impl TransportFailure {
    /// The same context with another transport error, classified by the retry policy.
    pub(crate) fn with_error(mut self, e: TransportError, retryable: bool) -> Self {
        self.kind = e.kind;
        self.message = e.message;
        self.retryable = retryable;
        self
    }

    /// Whether a retry may succeed, as the pipeline's retry policy judged it.
    pub fn is_transient(&self) -> bool {
        self.retryable
    }

    /// Removes the token, and any credential recognised by its place, from the message.
    pub(crate) fn redacted(mut self, token: Option<&Token>) -> Self {
        self.message = redact_secrets(&self.message, token);
        self
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_redacted(
            f,
            format_args!(
                "{} {} failed on attempt {} ({} error from the {} transport): {}",
                self.method, self.path, self.attempt, self.kind, self.transport, self.message
            ),
        )
    }
}

impl std::error::Error for TransportFailure {}

/// Removes secrets from text that came from a server or a transport: the token (wherever and
/// however spelled: see [`Redactor::redact`]), and every credential [`crate::redact::redact`]
/// recognises by its place (URL userinfo, `token=` and `signature=` values, `Authorization`
/// headers): a transport may quote the URL it was given, and a URL may carry a credential that
/// is not the client's own (a signed link).
pub(crate) fn redact_secrets(text: &str, token: Option<&Token>) -> String {
    Redactor::new().token(token).redact(text)
}

/// Writes `args` to `f` through [`redact`]: the last line of defence for a message built from
/// text this crate did not write (plugin, server, OS), whatever path it took to get here.
fn write_redacted(f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>) -> fmt::Result {
    f.write_str(&redact(&args.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_token_and_token_params() {
        let t = Token::new("s3cr3t-T0KEN");
        let msg = "GET http://x/v2?token=other&limit=1 failed; Bearer s3cr3t-T0KEN";
        let out = redact_secrets(msg, Some(&t));
        assert_eq!(out, "GET http://x/v2?token=***&limit=1 failed; Bearer ***");
        assert_eq!(redact_secrets("a&TOKEN=abc", None), "a&TOKEN=***");
        assert_eq!(redact_secrets("csrftoken=abc", None), "csrftoken=abc");
        assert_eq!(redact_secrets("token=", None), "token=");
        assert_eq!(redact_secrets("no secrets here", None), "no secrets here");
        // A one-letter token only on word boundaries: it leaves `PUT` alone.
        let t = Token::new("T");
        assert_eq!(redact_secrets("PUT /v2/x T", Some(&t)), "PUT /v2/x ***");
    }

    #[test]
    fn display_and_debug_redact_whatever_the_source() {
        let e = Error::config("proxy http://user:secretpw@h:3128 ?signature=SIG");
        for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
            assert!(
                !shown.contains("secretpw") && !shown.contains("SIG"),
                "{shown}"
            );
        }
    }

    #[test]
    fn api_error_from_json_and_text_bodies() {
        let body = br#"{"error":{"type":"invalid-input","message":"bad","data":{"k":[1]}}}"#;
        let e = ApiError::from_body(400, body, 2, Method::POST, "/v2/x".into());
        assert_eq!(e.error_type.as_deref(), Some("invalid-input"));
        assert_eq!(e.message, "bad");
        assert_eq!(e.data, Some(serde_json::json!({"k": [1]})));
        assert_eq!(e.kind(), ApiErrorKind::BadRequest);
        assert_eq!(
            e.to_string(),
            "POST /v2/x failed with status 400 (invalid-input) on attempt 2: bad"
        );

        let e = ApiError::from_body(418, b"<not json>", 1, Method::GET, "/v2/y".into());
        assert_eq!(e.error_type, None);
        assert_eq!(e.message, "<not json>");
        assert_eq!(e.kind(), ApiErrorKind::Other);

        let e = ApiError::from_body(502, b"", 1, Method::GET, "/".into());
        assert!(e.message.contains("empty body"), "{}", e.message);
        assert_eq!(e.kind(), ApiErrorKind::Server);
    }

    #[test]
    fn api_error_kinds_by_status() {
        let kind = |s| ApiError::from_body(s, b"", 1, Method::GET, "/".into()).kind();
        assert_eq!(kind(401), ApiErrorKind::Unauthorized);
        assert_eq!(kind(403), ApiErrorKind::Forbidden);
        assert_eq!(kind(404), ApiErrorKind::NotFound);
        assert_eq!(kind(409), ApiErrorKind::Conflict);
        assert_eq!(kind(429), ApiErrorKind::RateLimited);
        assert_eq!(kind(503), ApiErrorKind::Server);
        assert_eq!(kind(302), ApiErrorKind::Other);
    }

    #[test]
    fn api_error_redaction_covers_message_and_data() {
        let t = Token::new("tok-123");
        let body = br#"{"error":{"message":"token tok-123 invalid","data":{"sent":"tok-123"}}}"#;
        let e = ApiError::from_body(401, body, 1, Method::GET, "/".into()).redacted(Some(&t));
        assert!(!format!("{e} {e:?}").contains("tok-123"));
        assert_eq!(e.data, Some(serde_json::json!({"sent": "***"})));
    }

    #[test]
    fn record_not_found() {
        let nf =
            |body: &[u8]| Error::from(ApiError::from_body(404, body, 1, Method::GET, "/".into()));
        let e = nf(br#"{"error":{"type":"record-not-found","message":"x"}}"#);
        assert!(matches!(not_found_as_none::<()>(Err(e)), Ok(None)));
        let e = nf(br#"{"error":{"type":"page-not-found","message":"x"}}"#);
        assert!(not_found_as_none::<()>(Err(e)).is_err());
        assert!(matches!(not_found_as_none(Ok(1)), Ok(Some(1))));
    }

    fn api(status: u16, body: &[u8]) -> Error {
        Error::from(ApiError::from_body(
            status,
            body,
            1,
            Method::GET,
            "/v2/acts/me~missing".into(),
        ))
    }

    fn transport(kind: TransportErrorKind) -> Error {
        Error::from(TransportFailure {
            kind,
            message: "tcp connect error: Connection refused (os error 111)".into(),
            attempt: 3,
            method: Method::GET,
            path: "/v2/users/me".into(),
            transport: "builtin".into(),
            retryable: true,
        })
    }

    #[test]
    fn kind_is_the_most_specific_and_agrees_with_the_predicates() {
        let missing = api(
            404,
            br#"{"error":{"type":"record-not-found","message":"x"}}"#,
        );
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(missing.is_api() && missing.is_not_found() && missing.is_record_not_found());
        for (status, kind) in [
            (400, ErrorKind::BadRequest),
            (401, ErrorKind::Unauthorized),
            (403, ErrorKind::Forbidden),
            (409, ErrorKind::Conflict),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::ServerError),
            (503, ErrorKind::ServerError),
            (418, ErrorKind::Api),
        ] {
            let e = api(status, b"");
            assert_eq!(e.kind(), kind, "{status}");
            assert!(e.is_api(), "{status}");
            assert_eq!(e.is_rate_limited(), kind == ErrorKind::RateLimited);
            assert_eq!(
                e.is_unauthorized(),
                matches!(kind, ErrorKind::Unauthorized | ErrorKind::Forbidden)
            );
            assert!(!e.is_not_found());
        }
        for (k, kind) in [
            (TransportErrorKind::TIMEOUT, ErrorKind::Timeout),
            (TransportErrorKind::CONNECT, ErrorKind::Connect),
            (TransportErrorKind::TLS, ErrorKind::Tls),
            (TransportErrorKind::IO, ErrorKind::Transport),
            (TransportErrorKind::PROTOCOL, ErrorKind::Transport),
            (TransportErrorKind(200), ErrorKind::Transport),
        ] {
            let e = transport(k);
            assert_eq!(e.kind(), kind);
            assert!(e.is_transport() && !e.is_api());
            assert_eq!(e.is_timeout(), kind == ErrorKind::Timeout);
            assert_eq!(e.is_connect(), kind == ErrorKind::Connect);
            assert_eq!(e.is_tls(), kind == ErrorKind::Tls);
        }
        let local = [
            (Error::invalid_input("x"), ErrorKind::InvalidInput),
            (Error::decode("x"), ErrorKind::Decode),
            (Error::config("x"), ErrorKind::Config),
            (Error::misuse("x"), ErrorKind::Misuse),
            (Error::aborted("x"), ErrorKind::Aborted),
        ];
        for (e, kind) in local {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_invalid_input(), kind == ErrorKind::InvalidInput);
            assert_eq!(e.is_decode(), kind == ErrorKind::Decode);
            assert_eq!(e.is_config(), kind == ErrorKind::Config);
            assert_eq!(e.is_misuse(), kind == ErrorKind::Misuse);
            assert_eq!(e.is_aborted(), kind == ErrorKind::Aborted);
            assert!(!e.is_api() && !e.is_transport() && !e.is_plugin_load());
        }
    }

    /// Every message of the `source()` chain, top first.
    fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
        std::iter::successors(Some(e), |e| e.source())
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn the_source_chain_never_repeats_a_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let json = serde_json::from_str::<u32>("x").unwrap_err();
        let errors = [
            api(
                404,
                br#"{"error":{"type":"record-not-found","message":"Actor was not found"}}"#,
            ),
            transport(TransportErrorKind::CONNECT),
            Error::config("bad").with_context("while starting"),
            Error::invalid_input(format!("cannot read /tmp/x: {io}")).with_source(io),
            Error::invalid_input(format!("cannot serialize: {json}")).with_source(json),
        ];
        for e in &errors {
            let msgs = chain(e);
            for pair in msgs.windows(2) {
                assert_ne!(pair[0], pair[1], "{msgs:?}");
            }
            assert!(!msgs[1..].contains(&msgs[0]), "{msgs:?}");
        }
        // The API, transport and config errors have no cause; the local failures keep theirs.
        assert!(errors[..3]
            .iter()
            .all(|e| std::error::Error::source(e).is_none()));
        let io = std::error::Error::source(&errors[3]).unwrap();
        assert_eq!(
            io.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
        let json = std::error::Error::source(&errors[4]).unwrap();
        assert!(json.is::<serde_json::Error>());
    }

    #[test]
    fn debug_is_the_sentence_and_the_fields() {
        let e = api(
            404,
            br#"{"error":{"type":"record-not-found","message":"Actor was not found"}}"#,
        );
        assert_eq!(
            format!("{e:?}"),
            "Error { kind: NotFound, message: \"GET /v2/acts/me~missing failed with status 404 \
             (record-not-found) on attempt 1: Actor was not found\", status: 404, type: \
             \"record-not-found\", method: GET, path: \"/v2/acts/me~missing\", attempt: 1 }"
        );
        let e = transport(TransportErrorKind::CONNECT);
        assert_eq!(
            format!("{e:?}"),
            "Error { kind: Connect, message: \"GET /v2/users/me failed on attempt 3 (connect \
             error from the builtin transport): tcp connect error: Connection refused (os error \
             111)\", transport_kind: connect, transport: \"builtin\", method: GET, path: \
             \"/v2/users/me\", attempt: 3, retryable: true }"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::invalid_input("cannot read /tmp/x: no such file").with_source(io);
        let pretty = format!("{e:#?}");
        assert!(
            pretty.starts_with("Error {\n    kind: InvalidInput,"),
            "{pretty}"
        );
        assert!(pretty.contains("source: no such file"), "{pretty}");
        for shown in [format!("{e:?}"), pretty] {
            assert!(
                !shown.contains("Repr") && !shown.contains("InvalidInput("),
                "{shown}"
            );
        }
    }
}
