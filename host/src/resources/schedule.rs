//! One schedule: `/v2/schedules/{scheduleId}`.

use std::sync::Arc;

use http::Method;
use serde::Serialize;

use super::ResourceClient;
use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// A schedule: when (a cron expression in a timezone) to start which Actors and tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schedule {
    /// The schedule id.
    pub id: String,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// A human-friendly title.
    pub title: Option<String>,
    /// When to start, e.g. `0 8 * * *` or `@hourly`.
    pub cron_expression: Option<String>,
    /// The TZ database name the cron expression is read in (default UTC).
    pub timezone: Option<String>,
    /// Whether the schedule starts anything.
    pub is_enabled: Option<bool>,
    /// Whether a start is skipped while the previous one still runs.
    pub is_exclusive: Option<bool>,
    /// The description.
    pub description: Option<String>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last modification time (UTC). A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The next start (UTC), if enabled. A value that is not an RFC 3339 time is `None` here and
    /// kept in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub next_run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last start (UTC), if any. A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub last_run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What it starts: `{"type": "RUN_ACTOR" | "RUN_ACTOR_TASK", ...}` objects.
    pub actions: Vec<serde_json::Value>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Schedule {
        required: id;
        timestamps: created_at, modified_at, next_run_at, last_run_at;
        optional: user_id, name, title, cron_expression, timezone, is_enabled, is_exclusive, description, actions
    }
}

/// One entry of a schedule's log: a start it made (or failed to make).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScheduleInvocation {
    /// What happened.
    pub message: Option<String>,
    /// `INFO`, `ERROR`, ...
    pub level: Option<String>,
    /// When (UTC). A value that is not an RFC 3339 time is `None` here and kept in `extra`, as
    /// sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    ScheduleInvocation {
        timestamps: created_at;
        optional: message, level
    }
}

/// The fields of a schedule to create or change (absent fields are not sent). `create` needs
/// `cron_expression`, `is_enabled` and `is_exclusive`, as the Python client's `create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleFields {
    /// When to start, e.g. `0 8 * * *`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
    /// Whether the schedule starts anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    /// Skip a start while the previous one still runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_exclusive: Option<bool>,
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What to start: `[{"type": "RUN_ACTOR", "actorId": "..."}]` and the like (see the API
    /// documentation for the exact shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<serde_json::Value>>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The TZ database name the cron expression is read in, e.g. `Europe/Prague`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A human-friendly title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Whether to send email notifications about the schedule's runs (sent as
    /// `notifications.email`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "notifications",
        serialize_with = "notifications_email"
    )]
    pub notifications_email: Option<bool>,
}

fn notifications_email<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(email) => serde_json::json!({ "email": email }).serialize(s),
        None => s.serialize_none(),
    }
}

/// A client for one schedule.
///
/// ```no_run
/// # async fn demo() -> Result<(), apify_host::Error> {
/// use apify_host::models::ScheduleFields;
///
/// let client = apify_host::ApifyClient::new("my-token")?;
/// let created = client
///     .schedules()
///     .create(&ScheduleFields {
///         name: Some("daily-crawl".into()),
///         cron_expression: Some("0 6 * * *".into()),
///         timezone: Some("Europe/Prague".into()),
///         is_enabled: Some(true),
///         is_exclusive: Some(true),
///         actions: Some(vec![serde_json::json!({"type": "RUN_ACTOR", "actorId": "apify~web-scraper"})]),
///         ..Default::default()
///     })
///     .await?;
/// let schedule = client.schedule(&created.id);
/// schedule
///     .update(&ScheduleFields { is_enabled: Some(false), ..Default::default() })
///     .await?;
/// println!("{:?}", schedule.get().await?.and_then(|s| s.next_run_at));
/// for entry in schedule.get_log().await?.unwrap_or_default() {
///     println!("{:?} {:?}", entry.created_at, entry.message);
/// }
/// schedule.delete().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ScheduleClient {
    pub(super) res: ResourceClient,
}

impl ScheduleClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        ScheduleClient {
            res: ResourceClient::item(pipeline, "schedules", id),
        }
    }

    /// The schedule, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Schedule>, Error> {
        self.res.get().await
    }

    /// Changes the given fields; answers the updated schedule.
    pub async fn update(&self, fields: &ScheduleFields) -> Result<Schedule, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the schedule (no error if it does not exist).
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// The schedule's log (the starts it made), or `None` if it does not exist.
    pub async fn get_log(&self) -> Result<Option<Vec<ScheduleInvocation>>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["log"])
            .timeout(TimeoutTier::Medium);
        not_found_as_none(self.res.data(req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_serialize_as_the_api_names_them() {
        let f = ScheduleFields {
            cron_expression: Some("@daily".into()),
            is_enabled: Some(true),
            notifications_email: Some(false),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({"cronExpression": "@daily", "isEnabled": true, "notifications": {"email": false}})
        );
    }
}
