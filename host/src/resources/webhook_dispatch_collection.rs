//! Webhook dispatches: `/v2/webhook-dispatches`, or those of one webhook
//! (`/v2/webhooks/{id}/dispatches`).

use std::sync::Arc;

use super::{ItemStream, ListPage, PageOptions, ResourceClient, WebhookDispatch};
use crate::{pipeline::Pipeline, Error};

/// A client for the webhook dispatches of the token's user, or of one webhook.
#[derive(Clone, Debug)]
pub struct WebhookDispatchCollectionClient {
    pub(super) res: ResourceClient,
}

impl WebhookDispatchCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        WebhookDispatchCollectionClient {
            res: ResourceClient::collection(pipeline, "webhook-dispatches"),
        }
    }

    /// The dispatches of the webhook `parent`.
    pub(crate) fn under(parent: &ResourceClient) -> Self {
        WebhookDispatchCollectionClient {
            res: parent.child(&["dispatches"]),
        }
    }

    /// One page of dispatches.
    pub async fn list(&self, opts: &PageOptions) -> Result<ListPage<WebhookDispatch>, Error> {
        self.res.list(&opts).await
    }

    /// All dispatches matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &PageOptions) -> ItemStream<WebhookDispatch> {
        self.res.iterate_pages(opts)
    }
}
