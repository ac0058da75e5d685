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
//!   `--actor NAME=COMMAND`, see [`config::manifest`]), with runs, builds, tasks, webhooks
//!   (loopback only), schedules, the store listing and the user's usage and limits;
//! - signed storage URLs ([`signing`]);
//! - optional token checking;
//! - a control API under `/_control` (request log, seeding, reset), also available as
//!   methods of [`LocalApi`].
//!
//! It injects no faults: resets, cut or slow bodies and scripted error statuses come from
//! `testkit`, the one fault server the transport and pipeline tests share.
//!
//! # Layout
//!
//! The modules are layered: a file imports only from its own layer (without circles) or a
//! lower one, and api files never import each other (`tests/layers.rs` checks both).
//!
//! ```text
//! L7 server       server.rs shutdown.rs          the LocalApi handle, accept loop, shutdown signal
//! L6 api/         one file per resource group    routes() + handlers; api/mod.rs builds the router
//! L5 web/         axum glue shared by handlers   body, extract, response, log_stream, start, forward, gate
//! L4 engine/      what happens over time         start_run (the one place a run starts), supervisor, webhooks
//! L3 state.rs     AppState                       config-derived values + Db; find_actor/task/run/storage
//! L2 db/          the data                       plain structs + std locks; no axum, no spawn, no AppState
//! L1 config/      configuration                  LocalApiConfig, DEFAULT_*, Actor manifests
//! L0 leaves       error util identity params json process signing request_log
//! ```
//!
//! Public: [`LocalApi`], [`LocalApiConfig`] (and [`config`]), [`ApiError`],
//! [`LoggedRequest`], [`V2_ROUTES`] and [`signing`]; the rest is crate-private.

#![warn(missing_docs)]

// L0: leaves.
mod error;
mod identity;
mod json;
mod params;
mod process;
mod request_log;
pub mod signing;
mod util;
// L1: configuration.
pub mod config;
// L2: the data.
mod db;
// L3: the shared state.
mod state;
// L4: the engine.
mod engine;
// L5: web plumbing.
mod web;
// L6: the API.
mod api;
// L7: the server.
mod server;
mod shutdown;

pub use api::V2_ROUTES;
pub use config::LocalApiConfig;
pub use error::ApiError;
pub use request_log::LoggedRequest;
pub use server::LocalApi;
