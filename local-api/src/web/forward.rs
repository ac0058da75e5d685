//! [`StorageForwarder`]: the storage routes (datasets, key-value stores, request queues),
//! built once and reached through an `Extension`, so the run-scoped storage aliases and
//! `run-sync` can hand a rewritten request to them without knowing the api files.

use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

/// The storage router, with the server state already applied and without the request gate.
#[derive(Clone)]
pub struct StorageForwarder(Router);

impl StorageForwarder {
    /// Wraps the storage router (built by the api).
    pub fn new(storage_routes: Router) -> Self {
        Self(storage_routes)
    }

    /// Answers `request` with the storage routes.
    pub async fn forward(&self, request: Request) -> Response {
        match self.0.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}
