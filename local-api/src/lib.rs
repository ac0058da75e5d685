//! A local, in-memory server for the storage endpoints of the Apify API v2, for offline work,
//! integration tests of API clients, and benchmarks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use apify_local_api::{LocalApi, LocalApiConfig};
//!
//! let api = LocalApi::start(LocalApiConfig::with_token("secret")).await?;
//! let base = api.base_url(); // "http://127.0.0.1:PORT"; the API is under `{base}/v2`
//! // ... point a client at `base`, then check what it really sent:
//! let sent = api.request_log();
//! # let _ = (base, sent); Ok(()) }
//! ```
//!
//! What it serves (see `README.md` beside this crate for the details):
//! - `/v2/users/me`, datasets, key-value stores, request queues and logs, with the API's
//!   JSON shapes, status codes, pagination headers and error bodies;
//! - record bodies streamed to and from files in a temporary folder (removed on drop);
//! - local Actors that really run as child processes (registered at start: `--actors DIR`,
//!   `--actor NAME=COMMAND`, see [`actors`]), with runs, builds, tasks, webhooks (loopback
//!   only), schedules, the store listing and the user's usage and limits;
//! - signed storage URLs ([`signing`]);
//! - optional token checking;
//! - a control API under `/_control` (request log, seeding, reset), also available as
//!   methods of [`LocalApi`].
//!
//! It injects no faults: resets, cut or slow bodies and scripted error statuses come from
//! `testkit`, the one fault server the transport and pipeline tests share.

#![warn(missing_docs)]
pub mod actors;
pub mod body;
pub mod config;
pub mod error;
pub mod items;
mod middleware;
pub mod request_log;
pub mod routes;
pub mod server;
pub mod signing;
pub mod state;
pub mod store;
mod users;
pub mod util;

pub use config::LocalApiConfig;
pub use error::ApiError;
pub use request_log::LoggedRequest;
pub use server::LocalApi;
