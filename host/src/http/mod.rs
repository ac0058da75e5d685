//! The HTTP pipeline every transport goes through: prepare → retry loop → transport.
//!
//! Resource clients describe a call as an [`ApiRequest`]; the [`Pipeline`] turns it into wire
//! requests (default headers, query encoding, body compression), runs the retry loop with
//! per-attempt timeouts enforced by the host, maps failures to [`crate::Error`] and counts
//! [`Statistics`]. A transport only ever performs one exchange.

pub mod pipeline;
pub mod request;
pub mod response;
pub mod settings;
pub mod stats;

pub use pipeline::Pipeline;
pub use request::{ApiRequest, ParamValue, RequestBody, TimeoutTier};
pub use response::{ApiResponse, ByteStream};
pub use settings::HttpSettings;
pub use stats::{Statistics, StatisticsSnapshot};
