//! Conversions between the author-facing types of [`crate::types`] and the FFI types of
//! [`crate::ffi`]. The export glue uses them on the plugin side and the host's adapter on the
//! other, so both sides agree on one mapping. Public as [`crate::abi::convert`].

use std::time::Duration;

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, ROption, RSlice, RString, RVec},
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::ffi::{BytesOwner, BytesOwner_TO, ErrorKind, FfiBytes, FfiError, FfiHeader};
use crate::types::Error;

// ---- errors ----------------------------------------------------------------------------------

impl From<FfiError> for Error {
    fn from(e: FfiError) -> Self {
        Error {
            kind: e.kind,
            message: e.message.into_string(),
            retryable: e.retryable,
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError {
            kind: e.kind,
            message: RString::from(e.message),
            retryable: e.retryable,
        }
    }
}

// ---- bytes, without copies ------------------------------------------------------------------

struct OwnedBytes(Bytes);

impl BytesOwner for OwnedBytes {
    fn as_slice(&self) -> RSlice<'_, u8> {
        RSlice::from_slice(&self.0)
    }
}

/// Hands `bytes` across the boundary without copying: the receiver reads them in place and
/// drops them through the vtable of the side that allocated them.
pub fn bytes_to_ffi(bytes: Bytes) -> FfiBytes {
    BytesOwner_TO::from_ptr(RBox::new(OwnedBytes(bytes)), TD_Opaque)
}

/// Lets a `Bytes` borrow an [`FfiBytes`] for as long as it lives.
struct ForeignBytes(FfiBytes);

impl AsRef<[u8]> for ForeignBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice().as_slice()
    }
}

/// Turns bytes from the other side into a `Bytes`, without copying.
pub fn bytes_from_ffi(bytes: FfiBytes) -> Bytes {
    if bytes.as_slice().is_empty() {
        return Bytes::new();
    }
    Bytes::from_owner(ForeignBytes(bytes))
}

// ---- headers -----------------------------------------------------------------------------------

/// Converts a header map to its FFI form, keeping order and repeated names.
pub fn headers_to_ffi(headers: &HeaderMap) -> RVec<FfiHeader> {
    headers
        .iter()
        .map(|(name, value)| FfiHeader {
            name: RString::from(name.as_str()),
            value: RVec::from_slice(value.as_bytes()),
        })
        .collect()
}

/// Converts FFI headers to a header map; an invalid name or value is an
/// [`ErrorKind::PROTOCOL`] error naming the header.
pub fn headers_from_ffi(headers: RVec<FfiHeader>) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::PROTOCOL,
                format!("invalid header name {:?}", h.name.as_str()),
            )
        })?;
        let mut value = HeaderValue::from_bytes(&h.value).map_err(|_| {
            Error::new(
                ErrorKind::PROTOCOL,
                format!("invalid value for header {:?}", h.name.as_str()),
            )
        })?;
        // The sensitive flag does not cross the boundary: set it again, so `Debug` output and
        // HTTP/2 header compression treat credentials as such on this side too.
        if name == http::header::AUTHORIZATION || name == http::header::PROXY_AUTHORIZATION {
            value.set_sensitive(true);
        }
        map.append(name, value);
    }
    Ok(map)
}

/// Milliseconds for the FFI timeout field; sub-millisecond timeouts round up so they never
/// become "no timeout".
pub fn timeout_to_ffi(timeout: Option<Duration>) -> ROption<u64> {
    match timeout {
        Some(t) => ROption::RSome(t.as_micros().div_ceil(1000).min(u64::MAX as u128) as u64),
        None => ROption::RNone,
    }
}
