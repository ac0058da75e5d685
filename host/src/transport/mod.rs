//! Transports: the layer that performs one HTTP exchange.
//!
//! Every transport speaks the same types as a plugin author does ([`TransportRequest`],
//! [`TransportResponse`], [`TransportError`] from `apify-plugin-api`), so a transport behaves
//! alike whether it is compiled in, loaded from a `.so`, or passed in-process. The pipeline
//! above adds retries, timeouts and error mapping for all of them.
//!
//! This layer knows nothing of the config file or of the crate's [`crate::Error`]: the plugin
//! loader takes its options as values and answers its own [`PluginLoadError`].

mod builtin;
mod custom;
#[cfg(target_os = "linux")]
pub mod isolated;
pub mod plugin;

use std::{future::Future, pin::Pin};

pub use apify_plugin_api::{
    Body as TransportBody, Error as TransportError, ErrorKind as TransportErrorKind,
    Request as TransportRequest, RequestBody as TransportRequestBody,
    Response as TransportResponse,
};
pub use builtin::BuiltinTransport;
pub use custom::InProcess;
#[cfg(target_os = "linux")]
pub use isolated::{IsolatedTransport, WorkerCounts};
pub use plugin::Isolation;
// The crate's own layers (config, error) name these by their `transport::` path.
pub(crate) use plugin::PluginLoadError;
#[cfg(feature = "config")]
pub(crate) use plugin::{
    inspect_plugin_lending, load_plugin, PluginInspectReport, PluginLoadOptions,
};

/// A boxed future returned by [`HttpTransport::call`].
pub type CallFuture =
    Pin<Box<dyn Future<Output = Result<TransportResponse, TransportError>> + Send + 'static>>;

/// One HTTP exchange, whatever performs it. Implement it to pass an in-process transport to
/// [`crate::ApifyClient::with_custom_http_client`], or use [`InProcess`] to run any
/// `apify_plugin_api::Transport` in-process unchanged.
pub trait HttpTransport: Send + Sync + 'static {
    /// A short name for logs and statistics (`"builtin"`, `"plugin:reqwest"`, ...).
    fn name(&self) -> &str;

    /// Sends `request`; resolves once the response head has arrived, the body follows as a
    /// stream. Must not retry: the pipeline does.
    fn call(&self, request: TransportRequest) -> CallFuture;
}
