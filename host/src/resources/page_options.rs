//! The options of the plain collection listings (`limit`, `offset`, `desc`): schedules,
//! webhooks and webhook dispatches. Kept out of `base/` (another engineer's file) on purpose.

use serde::Serialize;

use super::{ItemStream, ListPage, Paging, ResourceClient};
use crate::Error;

/// Options of `list` / `iterate` for schedules, webhooks and webhook dispatches.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageOptions {
    /// At most this many items (one page for `list`, overall for `iterate`).
    pub limit: Option<u64>,
    /// Skip this many items first.
    pub offset: Option<u64>,
    /// Newest first.
    pub desc: Option<bool>,
    /// Items per request of `iterate` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

impl PageOptions {
    /// One page of `res` with these options.
    pub(crate) async fn list<T: serde::de::DeserializeOwned>(
        &self,
        res: &ResourceClient,
    ) -> Result<ListPage<T>, Error> {
        res.list(self).await
    }

    /// Every item of `res` with these options, page by page as the stream is consumed.
    pub(crate) fn iterate<T: serde::de::DeserializeOwned + Send + 'static>(
        self,
        res: &ResourceClient,
    ) -> ItemStream<T> {
        let paging = Paging {
            limit: self.limit,
            chunk_size: self.chunk_size,
        };
        let desc = self.desc;
        res.iterate(self.offset, paging, move |offset, limit| PageOptions {
            limit: Some(limit),
            offset: Some(offset),
            desc,
            chunk_size: None,
        })
    }
}

/// No query options (a `POST` whose parameters are all in the body).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct NoOptions {}
