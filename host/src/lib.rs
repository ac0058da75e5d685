//! An Apify API client whose HTTP transport is chosen at run time.
//!
//! The data path reads top to bottom:
//! [`ApifyClient`] → resource client ([`resources`]) → [`http::Pipeline`] (prepare, retry loop,
//! timeouts, errors, statistics) → [`transport::HttpTransport`] (built-in, plugin adapter, or
//! in-process custom) → plugin.
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! let client = apify_host::ApifyClient::builder().token("my-token").build()?;
//! let stats = client.statistics();
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
pub mod client;
pub mod config;
pub mod error;
pub mod http;
pub mod resources;
pub mod token;
pub mod transport;

pub use client::{ApifyClient, ApifyClientBuilder};
pub use error::{ApiError, ApiErrorKind, Error, TransportFailure};
pub use token::Token;

/// The compiler that built this crate, for the `User-Agent` header.
pub(crate) const RUSTC_VERSION: &str = env!("APIFY_HOST_RUSTC_VERSION");

/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.apify.com";
