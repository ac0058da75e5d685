//! A list of builds: every build of the user (`/v2/actor-builds`), or of one Actor
//! (`/v2/actors/{id}/builds`).

use std::sync::Arc;

use super::{Build, ItemStream, ListPage, PageOptions, ResourceClient};
use crate::{pipeline::Pipeline, Error};

/// A client for a list of builds.
#[derive(Clone, Debug)]
pub struct BuildCollectionClient {
    pub(super) res: ResourceClient,
}

impl BuildCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        BuildCollectionClient {
            res: ResourceClient::collection(pipeline, "actor-builds"),
        }
    }

    /// The builds below `res` (`/v2/actors/{id}/builds`).
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        BuildCollectionClient { res }
    }

    /// One page of builds.
    pub async fn list(&self, opts: &PageOptions) -> Result<ListPage<Build>, Error> {
        self.res.list(opts).await
    }

    /// All builds, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &PageOptions) -> ItemStream<Build> {
        self.res.iterate_pages(opts)
    }
}
