//! The collection and object endpoints shared by datasets, key-value stores and request
//! queues: list, get-or-create, get, update (rename, `generalAccess`), delete.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::db::kinds::StorageKind;
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::params::Params;
use crate::state::AppState;
use crate::web::body::JsonPayload;
use crate::web::extract::Found;
use crate::web::response::data_response;

/// The API's maximum (and default) page size for storage lists.
const MAX_LIST_LIMIT: u64 = 1000;

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
    let (total, page) = T::registry(&state.db).list(unnamed, desc, offset as usize, limit as usize);
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
        T::registry(&state.db).get_or_create(name, |meta| T::create(meta, state.data_dir()))?;
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
    JsonPayload(body): JsonPayload,
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
            Value::Null => T::registry(&state.db).rename(&storage, None)?,
            Value::String(n) if n.is_empty() => T::registry(&state.db).rename(&storage, None)?,
            Value::String(n) => T::registry(&state.db).rename(&storage, Some(n))?,
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
    T::registry(&state.db).remove(&storage.meta().id);
    // Dropping a key-value store removes its folder; do that off the async workers.
    tokio::task::spawn_blocking(move || drop(storage));
    StatusCode::NO_CONTENT
}
