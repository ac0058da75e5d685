//! Actor runs: `/v2/actor-runs`, and the same run operations reached from an Actor
//! (`/v2/acts/{actorId}/runs/{runId}/...`, `/v2/acts/{actorId}/runs/last/...`).
//!
//! One extractor, [`FoundRun`], finds the run whichever way the path names it, so each
//! operation is written once. The run-scoped storage aliases (`…/dataset/items`,
//! `…/key-value-store/records/{key}`, ...) resolve the run, then hand the request to the
//! storage routes ([`StorageForwarder`]) with the path rewritten, so those endpoints exist
//! once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::db::runs::{is_terminal, status_filter, Run, RunFilter};
use crate::engine;
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::web::body::{JsonPayload, Payload};
use crate::web::extract::{FoundRun, ACTOR_BASES};
use crate::web::forward::StorageForwarder;
use crate::web::log_stream::serve_log;
use crate::web::response::{data_response, page};
use crate::web::start::{input_of, wait_limit};

/// The storage aliases of a run: path segment and the collection it stands for.
const STORAGE_ALIASES: [(&str, &str); 3] = [
    ("dataset", "datasets"),
    ("key-value-store", "key-value-stores"),
    ("request-queue", "request-queues"),
];

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    let mut prefixes = vec!["/v2/actor-runs/{runId}".to_owned()];
    prefixes.push("/v2/actor-tasks/{actorTaskId}/runs/last".to_owned());
    for base in ACTOR_BASES {
        prefixes.push(format!("{base}/{{actorId}}/runs/{{runId}}"));
        prefixes.push(format!("{base}/{{actorId}}/runs/last"));
    }
    let mut router = Router::new().route("/v2/actor-runs", get(list));
    for prefix in &prefixes {
        let object = if prefix.starts_with("/v2/actor-runs") {
            get(get_one).put(update).delete(delete)
        } else {
            get(get_one)
        };
        router = router
            .route(prefix, object)
            .route(&format!("{prefix}/abort"), post(abort))
            .route(&format!("{prefix}/reboot"), post(reboot))
            .route(&format!("{prefix}/metamorph"), post(metamorph))
            .route(&format!("{prefix}/resurrect"), post(resurrect))
            .route(&format!("{prefix}/charge"), post(charge))
            .route(&format!("{prefix}/log"), get(log));
        for (segment, _) in STORAGE_ALIASES {
            router = router
                .route(&format!("{prefix}/{segment}"), any(storage_alias))
                .route(&format!("{prefix}/{segment}/{{*rest}}"), any(storage_alias));
        }
    }
    router
}

async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    let filter = RunFilter {
        statuses: status_filter(&p)?,
        ..RunFilter::default()
    };
    page(&p, state.db.runs.list(&filter), |r| r.to_short_json())
}

fn answer(state: &AppState, run: &Run) -> Response {
    data_response(StatusCode::OK, &run.to_json(&state.identity))
}

/// `GET`: the run, after up to `waitForFinish` seconds (≤ 60) if it is still going.
async fn get_one(FoundRun { state, run, params }: FoundRun) -> ApiResult<Response> {
    run.wait_for_finish(wait_limit(&state, &params)?).await;
    Ok(answer(&state, &run))
}

/// `PUT /v2/actor-runs/{runId}`: `statusMessage`, `isStatusMessageTerminal`.
async fn update(
    FoundRun { state, run, .. }: FoundRun,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let update: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(&body)?
    };
    let Value::Object(update) = update else {
        return Err(ApiError::invalid_request(
            "The request body must be a JSON object",
        ));
    };
    {
        let mut inner = run.inner();
        match update.get("statusMessage") {
            None => {}
            Some(Value::Null) => inner.status_message = None,
            Some(Value::String(m)) => inner.status_message = Some(m.clone()),
            Some(_) => {
                return Err(ApiError::invalid_value(
                    "\"statusMessage\" must be a string or null",
                ))
            }
        }
        match update.get("isStatusMessageTerminal") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => inner.is_status_message_terminal = Some(*b),
            Some(_) => {
                return Err(ApiError::invalid_value(
                    "\"isStatusMessageTerminal\" must be a boolean",
                ))
            }
        }
    }
    Ok(answer(&state, &run))
}

/// `DELETE`: a finished run is forgotten (its storages stay); a live one is refused.
async fn delete(FoundRun { state, run, .. }: FoundRun) -> ApiResult<StatusCode> {
    if !is_terminal(run.status()) {
        return Err(ApiError::invalid_input(format!(
            "Run {} is {}: abort it before deleting it",
            run.id,
            run.status()
        )));
    }
    state.db.runs.remove(&run.id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/abort?gracefully=1`: SIGTERM then SIGKILL after a grace period; else SIGKILL.
async fn abort(FoundRun { state, run, params }: FoundRun) -> Response {
    engine::abort(&run, params.flag_or("gracefully", false)).await;
    answer(&state, &run)
}

async fn reboot(FoundRun { state, run, .. }: FoundRun) -> ApiResult<Response> {
    engine::reboot(&state, &run).await?;
    Ok(answer(&state, &run))
}

/// `POST …/metamorph?targetActorId=&build=`: the body is the new input.
async fn metamorph(
    FoundRun { state, run, params }: FoundRun,
    headers: HeaderMap,
    Payload(body): Payload,
) -> ApiResult<Response> {
    let target_id = params.string("targetActorId").ok_or_else(|| {
        ApiError::invalid_input(
            "The \"targetActorId\" parameter is required: name the Actor to metamorph into",
        )
    })?;
    let target = state.find_actor(target_id)?;
    engine::metamorph(
        &state,
        &run,
        &target,
        params.string("build"),
        input_of(&headers, body),
    )
    .await?;
    Ok(answer(&state, &run))
}

async fn resurrect(FoundRun { state, run, .. }: FoundRun) -> ApiResult<Response> {
    engine::resurrect(&state, &run)?;
    Ok(answer(&state, &run))
}

/// `POST …/charge` with `{"eventName", "count"}` and an optional `idempotency-key` header:
/// a charge repeated with the same key is counted once.
async fn charge(
    FoundRun { state, run, .. }: FoundRun,
    headers: HeaderMap,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let body: Value = parse_json(&body)?;
    let event = body
        .get("eventName")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_input("The body needs \"eventName\", the event to charge")
        })?;
    let count = match body.get("count") {
        None | Some(Value::Null) => 1,
        Some(c) => c
            .as_u64()
            .filter(|c| *c > 0)
            .ok_or_else(|| ApiError::invalid_input("\"count\" must be a positive integer"))?,
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    engine::charge(&state, &run, event, count, key)?;
    Ok(StatusCode::CREATED.into_response())
}

async fn log(FoundRun { state, run, params }: FoundRun) -> ApiResult<Response> {
    serve_log(&state, &run.id, &params)
}

/// `…/dataset[/rest]`, `…/key-value-store[/rest]`, `…/request-queue[/rest]`: the same request
/// sent to `/v2/{collection}/{storageId}[/rest]`, with the raw (still percent-encoded) rest
/// of the path and the query.
async fn storage_alias(
    State(state): State<Arc<AppState>>,
    matched: MatchedPath,
    Path(path): Path<HashMap<String, String>>,
    Extension(forwarder): Extension<StorageForwarder>,
    req: Request,
) -> Response {
    let params = Params::parse(req.uri().query());
    let run = match state.find_run(&path, &params) {
        Ok(run) => run,
        Err(e) => return e.into_response(),
    };
    // The alias segment's position in the route pattern is its position in the real path.
    let pattern: Vec<&str> = matched.as_str().split('/').collect();
    let Some((at, collection, storage_id)) = pattern.iter().enumerate().find_map(|(i, seg)| {
        let (_, collection) = STORAGE_ALIASES.iter().find(|(s, _)| s == seg)?;
        let id = match *seg {
            "dataset" => &run.dataset_id,
            "key-value-store" => &run.key_value_store_id,
            _ => &run.request_queue_id,
        };
        Some((i, *collection, id.clone()))
    }) else {
        return ApiError::page_not_found().into_response();
    };
    let rest: Vec<&str> = req.uri().path().split('/').skip(at + 1).collect();
    let mut target = format!("/v2/{collection}/{storage_id}");
    if !rest.is_empty() {
        target.push('/');
        target.push_str(&rest.join("/"));
    }
    if let Some(q) = req.uri().query() {
        target.push('?');
        target.push_str(q);
    }
    let (mut parts, body) = req.into_parts();
    // The storage routes extract their own path parameters; this route's must not linger.
    parts.extensions = http::Extensions::new();
    parts.uri = match target.parse() {
        Ok(uri) => uri,
        Err(_) => return ApiError::invalid_input("The path is not a valid URI").into_response(),
    };
    forwarder.forward(Request::from_parts(parts, body)).await
}
