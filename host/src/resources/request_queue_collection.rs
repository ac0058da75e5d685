//! The request queue collection: `/v2/request-queues`.

use super::{ItemStream, ListOptions, ListPage, RequestQueue, ResourceClient};
use std::sync::Arc;

use crate::{pipeline::Pipeline, Error};

/// A client for the request queues of the token's user.
#[derive(Clone, Debug)]
pub struct RequestQueueCollectionClient {
    pub(super) res: ResourceClient,
}

impl RequestQueueCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        RequestQueueCollectionClient {
            res: ResourceClient::collection(pipeline, "request-queues"),
        }
    }

    /// One page of request queues (named only, unless `opts.unnamed`).
    pub async fn list(&self, opts: &ListOptions) -> Result<ListPage<RequestQueue>, Error> {
        self.res.list(opts).await
    }

    /// All request queues matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &ListOptions) -> ItemStream<RequestQueue> {
        self.res.iterate_list(opts)
    }

    /// The request queue called `name`, created if it does not exist; with no name, a new
    /// unnamed queue.
    pub async fn get_or_create(&self, name: Option<&str>) -> Result<RequestQueue, Error> {
        self.res.get_or_create(name, None).await
    }
}
