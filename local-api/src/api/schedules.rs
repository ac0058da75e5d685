//! Schedules: stored and listed (`/v2/schedules`), with their log. This server does not run
//! them on their cron: the log says so.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::db::storage::validate_name;
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::util::{format_millis, new_id, now_millis};
use crate::web::body::JsonPayload;
use crate::web::response::{data_response, page};

/// The field that holds a schedule's log inside the stored object (never answered).
const LOG_FIELD: &str = "__log";

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/schedules", get(list).post(create))
        .route(
            "/v2/schedules/{scheduleId}",
            get(get_one).put(update).delete(delete),
        )
        .route("/v2/schedules/{scheduleId}/log", get(log))
}

fn find(state: &AppState, id: &str) -> ApiResult<Value> {
    state
        .db
        .schedules
        .get(id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found(format!("Schedule \"{id}\" was not found")))
}

/// The schedule as answered: without its log.
fn public(mut schedule: Value) -> Value {
    if let Some(o) = schedule.as_object_mut() {
        o.remove(LOG_FIELD);
    }
    schedule
}

fn log_entry(message: &str) -> Value {
    json!({ "message": message, "level": "INFO", "createdAt": format_millis(now_millis()) })
}

/// Checks and copies the fields of `ScheduleCreate`.
fn apply(state: &AppState, schedule: &mut Value, body: &Map<String, Value>) -> ApiResult<()> {
    for (key, value) in body {
        match key.as_str() {
            "name" => {
                let name = value
                    .as_str()
                    .ok_or_else(|| ApiError::invalid_value("\"name\" must be a string"))?;
                validate_name(name)?;
                if !state
                    .db
                    .schedules
                    .list(|s| s["name"] == name && s["id"] != schedule["id"])
                    .is_empty()
                {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "name-not-unique",
                        format!("A schedule named \"{name}\" already exists"),
                    ));
                }
            }
            "cronExpression" => {
                let cron = value.as_str().unwrap_or("");
                let fields = cron.split_whitespace().count();
                if !(cron.starts_with('@') || (5..=6).contains(&fields)) {
                    return Err(ApiError::invalid_value(format!(
                        "\"cronExpression\" \"{cron}\" is not a cron expression: give 5 or 6 fields (e.g. \"0 8 * * *\") or a macro like \"@daily\""
                    )));
                }
            }
            "isEnabled" | "isExclusive" if !value.is_boolean() => {
                return Err(ApiError::invalid_value(format!(
                    "\"{key}\" must be a boolean"
                )));
            }
            "actions" => {
                let actions = value
                    .as_array()
                    .ok_or_else(|| ApiError::invalid_value("\"actions\" must be an array"))?;
                let with_ids: Vec<Value> = actions
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        if a.get("id").is_none() {
                            a["id"] = json!(new_id(17));
                        }
                        a
                    })
                    .collect();
                schedule["actions"] = Value::Array(with_ids);
                continue;
            }
            LOG_FIELD => continue,
            _ => {}
        }
        schedule[key] = value.clone();
    }
    schedule["modifiedAt"] = json!(format_millis(now_millis()));
    Ok(())
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
    page(&p, state.db.schedules.list(|_| true), |s| public(s.clone()))
}

async fn create(
    State(state): State<Arc<AppState>>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let body = body_object(&body)?;
    if !body.contains_key("cronExpression") {
        return Err(ApiError::invalid_input(
            "The schedule needs a \"cronExpression\"",
        ));
    }
    let now = format_millis(now_millis());
    let mut schedule = json!({
        "id": new_id(17),
        "userId": state.identity.user_id,
        "name": null,
        "title": null,
        "description": null,
        "cronExpression": null,
        "timezone": "UTC",
        "isEnabled": false,
        "isExclusive": false,
        "createdAt": now,
        "modifiedAt": now,
        "nextRunAt": null,
        "lastRunAt": null,
        "actions": [],
        "notifications": { "email": false },
    });
    apply(&state, &mut schedule, &body)?;
    schedule[LOG_FIELD] = json!([log_entry(
        "Schedule created. The local API stores schedules but does not run them on their cron."
    )]);
    state.db.schedules.insert(schedule.clone());
    Ok(data_response(StatusCode::CREATED, &public(schedule)))
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(data_response(StatusCode::OK, &public(find(&state, &id)?)))
}

async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let mut schedule = find(&state, &id)?;
    apply(&state, &mut schedule, &body_object(&body)?)?;
    if let Some(log) = schedule[LOG_FIELD].as_array_mut() {
        log.push(log_entry("Schedule updated"));
    }
    let schedule_id = schedule["id"].as_str().unwrap_or_default().to_owned();
    state
        .db
        .schedules
        .update(&schedule_id, |s| *s = schedule.clone());
    Ok(data_response(StatusCode::OK, &public(schedule)))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let schedule = find(&state, &id)?;
    state
        .db
        .schedules
        .remove(schedule["id"].as_str().unwrap_or_default());
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/log`: `{"data": [{message, level, createdAt}]}`.
async fn log(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Response> {
    let schedule = find(&state, &id)?;
    Ok(data_response(StatusCode::OK, &schedule[LOG_FIELD]))
}
