//! Extractors shared by the handlers: the query [`Params`], and the resource a path names
//! ([`Found`], [`FoundActor`], [`FoundRun`]), found before any parameter or body error so a
//! missing resource is answered 404 first.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::db::actors::Actor;
use crate::db::kinds::StorageKind;
use crate::db::runs::Run;
use crate::params::Params;
use crate::state::AppState;

/// Lets handlers take `Params` as an argument. Decoding cannot fail: bad values are reported
/// by the accessors, when the handler asks for them.
impl<S: Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Params::parse(parts.uri.query()))
    }
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
            storage: state
                .find_storage(&id)
                .map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params: Params::parse(parts.uri.query()),
        })
    }
}

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
            actor: state
                .find_actor(&actor_id)
                .map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params: Params::parse(parts.uri.query()),
        })
    }
}

/// What every run handler starts from.
pub struct FoundRun {
    /// The server state.
    pub state: Arc<AppState>,
    /// The run the path names.
    pub run: Arc<Run>,
    /// The query parameters.
    pub params: Params,
}

impl FromRequestParts<Arc<AppState>> for FoundRun {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Path(path) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = Params::parse(parts.uri.query());
        Ok(FoundRun {
            run: state
                .find_run(&path, &params)
                .map_err(IntoResponse::into_response)?,
            state: state.clone(),
            params,
        })
    }
}
