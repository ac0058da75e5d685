//! Actor run and build logs: text seeded through the control API (or generated for ids that
//! start with `demo`), readable whole or as a stream that follows appends until the log is
//! finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

/// All logs, by run or build id.
#[derive(Default)]
pub struct Logs {
    logs: RwLock<HashMap<String, Arc<Log>>>,
}

/// One log.
pub struct Log {
    text: Mutex<Vec<u8>>,
    /// Carries `(length, finished)` so streaming readers wake on every append.
    state: watch::Sender<(usize, bool)>,
}

impl Log {
    fn new(text: Vec<u8>, finished: bool) -> Self {
        let len = text.len();
        Self {
            text: Mutex::new(text),
            state: watch::channel((len, finished)).0,
        }
    }

    /// Appends text, and finishes the log if asked.
    pub fn append(&self, more: &[u8], finish: bool) {
        let mut text = self.text.lock().expect("log lock poisoned");
        text.extend_from_slice(more);
        let len = text.len();
        drop(text);
        self.state.send_modify(|s| {
            s.0 = len;
            s.1 |= finish;
        });
    }

    /// The bytes from `from` to the current end.
    pub fn read_from(&self, from: usize) -> Bytes {
        let text = self.text.lock().expect("log lock poisoned");
        Bytes::copy_from_slice(text.get(from..).unwrap_or_default())
    }

    /// A receiver of `(length, finished)` updates.
    pub fn subscribe(&self) -> watch::Receiver<(usize, bool)> {
        self.state.subscribe()
    }
}

impl Logs {
    /// The log of `id`; for an id starting with `demo` that has not been seeded, a generated
    /// finished log of 100 lines.
    pub fn get(&self, id: &str) -> Option<Arc<Log>> {
        if let Some(log) = self.logs.read().expect("logs lock poisoned").get(id) {
            return Some(log.clone());
        }
        id.starts_with("demo")
            .then(|| Arc::new(Log::new(demo_log(id).into_bytes(), true)))
    }

    /// Replaces the log of `id` (creating it).
    pub fn set(&self, id: &str, text: Vec<u8>, finished: bool) {
        let log = Arc::new(Log::new(text, finished));
        let old = self
            .logs
            .write()
            .expect("logs lock poisoned")
            .insert(id.to_owned(), log);
        // Readers streaming the old log are told it is over.
        if let Some(old) = old {
            old.state.send_modify(|s| s.1 = true);
        }
    }

    /// Appends to the log of `id` (creating it, unfinished).
    pub fn append(&self, id: &str, text: &[u8], finish: bool) {
        let log = self
            .logs
            .write()
            .expect("logs lock poisoned")
            .entry(id.to_owned())
            .or_insert_with(|| Arc::new(Log::new(Vec::new(), false)))
            .clone();
        log.append(text, finish);
    }

    /// Opens the log of `id` again for appends and streams (a resurrected run), creating it.
    pub fn reopen(&self, id: &str) {
        self.append(id, b"", false);
        if let Some(log) = self.logs.read().expect("logs lock poisoned").get(id) {
            log.state.send_modify(|s| s.1 = false);
        }
    }

    /// Removes every log.
    pub fn clear(&self) {
        self.logs.write().expect("logs lock poisoned").clear();
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
    #[test]
    fn strips_colours() {
        assert_eq!(super::strip_ansi(b"a\x1b[32mINFO\x1b[0m b"), b"aINFO b");
    }
}
