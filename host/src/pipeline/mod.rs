//! The HTTP pipeline every transport goes through: prepare → retry loop → transport.
//!
//! Resource clients describe a call as an [`ApiRequest`]; the [`Pipeline`] runs it:
//! 1. `prepare`: URL with the encoded query, default headers merged with the call's own
//!    (case-insensitively, the call wins), the body with its content type, gzipped once.
//! 2. `retry`: which outcomes are retried (429, 5xx, transient transport errors) and how long
//!    to wait (jittered exponential backoff, `Retry-After`). The one place that classifies.
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
mod stats;
mod upload;

pub use abort::AbortHandle;
pub(crate) use engine::Pipeline;
pub use request::{ApiRequest, ParamValue, TimeoutTier};
pub use response::{ApiResponse, ByteStream};
pub use settings::HttpSettings;
pub use stats::StatisticsSnapshot;
pub use upload::UploadBody;
