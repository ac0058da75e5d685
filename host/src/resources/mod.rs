//! Resource clients: one file per API resource.
//!
//! Each client is a cheap handle (a clone of the [`ApifyClient`] plus the resource's encoded
//! path) with the methods of the Python `apify-client` resource clients, in `async` form:
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! use futures_util::TryStreamExt;
//! use apify_host::resources::ListItemsOptions;
//!
//! let client = apify_host::ApifyClient::new("my-token")?;
//! let dataset = client.datasets().get_or_create(Some("my-results"), None).await?;
//! client.dataset(&dataset.id).push_items(&serde_json::json!([{"url": "https://a.example"}])).await?;
//! let mut items = client.dataset(&dataset.id).iterate_items::<serde_json::Value>(ListItemsOptions::default());
//! while let Some(item) = items.try_next().await? {
//!     println!("{item}");
//! }
//! # Ok(()) }
//! ```
//!
//! Conventions, as in the Python client:
//! - `get`-like calls answer `Ok(None)` for a 404 `record-not-found`, `delete` is then a no-op;
//! - `list_*` return one page, `iterate_*` return a [`futures_util::Stream`] that fetches page
//!   after page as it is consumed;
//! - `stream_*` return the body as a [`ByteStream`], never buffered as a whole;
//! - models keep the fields the API sends that they do not name in `extra`.

mod dataset;
mod dataset_collection;
mod key_value_store;
mod key_value_store_collection;
mod log;
mod request_queue;
mod request_queue_collection;
mod user;

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};
use http::Method;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{
    error::not_found_as_none,
    http::{ApiRequest, ApiResponse, ByteStream, TimeoutTier},
    ApifyClient, Error,
};

pub use dataset::{
    Dataset, DatasetClient, DatasetStatistics, DownloadItemsOptions, ListItemsOptions,
};
pub use dataset_collection::DatasetCollectionClient;
pub use key_value_store::{
    KeyValueStore, KeyValueStoreClient, KeyValueStoreKey, ListKeysOptions, ListOfKeys, Record,
    RecordBytes, RecordStream, RecordValue,
};
pub use key_value_store_collection::KeyValueStoreCollectionClient;
pub use log::LogClient;
pub use request_queue::{
    BatchAddOptions, BatchOperationResult, ListOfRequests, ListRequestsOptions,
    LockedRequestQueueHead, ProcessedRequest, QueueRequest, RequestLockInfo, RequestOperationInfo,
    RequestQueue, RequestQueueClient, RequestQueueHead, UnlockRequestsResult, UnprocessedRequest,
};
pub use request_queue_collection::RequestQueueCollectionClient;
pub use user::{User, UserClient};

/// A stream of items fetched page by page; it ends after the last page or at the first error.
pub type ItemStream<T> = BoxStream<'static, Result<T, Error>>;

/// One page of a list, as the API's `{total, count, offset, limit, desc, items}` bodies (and,
/// for dataset items, the `X-Apify-Pagination-*` headers) describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items exist in total (for dataset items, this count may lag behind writes).
    #[serde(default)]
    pub total: u64,
    /// The position of the first item of this page.
    #[serde(default)]
    pub offset: u64,
    /// How many items this page holds.
    #[serde(default)]
    pub count: u64,
    /// The page size the API applied (very large when there was no limit).
    #[serde(default)]
    pub limit: u64,
    /// Whether the order is descending.
    #[serde(default)]
    pub desc: bool,
}

/// Options of collection listings (`GET /v2/datasets`, `/v2/key-value-stores`,
/// `/v2/request-queues`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOptions {
    /// Include unnamed storages (by default only named ones are listed).
    pub unnamed: Option<bool>,
    /// At most this many items (one page for `list`, overall for `iterate`).
    pub limit: Option<u64>,
    /// Skip this many items first.
    pub offset: Option<u64>,
    /// Sort by creation time, newest first.
    pub desc: Option<bool>,
    /// `ownedByMe` or `sharedWithMe`.
    pub ownership: Option<String>,
}

/// Fields of a storage to change with `update` (absent fields stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageUpdate {
    /// The new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who can access the storage: `FOLLOW_USER_SETTING`, `RESTRICTED` or
    /// `ANYONE_WITH_ID_CAN_READ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub general_access: Option<String>,
}

/// A streamed response body with what the headers say about it.
pub struct StreamedBody {
    /// The `Content-Type` of the body, if sent.
    pub content_type: Option<String>,
    /// The body's length, when the server announced it and the body is not re-encoded.
    pub content_length: Option<u64>,
    /// The body, chunk by chunk.
    pub body: ByteStream,
}

impl std::fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBody")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl StreamedBody {
    /// Takes the head information from `response` and keeps its body unread.
    pub fn from_response(response: ApiResponse) -> Self {
        let content_type = response.header("content-type").map(str::to_string);
        // A length is only meaningful for progress when the bytes arrive as announced.
        let content_length = if response.header("content-encoding").is_some() {
            None
        } else {
            response
                .header("content-length")
                .and_then(|v| v.trim().parse().ok())
        };
        StreamedBody {
            content_type,
            content_length,
            body: response.into_stream(),
        }
    }

    /// The body stream alone.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }
}

impl Stream for StreamedBody {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// The part every resource client shares: the client and the resource's encoded path.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    pub(crate) client: ApifyClient,
    /// Encoded path, e.g. `/v2/datasets/abc`.
    pub(crate) path: String,
}

impl Resource {
    /// `/v2/{collection}`.
    pub(crate) fn collection(client: &ApifyClient, collection: &str) -> Self {
        Resource {
            client: client.clone(),
            path: ApiRequest::new(Method::GET, "/v2").segment(collection).path,
        }
    }

    /// `/v2/{collection}/{id}`, with `/` in the id turned into `~` (`username~name`).
    pub(crate) fn item(client: &ApifyClient, collection: &str, id: &str) -> Self {
        Resource {
            client: client.clone(),
            path: ApiRequest::new(Method::GET, "/v2")
                .segment(collection)
                .id(id)
                .path,
        }
    }

    /// A request for the resource itself.
    pub(crate) fn request(&self, method: Method) -> ApiRequest {
        ApiRequest::new(method, self.path.clone())
    }

    /// A request for a sub-path, e.g. `sub(GET, &["records", key])`; each part is encoded as
    /// one segment.
    pub(crate) fn sub(&self, method: Method, parts: &[&str]) -> ApiRequest {
        parts
            .iter()
            .fold(self.request(method), |req, part| req.segment(part))
    }

    /// Sends `req` and returns the 2xx response.
    pub(crate) async fn call(&self, req: ApiRequest) -> Result<ApiResponse, Error> {
        self.client.pipeline().call(req).await
    }

    /// Sends `req` and parses `{"data": ...}`.
    pub(crate) async fn data<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T, Error> {
        self.call(req).await?.data().await
    }

    /// `GET` the resource; `None` when it does not exist.
    pub(crate) async fn get<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let req = self.request(Method::GET).timeout(TimeoutTier::Short);
        not_found_as_none(self.data(req).await)
    }

    /// `PUT` fields of the resource; answers the updated resource.
    pub(crate) async fn update<T: DeserializeOwned>(
        &self,
        fields: &StorageUpdate,
        tier: TimeoutTier,
    ) -> Result<T, Error> {
        let req = self.request(Method::PUT).json(fields)?.timeout(tier);
        self.data(req).await
    }

    /// `DELETE` the resource; a resource that does not exist is not an error.
    pub(crate) async fn delete(&self) -> Result<(), Error> {
        let req = self.request(Method::DELETE).timeout(TimeoutTier::Short);
        not_found_as_none(self.drain(req).await).map(|_| ())
    }

    /// Sends `req` and reads (then drops) the body, so the connection can be reused.
    pub(crate) async fn drain(&self, req: ApiRequest) -> Result<(), Error> {
        self.call(req).await?.bytes().await.map(|_| ())
    }

    /// `GET /v2/{collection}` with the listing options: one page.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        opts: &ListOptions,
    ) -> Result<ListPage<T>, Error> {
        let req = self
            .request(Method::GET)
            .query("unnamed", opts.unnamed)
            .query("limit", opts.limit)
            .query("offset", opts.offset)
            .query("desc", opts.desc)
            .query("ownership", opts.ownership.clone())
            .timeout(TimeoutTier::Medium);
        self.data(req).await
    }

    /// All items of a collection listing, page by page (1000 per page, as the API caps it).
    pub(crate) fn iterate<T: DeserializeOwned + Send + 'static>(
        &self,
        opts: ListOptions,
    ) -> ItemStream<T> {
        let this = self.clone();
        let start = opts.offset.unwrap_or(0);
        paginate((start, 0u64), move |(offset, read)| {
            let this = this.clone();
            let opts = opts.clone();
            async move {
                let Some(page_limit) = next_page_limit(opts.limit, read) else {
                    return Ok((Vec::new(), None));
                };
                let page_opts = ListOptions {
                    limit: Some(page_limit),
                    offset: Some(offset),
                    ..opts
                };
                let page: ListPage<T> = this.list(&page_opts).await?;
                let n = page.items.len() as u64;
                let next_offset = offset + n;
                // A total of 0 with items means the server did not say; go on until a short page.
                let done = n == 0
                    || n < page_limit.min(page.limit.max(1))
                    || (page.total > 0 && next_offset >= page.total);
                let next = (!done).then_some((next_offset, read + n));
                Ok((page.items, next))
            }
        })
    }

    /// `POST /v2/{collection}?name=...`: the named storage, created if it does not exist.
    pub(crate) async fn get_or_create<T: DeserializeOwned>(
        &self,
        name: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let mut req = self
            .request(Method::POST)
            .query("name", name)
            .timeout(TimeoutTier::Medium);
        if let Some(body) = body {
            req = req.json(body)?;
        }
        self.data(req).await
    }
}

/// The size of the next page, or `None` when `limit` items were read already.
pub(crate) fn next_page_limit(limit: Option<u64>, read: u64) -> Option<u64> {
    const PAGE: u64 = 1000;
    match limit {
        Some(l) if read >= l => None,
        Some(l) => Some(PAGE.min(l - read)),
        None => Some(PAGE),
    }
}

/// Turns a page fetcher into a stream of items. `fetch(state)` answers one page and the state
/// for the next page, or `None` after the last one. Pages are fetched only as the stream is
/// consumed, so at most one page is held in memory.
pub(crate) fn paginate<S, T, F, Fut>(init: S, fetch: F) -> ItemStream<T>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<S>), Error>> + Send + 'static,
{
    futures_util::stream::try_unfold((Some(init), fetch), |(state, mut fetch)| async move {
        let Some(state) = state else {
            return Ok::<_, Error>(None);
        };
        let (items, next) = fetch(state).await?;
        Ok(Some((items, (next, fetch))))
    })
    .map_ok(|items| futures_util::stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

impl ApifyClient {
    /// The dataset collection (`/v2/datasets`): list, iterate, get or create.
    pub fn datasets(&self) -> DatasetCollectionClient {
        DatasetCollectionClient::new(self)
    }

    /// One dataset, by id or `username~name` (`username/name` works too).
    pub fn dataset(&self, id: &str) -> DatasetClient {
        DatasetClient::new(self, id)
    }

    /// The key-value store collection (`/v2/key-value-stores`).
    pub fn key_value_stores(&self) -> KeyValueStoreCollectionClient {
        KeyValueStoreCollectionClient::new(self)
    }

    /// One key-value store, by id or `username~name`.
    pub fn key_value_store(&self, id: &str) -> KeyValueStoreClient {
        KeyValueStoreClient::new(self, id)
    }

    /// The request queue collection (`/v2/request-queues`).
    pub fn request_queues(&self) -> RequestQueueCollectionClient {
        RequestQueueCollectionClient::new(self)
    }

    /// One request queue, by id or `username~name`. Use
    /// [`RequestQueueClient::with_client_key`] to lock requests under a client key.
    pub fn request_queue(&self, id: &str) -> RequestQueueClient {
        RequestQueueClient::new(self, id)
    }

    /// A user: `None` is the owner of the token (`/v2/users/me`).
    pub fn user(&self, id: Option<&str>) -> UserClient {
        UserClient::new(self, id)
    }

    /// The log of an Actor run or build.
    pub fn log(&self, id: &str) -> LogClient {
        LogClient::new(self, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits() {
        assert_eq!(next_page_limit(None, 5000), Some(1000));
        assert_eq!(next_page_limit(Some(2500), 2000), Some(500));
        assert_eq!(next_page_limit(Some(2500), 2500), None);
    }

    #[test]
    fn paths_are_encoded() {
        let c = ApifyClient::builder().build().unwrap();
        assert_eq!(
            Resource::item(&c, "datasets", "me/my ds").path,
            "/v2/datasets/me~my%20ds"
        );
        let r = Resource::item(&c, "key-value-stores", "s");
        assert_eq!(
            r.sub(Method::GET, &["records", "a/b"]).path,
            "/v2/key-value-stores/s/records/a%2Fb"
        );
    }
}
