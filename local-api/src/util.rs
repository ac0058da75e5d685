//! Small pure helpers: ids and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::distr::{Alphanumeric, SampleString};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats epoch milliseconds the way the API does: UTC ISO 8601 with milliseconds and `Z`.
pub fn format_millis(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new random id shaped like the API's: `len` alphanumeric characters (storages use 17).
pub fn new_id(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}
