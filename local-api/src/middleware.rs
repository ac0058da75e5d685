//! The per-request gate in front of every route: request log, fault injection, token check.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;

use crate::error::ApiError;
use crate::faults::FaultBody;
use crate::request_log::LoggedRequest;
use crate::server::ConnHandle;
use crate::state::AppState;

/// Prefix of the control API, which is neither logged, faulted nor token-checked.
pub const CONTROL_PREFIX: &str = "/_control";

/// Runs around every request.
pub async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with(CONTROL_PREFIX) {
        return next.run(req).await;
    }
    let fault = state.faults.take(req.method(), path);
    let mut entry = state
        .request_log
        .enabled()
        .then(|| LoggedRequest::new(req.method(), req.uri(), req.headers(), fault.clone()));

    if let Some(fault) = &fault {
        if let Some(ms) = fault.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if fault.reset {
            if let Some(entry) = entry.take() {
                state.request_log.push(entry);
            }
            match req.extensions().get::<ConnHandle>() {
                Some(conn) => {
                    conn.reset();
                    // The connection task drops this request with the connection.
                    std::future::pending::<()>().await;
                }
                None => {
                    return ApiError::internal("reset fault: no connection to reset")
                        .into_response()
                }
            }
        }
    }

    let mut response = match fault.as_ref().and_then(|f| f.status.map(|s| (f, s))) {
        Some((fault, status)) => fault.status_response(status),
        None => match check_token(&state, &req) {
            Ok(()) => next.run(req).await,
            Err(e) => e.into_response(),
        },
    };

    if let Some(fault) = fault.as_ref().filter(|f| f.affects_body()) {
        response = response.map(|body| Body::new(FaultBody::new(body, fault)));
    }
    if let Some(mut entry) = entry {
        entry.status = Some(response.status().as_u16());
        state.request_log.push(entry);
    }
    response
}

/// Checks the token on `/v2` when the server has one: `Authorization: Bearer` first, then the
/// `token` query parameter, as the API accepts both.
fn check_token(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let Some(expected) = state.token.as_deref() else {
        return Ok(());
    };
    if !req.uri().path().starts_with("/v2") {
        return Ok(());
    }
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        });
    let given = match from_header {
        Some(token) => Some(std::borrow::Cow::Borrowed(token)),
        None => req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v)
        }),
    };
    match given {
        None => Err(ApiError::token_not_provided()),
        Some(t) if t.is_empty() => Err(ApiError::token_not_provided()),
        Some(t) if t == expected => Ok(()),
        Some(_) => Err(ApiError::token_not_valid()),
    }
}
