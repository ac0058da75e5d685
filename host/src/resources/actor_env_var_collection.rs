//! The environment variables of an Actor version:
//! `/v2/actors/{actorId}/versions/{versionNumber}/env-vars`.

use super::{base::NoParams, EnvVar, ListPage, ResourceClient};
use crate::Error;

/// A client for the environment variables of one Actor version.
#[derive(Clone, Debug)]
pub struct ActorEnvVarCollectionClient {
    pub(super) res: ResourceClient,
}

impl ActorEnvVarCollectionClient {
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        ActorEnvVarCollectionClient { res }
    }

    /// Every variable of the version (the API does not page them).
    pub async fn list(&self) -> Result<ListPage<EnvVar>, Error> {
        self.res.list(&NoParams {}).await
    }

    /// Every environment variable as a stream (one request: the API does not page them), as the Python
    /// client's `iterate`.
    pub fn iterate(&self) -> super::ItemStream<EnvVar> {
        self.res.iterate_unpaged()
    }

    /// Creates the variable `var`.
    pub async fn create(&self, var: &EnvVar) -> Result<EnvVar, Error> {
        self.res.create(Some(var), &NoParams {}).await
    }
}
