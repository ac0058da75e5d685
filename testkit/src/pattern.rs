//! The deterministic body pattern served by `/bytes/{n}` and the body-fault actions.
//!
//! Byte `i` of every pattern body is `(i % 251) as u8`. The period is a prime so that
//! a transport which drops, duplicates or reorders power-of-two sized blocks produces
//! a body that no longer matches (the block boundaries do not line up with the period).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Period of the pattern, in bytes.
pub(crate) const PERIOD: usize = 251;

/// Size of one body write: ~256 KiB, and an exact multiple of [`PERIOD`] so that every
/// full chunk of a body starting at offset 0 begins at phase 0. That lets the hot path
/// write the same pre-generated slice (and, for chunked encoding, the same pre-framed
/// chunk) over and over without any per-byte work.
pub(crate) const CHUNK: usize = PERIOD * 1044; // 262_044 bytes

/// `CHUNK + PERIOD` bytes of pattern: any window of up to `CHUNK` bytes starting at any
/// phase is a plain sub-slice, which is what writes at arbitrary offsets need.
fn buffer() -> &'static [u8] {
    static BUF: OnceLock<Vec<u8>> = OnceLock::new();
    BUF.get_or_init(|| (0..CHUNK + PERIOD).map(|i| (i % PERIOD) as u8).collect())
}

/// One full chunk in chunked transfer-encoding framing: `"{CHUNK:x}\r\n" data "\r\n"`.
fn framed_chunk() -> &'static [u8] {
    static FRAME: OnceLock<Vec<u8>> = OnceLock::new();
    FRAME.get_or_init(|| {
        let mut v = format!("{CHUNK:x}\r\n").into_bytes();
        v.extend_from_slice(&buffer()[..CHUNK]);
        v.extend_from_slice(b"\r\n");
        v
    })
}

/// The pattern byte at `offset`.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % PERIOD as u64) as u8
}

/// The first `n` bytes of the pattern (what `GET /bytes/{n}` serves): byte `i` is
/// `(i % 251) as u8`.
pub fn pattern_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let take = (n - out.len()).min(CHUNK);
        out.extend_from_slice(&buffer()[..take]);
    }
    out
}

/// Whether `data` equals the pattern bytes at `offset..offset + data.len()`.
///
/// Lets a client verify a streamed body chunk by chunk at memcmp speed, without
/// buffering it and without hashing (which would cap a throughput benchmark).
pub fn pattern_matches(offset: u64, data: &[u8]) -> bool {
    let mut off = offset;
    data.chunks(CHUNK).all(|piece| {
        let phase = (off % PERIOD as u64) as usize;
        off += piece.len() as u64;
        piece == &buffer()[phase..phase + piece.len()]
    })
}

/// Lowercase hex SHA-256 of the first `n` pattern bytes, i.e. of the body of
/// `GET /bytes/{n}`. Computed incrementally (no `n`-sized buffer) and cached per `n`,
/// because hashing 1 GiB takes a noticeable fraction of a second.
pub fn pattern_sha256(n: u64) -> String {
    static CACHE: OnceLock<Mutex<HashMap<u64, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap().get(&n) {
        return hit.clone();
    }
    // Hash outside the lock: concurrent callers for different sizes must not serialize.
    let mut hasher = Sha256::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(CHUNK as u64) as usize;
        hasher.update(&buffer()[..take]);
        left -= take as u64;
    }
    let hex = to_hex(&hasher.finalize());
    cache.lock().unwrap().insert(n, hex.clone());
    hex
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Appends pattern bytes `offset..offset + len` to `out` (for small bodies that are sent
/// in the same write as the response head).
pub(crate) fn extend_pattern(out: &mut Vec<u8>, offset: u64, len: usize) {
    let mut off = offset;
    let mut left = len;
    while left > 0 {
        let take = left.min(CHUNK);
        let phase = (off % PERIOD as u64) as usize;
        out.extend_from_slice(&buffer()[phase..phase + take]);
        off += take as u64;
        left -= take;
    }
}

/// Writes pattern bytes `offset..offset + len` as raw (Content-Length framed) body bytes.
pub(crate) async fn write_pattern(
    stream: &mut TcpStream,
    offset: u64,
    len: u64,
) -> std::io::Result<()> {
    let mut off = offset;
    let end = offset + len;
    while off < end {
        let take = (end - off).min(CHUNK as u64) as usize;
        let phase = (off % PERIOD as u64) as usize;
        stream.write_all(&buffer()[phase..phase + take]).await?;
        off += take as u64;
    }
    Ok(())
}

/// Writes the first `len` pattern bytes in chunked transfer-encoding, including the
/// terminating zero-size chunk.
pub(crate) async fn write_pattern_chunked(stream: &mut TcpStream, len: u64) -> std::io::Result<()> {
    let full = len / CHUNK as u64;
    let rest = (len % CHUNK as u64) as usize;
    for _ in 0..full {
        stream.write_all(framed_chunk()).await?;
    }
    // Full chunks are multiples of the period, so the tail starts at phase 0 as well.
    let mut tail = Vec::with_capacity(rest + 32);
    if rest > 0 {
        tail.extend_from_slice(format!("{rest:x}\r\n").as_bytes());
        tail.extend_from_slice(&buffer()[..rest]);
        tail.extend_from_slice(b"\r\n");
    }
    tail.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&tail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_matches_agree() {
        let b = pattern_bytes(3 * CHUNK + 17);
        assert!(b
            .iter()
            .enumerate()
            .all(|(i, &x)| x == pattern_byte(i as u64)));
        assert!(pattern_matches(0, &b));
        assert!(pattern_matches(1000, &b[1000..]));
        assert!(!pattern_matches(1, &b[..100]));
        let mut v = Vec::new();
        extend_pattern(&mut v, 7, CHUNK + 3);
        assert_eq!(v, &b[7..7 + CHUNK + 3]);
    }

    #[test]
    fn sha_of_known_inputs() {
        // SHA-256 of the empty string.
        assert_eq!(
            pattern_sha256(0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let b = pattern_bytes(CHUNK * 2 + 5);
        assert_eq!(pattern_sha256(b.len() as u64), to_hex(&Sha256::digest(&b)));
    }
}
