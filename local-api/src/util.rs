//! Small pure helpers: ids, timestamps, and secret comparison.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// Whether two secrets (tokens, signatures) are equal, in time that depends on neither's
/// content nor length: both are hashed first, so the comparison is always of two 32-byte
/// digests, and those are compared in constant time.
pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    given.ct_eq(&expected).into()
}
