//! The schedule collection: `/v2/schedules`.

use std::sync::Arc;

use super::{
    base::NoParams, ItemStream, ListPage, PageOptions, ResourceClient, Schedule, ScheduleFields,
};
use crate::{pipeline::Pipeline, Error};

/// A client for the schedules of the token's user.
#[derive(Clone, Debug)]
pub struct ScheduleCollectionClient {
    pub(super) res: ResourceClient,
}

impl ScheduleCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        ScheduleCollectionClient {
            res: ResourceClient::collection(pipeline, "schedules"),
        }
    }

    /// One page of schedules.
    pub async fn list(&self, opts: &PageOptions) -> Result<ListPage<Schedule>, Error> {
        self.res.list(&opts).await
    }

    /// All schedules matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &PageOptions) -> ItemStream<Schedule> {
        self.res.iterate_pages(opts)
    }

    /// Creates a schedule. The API needs `cron_expression`, `is_enabled` and `is_exclusive`:
    /// a missing one is refused here, before any request.
    pub async fn create(&self, fields: &ScheduleFields) -> Result<Schedule, Error> {
        for (missing, name) in [
            (fields.cron_expression.is_none(), "cron_expression"),
            (fields.is_enabled.is_none(), "is_enabled"),
            (fields.is_exclusive.is_none(), "is_exclusive"),
        ] {
            if missing {
                return Err(Error::invalid_input(format!(
                    "a new schedule needs {name}: set ScheduleFields::{name}"
                )));
            }
        }
        self.res.create(Some(fields), &NoParams {}).await
    }
}
