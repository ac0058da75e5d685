//! The HTTP pipeline every call goes through, whatever the transport: prepare → retry loop →
//! transport.
//!
//! What a caller meets here:
//! - [`HttpSettings`]: retries, backoff and the timeout tiers, set with
//!   [`ApifyClientBuilder::settings`](crate::ApifyClientBuilder::settings) or the
//!   config file's `[http]` table;
//! - [`StatisticsSnapshot`]: what the pipeline counted (calls, attempts, 429s per attempt),
//!   from [`ApifyClient::statistics`](crate::ApifyClient::statistics);
//! - [`ApiRequest`] / [`ApiResponse`] / [`ByteStream`]: a raw call to any endpoint through
//!   [`ApifyClient::request`](crate::ApifyClient::request), with the same retries;
//! - [`UploadBody`]: a streamed upload (a file, a reader) that is sent again on a retry;
//! - [`AbortHandle`]: ends calls on purpose, from any thread.
//!
//! Inside, resource clients describe a call as an [`ApiRequest`] and the pipeline runs it:
//! 1. `prepare`: URL with the encoded query, default headers merged with the call's own
//!    (case-insensitively, the call wins), the body with its content type, gzipped once.
//! 2. `retry`: which outcomes are retried (429, 5xx, transient transport errors) and how long
//!    to wait (jittered exponential backoff, `Retry-After`). The one place that classifies.
//!    A body read inside the loop goes into one buffer, or into the call's `sink` as it
//!    arrives (`list_items` parses items that way, never holding the body and the items at
//!    once).
//! 3. `engine`: the loop itself, with per-attempt timeouts enforced by the host, errors
//!    mapped to [`crate::Error`] (token redacted), statistics and `tracing` events.
//!
//! A transport only ever performs one exchange.

mod abort;
mod engine;
mod prepare;
mod request;
mod response;
mod retry;
mod settings;
mod sink;
mod slot;
mod stats;
mod upload;

pub use abort::AbortHandle;
pub(crate) use engine::Pipeline;
pub use request::{ApiRequest, ParamValue, TimeoutTier};
pub use response::{ApiResponse, ByteStream};
pub use settings::HttpSettings;
pub(crate) use sink::{BodySink, MakeSink};
pub use slot::{CanaryPolicy, DrainReport, TransportRole, TransportStatistics, TransportSwap};
pub(crate) use slot::{CanaryTransport, LineupChange};
pub use stats::StatisticsSnapshot;
pub use upload::UploadBody;
