//! Registered Actors (`/v2/acts`, also spelled `/v2/actors` as in the OpenAPI spec): list,
//! get, builds, starting runs and listing them. Run operations under
//! `/v2/acts/{actorId}/runs/...` are in `api/runs.rs`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use http::{HeaderMap, StatusCode};

use crate::db::actors::ActorRegistry;
use crate::db::runs::{status_filter, RunFilter};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::web::body::Payload;
use crate::web::extract::{FoundActor, ACTOR_BASES};
use crate::web::forward::StorageForwarder;
use crate::web::response::{data_response, page};
use crate::web::start::{input_of, run_sync_answer, start_and_answer, SyncAnswer};

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
    page(&p, state.db.actors.all().to_vec(), |a| {
        a.to_short_json(&state.identity)
    })
}

async fn get_one(FoundActor { state, actor, .. }: FoundActor) -> Response {
    let build = state.db.actors.default_build(&actor.id);
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
    page(&params, state.db.actors.builds(Some(&actor.id)), |b| {
        b.to_short_json()
    })
}

/// `POST …/builds`: a new build, finished at once (there is nothing to build locally).
async fn build(FoundActor { state, actor, .. }: FoundActor) -> Response {
    let build = state.db.actors.new_build(&actor, "API");
    state.db.logs.set(
        &build.id,
        ActorRegistry::build_log(&build, &actor).into_bytes(),
        true,
    );
    data_response(StatusCode::CREATED, &build.to_json(&state.identity, &actor))
}

async fn default_build(FoundActor { state, actor, .. }: FoundActor) -> ApiResult<Response> {
    let build = state
        .db
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
        .db
        .actors
        .build(&build_id)
        .filter(|b| b.act_id == actor.id)
        .ok_or_else(|| ApiError::not_found("Build was not found"))?;
    Ok(data_response(
        StatusCode::OK,
        &build.to_json(&state.identity, &actor),
    ))
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
    page(&params, state.db.runs.list(&filter), |r| r.to_short_json())
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

/// `run-sync` (`ITEMS = false`: answers the `OUTPUT` record) and
/// `run-sync-get-dataset-items` (`ITEMS = true`): one handler, the answer chosen by the route.
async fn run_sync<const ITEMS: bool>(
    FoundActor {
        state,
        actor,
        params,
    }: FoundActor,
    headers: HeaderMap,
    Extension(forwarder): Extension<StorageForwarder>,
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
        &forwarder,
    )
    .await
}
