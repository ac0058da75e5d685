//! Actor run and build logs: text seeded through the control API (or generated for ids that
//! start with `demo`), readable whole or as a stream that follows appends until the log is
//! finished.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

/// All logs, by run or build id.
pub struct Logs {
    logs: RwLock<HashMap<String, Arc<Log>>>,
    /// The most bytes one log keeps.
    max_bytes: usize,
}

/// How far past a cut the head may be dropped further to start the kept text at a line.
const LINE_SEARCH: usize = 4096;

/// A log's text: the kept tail, and how many bytes were dropped before it.
struct Text {
    kept: VecDeque<u8>,
    dropped: usize,
}

/// One log. Positions are counted over everything ever appended (dropped bytes included), so
/// a streaming reader's position stays valid when the head is dropped.
pub struct Log {
    text: Mutex<Text>,
    max_bytes: usize,
    /// Carries `(end position, finished)` so streaming readers wake on every append.
    state: watch::Sender<(usize, bool)>,
}

impl Log {
    fn new(text: Vec<u8>, finished: bool, max_bytes: usize) -> Self {
        let mut text = Text {
            kept: text.into(),
            dropped: 0,
        };
        trim(&mut text, max_bytes);
        let end = text.dropped + text.kept.len();
        Self {
            text: Mutex::new(text),
            max_bytes,
            state: watch::channel((end, finished)).0,
        }
    }

    /// Appends text (the head is dropped beyond the log's cap), and finishes the log if asked.
    pub fn append(&self, more: &[u8], finish: bool) {
        let mut text = self.text.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the tail of a chunk larger than the cap can be kept: skip the rest unread.
        let mut skip = more.len().saturating_sub(self.max_bytes);
        if skip > 0 {
            skip += to_line_start(more[skip - 1], more[skip..].iter());
            text.dropped = text.dropped.saturating_add(text.kept.len() + skip);
            text.kept.clear();
        }
        text.kept.extend(&more[skip..]);
        trim(&mut text, self.max_bytes);
        let end = text.dropped.saturating_add(text.kept.len());
        drop(text);
        self.state.send_modify(|s| {
            s.0 = end;
            s.1 |= finish;
        });
    }

    /// The bytes from position `from` to the current end, and the end position. When bytes
    /// from `from` on were dropped, the answer starts with one line saying how many.
    pub fn read_from(&self, from: usize) -> (Bytes, usize) {
        let text = self.text.lock().unwrap_or_else(PoisonError::into_inner);
        let end = text.dropped + text.kept.len();
        let mut out = Vec::new();
        let start = if from < text.dropped {
            out.extend_from_slice(
                format!("[log truncated: {} bytes dropped]\n", text.dropped - from).as_bytes(),
            );
            0
        } else {
            (from - text.dropped).min(text.kept.len())
        };
        out.extend(text.kept.range(start..));
        (out.into(), end)
    }

    /// A receiver of `(end position, finished)` updates.
    pub fn subscribe(&self) -> watch::Receiver<(usize, bool)> {
        self.state.subscribe()
    }
}

/// Drops the head of `text` beyond `max_bytes`, and a little more so that the kept text
/// starts at a line (when a line starts within [`LINE_SEARCH`] bytes of the cut).
fn trim(text: &mut Text, max_bytes: usize) {
    let excess = text.kept.len().saturating_sub(max_bytes);
    if excess == 0 {
        return;
    }
    let cut = excess + to_line_start(text.kept[excess - 1], text.kept.range(excess..));
    text.kept.drain(..cut);
    text.dropped = text.dropped.saturating_add(cut);
}

/// How many more bytes to drop after a cut so that the kept text starts a line: none when
/// the last byte dropped (`before`) ends one, else through the next newline in `after` (when
/// one comes within [`LINE_SEARCH`] bytes).
fn to_line_start<'a>(before: u8, after: impl Iterator<Item = &'a u8>) -> usize {
    if before == b'\n' {
        return 0;
    }
    after
        .take(LINE_SEARCH)
        .position(|&b| b == b'\n')
        .map_or(0, |at| at + 1)
}

impl Logs {
    /// No logs yet; each will keep at most `max_bytes` (its tail).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            logs: RwLock::default(),
            max_bytes,
        }
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Log>>> {
        self.logs.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_map(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Log>>> {
        self.logs.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The log of `id`; for an id starting with `demo` that has not been seeded, a generated
    /// finished log of 100 lines.
    pub fn get(&self, id: &str) -> Option<Arc<Log>> {
        if let Some(log) = self.read_map().get(id) {
            return Some(log.clone());
        }
        id.starts_with("demo")
            .then(|| Arc::new(Log::new(demo_log(id).into_bytes(), true, self.max_bytes)))
    }

    /// Replaces the log of `id` (creating it).
    pub fn set(&self, id: &str, text: Vec<u8>, finished: bool) {
        let log = Arc::new(Log::new(text, finished, self.max_bytes));
        let old = self.write_map().insert(id.to_owned(), log);
        // Readers streaming the old log are told it is over.
        if let Some(old) = old {
            old.state.send_modify(|s| s.1 = true);
        }
    }

    /// Appends to the log of `id` (creating it, unfinished).
    pub fn append(&self, id: &str, text: &[u8], finish: bool) {
        let log = self
            .write_map()
            .entry(id.to_owned())
            .or_insert_with(|| Arc::new(Log::new(Vec::new(), false, self.max_bytes)))
            .clone();
        log.append(text, finish);
    }

    /// Opens the log of `id` again for appends and streams (a resurrected run), creating it.
    pub fn reopen(&self, id: &str) {
        self.append(id, b"", false);
        if let Some(log) = self.read_map().get(id) {
            log.state.send_modify(|s| s.1 = false);
        }
    }

    /// Removes every log.
    pub fn clear(&self) {
        self.write_map().clear();
    }
}

/// The generated log of a `demo…` id: deterministic, with ANSI colour codes like real logs.
fn demo_log(id: &str) -> String {
    let mut out = String::new();
    for i in 1..=100 {
        out.push_str(&format!(
            "2026-01-01T00:00:{:02}.{:03}Z \x1b[32mINFO\x1b[39m  [{id}] Demo log line {i} of 100\n",
            i % 60,
            i * 7 % 1000
        ));
    }
    out
}

/// Removes ANSI escape sequences (CSI `ESC [ … final` and two-byte `ESC x`), as the API does
/// unless `raw=1`.
pub fn strip_ansi(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == 0x1b {
            if input.get(i + 1) == Some(&b'[') {
                i += 2;
                while i < input.len() && !(0x40..=0x7e).contains(&input[i]) {
                    i += 1;
                }
                i += 1;
            } else {
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Log;

    #[test]
    fn a_capped_log_keeps_its_tail_from_a_line_with_one_marker() {
        let log = Log::new(Vec::new(), false, 10);
        log.append(b"line1\nline2\n", false);
        let (text, end) = log.read_from(0);
        assert_eq!(&text[..], b"[log truncated: 6 bytes dropped]\nline2\n");
        assert_eq!(end, 12);
        log.append(b"abc", false);
        // A reader at the end before the append reads only the new bytes.
        assert_eq!(&log.read_from(12).0[..], b"abc");
        // One chunk larger than the cap: only its tail stays.
        log.append(&[b'x'; 100], false);
        let (text, end) = log.read_from(0);
        assert_eq!(end, 115);
        assert_eq!(&text[..], b"[log truncated: 105 bytes dropped]\nxxxxxxxxxx");
    }

    #[test]
    fn strips_colours() {
        assert_eq!(super::strip_ansi(b"a\x1b[32mINFO\x1b[0m b"), b"aINFO b");
    }
}
