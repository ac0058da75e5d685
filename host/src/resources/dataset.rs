//! One dataset: `/v2/datasets/{datasetId}`.

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde::{de::DeserializeOwned, Serialize};

use super::{
    base::{by_offset, options_setters, ArrayItems},
    ItemStream, ListPage, Paging, ResourceClient, StorageUpdate, StreamedBody,
};
use crate::{
    error::not_found_as_none,
    pipeline::{ApiRequest, ApiResponse, Pipeline, TimeoutTier},
    Error,
};

/// The largest request body `push_items_stream` sends by default: the API refuses item payloads
/// over 9 MB (the Apify SDKs split at the same size).
pub const MAX_PUSH_PAYLOAD_BYTES: usize = 9_000_000;

/// Options of [`DatasetClient::push_items_stream`].
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::options::PushItemsOptions;
///
/// let lines = ["{\"url\": \"https://a.example\"}", "{\"url\": \"https://b.example\"}"];
/// let items = futures_util::stream::iter(
///     lines.map(|line| Ok::<_, std::io::Error>(bytes::Bytes::from(line))),
/// );
/// let opts = PushItemsOptions::new().max_payload_bytes(1_000_000);
/// let done = client.dataset("my-dataset").push_items_stream(items, &opts).await?;
/// println!("{} items in {} requests", done.items, done.requests);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PushItemsOptions {
    /// The largest request body; default [`MAX_PUSH_PAYLOAD_BYTES`].
    pub max_payload_bytes: Option<usize>,
}

options_setters! {
    PushItemsOptions {
        /// the largest request body (default [`MAX_PUSH_PAYLOAD_BYTES`]).
        max_payload_bytes: Option<usize>,
    }
}

/// What [`DatasetClient::push_items_stream`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushSummary {
    /// Items stored.
    pub items: u64,
    /// Requests it took.
    pub requests: u64,
}

/// Why an item of a push stream is refused: it must be one JSON object.
fn check_item(item: &[u8]) -> Result<(), String> {
    let first = item.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("is not a JSON object".into());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(item)
        .map(|_| ())
        .map_err(|e| format!("is not valid JSON: {e}"))
}

/// A dataset, as `GET /v2/datasets/{id}` describes it.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Dataset {
    /// The dataset id.
    pub id: String,
    /// The name; unnamed datasets have none.
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
    /// Number of items.
    pub item_count: Option<u64>,
    /// Number of non-empty items.
    pub clean_item_count: Option<u64>,
    /// The Actor that created it, if any.
    pub act_id: Option<String>,
    /// The Actor run that created it, if any.
    pub act_run_id: Option<String>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Dataset {
        required: id;
        timestamps: created_at, modified_at, accessed_at;
        optional: name, user_id, item_count, clean_item_count, act_id, act_run_id
    }
}

/// As JSON, with the URL signing secret (`urlSigningSecretKey` in `extra`) masked.
impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::public_url::debug_masked("Dataset", self, f)
    }
}

/// `GET /v2/datasets/{id}/statistics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DatasetStatistics {
    /// Per-field statistics (`min`, `max`, `nullCount`, `emptyCount`), when the dataset has a
    /// fields schema.
    pub field_statistics: Option<serde_json::Map<String, serde_json::Value>>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    DatasetStatistics {
        optional: field_statistics
    }
}

/// Which items `list_items` / `iterate_items` / `create_items_public_url` read, and how
/// (`stream_items` and `get_items_as_bytes` take them inside [`DownloadItemsOptions`]).
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::ListItemsOptions};
///
/// let dataset = client.dataset("my-dataset");
/// let opts = ListItemsOptions::new().limit(100).clean(true).fields(["url", "title"]);
/// let page = dataset.list_items::<serde_json::Value>(&opts).await?;
/// println!("{} of {} items", page.count, page.total);
/// let mut items = dataset.iterate_items::<serde_json::Value>(&opts.chunk_size(50));
/// while let Some(item) = items.try_next().await? {
///     println!("{item}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListItemsOptions {
    /// Skip this many items first.
    pub offset: Option<u64>,
    /// At most this many items (one page for `list_items`, overall for `iterate_items`).
    pub limit: Option<u64>,
    /// Only non-empty items, without hidden (`#`) fields: `skip_empty` + `skip_hidden`.
    pub clean: Option<bool>,
    /// Newest first.
    pub desc: Option<bool>,
    /// Keep only these fields, in this order.
    pub fields: Option<Vec<String>>,
    /// Drop these fields.
    pub omit: Option<Vec<String>>,
    /// Unwind these array/object fields into separate items.
    pub unwind: Option<Vec<String>>,
    /// Skip empty items.
    pub skip_empty: Option<bool>,
    /// Skip hidden (`#`) fields.
    pub skip_hidden: Option<bool>,
    /// Flatten these nested fields.
    pub flatten: Option<Vec<String>>,
    /// A view of the dataset schema.
    pub view: Option<String>,
    /// A signature that grants access to the dataset without the token.
    pub signature: Option<String>,
    /// Items per request of `iterate_items` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ListItemsOptions {
        /// skip this many items first.
        offset: Option<u64>,
        /// at most this many items (one page for `list_items`, overall for `iterate_items`).
        limit: Option<u64>,
        /// only non-empty items, without hidden (`#`) fields.
        clean: Option<bool>,
        /// newest first.
        desc: Option<bool>,
        /// keep only these fields, in this order.
        fields: Option<Vec<String>>,
        /// drop these fields.
        omit: Option<Vec<String>>,
        /// unwind these array/object fields into separate items.
        unwind: Option<Vec<String>>,
        /// skip empty items.
        skip_empty: Option<bool>,
        /// skip hidden (`#`) fields.
        skip_hidden: Option<bool>,
        /// flatten these nested fields.
        flatten: Option<Vec<String>>,
        /// a view of the dataset schema.
        view: Option<String>,
        /// a signature that grants access to the dataset without the token.
        signature: Option<String>,
        /// items per request of `iterate_items` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// Options of `stream_items` / `get_items_as_bytes`: the item selection plus the format.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{options::{DownloadItemsOptions, ListItemsOptions}};
///
/// let opts = DownloadItemsOptions::new()
///     .format("csv")
///     .items(ListItemsOptions::new().clean(true).fields(["url", "title"]))
///     .bom(false)
///     .delimiter(";");
/// let csv = client.dataset("my-dataset").get_items_as_bytes(&opts).await?;
/// println!("{} bytes of CSV", csv.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DownloadItemsOptions {
    /// `json` (default), `jsonl`, `csv`, `html`, `xlsx`, `xml` or `rss`.
    pub format: String,
    /// Which items.
    #[serde(flatten)]
    pub items: ListItemsOptions,
    /// Prefix the output with a UTF-8 byte order mark (default: only for CSV).
    pub bom: Option<bool>,
    /// CSV delimiter (default `,`).
    pub delimiter: Option<String>,
    /// CSV without the header row.
    pub skip_header_row: Option<bool>,
    /// XML root element name (default `items`).
    pub xml_root: Option<String>,
    /// XML element name of each item (default `item`).
    pub xml_row: Option<String>,
}

impl Default for DownloadItemsOptions {
    fn default() -> Self {
        DownloadItemsOptions {
            format: "json".to_string(),
            items: ListItemsOptions::default(),
            bom: None,
            delimiter: None,
            skip_header_row: None,
            xml_root: None,
            xml_row: None,
        }
    }
}

options_setters! {
    DownloadItemsOptions {
        /// `json` (default), `jsonl`, `csv`, `html`, `xlsx`, `xml` or `rss`.
        format: String,
        /// which items, and how.
        items: ListItemsOptions,
        /// prefix the output with a UTF-8 byte order mark (default: only for CSV).
        bom: Option<bool>,
        /// CSV delimiter (default `,`).
        delimiter: Option<String>,
        /// CSV without the header row.
        skip_header_row: Option<bool>,
        /// XML root element name (default `items`).
        xml_root: Option<String>,
        /// XML element name of each item (default `item`).
        xml_row: Option<String>,
    }
}

/// A client for one dataset.
#[derive(Clone, Debug)]
pub struct DatasetClient {
    pub(super) res: ResourceClient,
}

impl DatasetClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        DatasetClient {
            res: ResourceClient::item(pipeline, "datasets", id),
        }
    }

    /// The dataset, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Dataset>, Error> {
        self.res.get().await
    }

    /// Changes the name and/or access of the dataset; answers the updated dataset.
    pub async fn update(&self, fields: &StorageUpdate) -> Result<Dataset, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the dataset (no error if it does not exist).
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// One page of items. The page's `total`, `offset` and `limit` come from the
    /// `X-Apify-Pagination-*` headers; `count` is the number of items received (the header
    /// count is off when empty items or hidden fields are skipped).
    ///
    /// Items are parsed as the body arrives, so the page is never held as text and as items at
    /// once (a failed attempt's items are dropped and the retry starts afresh). That is why
    /// `T` is `Send + 'static` (since 0.3), as for [`DatasetClient::iterate_items`].
    pub async fn list_items<T: DeserializeOwned + Send + 'static>(
        &self,
        opts: &ListItemsOptions,
    ) -> Result<ListPage<T>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["items"])
            .query_all(opts)?
            .timeout(TimeoutTier::Long)
            .sink(|| Box::new(ArrayItems::<T>::new()));
        let mut resp = self.res.call(req).await?;
        let head = PaginationHeaders::read(&resp);
        let items = resp
            .take_sink::<ArrayItems<T>>()
            .ok_or_else(|| Error::decode("the page's items were not parsed"))?
            .into_items();
        let count = items.len() as u64;
        let offset = head.offset.or(opts.offset).unwrap_or(0);
        Ok(ListPage {
            total: head.total.unwrap_or(offset + count),
            offset,
            count,
            limit: head.limit.or(opts.limit).unwrap_or(count),
            desc: head.desc.or(opts.desc).unwrap_or(false),
            items,
        })
    }

    /// All items from `opts.offset` on (up to `opts.limit`), fetched `opts.chunk_size` (default 1000)
    /// per request as the stream is consumed. Like the Python client, it reads until a short page rather than
    /// trusting `total`, which lags behind recent writes.
    pub fn iterate_items<T: DeserializeOwned + Send + 'static>(
        &self,
        opts: &ListItemsOptions,
    ) -> ItemStream<T> {
        let this = self.clone();
        let opts = opts.clone();
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        by_offset(
            opts.offset.unwrap_or(0),
            paging,
            false,
            move |offset, limit| {
                let this = this.clone();
                let page = opts.clone().offset(offset).limit(limit);
                async move { this.list_items(&page).await }
            },
        )
    }

    /// The items in `opts.format`, as a body stream: nothing is buffered, whatever the size.
    pub async fn stream_items(&self, opts: &DownloadItemsOptions) -> Result<StreamedBody, Error> {
        let req = self.download_request(opts)?.stream();
        Ok(StreamedBody::from_response(self.res.call(req).await?))
    }

    /// The items in `opts.format`, read into memory. Prefer
    /// [`DatasetClient::stream_items`] for large datasets.
    pub async fn get_items_as_bytes(&self, opts: &DownloadItemsOptions) -> Result<Bytes, Error> {
        self.res
            .call(self.download_request(opts)?)
            .await?
            .bytes()
            .await
    }

    fn download_request(&self, opts: &DownloadItemsOptions) -> Result<ApiRequest, Error> {
        Ok(self
            .res
            .sub(Method::GET, &["items"])
            .query_all(opts)?
            .timeout(TimeoutTier::Long))
    }

    /// Appends items: a JSON object or an array of objects (any `Serialize` value that
    /// serializes to one).
    pub async fn push_items<T: Serialize + ?Sized>(&self, items: &T) -> Result<(), Error> {
        let bytes = serde_json::to_vec(items).map_err(|e| {
            Error::invalid_input(format!("cannot serialize the items as JSON: {e}")).with_source(e)
        })?;
        self.push_items_json(Bytes::from(bytes)).await
    }

    /// Appends items given as already-serialized JSON text (an object or an array), sent as
    /// is. The caller vouches that it is valid JSON.
    pub async fn push_items_json(&self, json: impl Into<Bytes>) -> Result<(), Error> {
        let req = self
            .res
            .sub(Method::POST, &["items"])
            .json_bytes(json.into())
            .header("content-type", "application/json; charset=utf-8")
            .timeout(TimeoutTier::Medium);
        self.res.drain(req).await
    }

    /// Appends items from a stream, each chunk one item as JSON object text (e.g. the lines of
    /// a JSONL file), in as many requests as it takes: every request is a JSON array of at
    /// most [`PushItemsOptions::max_payload_bytes`] (the API refuses larger payloads), sent in
    /// order, each retried by the pipeline on its own. Memory holds one request's items.
    ///
    /// Each item is checked to be one JSON object before its request is built. On an error (a
    /// bad item, the stream's own error, a failed request) the items of the requests already
    /// answered are stored and no later item was sent; the error says how many were stored.
    pub async fn push_items_stream<S, E>(
        &self,
        items: S,
        opts: &PushItemsOptions,
    ) -> Result<PushSummary, Error>
    where
        S: futures_core::Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let limit = opts.max_payload_bytes.unwrap_or(MAX_PUSH_PAYLOAD_BYTES);
        let mut done = PushSummary::default();
        let mut batch: Vec<u8> = Vec::new();
        let mut in_batch = 0u64;
        let mut index = 0u64;
        let stopped = |done: &PushSummary, why: String| {
            Error::invalid_input(format!(
                "{why}; {} item(s) were stored in {} request(s) before it, and nothing after it                  was sent",
                done.items, done.requests
            ))
        };
        let mut items = std::pin::pin!(items);
        loop {
            let next = items.next().await;
            let item = match next {
                None => None,
                Some(Err(e)) => {
                    return Err(stopped(
                        &done,
                        format!("reading item {} failed: {e}", index + 1),
                    ))
                }
                Some(Ok(item)) => {
                    index += 1;
                    if let Err(why) = check_item(&item) {
                        return Err(stopped(&done, format!("item {index} {why}")));
                    }
                    if item.len() + 2 > limit {
                        return Err(stopped(
                            &done,
                            format!(
                                "item {index} has {} bytes, more than one request may carry                                  ({limit} bytes)",
                                item.len()
                            ),
                        ));
                    }
                    Some(item)
                }
            };
            // Send the batch when the stream ended or the next item would not fit.
            let full = item
                .as_ref()
                .is_some_and(|i| !batch.is_empty() && batch.len() + 1 + i.len() + 1 > limit);
            if (item.is_none() || full) && in_batch > 0 {
                batch.push(b']');
                let body = Bytes::from(std::mem::take(&mut batch));
                if let Err(e) = self.push_items_json(body).await {
                    return Err(e.with_context(format!(
                        "{} item(s) were stored in {} request(s) before this one failed; the                          items from number {} on were not stored",
                        done.items,
                        done.requests,
                        done.items + 1
                    )));
                }
                done.items += in_batch;
                done.requests += 1;
                in_batch = 0;
            }
            let Some(item) = item else { return Ok(done) };
            batch.push(if batch.is_empty() { b'[' } else { b',' });
            batch.extend_from_slice(&item);
            in_batch += 1;
        }
    }

    /// A URL that reads the items selected by `opts` (and `format`, default JSON) without a
    /// token: built on the client's `api_public_url`, with the options in its query, and
    /// signed when the token may read the dataset's URL signing key (one `GET` of the
    /// dataset); the signature expires after `expires_in`, or never. `opts.signature` and
    /// `opts.chunk_size` are ignored.
    pub async fn create_items_public_url(
        &self,
        format: Option<&str>,
        opts: &ListItemsOptions,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, Error> {
        let dataset = self.get().await?;
        let mut req = self.res.sub(Method::GET, &["items"]);
        if let Some(f) = format {
            req = req.query("format", f);
        }
        let unsigned = ListItemsOptions {
            signature: None,
            ..opts.clone()
        };
        req = req.query_all(&unsigned)?;
        if let Some(d) = &dataset {
            if let Some(secret) = super::public_url::signing_secret(&d.extra) {
                let sig =
                    crate::signing::create_storage_content_signature(&d.id, secret, expires_in, 0);
                req = req.query("signature", sig);
            }
        }
        Ok(super::public_url::public_url(&self.res, &req))
    }

    /// The field statistics, or `None` if the dataset does not exist.
    pub async fn get_statistics(&self) -> Result<Option<DatasetStatistics>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["statistics"])
            .timeout(TimeoutTier::Short);
        not_found_as_none(self.res.data(req).await)
    }
}

/// The `X-Apify-Pagination-*` headers of a dataset items response.
#[derive(Debug, Default)]
struct PaginationHeaders {
    offset: Option<u64>,
    limit: Option<u64>,
    total: Option<u64>,
    desc: Option<bool>,
}

impl PaginationHeaders {
    fn read(resp: &ApiResponse) -> Self {
        let num = |name: &str| resp.header(name).and_then(|v| v.trim().parse::<u64>().ok());
        PaginationHeaders {
            offset: num("x-apify-pagination-offset"),
            limit: num("x-apify-pagination-limit"),
            total: num("x-apify-pagination-total"),
            desc: resp
                .header("x-apify-pagination-desc")
                .map(|v| matches!(v.trim(), "true" | "1")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ByteStream;
    use proptest::prelude::*;

    fn response(headers: &[(&str, String)]) -> ApiResponse {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                map.append(name, value);
            }
        }
        ApiResponse::new(
            http::StatusCode::OK,
            map,
            ByteStream::from_bytes(Default::default()),
        )
    }

    proptest! {
        /// Numbers (with surrounding spaces) are read as sent; anything else is absent, never
        /// a panic or a wrong number.
        #[test]
        fn pagination_headers(
            offset in any::<u64>(),
            total in any::<u64>(),
            pad in " {0,2}",
            junk in "[ -~]{0,12}",
            desc in any::<bool>(),
        ) {
            let h = PaginationHeaders::read(&response(&[
                ("x-apify-pagination-offset", format!("{pad}{offset}{pad}")),
                ("x-apify-pagination-total", total.to_string()),
                ("x-apify-pagination-limit", junk.clone()),
                ("x-apify-pagination-desc", desc.to_string()),
            ]));
            prop_assert_eq!(h.offset, Some(offset));
            prop_assert_eq!(h.total, Some(total));
            prop_assert_eq!(h.limit, junk.trim().parse::<u64>().ok());
            prop_assert_eq!(h.desc, Some(desc));
        }
    }
}
