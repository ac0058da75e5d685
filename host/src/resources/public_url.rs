//! Public (shareable) storage URLs, as the Python client builds them: the storage's own path
//! and query on the `api_public_url`, signed with the storage's `urlSigningSecretKey` when the
//! token may read it (without it, the URL is unsigned, and works only for a storage anyone
//! with the id can read).

use serde_json::{Map, Value};

use super::ResourceClient;
use crate::http::ApiRequest;

/// The storage's URL signing secret, from a `GET` of the storage; `None` when the token may
/// not see it.
pub(crate) fn signing_secret(extra: &Map<String, Value>) -> Option<&str> {
    extra
        .get("urlSigningSecretKey")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `req`'s path and query on the public API URL of `res`'s client.
pub(crate) fn public_url(res: &ResourceClient, req: &ApiRequest) -> String {
    let base = res.pipeline().public_url();
    match req.query_string() {
        Some(q) if !q.is_empty() => format!("{base}{}?{q}", req.path()),
        _ => format!("{base}{}", req.path()),
    }
}
