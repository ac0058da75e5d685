//! What each transport of a client did: calls, failures by kind, latency quantiles.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use crate::transport::TransportErrorKind;

/// What a transport is to its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransportRole {
    /// In service: new calls go to it (those the canary does not take).
    Primary,
    /// In service for a share of the calls ([`super::CanaryPolicy`]), rolled back by itself
    /// when it fails where the primary does not.
    Canary,
    /// Swapped out or rolled back, finishing the exchanges it had then; a rolled-back canary
    /// stays listed after its drain, so ops can see what happened.
    Retired,
}

/// The counters of one transport of a client ([`crate::ApifyClient::transport_statistics`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct TransportStatistics {
    /// The transport's name (`builtin`, `plugin:reqwest`, ...).
    pub name: String,
    /// Primary, canary or retired.
    pub role: TransportRole,
    /// Exchanges (attempts) it has ended, failed or not.
    pub calls: u64,
    /// Exchanges that failed at the transport level, by error kind (`connect`, `timeout`,
    /// `io`, ...); an HTTP error status is an answer, not a failure of the transport.
    pub failed_calls: Vec<(String, u64)>,
    /// Exchanges running now, streamed bodies included.
    pub in_flight: u64,
    /// Median latency of an exchange (to its response head, or its whole body when read
    /// at once); `None` before the first.
    pub latency_p50: Option<Duration>,
    /// 99th-percentile latency; `None` before the first exchange.
    pub latency_p99: Option<Duration>,
    /// Whether it was taken out of service automatically: a canary whose transport failures
    /// passed its `max_failure_ratio` while the primary's did not.
    pub rolled_back: bool,
}

/// The counters behind [`TransportStatistics`], updated without locks on the success path.
#[derive(Default)]
pub(super) struct TransportCounters {
    failed: Mutex<Vec<(String, u64)>>,
    latency: LatencyHistogram,
}

impl TransportCounters {
    /// Counts the end of one exchange: its latency, and its failure kind.
    pub(super) fn record(&self, elapsed: Duration, failure: Option<&TransportErrorKind>) {
        // One atomic add: the number of exchanges is the histogram's total.
        self.latency.record(elapsed);
        if let Some(kind) = failure {
            let mut map = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            let key = kind.to_string();
            match map.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => map.push((key, 1)),
            }
        }
    }

    /// The statistics of the transport `name` these count.
    pub(super) fn statistics(
        &self,
        name: &str,
        role: TransportRole,
        in_flight: u64,
        rolled_back: bool,
    ) -> TransportStatistics {
        let failed_calls = {
            let map = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            map.clone()
        };
        TransportStatistics {
            name: name.to_string(),
            role,
            calls: self.latency.total(),
            failed_calls,
            in_flight,
            latency_p50: self.latency.quantile(0.50),
            latency_p99: self.latency.quantile(0.99),
            rolled_back,
        }
    }
}

/// Latencies in log-linear buckets (4 per power of two of microseconds, up to ~4 hours): a
/// quantile is an upper bound within 25 % of the true value, and recording is one atomic add.
struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

const SUB_BUCKETS: u32 = 4;
const BUCKETS: usize = 33 * SUB_BUCKETS as usize;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl LatencyHistogram {
    fn index(micros: u64) -> usize {
        if micros < SUB_BUCKETS as u64 {
            return micros as usize;
        }
        let exp = 63 - micros.leading_zeros(); // >= 2
        let sub = (micros >> (exp - 2)) & (SUB_BUCKETS as u64 - 1);
        (((exp - 1) * SUB_BUCKETS) as usize + sub as usize).min(BUCKETS - 1)
    }

    /// The upper bound of bucket `i`, in microseconds.
    fn upper(i: usize) -> u64 {
        let i = i as u32;
        if i < SUB_BUCKETS {
            return i as u64 + 1;
        }
        let exp = i / SUB_BUCKETS + 1;
        let sub = (i % SUB_BUCKETS) as u64;
        ((SUB_BUCKETS as u64 + sub + 1) << (exp - 2)).saturating_sub(1)
    }

    fn record(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Self::index(micros)].fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(Self::upper(i)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_latency_lands_in_a_bucket_whose_bound_is_within_a_fifth_of_it() {
        for micros in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            100,
            999,
            1_000,
            65_537,
            3_600_000_000,
        ] {
            let i = LatencyHistogram::index(micros);
            let upper = LatencyHistogram::upper(i);
            assert!(upper >= micros, "{micros} µs in bucket {i} (≤ {upper})");
            assert!(
                upper as f64 <= (micros as f64 * 1.25).max(micros as f64 + 1.0),
                "{micros} µs: bound {upper} too loose"
            );
        }
    }

    #[test]
    fn quantiles_come_from_the_recorded_latencies() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).unwrap().as_millis() as f64;
        let p99 = h.quantile(0.99).unwrap().as_millis() as f64;
        assert!((50.0..=63.0).contains(&p50), "p50 {p50}");
        assert!((99.0..=124.0).contains(&p99), "p99 {p99}");
    }
}
