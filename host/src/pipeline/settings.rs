//! Pipeline settings, with the Python client's defaults, and the ranges they are checked
//! against.

use std::time::Duration;

use crate::Error;

/// The largest `max_retries`: with the default backoff cap, 20 retries already mean up to 20
/// minutes of sleeping for one call; more is a typo, not a policy.
pub const MAX_RETRIES_LIMIT: u32 = 20;
/// The largest backoff base: the backoff doubles per attempt, so beyond 10 minutes a run would
/// wait for hours.
pub const MIN_DELAY_LIMIT: Duration = Duration::from_secs(600);
/// The largest backoff cap and stream idle limit (one hour): a longer silence is a dead peer,
/// not a slow one.
pub const DURATION_LIMIT: Duration = Duration::from_secs(3600);
/// The largest timeout tier (one day): a tier bounds a whole attempt, and one upload of many
/// gigabytes over a slow link may honestly take hours.
pub const TIMEOUT_LIMIT: Duration = Duration::from_secs(86_400);
/// The smallest cap on bodies read into memory: an API error or a small JSON answer must fit.
pub const MIN_BODY_LIMIT: u64 = 64 * 1024;
/// The largest cap on bodies read into memory (4 GiB): beyond that, stream.
pub const MAX_BODY_LIMIT: u64 = 4 << 30;
/// The largest number of resumes of one streamed download.
pub const MAX_RESUMES_LIMIT: u32 = 100;

/// Retry, timeout, size and compression settings of the pipeline.
///
/// Start from [`HttpSettings::default`] (the Python client's defaults) and change what you
/// need with the builder methods: `HttpSettings::default().max_retries(2)`. The client builder
/// checks them with [`HttpSettings::validate`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Retries after the first attempt (default 4, so 5 attempts; at most 20).
    pub max_retries: u32,
    /// Base of the exponential backoff (default 500 ms; at most 10 minutes).
    pub min_delay_between_retries: Duration,
    /// Cap of one backoff sleep (default 60 s; at most 1 hour). A server's `Retry-After` is
    /// capped by `timeout_max` instead.
    pub max_backoff: Duration,
    /// Timeout tier for quick calls (default 5 s).
    pub timeout_short: Duration,
    /// Timeout tier for ordinary calls (default 30 s).
    pub timeout_medium: Duration,
    /// Timeout tier for long calls (default 360 s).
    pub timeout_long: Duration,
    /// Cap for a doubled per-attempt timeout and for `Retry-After` (default 360 s). Every
    /// timeout tier is at most one day.
    pub timeout_max: Duration,
    /// The longest silence between two chunks of a streamed body (default 60 s; at most 1
    /// hour). A whole streamed body has no total limit (it may be gigabytes), so this is
    /// what ends a body whose server went silent.
    pub stream_idle_timeout: Duration,
    /// The largest body read into memory: every call that does not stream (default 256 MiB;
    /// from 64 KiB to 4 GiB). A larger body is refused with an error that says to stream it.
    pub max_body_bytes: u64,
    /// Streamed calls whose `Content-Length` is at most this are read whole inside the retry
    /// loop, so a reset mid-body is retried like a non-streamed call (default 1 MiB; at most
    /// `max_body_bytes`). Larger or unsized bodies are streamed as they arrive.
    pub read_whole_below: u64,
    /// How many times one streamed `GET` that breaks mid-body is resumed with
    /// `Range: bytes=N-` (default 5; at most 100).
    pub max_resumes: u32,
    /// Gzip request bodies of 1024 bytes or more (default true).
    pub compress_requests: bool,
    /// After a transport swap, how long the old transport may finish its exchanges before
    /// what is left is ended and sent again on the new one (default 60 s; at most 1 hour).
    /// The config file's `[transport] drain_timeout_secs`.
    pub drain_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_retries: 4,
            min_delay_between_retries: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            timeout_short: Duration::from_secs(5),
            timeout_medium: Duration::from_secs(30),
            timeout_long: Duration::from_secs(360),
            timeout_max: Duration::from_secs(360),
            stream_idle_timeout: Duration::from_secs(60),
            max_body_bytes: 256 << 20,
            read_whole_below: 1 << 20,
            max_resumes: 5,
            compress_requests: true,
            drain_timeout: Duration::from_secs(60),
        }
    }
}

/// A setting out of its range: the field's name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The field, e.g. `max_retries`.
    pub field: &'static str,
    /// Why, e.g. `25 is more than 20`.
    pub reason: String,
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

    /// Cap of one backoff sleep.
    pub fn max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
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

    /// The longest silence between two chunks of a streamed body.
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    /// The largest body read into memory by a call that does not stream.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Streamed bodies announced at most this long are read whole inside the retry loop.
    pub fn read_whole_below(mut self, bytes: u64) -> Self {
        self.read_whole_below = bytes;
        self
    }

    /// How many times a streamed `GET` that breaks mid-body is resumed.
    pub fn max_resumes(mut self, resumes: u32) -> Self {
        self.max_resumes = resumes;
        self
    }

    /// Whether to gzip request bodies of 1024 bytes or more.
    pub fn compress_requests(mut self, compress: bool) -> Self {
        self.compress_requests = compress;
        self
    }

    /// How long a swapped-out transport may finish its exchanges.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Checks every setting against its range; the error names the setting and the range.
    pub fn validate(&self) -> Result<(), Error> {
        self.check()
            .map_err(|i| Error::config(format!("invalid HTTP setting {}: {}", i.field, i.reason)))
    }

    /// The first setting out of its range, if any.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let bad = |field, reason: String| Err(Invalid { field, reason });
        if self.max_retries > MAX_RETRIES_LIMIT {
            return bad(
                "max_retries",
                format!("{} is more than {MAX_RETRIES_LIMIT}", self.max_retries),
            );
        }
        if self.min_delay_between_retries > MIN_DELAY_LIMIT {
            return bad(
                "min_delay_between_retries",
                format!(
                    "{:?} is more than {:?}",
                    self.min_delay_between_retries, MIN_DELAY_LIMIT
                ),
            );
        }
        let durations = [
            ("max_backoff", self.max_backoff, DURATION_LIMIT),
            ("timeout_short", self.timeout_short, TIMEOUT_LIMIT),
            ("timeout_medium", self.timeout_medium, TIMEOUT_LIMIT),
            ("timeout_long", self.timeout_long, TIMEOUT_LIMIT),
            ("timeout_max", self.timeout_max, TIMEOUT_LIMIT),
            (
                "stream_idle_timeout",
                self.stream_idle_timeout,
                DURATION_LIMIT,
            ),
            ("drain_timeout", self.drain_timeout, DURATION_LIMIT),
        ];
        for (field, d, limit) in durations {
            if d.is_zero() || d > limit {
                return bad(
                    field,
                    format!("{d:?} is not above zero and at most {limit:?}"),
                );
            }
        }
        if !(MIN_BODY_LIMIT..=MAX_BODY_LIMIT).contains(&self.max_body_bytes) {
            return bad(
                "max_body_bytes",
                format!(
                    "{} is not between {MIN_BODY_LIMIT} and {MAX_BODY_LIMIT}",
                    self.max_body_bytes
                ),
            );
        }
        if self.read_whole_below > self.max_body_bytes {
            return bad(
                "read_whole_below",
                format!(
                    "{} is more than max_body_bytes ({})",
                    self.read_whole_below, self.max_body_bytes
                ),
            );
        }
        if self.max_resumes > MAX_RESUMES_LIMIT {
            return bad(
                "max_resumes",
                format!("{} is more than {MAX_RESUMES_LIMIT}", self.max_resumes),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        HttpSettings::default().validate().unwrap();
        let cases = [
            (HttpSettings::default().max_retries(21), "max_retries"),
            (
                HttpSettings::default().min_delay_between_retries(Duration::from_secs(601)),
                "min_delay_between_retries",
            ),
            (
                HttpSettings::default().max_backoff(Duration::ZERO),
                "max_backoff",
            ),
            (
                HttpSettings::default().stream_idle_timeout(Duration::from_secs(3601)),
                "stream_idle_timeout",
            ),
            (HttpSettings::default().max_body_bytes(10), "max_body_bytes"),
            (
                HttpSettings::default()
                    .max_body_bytes(1 << 20)
                    .read_whole_below(2 << 20),
                "read_whole_below",
            ),
            (HttpSettings::default().max_resumes(101), "max_resumes"),
        ];
        for (s, field) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.is_config());
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        HttpSettings::default().max_retries(20).validate().unwrap();
    }
}
