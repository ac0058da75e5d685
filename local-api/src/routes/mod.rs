//! The HTTP routes: the `/v2` API and the `/_control` API.

pub mod control;
pub mod datasets;
pub mod key_value_stores;
pub mod logs;
pub mod request_queues;
pub mod storages;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};

use crate::error::ApiError;
use crate::middleware;
use crate::state::AppState;
use crate::store::datasets::Dataset;
use crate::store::key_value_stores::KeyValueStore;
use crate::store::request_queues::RequestQueue;
use crate::util::json_bytes_response;

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
];

/// The whole router, with the request gate (log, token) in front of it.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2/users/me", get(users_me))
        .merge(storages::routes::<Dataset>())
        .merge(storages::routes::<KeyValueStore>())
        .merge(storages::routes::<RequestQueue>())
        .merge(datasets::routes())
        .merge(key_value_stores::routes())
        .merge(request_queues::routes())
        .merge(logs::routes())
        .merge(control::routes())
        .fallback(|| async { ApiError::page_not_found() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::gate,
        ))
        .with_state(state)
}

/// `GET /v2/users/me`: the pre-serialized user (a `Bytes` clone, no allocation).
async fn users_me(State(state): State<Arc<AppState>>) -> Response {
    json_bytes_response(StatusCode::OK, state.users_me.clone())
}

/// Turns axum's bare 405 into the API's error body, naming the allowed methods. Applied
/// outside the router, because axum adds the `Allow` header outside route layers.
pub(crate) fn method_not_allowed(response: Response) -> Response {
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace(' ', ""))
        .unwrap_or_default();
    let mut new = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("This API end-point can only be accessed using the following HTTP methods: OPTIONS,{allow}"),
    )
    .into_response();
    if let Some(v) = response.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, v.clone());
    }
    new
}
