//! Webhooks: checking their URLs (loopback only), rendering their payload and headers
//! templates, and dispatching them on run events with a record of each call.
//!
//! The local API reaches nothing outside this machine: a webhook URL must be `http://` on a
//! loopback address (127.0.0.0/8, ::1, localhost). The POST is a minimal HTTP/1.1 request over
//! a plain TCP connection, which is all a loopback listener needs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::runs::Run;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{format_millis, new_id, now_millis};

/// How long one webhook call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Most of a response body kept in a dispatch's call record.
const MAX_RECORDED_BODY: usize = 1000;

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

/// `(host, port, path)` of a webhook URL, or 400 `invalid-input` unless it is an `http://` URL
/// on a loopback address.
pub fn check_url(url: &str) -> ApiResult<(String, u16, String)> {
    let refuse = || {
        ApiError::invalid_input(format!(
            "Webhook URL \"{url}\" is not allowed: the local API only calls loopback URLs (http://127.0.0.0/8, http://[::1], http://localhost), so that nothing leaves this machine"
        ))
    };
    let uri: http::Uri = url.parse().map_err(|_| refuse())?;
    if uri.scheme_str() != Some("http") {
        return Err(refuse());
    }
    let host = uri.host().ok_or_else(refuse)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(refuse());
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80), path))
}

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
    let hooks = state.webhooks.list(|w| {
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
    state.webhook_dispatches.insert(dispatch.clone());
    state.webhooks.update(&webhook_id, |w| {
        w["lastDispatch"] = json!({ "status": "ACTIVE", "finishedAt": null });
        let total = w["stats"]["totalDispatches"].as_u64().unwrap_or(0);
        w["stats"] = json!({ "totalDispatches": total + 1 });
    });
    let url = hook["requestUrl"].as_str().unwrap_or_default().to_owned();
    let dispatch_id = dispatch["id"].as_str().unwrap_or_default().to_owned();
    let state = state.clone();
    tokio::spawn(async move {
        let started = format_millis(now_millis());
        let result = tokio::time::timeout(CALL_TIMEOUT, post(&url, &headers, payload)).await;
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
        state.webhook_dispatches.update(&dispatch_id, |d| {
            d["status"] = json!(status);
            d["calls"] = json!([{
                "startedAt": started,
                "finishedAt": finished,
                "errorMessage": error,
                "responseStatus": response_status,
                "responseBody": body,
            }]);
        });
        state.webhooks.update(&webhook_id, |w| {
            w["lastDispatch"] = json!({ "status": status, "finishedAt": finished });
        });
    });
    dispatch
}

/// POSTs `payload` to a loopback URL; the response status and (the start of) its body.
async fn post(
    url: &str,
    headers: &[(String, String)],
    payload: String,
) -> Result<(u16, String), String> {
    let (host, port, path) = check_url(url).map_err(|e| e.message.to_string())?;
    let addr_host = host.trim_start_matches('[').trim_end_matches(']');
    let addr_host = if addr_host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        addr_host
    };
    let mut stream = tokio::net::TcpStream::connect((addr_host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: ApifyLocalApi\r\n",
        payload.len()
    );
    for (name, value) in headers {
        // A header that would break the request's framing is left out.
        if !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "the response is not HTTP".to_owned())?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((code, body.chars().take(MAX_RECORDED_BODY).collect()))
}
