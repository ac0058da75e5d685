//! The end of a retired transport: its drain, bounded by the drain deadline, then its close.

use std::{fmt, sync::atomic::Ordering, sync::Arc, time::Duration};

use super::Serving;

/// The transports a swap took out of service, draining: [`TransportSwap::drained`] waits for
/// their end.
///
/// Dropping a `TransportSwap` without waiting lets them drain by themselves: each is closed
/// when its last exchange ends (with no deadline).
#[must_use = "await `drained()` to know when the transports taken out of service are closed"]
pub struct TransportSwap {
    old: Vec<Arc<Serving>>,
    deadline: Duration,
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// The names of the transports drained and closed: the old primary, the old canary, or
    /// both when a reload replaced both.
    pub transports: Vec<String>,
    /// The exchanges still in flight at the deadline, ended with an error that the pipeline
    /// retries on the new transport where the call can be replayed (0 when all finished).
    pub cut: u64,
    /// Exchanges still held a few seconds after the deadline: streamed bodies their callers
    /// hold without reading (an exchange only ends when it is polled). The transport closes
    /// when the last of them is dropped, not before `drained` returns.
    pub held: u64,
}

/// How long after the drain deadline the exchanges it ended have to notice.
const AFTER_CUT: std::time::Duration = std::time::Duration::from_secs(5);

impl TransportSwap {
    pub(super) fn new(old: Vec<Arc<Serving>>, deadline: Duration) -> Self {
        TransportSwap { old, deadline }
    }

    /// The name of the transport swapped out: the old primary, or the old canary when only
    /// the canary changed ([`TransportSwap::old_transports`] lists all of them); empty when
    /// the change retired nothing (a canary added where there was none).
    pub fn old_transport(&self) -> &str {
        self.old.first().map_or("", |s| &s.name)
    }

    /// The names of every transport this swap took out of service.
    pub fn old_transports(&self) -> Vec<&str> {
        self.old.iter().map(|s| &*s.name).collect()
    }

    /// Resolves when the old transports' last exchanges (streamed bodies included) have ended
    /// and they have been closed. At the drain deadline (`[transport] drain_timeout_secs`,
    /// default 60 s) what is left is ended first.
    pub async fn drained(mut self) -> DrainReport {
        let deadline = tokio::time::Instant::now() + self.deadline;
        let mut report = DrainReport {
            transports: Vec::new(),
            cut: 0,
            held: 0,
        };
        for old in std::mem::take(&mut self.old) {
            let (cut, held) = drain(&old, deadline).await;
            report.cut += cut;
            report.held += held;
            let transport = old.name.to_string();
            if held > 0 {
                tracing::warn!(
                    %transport,
                    held,
                    "old transport still held by streamed bodies nobody reads; it closes when \
                     they are dropped"
                );
            } else {
                // The last reference closes the transport (a plugin's client closes its
                // connections, waiting a bounded time): off the runtime's threads.
                let _ = tokio::task::spawn_blocking(move || drop(old)).await;
                tracing::info!(%transport, "old transport drained and closed");
            }
            report.transports.push(transport);
        }
        report
    }
}

/// Waits until `old` has no exchange left, ending those left at `deadline`: how many were
/// ended, and how many were still held [`AFTER_CUT`] later.
async fn drain(old: &Serving, deadline: tokio::time::Instant) -> (u64, u64) {
    let mut cut = 0;
    loop {
        let notified = old.idle.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let left = old.in_flight.load(Ordering::SeqCst);
        if left == 0 {
            return (cut, 0);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline + AFTER_CUT), if old.cut.is_cancelled() => {
                return (cut, left as u64);
            }
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
}

impl fmt::Debug for TransportSwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportSwap")
            .field("old_transports", &self.old_transports())
            .field("deadline", &self.deadline)
            .finish()
    }
}
