//! The log of requests received, for tests to check what a client really sent.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};

/// Request headers worth keeping: what an API client decides (auth, content negotiation,
/// compression, identification).
pub const LOGGED_HEADERS: [&str; 10] = [
    "accept",
    "accept-encoding",
    "authorization",
    "content-encoding",
    "content-length",
    "content-type",
    "transfer-encoding",
    "user-agent",
    "x-apify-workflow-key",
    "idempotency-key",
];

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, still percent-encoded as received.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// The [`LOGGED_HEADERS`] that were present, names lowercase (values lossily decoded).
    pub headers: BTreeMap<String, String>,
    /// Status sent; `None` only while the request is in flight, as the entry is made before
    /// the handler runs.
    pub status: Option<u16>,
}

impl LoggedRequest {
    /// The entry for a request, before its status is known.
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        let headers = LOGGED_HEADERS
            .iter()
            .filter_map(|name| {
                headers.get(*name).map(|v| {
                    (
                        (*name).to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
            })
            .collect();
        Self {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            status: None,
        }
    }

    /// A header's value (name in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A bounded log: the oldest entries are dropped past the limit.
pub struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
    limit: usize,
}

impl RequestLog {
    /// A log keeping at most `limit` entries; 0 disables it.
    pub fn new(limit: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            limit,
        }
    }

    /// Whether requests are logged at all.
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Adds an entry.
    pub fn push(&self, entry: LoggedRequest) {
        if self.limit == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("request log lock poisoned");
        if entries.len() >= self.limit {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .expect("request log lock poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.entries
            .lock()
            .expect("request log lock poisoned")
            .clear();
    }
}
