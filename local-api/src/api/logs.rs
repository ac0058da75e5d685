//! `GET /v2/logs/{buildOrRunId}`: plain-text logs, whole or streamed (`?stream=1`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::error::ApiResult;
use crate::params::Params;
use crate::state::AppState;
use crate::web::log_stream::serve_log;

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
