//! Actor tasks: stored input and options over a registered Actor (`/v2/actor-tasks`). Their
//! runs, last run and its aliases are in `api/runs.rs` (the run extractor knows
//! `{actorTaskId}`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use crate::config::limits;
use crate::db::actors::Actor;
use crate::db::runs::{status_filter, RunFilter};
use crate::db::storage::validate_name;
use crate::engine::Input;
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::util::{format_millis, new_id, now_millis};
use crate::web::body::{JsonPayload, Payload};
use crate::web::forward::StorageForwarder;
use crate::web::response::{data_response, json_bytes_response, page};
use crate::web::start::{input_of, run_sync_answer, start_and_answer, SyncAnswer};

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/actor-tasks", get(list).post(create))
        .route(
            "/v2/actor-tasks/{actorTaskId}",
            get(get_one).put(update).delete(delete),
        )
        .route(
            "/v2/actor-tasks/{actorTaskId}/input",
            get(input).put(set_input),
        )
        .route("/v2/actor-tasks/{actorTaskId}/runs", get(runs).post(start))
        .route(
            "/v2/actor-tasks/{actorTaskId}/run-sync",
            get(run_sync::<false>).post(run_sync::<false>),
        )
        .route(
            "/v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items",
            get(run_sync::<true>).post(run_sync::<true>),
        )
}

fn body_object(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match parse_json::<Value>(body)? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::invalid_request(
            "The request body must be a JSON object",
        )),
    }
}

/// Checks and copies the changeable fields (`name`, `title`, `options`, `input`).
fn apply(state: &AppState, task: &mut Value, body: &Map<String, Value>) -> ApiResult<()> {
    if let Some(name) = body.get("name") {
        let name = name
            .as_str()
            .ok_or_else(|| ApiError::invalid_value("\"name\" must be a string"))?;
        validate_name(name)?;
        if !state
            .db
            .tasks
            .list(|t| t["name"] == name && t["id"] != task["id"])
            .is_empty()
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "name-not-unique",
                format!("A task named \"{name}\" already exists"),
            ));
        }
        task["name"] = json!(name);
    }
    if let Some(title) = body.get("title") {
        task["title"] = title.clone();
    }
    if let Some(options) = body.get("options") {
        let options = options
            .as_object()
            .ok_or_else(|| ApiError::invalid_value("\"options\" must be an object"))?;
        for (key, value) in options {
            check_task_option(key, value)?;
            task["options"][key] = value.clone();
        }
    }
    if let Some(input) = body.get("input") {
        if !input.is_object() {
            return Err(ApiError::invalid_value("\"input\" must be a JSON object"));
        }
        task["input"] = input.clone();
    }
    task["modifiedAt"] = json!(format_millis(now_millis()));
    Ok(())
}

/// Checks one of a task's `options` against the platform's ranges: a task with a bad option
/// would only fail later, at each start.
fn check_task_option(key: &str, value: &Value) -> ApiResult<()> {
    let number = || {
        value.as_u64().ok_or_else(|| {
            ApiError::invalid_input(format!(
                "Invalid value of \"options.{key}\": {value} is not a non-negative integer"
            ))
        })
    };
    let problem = match key {
        "timeoutSecs" => limits::timeout_error("options.timeoutSecs", number()?),
        "memoryMbytes" => limits::memory_error("options.memoryMbytes", number()?),
        "maxItems" if !value.is_null() => number().err().map(|e| e.message.to_string()),
        "maxTotalChargeUsd" if !value.is_null() => (!value
            .as_f64()
            .is_some_and(|v| v.is_finite() && v >= 0.0))
        .then(|| {
            format!(
                "Invalid value of \"options.maxTotalChargeUsd\": {value} is not a non-negative number"
            )
        }),
        "build" if !value.is_string() => Some(format!(
            "Invalid value of \"options.build\": {value} is not a string (a build tag or number)"
        )),
        _ => None,
    };
    match problem {
        Some(message) => Err(ApiError::invalid_input(message)),
        None => Ok(()),
    }
}

async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.db.tasks.list(|_| true), |t| {
        json!({ "id": t["id"], "userId": t["userId"], "actId": t["actId"], "actName": t["actName"],
                "name": t["name"], "username": t["username"], "actUsername": t["username"],
                "createdAt": t["createdAt"], "modifiedAt": t["modifiedAt"], "stats": t["stats"] })
    })
}

/// `POST /v2/actor-tasks` with `actId` and `name` (and optional `options`, `input`, `title`).
async fn create(
    State(state): State<Arc<AppState>>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let body = body_object(&body)?;
    let act_id = body
        .get("actId")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_input("The task needs \"actId\", the Actor it runs"))?;
    let actor = state.find_actor(act_id)?;
    if !body.get("name").is_some_and(Value::is_string) {
        return Err(ApiError::invalid_input("The task needs a \"name\""));
    }
    let now = format_millis(now_millis());
    let mut task = json!({
        "id": new_id(17),
        "userId": state.identity.user_id,
        "actId": actor.id,
        "actName": actor.def.name,
        "name": null,
        "username": state.identity.username,
        "title": null,
        "createdAt": now,
        "modifiedAt": now,
        "removedAt": null,
        "stats": { "totalRuns": 0 },
        "options": { "build": actor.def.build_tag, "timeoutSecs": actor.def.timeout_secs, "memoryMbytes": actor.def.memory_mbytes },
        "input": {},
    });
    apply(&state, &mut task, &body)?;
    state.db.tasks.insert(task.clone());
    Ok(data_response(StatusCode::CREATED, &task))
}

fn with_stats(state: &AppState, mut task: Value) -> Value {
    let id = task["id"].as_str().unwrap_or_default().to_owned();
    let total = state
        .db
        .runs
        .list(&RunFilter {
            task_id: Some(&id),
            ..RunFilter::default()
        })
        .len();
    task["stats"] = json!({ "totalRuns": total });
    task
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let task = state.find_task(&id)?;
    Ok(data_response(StatusCode::OK, &with_stats(&state, task)))
}

async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let mut task = state.find_task(&id)?;
    apply(&state, &mut task, &body_object(&body)?)?;
    let task_id = task["id"].as_str().unwrap_or_default().to_owned();
    state.db.tasks.update(&task_id, |t| *t = task.clone());
    Ok(data_response(StatusCode::OK, &with_stats(&state, task)))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let task = state.find_task(&id)?;
    state
        .db
        .tasks
        .remove(task["id"].as_str().unwrap_or_default());
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/input`: the stored input itself (not wrapped in `data`, as the API answers).
async fn input(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Response> {
    let task = state.find_task(&id)?;
    Ok(json_bytes_response(
        StatusCode::OK,
        task["input"].to_string().into(),
    ))
}

async fn set_input(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let task = state.find_task(&id)?;
    let input = Value::Object(body_object(&body)?);
    let task_id = task["id"].as_str().unwrap_or_default().to_owned();
    state
        .db
        .tasks
        .update(&task_id, |t| t["input"] = input.clone());
    Ok(json_bytes_response(
        StatusCode::OK,
        input.to_string().into(),
    ))
}

async fn runs(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let task = state.find_task(&id)?;
    let task_id = task["id"].as_str().unwrap_or_default().to_owned();
    let filter = RunFilter {
        task_id: Some(&task_id),
        statuses: status_filter(&p)?,
        ..RunFilter::default()
    };
    page(&p, state.db.runs.list(&filter), |r| r.to_short_json())
}

/// The task's input with the body's fields over it (a JSON object body); a body that is not
/// a JSON object replaces it.
fn merged_input(task: &Value, headers: &HeaderMap, body: bytes::Bytes) -> Input {
    let mut input = task["input"].clone();
    if let Some((bytes, content_type)) = input_of(headers, body) {
        match (parse_json::<Value>(&bytes), input.as_object_mut()) {
            (Ok(Value::Object(over)), Some(base)) => base.extend(over),
            _ => return (bytes, content_type),
        }
    }
    (
        bytes::Bytes::from(input.to_string()),
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    )
}

/// The task, its Actor, its id, the merged input and the start parameters of a task start.
fn task_start(
    state: &AppState,
    id: &str,
    p: Params,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> ApiResult<(Arc<Actor>, String, Input, Params)> {
    let task = state.find_task(id)?;
    let actor = state.find_actor(task["actId"].as_str().unwrap_or_default())?;
    let input = merged_input(&task, headers, body);
    let task_id = task["id"].as_str().unwrap_or_default().to_owned();
    Ok((actor, task_id, input, task_params(&task, p)))
}

/// `POST …/runs`: the task's input with the body's fields over it, and the task's options
/// under the query's.
async fn start(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
    headers: HeaderMap,
    Payload(body): Payload,
) -> ApiResult<Response> {
    let (actor, task_id, input, params) = task_start(&state, &id, p, &headers, body)?;
    start_and_answer(
        &state,
        &actor,
        &params,
        &headers,
        Some(input),
        Some(task_id),
    )
    .await
}

/// `run-sync` (`ITEMS = false`: answers the `OUTPUT` record) and
/// `run-sync-get-dataset-items` (`ITEMS = true`): one handler, the answer chosen by the route.
async fn run_sync<const ITEMS: bool>(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
    headers: HeaderMap,
    Extension(forwarder): Extension<StorageForwarder>,
    Payload(body): Payload,
) -> ApiResult<Response> {
    let (actor, task_id, input, params) = task_start(&state, &id, p, &headers, body)?;
    run_sync_answer(
        &state,
        &actor,
        &params,
        &headers,
        Some(input),
        Some(task_id),
        if ITEMS {
            SyncAnswer::DatasetItems
        } else {
            SyncAnswer::Output
        },
        &forwarder,
    )
    .await
}

/// The start parameters: the query's, then the task's options where the query has none.
fn task_params(task: &Value, p: Params) -> Params {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let options = &task["options"];
    for (param, option) in [
        ("build", "build"),
        ("timeout", "timeoutSecs"),
        ("memory", "memoryMbytes"),
    ] {
        if p.get(param).is_none() {
            match &options[option] {
                Value::String(s) => pairs.push((param.to_owned(), s.clone())),
                Value::Number(n) => pairs.push((param.to_owned(), n.to_string())),
                _ => {}
            }
        }
    }
    p.with_defaults(pairs)
}
