//! The bounds of the log channel (interface 1.4), for both sides. Public as
//! `crate::abi::log`.
//!
//! A plugin's log messages are untrusted input to the host: any length, any bytes, at any rate.
//! What the host shows of them is bounded here: one message is at most [`MAX_MESSAGE_BYTES`],
//! decoded lossily, with control characters escaped so that a message cannot forge a log line
//! or an escape sequence; and a [`RateLimit`] per plugin drops what comes faster than a reader
//! can follow, counting it.

use std::fmt::Write as _;
use std::time::Instant;

/// The most bytes of one message that are shown; the rest is cut, and the cut is said.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// A message's bytes as text that is safe to print in a log line: at most
/// [`MAX_MESSAGE_BYTES`] of them, decoded as UTF-8 with invalid sequences replaced (`�`),
/// trailing white space removed, and every control character escaped (`\u{1b}`, `\r`) except
/// tabs and line feeds. A line feed starts an indented continuation line, so that no line of a
/// message can pass for a log line of its own.
pub fn clean_message(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(MAX_MESSAGE_BYTES)];
    let text = String::from_utf8_lossy(shown);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.trim_end().chars() {
        match c {
            '\n' => out.push_str("\n    "),
            '\t' => out.push('\t'),
            // Bidirectional overrides and isolates reorder what a terminal shows.
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "{}", c.escape_default());
            }
            c => out.push(c),
        }
    }
    if bytes.len() > shown.len() {
        let _ = write!(out, " [{} more bytes cut]", bytes.len() - shown.len());
    }
    out
}

/// How many messages of one source are shown: a burst of [`RateLimit::BURST`], then
/// [`RateLimit::PER_SECOND`] a second (a token bucket). What comes faster is dropped and
/// counted, and the count is handed out with the next message that is shown, so that the
/// reader learns how much is missing without a line per dropped message.
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Messages that may be shown now, refilled with time.
    tokens: f64,
    /// When `tokens` was last refilled; `None` before the first message.
    last: Option<Instant>,
    /// Dropped since the last message shown.
    dropped: u64,
}

impl RateLimit {
    /// Messages shown at once after a quiet spell.
    pub const BURST: u32 = 50;
    /// Messages shown a second, sustained.
    pub const PER_SECOND: u32 = 10;

    /// A full bucket.
    pub const fn new() -> Self {
        RateLimit {
            tokens: Self::BURST as f64,
            last: None,
            dropped: 0,
        }
    }

    /// Whether a message arriving at `now` is shown: `Some(n)` with the number of messages
    /// dropped since the last one shown (say so before showing this one), or `None` when this
    /// one is dropped too.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        if let Some(last) = self.last {
            let refill =
                now.saturating_duration_since(last).as_secs_f64() * Self::PER_SECOND as f64;
            self.tokens = (self.tokens + refill).min(Self::BURST as f64);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.dropped))
        } else {
            self.dropped = self.dropped.saturating_add(1);
            None
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_the_rate_and_the_count_of_what_was_dropped() {
        let mut limit = RateLimit::new();
        let start = Instant::now();
        for _ in 0..RateLimit::BURST {
            assert_eq!(limit.admit(start), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(limit.admit(start), None);
        }
        // A tenth of a second later, one token is back: the next message passes and says how
        // many were dropped before it.
        let later = start + Duration::from_millis(1000 / RateLimit::PER_SECOND as u64);
        assert_eq!(limit.admit(later), Some(1000));
        assert_eq!(limit.admit(later), None);
        // Over a minute of a message every millisecond, about PER_SECOND a second pass.
        let mut shown = 0;
        for ms in 1..=60_000u64 {
            if limit.admit(later + Duration::from_millis(ms)).is_some() {
                shown += 1;
            }
        }
        let expected = 60 * RateLimit::PER_SECOND;
        assert!((expected - 2..=expected + 2).contains(&shown), "{shown}");
    }

    #[test]
    fn messages_are_bounded_decoded_lossily_and_cannot_forge_lines() {
        assert_eq!(clean_message(b"plain text\n"), "plain text");
        assert_eq!(clean_message(b"bad \xff byte"), "bad \u{fffd} byte");
        assert_eq!(
            clean_message(b"one\n2026-01-01 WARN forged\r\x1b[31m"),
            "one\n    2026-01-01 WARN forged\\r\\u{1b}[31m"
        );
        assert_eq!(clean_message("a\u{202e}b".as_bytes()), "a\\u{202e}b");
        let long = vec![b'x'; MAX_MESSAGE_BYTES + 10];
        let shown = clean_message(&long);
        assert!(shown.ends_with(" [10 more bytes cut]"), "{shown}");
        assert_eq!(shown.matches('x').count(), MAX_MESSAGE_BYTES);
    }
}
