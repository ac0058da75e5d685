//! API errors, shaped exactly like the Apify API's: `{"error": {"type": ..., "message": ...}}`.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// The content type of every JSON answer, as the API sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// An error answered to the client with the Apify API's error body.
///
/// `kind` is the API's machine-readable `error.type` (e.g. `record-not-found`); the values used
/// here are all taken from the `ErrorDetail.type` enum of the official OpenAPI spec.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// The API's `error.type`.
    pub kind: Cow<'static, str>,
    /// The API's human-readable `error.message`.
    pub message: Cow<'static, str>,
}

impl ApiError {
    /// An error with any status, type and message.
    pub fn new(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// 404 `record-not-found`, the API's answer for any missing storage, record or request.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "record-not-found", message)
    }

    /// 400 `invalid-input`: a query parameter has a value the endpoint cannot use.
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-input", message)
    }

    /// 400 `invalid-value`: the body is valid JSON but a value in it is not acceptable.
    pub fn invalid_value(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-value", message)
    }

    /// 400 `invalid-request`: the body is not the JSON the endpoint expects.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", message)
    }

    /// 401 `token-not-provided`.
    pub fn token_not_provided() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "token-not-provided",
            "Authentication token was not provided",
        )
    }

    /// 401 for a wrong token. The real API answers a wrong token with this type and message.
    pub fn token_not_valid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "user-or-token-not-found",
            "User was not found or authentication token is not valid",
        )
    }

    /// 404 `page-not-found` for a path that is no endpoint.
    pub fn page_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "page-not-found",
            "We have bad news: there is no API endpoint at this URL. Did you specify it correctly?",
        )
    }

    /// 413 `request-too-large`, with the API's message.
    pub fn too_large(limit: u64, actual: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request-too-large",
            format!(
                "The POST payload is too large (limit: {limit} bytes, actual length: {actual} bytes)."
            ),
        )
    }

    /// 413 `request-too-large` for a key-value store record over the server's
    /// `max_record_bytes` (the API documents no record limit, so the message says how to
    /// raise this server's).
    pub fn record_too_large(limit: u64, seen: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request-too-large",
            format!(
                "The record is too large: this server stores records of at most {limit} bytes, and the upload was refused at {seen} bytes; start apify-local-api with a larger --max-record-bytes (LocalApiConfig::max_record_bytes) to store it"
            ),
        )
    }

    /// 415 `unsupported-content-encoding`, with the API's message.
    pub fn unsupported_encoding(encoding: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-content-encoding",
            format!("Content-Encoding \"{encoding}\" is not supported."),
        )
    }

    /// 500 `internal-server-error` for a local failure (e.g. disk I/O).
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-server-error",
            message,
        )
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            error: Detail<'a>,
        }
        #[derive(serde::Serialize)]
        struct Detail<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            message: &'a str,
        }
        serde_json::to_vec(&Body {
            error: Detail {
                kind: &self.kind,
                message: &self.message,
            },
        })
        .expect("serializing strings cannot fail")
    }
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> Self {
        Self::internal(format!("Local storage I/O failed: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        );
        response
    }
}

/// Result type of the route handlers.
pub type ApiResult<T> = Result<T, ApiError>;
