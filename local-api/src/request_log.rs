//! The log of requests received, for tests to check what a client really sent.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};

/// Request headers worth keeping: what an API client decides (auth, content negotiation,
/// compression, identification). Credentials are never kept: see [`CREDENTIAL_HEADERS`].
pub const LOGGED_HEADERS: [&str; 11] = [
    "accept",
    "accept-encoding",
    "authorization",
    "proxy-authorization",
    "content-encoding",
    "content-length",
    "content-type",
    "transfer-encoding",
    "user-agent",
    "x-apify-workflow-key",
    "idempotency-key",
];

/// Headers whose value is a credential: logged as their scheme and [`MASK`] (`Bearer ***`), so
/// a test can still see that and how a client authenticated, but the log (served by
/// `/_control/requests`) never holds a token.
pub const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "proxy-authorization"];

/// Query parameters whose value is a credential: logged as `name=***`.
pub const CREDENTIAL_PARAMS: [&str; 2] = ["token", "signature"];

/// What a credential is replaced with in the log.
pub const MASK: &str = "***";

/// `Bearer abc` → `Bearer ***`; a value without a scheme → `***`.
fn mask_credential(value: &str) -> String {
    match value.trim().split_once(' ') {
        Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphabetic()) => {
            format!("{scheme} {MASK}")
        }
        _ => MASK.to_owned(),
    }
}

/// The raw query with the value of every [`CREDENTIAL_PARAMS`] parameter masked; every other
/// byte as received.
fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if CREDENTIAL_PARAMS.iter().any(|p| {
                    // Decoded as the token check reads it: `tok%65n=` is a `token=`.
                    form_urlencoded::parse(name.as_bytes())
                        .next()
                        .is_some_and(|(n, _)| n.eq_ignore_ascii_case(p))
                }) =>
            {
                format!("{name}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, still percent-encoded as received.
    pub path: String,
    /// Raw query string, without `?`; credentials (`CREDENTIAL_PARAMS`: token, signature)
    /// masked.
    pub query: Option<String>,
    /// The `LOGGED_HEADERS` that were present, names lowercase (values lossily decoded),
    /// credentials (`CREDENTIAL_HEADERS`: authorization, proxy-authorization) masked.
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
                    let value = String::from_utf8_lossy(v.as_bytes());
                    let value = if CREDENTIAL_HEADERS.contains(name) {
                        mask_credential(&value)
                    } else {
                        value.into_owned()
                    };
                    ((*name).to_owned(), value)
                })
            })
            .collect();
        Self {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(mask_query),
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
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.limit {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_logged() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        headers.insert("proxy-authorization", "Basic dXNlcjpwdw==".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        let uri: Uri = "/v2/x?limit=1&token=s3cret&Signature=S1G&a=b&tok%65n=s3cret"
            .parse()
            .unwrap();
        let e = LoggedRequest::new(&Method::GET, &uri, &headers);
        assert_eq!(e.header("authorization"), Some("Bearer ***"));
        assert_eq!(e.header("proxy-authorization"), Some("Basic ***"));
        assert_eq!(e.header("accept"), Some("*/*"));
        assert_eq!(
            e.query.as_deref(),
            Some("limit=1&token=***&Signature=***&a=b&tok%65n=***")
        );
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("S1G") && !text.contains("dXNl"));
        assert_eq!(mask_query("x=1&y"), "x=1&y");
        assert_eq!(mask_credential("raw-token"), "***");
    }
}
