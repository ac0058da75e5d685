//! Webhooks and their dispatches: `/v2/webhooks`, `/v2/webhook-dispatches`, and the webhook
//! lists of an Actor and of a task. Only loopback URLs are accepted (see
//! [`crate::engine::webhook_post::check_url`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::engine::webhooks::{apply, create_webhook, dispatch};
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::util::{format_millis, now_millis};
use crate::web::body::JsonPayload;
use crate::web::extract::ACTOR_BASES;
use crate::web::response::{data_response, page};

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new()
        .route("/v2/webhooks", get(list).post(create))
        .route(
            "/v2/webhooks/{webhookId}",
            get(get_one).put(update).delete(delete),
        )
        .route("/v2/webhooks/{webhookId}/test", post(test))
        .route("/v2/webhooks/{webhookId}/dispatches", get(dispatches_of))
        .route("/v2/webhook-dispatches", get(dispatches))
        .route("/v2/webhook-dispatches/{dispatchId}", get(dispatch_one))
        .route("/v2/actor-tasks/{actorTaskId}/webhooks", get(of_task));
    for base in ACTOR_BASES {
        router = router.route(&format!("{base}/{{actorId}}/webhooks"), get(of_actor));
    }
    router
}

fn find(state: &AppState, id: &str) -> ApiResult<Value> {
    state
        .db
        .webhooks
        .get(id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found(format!("Webhook \"{id}\" was not found")))
}

fn body_object(body: &[u8]) -> ApiResult<Map<String, Value>> {
    match parse_json::<Value>(body)? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::invalid_request(
            "The request body must be a JSON object",
        )),
    }
}

async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.db.webhooks.list(|_| true), Value::clone)
}

/// `POST /v2/webhooks`; with an `idempotencyKey` seen before, the webhook made then.
async fn create(
    State(state): State<Arc<AppState>>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let body = body_object(&body)?;
    if let Some(key) = body.get("idempotencyKey").and_then(Value::as_str) {
        if let Some(existing) = state.db.webhooks.list(|w| w["idempotencyKey"] == key).pop() {
            return Ok(data_response(StatusCode::CREATED, &existing));
        }
    }
    let hook = create_webhook(&state, &body, false)?;
    Ok(data_response(StatusCode::CREATED, &hook))
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(data_response(StatusCode::OK, &find(&state, &id)?))
}

async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let mut hook = find(&state, &id)?;
    let body = body_object(&body)?;
    apply(hook.as_object_mut().expect("an object"), &body, state.addr)?;
    hook["modifiedAt"] = json!(format_millis(now_millis()));
    let hook_id = hook["id"].as_str().unwrap_or_default().to_owned();
    let saved = state.db.webhooks.update(&hook_id, |w| *w = hook.clone());
    Ok(data_response(StatusCode::OK, &saved.unwrap_or(hook)))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let hook = find(&state, &id)?;
    state
        .db
        .webhooks
        .remove(hook["id"].as_str().unwrap_or_default());
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/test`: a dispatch of event `TEST` with an example resource.
async fn test(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Response> {
    let hook = find(&state, &id)?;
    let resource = json!({ "id": "test-run-id", "status": "SUCCEEDED" });
    let sent = dispatch(
        &state,
        &hook,
        "TEST",
        json!({ "actorRunId": "test-run-id" }),
        resource,
    );
    Ok(data_response(StatusCode::CREATED, &sent))
}

async fn dispatches_of(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let hook = find(&state, &id)?;
    page(
        &p,
        state
            .db
            .webhook_dispatches
            .list(|d| d["webhookId"] == hook["id"]),
        Value::clone,
    )
}

async fn dispatches(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.db.webhook_dispatches.list(|_| true), Value::clone)
}

async fn dispatch_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let found = state
        .db
        .webhook_dispatches
        .get(&id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found(format!("Webhook dispatch \"{id}\" was not found")))?;
    Ok(data_response(StatusCode::OK, &found))
}

async fn of_actor(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let actor = state.find_actor(&id)?;
    page(
        &p,
        state
            .db
            .webhooks
            .list(|w| w["condition"]["actorId"] == actor.id.as_str()),
        Value::clone,
    )
}

async fn of_task(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let task = state.find_task(&id)?;
    page(
        &p,
        state
            .db
            .webhooks
            .list(|w| w["condition"]["actorTaskId"] == task["id"]),
        Value::clone,
    )
}
