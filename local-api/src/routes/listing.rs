//! One page of a list answer, shaped as the API's lists of Actors, runs and builds:
//! `{"data": {total, count, offset, limit, desc, items}}`, oldest first unless `desc=1`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::util::{data_response, Params};

/// The API's maximum (and default) page size of these lists.
pub const MAX_LIMIT: u64 = 1000;

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
