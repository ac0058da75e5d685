//! The Apify Store: `/v2/store`.

use std::sync::Arc;

use serde::Serialize;

use super::{base::options_setters, ItemStream, ListPage, Paging, ResourceClient};
use crate::{pipeline::Pipeline, Error};

/// An Actor as the Store lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoreListActor {
    /// The Actor id.
    pub id: String,
    /// The title.
    pub title: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The owner's username (`username/name` addresses the Actor).
    pub username: Option<String>,
    /// The owner's full name.
    pub user_full_name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The Store categories.
    pub categories: Vec<String>,
    /// The picture's URL.
    pub picture_url: Option<String>,
    /// The Store page's URL.
    pub url: Option<String>,
    /// Usage statistics (`totalUsers`, `totalRuns`, ...).
    pub stats: Option<serde_json::Value>,
    /// The current pricing (`pricingModel`, ...).
    pub current_pricing_info: Option<serde_json::Value>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    StoreListActor {
        required: id;
        optional: title, name, username, user_full_name, description, categories, picture_url, url, stats, current_pricing_info
    }
}

/// Which Store Actors `list` / `iterate` read.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::StoreListOptions};
///
/// let opts = StoreListOptions::new().search("crawler").sort_by("popularity").limit(10);
/// let page = client.store().list(&opts).await?;
/// println!("{} matching Actors", page.total);
/// let mut actors = client.store().iterate(&opts);
/// while let Some(actor) = actors.try_next().await? {
///     println!("{:?}/{:?}", actor.username, actor.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoreListOptions {
    /// At most this many Actors (one page for `list`, overall for `iterate`).
    pub limit: Option<u64>,
    /// Skip this many first.
    pub offset: Option<u64>,
    /// Search in title, name, description, username and readme.
    pub search: Option<String>,
    /// Sort by `relevance`, `popularity`, `newest` or `lastUpdate`.
    pub sort_by: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this owner's Actors.
    pub username: Option<String>,
    /// Only this pricing model (`FREE`, `FLAT_PRICE_PER_MONTH`, `PRICE_PER_DATASET_ITEM`,
    /// `PAY_PER_EVENT`).
    pub pricing_model: Option<String>,
    /// Items per request of `iterate` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    StoreListOptions {
        /// at most this many Actors (one page for `list`, overall for `iterate`).
        limit: Option<u64>,
        /// skip this many first.
        offset: Option<u64>,
        /// search in title, name, description, username and readme.
        search: Option<String>,
        /// sort by `relevance`, `popularity`, `newest` or `lastUpdate`.
        sort_by: Option<String>,
        /// only this category.
        category: Option<String>,
        /// only this owner's Actors.
        username: Option<String>,
        /// only this pricing model (`FREE`, `FLAT_PRICE_PER_MONTH`, `PRICE_PER_DATASET_ITEM`,
        /// `PAY_PER_EVENT`).
        pricing_model: Option<String>,
        /// items per request of `iterate` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// A client for the Apify Store's Actor list.
#[derive(Clone, Debug)]
pub struct StoreCollectionClient {
    pub(super) res: ResourceClient,
}

impl StoreCollectionClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>) -> Self {
        StoreCollectionClient {
            res: ResourceClient::collection(pipeline, "store"),
        }
    }

    /// One page of Store Actors.
    pub async fn list(&self, opts: &StoreListOptions) -> Result<ListPage<StoreListActor>, Error> {
        self.res.list(opts).await
    }

    /// All Store Actors matching `opts`, fetched page by page as the stream is consumed.
    pub fn iterate(&self, opts: &StoreListOptions) -> ItemStream<StoreListActor> {
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        self.res.iterate(opts.offset, paging, move |offset, limit| {
            opts.clone().limit(limit).offset(offset)
        })
    }
}
