//! The user's Actor tasks: `/v2/actor-tasks`.

use std::sync::Arc;

use serde::Serialize;

use super::{base::NoParams, ItemStream, ListPage, PageOptions, ResourceClient, Task};
use crate::{pipeline::Pipeline, Error};

/// A client for the user's tasks.
#[derive(Clone, Debug)]
pub struct TaskCollectionClient {
    pub(super) res: ResourceClient,
}

impl TaskCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        TaskCollectionClient {
            res: ResourceClient::collection(pipeline, "actor-tasks"),
        }
    }

    /// One page of tasks.
    pub async fn list(&self, opts: &PageOptions) -> Result<ListPage<Task>, Error> {
        self.res.list(opts).await
    }

    /// All tasks, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &PageOptions) -> ItemStream<Task> {
        self.res.iterate_pages(opts)
    }

    /// Creates a task from `fields` (the API's names: `actId`, `name`, `input`, `options`, ...).
    pub async fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<Task, Error> {
        self.res.create(Some(fields), &NoParams {}).await
    }
}
