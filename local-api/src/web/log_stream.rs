//! A log answered whole or streamed (`?stream=1`), for `/v2/logs/{id}` and the run and build
//! log aliases.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::db::logs::strip_ansi;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;

/// The answer of `GET /v2/logs/{id}` for the log of `id`, also used by the run and build
/// log aliases (`/v2/actor-runs/{runId}/log`, ...).
pub fn serve_log(state: &AppState, id: &str, p: &Params) -> ApiResult<Response> {
    let id = id.to_owned();
    let log = state
        .db
        .logs
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Log was not found"))?;
    let raw = p.flag_or("raw", false);
    let clean = move |b: Bytes| if raw { b } else { Bytes::from(strip_ansi(&b)) };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if p.flag_or("download", false) {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.log\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    if !p.flag_or("stream", false) {
        return Ok((StatusCode::OK, headers, clean(log.read_from(0).0)).into_response());
    }
    let rx = log.subscribe();
    let stream =
        futures_util::stream::unfold((log, rx, 0usize), move |(log, mut rx, pos)| async move {
            loop {
                let (end, finished) = *rx.borrow_and_update();
                if end > pos {
                    // Positions count dropped bytes too: a capped log's head may go meanwhile.
                    let (chunk, next) = log.read_from(pos);
                    return Some((Ok::<Bytes, Infallible>(clean(chunk)), (log, rx, next)));
                }
                if finished || rx.changed().await.is_err() {
                    return None;
                }
            }
        });
    Ok((StatusCode::OK, headers, Body::from_stream(stream)).into_response())
}
