//! The single user: `/v2/users/me` (pre-serialized), public info, monthly usage (computed from the runs),
//! and limits (`GET`, and `PUT` which stores them).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, TimeZone, Utc};
use http::StatusCode;
use serde_json::{json, Value};

use crate::db::runs::is_terminal;
use crate::error::{ApiError, ApiResult};
use crate::json::parse_json;
use crate::state::AppState;
use crate::web::body::JsonPayload;
use crate::web::response::{data_response, json_bytes_response};

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/users/me", get(users_me))
        .route("/v2/users/{userId}", get(public))
        .route("/v2/users/me/usage/monthly", get(usage))
        .route("/v2/users/me/limits", get(limits).put(set_limits))
}

/// `GET /v2/users/me`: the pre-serialized user (a `Bytes` clone, no allocation).
async fn users_me(State(state): State<Arc<AppState>>) -> Response {
    json_bytes_response(StatusCode::OK, state.users_me.clone())
}

/// `UserPublicInfo` of the local user (by id or username).
async fn public(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Response> {
    let me = &state.identity;
    if id != me.user_id && id != me.username {
        return Err(ApiError::not_found(format!(
            "User \"{id}\" was not found: this local API has one user, \"{}\"",
            me.username
        )));
    }
    Ok(data_response(
        StatusCode::OK,
        &json!({
            "username": me.username,
            "profile": { "bio": null, "name": "Local User", "pictureUrl": null, "githubUsername": null,
                         "websiteUrl": null, "twitterUsername": null },
        }),
    ))
}

/// The current monthly cycle: the calendar month (UTC).
fn cycle() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let now = Utc::now();
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
        - chrono::Duration::milliseconds(1);
    (start, end)
}

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Compute units of all runs (memory GB × hours), and the charged events, priced at 0: local
/// runs cost nothing, but the quantities are real.
fn compute_units(state: &AppState) -> f64 {
    state.db.runs.all().iter().map(|r| r.compute_units()).sum()
}

async fn usage(State(state): State<Arc<AppState>>) -> Response {
    let (start, end) = cycle();
    let units = compute_units(&state);
    let item = json!({
        "quantity": units, "baseAmountUsd": 0, "baseUnitPriceUsd": 0,
        "amountAfterVolumeDiscountUsd": 0, "priceTiers": [],
    });
    data_response(
        StatusCode::OK,
        &json!({
            "usageCycle": { "startAt": iso(start), "endAt": iso(end) },
            "monthlyServiceUsage": { "ACTOR_COMPUTE_UNITS": item },
            "dailyServiceUsages": [{
                "date": iso(Utc::now()),
                "serviceUsage": { "ACTOR_COMPUTE_UNITS": { "quantity": units, "baseAmountUsd": 0 } },
                "totalUsageCreditsUsd": 0,
            }],
            "totalUsageCreditsUsdBeforeVolumeDiscount": 0,
            "totalUsageCreditsUsdAfterVolumeDiscount": 0,
        }),
    )
}

async fn limits(State(state): State<Arc<AppState>>) -> Response {
    let (start, end) = cycle();
    let limits = state
        .db
        .limits
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let runs = state.db.runs.all();
    let active = runs.iter().filter(|r| !is_terminal(r.status())).count();
    data_response(
        StatusCode::OK,
        &json!({
            "monthlyUsageCycle": { "startAt": iso(start), "endAt": iso(end) },
            "limits": limits,
            "current": {
                "monthlyUsageUsd": 0,
                "monthlyActorComputeUnits": compute_units(&state),
                "monthlyExternalDataTransferGbytes": 0,
                "monthlyProxySerps": 0,
                "monthlyResidentialProxyGbytes": 0,
                "actorMemoryGbytes": 0,
                "actorCount": state.db.actors.all().len(),
                "actorTaskCount": state.db.tasks.list(|_| true).len(),
                "activeActorJobCount": active,
                "teamAccountSeatCount": 1,
            },
        }),
    )
}

/// `PUT`: `maxMonthlyUsageUsd` and `dataRetentionDays` (non-negative numbers) are stored.
async fn set_limits(
    State(state): State<Arc<AppState>>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let Value::Object(update) = parse_json::<Value>(&body)? else {
        return Err(ApiError::invalid_request(
            "The request body must be a JSON object",
        ));
    };
    for (key, value) in &update {
        if !["maxMonthlyUsageUsd", "dataRetentionDays"].contains(&key.as_str()) {
            return Err(ApiError::invalid_input(format!(
                "\"{key}\" cannot be changed: only \"maxMonthlyUsageUsd\" and \"dataRetentionDays\" can"
            )));
        }
        if !value.as_f64().is_some_and(|v| v >= 0.0) {
            return Err(ApiError::invalid_value(format!(
                "\"{key}\" must be a non-negative number"
            )));
        }
    }
    let mut limits = state
        .db
        .limits
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (key, value) in update {
        limits[key] = value;
    }
    Ok(json_bytes_response(
        StatusCode::CREATED,
        bytes::Bytes::from_static(b"{}"),
    ))
}
