//! The control API under `/_control`, for tests and benchmarks: the request log, seeding (big
//! datasets, big records, logs) and reset. It is never logged. When the server has a token,
//! every route but `/_control/health` needs it, as `/v2` does; the request log it serves holds
//! no credential (see [`crate::request_log`]).

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use crate::db::dataset::Dataset;
use crate::db::key_value_store::{validate_key, KeyValueStore, Record, INLINE_RECORD_LIMIT};
use crate::db::seed::generate_items;
use crate::db::storage::Storage;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::web::body::read_limited;
use crate::web::response::data_response;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_control/health", get(|| async { "ok" }))
        .route(
            "/_control/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/_control/reset", post(reset))
        .route("/_control/datasets/{id}/generate", post(generate_dataset))
        .route(
            "/_control/key-value-stores/{id}/records/{key}/generate",
            post(generate_record),
        )
        .route("/_control/logs/{id}", put(set_log).post(append_log))
}

async fn list_requests(State(state): State<Arc<AppState>>) -> Response {
    Json(state.request_log.snapshot()).into_response()
}

async fn clear_requests(State(state): State<Arc<AppState>>) -> StatusCode {
    state.request_log.clear();
    StatusCode::NO_CONTENT
}

/// Drops all storages and logs, and the request log.
async fn reset(State(state): State<Arc<AppState>>) -> StatusCode {
    let state2 = state.clone();
    // Dropping key-value stores removes folders: keep that off the async workers.
    let _ = tokio::task::spawn_blocking(move || state2.reset_storages()).await;
    state.request_log.clear();
    StatusCode::NO_CONTENT
}

/// `POST /_control/datasets/{id}/generate?count=N&pad=BYTES`.
async fn generate_dataset(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let count = p.number("count")?.unwrap_or(1000) as usize;
    let pad = p.number("pad")?.unwrap_or(0) as usize;
    let state2 = state.clone();
    let id = tokio::task::spawn_blocking(move || {
        generate_items(&state2.db, &state2.identity.username, &id, count, pad)
    })
    .await
    .map_err(|e| ApiError::internal(format!("generator failed: {e}")))??;
    let dataset = state.find_storage::<Dataset>(&id)?;
    Ok(data_response(
        StatusCode::CREATED,
        &dataset.to_json(&state.identity),
    ))
}

/// `POST /_control/key-value-stores/{id}/records/{key}/generate?bytes=N&contentType=T`:
/// writes a record of `N` deterministic pseudo-random bytes straight to disk (the store is
/// created, named so, when missing), so benchmarks need not upload big records first.
async fn generate_record(
    State(state): State<Arc<AppState>>,
    Path((id, key)): Path<(String, String)>,
    p: Params,
) -> ApiResult<Response> {
    validate_key(&key)?;
    let size = p.number("bytes")?.unwrap_or(1024 * 1024);
    let content_type = p
        .string("contentType")
        .and_then(|v| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let store = match state
        .db
        .key_value_stores
        .resolve(&id, &state.identity.username)
    {
        Some(s) => s,
        None => {
            state
                .db
                .key_value_stores
                .get_or_create(Some(&id), |meta| KeyValueStore::new(meta, state.data_dir()))?
                .0
        }
    };
    let path = store.new_file_path();
    let path2 = path.clone();
    let inline = tokio::task::spawn_blocking(move || write_pattern(&path2, size))
        .await
        .map_err(|e| ApiError::internal(format!("generator failed: {e}")))??;
    store.put(
        &key,
        Record {
            content_type,
            size,
            path,
            inline,
        },
    );
    Ok(data_response(
        StatusCode::CREATED,
        &json!({ "storeId": store.meta().id, "key": key, "size": size }),
    ))
}

/// Writes `size` bytes of an xorshift stream; returns them too when small enough to inline.
fn write_pattern(path: &std::path::Path, size: u64) -> std::io::Result<Option<bytes::Bytes>> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut left = size;
    let mut kept = Vec::new();
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        if size as usize <= INLINE_RECORD_LIMIT {
            kept.extend_from_slice(&chunk[..n]);
        }
        left -= n as u64;
    }
    file.flush()?;
    Ok((size as usize <= INLINE_RECORD_LIMIT).then(|| kept.into()))
}

/// `PUT /_control/logs/{id}?finished=0|1` (default 1): replaces the log with the body (at most
/// `max_payload_bytes` after decoding, like any other body held in memory).
async fn set_log(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let text = read_limited(&headers, body, state.max_payload_bytes).await?;
    state
        .db
        .logs
        .set(&id, text.to_vec(), p.flag_or("finished", true));
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /_control/logs/{id}?finish=0|1` (default 0): appends the body to the log.
async fn append_log(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let text = read_limited(&headers, body, state.max_payload_bytes).await?;
    state.db.logs.append(&id, &text, p.flag_or("finish", false));
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().remove(header::CONTENT_TYPE);
    Ok(r)
}
