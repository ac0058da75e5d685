//! The user's Actors: `/v2/actors`.

use std::sync::Arc;

use serde::Serialize;

use super::{
    base::{options_setters, NoParams},
    Actor, ItemStream, ListPage, Paging, ResourceClient,
};
use crate::{pipeline::Pipeline, Error};

/// Which Actors to list, and how.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::ActorListOptions};
///
/// let opts = ActorListOptions::new().my(true).sort_by("stats.lastRunStartedAt").desc(true);
/// let page = client.actors().list(&opts).await?;
/// println!("{} Actors", page.total);
/// let mut actors = client.actors().iterate(&opts.limit(50));
/// while let Some(actor) = actors.try_next().await? {
///     println!("{}", actor.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorListOptions {
    /// Only the Actors the user owns (by default also those the user ran).
    pub my: Option<bool>,
    /// At most this many Actors (one page for `list`, overall for `iterate`).
    pub limit: Option<u64>,
    /// Skip this many Actors first.
    pub offset: Option<u64>,
    /// Newest first.
    pub desc: Option<bool>,
    /// Sort by `createdAt` or `stats.lastRunStartedAt` (the API's default: `createdAt`).
    pub sort_by: Option<String>,
    /// Actors per request of `iterate` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ActorListOptions {
        /// only the Actors the user owns.
        my: Option<bool>,
        /// at most this many Actors (one page for `list`, overall for `iterate`).
        limit: Option<u64>,
        /// skip this many Actors first.
        offset: Option<u64>,
        /// newest first.
        desc: Option<bool>,
        /// sort by `createdAt` or `stats.lastRunStartedAt`.
        sort_by: Option<String>,
        /// Actors per request of `iterate` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// A client for the user's Actors.
#[derive(Clone, Debug)]
pub struct ActorCollectionClient {
    pub(super) res: ResourceClient,
}

impl ActorCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        ActorCollectionClient {
            res: ResourceClient::collection(pipeline, "actors"),
        }
    }

    /// One page of Actors.
    pub async fn list(&self, opts: &ActorListOptions) -> Result<ListPage<Actor>, Error> {
        self.res.list(opts).await
    }

    /// All Actors matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &ActorListOptions) -> ItemStream<Actor> {
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        self.res.iterate(opts.offset, paging, move |offset, limit| {
            opts.clone().offset(offset).limit(limit)
        })
    }

    /// Creates an Actor from `fields` (the API's names: `name`, `versions`,
    /// `defaultRunOptions`, ...).
    pub async fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<Actor, Error> {
        self.res.create(Some(fields), &NoParams {}).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::to_params;

    #[test]
    fn actor_list_options_become_parameters() {
        let opts = ActorListOptions::new()
            .my(true)
            .limit(5)
            .offset(1)
            .desc(false)
            .sort_by("stats.lastRunStartedAt")
            .chunk_size(2);
        let got: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let want = [
            ("my", "true"),
            ("limit", "5"),
            ("offset", "1"),
            ("desc", "false"),
            ("sortBy", "stats.lastRunStartedAt"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_deref()), (wk, Some(wv)));
        }
    }
}
