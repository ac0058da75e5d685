//! Signatures for public storage URLs, the scheme the Apify API checks and the Python client
//! (`apify_client._utils.crypto`) writes:
//!
//! - [`create_hmac_signature`]: HMAC-SHA256 of the message, its first 30 hex digits read as
//!   one number and written in base62 (`0-9a-zA-Z`). A record URL is signed this way over the
//!   record's key;
//! - [`create_storage_content_signature`]: for a dataset's items or a store's keys,
//!   base64url of `{version}.{expires_at_ms}.{hmac("{version}.{expires_at_ms}.{resource_id}")}`,
//!   where `expires_at_ms` is 0 for a URL that never expires.
//!
//! ```
//! let sig = apify_host::signing::create_hmac_signature("secret", "my-key");
//! assert!(sig.chars().all(|c| c.is_ascii_alphanumeric()));
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `num` in base62 with the digits `0-9a-zA-Z` (`"0"` for zero).
fn encode_base62(mut num: u128) -> String {
    if num == 0 {
        return "0".to_string();
    }
    let mut digits = Vec::new();
    while num > 0 {
        digits.push(BASE62[(num % 62) as usize]);
        num /= 62;
    }
    digits.reverse();
    // Every byte comes from the ASCII table above.
    String::from_utf8(digits).unwrap_or_default()
}

/// The HMAC-SHA256 of `message` under `secret`, shortened as the API expects: the first 30
/// hex digits of the digest (120 bits) as a base62 number.
pub fn create_hmac_signature(secret: &str, message: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    // 30 hex digits = the first 15 bytes, big-endian.
    let num = digest[..15]
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    encode_base62(num)
}

/// The signature that grants access to a storage's content (a dataset's items, a store's
/// keys) without a token, until `expires_in` from now (never, when `None`). `version` is the
/// signature scheme's version; the API uses 0.
pub fn create_storage_content_signature(
    resource_id: &str,
    secret: &str,
    expires_in: Option<Duration>,
    version: u32,
) -> String {
    let expires_at_ms = expires_in.map_or(0, |d| {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        now_ms + d.as_millis()
    });
    storage_content_signature_at(resource_id, secret, expires_at_ms, version)
}

/// [`create_storage_content_signature`] with the expiry given as Unix milliseconds (0 =
/// never): the deterministic core, which the tests check against the Python client's vectors.
pub(crate) fn storage_content_signature_at(
    resource_id: &str,
    secret: &str,
    expires_at_ms: u128,
    version: u32,
) -> String {
    let hmac = create_hmac_signature(secret, &format!("{version}.{expires_at_ms}.{resource_id}"));
    base64::engine::general_purpose::URL_SAFE.encode(format!("{version}.{expires_at_ms}.{hmac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors printed by the Python client's own functions: `pip install apify-client`
    // (3.4.0) in a venv, then
    //
    //   from apify_client._utils.crypto import create_hmac_signature, create_storage_content_signature
    //   from datetime import timedelta
    //   import apify_client._utils.crypto as c
    //   create_hmac_signature(secret, message)
    //   create_storage_content_signature(resource_id, secret)             # never expires
    //   create_storage_content_signature(resource_id, secret, version=1)
    //   c.time.time = lambda: 1_700_000_000.0                             # a fixed clock
    //   create_storage_content_signature(resource_id, secret, expires_in=timedelta(hours=1))
    //
    // The expiring vectors therefore expire at 1_700_003_600_000 ms.
    /// (secret, message, create_hmac_signature(secret, message)) from the Python client.
    const HMAC_VECTORS: &[(&str, &str, &str)] = &[
        ("secret", "my-key", "1Eery8POh9ieEae8qANqa"),
        ("K8fD2kzQ9pL1mN3xR7tV", "OUTPUT", "1fAS2IcLeOFtcBkSifgDm"),
        ("", "", "1lcWUhfXs9DG9eDsoquF9"),
        ("pssst", "records/with spaces/and ünïcode", "yOwXhLFS74kRgqwymE1c"),
        ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "0.0.WkzbQMuFYuamGv3YF", "1rFPH3NxOIyiigucngAZ4"),
    ];
    /// (resource_id, secret, expires_at_ms, version, create_storage_content_signature(...)).
    const STORAGE_VECTORS: &[(&str, &str, u128, u32, &str)] = &[
        (
            "WkzbQMuFYuamGv3YF",
            "K8fD2kzQ9pL1mN3xR7tV",
            0,
            0,
            "MC4wLjE2ZE4xdFRic2ZUMnJJWURyZVRQaw==",
        ),
        (
            "WkzbQMuFYuamGv3YF",
            "K8fD2kzQ9pL1mN3xR7tV",
            0,
            1,
            "MS4wLjFyanFVTU1xZXJFWklyR1J6Z254RQ==",
        ),
        (
            "WkzbQMuFYuamGv3YF",
            "K8fD2kzQ9pL1mN3xR7tV",
            1_700_003_600_000,
            0,
            "MC4xNzAwMDAzNjAwMDAwLlBydzFqalFqcVR2WkM5VXpjOXlG",
        ),
        ("abc", "secret", 0, 0, "MC4wLnpaaVYxc2RXV3pBU3hvajFQMVVW"),
        ("abc", "secret", 0, 1, "MS4wLmVqaGxYenpGUWNwcTUxTVJOOVZX"),
        (
            "abc",
            "secret",
            1_700_003_600_000,
            0,
            "MC4xNzAwMDAzNjAwMDAwLjFSR2JYU1J1bVZ1RndKMWo0NFRLdA==",
        ),
    ];

    #[test]
    fn hmac_signatures_match_the_python_client() {
        for (secret, message, want) in HMAC_VECTORS {
            assert_eq!(
                create_hmac_signature(secret, message),
                *want,
                "{secret:?} {message:?}"
            );
        }
    }

    #[test]
    fn storage_signatures_match_the_python_client() {
        for (id, secret, expires_at_ms, version, want) in STORAGE_VECTORS {
            assert_eq!(
                storage_content_signature_at(id, secret, *expires_at_ms, *version),
                *want,
                "{id:?} {expires_at_ms} v{version}"
            );
        }
    }

    #[test]
    fn an_expiring_signature_carries_its_expiry() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let sig = create_storage_content_signature("id", "s", Some(Duration::from_secs(60)), 0);
        let text = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE
                .decode(&sig)
                .unwrap(),
        )
        .unwrap();
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3, "{text}");
        assert_eq!(parts[0], "0");
        let at: u128 = parts[1].parse().unwrap();
        assert!(
            at >= before + 60_000 && at < before + 60_000 + 600_000,
            "{at}"
        );
        assert_eq!(
            sig,
            storage_content_signature_at("id", "s", at, 0),
            "recomputes"
        );
    }

    #[test]
    fn base62() {
        assert_eq!(encode_base62(0), "0");
        assert_eq!(encode_base62(61), "Z");
        assert_eq!(encode_base62(62), "10");
    }
}
