//! Pipeline settings, with the Python client's defaults.

use std::time::Duration;

/// Retry, timeout and compression settings of the pipeline.
///
/// Start from [`HttpSettings::default`] (the Python client's defaults) and change what you
/// need with the builder methods: `HttpSettings::default().max_retries(2)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

impl HttpSettings {
    /// Retries after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Base of the exponential backoff.
    pub fn min_delay_between_retries(mut self, delay: Duration) -> Self {
        self.min_delay_between_retries = delay;
        self
    }

    /// Timeout tier for quick calls.
    pub fn timeout_short(mut self, timeout: Duration) -> Self {
        self.timeout_short = timeout;
        self
    }

    /// Timeout tier for ordinary calls.
    pub fn timeout_medium(mut self, timeout: Duration) -> Self {
        self.timeout_medium = timeout;
        self
    }

    /// Timeout tier for long calls.
    pub fn timeout_long(mut self, timeout: Duration) -> Self {
        self.timeout_long = timeout;
        self
    }

    /// Cap for a doubled per-attempt timeout and for `Retry-After`.
    pub fn timeout_max(mut self, timeout: Duration) -> Self {
        self.timeout_max = timeout;
        self
    }

    /// Whether to gzip request bodies of 1024 bytes or more.
    pub fn compress_requests(mut self, compress: bool) -> Self {
        self.compress_requests = compress;
        self
    }
}
