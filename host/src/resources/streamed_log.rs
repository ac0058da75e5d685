//! [`StreamedLog`]: follows the log of a run into `tracing`, one event per log message, as the
//! Python client's `StreamedLog` redirects it into a logger.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::{sync::watch, task::JoinHandle};

use super::LogClient;

/// The `tracing` target of redirected Actor logs and status messages.
pub(crate) const TARGET: &str = "apify.actor";

/// The first pause before reopening a log stream that ended before the run logged anything
/// (the API serves such a log as an empty stream that ends at once); it doubles up to
/// [`MAX_EMPTY_RETRY`].
const FIRST_EMPTY_RETRY: Duration = Duration::from_millis(500);
const MAX_EMPTY_RETRY: Duration = Duration::from_secs(5);

/// Follows the log of one run in a background task; see
/// [`RunClient::get_streamed_log`](super::RunClient::get_streamed_log). Each message goes to
/// `tracing` (target `apify.actor`) as `{actor name} runId:{id} -> {message}`, at the level
/// the message names (`ERROR`, `WARN`, `DEBUG`; `INFO` otherwise). Dropping it ends the task.
#[derive(Debug)]
pub struct StreamedLog {
    log: LogClient,
    prefix: String,
    from_start: bool,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl StreamedLog {
    pub(crate) fn new(log: LogClient, prefix: String, from_start: bool) -> Self {
        StreamedLog {
            log,
            prefix,
            from_start,
            stop: None,
            task: None,
        }
    }

    /// Starts following the log (on the current tokio runtime); does nothing if it already
    /// follows it.
    pub fn start(&mut self) {
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let (tx, rx) = watch::channel(false);
        let not_before = (!self.from_start).then(Utc::now);
        let follow = follow(self.log.clone(), self.prefix.clone(), not_before, rx);
        self.task = Some(tokio::spawn(follow));
        self.stop = Some(tx);
    }

    /// Stops following the log, after logging what was already received.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits up to `grace` for the log stream to end by itself (it does when the run ends),
    /// then stops.
    pub(crate) async fn finish(&mut self, grace: Duration) {
        if let Some(task) = self.task.as_mut() {
            if tokio::time::timeout(grace, task).await.is_ok() {
                self.task = None;
            }
        }
        self.stop().await;
    }
}

impl Drop for StreamedLog {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The background task: reads the log stream (reopening it while the run has logged
/// nothing yet) until it ends or `stop` says so, then logs the rest.
async fn follow(
    log: LogClient,
    prefix: String,
    not_before: Option<DateTime<Utc>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut splitter = LogSplitter::new(not_before);
    let mut retry = FIRST_EMPTY_RETRY;
    'reopen: loop {
        let opened = tokio::select! {
            r = log.stream(true) => r,
            _ = stop.changed() => break 'reopen,
        };
        let mut body = match opened {
            Ok(Some(body)) => body,
            Ok(None) => break 'reopen,
            Err(e) => {
                tracing::warn!(target: TARGET, "{prefix} -> log redirection stopped: {e}");
                break 'reopen;
            }
        };
        loop {
            tokio::select! {
                chunk = body.next() => match chunk {
                    Some(Ok(bytes)) => emit(&prefix, splitter.push(&bytes)),
                    Some(Err(e)) => {
                        tracing::warn!(target: TARGET, "{prefix} -> log redirection stopped: {e}");
                        break 'reopen;
                    }
                    None => break,
                },
                _ = stop.changed() => break 'reopen,
            }
        }
        if splitter.received {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.changed() => break 'reopen,
        }
        retry = (retry * 2).min(MAX_EMPTY_RETRY);
    }
    if !splitter.received {
        // Stopped before any stream delivered a byte (a run that ended quickly): read the
        // whole log once instead.
        if let Ok(Some(all)) = log.get_as_bytes(true).await {
            emit(&prefix, splitter.push(&all));
        }
    }
    emit(&prefix, splitter.finish());
}

/// Sends each message to `tracing` at the level it names.
fn emit(prefix: &str, messages: Vec<String>) {
    for m in messages {
        match guess_level(&m) {
            tracing::Level::ERROR => tracing::error!(target: TARGET, "{prefix} -> {m}"),
            tracing::Level::WARN => tracing::warn!(target: TARGET, "{prefix} -> {m}"),
            tracing::Level::DEBUG => tracing::debug!(target: TARGET, "{prefix} -> {m}"),
            _ => tracing::info!(target: TARGET, "{prefix} -> {m}"),
        }
    }
}

/// The level a message names, checked in the Python client's order (the first one found
/// wins); `INFO` when none.
fn guess_level(message: &str) -> tracing::Level {
    for (word, level) in [
        ("CRITICAL", tracing::Level::ERROR),
        ("FATAL", tracing::Level::ERROR),
        ("ERROR", tracing::Level::ERROR),
        ("WARN", tracing::Level::WARN),
        ("INFO", tracing::Level::INFO),
        ("DEBUG", tracing::Level::DEBUG),
    ] {
        if message.contains(word) {
            return level;
        }
    }
    tracing::Level::INFO
}

/// Splits a log that arrives in arbitrary chunks into messages: each message starts with a
/// timestamp (`2024-01-01T00:00:00.000Z`) at the start of a line and runs until the next one,
/// so a multi-line message (a stack trace) stays one message. The last message is held back
/// until the next one starts or the log ends, since more of it may still come.
#[derive(Debug, Default)]
pub(crate) struct LogSplitter {
    buf: Vec<u8>,
    /// Messages older than this are skipped (`from_start: false`).
    not_before: Option<DateTime<Utc>>,
    /// Whether any byte arrived.
    pub(crate) received: bool,
}

/// The most the splitter holds back of a message that has not ended: a log without
/// timestamps is passed on in pieces of about this size instead of growing without bound.
const MAX_HELD: usize = 256 * 1024;

/// `dddd-dd-ddTdd:dd:dd.dddZ`, `d` a digit.
const TIMESTAMP_SHAPE: &[u8; 24] = b"dddd-dd-ddTdd:dd:dd.dddZ";

fn is_timestamp_at(buf: &[u8], at: usize) -> bool {
    buf.len() >= at + TIMESTAMP_SHAPE.len()
        && TIMESTAMP_SHAPE
            .iter()
            .zip(&buf[at..])
            .all(|(want, got)| match want {
                b'd' => got.is_ascii_digit(),
                w => w == got,
            })
}

impl LogSplitter {
    pub(crate) fn new(not_before: Option<DateTime<Utc>>) -> Self {
        LogSplitter {
            not_before,
            ..Default::default()
        }
    }

    /// Adds a chunk; answers the messages it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.received |= !chunk.is_empty();
        // Between pushes the buffer holds at most one timestamp, at its start: only the
        // positions whose timestamp the new bytes may complete need a look.
        let from = self.buf.len().saturating_sub(TIMESTAMP_SHAPE.len()).max(1);
        self.buf.extend_from_slice(chunk);
        let starts: Vec<usize> = (from..self.buf.len())
            .filter(|&i| self.buf[i - 1] == b'\n' && is_timestamp_at(&self.buf, i))
            .collect();
        let last = match starts.last() {
            Some(&last) if last > 0 => last,
            // Nothing complete yet; past the cap, pass on whole lines held so far.
            _ if self.buf.len() > MAX_HELD => match self.buf.iter().rposition(|&b| b == b'\n') {
                Some(nl) if nl > 0 => nl + 1,
                _ => self.buf.len(),
            },
            _ => return Vec::new(),
        };
        let rest = self.buf.split_off(last);
        let done = std::mem::replace(&mut self.buf, rest);
        self.messages(&done)
    }

    /// The log ended: answers what is left.
    pub(crate) fn finish(&mut self) -> Vec<String> {
        let done = std::mem::take(&mut self.buf);
        self.messages(&done)
    }

    /// `text` (whole messages) split at each timestamp, trimmed, without the empty ones and
    /// those older than `not_before`.
    fn messages(&self, text: &[u8]) -> Vec<String> {
        let mut starts: Vec<usize> = (0..text.len())
            .filter(|&i| (i == 0 || text[i - 1] == b'\n') && is_timestamp_at(text, i))
            .collect();
        // Text before the first timestamp is a message of its own (kept: never lose lines).
        if starts.first() != Some(&0) {
            starts.insert(0, 0);
        }
        let ends = starts.iter().skip(1).copied().chain([text.len()]);
        starts
            .iter()
            .zip(ends)
            .filter_map(|(&s, e)| {
                let part = &text[s..e];
                if let Some(limit) = self.not_before {
                    // Untimestamped text is old when skipping old messages.
                    let time = is_timestamp_at(part, 0)
                        .then(|| std::str::from_utf8(&part[..24]).ok())
                        .flatten()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    if time.is_none_or(|t| t < limit) {
                        return None;
                    }
                }
                let m = String::from_utf8_lossy(part).trim().to_string();
                (!m.is_empty()).then_some(m)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn splits_on_timestamps_across_chunk_borders() {
        let log = "2024-01-01T00:00:00.000Z ACTOR: Pulling image\n\
                   2024-01-01T00:00:01.000Z ERROR boom\n  at line 1\n  at line 2\n\
                   2024-01-01T00:00:02.500Z done\n";
        // Every split point, including inside a timestamp, gives the same messages.
        for cut in 0..log.len() {
            let mut s = LogSplitter::new(None);
            let mut got = s.push(&log.as_bytes()[..cut]);
            got.extend(s.push(&log.as_bytes()[cut..]));
            got.extend(s.finish());
            assert_eq!(
                got,
                [
                    "2024-01-01T00:00:00.000Z ACTOR: Pulling image",
                    "2024-01-01T00:00:01.000Z ERROR boom\n  at line 1\n  at line 2",
                    "2024-01-01T00:00:02.500Z done",
                ],
                "cut at {cut}"
            );
        }
        // The last message waits for the next one or the end.
        let mut s = LogSplitter::new(None);
        assert!(s.push(b"2024-01-01T00:00:00.000Z a\n").is_empty());
        assert_eq!(s.finish(), ["2024-01-01T00:00:00.000Z a"]);
    }

    #[test]
    fn skips_old_messages_and_keeps_untimestamped_text_from_the_start() {
        let mut s = LogSplitter::new(None);
        let mut got = s.push(b"preamble\n2024-01-01T00:00:00.000Z a\n");
        got.extend(s.finish());
        assert_eq!(got, ["preamble", "2024-01-01T00:00:00.000Z a"]);

        let limit = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 1).unwrap();
        let mut s = LogSplitter::new(Some(limit));
        let mut got = s.push(b"old\n2024-01-01T00:00:00.999Z a\n2024-01-01T00:00:01.000Z b\n");
        got.extend(s.finish());
        assert_eq!(got, ["2024-01-01T00:00:01.000Z b"]);
    }

    #[test]
    fn a_log_without_timestamps_is_passed_on_in_bounded_pieces() {
        let mut s = LogSplitter::new(None);
        let line = "x".repeat(1023) + "\n";
        let mut got = Vec::new();
        for _ in 0..1000 {
            got.extend(s.push(line.as_bytes()));
            assert!(s.buf.len() <= MAX_HELD + line.len());
        }
        got.extend(s.finish());
        assert!(got.len() > 1);
        assert_eq!(
            got.iter().map(|m| m.matches('x').count()).sum::<usize>(),
            1023 * 1000
        );
    }

    #[test]
    fn levels_are_guessed_from_the_message() {
        assert_eq!(guess_level("x ERROR y"), tracing::Level::ERROR);
        assert_eq!(guess_level("x WARN y"), tracing::Level::WARN);
        assert_eq!(guess_level("x DEBUG y"), tracing::Level::DEBUG);
        assert_eq!(guess_level("x y"), tracing::Level::INFO);
        assert_eq!(guess_level("INFO then ERROR"), tracing::Level::ERROR);
    }
}
