//! The errors of the client library. Messages read like sentences and never contain the token.

use std::fmt;

use http::Method;

use crate::transport::ErrorKind as TransportErrorKind;

/// Any failure of a client call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after retries, where they apply).
    #[error(transparent)]
    Api(#[from] ApiError),
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

impl Error {
    /// The API error, if this is one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
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
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed with status {}", self.method, self.path, self.status)?;
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
}

impl TransportFailure {
    /// The same context with another transport error.
    pub fn with_error(mut self, e: apify_plugin_api::Error) -> Self {
        self.kind = e.kind;
        self.message = e.message;
        self
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
