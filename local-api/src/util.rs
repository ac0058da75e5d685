//! Small helpers shared by the routes: ids, timestamps, query parameters, JSON responses.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// The content type of every JSON answer, as the API sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats epoch milliseconds the way the API does: UTC ISO 8601 with milliseconds and `Z`.
pub fn format_millis(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new random id shaped like the API's: `len` alphanumeric characters (storages use 17).
pub fn new_id(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// A `200`/`201` JSON answer wrapped as the API wraps resources: `{"data": value}`.
pub fn data_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    #[derive(Serialize)]
    struct Wrapper<'a, T> {
        data: &'a T,
    }
    json_bytes_response(
        status,
        serde_json::to_vec(&Wrapper { data: value })
            .expect("serializing in-memory JSON cannot fail")
            .into(),
    )
}

/// A JSON answer from already-serialized bytes.
pub fn json_bytes_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// Query parameters of one request, decoded once.
///
/// The API reads booleans as `true`/`1` (anything else is false) and numbers leniently, so the
/// handlers use these accessors instead of serde's strict `Query` extractor.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (without the `?`).
    pub fn parse(query: Option<&str>) -> Self {
        match query {
            Some(q) if !q.is_empty() => Params(
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
            _ => Params::default(),
        }
    }

    /// The last value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty string value.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A boolean flag: `true` or `1` is true, any other value false, absent is `None`.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// A boolean flag with a default for when it is absent.
    pub fn flag_or(&self, name: &str, default: bool) -> bool {
        self.flag(name).unwrap_or(default)
    }

    /// A non-negative integer; a fractional value is truncated, a negative or non-numeric one is
    /// a 400 `invalid-input`.
    pub fn number(&self, name: &str) -> ApiResult<Option<u64>> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        if let Ok(n) = raw.parse::<u64>() {
            return Ok(Some(n));
        }
        match raw.parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
            _ => Err(ApiError::invalid_input(format!(
                "Invalid value of the \"{name}\" parameter: it must be a non-negative number, got \"{raw}\""
            ))),
        }
    }

    /// These parameters with `defaults` added before them (a value given in the query wins).
    pub fn with_defaults(self, defaults: Vec<(String, String)>) -> Self {
        let mut all = defaults;
        all.extend(self.0);
        Params(all)
    }

    /// The parameters encoded again as a query string (`None` when there are none).
    pub fn raw_query(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            out.append_pair(k, v);
        }
        Some(out.finish())
    }

    /// A comma-separated list, with empty entries dropped.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.string(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

/// Lets handlers take `Params` as an argument. Decoding cannot fail: bad values are reported
/// by the accessors, when the handler asks for them.
impl<S: Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Params::parse(parts.uri.query()))
    }
}

/// Parses a JSON request body, answering the API's 400 when it is not JSON.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("Request body is not valid JSON: {e}")))
}
