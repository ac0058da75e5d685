//! Transports: the layer that performs one HTTP exchange.
//!
//! Every transport speaks the same types as a plugin author does ([`Request`], [`Response`],
//! [`Error`] from `apify-plugin-api`), so a transport behaves alike whether it is compiled in,
//! loaded from a `.so`, or passed in-process. The pipeline above ([`crate::http`]) adds retries,
//! timeouts and error mapping for all of them.

pub mod builtin;
pub mod custom;
pub mod plugin;
pub mod select;

use std::{future::Future, pin::Pin};

pub use apify_plugin_api::{Body, Error, ErrorKind, Request, Response};

/// A boxed future returned by [`HttpTransport::call`].
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'static>>;

/// One HTTP exchange, whatever performs it.
pub trait HttpTransport: Send + Sync + 'static {
    /// A short name for logs and statistics (`"builtin"`, `"plugin:reqwest"`, ...).
    fn name(&self) -> &str;

    /// Sends `request`; resolves once the response head has arrived, the body follows as a
    /// stream. Must not retry: the pipeline does.
    fn call(&self, request: Request) -> CallFuture;
}
