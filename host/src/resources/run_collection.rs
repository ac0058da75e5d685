//! A list of runs: every run of the user (`/v2/actor-runs`), or of one Actor or task
//! (`…/runs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    base::{datetime_ms, options_setters},
    ActorJobStatus, ItemStream, ListPage, Paging, ResourceClient, Run,
};
use crate::{pipeline::Pipeline, Error};

/// Which runs to list, and how.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, models::ActorJobStatus, options::ListRunsOptions};
///
/// let opts = ListRunsOptions::new()
///     .status([ActorJobStatus::Failed, ActorJobStatus::TimedOut])
///     .desc(true)
///     .limit(20);
/// let page = client.runs().list(&opts).await?;
/// println!("{} failed runs", page.total);
/// let mut runs = client.actor("apify/hello-world").runs().iterate(&opts);
/// while let Some(run) = runs.try_next().await? {
///     println!("{} {}", run.id, run.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListRunsOptions {
    /// Only runs with one of these statuses (none: every status).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<ActorJobStatus>,
    /// Only runs started before this time.
    #[serde(serialize_with = "datetime_ms")]
    pub started_before: Option<DateTime<Utc>>,
    /// Only runs started after this time.
    #[serde(serialize_with = "datetime_ms")]
    pub started_after: Option<DateTime<Utc>>,
    /// At most this many runs (one page for `list`, overall for `iterate`).
    pub limit: Option<u64>,
    /// Skip this many runs first.
    pub offset: Option<u64>,
    /// Newest first.
    pub desc: Option<bool>,
    /// Runs per request of `iterate` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ListRunsOptions {
        /// only runs with one of these statuses (`ActorJobStatus` values or their names).
        status: Vec<ActorJobStatus>,
        /// only runs started before this time.
        started_before: Option<DateTime<Utc>>,
        /// only runs started after this time.
        started_after: Option<DateTime<Utc>>,
        /// at most this many runs (one page for `list`, overall for `iterate`).
        limit: Option<u64>,
        /// skip this many runs first.
        offset: Option<u64>,
        /// newest first.
        desc: Option<bool>,
        /// runs per request of `iterate` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// A client for a list of runs.
#[derive(Clone, Debug)]
pub struct RunCollectionClient {
    pub(super) res: ResourceClient,
}

impl RunCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        RunCollectionClient {
            res: ResourceClient::collection(pipeline, "actor-runs"),
        }
    }

    /// The runs below `res` (`/v2/actors/{id}/runs`, `/v2/actor-tasks/{id}/runs`).
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        RunCollectionClient { res }
    }

    /// One page of runs.
    pub async fn list(&self, opts: &ListRunsOptions) -> Result<ListPage<Run>, Error> {
        self.res.list(opts).await
    }

    /// All runs matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &ListRunsOptions) -> ItemStream<Run> {
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        self.res.iterate(opts.offset, paging, move |offset, limit| {
            opts.clone().offset(offset).limit(limit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::to_params;
    use chrono::TimeZone;

    #[test]
    fn list_runs_options_become_parameters() {
        let opts = ListRunsOptions {
            status: vec![ActorJobStatus::Succeeded, ActorJobStatus::TimedOut],
            started_before: Some(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()),
            started_after: None,
            limit: Some(10),
            offset: Some(20),
            desc: Some(true),
            chunk_size: Some(3),
        };
        let got: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let want = [
            ("status", "SUCCEEDED,TIMED-OUT"),
            ("startedBefore", "2024-01-02T03:04:05.000Z"),
            ("limit", "10"),
            ("offset", "20"),
            ("desc", "true"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_deref()), (wk, Some(wv)));
        }
    }
}
