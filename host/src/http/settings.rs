//! Pipeline settings, with the Python client's defaults.

use std::time::Duration;

/// Retry, timeout and compression settings of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Retries after the first attempt (default 4, so 5 attempts).
    pub max_retries: u32,
    /// Base of the exponential backoff (default 500 ms).
    pub min_delay_between_retries: Duration,
    /// Timeout tier for quick calls (default 5 s).
    pub timeout_short: Duration,
    /// Timeout tier for ordinary calls (default 30 s).
    pub timeout_medium: Duration,
    /// Timeout tier for long calls (default 360 s).
    pub timeout_long: Duration,
    /// Cap for a doubled per-attempt timeout and for `Retry-After` (default 360 s).
    pub timeout_max: Duration,
    /// Gzip request bodies of 1024 bytes or more (default true).
    pub compress_requests: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_retries: 4,
            min_delay_between_retries: Duration::from_millis(500),
            timeout_short: Duration::from_secs(5),
            timeout_medium: Duration::from_secs(30),
            timeout_long: Duration::from_secs(360),
            timeout_max: Duration::from_secs(360),
            compress_requests: true,
        }
    }
}
