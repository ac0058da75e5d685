//! JSON request bodies.

use crate::error::{ApiError, ApiResult};

/// Parses a JSON request body, answering the API's 400 when it is not JSON.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("Request body is not valid JSON: {e}")))
}
