//! Starting a run from a request: the start parameters over the Actor's defaults, the input
//! body, ad-hoc webhooks, `waitForFinish`, and the synchronous answers of `run-sync`. Every
//! start goes through [`crate::engine::start_run`].

use std::sync::Arc;

use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::config::limits;
use crate::db::actors::Actor;
use crate::db::runs::{is_terminal, Run, RunOptions};
use crate::engine::webhook_post::check_url;
use crate::engine::webhooks::check;
use crate::engine::{start_run, Input, StartRequest};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::web::forward::StorageForwarder;
use crate::web::response::data_response;

/// A non-negative decimal parameter (`maxTotalChargeUsd`).
fn decimal(p: &Params, name: &str) -> ApiResult<Option<f64>> {
    let Some(raw) = p.string(name) else {
        return Ok(None);
    };
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(ApiError::invalid_input(format!(
            "Invalid value of the \"{name}\" parameter: it must be a non-negative number, got \"{raw}\""
        ))),
    }
}

/// Run options from the start parameters over the Actor's defaults (`timeout`, `memory`,
/// `build`, `maxItems`, `maxTotalChargeUsd`).
/// Each is checked against the platform's ranges ([`crate::config::limits`]): 400
/// `invalid-input` naming the option, the value and the range.
pub fn run_options(actor: &Actor, p: &Params) -> ApiResult<RunOptions> {
    let timeout_secs = p.number("timeout")?.unwrap_or(actor.def.timeout_secs);
    if let Some(e) = limits::timeout_error("timeout", timeout_secs) {
        return Err(ApiError::invalid_input(e));
    }
    let memory_mbytes = p.number("memory")?.unwrap_or(actor.def.memory_mbytes);
    if let Some(e) = limits::memory_error("memory", memory_mbytes) {
        return Err(ApiError::invalid_input(e));
    }
    Ok(RunOptions {
        build: p.string("build").unwrap_or(&actor.def.build_tag).to_owned(),
        timeout_secs,
        memory_mbytes,
        max_items: p.number("maxItems")?,
        max_total_charge_usd: decimal(p, "maxTotalChargeUsd")?,
    })
}

/// How long to hold the answer: the `waitForFinish` parameter (seconds), capped at the
/// server's [`max_wait_for_finish`](crate::LocalApiConfig::max_wait_for_finish) (60 s, as the
/// API, unless configured shorter).
pub fn wait_limit(state: &AppState, p: &Params) -> ApiResult<std::time::Duration> {
    let asked = std::time::Duration::from_secs(p.number("waitForFinish")?.unwrap_or(0));
    Ok(asked.min(state.max_wait_for_finish))
}

/// The body as a run input with its `Content-Type` (none for an empty body).
pub fn input_of(headers: &HeaderMap, body: bytes::Bytes) -> Option<Input> {
    if body.is_empty() {
        return None;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json; charset=utf-8"));
    Some((body, content_type))
}

/// The `webhooks` parameter: base64 of a JSON array of webhooks (`eventTypes`, `requestUrl`,
/// `payloadTemplate`, `headersTemplate`), each checked now (loopback URLs only), before any
/// run starts.
/// A webhook to this server's own address is refused like any other bad URL.
pub fn ad_hoc_webhooks(
    state: &AppState,
    p: &Params,
) -> ApiResult<Vec<serde_json::Map<String, serde_json::Value>>> {
    use base64::Engine;
    let Some(raw) = p.string("webhooks") else {
        return Ok(Vec::new());
    };
    let invalid = || {
        ApiError::invalid_input(
            "The \"webhooks\" parameter must be base64 of a JSON array of webhook objects",
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(raw.trim()))
        .map_err(|_| invalid())?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    list.into_iter()
        .map(|hook| {
            let serde_json::Value::Object(mut hook) = hook else {
                return Err(invalid());
            };
            let url = hook
                .get("requestUrl")
                .and_then(|u| u.as_str())
                .ok_or_else(|| {
                    ApiError::invalid_input("Each ad-hoc webhook needs a \"requestUrl\"")
                })?;
            check_url(url, state.addr)?;
            // The placeholder condition is replaced by the run's id once the run exists.
            hook.insert(
                "condition".to_owned(),
                serde_json::json!({ "actorRunId": "" }),
            );
            check(&hook, state.addr)?;
            Ok(hook)
        })
        .collect()
}

/// Starts a run from the start parameters.
pub fn start_from_params(
    state: &Arc<AppState>,
    actor: &Arc<Actor>,
    p: &Params,
    headers: &HeaderMap,
    input: Option<Input>,
    actor_task_id: Option<String>,
) -> ApiResult<Arc<Run>> {
    let webhooks = ad_hoc_webhooks(state, p)?;
    start_run(
        state,
        actor,
        StartRequest {
            input,
            options: run_options(actor, p)?,
            origin: "API".to_owned(),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            actor_task_id,
            webhooks,
        },
    )
}

/// Starts a run and answers 201 with it (after `waitForFinish`, if asked).
pub async fn start_and_answer(
    state: &Arc<AppState>,
    actor: &Arc<Actor>,
    p: &Params,
    headers: &HeaderMap,
    input: Option<Input>,
    actor_task_id: Option<String>,
) -> ApiResult<Response> {
    let wait = wait_limit(state, p)?;
    let run = start_from_params(state, actor, p, headers, input, actor_task_id)?;
    run.wait_for_finish(wait).await;
    let mut response = data_response(StatusCode::CREATED, &run.to_json(&state.identity));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/v2/actor-runs/{}",
        state.identity.base_url, run.id
    )) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// How long `run-sync` waits for the run, as the API: 300 s.
const RUN_SYNC_SECS: u64 = 300;

/// What a synchronous run answers with.
#[derive(Clone, Copy)]
pub enum SyncAnswer {
    /// The `OUTPUT` record of the default key-value store.
    Output,
    /// The default dataset's items (the query's item parameters apply).
    DatasetItems,
}

/// Starts a run, waits for it (at most 300 s, or `timeout`), and answers 201 with its output
/// or its dataset items; 400 `run-failed` when it did not succeed, 408
/// `run-timeout-exceeded` when it is still going.
#[allow(clippy::too_many_arguments)]
pub async fn run_sync_answer(
    state: &Arc<AppState>,
    actor: &Arc<Actor>,
    p: &Params,
    headers: &HeaderMap,
    input: Option<Input>,
    actor_task_id: Option<String>,
    answer: SyncAnswer,
    forwarder: &StorageForwarder,
) -> ApiResult<Response> {
    let run = start_from_params(state, actor, p, headers, input, actor_task_id)?;
    run.wait_for_finish(std::time::Duration::from_secs(RUN_SYNC_SECS))
        .await;
    match run.status() {
        "SUCCEEDED" => {}
        status if is_terminal(status) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "run-failed",
                format!(
                    "Actor run did not succeed (run ID: {}, status: {status})",
                    run.id
                ),
            ));
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "run-timeout-exceeded",
                format!(
                    "Actor run exceeded the timeout of {RUN_SYNC_SECS} seconds for this API endpoint (run ID: {}); it goes on: poll it with GET /v2/actor-runs/{}",
                    run.id, run.id
                ),
            ));
        }
    }
    let target = match answer {
        SyncAnswer::Output => format!(
            "/v2/key-value-stores/{}/records/OUTPUT",
            run.key_value_store_id
        ),
        SyncAnswer::DatasetItems => format!(
            "/v2/datasets/{}/items{}",
            run.dataset_id,
            p.raw_query().map(|q| format!("?{q}")).unwrap_or_default()
        ),
    };
    let request = axum::extract::Request::builder()
        .method(http::Method::GET)
        .uri(target)
        .body(axum::body::Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut response = forwarder.forward(request).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::CREATED;
    }
    Ok(response)
}
