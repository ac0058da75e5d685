//! Conversions between the author-facing types of [`crate::types`] and the FFI types of
//! [`crate::ffi`]. The export glue uses them on the plugin side and the host's adapter on the
//! other, so both sides agree on one mapping. Public as [`crate::abi::convert`].

use std::{
    any::Any,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, ROption, RResult, RSlice, RString, RVec},
};
use async_ffi::{ContextExt, FfiContext, FfiPoll};
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::runtime::Handle;

use crate::ffi::{
    BodyStream, BodyStreamBox, BodyStream_TO, BytesOwner, BytesOwner_TO, ChunkResult, ErrorKind,
    FfiBytes, FfiError, FfiHeader,
};
use crate::panics::catch;
use crate::types::{Body, Error};

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

/// Turns a caught panic payload into a [`ErrorKind::PANIC`] error: `what` (e.g. "the plugin
/// panicked during a call"), then the panic's message.
pub fn panic_error(payload: Box<dyn Any + Send>, what: &str) -> FfiError {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    FfiError {
        kind: ErrorKind::PANIC,
        message: RString::from(format!("{what}: {msg}")),
        retryable: false,
    }
}

// ---- body streams, both directions -------------------------------------------------------------

/// Exposes a [`Body`] to the other side as a [`BodyStream`] it polls with its own waker.
///
/// `runtime` is the tokio runtime the body's code belongs to: it is entered around every poll
/// and the drop, because the side polling is the other library, whose threads know nothing of
/// this side's runtime (a body reading a file through `tokio::fs` needs it). A panic in the
/// body becomes an error, with its location, instead of unwinding across the boundary.
pub fn body_to_ffi(body: Body, runtime: Option<Handle>) -> BodyStreamBox {
    BodyStream_TO::from_value(
        BodyToFfi {
            body: Some(body),
            runtime,
        },
        TD_Opaque,
    )
}

struct BodyToFfi {
    body: Option<Body>,
    runtime: Option<Handle>,
}

impl BodyStream for BodyToFfi {
    fn poll_chunk(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<ChunkResult> {
        let Some(body) = self.body.as_mut() else {
            return FfiPoll::Ready(RResult::ROk(ROption::RNone));
        };
        let _entered = self.runtime.as_ref().map(Handle::enter);
        let polled = catch(|| cx.with_context(|cx| body.as_mut().poll_next(cx)));
        match polled {
            Ok(Poll::Pending) => FfiPoll::Pending,
            Ok(Poll::Ready(Some(Ok(chunk)))) => {
                FfiPoll::Ready(RResult::ROk(ROption::RSome(bytes_to_ffi(chunk))))
            }
            Ok(Poll::Ready(Some(Err(e)))) => {
                self.body = None;
                FfiPoll::Ready(RResult::RErr(e.into()))
            }
            Ok(Poll::Ready(None)) => {
                self.body = None;
                FfiPoll::Ready(RResult::ROk(ROption::RNone))
            }
            Err(caught) => {
                // The body is in an unknown state: forget it rather than run its drop glue.
                std::mem::forget(self.body.take());
                FfiPoll::Ready(RResult::RErr(
                    caught.into_error("a body stream panicked while producing a chunk"),
                ))
            }
        }
    }
}

impl Drop for BodyToFfi {
    fn drop(&mut self) {
        // Dropping a body may deregister sockets or close files: do it in its runtime, and
        // never let a panic escape across the boundary.
        if let Some(body) = self.body.take() {
            let _entered = self.runtime.as_ref().map(Handle::enter);
            if let Err(caught) = catch(move || drop(body)) {
                caught.log("a body stream panicked when it was dropped");
            }
        }
    }
}

/// Reads a [`BodyStream`] from the other side as a [`Body`]; chunks cross without a copy.
/// `keep_alive` lives as long as the body does (the host keeps the plugin's client in it).
pub fn body_from_ffi(body: BodyStreamBox, keep_alive: impl Send + 'static) -> Body {
    Box::pin(BodyFromFfi {
        body: Some(body),
        _keep_alive: Box::new(keep_alive),
    })
}

struct BodyFromFfi {
    body: Option<BodyStreamBox>,
    _keep_alive: Box<dyn Send>,
}

// No field is ever pinned: the FFI stream is polled through `&mut`.
impl Unpin for BodyFromFfi {}

impl Stream for BodyFromFfi {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = cx.with_ffi_context(|fcx| body.poll_chunk(fcx));
        match polled {
            FfiPoll::Pending => Poll::Pending,
            FfiPoll::Ready(RResult::ROk(ROption::RSome(chunk))) => {
                Poll::Ready(Some(Ok(bytes_from_ffi(chunk))))
            }
            FfiPoll::Ready(RResult::ROk(ROption::RNone)) => {
                self.body = None;
                Poll::Ready(None)
            }
            FfiPoll::Ready(RResult::RErr(e)) => {
                self.body = None;
                Poll::Ready(Some(Err(e.into())))
            }
            FfiPoll::Panicked => {
                self.body = None;
                Poll::Ready(Some(Err(Error::new(
                    ErrorKind::PANIC,
                    "the other side of the plugin boundary panicked while producing a body",
                ))))
            }
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
