//! Registered Actors (`/v2/acts`, also spelled `/v2/actors` as in the OpenAPI spec): list,
//! get, builds, starting runs and listing them. Run operations under
//! `/v2/acts/{actorId}/runs/...` are in [`super::runs`].

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use super::listing::page;
use crate::actors::registry::Actor;
use crate::actors::runs::{RunFilter, RunOptions};
use crate::actors::{self, StartRequest};
use crate::body::Payload;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{data_response, Params};

/// The two spellings of the Actors collection: the real API's and the spec's.
pub const ACTOR_BASES: [&str; 2] = ["/v2/acts", "/v2/actors"];

/// What every handler under `/v2/acts/{actorId}` starts from.
pub struct FoundActor {
    /// The server state.
    pub state: Arc<AppState>,
    /// The Actor `{actorId}` names (id, `username~name` or name).
    pub actor: Arc<Actor>,
    /// The query parameters.
    pub params: Params,
}

#[derive(serde::Deserialize)]
struct ActorPath {
    #[serde(rename = "actorId")]
    actor_id: String,
}

/// Finds a registered Actor, or answers 404 `record-not-found`.
pub fn find_actor(state: &AppState, id: &str) -> ApiResult<Arc<Actor>> {
    state
        .actors
        .resolve(id, &state.identity.username)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Actor \"{id}\" was not found: this local API runs only the Actors registered when it started (--actors DIR, --actor NAME=COMMAND)"
            ))
        })
}

impl FromRequestParts<Arc<AppState>> for FoundActor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Path(ActorPath { actor_id }) = Path::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(FoundActor {
            actor: find_actor(state, &actor_id).map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params: Params::parse(parts.uri.query()),
        })
    }
}

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for base in ACTOR_BASES {
        router = router
            .route(base, get(list).post(registered_at_start))
            .route(
                &format!("{base}/{{actorId}}"),
                get(get_one)
                    .put(registered_at_start)
                    .delete(registered_at_start),
            )
            .route(&format!("{base}/{{actorId}}/versions"), get(versions))
            .route(
                &format!("{base}/{{actorId}}/versions/{{versionNumber}}"),
                get(version),
            )
            .route(
                &format!("{base}/{{actorId}}/builds"),
                get(builds).post(build),
            )
            .route(
                &format!("{base}/{{actorId}}/builds/default"),
                get(default_build),
            )
            .route(
                &format!("{base}/{{actorId}}/builds/{{buildId}}"),
                get(build_of_actor),
            )
            .route(&format!("{base}/{{actorId}}/runs"), get(runs).post(start))
            .route(
                &format!("{base}/{{actorId}}/run-sync"),
                get(run_sync::<false>).post(run_sync::<false>),
            )
            .route(
                &format!("{base}/{{actorId}}/run-sync-get-dataset-items"),
                get(run_sync::<true>).post(run_sync::<true>),
            );
    }
    router
}

/// Creating, changing or deleting an Actor: refused, with the way to do it.
async fn registered_at_start() -> ApiError {
    ApiError::invalid_input(
        "Actors of the local API are registered when it starts (--actors DIR with one actor.json per Actor, or --actor NAME=COMMAND); they cannot be created, changed or deleted through the API",
    )
}

/// `GET …/versions`: the Actor's one version (from its manifest).
async fn versions(FoundActor { state, actor, .. }: FoundActor) -> Response {
    let version = actor.to_json(&state.identity, None)["versions"][0].clone();
    data_response(
        StatusCode::OK,
        &serde_json::json!({ "total": 1, "items": [version] }),
    )
}

async fn version(
    FoundActor { state, actor, .. }: FoundActor,
    Path((_, number)): Path<(String, String)>,
) -> ApiResult<Response> {
    if number != actor.def.version {
        return Err(ApiError::not_found(format!(
            "Version \"{number}\" of Actor \"{}\" was not found: it has version {}",
            actor.def.name, actor.def.version
        )));
    }
    let version = actor.to_json(&state.identity, None)["versions"][0].clone();
    Ok(data_response(StatusCode::OK, &version))
}

async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.actors.all().to_vec(), |a| {
        a.to_short_json(&state.identity)
    })
}

async fn get_one(FoundActor { state, actor, .. }: FoundActor) -> Response {
    let build = state.actors.default_build(&actor.id);
    data_response(
        StatusCode::OK,
        &actor.to_json(&state.identity, build.as_deref()),
    )
}

async fn builds(
    FoundActor {
        state,
        actor,
        params,
    }: FoundActor,
) -> ApiResult<Response> {
    page(&params, state.actors.builds(Some(&actor.id)), |b| {
        b.to_short_json()
    })
}

/// `POST …/builds`: a new build, finished at once (there is nothing to build locally).
async fn build(FoundActor { state, actor, .. }: FoundActor) -> Response {
    let build = state.actors.new_build(&actor, "API");
    state.logs.set(
        &build.id,
        crate::actors::registry::ActorRegistry::build_log(&build, &actor).into_bytes(),
        true,
    );
    data_response(StatusCode::CREATED, &build.to_json(&state.identity, &actor))
}

async fn default_build(FoundActor { state, actor, .. }: FoundActor) -> ApiResult<Response> {
    let build = state
        .actors
        .default_build(&actor.id)
        .ok_or_else(|| ApiError::not_found("Build was not found"))?;
    Ok(data_response(
        StatusCode::OK,
        &build.to_json(&state.identity, &actor),
    ))
}

async fn build_of_actor(
    FoundActor { state, actor, .. }: FoundActor,
    Path((_, build_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let build = state
        .actors
        .build(&build_id)
        .filter(|b| b.act_id == actor.id)
        .ok_or_else(|| ApiError::not_found("Build was not found"))?;
    Ok(data_response(
        StatusCode::OK,
        &build.to_json(&state.identity, &actor),
    ))
}

/// The statuses of a `status` filter (comma-separated), checked against the API's list.
pub fn status_filter(p: &Params) -> ApiResult<Option<Vec<String>>> {
    let Some(statuses) = p.list("status") else {
        return Ok(None);
    };
    for s in &statuses {
        if !crate::actors::runs::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid_input(format!(
                "Invalid value of the \"status\" parameter: \"{s}\" is not one of {}",
                crate::actors::runs::STATUSES.join(", ")
            )));
        }
    }
    Ok(Some(statuses))
}

async fn runs(
    FoundActor {
        state,
        actor,
        params,
    }: FoundActor,
) -> ApiResult<Response> {
    let filter = RunFilter {
        act_id: Some(&actor.id),
        statuses: status_filter(&params)?,
        ..RunFilter::default()
    };
    page(&params, state.runs.list(&filter), |r| r.to_short_json())
}

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
pub fn run_options(actor: &Actor, p: &Params) -> ApiResult<RunOptions> {
    Ok(RunOptions {
        build: p.string("build").unwrap_or(&actor.def.build_tag).to_owned(),
        timeout_secs: p.number("timeout")?.unwrap_or(actor.def.timeout_secs),
        memory_mbytes: p.number("memory")?.unwrap_or(actor.def.memory_mbytes),
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
pub fn input_of(headers: &HeaderMap, body: bytes::Bytes) -> Option<actors::Input> {
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
fn ad_hoc_webhooks(p: &Params) -> ApiResult<Vec<serde_json::Map<String, serde_json::Value>>> {
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
            crate::actors::webhooks::check_url(url)?;
            // The placeholder condition is replaced by the run's id once the run exists.
            hook.insert(
                "condition".to_owned(),
                serde_json::json!({ "actorRunId": "" }),
            );
            crate::routes::webhooks::check(&hook)?;
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
    input: Option<actors::Input>,
    actor_task_id: Option<String>,
) -> ApiResult<Arc<crate::actors::runs::Run>> {
    let webhooks = ad_hoc_webhooks(p)?;
    actors::start_run(
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
    input: Option<actors::Input>,
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

/// `POST /v2/acts/{actorId}/runs`: the body is the input, stored under `INPUT` with its
/// `Content-Type`.
async fn start(
    FoundActor {
        state,
        actor,
        params,
    }: FoundActor,
    headers: HeaderMap,
    Payload(body): Payload,
) -> ApiResult<Response> {
    start_and_answer(
        &state,
        &actor,
        &params,
        &headers,
        input_of(&headers, body),
        None,
    )
    .await
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
pub async fn run_sync_answer(
    state: &Arc<AppState>,
    actor: &Arc<Actor>,
    p: &Params,
    headers: &HeaderMap,
    input: Option<actors::Input>,
    actor_task_id: Option<String>,
    answer: SyncAnswer,
) -> ApiResult<Response> {
    let run = start_from_params(state, actor, p, headers, input, actor_task_id)?;
    run.wait_for_finish(std::time::Duration::from_secs(RUN_SYNC_SECS))
        .await;
    match run.status() {
        "SUCCEEDED" => {}
        status if crate::actors::runs::is_terminal(status) => {
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
    let mut response = match tower::ServiceExt::oneshot(
        super::storage_routes().with_state(state.clone()),
        request,
    )
    .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::CREATED;
    }
    Ok(response)
}

/// `run-sync` (`ITEMS = false`: answers the `OUTPUT` record) and
/// `run-sync-get-dataset-items` (`ITEMS = true`): one handler, the answer chosen by the route.
async fn run_sync<const ITEMS: bool>(
    FoundActor {
        state,
        actor,
        params,
    }: FoundActor,
    headers: HeaderMap,
    Payload(body): Payload,
) -> ApiResult<Response> {
    let input = input_of(&headers, body);
    run_sync_answer(
        &state,
        &actor,
        &params,
        &headers,
        input,
        None,
        if ITEMS {
            SyncAnswer::DatasetItems
        } else {
            SyncAnswer::Output
        },
    )
    .await
}
