//! The errors of the client library. Messages read like sentences and never contain the token.

use std::fmt;

use http::Method;

use crate::token::Token;
use crate::transport::ErrorKind as TransportErrorKind;

/// Any failure of a client call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after retries, where they apply). Boxed: it is
    /// the largest variant, and every `Result<_, Error>` would otherwise carry its size.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The transport could not complete the exchange (after retries, where they apply).
    #[error(transparent)]
    Transport(#[from] TransportFailure),
    /// The caller's input cannot be sent (e.g. not serializable).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The API's answer could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// The client is misconfigured (no token, bad URL, bad plugin...).
    #[error("{0}")]
    Config(String),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// The API error, if this is one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// The transport failure, if this is one.
    pub fn as_transport(&self) -> Option<&TransportFailure> {
        match self {
            Error::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.as_api().map(|e| e.status)
    }

    /// Which attempt (1-based) produced this error, for API and transport errors.
    pub fn attempt(&self) -> Option<u32> {
        match self {
            Error::Api(e) => Some(e.attempt),
            Error::Transport(e) => Some(e.attempt),
            _ => None,
        }
    }

    /// Whether this is a 404 `record-not-found` (turned into `None` by `get`-like calls).
    pub fn is_record_not_found(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == 404 && e.error_type.as_deref().is_none_or(|t| t == "record-not-found"))
    }
}

/// Turns a 404 `record-not-found` into `Ok(None)`, as the reference clients' `get` does.
pub fn not_found_as_none<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_record_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The class of an [`ApiError`], by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn from_body(status: u16, body: &[u8], attempt: u32, method: Method, path: String) -> Self {
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
    pub fn redacted(mut self, token: Option<&Token>) -> Self {
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
        write!(
            f,
            "{} {} failed with status {}",
            self.method, self.path, self.status
        )?;
        if let Some(t) = &self.error_type {
            write!(f, " ({t})")?;
        }
        write!(f, " on attempt {}: {}", self.attempt, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A transport failure with the call's context.
#[derive(Debug, Clone)]
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
    /// The transport's hint whether a retry may succeed (decisive for [`TransportErrorKind::OTHER`]
    /// and kinds this version does not know; the other kinds are classified by kind).
    pub retryable: bool,
}

impl TransportFailure {
    /// The same context with another transport error.
    pub fn with_error(mut self, e: apify_plugin_api::Error) -> Self {
        self.kind = e.kind;
        self.message = e.message;
        self.retryable = e.retryable;
        self
    }

    /// Removes the token, and any `token=` query value, from the message.
    pub fn redacted(mut self, token: Option<&Token>) -> Self {
        self.message = redact_secrets(&self.message, token);
        self
    }

    /// Whether a retry may succeed, as the pipeline's retry policy reads it: by kind, and by the
    /// transport's hint for `OTHER` and unknown kinds.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient().unwrap_or(self.retryable)
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} failed on attempt {} ({} error from the {} transport): {}",
            self.method, self.path, self.attempt, self.kind, self.transport, self.message
        )
    }
}

impl std::error::Error for TransportFailure {}

/// Removes secrets from text that came from a server or a transport: every occurrence of the
/// token, and the value of any `token=` query parameter (a transport may quote the URL it was
/// given, and a URL may carry a token that is not the client's own, e.g. a signed link).
pub(crate) fn redact_secrets(text: &str, token: Option<&Token>) -> String {
    let text = match token {
        Some(t) => t.redact(text),
        None => text.to_string(),
    };
    redact_token_params(&text)
}

/// `...?token=abc&x=1` → `...?token=***&x=1` (case-insensitive name, any position).
fn redact_token_params(text: &str) -> String {
    const NAME: &str = "token=";
    let lower = text.to_ascii_lowercase();
    if !lower.contains(NAME) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(NAME) {
        let start = search + found;
        // Only a parameter name: at the start, or after `?`, `&`, `;` or whitespace, so that
        // e.g. `csrftoken=` is left alone while `?token=` and `&token=` are caught.
        let is_param = start == 0
            || matches!(
                text.as_bytes()[start - 1],
                b'?' | b'&' | b';' | b' ' | b'"' | b'\''
            );
        let value_start = start + NAME.len();
        let value_end = text[value_start..]
            .find(|c: char| {
                matches!(c, '&' | '#' | '"' | '\'' | ';' | '<' | '>' | ')' | ',')
                    || c.is_whitespace()
            })
            .map_or(text.len(), |i| value_start + i);
        if is_param && value_end > value_start {
            out.push_str(&text[rest..value_start]);
            out.push_str("***");
            rest = value_end;
        }
        search = value_end.max(start + NAME.len());
    }
    out.push_str(&text[rest..]);
    out
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
}
