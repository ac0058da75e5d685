//! An Apify API client whose HTTP transport is chosen at run time.
//!
//! ```no_run
//! use apify_host::{prelude::*, ApifyClient};
//!
//! # async fn demo() -> apify_host::Result<()> {
//! // Token, API URL, retries and the transport (built-in, or a plugin `.so`) from
//! // APIFY_TOKEN, APIFY_API_BASE_URL, APIFY_TRANSPORT_PLUGIN and the config file.
//! let client = ApifyClient::from_env()?;
//! let run = client
//!     .actor("apify/hello-world")
//!     .call(Some(&serde_json::json!({ "message": "Hi" })), &Default::default())
//!     .await?;
//! // The run's default dataset, page after page as the stream is consumed.
//! let mut items = client
//!     .run(&run.id)
//!     .dataset()
//!     .iterate_items::<serde_json::Value>(&Default::default());
//! while let Some(item) = items.try_next().await? {
//!     println!("{item}");
//! }
//! # Ok(()) }
//! ```
//!
//! The data path reads top to bottom: [`ApifyClient`] → a resource client from [`clients`] →
//! the [`pipeline`] (prepare, retry loop, timeouts, errors, statistics) → a [`transport`]
//! (built-in, a loaded [`transport::plugin`], or an in-process transport). Retries, timeouts
//! and error mapping live in the pipeline, so every transport behaves alike.
//!
//! # Where things are
//!
//! | Module | What it holds |
//! |---|---|
//! | the root | [`ApifyClient`] and its [`ApifyClientBuilder`], [`Error`] / [`ErrorKind`] / [`Result`], [`RequestBuilder`] for raw calls, [`Token`], [`reload_on_sighup`] |
//! | [`clients`] | one client per API resource (`client.actor(id)` → [`clients::ActorClient`], ...) and the streams they return |
//! | [`models`] | what the API answers ([`models::Run`], [`models::Dataset`], ...) and the bodies you send ([`models::RunInput`], [`models::WebhookFields`], ...) |
//! | [`options`] | the options of the calls, each built the same way: `XOptions::new().field(value)` |
//! | [`blocking`] | the same clients with blocking methods, in the manner of `reqwest::blocking` |
//! | [`config`] | the config file and the environment (default feature `config`) |
//! | [`transport`] | the transport interface, the built-in transport, [`transport::plugin`] (the safe loader) |
//! | [`pipeline`] | retries and timeouts ([`pipeline::HttpSettings`]), statistics, raw requests and responses, swaps and canaries ([`pipeline::TransportSwap`], [`pipeline::CanaryPolicy`], [`pipeline::TransportStatistics`]) |
//! | [`error`] | the details behind an [`Error`]: the API's error body, a transport failure |
//! | [`redact`], [`signing`] | credential redaction; signed storage URLs |
//! | [`prelude`] | the stream traits: `use apify_host::prelude::*;` |
//!
//! Errors are one [`Error`] to question: [`Error::kind`] gives an [`ErrorKind`] to `match` on
//! (`NotFound`, `RateLimited`, `Timeout`, `Config`, `Misuse`, ...). Credentials never reach
//! output: errors, `Debug` and logs go through [`redact`].

#![warn(missing_docs)]

// The layers, bottom up; nothing depends on a layer above it.
pub mod blocking;
mod client;
#[cfg(feature = "config")]
pub mod config;
pub mod error;
pub mod pipeline;
pub mod redact;
mod resources;
pub mod signing;
mod token;
pub mod transport;

// The names of earlier releases (deprecated, hidden from the docs).
#[doc(hidden)]
pub use moved::*;
mod moved;

#[cfg(unix)]
pub use client::reload_on_sighup;
pub use client::{ApifyClient, ApifyClientBuilder, RequestBuilder};
#[doc(inline)]
pub use error::{Error, ErrorKind};
pub use token::Token;

/// `Result<T, apify_host::Error>`, the answer of every call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.apify.com";

/// The resource clients, one per API resource, and the streams they return.
///
/// Each client is a cheap handle (a clone of the [`ApifyClient`] plus the resource's encoded
/// path) with the methods of the Python `apify-client` resource clients, in `async` form. Get
/// them from the [`ApifyClient`]: `client.actor("apify/hello-world")`, `client.datasets()`, ...
///
/// ```no_run
/// use apify_host::{options::ListItemsOptions, prelude::*, ApifyClient};
///
/// # async fn demo() -> apify_host::Result<()> {
/// let client = ApifyClient::new("my-token")?;
/// let dataset = client.datasets().get_or_create(Some("my-results"), None).await?;
/// let ds = client.dataset(&dataset.id);
/// ds.push_items(&serde_json::json!([{"url": "https://a.example"}])).await?;
/// let mut items = ds.iterate_items::<serde_json::Value>(&ListItemsOptions::new().limit(100));
/// while let Some(item) = items.try_next().await? {
///     println!("{item}");
/// }
/// # Ok(()) }
/// ```
///
/// Conventions, as in the Python client:
/// - `get`-like calls answer `Ok(None)` for a 404 `record-not-found`, `delete` is then a no-op;
/// - `list_*` return one page ([`models::ListPage`]), `iterate_*` return an [`ItemStream`]
///   that fetches page after page as it is consumed;
/// - `stream_*` return the body, never buffered as a whole, as a value that is itself a
///   [`Stream`](prelude::Stream) of `Result<Bytes, Error>` chunks with its metadata as methods
///   ([`RecordStream`], [`StreamedBody`]); `into_async_read()` makes any of them a
///   [`tokio::io::AsyncRead`] for `tokio::io::copy`;
/// - models keep the fields the API sends that they do not name in `extra`.
///
/// [`ItemStream`]: clients::ItemStream
/// [`RecordStream`]: clients::RecordStream
/// [`StreamedBody`]: clients::StreamedBody
pub mod clients {
    pub use crate::resources::{
        ActorClient, ActorCollectionClient, ActorEnvVarClient, ActorEnvVarCollectionClient,
        ActorVersionClient, ActorVersionCollectionClient, BuildClient, BuildCollectionClient,
        DatasetClient, DatasetCollectionClient, ItemStream, KeyValueStoreClient,
        KeyValueStoreCollectionClient, LogClient, RecordStream, RequestQueueClient,
        RequestQueueCollectionClient, RunClient, RunCollectionClient, ScheduleClient,
        ScheduleCollectionClient, StatusMessageWatcher, StoreCollectionClient, StreamedBody,
        StreamedLog, TaskClient, TaskCollectionClient, UserClient, WebhookClient,
        WebhookCollectionClient, WebhookDispatchClient, WebhookDispatchCollectionClient,
        MAX_PUSH_PAYLOAD_BYTES,
    };
}

/// What the API answers, and the bodies you send it.
///
/// Every model keeps the fields the API sent that it does not name in its `extra` map, so
/// nothing the API adds is lost; timestamps are UTC.
pub mod models {
    pub use crate::resources::{
        AccountLimits, Actor, ActorJobStatus, ActorVersion, AdHocWebhook, BatchOperationResult,
        Build, Dataset, DatasetStatistics, EnvVar, Extra, KeyValueStore, KeyValueStoreKey,
        LimitsUpdate, ListOfKeys, ListOfRequests, ListPage, LockedRequestQueueHead, MonthlyUsage,
        ProcessedRequest, PushSummary, QueueRequest, Record, RecordBytes, RecordValue,
        RequestLockInfo, RequestOperationInfo, RequestQueue, RequestQueueHead, Run, RunInput,
        RunUpdate, Schedule, ScheduleFields, ScheduleInvocation, StorageUpdate, StoreListActor,
        Task, ToRunInput, UnlockRequestsResult, UnprocessedRequest, User, Webhook, WebhookDispatch,
        WebhookFields,
    };
}

/// The options of the calls, all built the same way: start from `new()` (or `default()`) and
/// chain a setter per field, then pass the options by reference.
///
/// ```
/// use apify_host::options::{CallOptions, ListItemsOptions, StartOptions};
/// use std::time::Duration;
///
/// let items = ListItemsOptions::new().limit(100).clean(true).fields(["url", "title"]);
/// let call = CallOptions::new()
///     .start(StartOptions::new().memory_mbytes(1024).build("latest"))
///     .wait(Duration::from_secs(300));
/// assert_eq!(items.limit, Some(100));
/// assert_eq!(call.start.memory_mbytes, Some(1024));
/// ```
///
/// The structs are `#[non_exhaustive]`: their fields are public to read, and a new field in a
/// later release is not a breaking change.
pub mod options {
    pub use crate::resources::{
        ActorListOptions, BatchAddOptions, BuildOptions, CallOptions, ChargeOptions,
        DownloadItemsOptions, ListItemsOptions, ListKeysOptions, ListOptions, ListRequestsOptions,
        ListRunsOptions, LogRedirect, PageOptions, PushItemsOptions, ResurrectOptions,
        StartOptions, StoreListOptions,
    };
}

/// What a caller needs to consume the crate's streams: `use apify_host::prelude::*;`.
///
/// [`RecordStream`](clients::RecordStream), [`StreamedBody`](clients::StreamedBody),
/// [`ByteStream`](pipeline::ByteStream) and the `iterate_*`
/// [`ItemStream`](clients::ItemStream)s are [`Stream`](prelude::Stream)s;
/// [`TryStreamExt`](prelude::TryStreamExt) adds `try_next`, `try_collect`, ... and
/// [`StreamExt`](prelude::StreamExt) adds `next`, `map`, ... (the `futures-util` 0.3 traits,
/// re-exported so no extra dependency is needed).
pub mod prelude {
    pub use futures_core::Stream;
    pub use futures_util::{StreamExt, TryStreamExt};
}

/// The compiler that built this crate, for the `User-Agent` header.
pub(crate) const RUSTC_VERSION: &str = env!("APIFY_HOST_RUSTC_VERSION");

/// The client, its errors, every resource client (async and blocking) and the values a caller
/// may hand to another thread or task are `Send + Sync`; the streams are `Send` (as reqwest
/// states for its own types). A compile-time check: nothing runs.
fn _assert_impls() {
    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    macro_rules! send_sync {
        ($($t:ty),* $(,)?) => {$( assert_send_sync::<$t>(); )*};
    }

    send_sync!(
        ApifyClient,
        ApifyClientBuilder,
        Error,
        ErrorKind,
        error::ApiError,
        transport::plugin::PluginLoadError,
        transport::TransportError,
        pipeline::HttpSettings,
        pipeline::AbortHandle,
        pipeline::StatisticsSnapshot,
        redact::Redactor,
        Token,
        blocking::ApifyClient,
        // The resource clients, async and blocking, are checked where their macros define
        // them (resources/base/mod.rs, blocking/macros.rs).
    );

    // Streams and background followers: movable to another task or thread.
    assert_send::<pipeline::ByteStream>();
    assert_send::<clients::StreamedBody>();
    assert_send::<clients::RecordStream>();
    assert_send::<clients::ItemStream<serde_json::Value>>();
    assert_send::<pipeline::ApiResponse>();
    assert_send::<clients::StreamedLog>();
    assert_send::<clients::StatusMessageWatcher>();
    assert_send::<blocking::BodyReader>();
    assert_send::<blocking::RecordReader>();
    assert_send::<blocking::Iter<serde_json::Value>>();
    assert_send::<blocking::StreamedLog>();
    assert_send::<blocking::StatusMessageWatcher>();
}

/// The README's Rust examples, compiled as doc tests so the README shows the library as it is.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

/// The parity guide's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/python-parity.md")]
struct PythonParityExamples;
