//! `GET /v2/logs/{buildOrRunId}`: plain-text logs, whole or streamed (`?stream=1`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::logs::strip_ansi;
use crate::util::Params;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v2/logs/{id}", get(get_log))
}

/// Without `stream`, the log as it is now. With `stream=1`, the log so far and then every
/// append, until the log is finished (seeded logs are finished unless seeded otherwise).
/// ANSI escape codes are removed unless `raw=1` (in a stream, per chunk).
async fn get_log(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    serve_log(&state, &id, &p)
}

/// The answer of `GET /v2/logs/{id}` for the log of `id`, also used by the run and build
/// log aliases (`/v2/actor-runs/{runId}/log`, ...).
pub fn serve_log(state: &AppState, id: &str, p: &Params) -> ApiResult<Response> {
    let id = id.to_owned();
    let log = state
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
        return Ok((StatusCode::OK, headers, clean(log.read_from(0))).into_response());
    }
    let rx = log.subscribe();
    let stream =
        futures_util::stream::unfold((log, rx, 0usize), move |(log, mut rx, pos)| async move {
            loop {
                let (len, finished) = *rx.borrow_and_update();
                if len > pos {
                    let chunk = log.read_from(pos);
                    let next = pos + chunk.len();
                    return Some((Ok::<Bytes, Infallible>(clean(chunk)), (log, rx, next)));
                }
                if finished || rx.changed().await.is_err() {
                    return None;
                }
            }
        });
    Ok((StatusCode::OK, headers, Body::from_stream(stream)).into_response())
}
