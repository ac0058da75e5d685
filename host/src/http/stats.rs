//! Call and attempt counters, readable from the client.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

/// Counters shared by every call of one client.
#[derive(Debug, Default)]
pub struct Statistics {
    calls: AtomicU64,
    requests: AtomicU64,
    /// `rate_limit_errors[k]` = 429 responses seen on attempt k+1.
    rate_limit_errors: Mutex<Vec<u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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
        let mut v = self.rate_limit_errors.lock().unwrap_or_else(|e| e.into_inner());
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
