//! The API, one file per resource group (as mini-redis's `cmd/`): each file has its
//! `routes()` and its handlers, and no api file imports another. This file is the only one
//! that knows them all: it builds the router and puts the request gate in front of it.

mod actor_store;
mod actors;
mod builds;
mod control;
mod datasets;
mod key_value_stores;
mod logs;
mod request_queues;
mod runs;
mod schedules;
mod storages;
mod tasks;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::{Extension, Router};

use crate::db::dataset::Dataset;
use crate::db::key_value_store::KeyValueStore;
use crate::db::request_queue::RequestQueue;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forward::StorageForwarder;
use crate::web::gate;

/// Every `/v2` route this server implements, as `(method, path)` in the spec's notation; the
/// tests check each one against the OpenAPI spec.
pub const V2_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v2/users/me"),
    ("GET", "/v2/datasets"),
    ("POST", "/v2/datasets"),
    ("GET", "/v2/datasets/{datasetId}"),
    ("PUT", "/v2/datasets/{datasetId}"),
    ("DELETE", "/v2/datasets/{datasetId}"),
    ("GET", "/v2/datasets/{datasetId}/items"),
    ("HEAD", "/v2/datasets/{datasetId}/items"),
    ("POST", "/v2/datasets/{datasetId}/items"),
    ("GET", "/v2/datasets/{datasetId}/statistics"),
    ("GET", "/v2/key-value-stores"),
    ("POST", "/v2/key-value-stores"),
    ("GET", "/v2/key-value-stores/{storeId}"),
    ("PUT", "/v2/key-value-stores/{storeId}"),
    ("DELETE", "/v2/key-value-stores/{storeId}"),
    ("GET", "/v2/key-value-stores/{storeId}/keys"),
    ("GET", "/v2/key-value-stores/{storeId}/records/{recordKey}"),
    ("HEAD", "/v2/key-value-stores/{storeId}/records/{recordKey}"),
    ("PUT", "/v2/key-value-stores/{storeId}/records/{recordKey}"),
    ("POST", "/v2/key-value-stores/{storeId}/records/{recordKey}"),
    (
        "DELETE",
        "/v2/key-value-stores/{storeId}/records/{recordKey}",
    ),
    ("GET", "/v2/request-queues"),
    ("POST", "/v2/request-queues"),
    ("GET", "/v2/request-queues/{queueId}"),
    ("PUT", "/v2/request-queues/{queueId}"),
    ("DELETE", "/v2/request-queues/{queueId}"),
    ("GET", "/v2/request-queues/{queueId}/head"),
    ("POST", "/v2/request-queues/{queueId}/head/lock"),
    ("GET", "/v2/request-queues/{queueId}/requests"),
    ("POST", "/v2/request-queues/{queueId}/requests"),
    ("POST", "/v2/request-queues/{queueId}/requests/batch"),
    ("DELETE", "/v2/request-queues/{queueId}/requests/batch"),
    ("POST", "/v2/request-queues/{queueId}/requests/unlock"),
    ("GET", "/v2/request-queues/{queueId}/requests/{requestId}"),
    ("PUT", "/v2/request-queues/{queueId}/requests/{requestId}"),
    (
        "DELETE",
        "/v2/request-queues/{queueId}/requests/{requestId}",
    ),
    (
        "PUT",
        "/v2/request-queues/{queueId}/requests/{requestId}/lock",
    ),
    (
        "DELETE",
        "/v2/request-queues/{queueId}/requests/{requestId}/lock",
    ),
    ("GET", "/v2/logs/{buildOrRunId}"),
    // Actors, runs and builds (`/v2/acts/...` is served too: the spec spells it `actors`).
    ("GET", "/v2/actors"),
    ("POST", "/v2/actors"),
    ("GET", "/v2/actors/{actorId}"),
    ("PUT", "/v2/actors/{actorId}"),
    ("DELETE", "/v2/actors/{actorId}"),
    ("GET", "/v2/actors/{actorId}/versions"),
    ("GET", "/v2/actors/{actorId}/versions/{versionNumber}"),
    ("GET", "/v2/actors/{actorId}/builds"),
    ("POST", "/v2/actors/{actorId}/builds"),
    ("GET", "/v2/actors/{actorId}/builds/default"),
    ("GET", "/v2/actors/{actorId}/builds/{buildId}"),
    ("GET", "/v2/actors/{actorId}/runs"),
    ("POST", "/v2/actors/{actorId}/runs"),
    ("GET", "/v2/actors/{actorId}/runs/{runId}"),
    ("POST", "/v2/actors/{actorId}/runs/{runId}/abort"),
    ("POST", "/v2/actors/{actorId}/runs/{runId}/metamorph"),
    ("POST", "/v2/actors/{actorId}/runs/{runId}/resurrect"),
    ("GET", "/v2/actors/{actorId}/runs/last"),
    ("GET", "/v2/actors/{actorId}/runs/last/log"),
    ("POST", "/v2/actors/{actorId}/runs/last/abort"),
    ("POST", "/v2/actors/{actorId}/runs/last/metamorph"),
    ("POST", "/v2/actors/{actorId}/runs/last/reboot"),
    ("GET", "/v2/actors/{actorId}/runs/last/dataset"),
    ("GET", "/v2/actors/{actorId}/runs/last/dataset/items"),
    ("POST", "/v2/actors/{actorId}/runs/last/dataset/items"),
    ("GET", "/v2/actors/{actorId}/runs/last/dataset/statistics"),
    ("GET", "/v2/actors/{actorId}/runs/last/key-value-store"),
    ("GET", "/v2/actors/{actorId}/runs/last/key-value-store/keys"),
    (
        "GET",
        "/v2/actors/{actorId}/runs/last/key-value-store/records/{recordKey}",
    ),
    ("GET", "/v2/actors/{actorId}/runs/last/request-queue"),
    ("GET", "/v2/actors/{actorId}/runs/last/request-queue/head"),
    (
        "GET",
        "/v2/actors/{actorId}/runs/last/request-queue/requests",
    ),
    ("GET", "/v2/actor-runs"),
    ("GET", "/v2/actor-runs/{runId}"),
    ("PUT", "/v2/actor-runs/{runId}"),
    ("DELETE", "/v2/actor-runs/{runId}"),
    ("POST", "/v2/actor-runs/{runId}/abort"),
    ("POST", "/v2/actor-runs/{runId}/metamorph"),
    ("POST", "/v2/actor-runs/{runId}/reboot"),
    ("POST", "/v2/actor-runs/{runId}/resurrect"),
    ("POST", "/v2/actor-runs/{runId}/charge"),
    ("GET", "/v2/actor-runs/{runId}/log"),
    ("GET", "/v2/actor-runs/{runId}/dataset"),
    ("PUT", "/v2/actor-runs/{runId}/dataset"),
    ("DELETE", "/v2/actor-runs/{runId}/dataset"),
    ("GET", "/v2/actor-runs/{runId}/dataset/items"),
    ("POST", "/v2/actor-runs/{runId}/dataset/items"),
    ("GET", "/v2/actor-runs/{runId}/dataset/statistics"),
    ("GET", "/v2/actor-runs/{runId}/key-value-store"),
    ("PUT", "/v2/actor-runs/{runId}/key-value-store"),
    ("DELETE", "/v2/actor-runs/{runId}/key-value-store"),
    ("GET", "/v2/actor-runs/{runId}/key-value-store/keys"),
    (
        "GET",
        "/v2/actor-runs/{runId}/key-value-store/records/{recordKey}",
    ),
    (
        "PUT",
        "/v2/actor-runs/{runId}/key-value-store/records/{recordKey}",
    ),
    (
        "POST",
        "/v2/actor-runs/{runId}/key-value-store/records/{recordKey}",
    ),
    (
        "DELETE",
        "/v2/actor-runs/{runId}/key-value-store/records/{recordKey}",
    ),
    ("GET", "/v2/actor-runs/{runId}/request-queue"),
    ("PUT", "/v2/actor-runs/{runId}/request-queue"),
    ("DELETE", "/v2/actor-runs/{runId}/request-queue"),
    ("GET", "/v2/actor-runs/{runId}/request-queue/head"),
    ("POST", "/v2/actor-runs/{runId}/request-queue/head/lock"),
    ("GET", "/v2/actor-runs/{runId}/request-queue/requests"),
    ("POST", "/v2/actor-runs/{runId}/request-queue/requests"),
    (
        "POST",
        "/v2/actor-runs/{runId}/request-queue/requests/batch",
    ),
    (
        "DELETE",
        "/v2/actor-runs/{runId}/request-queue/requests/batch",
    ),
    (
        "POST",
        "/v2/actor-runs/{runId}/request-queue/requests/unlock",
    ),
    (
        "GET",
        "/v2/actor-runs/{runId}/request-queue/requests/{requestId}",
    ),
    (
        "PUT",
        "/v2/actor-runs/{runId}/request-queue/requests/{requestId}",
    ),
    (
        "DELETE",
        "/v2/actor-runs/{runId}/request-queue/requests/{requestId}",
    ),
    ("GET", "/v2/actor-builds"),
    ("GET", "/v2/actor-builds/{buildId}"),
    ("DELETE", "/v2/actor-builds/{buildId}"),
    ("POST", "/v2/actor-builds/{buildId}/abort"),
    ("GET", "/v2/actor-builds/{buildId}/log"),
    ("GET", "/v2/actor-builds/{buildId}/openapi.json"),
    ("GET", "/v2/store"),
    ("GET", "/v2/actors/{actorId}/run-sync"),
    ("POST", "/v2/actors/{actorId}/run-sync"),
    ("GET", "/v2/actors/{actorId}/run-sync-get-dataset-items"),
    ("POST", "/v2/actors/{actorId}/run-sync-get-dataset-items"),
    ("GET", "/v2/actor-tasks/{actorTaskId}/run-sync"),
    ("POST", "/v2/actor-tasks/{actorTaskId}/run-sync"),
    (
        "GET",
        "/v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items",
    ),
    (
        "POST",
        "/v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items",
    ),
    ("GET", "/v2/actor-tasks"),
    ("POST", "/v2/actor-tasks"),
    ("GET", "/v2/actor-tasks/{actorTaskId}"),
    ("PUT", "/v2/actor-tasks/{actorTaskId}"),
    ("DELETE", "/v2/actor-tasks/{actorTaskId}"),
    ("GET", "/v2/actor-tasks/{actorTaskId}/input"),
    ("PUT", "/v2/actor-tasks/{actorTaskId}/input"),
    ("GET", "/v2/actor-tasks/{actorTaskId}/runs"),
    ("POST", "/v2/actor-tasks/{actorTaskId}/runs"),
    ("GET", "/v2/actor-tasks/{actorTaskId}/runs/last"),
    ("GET", "/v2/actor-tasks/{actorTaskId}/runs/last/log"),
    ("POST", "/v2/actor-tasks/{actorTaskId}/runs/last/abort"),
    (
        "GET",
        "/v2/actor-tasks/{actorTaskId}/runs/last/dataset/items",
    ),
    (
        "GET",
        "/v2/actor-tasks/{actorTaskId}/runs/last/key-value-store/records/{recordKey}",
    ),
    ("GET", "/v2/actor-tasks/{actorTaskId}/webhooks"),
    ("GET", "/v2/actors/{actorId}/webhooks"),
    ("GET", "/v2/webhooks"),
    ("POST", "/v2/webhooks"),
    ("GET", "/v2/webhooks/{webhookId}"),
    ("PUT", "/v2/webhooks/{webhookId}"),
    ("DELETE", "/v2/webhooks/{webhookId}"),
    ("POST", "/v2/webhooks/{webhookId}/test"),
    ("GET", "/v2/webhooks/{webhookId}/dispatches"),
    ("GET", "/v2/webhook-dispatches"),
    ("GET", "/v2/webhook-dispatches/{dispatchId}"),
    ("GET", "/v2/schedules"),
    ("POST", "/v2/schedules"),
    ("GET", "/v2/schedules/{scheduleId}"),
    ("PUT", "/v2/schedules/{scheduleId}"),
    ("DELETE", "/v2/schedules/{scheduleId}"),
    ("GET", "/v2/schedules/{scheduleId}/log"),
    ("GET", "/v2/users/{userId}"),
    ("GET", "/v2/users/me/usage/monthly"),
    ("GET", "/v2/users/me/limits"),
    ("PUT", "/v2/users/me/limits"),
];

/// The whole router, with the request gate (log, token) in front of it.
pub fn router(state: Arc<AppState>) -> Router {
    // Built once: the run-scoped storage aliases and run-sync hand requests to it.
    let forwarder = StorageForwarder::new(storage_routes().with_state(state.clone()));
    Router::new()
        .merge(storage_routes())
        .merge(users::routes())
        .merge(logs::routes())
        .merge(actors::routes())
        .merge(runs::routes())
        .merge(builds::routes())
        .merge(actor_store::routes())
        .merge(tasks::routes())
        .merge(webhooks::routes())
        .merge(schedules::routes())
        .merge(control::routes())
        .fallback(|| async { ApiError::page_not_found() })
        .layer(Extension(forwarder))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}

/// The storage routes alone (datasets, key-value stores, request queues), without the gate:
/// the run-scoped aliases and run-sync hand their rewritten requests to these, through the
/// [`StorageForwarder`].
fn storage_routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(storages::routes::<Dataset>())
        .merge(storages::routes::<KeyValueStore>())
        .merge(storages::routes::<RequestQueue>())
        .merge(datasets::routes())
        .merge(key_value_stores::routes())
        .merge(request_queues::routes())
        .fallback(|| async { ApiError::page_not_found() })
}
