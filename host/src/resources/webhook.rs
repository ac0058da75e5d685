//! One webhook: `/v2/webhooks/{webhookId}`.

use std::sync::Arc;

use http::Method;
use serde::Serialize;

use super::{ResourceClient, WebhookDispatch, WebhookDispatchCollectionClient};
use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// A webhook: an HTTP request the platform sends when an event of an Actor, task or run
/// happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Webhook {
    /// The webhook id.
    pub id: String,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last modification time (UTC). A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it fires once, for one run.
    pub is_ad_hoc: Option<bool>,
    /// The events that fire it, e.g. `ACTOR.RUN.SUCCEEDED`.
    pub event_types: Vec<String>,
    /// Whose events: `{"actorId"}`, `{"actorTaskId"}` or `{"actorRunId"}`.
    pub condition: serde_json::Map<String, serde_json::Value>,
    /// The URL it calls.
    pub request_url: Option<String>,
    /// The payload template.
    pub payload_template: Option<String>,
    /// The headers template.
    pub headers_template: Option<String>,
    /// Whether `{{...}}` inside string values of the templates is interpolated too.
    pub should_interpolate_strings: Option<bool>,
    /// Whether TLS errors of the target are ignored.
    pub ignore_ssl_errors: Option<bool>,
    /// Whether a failed call is not retried.
    pub do_not_retry: Option<bool>,
    /// The description.
    pub description: Option<String>,
    /// Every other field the API sent (`lastDispatch`, `stats`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Webhook {
        required: id;
        timestamps: created_at, modified_at;
        optional: user_id, is_ad_hoc, event_types, condition, request_url, payload_template, headers_template, should_interpolate_strings, ignore_ssl_errors, do_not_retry, description
    }
}

/// The fields of a webhook to create or change (absent fields are not sent). `create` needs
/// `event_types`, `request_url` and one of `actor_id`, `actor_task_id`, `actor_run_id`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookFields {
    /// The events that fire it, e.g. `ACTOR.RUN.SUCCEEDED`.
    pub event_types: Option<Vec<String>>,
    /// The URL to call.
    pub request_url: Option<String>,
    /// The payload template.
    pub payload_template: Option<String>,
    /// The headers template.
    pub headers_template: Option<String>,
    /// Interpolate `{{...}}` inside string values of the templates too.
    pub should_interpolate_strings: Option<bool>,
    /// Fire on the runs of this Actor.
    pub actor_id: Option<String>,
    /// Fire on the runs of this task.
    pub actor_task_id: Option<String>,
    /// Fire on this run.
    pub actor_run_id: Option<String>,
    /// Ignore TLS errors of the target.
    pub ignore_ssl_errors: Option<bool>,
    /// Do not retry a failed call.
    pub do_not_retry: Option<bool>,
    /// The description.
    pub description: Option<String>,
    /// A key that makes a repeated `create` answer the first webhook (create only).
    pub idempotency_key: Option<String>,
    /// Fire only once; sent only with `actor_run_id`, as the Python client does.
    pub is_ad_hoc: Option<bool>,
}

/// The API's body for [`WebhookFields`]: the condition nested, camelCase names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_types: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_template: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers_template: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    should_interpolate_strings: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<WebhookCondition<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore_ssl_errors: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    do_not_retry: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_ad_hoc: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookCondition<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_run_id: Option<&'a str>,
}

impl WebhookFields {
    /// The request body. `always_condition`: a new webhook always has a condition (the API
    /// requires one); an update sends it only when one of its ids is set, so it is kept.
    pub(crate) fn body(&self, always_condition: bool) -> impl Serialize + '_ {
        let has_condition =
            self.actor_id.is_some() || self.actor_task_id.is_some() || self.actor_run_id.is_some();
        WebhookBody {
            event_types: self.event_types.as_ref(),
            request_url: self.request_url.as_deref(),
            payload_template: self.payload_template.as_deref(),
            headers_template: self.headers_template.as_deref(),
            should_interpolate_strings: self.should_interpolate_strings,
            condition: (always_condition || has_condition).then_some(WebhookCondition {
                actor_id: self.actor_id.as_deref(),
                actor_task_id: self.actor_task_id.as_deref(),
                actor_run_id: self.actor_run_id.as_deref(),
            }),
            ignore_ssl_errors: self.ignore_ssl_errors,
            do_not_retry: self.do_not_retry,
            description: self.description.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            is_ad_hoc: self.is_ad_hoc.filter(|_| self.actor_run_id.is_some()),
        }
    }
}

/// A client for one webhook.
///
/// ```no_run
/// # async fn demo() -> Result<(), apify_host::Error> {
/// let client = apify_host::ApifyClient::new("my-token")?;
/// // Sends the webhook once with a dummy payload; the dispatch tells how the call went.
/// if let Some(dispatch) = client.webhook("Zib4xbZsmvZeK55ua").test().await? {
///     println!("{} {:?}", dispatch.id, dispatch.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct WebhookClient {
    pub(super) res: ResourceClient,
}

impl WebhookClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        WebhookClient {
            res: ResourceClient::item(pipeline, "webhooks", id),
        }
    }

    /// The webhook, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Webhook>, Error> {
        self.res.get().await
    }

    /// Changes the given fields; answers the updated webhook.
    pub async fn update(&self, fields: &WebhookFields) -> Result<Webhook, Error> {
        self.res
            .update(&fields.body(false), TimeoutTier::Short)
            .await
    }

    /// Deletes the webhook (no error if it does not exist).
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// Sends the webhook once with a dummy payload; answers the dispatch that made, or `None`
    /// if the webhook does not exist.
    pub async fn test(&self) -> Result<Option<WebhookDispatch>, Error> {
        let req = self
            .res
            .sub(Method::POST, &["test"])
            .timeout(TimeoutTier::Medium);
        not_found_as_none(self.res.data(req).await)
    }

    /// The dispatches of this webhook (`/v2/webhooks/{id}/dispatches`).
    pub fn dispatches(&self) -> WebhookDispatchCollectionClient {
        WebhookDispatchCollectionClient::under(&self.res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_is_nested_and_ad_hoc_needs_a_run() {
        let f = WebhookFields {
            event_types: Some(vec!["ACTOR.RUN.SUCCEEDED".into()]),
            request_url: Some("https://example.com/hook".into()),
            actor_id: Some("a1".into()),
            is_ad_hoc: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(f.body(true)).unwrap(),
            serde_json::json!({
                "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
                "requestUrl": "https://example.com/hook",
                "condition": {"actorId": "a1"},
            })
        );
        let update = WebhookFields {
            description: Some("d".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(update.body(false)).unwrap(),
            serde_json::json!({"description": "d"})
        );
    }
}
