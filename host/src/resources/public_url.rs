//! Public (shareable) storage URLs, as the Python client builds them: the storage's own path
//! and query on the `api_public_url`, signed with the storage's `urlSigningSecretKey` when the
//! token may read it (without it, the URL is unsigned, and works only for a storage anyone
//! with the id can read).

use serde_json::{Map, Value};

use super::ResourceClient;
use crate::pipeline::ApiRequest;

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

/// `Debug` of a storage model as `Name {json}` with the URL signing secret masked: it grants
/// read access to the storage's content, so it must not reach logs or panics.
pub(crate) fn debug_masked<T: serde::Serialize>(
    name: &str,
    model: &T,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    let mut v = serde_json::to_value(model).unwrap_or(Value::Null);
    if let Some(secret) = v.get_mut("urlSigningSecretKey") {
        if !secret.is_null() {
            *secret = Value::String(crate::redact::MASK.to_string());
        }
    }
    write!(f, "{name} {v}")
}

#[cfg(test)]
mod tests {
    use crate::models::{Dataset, KeyValueStore};

    #[test]
    fn debug_masks_the_signing_secret() {
        let raw = serde_json::json!({"id": "d1", "urlSigningSecretKey": "s3cr3t-key"});
        let d: Dataset = serde_json::from_value(raw.clone()).unwrap();
        let k: KeyValueStore = serde_json::from_value(raw).unwrap();
        for shown in [format!("{d:?}"), format!("{k:?}")] {
            assert!(
                !shown.contains("s3cr3t-key") && shown.contains("d1"),
                "{shown}"
            );
        }
    }
}
