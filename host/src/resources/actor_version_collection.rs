//! The versions of an Actor: `/v2/actors/{actorId}/versions`.

use serde::Serialize;

use super::{base::NoParams, ActorVersion, ListPage, ResourceClient};
use crate::Error;

/// A client for the versions of one Actor.
#[derive(Clone, Debug)]
pub struct ActorVersionCollectionClient {
    pub(super) res: ResourceClient,
}

impl ActorVersionCollectionClient {
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        ActorVersionCollectionClient { res }
    }

    /// Every version of the Actor (the API does not page them).
    pub async fn list(&self) -> Result<ListPage<ActorVersion>, Error> {
        self.res.list(&NoParams {}).await
    }

    /// Every version as a stream (one request: the API does not page them), as the Python
    /// client's `iterate`.
    pub fn iterate(&self) -> super::ItemStream<ActorVersion> {
        self.res.iterate_unpaged()
    }

    /// Creates a version from `fields` (the API's names: `versionNumber`, `sourceType`, ...).
    pub async fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<ActorVersion, Error> {
        self.res.create(Some(fields), &NoParams {}).await
    }
}
