//! Call and attempt counters, readable from the client.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

/// Counters shared by every call of one client.
#[derive(Debug, Default)]
pub(crate) struct Statistics {
    calls: AtomicU64,
    requests: AtomicU64,
    /// `rate_limit_errors[k]` = 429 responses seen on attempt k+1.
    rate_limit_errors: Mutex<Vec<u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StatisticsSnapshot {
    /// Pipeline calls (one per API operation, whatever its retries).
    pub calls: u64,
    /// HTTP attempts sent to the transport.
    pub requests: u64,
    /// 429 responses per attempt number: index 0 is the first attempt.
    pub rate_limit_errors: Vec<u64>,
}

impl Statistics {
    /// Counts one pipeline call.
    pub fn add_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one attempt.
    pub fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 429 on `attempt` (1-based).
    pub fn add_rate_limit_error(&self, attempt: u32) {
        let idx = attempt.saturating_sub(1) as usize;
        let mut v = self
            .rate_limit_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if v.len() <= idx {
            v.resize(idx + 1, 0);
        }
        v[idx] += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatisticsSnapshot {
        StatisticsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            rate_limit_errors: self
                .rate_limit_errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_errors_are_counted_per_attempt() {
        let cases: [(&[u32], &[u64]); 6] = [
            (&[1], &[1]),
            (&[1, 5], &[1, 0, 0, 0, 1]),
            (&[5, 1], &[1, 0, 0, 0, 1]),
            (&[3, 5, 1], &[1, 0, 1, 0, 1]),
            (&[1, 5, 3], &[1, 0, 1, 0, 1]),
            (&[2, 1, 2, 1, 5, 2, 1], &[3, 3, 0, 0, 1]),
        ];
        for (attempts, expected) in cases {
            let s = Statistics::default();
            for a in attempts {
                s.add_rate_limit_error(*a);
            }
            assert_eq!(s.snapshot().rate_limit_errors, expected, "{attempts:?}");
        }
    }

    #[test]
    fn starts_at_zero_and_counts() {
        let s = Statistics::default();
        assert_eq!(s.snapshot(), StatisticsSnapshot::default());
        s.add_call();
        s.add_request();
        s.add_request();
        let snap = s.snapshot();
        assert_eq!((snap.calls, snap.requests), (1, 2));
        assert!(snap.rate_limit_errors.is_empty());
    }
}
