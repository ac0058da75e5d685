//! An Apify API client whose HTTP transport is chosen at run time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! // Token, API URL, retries and the transport (built-in, or a plugin `.so`) from
//! // APIFY_TOKEN, APIFY_API_BASE_URL, APIFY_TRANSPORT_PLUGIN and the config file.
//! let client = apify_host::ApifyClient::from_env()?;
//! let me = client.me().get().await?;
//! let ds = client.datasets().get_or_create(Some("results"), None).await?;
//! client.dataset(&ds.id).push_items(&serde_json::json!([{"url": "https://a.example"}])).await?;
//! # Ok(()) }
//! ```
//!
//! The data path reads top to bottom: [`ApifyClient`] → resource client
//! ([`DatasetClient`], [`KeyValueStoreClient`], ...) → the pipeline (prepare, retry loop,
//! timeouts, errors, statistics) → [`HttpTransport`] (built-in, a loaded plugin, or an
//! in-process custom transport) → plugin. Retries, timeouts and error mapping live in the
//! pipeline, so every transport behaves alike.
//!
//! - Errors: one [`Error`] to question: [`Error::kind`] gives an [`ErrorKind`] to `match` on
//!   (`NotFound`, `RateLimited`, `Timeout`, `Config`, `Misuse`, ...), and `is_timeout()`,
//!   `is_rate_limited()`, `status()`, `api_error()`, `plugin_load_error()`, ... the details.
//! - Credentials never reach output: errors, `Debug` and logs go through [`Redactor`] /
//!   [`redact()`] (the token, URL userinfo, `token=`/`signature=` values, `Authorization`).
//! - Raw calls to any endpoint: [`ApifyClient::request`].
//! - Configuration (default feature `config`): [`ApifyClient::from_env`],
//!   [`ApifyClientBuilder::from_config`], [`Config`].
//! - Transports: [`HttpTransport`], [`InProcess`] for an in-process
//!   `apify_plugin_api::Transport`, [`load_plugin`] for a plugin file.

#![warn(missing_docs)]

// The layers, bottom up; nothing depends on a layer above it.
pub mod blocking;
mod client;
#[cfg(feature = "config")]
mod config;
mod error;
mod http;
mod redact;
mod resources;
pub mod signing;
mod token;
mod transport;

pub use client::{ApifyClient, ApifyClientBuilder, RequestBuilder};
#[cfg(feature = "config")]
pub use config::{Config, ConfigOverrides, ConfigSource, TransportSelection};
pub use error::{ApiError, ApiErrorKind, Error, ErrorKind, TransportFailure};
pub use http::{
    AbortHandle, ApiRequest, ApiResponse, ByteStream, HttpSettings, ParamValue, StatisticsSnapshot,
    TimeoutTier, UploadBody,
};
pub use redact::{redact, Redactor, MASK};

/// What a caller needs to consume the crate's streams: `use apify_host::prelude::*;`.
///
/// [`RecordStream`], [`StreamedBody`], [`ByteStream`] and the `iterate_*` [`ItemStream`]s are
/// [`Stream`](prelude::Stream)s; [`TryStreamExt`](prelude::TryStreamExt) adds `try_next`,
/// `try_collect`, ... and [`StreamExt`](prelude::StreamExt) adds
/// `next`, `map`, ... (the `futures-util` 0.3 traits, re-exported so no extra dependency is
/// needed).
pub mod prelude {
    pub use futures_core::Stream;
    pub use futures_util::{StreamExt, TryStreamExt};
}
pub use resources::*;
pub use token::Token;
pub use transport::{
    inspect_plugin, load_plugin, BuiltinTransport, CallFuture, HttpTransport, InProcess,
    LoadedPlugin, PluginCheck, PluginInfo, PluginInspectReport, PluginLoadError, PluginLoadFailure,
    PluginLoadOptions, PluginTransport, TransportBody, TransportError, TransportErrorKind,
    TransportRequest, TransportRequestBody, TransportResponse,
};

/// The compiler that built this crate, for the `User-Agent` header.
pub(crate) const RUSTC_VERSION: &str = env!("APIFY_HOST_RUSTC_VERSION");

/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.apify.com";

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
        ApiError,
        PluginLoadError,
        TransportError,
        HttpSettings,
        AbortHandle,
        StatisticsSnapshot,
        Redactor,
        Token,
        blocking::ApifyClient,
        // The resource clients, async and blocking, are checked where their macros define
        // them (resources/base/mod.rs, blocking/macros.rs).
    );

    // Streams and background followers: movable to another task or thread.
    assert_send::<ByteStream>();
    assert_send::<StreamedBody>();
    assert_send::<RecordStream>();
    assert_send::<ItemStream<serde_json::Value>>();
    assert_send::<ApiResponse>();
    assert_send::<StreamedLog>();
    assert_send::<StatusMessageWatcher>();
    assert_send::<blocking::BodyReader>();
    assert_send::<blocking::RecordReader>();
    assert_send::<blocking::Iter<serde_json::Value>>();
    assert_send::<blocking::StreamedLog>();
    assert_send::<blocking::StatusMessageWatcher>();
}
