//! One key-value store: `/v2/key-value-stores/{storeId}`.

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};

use super::{
    base::options_setters, by_cursor, ItemStream, Paging, ResourceClient, StorageUpdate,
    StreamedBody,
};
use std::sync::Arc;

use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier, UploadBody},
    Error,
};

/// A key-value store, as `GET /v2/key-value-stores/{id}` describes it.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KeyValueStore {
    /// The store id.
    pub id: String,
    /// The name; unnamed stores have none.
    pub name: Option<String>,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// The owner's username.
    pub username: Option<String>,
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
    /// The Actor that created it, if any.
    pub act_id: Option<String>,
    /// The Actor run that created it, if any.
    pub act_run_id: Option<String>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    KeyValueStore {
        required: id;
        timestamps: created_at, modified_at, accessed_at;
        optional: name, user_id, username, act_id, act_run_id
    }
}

/// As JSON, with the URL signing secret (`urlSigningSecretKey` in `extra`) masked.
impl std::fmt::Debug for KeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::public_url::debug_masked("KeyValueStore", self, f)
    }
}

/// One key of a store listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KeyValueStoreKey {
    /// The record key.
    pub key: String,
    /// The record size in bytes.
    pub size: Option<u64>,
    /// Every other field the API sent (e.g. `recordPublicUrl`).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    KeyValueStoreKey {
        required: key;
        optional: size
    }
}

/// One page of keys: `GET /v2/key-value-stores/{id}/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListOfKeys {
    /// The keys, in lexicographic order.
    pub items: Vec<KeyValueStoreKey>,
    /// How many keys this page holds.
    #[serde(default)]
    pub count: u64,
    /// The page size the API applied.
    #[serde(default)]
    pub limit: u64,
    /// The key this page starts after.
    pub exclusive_start_key: Option<String>,
    /// Whether more keys follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Where the next page starts (exclusive).
    pub next_exclusive_start_key: Option<String>,
}

/// Options of `list_keys` / `iterate_keys` / `create_keys_public_url`.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::{prelude::*, options::ListKeysOptions};
///
/// let store = client.key_value_store("my-store");
/// let opts = ListKeysOptions::new().prefix("screenshot-").limit(100);
/// let page = store.list_keys(&opts).await?;
/// println!("{} keys, more: {}", page.count, page.is_truncated);
/// let mut keys = store.iterate_keys(&opts.chunk_size(20));
/// while let Some(key) = keys.try_next().await? {
///     println!("{} ({:?} bytes)", key.key, key.size);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListKeysOptions {
    /// At most this many keys (one page of at most 1000 for `list_keys`, overall for
    /// `iterate_keys`).
    pub limit: Option<u64>,
    /// Start after this key (`list_keys` only; `iterate_keys` starts there too).
    pub exclusive_start_key: Option<String>,
    /// Only keys of this collection of the store schema.
    pub collection: Option<String>,
    /// Only keys that start with this prefix.
    pub prefix: Option<String>,
    /// A signature that grants access to a store without the token.
    pub signature: Option<String>,
    /// Keys per request of `iterate_keys` (default and cap 1000); not a query parameter.
    #[serde(skip)]
    pub chunk_size: Option<u64>,
}

options_setters! {
    ListKeysOptions {
        /// at most this many keys (one page of at most 1000 for `list_keys`, overall for
        /// `iterate_keys`).
        limit: Option<u64>,
        /// start after this key.
        exclusive_start_key: Option<String>,
        /// only keys of this collection of the store schema.
        collection: Option<String>,
        /// only keys that start with this prefix.
        prefix: Option<String>,
        /// a signature that grants access to the store without the token.
        signature: Option<String>,
        /// keys per request of `iterate_keys` (default and cap 1000).
        chunk_size: Option<u64>,
    }
}

/// A record value, decoded the way the Python client decodes it: by content type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordValue {
    /// `application/json`: parsed.
    Json(serde_json::Value),
    /// `text/*` or `application/*xml`: the text.
    Text(String),
    /// Anything else: the bytes.
    Bytes(Bytes),
}

impl RecordValue {
    /// The value encoded for `PUT` with its default content type: JSON as
    /// `application/json; charset=utf-8`, text as `text/plain; charset=utf-8`, bytes as
    /// `application/octet-stream` (as the Python client does).
    fn encode(&self) -> Result<(Bytes, &'static str), Error> {
        Ok(match self {
            RecordValue::Json(v) => (
                Bytes::from(serde_json::to_vec(v).map_err(|e| {
                    Error::invalid_input(format!("cannot serialize the record as JSON: {e}"))
                        .with_source(e)
                })?),
                "application/json; charset=utf-8",
            ),
            RecordValue::Text(t) => (Bytes::from(t.clone()), "text/plain; charset=utf-8"),
            RecordValue::Bytes(b) => (b.clone(), "application/octet-stream"),
        })
    }

    /// Decodes a body by its content type; JSON that does not parse is a decode error.
    fn decode(content_type: Option<&str>, body: Bytes) -> Result<Self, Error> {
        let mime = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime.starts_with("application/json") {
            if body.is_empty() {
                return Ok(RecordValue::Json(serde_json::Value::Null));
            }
            serde_json::from_slice(&body)
                .map(RecordValue::Json)
                .map_err(|e| {
                    Error::decode(format!(
                        "the record is declared as JSON but does not parse: {e}"
                    ))
                })
        } else if mime.starts_with("text/")
            || (mime.starts_with("application/") && mime.ends_with("xml"))
        {
            Ok(RecordValue::Text(
                String::from_utf8_lossy(&body).into_owned(),
            ))
        } else {
            Ok(RecordValue::Bytes(body))
        }
    }
}

impl From<serde_json::Value> for RecordValue {
    fn from(v: serde_json::Value) -> Self {
        RecordValue::Json(v)
    }
}

impl From<String> for RecordValue {
    fn from(v: String) -> Self {
        RecordValue::Text(v)
    }
}

impl From<&str> for RecordValue {
    fn from(v: &str) -> Self {
        RecordValue::Text(v.to_string())
    }
}

impl From<Bytes> for RecordValue {
    fn from(v: Bytes) -> Self {
        RecordValue::Bytes(v)
    }
}

impl From<Vec<u8>> for RecordValue {
    fn from(v: Vec<u8>) -> Self {
        RecordValue::Bytes(Bytes::from(v))
    }
}

/// A record with its value decoded by content type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Record {
    /// The key.
    pub key: String,
    /// The decoded value.
    pub value: RecordValue,
    /// The `Content-Type` the record was stored with.
    pub content_type: Option<String>,
}

/// A record with its value as bytes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordBytes {
    /// The key.
    pub key: String,
    /// The bytes.
    pub value: Bytes,
    /// The `Content-Type` the record was stored with.
    pub content_type: Option<String>,
}

/// A record whose value is still on the wire.
///
/// It is itself a [`Stream`](futures_core::Stream) of the value's bytes
/// (`Result<Bytes, Error>` chunks), with the record's [`key`](RecordStream::key),
/// [`content_type`](RecordStream::content_type) and
/// [`content_length`](RecordStream::content_length) as methods.
///
/// Chunk by chunk, with [`TryStreamExt`](crate::prelude::TryStreamExt) from
/// [`apify_host::prelude`](crate::prelude):
///
/// ```no_run
/// use apify_host::prelude::*;
///
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// let Some(mut rec) = client.key_value_store("my-store").stream_record("big").await? else {
///     return Ok(()); // no such record
/// };
/// println!("{}: {:?}, {:?} bytes", rec.key(), rec.content_type(), rec.content_length());
/// let mut total = 0;
/// while let Some(chunk) = rec.try_next().await? {
///     total += chunk.len();
/// }
/// # Ok(()) }
/// ```
///
/// Down to a file, as a [`tokio::io::AsyncRead`]:
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), Box<dyn std::error::Error>> {
/// if let Some(rec) = client.key_value_store("my-store").stream_record("big").await? {
///     let mut file = tokio::fs::File::create("big.bin").await?;
///     tokio::io::copy(&mut rec.into_async_read(), &mut file).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RecordStream {
    /// The key.
    #[deprecated(since = "0.2.0", note = "use the `key()` method")]
    pub key: String,
    /// The value as a stream, with its content type and (when known) length. The
    /// `RecordStream` is itself that stream.
    #[deprecated(
        since = "0.2.0",
        note = "poll the `RecordStream` itself, or use `into_body()`"
    )]
    pub value: StreamedBody,
}

// The deprecated fields are still the storage; only callers outside are steered to the methods.
#[allow(deprecated)]
impl RecordStream {
    pub(crate) fn new(key: &str, value: StreamedBody) -> Self {
        RecordStream {
            key: key.to_string(),
            value,
        }
    }

    /// The record's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Content-Type` the record was stored with, if sent.
    pub fn content_type(&self) -> Option<&str> {
        self.value.content_type()
    }

    /// The value's length in bytes, when the server announced it and the body is not
    /// re-encoded.
    pub fn content_length(&self) -> Option<u64> {
        self.value.content_length()
    }

    /// The value as a [`StreamedBody`], without the key.
    pub fn into_body(self) -> StreamedBody {
        self.value
    }

    /// The value as a [`tokio::io::AsyncRead`] (see [`crate::pipeline::ByteStream::into_async_read`]),
    /// for [`tokio::io::copy`].
    pub fn into_async_read(self) -> impl tokio::io::AsyncRead + Send + Unpin {
        self.value.into_async_read()
    }
}

#[allow(deprecated)]
impl futures_core::Stream for RecordStream {
    type Item = Result<Bytes, Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.value).poll_next(cx)
    }
}

/// A client for one key-value store.
#[derive(Clone, Debug)]
pub struct KeyValueStoreClient {
    pub(super) res: ResourceClient,
}

impl KeyValueStoreClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        KeyValueStoreClient {
            res: ResourceClient::item(pipeline, "key-value-stores", id),
        }
    }

    /// The store, or `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<KeyValueStore>, Error> {
        self.res.get().await
    }

    /// Changes the name and/or access of the store; answers the updated store.
    pub async fn update(&self, fields: &StorageUpdate) -> Result<KeyValueStore, Error> {
        self.res.update(fields, TimeoutTier::Medium).await
    }

    /// Deletes the store (no error if it does not exist).
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// One page of keys (at most 1000).
    pub async fn list_keys(&self, opts: &ListKeysOptions) -> Result<ListOfKeys, Error> {
        let req = self
            .res
            .sub(Method::GET, &["keys"])
            .query_all(opts)?
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// All keys matching `opts` (up to `opts.limit`), fetched page by page via
    /// `nextExclusiveStartKey` as the stream is consumed.
    pub fn iterate_keys(&self, opts: &ListKeysOptions) -> ItemStream<KeyValueStoreKey> {
        let this = self.clone();
        let opts = opts.clone();
        let paging = Paging {
            limit: opts.limit,
            chunk_size: opts.chunk_size,
        };
        let start = opts.exclusive_start_key.clone();
        by_cursor(start, paging, move |start_key, limit| {
            let this = this.clone();
            let page = ListKeysOptions {
                limit: Some(limit),
                exclusive_start_key: start_key,
                ..opts.clone()
            };
            async move {
                let page = this.list_keys(&page).await?;
                let next = page
                    .next_exclusive_start_key
                    .clone()
                    .or_else(|| page.items.last().map(|k| k.key.clone()))
                    .filter(|_| page.is_truncated);
                Ok((page.items, next))
            }
        })
    }

    /// The record, decoded by content type, or `None` if there is no such record (or store).
    pub async fn get_record(&self, key: &str) -> Result<Option<Record>, Error> {
        self.read_record(key, None).await
    }

    /// [`KeyValueStoreClient::get_record`] with a `signature` that grants access without the
    /// token (the one a record's public URL carries).
    pub async fn get_record_signed(
        &self,
        key: &str,
        signature: &str,
    ) -> Result<Option<Record>, Error> {
        self.read_record(key, Some(signature)).await
    }

    async fn read_record(
        &self,
        key: &str,
        signature: Option<&str>,
    ) -> Result<Option<Record>, Error> {
        let Some(r) = self.read_record_bytes(key, signature).await? else {
            return Ok(None);
        };
        Ok(Some(Record {
            value: RecordValue::decode(r.content_type.as_deref(), r.value)?,
            key: r.key,
            content_type: r.content_type,
        }))
    }

    /// The record's bytes, or `None` if there is no such record.
    pub async fn get_record_as_bytes(&self, key: &str) -> Result<Option<RecordBytes>, Error> {
        self.read_record_bytes(key, None).await
    }

    /// [`KeyValueStoreClient::get_record_as_bytes`] with a `signature` that grants access
    /// without the token.
    pub async fn get_record_as_bytes_signed(
        &self,
        key: &str,
        signature: &str,
    ) -> Result<Option<RecordBytes>, Error> {
        self.read_record_bytes(key, Some(signature)).await
    }

    async fn read_record_bytes(
        &self,
        key: &str,
        signature: Option<&str>,
    ) -> Result<Option<RecordBytes>, Error> {
        let Some(stream) = self.open_record(key, false, signature).await? else {
            return Ok(None);
        };
        let content_type = stream.content_type().map(str::to_string);
        Ok(Some(RecordBytes {
            key: key.to_string(),
            value: stream.into_stream().collect_bytes().await?,
            content_type,
        }))
    }

    /// The record as a stream (bounded memory, whatever its size), or `None` if there is no
    /// such record.
    pub async fn stream_record(&self, key: &str) -> Result<Option<RecordStream>, Error> {
        self.stream_record_with(key, None).await
    }

    /// [`KeyValueStoreClient::stream_record`] with a `signature` that grants access without
    /// the token.
    pub async fn stream_record_signed(
        &self,
        key: &str,
        signature: &str,
    ) -> Result<Option<RecordStream>, Error> {
        self.stream_record_with(key, Some(signature)).await
    }

    async fn stream_record_with(
        &self,
        key: &str,
        signature: Option<&str>,
    ) -> Result<Option<RecordStream>, Error> {
        Ok(self
            .open_record(key, true, signature)
            .await?
            .map(|value| RecordStream::new(key, value)))
    }

    async fn open_record(
        &self,
        key: &str,
        stream: bool,
        signature: Option<&str>,
    ) -> Result<Option<StreamedBody>, Error> {
        // `attachment=true` makes the API send the stored bytes as they are (as the Python
        // client asks), rather than a representation chosen by content negotiation.
        let mut req = self
            .res
            .sub(Method::GET, &["records", key])
            .query("attachment", true)
            .timeout(TimeoutTier::Long);
        if let Some(sig) = signature {
            req = req.query("signature", sig);
        }
        if stream {
            req = req.stream();
        }
        Ok(not_found_as_none(self.res.call(req).await)?.map(StreamedBody::from_response))
    }

    /// Whether the record exists (`HEAD`).
    pub async fn record_exists(&self, key: &str) -> Result<bool, Error> {
        let req = self
            .res
            .sub(Method::HEAD, &["records", key])
            .timeout(TimeoutTier::Short);
        match self.res.drain(req).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores `value` under `key`. Without `content_type`, JSON goes as
    /// `application/json; charset=utf-8`, text as `text/plain; charset=utf-8` and bytes as
    /// `application/octet-stream`.
    pub async fn set_record(
        &self,
        key: &str,
        value: impl Into<RecordValue>,
        content_type: Option<&str>,
    ) -> Result<(), Error> {
        let (body, default_type) = value.into().encode()?;
        self.set_record_bytes(key, body, content_type.unwrap_or(default_type))
            .await
    }

    /// Stores `body` under `key` with `content_type`, sent as is.
    pub async fn set_record_bytes(
        &self,
        key: &str,
        body: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<(), Error> {
        self.set_record_from(key, UploadBody::from_bytes(body), content_type)
            .await
    }

    /// Stores a body read as it is sent (a file, a reader, a stream: see [`UploadBody`]) under
    /// `key` with `content_type`, without holding it in memory. It is gzipped on the fly when
    /// a sample of it shows that pays (at least 10 % saved). A failed attempt sends a file
    /// again from its start; a one-time stream that failed after part of it was sent is an
    /// error that says so, never a retry with part of the body.
    pub async fn set_record_from(
        &self,
        key: &str,
        body: UploadBody,
        content_type: &str,
    ) -> Result<(), Error> {
        if http::HeaderValue::from_str(content_type).is_err() {
            return Err(Error::invalid_input(format!(
                "{content_type:?} is not a valid content type"
            )));
        }
        let req = self
            .res
            .sub(Method::PUT, &["records", key])
            .upload(content_type, body)
            .timeout(TimeoutTier::Long);
        self.res.drain(req).await
    }

    /// Stores `body` under `key` as it is, with `content_type` and the `content_encoding`
    /// (e.g. `gzip`) already applied to it, sent as `Content-Encoding` (the pipeline then does
    /// not compress it again).
    pub async fn set_record_encoded(
        &self,
        key: &str,
        body: impl Into<Bytes>,
        content_type: &str,
        content_encoding: &str,
    ) -> Result<(), Error> {
        for (name, value) in [
            ("content type", content_type),
            ("content encoding", content_encoding),
        ] {
            if http::HeaderValue::from_str(value).is_err() {
                return Err(Error::invalid_input(format!(
                    "{value:?} is not a valid {name}"
                )));
            }
        }
        let req = self
            .res
            .sub(Method::PUT, &["records", key])
            .body(content_type, body)
            .header("content-encoding", content_encoding)
            .timeout(TimeoutTier::Long);
        self.res.drain(req).await
    }

    /// A URL that reads the record without a token: built on the client's `api_public_url`
    /// and, when the token may read the store's URL signing key (one `GET` of the store),
    /// signed with the HMAC of the key. The signature does not expire.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), apify_host::Error> {
    /// let client = apify_host::ApifyClient::new("my-token")?;
    /// let store = client.key_value_store("my-store-id");
    /// store.set_record("report.json", serde_json::json!({"ok": true}), None).await?;
    /// // Share it: anyone with the URL can read this one record, and nothing else.
    /// let url = store.get_record_public_url("report.json").await?;
    /// println!("{url}");
    /// # Ok(()) }
    /// ```
    pub async fn get_record_public_url(&self, key: &str) -> Result<String, Error> {
        let store = self.get().await?;
        let mut req = self.res.sub(Method::GET, &["records", key]);
        if let Some(secret) = store
            .as_ref()
            .and_then(|s| super::public_url::signing_secret(&s.extra))
        {
            // The API checks the HMAC of the key as it decodes it from the path: the raw key.
            req = req.query(
                "signature",
                crate::signing::create_hmac_signature(secret, key),
            );
        }
        Ok(super::public_url::public_url(&self.res, &req))
    }

    /// A URL that lists the keys selected by `opts` without a token: built on the client's
    /// `api_public_url`, with the options in its query, and signed when the token may read
    /// the store's URL signing key (one `GET` of the store); the signature expires after
    /// `expires_in`, or never. `opts.signature` and `opts.chunk_size` are ignored.
    pub async fn create_keys_public_url(
        &self,
        opts: &ListKeysOptions,
        expires_in: Option<std::time::Duration>,
    ) -> Result<String, Error> {
        let store = self.get().await?;
        let unsigned = ListKeysOptions {
            signature: None,
            ..opts.clone()
        };
        let mut req = self.res.sub(Method::GET, &["keys"]).query_all(&unsigned)?;
        if let Some(s) = &store {
            if let Some(secret) = super::public_url::signing_secret(&s.extra) {
                let sig =
                    crate::signing::create_storage_content_signature(&s.id, secret, expires_in, 0);
                req = req.query("signature", sig);
            }
        }
        Ok(super::public_url::public_url(&self.res, &req))
    }

    /// Deletes the record.
    pub async fn delete_record(&self, key: &str) -> Result<(), Error> {
        let req = self
            .res
            .sub(Method::DELETE, &["records", key])
            .timeout(TimeoutTier::Short);
        self.res.drain(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_by_content_type() {
        let j = RecordValue::decode(Some("application/json; charset=utf-8"), Bytes::from("[1]"));
        assert_eq!(j.unwrap(), RecordValue::Json(serde_json::json!([1])));
        let t = RecordValue::decode(Some("text/plain"), Bytes::from("hi"));
        assert_eq!(t.unwrap(), RecordValue::Text("hi".into()));
        let x = RecordValue::decode(Some("application/rss+xml"), Bytes::from("<a/>"));
        assert_eq!(x.unwrap(), RecordValue::Text("<a/>".into()));
        let b = RecordValue::decode(Some("image/png"), Bytes::from_static(b"\x89PNG"));
        assert_eq!(
            b.unwrap(),
            RecordValue::Bytes(Bytes::from_static(b"\x89PNG"))
        );
        assert!(RecordValue::decode(Some("application/json"), Bytes::from("{")).is_err());
    }
}
