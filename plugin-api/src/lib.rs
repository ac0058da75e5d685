//! The stable-ABI interface between the Apify API client host and its HTTP transport plugins.
//!
//! A plugin is a `cdylib` that performs exactly one HTTP exchange per call; retries, timeouts,
//! error mapping and statistics live in the host's pipeline, above this interface.
//!
//! Three layers, read top to bottom:
//! - [`Transport`] (in [`export`]): the plain async Rust trait a plugin author implements, with
//!   plain Rust types ([`Request`], [`Response`], [`Error`]).
//! - [`export_plugin!`]: wraps an implementation into the FFI types below. It owns the plugin's
//!   tokio runtime, converts types, and catches every panic at the boundary.
//! - [`ffi`] and [`module`]: the `#[repr(C)]` types, the `HttpClient` trait object and the root
//!   module whose layout abi_stable checks when the host loads the library.
//!
//! ```ignore
//! struct MyTransport { /* ... */ }
//! impl apify_plugin_api::Transport for MyTransport { /* metadata, new, call */ }
//! apify_plugin_api::export_plugin!(MyTransport);
//! ```
#![warn(missing_docs)]
#![allow(non_local_definitions)] // emitted by #[sabi_trait]; see DESIGN §4.

pub mod export;
pub mod ffi;
pub mod history;
pub mod module;
pub mod types;

pub use export::Transport;
pub use ffi::ErrorKind;
pub use module::{Capabilities, PluginModRef, API_MAJOR, API_MINOR};
pub use types::{Body, Error, Metadata, Request, Response};

// The types the `Transport` trait speaks, so a plugin needs no other dependency to match them.
pub use bytes;
pub use http;
pub use serde_json;

/// Re-exports used by [`export_plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
}
