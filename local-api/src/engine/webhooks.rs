//! Webhooks: checking their URLs (loopback only), rendering their payload and headers
//! templates, and dispatching them on run events with a record of each call.
//!
//! The local API reaches nothing outside this machine: a webhook URL must be `http://` on a
//! loopback address (127.0.0.0/8, ::1, localhost); [`super::webhook_post`] checks that and sends the POST.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::webhook_post::{check_url, header_problem, post};
use crate::db::runs::Run;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{format_millis, new_id, now_millis};

/// How long one webhook call may take, all told (connect, send, read the answer).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The payload template the platform uses when a webhook has none.
pub const DEFAULT_PAYLOAD_TEMPLATE: &str = "{\"userId\": {{userId}}, \"createdAt\": {{createdAt}}, \"eventType\": {{eventType}}, \"eventData\": {{eventData}}, \"resource\": {{resource}}}";

/// The event types a webhook can name.
pub const EVENT_TYPES: [&str; 11] = [
    "ACTOR.RUN.CREATED",
    "ACTOR.RUN.SUCCEEDED",
    "ACTOR.RUN.FAILED",
    "ACTOR.RUN.TIMED_OUT",
    "ACTOR.RUN.ABORTED",
    "ACTOR.RUN.RESURRECTED",
    "ACTOR.BUILD.CREATED",
    "ACTOR.BUILD.SUCCEEDED",
    "ACTOR.BUILD.FAILED",
    "ACTOR.BUILD.TIMED_OUT",
    "ACTOR.BUILD.ABORTED",
];

/// Replaces each `{{variable}}` with the JSON of that variable (`null` when unknown).
pub fn render(template: &str, vars: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        out.push_str(&vars.get(name).unwrap_or(&Value::Null).to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Dispatches every webhook whose event types and condition match this run event.
pub fn fire(state: &Arc<AppState>, run: &Run, event_type: &str) {
    let task_id = run.actor_task_id.clone();
    let hooks = state.db.webhooks.list(|w| {
        let c = &w["condition"];
        let matches = c["actorId"].as_str() == Some(run.origin_act_id.as_str())
            || (task_id.is_some() && c["actorTaskId"].as_str() == task_id.as_deref())
            || c["actorRunId"].as_str() == Some(run.id.as_str());
        matches
            && w["eventTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == event_type))
    });
    if hooks.is_empty() {
        return;
    }
    let resource = run.to_json(&state.identity);
    let event_data = json!({
        "actorId": run.inner().act_id,
        "actorTaskId": task_id,
        "actorRunId": run.id,
    });
    for hook in hooks {
        dispatch(
            state,
            &hook,
            event_type,
            event_data.clone(),
            resource.clone(),
        );
    }
}

/// Records a dispatch of `hook` and sends it in the background; the dispatch object.
pub fn dispatch(
    state: &Arc<AppState>,
    hook: &Value,
    event_type: &str,
    event_data: Value,
    resource: Value,
) -> Value {
    let now = format_millis(now_millis());
    let vars = json!({
        "userId": state.identity.user_id,
        "createdAt": now,
        "eventType": event_type,
        "eventData": event_data,
        "resource": resource,
    });
    let template = hook["payloadTemplate"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_PAYLOAD_TEMPLATE);
    let payload = render(template, &vars);
    let headers: Vec<(String, String)> = hook["headersTemplate"]
        .as_str()
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str::<Value>(&render(t, &vars)).ok())
        .and_then(|h| h.as_object().cloned())
        .map(|h| {
            h.into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    let webhook_id = hook["id"].as_str().unwrap_or_default().to_owned();
    let dispatch = json!({
        "id": new_id(17),
        "userId": state.identity.user_id,
        "webhookId": webhook_id,
        "createdAt": now,
        "status": "ACTIVE",
        "eventType": event_type,
        "eventData": vars["eventData"],
        "webhook": { "requestUrl": hook["requestUrl"], "isAdHoc": hook["isAdHoc"] },
        "calls": [],
    });
    state.db.webhook_dispatches.insert(dispatch.clone());
    state.db.webhooks.update(&webhook_id, |w| {
        w["lastDispatch"] = json!({ "status": "ACTIVE", "finishedAt": null });
        let total = w["stats"]["totalDispatches"].as_u64().unwrap_or(0);
        w["stats"] = json!({ "totalDispatches": total + 1 });
    });
    let url = hook["requestUrl"].as_str().unwrap_or_default().to_owned();
    let dispatch_id = dispatch["id"].as_str().unwrap_or_default().to_owned();
    let state = state.clone();
    tokio::spawn(async move {
        let started = format_millis(now_millis());
        let result =
            tokio::time::timeout(CALL_TIMEOUT, post(&url, state.addr, &headers, payload)).await;
        let (status, response_status, body, error) = match result {
            Ok(Ok((code, body))) if (200..300).contains(&code) => {
                ("SUCCEEDED", Some(code), body, None)
            }
            Ok(Ok((code, body))) => ("FAILED", Some(code), body, None),
            Ok(Err(e)) => ("FAILED", None, String::new(), Some(e)),
            Err(_) => (
                "FAILED",
                None,
                String::new(),
                Some("the call timed out".to_owned()),
            ),
        };
        let finished = format_millis(now_millis());
        state.db.webhook_dispatches.update(&dispatch_id, |d| {
            d["status"] = json!(status);
            d["calls"] = json!([{
                "startedAt": started,
                "finishedAt": finished,
                "errorMessage": error,
                "responseStatus": response_status,
                "responseBody": body,
            }]);
        });
        state.db.webhooks.update(&webhook_id, |w| {
            w["lastDispatch"] = json!({ "status": status, "finishedAt": finished });
        });
    });
    dispatch
}

/// Checks the fields of a webhook (new or changed) and fills the object; `own` is the
/// server's address, which a webhook may not call.
pub fn apply(
    hook: &mut Map<String, Value>,
    body: &Map<String, Value>,
    own: SocketAddr,
) -> ApiResult<()> {
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
                    own,
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
            "headersTemplate" if value.is_string() => {
                check_headers_template(value.as_str().unwrap_or_default())?;
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

/// Refuses a `headersTemplate` that sets a framing or hop-by-hop header (or a name that is
/// no header name), naming it. The template is rendered with every variable `null` to read
/// its names; one that is no JSON object then is left to dispatch, which skips it as before.
fn check_headers_template(template: &str) -> ApiResult<()> {
    let rendered = render(template, &Value::Null);
    if let Ok(Value::Object(headers)) = serde_json::from_str::<Value>(&rendered) {
        for name in headers.keys() {
            if let Some(problem) = header_problem(name) {
                return Err(ApiError::invalid_input(problem));
            }
        }
    }
    Ok(())
}

/// Checks a webhook create body without storing anything (ad-hoc webhooks are checked before
/// their run starts); `own` is the server's address.
pub fn check(body: &Map<String, Value>, own: SocketAddr) -> ApiResult<()> {
    for required in ["eventTypes", "requestUrl", "condition"] {
        if !body.contains_key(required) {
            return Err(ApiError::invalid_input(format!(
                "The webhook needs \"{required}\""
            )));
        }
    }
    apply(&mut Map::new(), body, own)
}

/// Makes and stores a webhook from a create body; used by the ad-hoc webhooks of a start too.
pub fn create_webhook(
    state: &AppState,
    body: &Map<String, Value>,
    ad_hoc: bool,
) -> ApiResult<Value> {
    check(body, state.addr)?;
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
    apply(hook.as_object_mut().expect("an object"), body, state.addr)?;
    hook["isAdHoc"] = json!(ad_hoc);
    state.db.webhooks.insert(hook.clone());
    Ok(hook)
}
