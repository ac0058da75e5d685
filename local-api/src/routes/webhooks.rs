//! Webhooks and their dispatches: `/v2/webhooks`, `/v2/webhook-dispatches`, and the webhook
//! lists of an Actor and of a task. Only loopback URLs are accepted (see
//! [`crate::actors::webhooks::check_url`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::actors::{find_actor, ACTOR_BASES};
use super::listing::page;
use crate::actors::webhooks::{check_url, dispatch, EVENT_TYPES};
use crate::body::Payload;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{data_response, format_millis, new_id, now_millis, parse_json, Params};

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

/// Checks the fields of a webhook (new or changed) and fills the object.
fn apply(hook: &mut Map<String, Value>, body: &Map<String, Value>) -> ApiResult<()> {
    for (key, value) in body {
        match key.as_str() {
            "eventTypes" => {
                let types = value.as_array().filter(|t| !t.is_empty()).ok_or_else(|| {
                    ApiError::invalid_input(
                        "\"eventTypes\" must be a non-empty array of event types",
                    )
                })?;
                for t in types {
                    if !t.as_str().is_some_and(|t| EVENT_TYPES.contains(&t)) {
                        return Err(ApiError::invalid_input(format!(
                            "Unknown event type {t}: use one of {}",
                            EVENT_TYPES.join(", ")
                        )));
                    }
                }
            }
            "requestUrl" => {
                check_url(
                    value.as_str().ok_or_else(|| {
                        ApiError::invalid_input("\"requestUrl\" must be a string")
                    })?,
                )?;
            }
            "condition" => {
                let c = value
                    .as_object()
                    .ok_or_else(|| ApiError::invalid_input("\"condition\" must be an object"))?;
                if !["actorId", "actorTaskId", "actorRunId"]
                    .iter()
                    .any(|k| c.get(*k).is_some_and(Value::is_string))
                {
                    return Err(ApiError::invalid_input(
                        "\"condition\" must name an \"actorId\", an \"actorTaskId\" or an \"actorRunId\"",
                    ));
                }
            }
            "payloadTemplate" | "headersTemplate" | "description" | "idempotencyKey"
                if !(value.is_string() || value.is_null()) =>
            {
                return Err(ApiError::invalid_input(format!(
                    "\"{key}\" must be a string"
                )));
            }
            _ => {}
        }
        hook.insert(key.clone(), value.clone());
    }
    Ok(())
}

/// Checks a webhook create body without storing anything (ad-hoc webhooks are checked before
/// their run starts).
pub fn check(body: &Map<String, Value>) -> ApiResult<()> {
    for required in ["eventTypes", "requestUrl", "condition"] {
        if !body.contains_key(required) {
            return Err(ApiError::invalid_input(format!(
                "The webhook needs \"{required}\""
            )));
        }
    }
    apply(&mut Map::new(), body)
}

/// Makes and stores a webhook from a create body; used by the ad-hoc webhooks of a start too.
pub fn create_webhook(
    state: &AppState,
    body: &Map<String, Value>,
    ad_hoc: bool,
) -> ApiResult<Value> {
    check(body)?;
    let now = format_millis(now_millis());
    let mut hook = json!({
        "id": new_id(17),
        "createdAt": now,
        "modifiedAt": now,
        "userId": state.identity.user_id,
        "isAdHoc": ad_hoc,
        "shouldInterpolateStrings": false,
        "ignoreSslErrors": false,
        "doNotRetry": false,
        "payloadTemplate": null,
        "headersTemplate": null,
        "description": null,
        "lastDispatch": null,
        "stats": { "totalDispatches": 0 },
    });
    apply(hook.as_object_mut().expect("an object"), body)?;
    hook["isAdHoc"] = json!(ad_hoc);
    state.webhooks.insert(hook.clone());
    Ok(hook)
}

fn find(state: &AppState, id: &str) -> ApiResult<Value> {
    state
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
    page(&p, state.webhooks.list(|_| true), Value::clone)
}

/// `POST /v2/webhooks`; with an `idempotencyKey` seen before, the webhook made then.
async fn create(State(state): State<Arc<AppState>>, Payload(body): Payload) -> ApiResult<Response> {
    let body = body_object(&body)?;
    if let Some(key) = body.get("idempotencyKey").and_then(Value::as_str) {
        if let Some(existing) = state.webhooks.list(|w| w["idempotencyKey"] == key).pop() {
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
    Payload(body): Payload,
) -> ApiResult<Response> {
    let mut hook = find(&state, &id)?;
    let body = body_object(&body)?;
    apply(hook.as_object_mut().expect("an object"), &body)?;
    hook["modifiedAt"] = json!(format_millis(now_millis()));
    let hook_id = hook["id"].as_str().unwrap_or_default().to_owned();
    let saved = state.webhooks.update(&hook_id, |w| *w = hook.clone());
    Ok(data_response(StatusCode::OK, &saved.unwrap_or(hook)))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let hook = find(&state, &id)?;
    state
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
            .webhook_dispatches
            .list(|d| d["webhookId"] == hook["id"]),
        Value::clone,
    )
}

async fn dispatches(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.webhook_dispatches.list(|_| true), Value::clone)
}

async fn dispatch_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let found = state
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
    let actor = find_actor(&state, &id)?;
    page(
        &p,
        state
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
    let task = super::tasks::find_task(&state, &id)?;
    page(
        &p,
        state
            .webhooks
            .list(|w| w["condition"]["actorTaskId"] == task["id"]),
        Value::clone,
    )
}
