//! The base every resource client is built on, as the Python client's `ResourceClient`:
//! a path relative to its parent, default query parameters that flow down to children, the
//! generic get / update / delete / create / list, the paginators, `wait_for_finish`, and a
//! per-call timeout override. A resource client is then only what is specific to it.

mod items;
mod job;
mod model;
mod options;
mod pagination;
mod query;
mod wait;

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_core::Stream;
use http::Method;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub(crate) use items::ArrayItems;
pub(crate) use job::duration_secs;
pub(crate) use job::to_run_input;
pub use job::{ActorJobStatus, AdHocWebhook, RunInput, StartOptions, ToRunInput};
pub use model::Extra;
pub(crate) use model::{deserialize_with_extra, serialize_timestamp, ExtraBuilder, KeySeed};
pub(crate) use options::options_setters;
pub use pagination::ItemStream;
pub(crate) use pagination::{by_cursor, by_offset, Paging};
pub(crate) use query::datetime_ms;
#[cfg(test)]
pub(crate) use query::to_params;

use crate::{
    error::not_found_as_none,
    pipeline::{ApiRequest, ApiResponse, ByteStream, ParamValue, Pipeline, TimeoutTier},
    Error,
};

/// One page of a list, as the API's `{total, count, offset, limit, desc, items}` bodies (and,
/// for dataset items, the `X-Apify-Pagination-*` headers) describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::ListOptions};
///
/// let opts = ListOptions::new().unnamed(true).desc(true).limit(20);
/// let page = client.datasets().list(&opts).await?;
/// println!("{} of {} datasets", page.count, page.total);
/// let mut stores = client.key_value_stores().iterate(&ListOptions::new().ownership("ownedByMe"));
/// while let Some(store) = stores.try_next().await? {
///     println!("{}", store.id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
    /// Items per request of `iterate` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ListOptions {
        /// include unnamed storages too.
        unnamed: Option<bool>,
        /// at most this many items (one page for `list`, overall for `iterate`).
        limit: Option<u64>,
        /// skip this many items first.
        offset: Option<u64>,
        /// newest first.
        desc: Option<bool>,
        /// `ownedByMe` or `sharedWithMe`.
        ownership: Option<String>,
        /// items per request of `iterate` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// Paging of the listings that have no other filter (builds, tasks, schedules, webhooks,
/// webhook dispatches).
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::PageOptions};
///
/// let opts = PageOptions::new().desc(true).limit(10);
/// let builds = client.actor("apify/hello-world").builds().list(&opts).await?;
/// println!("{} builds", builds.items.len());
/// let mut tasks = client.tasks().iterate(&PageOptions::new().chunk_size(100));
/// while let Some(task) = tasks.try_next().await? {
///     println!("{}", task.id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

options_setters! {
    PageOptions {
        /// at most this many items (one page for `list`, overall for `iterate`).
        limit: Option<u64>,
        /// skip this many items first.
        offset: Option<u64>,
        /// newest first.
        desc: Option<bool>,
        /// items per request of `iterate` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// No query parameters, for the calls that take none.
#[derive(Serialize)]
pub(crate) struct NoParams {}

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
///
/// It is itself a [`Stream`] of `Result<Bytes, Error>` chunks (use it with
/// [`TryStreamExt`](crate::prelude::TryStreamExt) / [`StreamExt`](crate::prelude::StreamExt),
/// re-exported in [`crate::prelude`]), and [`StreamedBody::into_async_read`] makes it a
/// [`tokio::io::AsyncRead`]. The head information is in [`StreamedBody::content_type`] and
/// [`StreamedBody::content_length`].
///
/// ```no_run
/// use apify_host::{prelude::*, options::DownloadItemsOptions};
///
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// let opts = DownloadItemsOptions::new().format("jsonl");
/// let mut items = client.dataset("my-dataset").stream_items(&opts).await?;
/// println!("{:?}, {:?} bytes", items.content_type(), items.content_length());
/// while let Some(chunk) = items.try_next().await? {
///     println!("{} bytes", chunk.len());
/// }
/// # Ok(()) }
/// ```
#[non_exhaustive]
pub struct StreamedBody {
    /// The `Content-Type` of the body, if sent.
    #[deprecated(since = "0.2.0", note = "use the `content_type()` method")]
    pub content_type: Option<String>,
    /// The body's length, when the server announced it and the body is not re-encoded.
    #[deprecated(since = "0.2.0", note = "use the `content_length()` method")]
    pub content_length: Option<u64>,
    /// The body, chunk by chunk. The `StreamedBody` is itself the same [`Stream`]: poll it
    /// directly, or take this with [`StreamedBody::into_stream`].
    #[deprecated(
        since = "0.2.0",
        note = "poll the `StreamedBody` itself, or use `into_stream()`"
    )]
    pub body: ByteStream,
}

// The deprecated fields are still the storage; only callers outside are steered to the methods.
#[allow(deprecated)]
impl std::fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBody")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

#[allow(deprecated)]
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

    /// The `Content-Type` of the body, if sent.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The body's length, when the server announced it and the body is not re-encoded (so
    /// it is the number of bytes the stream yields).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The body stream alone.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }

    /// The body as a [`tokio::io::AsyncRead`] (see [`ByteStream::into_async_read`]).
    ///
    /// ```no_run
    /// # async fn demo(client: apify_host::ApifyClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let opts = apify_host::options::DownloadItemsOptions::new();
    /// let items = client.dataset("my-dataset").stream_items(&opts).await?;
    /// let mut file = tokio::fs::File::create("items.json").await?;
    /// tokio::io::copy(&mut items.into_async_read(), &mut file).await?;
    /// # Ok(()) }
    /// ```
    pub fn into_async_read(self) -> impl tokio::io::AsyncRead + Send + Unpin {
        self.body.into_async_read()
    }
}

#[allow(deprecated)]
impl Stream for StreamedBody {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// The part of a resource client's API that every client shares, written once: the per-call
/// timeout override. The client must hold its [`ResourceClient`] in a field named `res`.
macro_rules! resource_client {
    ($($client:ident),* $(,)?) => {$(
        // Every resource client can be handed to another thread or task (checked here, where
        // the clients are listed, rather than in a second list).
        const _: () = {
            const fn assert_send_sync<T: Send + Sync>() {}
            assert_send_sync::<$client>()
        };

        impl $client {
            /// The same client, each of whose calls waits at most `timeout` for an attempt
            /// (doubling per retry up to the settings' `timeout_max`) instead of the call's
            /// usual tier. Calls that wait on purpose (`wait_for_finish`) keep their own limit.
            pub fn with_timeout(&self, timeout: std::time::Duration) -> Self {
                let mut c = self.clone();
                c.res = c.res.with_timeout(timeout);
                c
            }

            /// The same client, each of whose calls (and streamed bodies, and those of its
            /// child clients) ends at once when `abort` is aborted: see
            /// [`crate::pipeline::AbortHandle`].
            pub fn with_abort(&self, abort: &crate::pipeline::AbortHandle) -> Self {
                let mut c = self.clone();
                c.res = c.res.with_abort(abort);
                c
            }
        }
    )*};
}
pub(crate) use resource_client;

/// What every resource client holds: the pipeline, the resource's encoded path, the default
/// query parameters every call (and every child resource) sends, and an optional timeout that
/// overrides the tier of each call.
#[derive(Clone, Debug)]
pub(crate) struct ResourceClient {
    pipeline: Arc<Pipeline>,
    /// Encoded path, e.g. `/v2/actor-runs/abc`.
    path: String,
    /// Sent with every call of this resource and of its children (e.g. `status` of a
    /// `last_run`).
    params: Vec<(String, ParamValue)>,
    timeout: Option<Duration>,
    abort: Option<crate::pipeline::AbortHandle>,
}

impl ResourceClient {
    /// `/v2/{collection}`.
    pub(crate) fn collection(pipeline: &Arc<Pipeline>, collection: &str) -> Self {
        ResourceClient {
            pipeline: pipeline.clone(),
            path: ApiRequest::new(Method::GET, "/v2").segment(collection).path,
            params: Vec::new(),
            timeout: None,
            abort: None,
        }
    }

    /// `/v2/{collection}/{id}`, with `/` in the id turned into `~` (`username~name`).
    pub(crate) fn item(pipeline: &Arc<Pipeline>, collection: &str, id: &str) -> Self {
        let mut r = Self::collection(pipeline, collection);
        r.path = ApiRequest::new(Method::GET, r.path).id(id).path;
        r
    }

    /// A child resource below this one (`run.dataset()` → `…/actor-runs/{id}/dataset`): each
    /// part one encoded segment; the default parameters and the timeout flow down.
    pub(crate) fn child(&self, parts: &[&str]) -> Self {
        let mut r = self.clone();
        r.path = parts
            .iter()
            .fold(ApiRequest::new(Method::GET, r.path), |req, p| {
                req.segment(p)
            })
            .path;
        r
    }

    /// The same resource with a default query parameter for every call (and every child).
    pub(crate) fn with_param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.params.push((name.to_string(), value.into()));
        self
    }

    /// The same resource whose calls use `timeout` (doubling per attempt up to the settings'
    /// cap) instead of each call's own tier.
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same resource whose calls end when `abort` is aborted.
    pub(crate) fn with_abort(mut self, abort: &crate::pipeline::AbortHandle) -> Self {
        self.abort = Some(abort.clone());
        self
    }

    /// A request for the resource itself, with the default parameters.
    pub(crate) fn request(&self, method: Method) -> ApiRequest {
        self.params
            .iter()
            .fold(ApiRequest::new(method, self.path.clone()), |req, (k, v)| {
                req.query(k, v.clone())
            })
    }

    /// A request for a sub-path, e.g. `sub(GET, &["records", key])`; each part is encoded as
    /// one segment.
    pub(crate) fn sub(&self, method: Method, parts: &[&str]) -> ApiRequest {
        parts
            .iter()
            .fold(self.request(method), |req, part| req.segment(part))
    }

    /// The pipeline this resource calls through.
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// Sends `req` (with the timeout override, if any) and returns the 2xx response.
    pub(crate) async fn call(&self, req: ApiRequest) -> Result<ApiResponse, Error> {
        let req = match self.timeout {
            Some(d) => req.timeout(TimeoutTier::Custom(d)),
            None => req,
        };
        let req = match &self.abort {
            Some(a) => req.abort_handle(a),
            None => req,
        };
        self.pipeline.call(req).await
    }

    /// Sends `req` and parses `{"data": ...}`.
    pub(crate) async fn data<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T, Error> {
        self.call(req).await?.data().await
    }

    /// Sends `req` and reads (then drops) the body, so the connection can be reused.
    pub(crate) async fn drain(&self, req: ApiRequest) -> Result<(), Error> {
        self.call(req).await?.bytes().await.map(|_| ())
    }

    /// `GET` the resource; `None` when it does not exist.
    pub(crate) async fn get<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let req = self.request(Method::GET).timeout(TimeoutTier::Short);
        not_found_as_none(self.data(req).await)
    }

    /// `PUT` fields of the resource; answers the updated resource.
    pub(crate) async fn update<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        fields: &B,
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

    /// `POST` a new resource to this collection, with optional query options.
    pub(crate) async fn create<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        body: Option<&B>,
        options: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        let mut req = self
            .request(Method::POST)
            .query_all(options)?
            .timeout(TimeoutTier::Medium);
        if let Some(body) = body {
            req = req.json(body)?;
        }
        self.data(req).await
    }

    /// `GET` one page of this collection with `options` as query parameters.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        options: &(impl Serialize + ?Sized),
    ) -> Result<ListPage<T>, Error> {
        let req = self
            .request(Method::GET)
            .query_all(options)?
            .timeout(TimeoutTier::Medium);
        self.data(req).await
    }

    /// Every item of this collection from `offset`, page by page; `page(offset, limit)` makes
    /// each page's options.
    pub(crate) fn iterate<T, O>(
        &self,
        offset: Option<u64>,
        paging: Paging,
        page: impl Fn(u64, u64) -> O + Send + Sync + 'static,
    ) -> ItemStream<T>
    where
        T: DeserializeOwned + Send + 'static,
        O: Serialize + Send + Sync + 'static,
    {
        let this = self.clone();
        by_offset(offset.unwrap_or(0), paging, true, move |offset, limit| {
            let this = this.clone();
            let options = page(offset, limit);
            async move { this.list(&options).await }
        })
    }

    /// Every item of a collection listing (`GET /v2/datasets` and the like).
    pub(crate) fn iterate_list<T: DeserializeOwned + Send + 'static>(
        &self,
        opts: &ListOptions,
    ) -> ItemStream<T> {
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        self.iterate(opts.offset, paging, move |offset, limit| {
            opts.clone().offset(offset).limit(limit)
        })
    }

    /// Every item of a listing the API does not page (one request), as a stream like the
    /// paged ones.
    pub(crate) fn iterate_unpaged<T: DeserializeOwned + Send + 'static>(&self) -> ItemStream<T> {
        use futures_util::{StreamExt, TryStreamExt};
        let this = self.clone();
        futures_util::stream::once(async move { this.list::<T>(&NoParams {}).await })
            .map_ok(|page| futures_util::stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// Every item of a listing paged by [`PageOptions`].
    pub(crate) fn iterate_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        opts: &PageOptions,
    ) -> ItemStream<T> {
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        self.iterate(opts.offset, paging, move |offset, limit| {
            opts.clone().offset(offset).limit(limit)
        })
    }

    /// `POST /v2/{collection}?name=...`: the named resource, created if it does not exist.
    pub(crate) async fn get_or_create<T: DeserializeOwned>(
        &self,
        name: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        #[derive(Serialize)]
        struct Name<'a> {
            name: Option<&'a str>,
        }
        self.create(body, &Name { name }).await
    }

    /// Waits until the job (a run or a build) has a terminal status, or `wait` has passed;
    /// `None` if it does not exist. See [`wait::wait_for_finish`].
    pub(crate) async fn wait_for_finish<T: DeserializeOwned>(
        &self,
        wait: Option<Duration>,
    ) -> Result<Option<T>, Error> {
        wait::wait_for_finish(self, wait).await
    }
}

impl ApiRequest {
    /// Adds every field of an options struct as a query parameter (see `query::to_params`).
    pub(crate) fn query_all(
        self,
        options: &(impl Serialize + ?Sized),
    ) -> Result<ApiRequest, Error> {
        Ok(query::to_params(options)?
            .into_iter()
            .fold(self, |req, (k, v)| req.query(&k, v)))
    }
}

/// A pipeline over the built-in transport, for the unit tests of the resource layer.
#[cfg(test)]
pub(crate) fn test_pipeline(base_url: &str) -> Arc<Pipeline> {
    let transport = crate::transport::BuiltinTransport::new().expect("built-in transport");
    Arc::new(Pipeline::new(
        Arc::new(transport),
        crate::pipeline::HttpSettings::default(),
        base_url,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_children_and_default_params() {
        let c = test_pipeline("https://api.apify.com");
        let ds = ResourceClient::item(&c, "datasets", "me/my ds");
        assert_eq!(ds.path, "/v2/datasets/me~my%20ds");
        let kvs = ResourceClient::item(&c, "key-value-stores", "s");
        assert_eq!(
            kvs.sub(Method::GET, &["records", "a/b"]).path,
            "/v2/key-value-stores/s/records/a%2Fb"
        );
        let last = ResourceClient::item(&c, "acts", "a")
            .child(&["runs", "last"])
            .with_param("status", "SUCCEEDED");
        let dataset = last.child(&["dataset"]);
        let req = dataset.sub(Method::GET, &["items"]);
        assert_eq!(req.path, "/v2/acts/a/runs/last/dataset/items");
        assert_eq!(req.query_string().as_deref(), Some("status=SUCCEEDED"));
    }
}
