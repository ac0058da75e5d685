//! One request queue: `/v2/request-queues/{queueId}`.

use std::time::Duration;

use futures_util::StreamExt;
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{base::options_setters, by_cursor, ItemStream, Paging, ResourceClient, StorageUpdate};
use std::sync::Arc;

use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// At most this many requests per `POST .../requests/batch` (an API limit).
pub const MAX_REQUESTS_PER_BATCH: usize = 25;
/// At most this many bytes of JSON per batch: the API's 9 MB limit minus a 0.01 % margin, as
/// the Python client computes it.
pub const MAX_BATCH_PAYLOAD_BYTES: usize = 9 * 1024 * 1024 - (9 * 1024 * 1024) / 10_000 - 1;

/// A request queue, as `GET /v2/request-queues/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestQueue {
    /// The queue id.
    pub id: String,
    /// The name; unnamed queues have none.
    pub name: Option<String>,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last modification time (UTC). A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last access time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub accessed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Requests ever added.
    pub total_request_count: Option<u64>,
    /// Requests handled.
    pub handled_request_count: Option<u64>,
    /// Requests not handled yet.
    pub pending_request_count: Option<u64>,
    /// Whether more than one client has written to the queue.
    pub had_multiple_clients: Option<bool>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    RequestQueue {
        required: id;
        timestamps: created_at, modified_at, accessed_at;
        optional: name, user_id, total_request_count, handled_request_count, pending_request_count, had_multiple_clients
    }
}

/// A request stored in a queue. Fields the model does not name (`userData`, `headers`,
/// `payload`, `handledAt`, `lockExpiresAt`...) are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct QueueRequest {
    /// The request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The key requests are de-duplicated by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// The URL.
    pub url: String,
    /// The HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// How many times processing was retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u64>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    QueueRequest {
        optional: id, unique_key, url, method, retry_count
    }
}

/// `GET .../head`: the first requests of the queue, without locking them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestQueueHead {
    /// The limit the API applied.
    pub limit: Option<u64>,
    /// When the queue last changed (UTC). A value that is not an RFC 3339 time is `None` here and
    /// kept in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub queue_modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether more than one client has written to the queue.
    pub had_multiple_clients: Option<bool>,
    /// The requests.
    pub items: Vec<QueueRequest>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    RequestQueueHead {
        required: items;
        timestamps: queue_modified_at;
        optional: limit, had_multiple_clients
    }
}

/// `POST .../head/lock`: the first unlocked requests, now locked for this client.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockedRequestQueueHead {
    /// The limit the API applied.
    pub limit: Option<u64>,
    /// How long the locks last, in seconds.
    pub lock_secs: Option<u64>,
    /// When the queue last changed (UTC). A value that is not an RFC 3339 time is `None` here and
    /// kept in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub queue_modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether any client holds locks in the queue.
    pub queue_has_locked_requests: Option<bool>,
    /// The client key the locks belong to.
    pub client_key: Option<String>,
    /// Whether more than one client has written to the queue.
    pub had_multiple_clients: Option<bool>,
    /// The locked requests (each with its `lockExpiresAt` in `extra`).
    pub items: Vec<QueueRequest>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    LockedRequestQueueHead {
        required: items;
        timestamps: queue_modified_at;
        optional: limit, lock_secs, queue_has_locked_requests, client_key, had_multiple_clients
    }
}

/// What adding or updating one request did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestOperationInfo {
    /// The request id.
    pub request_id: String,
    /// Whether a request with the same unique key was there already.
    pub was_already_present: bool,
    /// Whether that request was handled already.
    pub was_already_handled: bool,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    RequestOperationInfo {
        required: request_id;
        optional: was_already_present, was_already_handled
    }
}

/// A request a batch operation processed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProcessedRequest {
    /// The request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The unique key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// Whether it was there already (batch add).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_already_present: Option<bool>,
    /// Whether it was handled already (batch add).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_already_handled: Option<bool>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    ProcessedRequest {
        optional: request_id, unique_key, was_already_present, was_already_handled
    }
}

/// A request a batch operation could not process (the caller may retry it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UnprocessedRequest {
    /// The unique key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// The URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    UnprocessedRequest {
        optional: unique_key, url, method
    }
}

/// The outcome of a batch add or delete.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchOperationResult {
    /// What was done.
    #[serde(default)]
    pub processed_requests: Vec<ProcessedRequest>,
    /// What was not (after the retries, for batch add).
    #[serde(default)]
    pub unprocessed_requests: Vec<UnprocessedRequest>,
}

/// One page of `GET .../requests`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListOfRequests {
    /// The requests.
    pub items: Vec<QueueRequest>,
    /// The limit the API applied.
    pub limit: Option<u64>,
    /// The (deprecated) start id this page follows.
    pub exclusive_start_id: Option<String>,
    /// The cursor of this page.
    pub cursor: Option<String>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    ListOfRequests {
        required: items;
        optional: limit, exclusive_start_id, cursor, next_cursor
    }
}

/// Options of `list_requests` / `iterate_requests`.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::ListRequestsOptions};
///
/// let queue = client.request_queue("my-queue");
/// let opts = ListRequestsOptions::new().filter(["pending"]).limit(100);
/// let page = queue.list_requests(&opts).await?;
/// println!("{} requests, next page: {:?}", page.items.len(), page.next_cursor);
/// let mut requests = queue.iterate_requests(&opts);
/// while let Some(request) = requests.try_next().await? {
///     println!("{}", request.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListRequestsOptions {
    /// At most this many requests (one page for `list_requests`, overall for
    /// `iterate_requests`).
    pub limit: Option<u64>,
    /// Start after this request id (deprecated by the API in favour of `cursor`).
    pub exclusive_start_id: Option<String>,
    /// Continue from a previous page's `nextCursor`.
    pub cursor: Option<String>,
    /// Only `locked` and/or `pending` requests.
    pub filter: Option<Vec<String>>,
    /// Requests per request of `iterate_requests` (default and cap 1000); not a query
    /// parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ListRequestsOptions {
        /// at most this many requests (one page for `list_requests`, overall for
        /// `iterate_requests`).
        limit: Option<u64>,
        /// start after this request id (deprecated by the API in favour of `cursor`).
        exclusive_start_id: Option<String>,
        /// continue from a previous page's `nextCursor`.
        cursor: Option<String>,
        /// only `locked` and/or `pending` requests.
        filter: Option<Vec<String>>,
        /// requests per request of `iterate_requests` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// `PUT .../requests/{id}/lock`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestLockInfo {
    /// When the lock expires (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub lock_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    RequestLockInfo {
        timestamps: lock_expires_at;
    }
}

/// `POST .../requests/unlock`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UnlockRequestsResult {
    /// How many requests were unlocked.
    pub unlocked_count: u64,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    UnlockRequestsResult {
        optional: unlocked_count
    }
}

/// Options of `batch_add_requests`.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use std::time::Duration;
///
/// use apify_host::options::BatchAddOptions;
/// use serde_json::json;
///
/// let requests = [json!({ "url": "https://a.example" }), json!({ "url": "https://b.example" })];
/// let opts = BatchAddOptions::new()
///     .forefront(true)
///     .max_parallel(4)
///     .min_delay_between_unprocessed_requests_retries(Duration::from_secs(1));
/// let result = client.request_queue("my-queue").batch_add_requests(&requests, &opts).await?;
/// println!("{} still unprocessed", result.unprocessed_requests.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchAddOptions {
    /// Add to the head of the queue.
    pub forefront: bool,
    /// How many batches are in flight at once (default 1: the order of the queue then follows
    /// the order of the input).
    pub max_parallel: usize,
    /// How many times requests the API reports as unprocessed are sent again (default 3).
    pub max_unprocessed_requests_retries: u32,
    /// The delay before the first resend; it doubles with each further one (default 500 ms).
    pub min_delay_between_unprocessed_requests_retries: Duration,
}

impl Default for BatchAddOptions {
    fn default() -> Self {
        BatchAddOptions {
            forefront: false,
            max_parallel: 1,
            max_unprocessed_requests_retries: 3,
            min_delay_between_unprocessed_requests_retries: Duration::from_millis(500),
        }
    }
}

options_setters! {
    BatchAddOptions {
        /// add to the head of the queue.
        forefront: bool,
        /// how many batches are in flight at once (default 1).
        max_parallel: usize,
        /// how many times requests the API reports as unprocessed are sent again (default
        /// 3).
        max_unprocessed_requests_retries: u32,
        /// the delay before the first resend, doubling with each further one (default
        /// 500 ms).
        min_delay_between_unprocessed_requests_retries: Duration,
    }
}

/// A client for one request queue.
#[derive(Clone, Debug)]
pub struct RequestQueueClient {
    pub(super) res: ResourceClient,
    client_key: Option<String>,
}

impl RequestQueueClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        RequestQueueClient {
            res: ResourceClient::item(pipeline, "request-queues", id),
            client_key: None,
        }
    }

    /// A queue client over `res` (a run's default queue: `…/runs/last/request-queue`).
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        RequestQueueClient {
            res,
            client_key: None,
        }
    }

    /// The same queue, accessed as the client `key`: locks taken through it belong to that
    /// key, and the API tells queues with several clients apart.
    pub fn with_client_key(mut self, key: impl Into<String>) -> Self {
        self.client_key = Some(key.into());
        self
    }

    /// The queue, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<RequestQueue>, Error> {
        self.res.get().await
    }

    /// Changes the name and/or access of the queue; answers the updated queue.
    pub async fn update(&self, fields: &StorageUpdate) -> Result<RequestQueue, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the queue (no error if it does not exist).
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    fn req(&self, method: Method, parts: &[&str]) -> crate::pipeline::ApiRequest {
        self.res
            .sub(method, parts)
            .query("clientKey", self.client_key.clone())
    }

    /// The first `limit` requests of the queue, without locking them.
    pub async fn list_head(&self, limit: Option<u64>) -> Result<RequestQueueHead, Error> {
        let req = self
            .req(Method::GET, &["head"])
            .query("limit", limit)
            .timeout(TimeoutTier::Short);
        self.res.data(req).await
    }

    /// The first `limit` unlocked requests, locked for `lock_secs` seconds.
    pub async fn list_and_lock_head(
        &self,
        lock_secs: u64,
        limit: Option<u64>,
    ) -> Result<LockedRequestQueueHead, Error> {
        let req = self
            .req(Method::POST, &["head", "lock"])
            .query("lockSecs", lock_secs)
            .query("limit", limit)
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Adds one request (an object with at least `url`; `uniqueKey` defaults to the URL).
    pub async fn add_request<T: Serialize + ?Sized>(
        &self,
        request: &T,
        forefront: Option<bool>,
    ) -> Result<RequestOperationInfo, Error> {
        let value = serde_json::to_value(request).map_err(|e| {
            Error::invalid_input(format!("cannot serialize the request: {e}")).with_source(e)
        })?;
        let req = self
            .req(Method::POST, &["requests"])
            .query("forefront", forefront)
            .json(&with_default_unique_key(value))?
            .timeout(TimeoutTier::Short);
        self.res.data(req).await
    }

    /// The request, or `None` if there is no such request.
    pub async fn get_request(&self, request_id: &str) -> Result<Option<QueueRequest>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["requests", request_id])
            .timeout(TimeoutTier::Short);
        not_found_as_none(self.res.data(req).await)
    }

    /// Replaces a request; `request` must carry its `id`.
    pub async fn update_request<T: Serialize + ?Sized>(
        &self,
        request: &T,
        forefront: Option<bool>,
    ) -> Result<RequestOperationInfo, Error> {
        let value = serde_json::to_value(request)
            .map(with_default_unique_key)
            .map_err(|e| {
                Error::invalid_input(format!("cannot serialize the request: {e}")).with_source(e)
            })?;
        let Some(id) = value.get("id").and_then(Value::as_str) else {
            return Err(Error::invalid_input(
                "the request to update has no \"id\" field".to_string(),
            ));
        };
        let req = self
            .req(Method::PUT, &["requests", id])
            .query("forefront", forefront)
            .json(&value)?
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Deletes a request.
    pub async fn delete_request(&self, request_id: &str) -> Result<(), Error> {
        let req = self
            .req(Method::DELETE, &["requests", request_id])
            .timeout(TimeoutTier::Short);
        self.res.drain(req).await
    }

    /// Extends this client's lock on a request by `lock_secs`; `forefront` decides where the
    /// request goes back when the lock expires.
    pub async fn prolong_request_lock(
        &self,
        request_id: &str,
        lock_secs: u64,
        forefront: Option<bool>,
    ) -> Result<RequestLockInfo, Error> {
        let req = self
            .req(Method::PUT, &["requests", request_id, "lock"])
            .query("forefront", forefront)
            .query("lockSecs", lock_secs)
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Releases this client's lock on a request.
    pub async fn delete_request_lock(
        &self,
        request_id: &str,
        forefront: Option<bool>,
    ) -> Result<(), Error> {
        let req = self
            .req(Method::DELETE, &["requests", request_id, "lock"])
            .query("forefront", forefront)
            .timeout(TimeoutTier::Short);
        self.res.drain(req).await
    }

    /// Adds many requests: in batches of at most 25 requests and ~9 MB, `opts.max_parallel`
    /// batches in flight. Requests the API reports as unprocessed (e.g. rate-limited writes)
    /// are sent again up to `opts.max_unprocessed_requests_retries` times with a doubling
    /// delay; those still unprocessed are in the result. A failed call (after the pipeline's
    /// own retries) fails the whole operation.
    pub async fn batch_add_requests<T: Serialize>(
        &self,
        requests: &[T],
        opts: &BatchAddOptions,
    ) -> Result<BatchOperationResult, Error> {
        let values = requests
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .map(with_default_unique_key)
                    .map_err(|e| {
                        Error::invalid_input(format!("cannot serialize a request: {e}"))
                            .with_source(e)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let batches = split_batches(values)?;
        let mut results = futures_util::stream::iter(batches)
            .map(|batch| self.add_batch_with_retries(batch, opts))
            .buffered(opts.max_parallel.max(1));
        let mut total = BatchOperationResult::default();
        while let Some(r) = results.next().await {
            let r = r?;
            total.processed_requests.extend(r.processed_requests);
            total.unprocessed_requests.extend(r.unprocessed_requests);
        }
        Ok(total)
    }

    async fn add_batch_with_retries(
        &self,
        mut batch: Vec<Value>,
        opts: &BatchAddOptions,
    ) -> Result<BatchOperationResult, Error> {
        let mut done = BatchOperationResult::default();
        let mut attempt = 0u32;
        loop {
            let req = self
                .req(Method::POST, &["requests", "batch"])
                .query("forefront", opts.forefront)
                .json(&batch)?
                .timeout(TimeoutTier::Medium);
            let r: BatchOperationResult = self.res.data(req).await?;
            done.processed_requests.extend(r.processed_requests);
            if r.unprocessed_requests.is_empty() || attempt >= opts.max_unprocessed_requests_retries
            {
                done.unprocessed_requests = r.unprocessed_requests;
                return Ok(done);
            }
            let delay = opts
                .min_delay_between_unprocessed_requests_retries
                .saturating_mul(2u32.saturating_pow(attempt));
            attempt += 1;
            tracing::debug!(
                unprocessed = r.unprocessed_requests.len(),
                attempt,
                "request queue batch add: sending unprocessed requests again after {delay:?}"
            );
            batch = resend_set(&batch, &r.unprocessed_requests);
            tokio::time::sleep(delay).await;
        }
    }

    /// Deletes requests given by `id` or `uniqueKey` (at most 25 per call, an API limit).
    pub async fn batch_delete_requests<T: Serialize>(
        &self,
        requests: &[T],
    ) -> Result<BatchOperationResult, Error> {
        let req = self
            .req(Method::DELETE, &["requests", "batch"])
            .json(requests)?
            .timeout(TimeoutTier::Short);
        self.res.data(req).await
    }

    /// One page of the queue's requests.
    pub async fn list_requests(&self, opts: &ListRequestsOptions) -> Result<ListOfRequests, Error> {
        let req = self
            .req(Method::GET, &["requests"])
            .query_all(opts)?
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// All requests of the queue (up to `opts.limit`), page by page as the stream is
    /// consumed: by `nextCursor` when the API gives one, else after the last id of a full
    /// page.
    pub fn iterate_requests(&self, opts: &ListRequestsOptions) -> ItemStream<QueueRequest> {
        /// Where the next page starts.
        #[derive(Clone, Debug, PartialEq)]
        enum Start {
            Cursor(String),
            AfterId(String),
        }
        let this = self.clone();
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let opts = opts.clone();
        let init = match (&opts.cursor, &opts.exclusive_start_id) {
            (Some(c), _) => Some(Start::Cursor(c.clone())),
            (None, Some(id)) => Some(Start::AfterId(id.clone())),
            _ => None,
        };
        by_cursor(init, paging, move |start, limit| {
            let this = this.clone();
            let (cursor, exclusive_start_id) = match start {
                Some(Start::Cursor(c)) => (Some(c), None),
                Some(Start::AfterId(id)) => (None, Some(id)),
                None => (None, None),
            };
            let page = ListRequestsOptions {
                limit: Some(limit),
                cursor,
                exclusive_start_id,
                ..opts.clone()
            };
            async move {
                let page = this.list_requests(&page).await?;
                let n = page.items.len() as u64;
                let next = if let Some(c) = page.next_cursor.clone() {
                    Some(Start::Cursor(c))
                } else if n >= limit.min(page.limit.unwrap_or(limit).max(1)) {
                    page.items
                        .last()
                        .and_then(|r| r.id.clone())
                        .map(Start::AfterId)
                } else {
                    None
                };
                Ok((page.items, next))
            }
        })
    }

    /// Releases every lock this client (or this Actor run) holds in the queue.
    pub async fn unlock_requests(&self) -> Result<UnlockRequestsResult, Error> {
        let req = self
            .req(Method::POST, &["requests", "unlock"])
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }
}

/// The API requires `uniqueKey` on a request it adds or updates (the OpenAPI spec's
/// `RequestWithoutId`); a request without one (or with `null`) gets its `url`, as documented.
fn with_default_unique_key(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        if map.get("uniqueKey").is_none_or(Value::is_null) {
            if let Some(url) = map.get("url").and_then(Value::as_str) {
                let url = url.to_string();
                map.insert("uniqueKey".to_string(), Value::String(url));
            }
        }
    }
    value
}

/// Splits requests into batches of at most [`MAX_REQUESTS_PER_BATCH`] requests and
/// [`MAX_BATCH_PAYLOAD_BYTES`] of JSON, keeping their order.
fn split_batches(values: Vec<Value>) -> Result<Vec<Vec<Value>>, Error> {
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut size = 2; // `[` and `]`
    for v in values {
        let len = serde_json::to_vec(&v)
            .map_err(|e| {
                Error::invalid_input(format!("cannot serialize a request: {e}")).with_source(e)
            })?
            .len()
            + 1; // the comma
        if !current.is_empty()
            && (current.len() == MAX_REQUESTS_PER_BATCH || size + len > MAX_BATCH_PAYLOAD_BYTES)
        {
            batches.push(std::mem::take(&mut current));
            size = 2;
        }
        size += len;
        current.push(v);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

/// The requests of `batch` that the API reported as unprocessed, in their original form (with
/// `userData`, headers...), matched by `uniqueKey`, else by `url`. An unprocessed entry that
/// matches nothing is sent as the API described it.
fn resend_set(batch: &[Value], unprocessed: &[UnprocessedRequest]) -> Vec<Value> {
    unprocessed
        .iter()
        .map(|u| {
            batch
                .iter()
                .find(|b| match &u.unique_key {
                    Some(k) => b.get("uniqueKey").and_then(Value::as_str) == Some(k.as_str()),
                    None => false,
                })
                .or_else(|| {
                    batch.iter().find(|b| {
                        b.get("uniqueKey").is_none()
                            && u.url.is_some()
                            && b.get("url").and_then(Value::as_str) == u.url.as_deref()
                    })
                })
                .cloned()
                .unwrap_or_else(|| serde_json::to_value(u).unwrap_or(Value::Null))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_hold_at_most_25() {
        let reqs: Vec<Value> = (0..60)
            .map(|i| json!({"url": format!("https://x/{i}")}))
            .collect();
        let b = split_batches(reqs).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![25, 25, 10]);
        assert_eq!(b[2][9]["url"], "https://x/59");
    }

    #[test]
    fn batches_respect_the_payload_limit() {
        let big = "x".repeat(4 * 1024 * 1024);
        let reqs: Vec<Value> = (0..3)
            .map(|i| json!({"url": format!("https://x/{i}"), "p": big}))
            .collect();
        let b = split_batches(reqs).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn unique_key_defaults_to_the_url() {
        let r = with_default_unique_key(json!({"url": "https://a", "uniqueKey": null}));
        assert_eq!(r, json!({"url": "https://a", "uniqueKey": "https://a"}));
        let r = with_default_unique_key(json!({"url": "https://a", "uniqueKey": "k"}));
        assert_eq!(r["uniqueKey"], "k");
        assert_eq!(
            with_default_unique_key(json!({"id": "x"})),
            json!({"id": "x"})
        );
    }

    #[test]
    fn resend_keeps_original_requests() {
        let batch = vec![
            json!({"url": "https://a", "uniqueKey": "a", "userData": {"x": 1}}),
            json!({"url": "https://b", "userData": {"y": 2}}),
        ];
        let un: Vec<UnprocessedRequest> = serde_json::from_value(json!([
            {"uniqueKey": "a", "url": "https://a"},
            {"uniqueKey": "https://b", "url": "https://b"},
            {"uniqueKey": "zzz", "url": "https://z"}
        ]))
        .unwrap();
        let again = resend_set(&batch, &un);
        assert_eq!(again[0], batch[0]);
        assert_eq!(again[1], batch[1]);
        assert_eq!(again[2]["uniqueKey"], "zzz");
    }
}
