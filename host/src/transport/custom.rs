//! In-process custom transports: the Rust analog of the Python client's
//! `with_custom_http_client`.
//!
//! Any [`apify_plugin_api::Transport`] can run in-process, unchanged: the same code a plugin
//! author exports from a `.so` can be linked into the host and passed to
//! [`crate::ApifyClient::with_custom_http_client`].

use std::sync::Arc;

use super::{CallFuture, HttpTransport, TransportError, TransportRequest as Request};

/// Adapts an in-process [`apify_plugin_api::Transport`] to [`HttpTransport`].
pub struct InProcess<T> {
    name: String,
    inner: Arc<T>,
}

impl<T: apify_plugin_api::Transport> InProcess<T> {
    /// Wraps an already-built transport.
    pub fn new(transport: T) -> Self {
        InProcess {
            name: format!("custom:{}", T::metadata().name),
            inner: Arc::new(transport),
        }
    }

    /// Builds the transport from its options, as the plugin loader would.
    pub fn from_options(options: serde_json::Value) -> Result<Self, TransportError> {
        T::new(options).map(Self::new)
    }
}

impl<T: apify_plugin_api::Transport> HttpTransport for InProcess<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: Request) -> CallFuture {
        let inner = self.inner.clone();
        Box::pin(async move { inner.call(request).await })
    }
}
