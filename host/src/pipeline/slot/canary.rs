//! A canary: a second transport that serves a share of the calls, and is rolled back by itself
//! when it fails where the primary does not.
//!
//! The share is counted by call, not drawn at random: of every `n` calls, `round(n · share)`
//! go to the canary, so a small share is exact over a few hundred calls. Only the first
//! attempt of a call may go to the canary; when it fails at the transport level, the call goes
//! on at once on the primary (without using one of its retries), so a canary never costs a
//! caller a failed call. An HTTP error status is an answer, not a transport failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Serving;
use std::sync::Arc;

/// How a canary is run: its share of the calls and when it is rolled back.
///
/// The canary is rolled back when more than `max_failure_ratio` of its last `window` exchanges
/// failed at the transport level while the primary's ratio over its own last `window`
/// exchanges does not exceed it (when both fail, the server is the likelier cause). Set with
/// [`crate::ApifyClient::set_canary`] or the config file's `[transport.canary]` table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CanaryPolicy {
    /// The share of calls sent to the canary, 0 to 1.
    pub share: f64,
    /// How many of the canary's latest exchanges its failure ratio is taken over (1 to
    /// 1000, default 20); no rollback before it has had that many.
    pub window: u32,
    /// The transport-failure ratio over `window` above which the canary is rolled back
    /// (0 to 1, default 0.5).
    pub max_failure_ratio: f64,
}

/// The largest `window`: the outcomes ring of every transport holds this many.
pub(crate) const MAX_WINDOW: u32 = 1000;

impl CanaryPolicy {
    /// A canary taking `share` (0 to 1) of the calls, with the default rollback rule.
    pub fn new(share: f64) -> Self {
        CanaryPolicy {
            share,
            window: 20,
            max_failure_ratio: 0.5,
        }
    }

    /// Sets how many of the latest exchanges the failure ratio is taken over.
    pub fn window(mut self, window: u32) -> Self {
        self.window = window;
        self
    }

    /// Sets the failure ratio above which the canary is rolled back.
    pub fn max_failure_ratio(mut self, ratio: f64) -> Self {
        self.max_failure_ratio = ratio;
        self
    }

    /// `Err` names the first value out of range, as `field = value is ...; expected ...`.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.share) {
            return Err(format!(
                "share = {} is not a share of the calls; use a number from 0 to 1 (0.05 sends \
                 one call in 20 to the canary)",
                self.share
            ));
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(format!(
                "window = {} is out of range; use 1 to {MAX_WINDOW} (default 20)",
                self.window
            ));
        }
        if !(0.0..=1.0).contains(&self.max_failure_ratio) {
            return Err(format!(
                "max_failure_ratio = {} is out of range; use a number from 0 to 1 (default 0.5)",
                self.max_failure_ratio
            ));
        }
        Ok(())
    }
}

/// The canary in service: its transport, its policy, and the count that picks its calls.
pub(super) struct Canary {
    pub(super) serving: Arc<Serving>,
    pub(super) policy: CanaryPolicy,
    /// The share in millionths, so the pick is integer arithmetic.
    share_ppm: u64,
    calls: AtomicU64,
}

impl Canary {
    pub(super) fn new(serving: Arc<Serving>, policy: CanaryPolicy) -> Self {
        Canary {
            share_ppm: (policy.share * 1e6).round() as u64,
            serving,
            policy,
            calls: AtomicU64::new(0),
        }
    }

    /// Whether the next call goes to the canary: call `n` does when `floor((n+1) · share)`
    /// passes `floor(n · share)`, which spreads the canary's calls evenly.
    pub(super) fn takes_next_call(&self) -> bool {
        const PPM: u64 = 1_000_000;
        if self.share_ppm == 0 {
            return false;
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed) % PPM;
        (n + 1) * self.share_ppm / PPM > n * self.share_ppm / PPM
    }

    /// Whether the canary should be rolled back now, with why, given the primary's record.
    pub(super) fn verdict(&self, primary: &Serving) -> Option<String> {
        let window = self.policy.window as usize;
        let max = self.policy.max_failure_ratio;
        let (failed, seen) = self.serving.outcomes.latest(window);
        if seen < window || failed as f64 / seen as f64 <= max {
            return None;
        }
        // Over about the same span of time: the primary sees 1/share calls for each of the
        // canary's (as many of them as the ring holds).
        let p_window = (window as f64 / self.policy.share.max(1e-9)).ceil() as usize;
        let (p_failed, p_seen) = primary.outcomes.latest(p_window);
        let p_ratio = if p_seen == 0 {
            0.0
        } else {
            p_failed as f64 / p_seen as f64
        };
        if p_ratio > max {
            return None;
        }
        Some(format!(
            "{failed} of its last {seen} exchanges failed at the transport level, above \
             max_failure_ratio {max}, while the primary's were {p_failed} of {p_seen}"
        ))
    }
}

/// The latest outcomes (failed or not) of one transport's exchanges, in a ring written
/// without locks: two atomic operations per exchange.
pub(super) struct Outcomes {
    next: AtomicU64,
    failed: Box<[AtomicBool]>,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes {
            next: AtomicU64::new(0),
            failed: (0..MAX_WINDOW).map(|_| AtomicBool::new(false)).collect(),
        }
    }
}

impl Outcomes {
    pub(super) fn push(&self, failed: bool) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % u64::from(MAX_WINDOW);
        self.failed[i as usize].store(failed, Ordering::Relaxed);
    }

    /// Forgets every outcome.
    pub(super) fn reset(&self) {
        for f in self.failed.iter() {
            f.store(false, Ordering::Relaxed);
        }
        self.next.store(0, Ordering::Relaxed);
    }

    /// Of the latest `window` outcomes (fewer when there were fewer): (failed, seen).
    pub(super) fn latest(&self, window: usize) -> (usize, usize) {
        let next = self.next.load(Ordering::Relaxed);
        let seen = window.min(MAX_WINDOW as usize).min(next as usize);
        let failed = (1..=seen as u64)
            .filter(|back| {
                let i = (next - back) % u64::from(MAX_WINDOW);
                self.failed[i as usize].load(Ordering::Relaxed)
            })
            .count();
        (failed, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pick_gives_the_canary_its_exact_share_spread_evenly() {
        for share in [0.0, 0.01, 0.05, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.9, 1.0] {
            let c = Canary::new(Serving::for_tests("canary"), CanaryPolicy::new(share));
            let picks: Vec<bool> = (0..10_000).map(|_| c.takes_next_call()).collect();
            let taken = picks.iter().filter(|p| **p).count();
            assert_eq!(taken, (10_000.0 * share).round() as usize, "share {share}");
            // Evenly: no stretch of 100 calls is more than one call off its share.
            for w in picks.windows(100) {
                let n = w.iter().filter(|p| **p).count() as f64;
                assert!(
                    (n - 100.0 * share).abs() <= 1.0,
                    "share {share}: {n} in 100"
                );
            }
        }
    }

    #[test]
    fn the_ring_counts_only_the_latest_outcomes() {
        let o = Outcomes::default();
        assert_eq!(o.latest(20), (0, 0));
        for i in 0..30 {
            o.push(i < 10);
        }
        assert_eq!(o.latest(20), (0, 20));
        assert_eq!(o.latest(30), (10, 30));
        for _ in 0..(MAX_WINDOW * 3) {
            o.push(true);
        }
        assert_eq!(o.latest(5000), (1000, 1000));
    }

    #[test]
    fn a_canary_is_rolled_back_only_past_its_ratio_over_a_full_window_with_a_healthy_primary() {
        let primary = Serving::for_tests("primary");
        let c = Canary::new(Serving::for_tests("canary"), CanaryPolicy::new(0.1));
        for _ in 0..19 {
            c.serving.outcomes.push(true);
        }
        assert_eq!(
            c.verdict(&primary),
            None,
            "19 exchanges are not a window of 20"
        );
        c.serving.outcomes.push(true);
        let why = c.verdict(&primary).expect("20 failures of 20");
        assert!(why.contains("20 of its last 20"), "{why}");
        for _ in 0..20 {
            primary.outcomes.push(true);
        }
        assert_eq!(
            c.verdict(&primary),
            None,
            "the primary fails as much: not the canary"
        );

        let c = Canary::new(Serving::for_tests("canary"), CanaryPolicy::new(0.1));
        for i in 0..20 {
            c.serving.outcomes.push(i % 2 == 0);
        }
        assert_eq!(
            c.verdict(&Serving::for_tests("p")),
            None,
            "exactly 0.5 is not above"
        );
    }

    #[test]
    fn out_of_range_values_are_refused_by_name() {
        assert!(CanaryPolicy::new(0.05).check().is_ok());
        let e = CanaryPolicy::new(1.5).check().unwrap_err();
        assert!(e.starts_with("share = 1.5"), "{e}");
        let e = CanaryPolicy::new(0.1).window(0).check().unwrap_err();
        assert!(e.starts_with("window = 0"), "{e}");
        let e = CanaryPolicy::new(0.1).max_failure_ratio(f64::NAN).check();
        assert!(e.unwrap_err().starts_with("max_failure_ratio = NaN"));
        assert!(CanaryPolicy::new(f64::NAN).check().is_err());
    }
}
