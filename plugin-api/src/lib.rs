//! The stable-ABI interface between the Apify API client host and its HTTP transport plugins.
//!
//! A plugin is a `cdylib` that performs exactly one HTTP exchange per call; retries, timeouts,
//! error mapping and statistics live in the host's pipeline, above this interface.
//!
//! What a plugin author uses is at the crate root:
//! - [`Transport`]: the plain async Rust trait a plugin implements, with plain Rust types
//!   ([`Request`], [`RequestBody`], [`Response`], [`Body`], [`Error`], [`ErrorKind`], [`Metadata`],
//!   [`Capabilities`]) and helpers for error messages ([`error_chain`], [`chain_has`],
//!   [`redact_userinfo`]).
//! - [`export_plugin!`]: wraps an implementation into the FFI types. It owns the plugin's tokio
//!   runtime, converts types, and catches every panic at the boundary.
//! - [`HostedTransport`] (added in 1.3), exported with `export_plugin!(hosted T)`: a transport
//!   that runs on the host's threads, through the sockets, tasks and timers the host lends it
//!   ([`Host`]), so an exchange costs no thread hand-off (hyper-based clients can do this;
//!   reqwest cannot).
//!
//! The binary interface underneath (the `#[repr(C)]` types, the `HttpClient` trait object, the
//! root module whose layout abi_stable checks when the host loads the library, the snapshots of
//! earlier versions, and the conversions) is the host's business, and is public only under
//! [`abi`].
//!
//! ```ignore
//! struct MyTransport { /* ... */ }
//! impl apify_plugin_api::Transport for MyTransport { /* metadata, new, call */ }
//! apify_plugin_api::export_plugin!(MyTransport);
//! ```
#![warn(missing_docs)]
// abi_stable 0.11's `#[sabi_trait]` (the three trait objects in ffi.rs) expands to `impl` blocks
// nested inside other items, which rustc's `non_local_definitions` lint reports. The code is the
// macro's, not ours, and it is sound; the lint only asks for a different expansion.
#![allow(non_local_definitions)]

pub mod abi;
mod convert;
mod export;
mod ffi;
mod history;
mod hosted;
mod module;
mod services;
mod types;

pub use export::Transport;
pub use ffi::ErrorKind;
pub use hosted::{Host, HostSleep, HostTcp, HostedTransport};
pub use module::{Capabilities, API_MAJOR, API_MINOR};
pub use types::{
    chain_has, error_chain, redact_userinfo, Body, Error, Metadata, Request, RequestBody, Response,
};

// The types the `Transport` trait speaks, so a plugin needs no other dependency to match them.
pub use bytes;
pub use http;
pub use serde_json;

/// Re-exports used by [`export_plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::module::{hosted_root_module, root_module};
    pub use abi_stable;
}
