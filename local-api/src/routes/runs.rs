//! Actor runs: `/v2/actor-runs`, and the same run operations reached from an Actor
//! (`/v2/acts/{actorId}/runs/{runId}/...`, `/v2/acts/{actorId}/runs/last/...`).
//!
//! One extractor, [`FoundRun`], finds the run whichever way the path names it, so each
//! operation is written once. The run-scoped storage aliases (`…/dataset/items`,
//! `…/key-value-store/records/{key}`, ...) resolve the run, then hand the request to the
//! storage routes with the path rewritten, so those endpoints exist once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::actors::{find_actor, input_of, status_filter, wait_limit, ACTOR_BASES};
use super::listing::page;
use crate::actors::runs::{is_terminal, Run, RunFilter};
use crate::actors::{self};
use crate::body::Payload;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{data_response, parse_json, Params};

/// What every run handler starts from.
pub struct FoundRun {
    /// The server state.
    pub state: Arc<AppState>,
    /// The run the path names.
    pub run: Arc<Run>,
    /// The query parameters.
    pub params: Params,
}

/// Finds the run a path names: `{runId}`, or the last run of `{actorId}` (or of
/// `{actorTaskId}`) with the `status` and `origin` filters.
pub fn find_run(
    state: &AppState,
    path: &HashMap<String, String>,
    p: &Params,
) -> ApiResult<Arc<Run>> {
    if let Some(run_id) = path.get("runId") {
        let run = state
            .runs
            .get(run_id)
            .ok_or_else(|| ApiError::not_found(format!("Actor run \"{run_id}\" was not found")))?;
        if let Some(actor_id) = path.get("actorId") {
            let actor = find_actor(state, actor_id)?;
            if run.origin_act_id != actor.id {
                return Err(ApiError::not_found(format!(
                    "Actor run \"{run_id}\" was not found among the runs of Actor \"{actor_id}\""
                )));
            }
        }
        return Ok(run);
    }
    let actor = path
        .get("actorId")
        .map(|id| find_actor(state, id))
        .transpose()?;
    let task_id = match path.get("actorTaskId") {
        Some(id) => super::tasks::find_task(state, id)?["id"]
            .as_str()
            .map(str::to_owned),
        None => None,
    };
    let filter = RunFilter {
        act_id: actor.as_ref().map(|a| a.id.as_str()),
        task_id: task_id.as_deref(),
        statuses: status_filter(p)?,
        origin: p.string("origin"),
    };
    state.runs.last(&filter).ok_or_else(|| {
        ApiError::not_found("No run matches: the Actor has no run with this status and origin")
    })
}

impl FromRequestParts<Arc<AppState>> for FoundRun {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Path(path) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = Params::parse(parts.uri.query());
        Ok(FoundRun {
            run: find_run(state, &path, &params).map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params,
        })
    }
}

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
    page(&p, state.runs.list(&filter), |r| r.to_short_json())
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
    Payload(body): Payload,
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
    state.runs.remove(&run.id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/abort?gracefully=1`: SIGTERM then SIGKILL after a grace period; else SIGKILL.
async fn abort(FoundRun { state, run, params }: FoundRun) -> Response {
    actors::abort(&run, params.flag_or("gracefully", false)).await;
    answer(&state, &run)
}

async fn reboot(FoundRun { state, run, .. }: FoundRun) -> ApiResult<Response> {
    actors::reboot(&state, &run).await?;
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
    let target = find_actor(&state, target_id)?;
    actors::metamorph(
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
    actors::resurrect(&state, &run)?;
    Ok(answer(&state, &run))
}

/// `POST …/charge` with `{"eventName", "count"}` and an optional `idempotency-key` header:
/// a charge repeated with the same key is counted once.
async fn charge(
    FoundRun { state, run, .. }: FoundRun,
    headers: HeaderMap,
    Payload(body): Payload,
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
    actors::charge(&state, &run, event, count, key)?;
    Ok(StatusCode::CREATED.into_response())
}

async fn log(FoundRun { state, run, params }: FoundRun) -> ApiResult<Response> {
    super::logs::serve_log(&state, &run.id, &params)
}

/// `…/dataset[/rest]`, `…/key-value-store[/rest]`, `…/request-queue[/rest]`: the same request
/// sent to `/v2/{collection}/{storageId}[/rest]`, with the raw (still percent-encoded) rest
/// of the path and the query.
async fn storage_alias(
    State(state): State<Arc<AppState>>,
    matched: MatchedPath,
    Path(path): Path<HashMap<String, String>>,
    req: Request,
) -> Response {
    let params = Params::parse(req.uri().query());
    let run = match find_run(&state, &path, &params) {
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
    match super::storage_routes()
        .with_state(state)
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
