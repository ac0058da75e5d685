//! A user: `/v2/users/{userId}`, or `/v2/users/me` for the owner of the token.

use http::Method;
use serde::Serialize;

use super::ResourceClient;
use std::sync::Arc;

use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// A user account. `GET /v2/users/me` tells more (email, plan, proxy) than the public data of
/// another user; fields the model does not name are in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The user id.
    pub id: Option<String>,
    /// The username.
    pub username: Option<String>,
    /// The email (own account only).
    pub email: Option<String>,
    /// Whether the account pays (own account only).
    pub is_paying: Option<bool>,
    /// When the account was created (UTC). A value that is not an RFC 3339 time is `None` here and
    /// kept in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every other field the API sent (`profile`, `plan`, `proxy`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    User {
        timestamps: created_at;
        optional: id, username, email, is_paying
    }
}

/// The usage of the current billing cycle (`GET /v2/users/me/usage/monthly`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MonthlyUsage {
    /// The cycle: `startAt`, `endAt` (ISO 8601).
    pub usage_cycle: Option<serde_json::Value>,
    /// Usage per service (`ACTOR_COMPUTE_UNITS`, `DATASET_READS`, ...) over the cycle.
    pub monthly_service_usage: serde_json::Map<String, serde_json::Value>,
    /// Usage per day of the cycle.
    pub daily_service_usages: Vec<serde_json::Value>,
    /// The cycle's total in USD before the volume discount.
    pub total_usage_credits_usd_before_volume_discount: Option<f64>,
    /// The cycle's total in USD after the volume discount.
    pub total_usage_credits_usd_after_volume_discount: Option<f64>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    MonthlyUsage {
        optional: usage_cycle, monthly_service_usage, daily_service_usages, total_usage_credits_usd_before_volume_discount, total_usage_credits_usd_after_volume_discount
    }
}

/// The account's limits and current usage (`GET /v2/users/me/limits`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccountLimits {
    /// The cycle: `startAt`, `endAt` (ISO 8601).
    pub monthly_usage_cycle: Option<serde_json::Value>,
    /// The limits (`maxMonthlyUsageUsd`, `maxActorMemoryGbytes`, `dataRetentionDays`, ...).
    pub limits: serde_json::Map<String, serde_json::Value>,
    /// The current usage against them (`monthlyUsageUsd`, `actorMemoryGbytes`, ...).
    pub current: serde_json::Map<String, serde_json::Value>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    AccountLimits {
        optional: monthly_usage_cycle, limits, current
    }
}

/// The limits `update_limits` changes (absent ones stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsUpdate {
    /// The most the account may spend in a month, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_monthly_usage_usd: Option<f64>,
    /// How many days unnamed storages are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_retention_days: Option<u64>,
}

/// A client for one user.
#[derive(Clone, Debug)]
pub struct UserClient {
    pub(super) res: ResourceClient,
}

impl UserClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: Option<&str>) -> Self {
        UserClient {
            res: ResourceClient::item(pipeline, "users", id.unwrap_or("me")),
        }
    }

    /// The user, or `None` if there is no such user.
    pub async fn get(&self) -> Result<Option<User>, Error> {
        self.res.get().await
    }

    /// The usage of the current billing cycle, with a daily breakdown (the account's Billing
    /// page), or `None` if there is no such user.
    pub async fn monthly_usage(&self) -> Result<Option<MonthlyUsage>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["usage", "monthly"])
            .timeout(TimeoutTier::Short);
        not_found_as_none(self.res.data(req).await)
    }

    /// The account's limits and current usage (the account's Limits page), or `None` if there
    /// is no such user.
    pub async fn limits(&self) -> Result<Option<AccountLimits>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["limits"])
            .timeout(TimeoutTier::Short);
        not_found_as_none(self.res.data(req).await)
    }

    /// Changes the limits that can be managed on the account's Limits page.
    pub async fn update_limits(&self, limits: &LimitsUpdate) -> Result<(), Error> {
        let req = self
            .res
            .sub(Method::PUT, &["limits"])
            .json(limits)?
            .timeout(TimeoutTier::Short);
        self.res.drain(req).await
    }
}
