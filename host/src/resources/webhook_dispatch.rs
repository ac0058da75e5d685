//! One webhook dispatch: `/v2/webhook-dispatches/{dispatchId}`.

use std::sync::Arc;

use serde::Serialize;

use super::ResourceClient;
use crate::{pipeline::Pipeline, Error};

/// One firing of a webhook, with its calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookDispatch {
    /// The dispatch id.
    pub id: String,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// The webhook it dispatched.
    pub webhook_id: Option<String>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `ACTIVE`, `SUCCEEDED` or `FAILED`.
    pub status: Option<String>,
    /// The event, e.g. `ACTOR.RUN.SUCCEEDED`.
    pub event_type: Option<String>,
    /// The event's data (`actorId`, `actorRunId`, ...).
    pub event_data: Option<serde_json::Value>,
    /// The HTTP calls made (`startedAt`, `finishedAt`, `errorMessage`, `responseStatus`, ...).
    pub calls: Vec<serde_json::Value>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    WebhookDispatch {
        required: id;
        timestamps: created_at;
        optional: user_id, webhook_id, status, event_type, event_data, calls
    }
}

/// A client for one webhook dispatch.
#[derive(Clone, Debug)]
pub struct WebhookDispatchClient {
    pub(super) res: ResourceClient,
}

impl WebhookDispatchClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        WebhookDispatchClient {
            res: ResourceClient::item(pipeline, "webhook-dispatches", id),
        }
    }

    /// The dispatch, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<WebhookDispatch>, Error> {
        self.res.get().await
    }
}
