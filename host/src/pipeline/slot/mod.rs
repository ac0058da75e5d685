//! The transport slot: which transport serves the next attempt, swapped while calls run.
//!
//! The slot holds a lineup: the primary, and maybe a canary taking a share of the calls
//! ([`canary`]). Every attempt takes a [`Lease`] on the transport it goes to, and keeps it
//! until its exchange has ended: the response head and, for a streamed call, the whole body.
//! A swap puts a new lineup in the slot at once; a transport it retires keeps serving the
//! leases it has given until they end (its drain), or until the drain deadline cuts them with
//! an error the retry loop sends again, on the new transport, wherever the call can be
//! replayed ([`drain`]). Then its last reference goes, which closes it (a plugin's client
//! closes its connections).
//!
//! The slot is shared by every clone of the client and every resource client made from it,
//! so all of them see a swap.

mod canary;
mod drain;
mod stats;

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
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

pub use canary::CanaryPolicy;
pub use drain::{DrainReport, TransportSwap};
pub use stats::{TransportRole, TransportStatistics};

use crate::transport::{
    HttpTransport, TransportBody, TransportError, TransportErrorKind, TransportRequest,
    TransportResponse,
};
use canary::{Canary, Outcomes};
use stats::TransportCounters;

/// How many rolled-back canaries stay listed in the statistics after their drain.
const ROLLED_BACK_KEPT: usize = 8;

/// The transports of one client: the lineup in service and those still draining.
pub(crate) struct TransportSlot {
    current: ArcSwap<Lineup>,
    /// Retired transports, kept for their statistics. Its lock also serializes the changes of
    /// lineup, so two of them at once cannot both retire the same transport.
    retired: Mutex<Vec<Retired>>,
    drain_timeout: Duration,
}

/// The transports in service.
struct Lineup {
    primary: Arc<Serving>,
    canary: Option<Arc<Canary>>,
}

/// A transport out of service: weakly while it drains, and its counters for a rolled-back one.
struct Retired {
    serving: Weak<Serving>,
    name: Arc<str>,
    counters: Arc<TransportCounters>,
    rolled_back: bool,
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
    counters: Arc<TransportCounters>,
    /// The latest exchanges' outcomes, for a canary's rollback rule.
    outcomes: Outcomes,
}

/// Where the attempts of one call go: decided at its first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Not decided yet; `replayable` says whether the call's body may be sent twice (a call
    /// that cannot be sent again never goes to a canary: it could not fall back).
    Undecided {
        replayable: bool,
    },
    Primary,
    Canary,
}

/// A canary transport with its policy.
pub(crate) type CanaryTransport = (Arc<dyn HttpTransport>, CanaryPolicy);

/// What to change in a lineup.
pub(crate) struct LineupChange {
    /// A new primary, or keep the one in service.
    pub(crate) primary: Option<Arc<dyn HttpTransport>>,
    /// `Some(None)` removes the canary, `Some(Some(..))` puts a new one in, `None` keeps it.
    pub(crate) canary: Option<Option<CanaryTransport>>,
    /// The canary becomes the primary (the other fields are ignored); without a canary,
    /// nothing changes.
    pub(crate) promote: bool,
}

impl LineupChange {
    /// A new primary; the canary stays.
    pub(crate) fn primary(transport: Arc<dyn HttpTransport>) -> Self {
        LineupChange {
            primary: Some(transport),
            canary: None,
            promote: false,
        }
    }

    /// A new canary, or none; the primary stays.
    pub(crate) fn canary(canary: Option<CanaryTransport>) -> Self {
        LineupChange {
            primary: None,
            canary: Some(canary),
            promote: false,
        }
    }

    /// The canary becomes the primary.
    pub(crate) fn promote() -> Self {
        LineupChange {
            primary: None,
            canary: None,
            promote: true,
        }
    }
}

impl TransportSlot {
    /// A slot serving `transport`; a swap gives the old one `drain_timeout` to finish.
    pub(crate) fn new(transport: Arc<dyn HttpTransport>, drain_timeout: Duration) -> Self {
        TransportSlot {
            current: ArcSwap::from_pointee(Lineup {
                primary: Serving::new(transport),
                canary: None,
            }),
            retired: Mutex::new(Vec::new()),
            drain_timeout,
        }
    }

    /// The name of the primary transport.
    pub(crate) fn name(&self) -> Arc<str> {
        Arc::clone(&self.current.load().primary.name)
    }

    /// A lease on the transport `route` names, for one exchange; an undecided route is decided
    /// here (the canary's share is counted by call).
    pub(crate) fn lease(&self, route: &mut Route) -> Lease {
        loop {
            let lineup = self.current.load();
            let canary = match (*route, &lineup.canary) {
                (Route::Undecided { replayable }, Some(c)) => {
                    let taken = replayable && c.takes_next_call();
                    *route = if taken { Route::Canary } else { Route::Primary };
                    taken.then_some(c)
                }
                (Route::Canary, Some(c)) => Some(c),
                (Route::Undecided { .. }, None) => {
                    *route = Route::Primary;
                    None
                }
                // A canary rolled back or removed since: its calls go on on the primary.
                (Route::Canary | Route::Primary, _) => {
                    *route = Route::Primary;
                    None
                }
            };
            let serving = canary.map_or(&lineup.primary, |c| &c.serving);
            serving.in_flight.fetch_add(1, Ordering::SeqCst);
            let lease = Lease {
                serving: Arc::clone(serving),
                canary: canary.is_some(),
                judged: lineup.canary.is_some(),
            };
            // A swap between the load and the count would let a drain see zero and close a
            // transport this lease is about to use: take the new one instead.
            if !lease.serving.retired.load(Ordering::SeqCst) {
                return lease;
            }
        }
    }

    /// Counts the end of `lease`'s exchange; a transport failure on the canary may roll it
    /// back.
    pub(crate) fn record(
        &self,
        lease: &Lease,
        elapsed: Duration,
        failure: Option<&TransportErrorKind>,
    ) {
        lease.serving.counters.record(elapsed, failure);
        if lease.judged {
            lease.serving.outcomes.push(failure.is_some());
        }
        if lease.canary && failure.is_some() {
            self.consider_rollback(&lease.serving);
        }
    }

    /// Rolls the canary `serving` back if its rule says so (see [`CanaryPolicy`]).
    fn consider_rollback(&self, serving: &Arc<Serving>) {
        let lineup = self.current.load();
        let Some(canary) = lineup
            .canary
            .as_ref()
            .filter(|c| Arc::ptr_eq(&c.serving, serving))
        else {
            return;
        };
        let Some(why) = canary.verdict(&lineup.primary) else {
            return;
        };
        drop(lineup);
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        // Under the lock, from the lineup in service now: another failure may have rolled it
        // back, or a reload replaced the canary or the primary, meanwhile.
        let now = self.current.load_full();
        if !now
            .canary
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.serving, serving))
        {
            return;
        }
        let primary = Arc::clone(&now.primary);
        self.current.store(Arc::new(Lineup {
            primary: Arc::clone(&primary),
            canary: None,
        }));
        retire(&mut retired, serving, true);
        drop(retired);
        tracing::warn!(
            canary = %serving.name,
            primary = %primary.name,
            reason = %why,
            "canary transport rolled back: all calls go to the primary again"
        );
        let swap = TransportSwap::new(vec![Arc::clone(serving)], self.drain_timeout);
        // Drained in the background when there is a runtime to do it on; otherwise it closes
        // when its last exchange ends.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(swap.drained());
        }
    }

    /// Changes the lineup: the transports it replaces drain (see [`TransportSwap`]).
    pub(crate) fn change(&self, change: LineupChange) -> TransportSwap {
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.current.load_full();
        let (primary, canary) = if change.promote {
            // The canary's transport, with its connections and its counters, becomes the
            // primary: nothing new is loaded.
            match &old.canary {
                Some(c) => (Arc::clone(&c.serving), None),
                None => (Arc::clone(&old.primary), None),
            }
        } else {
            let primary = match change.primary {
                Some(t) => Serving::new(t),
                None => Arc::clone(&old.primary),
            };
            let canary = match change.canary {
                None => old.canary.clone(),
                Some(None) => None,
                Some(Some((t, policy))) => Some(Arc::new(Canary::new(Serving::new(t), policy))),
            };
            (primary, canary)
        };
        let new_canary = canary
            .as_ref()
            .is_some_and(|c| !old.canary.as_ref().is_some_and(|o| Arc::ptr_eq(o, c)));
        if new_canary {
            // The primary's record is judged against this canary's from now on only.
            primary.outcomes.reset();
        }
        let new = Lineup { primary, canary };
        let mut out = Vec::new();
        if !Arc::ptr_eq(&old.primary, &new.primary) {
            out.push(Arc::clone(&old.primary));
        }
        if let Some(c) = &old.canary {
            let kept = new.canary.as_ref().is_some_and(|n| Arc::ptr_eq(n, c))
                || Arc::ptr_eq(&c.serving, &new.primary);
            if !kept {
                out.push(Arc::clone(&c.serving));
            }
        }
        tracing::info!(
            primary = %new.primary.name,
            canary = new.canary.as_ref().map(|c| &*c.serving.name),
            canary_share = new.canary.as_ref().map(|c| c.policy.share),
            retired = ?out.iter().map(|s| &*s.name).collect::<Vec<_>>(),
            "transport lineup changed; the transports taken out drain"
        );
        self.current.store(Arc::new(new));
        retired.retain(|r| r.serving.strong_count() > 0 || r.rolled_back);
        for s in &out {
            retire(&mut retired, s, false);
        }
        TransportSwap::new(out, self.drain_timeout)
    }

    /// The statistics of the primary, the canary, then of the retired transports.
    pub(crate) fn statistics(&self) -> Vec<TransportStatistics> {
        let lineup = self.current.load();
        let mut all = vec![lineup.primary.statistics(TransportRole::Primary)];
        if let Some(c) = &lineup.canary {
            all.push(c.serving.statistics(TransportRole::Canary));
        }
        let retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(retired.iter().filter_map(|r| {
            let in_flight = r
                .serving
                .upgrade()
                .map(|s| s.in_flight.load(Ordering::SeqCst));
            (in_flight.is_some() || r.rolled_back).then(|| {
                r.counters.statistics(
                    &r.name,
                    TransportRole::Retired,
                    in_flight.unwrap_or(0) as u64,
                    r.rolled_back,
                )
            })
        }));
        all
    }
}

/// Marks `serving` out of service and lists it among `retired`.
fn retire(retired: &mut Vec<Retired>, serving: &Arc<Serving>, rolled_back: bool) {
    serving.retired.store(true, Ordering::SeqCst);
    if rolled_back {
        // Keep the latest few rolled-back canaries, not every one since the start.
        let kept = retired.iter().filter(|r| r.rolled_back).count();
        if kept >= ROLLED_BACK_KEPT {
            if let Some(i) = retired.iter().position(|r| r.rolled_back) {
                retired.remove(i);
            }
        }
    }
    retired.push(Retired {
        serving: Arc::downgrade(serving),
        name: Arc::clone(&serving.name),
        counters: Arc::clone(&serving.counters),
        rolled_back,
    });
}

impl fmt::Debug for TransportSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lineup = self.current.load();
        f.debug_struct("TransportSlot")
            .field("primary", &lineup.primary.name)
            .field("canary", &lineup.canary.as_ref().map(|c| &c.serving.name))
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
            counters: Arc::default(),
            outcomes: Outcomes::default(),
        })
    }

    fn statistics(&self, role: TransportRole) -> TransportStatistics {
        let in_flight = self.in_flight.load(Ordering::SeqCst) as u64;
        self.counters.statistics(&self.name, role, in_flight, false)
    }

    /// A transport that is never called, for the unit tests of the rules.
    #[cfg(test)]
    fn for_tests(name: &'static str) -> Arc<Self> {
        struct Idle(&'static str);
        impl HttpTransport for Idle {
            fn call(&self, _: TransportRequest) -> crate::transport::CallFuture {
                unreachable!("not called in these tests")
            }
            fn name(&self) -> &str {
                self.0
            }
        }
        Serving::new(Arc::new(Idle(name)))
    }
}

/// One exchange's hold on a transport: while any lease lives, the transport is not closed.
pub(crate) struct Lease {
    serving: Arc<Serving>,
    canary: bool,
    /// A canary was in service when the exchange started: its outcome counts in the
    /// rollback rule's windows (without a canary, nothing reads them).
    judged: bool,
}

impl Lease {
    /// The transport's name.
    pub(crate) fn name(&self) -> &str {
        &self.serving.name
    }

    /// Sends `request` on the leased transport; a drain deadline that passes first ends the
    /// exchange with a transient error, so the retry loop sends it again on the new transport.
    pub(crate) async fn call(
        &self,
        request: TransportRequest,
    ) -> Result<TransportResponse, TransportError> {
        let call = self.serving.transport.call(request);
        match self.until_cut(call).await {
            Some(r) => r,
            None => Err(self.cut_error()),
        }
    }

    /// `fut`'s output, or `None` when this transport's drain deadline passes first.
    pub(crate) async fn until_cut<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let mut fut = std::pin::pin!(fut);
        // What ends at once never waits on the drain deadline: the hook (a waiter on the cut
        // token, behind a lock) is only set up once the work waits.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        if let Poll::Ready(v) = first {
            return Some(v);
        }
        tokio::select! {
            biased;
            _ = self.serving.cut.cancelled() => None,
            v = fut => Some(v),
        }
    }

    /// The error of an exchange ended by the drain deadline.
    pub(crate) fn cut_error(&self) -> TransportError {
        cut_error(&self.serving.name)
    }

    /// `body`, holding this lease until it ends, and cut at the drain deadline.
    pub(crate) fn hold_body(self, body: TransportBody) -> TransportBody {
        let cut = Box::pin(self.serving.cut.clone().cancelled_owned());
        Box::pin(LeasedBody {
            body,
            cut,
            lease: Some(self),
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let s = &self.serving;
        if s.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && s.retired.load(Ordering::SeqCst) {
            s.idle.notify_waiters();
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
