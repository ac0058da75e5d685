//! Request queue head, requests and locks (`/v2/request-queues/{id}/…`).

use std::sync::Arc;

use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use http::StatusCode;
use serde_json::{json, Value};

use crate::db::request_queue::{ListFilter, ListStart, RequestQueue, MAX_BATCH};
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::util::format_millis;
use crate::web::body::JsonPayload;
use crate::web::extract::Found;
use crate::web::response::data_response;

/// Default number of requests in `GET /head`.
const DEFAULT_HEAD_LIMIT: u64 = 100;
/// Default and largest number of requests locked by `POST /head/lock` (the spec's
/// `headLockLimit` maximum).
const MAX_LOCK_LIMIT: u64 = 25;
/// Largest page of `GET /requests` (the spec's `listLimit` maximum).
const MAX_LIMIT: u64 = 10_000;
/// Largest `GET /head` (`REQUEST_QUEUE_HEAD_MAX_LIMIT` of `@apify/consts`).
const MAX_HEAD_LIMIT: u64 = 1000;
/// Default page of `GET /requests`.
const DEFAULT_LIST_LIMIT: u64 = 1000;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/request-queues/{id}/head", get(head))
        .route("/v2/request-queues/{id}/head/lock", post(lock_head))
        .route("/v2/request-queues/{id}/requests", get(list).post(add))
        .route(
            "/v2/request-queues/{id}/requests/batch",
            post(batch_add).delete(batch_delete),
        )
        .route("/v2/request-queues/{id}/requests/unlock", post(unlock_all))
        .route(
            "/v2/request-queues/{id}/requests/{request_id}",
            get(get_request).put(update_request).delete(delete_request),
        )
        .route(
            "/v2/request-queues/{id}/requests/{request_id}/lock",
            put(prolong_lock).delete(delete_lock),
        )
}

/// `clientKey`: 1–32 characters when given.
fn client_key(p: &Params) -> ApiResult<Option<&str>> {
    match p.string("clientKey") {
        Some(k) if k.len() > 32 => Err(ApiError::invalid_input(
            "The \"clientKey\" parameter must be between 1 and 32 characters long",
        )),
        other => Ok(other),
    }
}

fn lock_secs(p: &Params) -> ApiResult<u64> {
    p.number("lockSecs")?
        .ok_or_else(|| ApiError::invalid_input("The \"lockSecs\" parameter is required"))
}

async fn head(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
) -> ApiResult<Response> {
    let limit = p
        .number("limit")?
        .unwrap_or(DEFAULT_HEAD_LIMIT)
        .min(MAX_HEAD_LIMIT);
    let head = queue.head(limit as usize, client_key(&p)?);
    Ok(data_response(
        StatusCode::OK,
        &json!({
            "limit": limit,
            "queueModifiedAt": head.queue_modified_at,
            "hadMultipleClients": head.had_multiple_clients,
            "items": head.items,
        }),
    ))
}

async fn lock_head(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
) -> ApiResult<Response> {
    let secs = lock_secs(&p)?;
    let limit = p
        .number("limit")?
        .unwrap_or(MAX_LOCK_LIMIT)
        .min(MAX_LOCK_LIMIT);
    let client = client_key(&p)?;
    let head = queue.lock_head(limit as usize, secs, client);
    let mut data = json!({
        "limit": limit,
        "queueModifiedAt": head.queue_modified_at,
        "queueHasLockedRequests": head.queue_has_locked_requests,
        "hadMultipleClients": head.had_multiple_clients,
        "lockSecs": secs,
        "items": head.items,
    });
    if let Some(client) = client {
        data["clientKey"] = client.into();
    }
    Ok(data_response(StatusCode::CREATED, &data))
}

async fn list(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
) -> ApiResult<Response> {
    let limit = p
        .number("limit")?
        .unwrap_or(DEFAULT_LIST_LIMIT)
        .min(MAX_LIMIT);
    let cursor = p.string("cursor");
    let exclusive_start_id = p.string("exclusiveStartId");
    let start = match (cursor, exclusive_start_id) {
        (Some(c), _) => ListStart::Cursor(
            c.parse()
                .map_err(|_| ApiError::invalid_input(format!("Invalid cursor \"{c}\"")))?,
        ),
        (None, Some(id)) => ListStart::AfterId(id),
        (None, None) => ListStart::Beginning,
    };
    let mut filter = ListFilter::default();
    for f in p.list("filter").unwrap_or_default() {
        match f.as_str() {
            "pending" => filter.pending = true,
            "locked" => filter.locked = true,
            other => {
                return Err(ApiError::invalid_input(format!(
                    "Invalid filter \"{other}\": expected \"pending\" and/or \"locked\""
                )))
            }
        }
    }
    let page = queue.list(start, limit as usize, filter, client_key(&p)?);
    let mut data = json!({ "items": page.items, "limit": limit });
    if let Some(id) = exclusive_start_id {
        data["exclusiveStartId"] = id.into();
    }
    if let Some(c) = cursor {
        data["cursor"] = c.into();
    }
    if let Some(next) = page.next_cursor {
        data["nextCursor"] = next.into();
    }
    Ok(data_response(StatusCode::OK, &data))
}

async fn add(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let reg = queue.add(
        parse_json(&body)?,
        p.flag_or("forefront", false),
        client_key(&p)?,
    )?;
    Ok(data_response(StatusCode::CREATED, &reg.to_json()))
}

async fn batch_add(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let requests = batch_body(&body)?;
    let (processed, unprocessed) =
        queue.add_batch(requests, p.flag_or("forefront", false), client_key(&p)?)?;
    let processed: Vec<Value> = processed.iter().map(|r| r.to_batch_json()).collect();
    Ok(data_response(
        StatusCode::CREATED,
        &json!({ "processedRequests": processed, "unprocessedRequests": unprocessed }),
    ))
}

/// The body of a batch call: a JSON array of at most `MAX_BATCH` requests.
fn batch_body(body: &[u8]) -> ApiResult<Vec<Value>> {
    let Value::Array(requests) = parse_json(body)? else {
        return Err(ApiError::invalid_request(
            "The request body must be a JSON array of requests",
        ));
    };
    if requests.len() > MAX_BATCH {
        return Err(ApiError::invalid_value(format!(
            "A batch can have at most {MAX_BATCH} requests, got {}",
            requests.len()
        )));
    }
    Ok(requests)
}

async fn batch_delete(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let requests = batch_body(&body)?;
    let (processed, unprocessed) = queue.delete_batch(requests, client_key(&p)?);
    Ok(data_response(
        StatusCode::OK,
        &json!({ "processedRequests": processed, "unprocessedRequests": unprocessed }),
    ))
}

async fn unlock_all(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
) -> ApiResult<Response> {
    let count = queue.unlock_all(client_key(&p)?);
    Ok(data_response(
        StatusCode::OK,
        &json!({ "unlockedCount": count }),
    ))
}

async fn get_request(
    Found { storage: queue, .. }: Found<RequestQueue>,
    Path((_, request_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let request = queue
        .get(&request_id)
        .ok_or_else(|| ApiError::not_found("Request was not found"))?;
    Ok(data_response(StatusCode::OK, &request))
}

async fn update_request(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    Path((_, request_id)): Path<(String, String)>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let reg = queue.update(
        &request_id,
        parse_json(&body)?,
        p.flag_or("forefront", false),
        client_key(&p)?,
    )?;
    Ok(data_response(StatusCode::OK, &reg.to_json()))
}

async fn delete_request(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    Path((_, request_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if queue.delete(&request_id, client_key(&p)?) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Request was not found"))
    }
}

async fn prolong_lock(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    Path((_, request_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let secs = lock_secs(&p)?;
    let expires = queue.prolong_lock(
        &request_id,
        secs,
        p.flag_or("forefront", false),
        client_key(&p)?,
    )?;
    Ok(data_response(
        StatusCode::OK,
        &json!({ "lockExpiresAt": format_millis(expires) }),
    ))
}

async fn delete_lock(
    Found {
        storage: queue,
        params: p,
        ..
    }: Found<RequestQueue>,
    Path((_, request_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    queue.delete_lock(&request_id, p.flag_or("forefront", false), client_key(&p)?)?;
    Ok(StatusCode::NO_CONTENT)
}
