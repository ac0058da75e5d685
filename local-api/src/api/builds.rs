//! Actor builds: `/v2/actor-builds` (list, get, delete, abort, log, openapi.json).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use serde_json::{json, Value};

use crate::db::actors::{Actor, Build};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::web::log_stream::serve_log;
use crate::web::response::{data_response, json_bytes_response, page};

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/actor-builds", get(list))
        .route("/v2/actor-builds/{buildId}", get(get_one).delete(delete))
        .route("/v2/actor-builds/{buildId}/abort", post(get_one))
        .route("/v2/actor-builds/{buildId}/log", get(log))
        .route("/v2/actor-builds/{buildId}/openapi.json", get(openapi))
}

/// A build and its Actor, or 404.
fn find(state: &AppState, id: &str) -> ApiResult<(Arc<Build>, Arc<Actor>)> {
    let build = state
        .db
        .actors
        .build(id)
        .ok_or_else(|| ApiError::not_found(format!("Build \"{id}\" was not found")))?;
    let actor = state
        .db
        .actors
        .resolve(&build.act_id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found("The build's Actor is not registered"))?;
    Ok((build, actor))
}

async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    page(&p, state.db.actors.builds(None), |b| b.to_short_json())
}

/// `GET` (and `POST …/abort`, which has nothing to stop: local builds finish at once).
/// `waitForFinish` is accepted; a local build is already final.
async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (build, actor) = find(&state, &id)?;
    Ok(data_response(
        StatusCode::OK,
        &build.to_json(&state.identity, &actor),
    ))
}

/// `DELETE`: refused for the build the Actor's tag points at, as the platform does.
async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (build, actor) = find(&state, &id)?;
    if state
        .db
        .actors
        .default_build(&actor.id)
        .is_some_and(|b| b.id == build.id)
    {
        return Err(ApiError::invalid_input(format!(
            "Build {} is the one the tag \"{}\" points at; it cannot be deleted",
            build.number, actor.def.build_tag
        )));
    }
    state.db.actors.remove_build(&build.id);
    Ok(StatusCode::NO_CONTENT)
}

async fn log(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    find(&state, &id)?;
    serve_log(&state, &id, &p)
}

/// A small OpenAPI document for running the Actor, its input schema as the request body.
async fn openapi(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (build, actor) = find(&state, &id)?;
    let schema = actor
        .def
        .input_schema
        .clone()
        .unwrap_or_else(|| json!({ "type": "object" }));
    let name = format!("{}~{}", state.identity.username, actor.def.name);
    let body: Value = json!({
        "openapi": "3.0.1",
        "info": { "title": actor.def.title.clone().unwrap_or_else(|| actor.def.name.clone()),
                  "description": actor.def.description, "version": build.number },
        "servers": [{ "url": format!("{}/v2", state.identity.base_url) }],
        "paths": {
            format!("/acts/{name}/runs"): { "post": {
                "operationId": "runs",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/inputSchema" } } } },
                "responses": { "200": { "description": "OK" } },
            }},
        },
        "components": { "schemas": { "inputSchema": schema } },
    });
    Ok(json_bytes_response(
        StatusCode::OK,
        serde_json::to_vec(&body).expect("JSON serializes").into(),
    ))
}
