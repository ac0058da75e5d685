//! The collection and object endpoints shared by datasets, key-value stores and request
//! queues: list, get-or-create, get, update (rename, `generalAccess`), delete.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::body::Payload;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Identity};
use crate::store::datasets::Dataset;
use crate::store::key_value_stores::KeyValueStore;
use crate::store::request_queues::RequestQueue;
use crate::store::{Registry, Storage, StorageMeta};
use crate::util::{data_response, parse_json, Params};

/// The API's maximum (and default) page size for storage lists.
const MAX_LIST_LIMIT: u64 = 1000;

/// What the shared endpoints need to know about a kind of storage.
pub trait StorageKind: Storage + Sized {
    /// Name in messages, e.g. `Dataset`.
    const LABEL: &'static str;
    /// Path segment after `/v2/`, e.g. `datasets`.
    const COLLECTION: &'static str;
    /// The registry holding this kind.
    fn registry(state: &AppState) -> &Registry<Self>;
    /// Makes a new empty storage.
    fn create(meta: StorageMeta, state: &AppState) -> ApiResult<Self>;
    /// The object as the API returns it.
    fn to_json(&self, identity: &Identity) -> Value;
}

impl StorageKind for Dataset {
    const LABEL: &'static str = "Dataset";
    const COLLECTION: &'static str = "datasets";
    fn registry(state: &AppState) -> &Registry<Self> {
        &state.datasets
    }
    fn create(meta: StorageMeta, _: &AppState) -> ApiResult<Self> {
        Dataset::new(meta)
    }
    fn to_json(&self, identity: &Identity) -> Value {
        Dataset::to_json(self, identity)
    }
}

impl StorageKind for KeyValueStore {
    const LABEL: &'static str = "Key-value store";
    const COLLECTION: &'static str = "key-value-stores";
    fn registry(state: &AppState) -> &Registry<Self> {
        &state.key_value_stores
    }
    fn create(meta: StorageMeta, state: &AppState) -> ApiResult<Self> {
        KeyValueStore::new(meta, state.data_dir())
    }
    fn to_json(&self, identity: &Identity) -> Value {
        KeyValueStore::to_json(self, identity)
    }
}

impl StorageKind for RequestQueue {
    const LABEL: &'static str = "Request queue";
    const COLLECTION: &'static str = "request-queues";
    fn registry(state: &AppState) -> &Registry<Self> {
        &state.request_queues
    }
    fn create(meta: StorageMeta, _: &AppState) -> ApiResult<Self> {
        RequestQueue::new(meta)
    }
    fn to_json(&self, identity: &Identity) -> Value {
        RequestQueue::to_json(self, identity)
    }
}

/// Finds a storage by id or name, or answers 404 `record-not-found`.
pub fn find<T: StorageKind>(state: &AppState, id: &str) -> ApiResult<Arc<T>> {
    T::registry(state)
        .resolve(id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found(format!("{} was not found", T::LABEL)))
}

/// What every handler under `/v2/{collection}/{id}` starts from: the state, the storage that
/// `{id}` names, and the query parameters. Extracting it answers 404 `record-not-found` for a
/// missing storage, so that answer comes before any parameter or body error.
pub struct Found<T> {
    /// The server state.
    pub state: Arc<AppState>,
    /// The storage named by the `{id}` path segment (an id or a name).
    pub storage: Arc<T>,
    /// The query parameters.
    pub params: Params,
}

/// The `{id}` path segment alone: serde skips a route's other segments (`{key}`,
/// `{request_id}`), which their handlers extract themselves.
#[derive(serde::Deserialize)]
struct StorageId {
    id: String,
}

impl<T: StorageKind> FromRequestParts<Arc<AppState>> for Found<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Path(StorageId { id }) = Path::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Found {
            storage: find(state, &id).map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params: Params::parse(parts.uri.query()),
        })
    }
}

/// The collection and object routes of one kind.
pub fn routes<T: StorageKind>() -> Router<Arc<AppState>> {
    let collection = format!("/v2/{}", T::COLLECTION);
    let object = format!("/v2/{}/{{id}}", T::COLLECTION);
    Router::new()
        .route(&collection, get(list::<T>).post(create::<T>))
        .route(
            &object,
            get(get_one::<T>).put(update::<T>).delete(delete::<T>),
        )
}

async fn list<T: StorageKind>(
    State(state): State<Arc<AppState>>,
    p: Params,
) -> ApiResult<Response> {
    let offset = p.number("offset")?.unwrap_or(0);
    let limit = p
        .number("limit")?
        .unwrap_or(MAX_LIST_LIMIT)
        .min(MAX_LIST_LIMIT);
    let desc = p.flag_or("desc", false);
    let unnamed = p.flag_or("unnamed", false);
    let (total, page) = T::registry(&state).list(unnamed, desc, offset as usize, limit as usize);
    let items: Vec<Value> = page.iter().map(|s| s.to_json(&state.identity)).collect();
    Ok(data_response(
        StatusCode::OK,
        &json!({
            "total": total,
            "offset": offset,
            "limit": limit,
            "desc": desc,
            "count": items.len(),
            "unnamed": unnamed,
            "items": items,
        }),
    ))
}

/// `POST /v2/{collection}?name=`: get-or-create by name (200 when it existed, 201 when
/// created, with `Location`); without a name, always a new unnamed storage.
async fn create<T: StorageKind>(
    State(state): State<Arc<AppState>>,
    p: Params,
) -> ApiResult<Response> {
    let name = p.string("name");
    let (storage, created) =
        T::registry(&state).get_or_create(name, |meta| T::create(meta, &state))?;
    if !created {
        storage.meta().touch();
        return Ok(data_response(
            StatusCode::OK,
            &storage.to_json(&state.identity),
        ));
    }
    let mut response = data_response(StatusCode::CREATED, &storage.to_json(&state.identity));
    let location = format!(
        "{}/v2/{}/{}",
        state.identity.base_url,
        T::COLLECTION,
        storage.meta().id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn get_one<T: StorageKind>(Found { state, storage, .. }: Found<T>) -> ApiResult<Response> {
    storage.meta().touch();
    Ok(data_response(
        StatusCode::OK,
        &storage.to_json(&state.identity),
    ))
}

/// `PUT`: `{"name": "new-name" | null, "generalAccess": "..."}`.
async fn update<T: StorageKind>(
    Found { state, storage, .. }: Found<T>,
    Payload(body): Payload,
) -> ApiResult<Response> {
    let update: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(&body)?
    };
    let Value::Object(update) = update else {
        return Err(ApiError::invalid_request(
            "The request body must be a JSON object",
        ));
    };
    if let Some(name) = update.get("name") {
        match name {
            Value::Null => T::registry(&state).rename(&storage, None)?,
            Value::String(n) if n.is_empty() => T::registry(&state).rename(&storage, None)?,
            Value::String(n) => T::registry(&state).rename(&storage, Some(n))?,
            _ => return Err(ApiError::invalid_value("\"name\" must be a string or null")),
        }
    }
    if let Some(access) = update.get("generalAccess") {
        let access = access
            .as_str()
            .ok_or_else(|| ApiError::invalid_value("\"generalAccess\" must be a string"))?;
        storage.meta().set_general_access(access)?;
    }
    Ok(data_response(
        StatusCode::OK,
        &storage.to_json(&state.identity),
    ))
}

async fn delete<T: StorageKind>(Found { state, storage, .. }: Found<T>) -> StatusCode {
    T::registry(&state).remove(&storage.meta().id);
    // Dropping a key-value store removes its folder; do that off the async workers.
    tokio::task::spawn_blocking(move || drop(storage));
    StatusCode::NO_CONTENT
}
