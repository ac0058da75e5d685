//! Signed storage URLs, verified as the API does: a dataset or key-value store has a
//! `urlSigningSecretKey`, and a read that carries a `signature` made with it is allowed
//! without a token; a wrong or expired signature is refused with 403.
//!
//! The schemes (those of the official clients):
//! - storage content (dataset items, key listing): `signature = base64url("{version}.{expiresAtMillis}.{hmac}")`
//!   with `hmac = base62(HMAC-SHA256(secret, "{version}.{expiresAt}.{resourceId}"))`, version
//!   0, `expiresAt` 0 for never;
//! - a record: `signature = base62(HMAC-SHA256(secret, recordKey))`;
//!
//! where `base62(h)` is the first 30 hex digits of the HMAC read as a number and written in
//! base 62 with the digits `0-9a-zA-Z`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::{now_millis, secrets_equal};

const BASE62: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The base-62 HMAC of `message` under `secret`.
pub fn hmac_base62(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    // 30 hex digits are the first 15 bytes.
    let mut n = digest[..15]
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// A storage content signature for `resource_id`, valid until `expires_at_millis` (0: always).
pub fn storage_signature(secret: &str, resource_id: &str, expires_at_millis: i64) -> String {
    let hmac = hmac_base62(secret, &format!("0.{expires_at_millis}.{resource_id}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("0.{expires_at_millis}.{hmac}"))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Not made with this storage's key, or not a signature at all.
    Wrong,
    /// Made with the key, but its time is over.
    Expired,
}

/// Checks a storage content signature of `resource_id`.
pub fn verify_storage_signature(
    secret: &str,
    resource_id: &str,
    signature: &str,
) -> Result<(), SignatureError> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(SignatureError::Wrong)?;
    let mut parts = decoded.splitn(3, '.');
    let (Some(version), Some(expires), Some(hmac)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SignatureError::Wrong);
    };
    let expires_at: i64 = expires.parse().map_err(|_| SignatureError::Wrong)?;
    let expected = hmac_base62(secret, &format!("{version}.{expires}.{resource_id}"));
    if !secrets_equal(hmac.as_bytes(), expected.as_bytes()) {
        return Err(SignatureError::Wrong);
    }
    if expires_at != 0 && expires_at < now_millis() {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

/// Checks a record signature of `key`.
pub fn verify_record_signature(
    secret: &str,
    key: &str,
    signature: &str,
) -> Result<(), SignatureError> {
    if secrets_equal(signature.as_bytes(), hmac_base62(secret, key).as_bytes()) {
        Ok(())
    } else {
        Err(SignatureError::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let sig = storage_signature("key", "abc", 0);
        assert_eq!(verify_storage_signature("key", "abc", &sig), Ok(()));
        assert_eq!(
            verify_storage_signature("other", "abc", &sig),
            Err(SignatureError::Wrong)
        );
        assert_eq!(
            verify_storage_signature("key", "abd", &sig),
            Err(SignatureError::Wrong)
        );
        let old = storage_signature("key", "abc", 1000);
        assert_eq!(
            verify_storage_signature("key", "abc", &old),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify_record_signature("key", "INPUT", &hmac_base62("key", "INPUT")),
            Ok(())
        );
        assert!(hmac_base62("key", "x")
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()));
    }
}
