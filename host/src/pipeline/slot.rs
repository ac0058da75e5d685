//! The transport slot: which transport serves the next attempt, swapped while calls run.
//!
//! Every attempt takes a [`Lease`] on the transport in service when it starts, and keeps it
//! until its exchange has ended: the response head and, for a streamed call, the whole body.
//! A swap puts a new transport in the slot at once; the old one keeps serving the leases it
//! has given until they end (its drain), or until the drain deadline cuts them with an error
//! the retry loop sends again, on the new transport, wherever the call can be replayed.
//! Then its last reference goes, which closes it (a plugin's client closes its connections).
//!
//! The slot is shared by every clone of the client and every resource client made from it,
//! so all of them see a swap.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, Weak,
    },
    task::{Context, Poll},
    time::Duration,
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::transport::{
    HttpTransport, TransportBody, TransportError, TransportErrorKind, TransportRequest,
    TransportResponse,
};

/// The transports of one client: the one in service and those still draining.
pub(crate) struct TransportSlot {
    current: ArcSwap<Serving>,
    /// Retired transports, kept (weakly) for their statistics while they drain.
    retired: Mutex<Vec<Weak<Serving>>>,
    drain_timeout: Duration,
}

/// One transport with its counters and its in-flight exchanges.
pub(crate) struct Serving {
    transport: Arc<dyn HttpTransport>,
    name: Arc<str>,
    in_flight: AtomicUsize,
    idle: Notify,
    retired: AtomicBool,
    /// Cancelled at the drain deadline: what is still in flight then ends with an error.
    cut: CancellationToken,
    stats: TransportCounters,
}

impl TransportSlot {
    /// A slot serving `transport`; a swap gives the old one `drain_timeout` to finish.
    pub(crate) fn new(transport: Arc<dyn HttpTransport>, drain_timeout: Duration) -> Self {
        TransportSlot {
            current: ArcSwap::from(Serving::new(transport)),
            retired: Mutex::new(Vec::new()),
            drain_timeout,
        }
    }

    /// The name of the transport in service.
    pub(crate) fn name(&self) -> Arc<str> {
        Arc::clone(&self.current.load().name)
    }

    /// A lease on the transport in service, for one exchange.
    pub(crate) fn lease(&self) -> Lease {
        loop {
            let serving = self.current.load_full();
            serving.in_flight.fetch_add(1, Ordering::SeqCst);
            // A swap between the load and the count would let a drain see zero and close a
            // transport this lease is about to use: take the new one instead.
            if !serving.retired.load(Ordering::SeqCst) {
                return Lease(serving);
            }
            drop(Lease(serving));
        }
    }

    /// Puts `transport` in service; the one it replaces drains (see [`TransportSwap`]).
    pub(crate) fn swap(&self, transport: Arc<dyn HttpTransport>) -> TransportSwap {
        let old = self.current.swap(Serving::new(transport));
        old.retired.store(true, Ordering::SeqCst);
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        retired.retain(|w| w.strong_count() > 0);
        retired.push(Arc::downgrade(&old));
        tracing::info!(
            retired = %old.name,
            serving = %self.current.load().name,
            in_flight = old.in_flight.load(Ordering::SeqCst),
            "transport swapped; the old one drains"
        );
        TransportSwap {
            old: Some(old),
            deadline: self.drain_timeout,
        }
    }

    /// The statistics of the transport in service, then of those still draining.
    pub(crate) fn statistics(&self) -> Vec<TransportStatistics> {
        let mut all = vec![self.current.load().statistics(TransportRole::Primary)];
        let retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(
            retired
                .iter()
                .filter_map(Weak::upgrade)
                .map(|s| s.statistics(TransportRole::Retired)),
        );
        all
    }
}

impl fmt::Debug for TransportSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportSlot")
            .field("serving", &self.current.load().name)
            .finish_non_exhaustive()
    }
}

impl Serving {
    fn new(transport: Arc<dyn HttpTransport>) -> Arc<Self> {
        Arc::new(Serving {
            name: Arc::from(transport.name()),
            transport,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            retired: AtomicBool::new(false),
            cut: CancellationToken::new(),
            stats: TransportCounters::default(),
        })
    }

    fn statistics(&self, role: TransportRole) -> TransportStatistics {
        let s = &self.stats;
        let failed: Vec<(String, u64)> = {
            let map = s.failed.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|(k, n)| (k.clone(), *n)).collect()
        };
        TransportStatistics {
            name: self.name.to_string(),
            role,
            calls: s.calls.load(Ordering::Relaxed),
            failed_calls: failed,
            in_flight: self.in_flight.load(Ordering::SeqCst) as u64,
            latency_p50: s.latency.quantile(0.50),
            latency_p99: s.latency.quantile(0.99),
            rolled_back: false,
        }
    }
}

/// One exchange's hold on a transport: while any lease lives, the transport is not closed.
pub(crate) struct Lease(Arc<Serving>);

impl Lease {
    /// The transport's name.
    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    /// Sends `request` on the leased transport; a drain deadline that passes first ends the
    /// exchange with a transient error, so the retry loop sends it again on the new transport.
    pub(crate) async fn call(
        &self,
        request: TransportRequest,
    ) -> Result<TransportResponse, TransportError> {
        let serving = &self.0;
        tokio::select! {
            biased;
            _ = serving.cut.cancelled() => Err(cut_error(&serving.name)),
            r = serving.transport.call(request) => r,
        }
    }

    /// Counts the end of one exchange on this transport: its latency, and its failure kind.
    pub(crate) fn record(&self, elapsed: Duration, failure: Option<&TransportErrorKind>) {
        let s = &self.0.stats;
        s.calls.fetch_add(1, Ordering::Relaxed);
        s.latency.record(elapsed);
        if let Some(kind) = failure {
            let mut map = s.failed.lock().unwrap_or_else(|e| e.into_inner());
            let key = kind.to_string();
            match map.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => map.push((key, 1)),
            }
        }
    }

    /// `body`, holding this lease until it ends, and cut at the drain deadline.
    pub(crate) fn hold_body(self, body: TransportBody) -> TransportBody {
        let cut = Box::pin(self.0.cut.clone().cancelled_owned());
        Box::pin(LeasedBody {
            body,
            cut,
            lease: Some(self),
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && self.0.retired.load(Ordering::SeqCst)
        {
            self.0.idle.notify_waiters();
        }
    }
}

/// The error of an exchange still running on a retired transport at its drain deadline.
fn cut_error(name: &str) -> TransportError {
    let mut e = TransportError::new(
        TransportErrorKind::IO,
        format!(
            "the transport {name} was swapped out and this exchange was still running at the \
             end of its drain (drain_timeout_secs); it is sent again on the new transport \
             where it can be"
        ),
    );
    e.retryable = true;
    e
}

/// A streamed body that holds its transport's lease and ends at the drain deadline.
struct LeasedBody {
    body: TransportBody,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    lease: Option<Lease>,
}

impl Stream for LeasedBody {
    type Item = Result<Bytes, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(lease) = &this.lease else {
            return Poll::Ready(None);
        };
        if this.cut.as_mut().poll(cx).is_ready() {
            let e = cut_error(lease.name());
            this.lease = None;
            return Poll::Ready(Some(Err(e)));
        }
        let next = this.body.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            // The exchange has ended: release the transport now, not when the body is dropped.
            this.lease = None;
        }
        next
    }
}

/// The old transport of a swap, draining: [`TransportSwap::drained`] waits for its end.
///
/// Dropping a `TransportSwap` without waiting lets the old transport drain by itself: it is
/// closed when its last exchange ends (with no deadline).
#[must_use = "await `drained()` to know when the old transport is closed"]
pub struct TransportSwap {
    old: Option<Arc<Serving>>,
    deadline: Duration,
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// The name of the transport that was drained.
    pub transport: String,
    /// The exchanges still in flight at the deadline, ended with an error that the pipeline
    /// retries on the new transport where the call can be replayed (0 when all finished).
    pub cut: u64,
}

impl TransportSwap {
    /// The name of the transport swapped out.
    pub fn old_transport(&self) -> &str {
        self.old.as_ref().map_or("", |s| &s.name)
    }

    /// Resolves when the old transport's last exchange (streamed bodies included) has ended
    /// and the old transport has been closed. At the drain deadline (`[transport]
    /// drain_timeout_secs`, default 60 s) what is left is ended first.
    pub async fn drained(mut self) -> DrainReport {
        let Some(old) = self.old.take() else {
            return DrainReport {
                transport: String::new(),
                cut: 0,
            };
        };
        let deadline = tokio::time::Instant::now() + self.deadline;
        let mut cut = 0;
        loop {
            let notified = old.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let left = old.in_flight.load(Ordering::SeqCst);
            if left == 0 {
                break;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline), if !old.cut.is_cancelled() => {
                    cut = left as u64;
                    tracing::warn!(
                        transport = %old.name,
                        in_flight = left,
                        "drain deadline passed; ending the exchanges left on the old transport"
                    );
                    old.cut.cancel();
                }
            }
        }
        let transport = old.name.to_string();
        // The last reference closes the transport (a plugin's client closes its connections,
        // waiting a bounded time): off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || drop(old)).await;
        tracing::info!(%transport, cut, "old transport drained and closed");
        DrainReport { transport, cut }
    }
}

impl fmt::Debug for TransportSwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportSwap")
            .field("old_transport", &self.old_transport())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// What a transport is to its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransportRole {
    /// In service: new calls go to it.
    Primary,
    /// Swapped out, finishing the exchanges it had when it was.
    Retired,
}

/// The counters of one transport of a client ([`crate::ApifyClient::transport_statistics`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct TransportStatistics {
    /// The transport's name (`builtin`, `plugin:reqwest`, ...).
    pub name: String,
    /// Primary or retired.
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
    /// Whether it was taken out of service automatically.
    pub rolled_back: bool,
}

/// The counters behind [`TransportStatistics`], updated without locks on the success path.
#[derive(Default)]
struct TransportCounters {
    calls: AtomicU64,
    failed: Mutex<Vec<(String, u64)>>,
    latency: LatencyHistogram,
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
