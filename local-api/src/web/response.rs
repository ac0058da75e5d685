//! Answers: JSON bodies wrapped as the API wraps them, list pages, and the API's 405.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult, JSON_CONTENT_TYPE};
use crate::params::Params;

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

/// The API's maximum (and default) page size of the lists of Actors, runs, builds, tasks,
/// webhooks and schedules.
pub const MAX_LIMIT: u64 = 1000;

/// One page of a list answer, shaped as the API's lists of Actors, runs and builds:
/// `{"data": {total, count, offset, limit, desc, items}}`, oldest first unless `desc=1`.
/// Pages `items` (in creation order) by the `offset`, `limit` and `desc` parameters.
pub fn page<T>(
    p: &Params,
    mut items: Vec<T>,
    to_json: impl Fn(&T) -> Value,
) -> ApiResult<Response> {
    let offset = p.number("offset")?.unwrap_or(0);
    let limit = p.number("limit")?.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    let desc = p.flag_or("desc", false);
    if desc {
        items.reverse();
    }
    let total = items.len();
    let page: Vec<Value> = items
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(to_json)
        .collect();
    Ok(data_response(
        StatusCode::OK,
        &json!({
            "total": total,
            "count": page.len(),
            "offset": offset,
            "limit": limit,
            "desc": desc,
            "items": page,
        }),
    ))
}

/// Turns axum's bare 405 into the API's error body, naming the allowed methods. Applied
/// outside the router, because axum adds the `Allow` header outside route layers.
pub fn method_not_allowed(response: Response) -> Response {
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace(' ', ""))
        .unwrap_or_default();
    let mut new = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("This API end-point can only be accessed using the following HTTP methods: OPTIONS,{allow}"),
    )
    .into_response();
    if let Some(v) = response.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, v.clone());
    }
    new
}
