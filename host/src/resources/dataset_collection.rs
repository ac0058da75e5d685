//! The dataset collection: `/v2/datasets`.

use super::{Dataset, ItemStream, ListOptions, ListPage, ResourceClient};
use std::sync::Arc;

use crate::{pipeline::Pipeline, Error};

/// A client for the datasets of the token's user.
#[derive(Clone, Debug)]
pub struct DatasetCollectionClient {
    pub(super) res: ResourceClient,
}

impl DatasetCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        DatasetCollectionClient {
            res: ResourceClient::collection(pipeline, "datasets"),
        }
    }

    /// One page of datasets (named only, unless `opts.unnamed`).
    pub async fn list(&self, opts: &ListOptions) -> Result<ListPage<Dataset>, Error> {
        self.res.list(opts).await
    }

    /// All datasets matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &ListOptions) -> ItemStream<Dataset> {
        self.res.iterate_list(opts)
    }

    /// The dataset called `name`, created if it does not exist; with no name, a new unnamed
    /// dataset. `schema` is the dataset schema to create it with.
    pub async fn get_or_create(
        &self,
        name: Option<&str>,
        schema: Option<&serde_json::Value>,
    ) -> Result<Dataset, Error> {
        let body = schema.map(|s| serde_json::json!({ "schema": s }));
        self.res.get_or_create(name, body.as_ref()).await
    }
}
