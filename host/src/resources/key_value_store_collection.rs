//! The key-value store collection: `/v2/key-value-stores`.

use super::{ItemStream, KeyValueStore, ListOptions, ListPage, ResourceClient};
use std::sync::Arc;

use crate::{pipeline::Pipeline, Error};

/// A client for the key-value stores of the token's user.
#[derive(Clone, Debug)]
pub struct KeyValueStoreCollectionClient {
    pub(super) res: ResourceClient,
}

impl KeyValueStoreCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        KeyValueStoreCollectionClient {
            res: ResourceClient::collection(pipeline, "key-value-stores"),
        }
    }

    /// One page of key-value stores (named only, unless `opts.unnamed`).
    pub async fn list(&self, opts: &ListOptions) -> Result<ListPage<KeyValueStore>, Error> {
        self.res.list(opts).await
    }

    /// All key-value stores matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &ListOptions) -> ItemStream<KeyValueStore> {
        self.res.iterate_list(opts)
    }

    /// The key-value store called `name`, created if it does not exist; with no name, a new unnamed
    /// key-value store. `schema` is the key-value store schema to create it with.
    pub async fn get_or_create(
        &self,
        name: Option<&str>,
        schema: Option<&serde_json::Value>,
    ) -> Result<KeyValueStore, Error> {
        let body = schema.map(|s| serde_json::json!({ "schema": s }));
        self.res.get_or_create(name, body.as_ref()).await
    }
}
