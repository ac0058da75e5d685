//! The webhook collection: `/v2/webhooks`, and the webhooks of an Actor or a task
//! (`/v2/acts/{id}/webhooks`, `/v2/actor-tasks/{id}/webhooks`, list only).

use std::sync::Arc;

use super::{
    base::NoParams, ItemStream, ListPage, PageOptions, ResourceClient, Webhook, WebhookFields,
};
use crate::{pipeline::Pipeline, Error};

/// A client for the webhooks of the token's user, or of one Actor or task.
#[derive(Clone, Debug)]
pub struct WebhookCollectionClient {
    pub(super) res: ResourceClient,
}

impl WebhookCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        WebhookCollectionClient {
            res: ResourceClient::collection(pipeline, "webhooks"),
        }
    }

    /// The webhooks of `parent` (an Actor or a task): `{parent}/webhooks`, for listing.
    pub(crate) fn under(parent: &ResourceClient) -> Self {
        WebhookCollectionClient {
            res: parent.child(&["webhooks"]),
        }
    }

    /// One page of webhooks.
    pub async fn list(&self, opts: &PageOptions) -> Result<ListPage<Webhook>, Error> {
        self.res.list(&opts).await
    }

    /// All webhooks matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &PageOptions) -> ItemStream<Webhook> {
        self.res.iterate_pages(opts)
    }

    /// Creates a webhook. The API needs `event_types`, `request_url` and one of `actor_id`,
    /// `actor_task_id`, `actor_run_id`: a missing one is refused here, before any request.
    /// Only on `/v2/webhooks` (the Actor's and task's lists are read-only).
    pub async fn create(&self, fields: &WebhookFields) -> Result<Webhook, Error> {
        if fields.event_types.as_ref().is_none_or(|e| e.is_empty()) {
            return Err(Error::invalid_input(
                "a new webhook needs at least one event type: set WebhookFields::event_types, \
                 e.g. [\"ACTOR.RUN.SUCCEEDED\"]",
            ));
        }
        if fields.request_url.is_none() {
            return Err(Error::invalid_input(
                "a new webhook needs the URL to call: set WebhookFields::request_url",
            ));
        }
        if fields.actor_id.is_none()
            && fields.actor_task_id.is_none()
            && fields.actor_run_id.is_none()
        {
            return Err(Error::invalid_input(
                "a new webhook needs whose events fire it: set one of WebhookFields::actor_id, \
                 actor_task_id or actor_run_id",
            ));
        }
        self.res
            .create(Some(&fields.body(true)), &NoParams {})
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{base::test_pipeline, WebhookClient};
    use http::Method;

    #[test]
    fn webhooks_under_an_actor_or_task_and_dispatches_under_a_webhook() {
        let p = test_pipeline("https://api.apify.com");
        let actor = ResourceClient::item(&p, "acts", "me/my-actor");
        let task = ResourceClient::item(&p, "actor-tasks", "t1");
        for (parent, want) in [
            (actor, "/v2/acts/me~my-actor/webhooks"),
            (task, "/v2/actor-tasks/t1/webhooks"),
        ] {
            let hooks = WebhookCollectionClient::under(&parent);
            assert_eq!(hooks.res.request(Method::GET).path(), want);
        }
        let dispatches = WebhookClient::new(&p, "w1").dispatches();
        assert_eq!(
            dispatches.res.request(Method::GET).path(),
            "/v2/webhooks/w1/dispatches"
        );
    }
}
