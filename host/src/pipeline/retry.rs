//! Step 2 of the pipeline: the retry policy. Which outcomes are worth another attempt, and how
//! long to wait before it.
//!
//! The policy is the Python client's, applied above every transport alike:
//! - retry 429 and every status ≥ 500, never other 4xx or 3xx (a retry cannot fix the request);
//! - retry transient transport errors (connect, timeout, I/O such as a reset or a truncated
//!   body), never permanent ones (TLS setup, protocol misuse, invalid request, plugin panic);
//!   for `OTHER` and kinds this host does not know, the transport's `retryable` hint decides;
//! - wait `min(uniform(1, 2) · min_delay · 2^(k-1), max_backoff)` after failed attempt k, or
//!   longer when a 429 or 503 says `Retry-After` (capped at `timeout_max`, so a server cannot
//!   park the client).

use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, StatusCode};
use rand::Rng;

use super::HttpSettings;
use crate::transport::TransportError;

/// Whether a response with this status is worth another attempt: 429 and every 5xx.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() >= 500
}

/// Whether a transport error is worth another attempt: by its kind, and by the transport's own
/// hint for `OTHER` and unknown kinds.
pub fn is_retryable_transport_error(e: &TransportError) -> bool {
    e.kind.is_transient().unwrap_or(e.retryable)
}

/// The backoff after failed attempt `failed_attempt` (1-based), for a jitter factor in `[1, 2]`:
/// `jitter · min_delay · 2^(failed_attempt-1)`. Saturates instead of overflowing.
pub fn backoff(min_delay: Duration, failed_attempt: u32, jitter: f64) -> Duration {
    let exp = failed_attempt.saturating_sub(1).min(1023) as i32;
    let secs = min_delay.as_secs_f64() * jitter * 2f64.powi(exp);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// [`backoff`] with a random jitter drawn uniformly from `[1, 2)`. The jitter spreads clients
/// that failed together (e.g. after a 503 burst) so they do not retry in lockstep.
pub fn random_backoff(min_delay: Duration, failed_attempt: u32) -> Duration {
    let jitter = rand::rng().random_range(1.0..2.0);
    backoff(min_delay, failed_attempt, jitter)
}

/// Parses a `Retry-After` value: delay-seconds (`"120"`, also `"1.5"`) or an HTTP date, read
/// against `now` (a date in the past means "now": zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The server's requested wait, for the statuses where `Retry-After` means "retry later"
/// (429 and 503; on 3xx it means something else, and other statuses are not retried on it).
pub fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, SystemTime::now())
}

/// How long to wait after a failed attempt with this `backoff`: the backoff capped at
/// `max_backoff` (it doubles per attempt, and uncapped, 20 retries would mean days of sleep);
/// the server's `Retry-After`, if longer, wins, but never beyond `timeout_max`.
pub fn delay_before_retry(
    settings: &HttpSettings,
    backoff: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let backoff = backoff.min(settings.max_backoff);
    match retry_after {
        Some(ra) => backoff.max(ra.min(settings.timeout_max)),
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apify_plugin_api::{Error, ErrorKind};
    use http::HeaderValue;

    #[test]
    fn statuses() {
        for s in [429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 301, 304, 400, 401, 403, 404, 409, 418, 422] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn transport_errors_by_kind_and_hint() {
        for k in [ErrorKind::CONNECT, ErrorKind::TIMEOUT, ErrorKind::IO] {
            // The kind wins over a contradicting hint.
            assert!(is_retryable_transport_error(
                &Error::new(k, "x").retryable(false)
            ));
        }
        for k in [
            ErrorKind::TLS,
            ErrorKind::PROTOCOL,
            ErrorKind::INVALID_REQUEST,
            ErrorKind::PANIC,
        ] {
            assert!(!is_retryable_transport_error(
                &Error::new(k, "x").retryable(true)
            ));
        }
        for k in [ErrorKind::OTHER, ErrorKind(200)] {
            assert!(is_retryable_transport_error(
                &Error::new(k, "x").retryable(true)
            ));
            assert!(!is_retryable_transport_error(
                &Error::new(k, "x").retryable(false)
            ));
        }
    }

    #[test]
    fn backoff_bounds() {
        let d = Duration::from_millis(500);
        assert_eq!(backoff(d, 1, 1.0), d);
        assert_eq!(backoff(d, 1, 2.0), d * 2);
        assert_eq!(backoff(d, 3, 1.0), d * 4);
        assert_eq!(backoff(d, 4, 1.5), Duration::from_secs(6));
        assert_eq!(backoff(d, u32::MAX, 2.0), Duration::MAX);
        assert_eq!(backoff(Duration::ZERO, 5, 2.0), Duration::ZERO);
        for k in 1..=6 {
            let lo = d * 2u32.pow(k - 1);
            for _ in 0..200 {
                let b = random_backoff(d, k);
                assert!(b >= lo && b <= lo * 2, "attempt {k}: {b:?}");
            }
        }
    }

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_only_on_429_and_503() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        let three = Some(Duration::from_secs(3));
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &h), three);
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &h), three);
        assert_eq!(retry_after(StatusCode::INTERNAL_SERVER_ERROR, &h), None);
        assert_eq!(retry_after(StatusCode::MOVED_PERMANENTLY, &h), None);
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new()),
            None
        );
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_timeout_max() {
        let s = HttpSettings {
            timeout_max: Duration::from_secs(10),
            ..HttpSettings::default()
        };
        let b = Duration::from_secs(2);
        assert_eq!(delay_before_retry(&s, b, None), b);
        assert_eq!(delay_before_retry(&s, b, Some(Duration::from_secs(1))), b);
        assert_eq!(
            delay_before_retry(&s, b, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            delay_before_retry(&s, b, Some(Duration::from_secs(3600))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn backoff_is_capped_at_max_backoff() {
        let s = HttpSettings::default().max_backoff(Duration::from_secs(30));
        // 20 retries at a 10-minute base would sleep for years without the cap.
        let huge = backoff(Duration::from_secs(600), 20, 2.0);
        assert_eq!(delay_before_retry(&s, huge, None), Duration::from_secs(30));
        assert_eq!(
            delay_before_retry(&s, Duration::from_secs(1), None),
            Duration::from_secs(1)
        );
        // Retry-After is the server's word: it may exceed the backoff cap, up to timeout_max.
        assert_eq!(
            delay_before_retry(&s, huge, Some(Duration::from_secs(90))),
            Duration::from_secs(90)
        );
    }

    proptest::proptest! {
        #[test]
        fn retry_after_seconds_round_trip(secs in 0u64..10_000_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            proptest::prop_assert_eq!(
                parse_retry_after(&format!(" {secs} "), now),
                Some(Duration::from_secs(secs))
            );
            let at = httpdate::fmt_http_date(now + Duration::from_secs(secs));
            proptest::prop_assert_eq!(parse_retry_after(&at, now), Some(Duration::from_secs(secs)));
        }

        #[test]
        fn retry_after_never_panics_and_delays_stay_bounded(
            value in ".{0,40}",
            backoff_ms in 0u64..u64::MAX / 2,
        ) {
            let now = SystemTime::now();
            let ra = parse_retry_after(&value, now);
            let s = HttpSettings::default();
            let d = delay_before_retry(&s, Duration::from_millis(backoff_ms), ra);
            proptest::prop_assert!(d <= s.max_backoff.max(s.timeout_max));
        }
    }
}
