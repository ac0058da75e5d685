//! Key-value store keys and records (`/v2/key-value-stores/{id}/keys`, `/records/{key}`).

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::db::key_value_store::{validate_key, KeyValueStore, Record};
use crate::db::storage::Storage;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::web::extract::Found;
use crate::web::response::{data_response, json_bytes_response};

/// The API's maximum (and default) page size for keys.
const MAX_KEYS_LIMIT: u64 = 1000;

/// Size of each read from a record file while streaming it out.
const READ_CHUNK: usize = 512 * 1024;

/// Chunks read ahead of the network, per download: bounds a slow client's memory cost.
const READ_AHEAD: usize = 4;

/// The default `Content-Type` of a record stored without one.
const DEFAULT_RECORD_TYPE: &str = "application/octet-stream";

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/key-value-stores/{id}/keys", get(keys))
        .route(
            "/v2/key-value-stores/{id}/records/{key}",
            get(get_record)
                .head(head_record)
                .put(put_record)
                .post(put_record)
                .delete(delete_record),
        )
}

async fn keys(
    Found {
        state,
        storage: store,
        params: p,
    }: Found<KeyValueStore>,
) -> ApiResult<Response> {
    let limit = p
        .number("limit")?
        .unwrap_or(MAX_KEYS_LIMIT)
        .clamp(1, MAX_KEYS_LIMIT);
    let start = p.string("exclusiveStartKey");
    let prefix = p.string("prefix");
    let page = store.keys(start, prefix, limit as usize);
    let base = format!(
        "{}/v2/key-value-stores/{}/records/",
        state.identity.base_url,
        store.meta().id
    );
    let next = if page.is_truncated {
        page.items.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|(key, size)| json!({ "key": key, "size": size, "recordPublicUrl": format!("{base}{key}") }))
        .collect();
    Ok(data_response(
        StatusCode::OK,
        &json!({
            "items": items,
            "count": items.len(),
            "limit": limit,
            "exclusiveStartKey": start,
            "isTruncated": page.is_truncated,
            "nextExclusiveStartKey": next,
        }),
    ))
}

/// The record `key` of the found store, or 404 `record-not-found`.
fn record(found: &Found<KeyValueStore>, key: &str) -> ApiResult<Arc<Record>> {
    found
        .storage
        .get(key)
        .ok_or_else(|| ApiError::not_found("Record was not found"))
}

fn record_headers(record: &Record, params: &Params, key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, record.content_type.clone());
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(record.size));
    // As the real API: a broken download can ask for the rest with `Range: bytes=N-`.
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if params.flag_or("attachment", false) {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{key}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    headers
}

/// `GET …/records/{key}`: the body as stored, with its `Content-Type` and `Content-Length`.
/// Small records come from memory; others stream from their file in bounded chunks. A single
/// `Range: bytes=A-B` (or `A-`, or `-N`) is answered with 206 and that part, as the real API
/// does; an unsatisfiable one with 416; `If-Range` (this server has no validators to compare)
/// and multiple ranges get the whole record, which RFC 9110 allows.
async fn get_record(
    found: Found<KeyValueStore>,
    Path((_, key)): Path<(String, String)>,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    let record = record(&found, &key)?;
    let mut headers = record_headers(&record, &found.params, &key);
    let range = match request_headers.get(header::RANGE) {
        Some(_) if request_headers.contains_key(header::IF_RANGE) => None,
        Some(v) => match parse_range(v.to_str().unwrap_or(""), record.size) {
            RangeRequest::Whole => None,
            RangeRequest::Part(start, end) => Some((start, end)),
            RangeRequest::Unsatisfiable => {
                let mut h = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", record.size)) {
                    h.insert(header::CONTENT_RANGE, v);
                }
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h).into_response());
            }
        },
        None => None,
    };
    let Some((start, end)) = range else {
        let body = match &record.inline {
            Some(bytes) => Body::from(bytes.clone()),
            None => file_body(&record, 0, record.size).await?,
        };
        return Ok((StatusCode::OK, headers, body).into_response());
    };
    let len = end - start + 1;
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", record.size)) {
        headers.insert(header::CONTENT_RANGE, v);
    }
    let body = match &record.inline {
        Some(bytes) => Body::from(bytes.slice(start as usize..=end as usize)),
        None => file_body(&record, start, len).await?,
    };
    Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response())
}

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// No usable single byte range: send the whole body (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part(u64, u64),
    /// A syntactically valid range that lies outside the body (416).
    Unsatisfiable,
}

/// Parses `bytes=A-B`, `bytes=A-` and `bytes=-N` against a body of `size` bytes.
fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match num(b) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            None => return RangeRequest::Whole,
        },
        (false, true) => match num(a) {
            Some(start) => (start, size.saturating_sub(1)),
            None => return RangeRequest::Whole,
        },
        (false, false) => match (num(a), num(b)) {
            (Some(start), Some(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
            _ => return RangeRequest::Whole,
        },
        (true, true) => return RangeRequest::Whole,
    };
    if size == 0 || start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(start, end)
}

/// Opens the record's file and streams `len` bytes from `start` from a blocking reader thread
/// through a small channel, so a slow client holds at most [`READ_AHEAD`] chunks in memory.
async fn file_body(record: &Record, start: u64, len: u64) -> ApiResult<Body> {
    // Opened while `record` is alive, so the file cannot be unlinked by a concurrent overwrite
    // before we hold it; afterwards the open descriptor keeps the data readable.
    let file = tokio::fs::File::open(&record.path).await?.into_std().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        if start > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
        let mut left = len;
        while left > 0 {
            // `read_to_end` into spare capacity reads straight into uninitialized memory: no
            // zeroing, one syscall per chunk, and the Vec becomes `Bytes` without a copy.
            let want = left.min(READ_CHUNK as u64);
            let mut buf = Vec::with_capacity(want as usize);
            match (&mut file).take(want).read_to_end(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // client went away
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Ok(Body::from_stream(futures_util::stream::poll_fn(
        move |cx| rx.poll_recv(cx),
    )))
}

/// `HEAD …/records/{key}`: the headers of GET, without opening the file.
async fn head_record(
    found: Found<KeyValueStore>,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let record = record(&found, &key)?;
    Ok((StatusCode::OK, record_headers(&record, &found.params, &key)).into_response())
}

/// `PUT`/`POST …/records/{key}`: streams the (decoded) body to a new file, keeps the request's
/// `Content-Type`; 201.
async fn put_record(
    Found {
        state,
        storage: store,
        ..
    }: Found<KeyValueStore>,
    Path((_, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    validate_key(&key)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_RECORD_TYPE));
    let path = store.new_file_path();
    let written =
        crate::web::body::stream_to_file(&headers, body, &path, state.max_record_bytes).await?;
    store.put(
        &key,
        Record {
            content_type,
            size: written.size,
            path,
            inline: written.inline,
        },
    );
    let mut response = json_bytes_response(StatusCode::CREATED, Bytes::from_static(b"{}"));
    let location = format!(
        "{}/v2/key-value-stores/{}/records/{key}",
        state.identity.base_url,
        store.meta().id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `DELETE …/records/{key}`: 204, also when there was no such record.
async fn delete_record(
    Found { storage, .. }: Found<KeyValueStore>,
    Path((_, key)): Path<(String, String)>,
) -> StatusCode {
    storage.delete(&key);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::{parse_range, RangeRequest::*};

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=10-", 100), Part(10, 99));
        assert_eq!(parse_range("bytes=10-19", 100), Part(10, 19));
        assert_eq!(parse_range("bytes=10-500", 100), Part(10, 99));
        assert_eq!(parse_range("bytes=-5", 100), Part(95, 99));
        assert_eq!(parse_range("bytes=-500", 100), Part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Whole);
        assert_eq!(parse_range("bytes=5-1", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
        assert_eq!(parse_range("bytes=x-", 100), Whole);
    }
}
