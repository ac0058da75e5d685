//! Where a body read inside the retry loop goes: one buffer by default, or a consumer that
//! parses it as it arrives ([`BodySink`]), so a large answer is never held twice (as bytes and
//! as what was made of them). Each attempt gets a fresh sink; a failed attempt's is dropped.

use std::any::Any;

use bytes::{Bytes, BytesMut};

use crate::Error;

/// Takes a successful response's body chunk by chunk, inside the attempt that reads it.
pub(crate) trait BodySink: Send + 'static {
    /// The next chunk. An error ends the call (the body is not what was expected, and
    /// another attempt would not change that): it is not retried.
    fn push(&mut self, chunk: &[u8]) -> Result<(), Error>;

    /// The body has ended, whole (its length checked against `Content-Length`).
    fn finish(&mut self) -> Result<(), Error>;

    /// For [`super::ApiResponse::take_sink`], which hands the sink back as its own type.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// Makes the sink of each attempt; carried by an [`super::ApiRequest`].
pub(crate) type MakeSink = fn() -> Box<dyn BodySink>;

/// Where one attempt's successful body goes: the call's sink, or one buffer.
pub(crate) enum Whole {
    Buffer(Accumulator),
    Sink(Box<dyn BodySink>),
}

impl Whole {
    pub(crate) fn push(&mut self, chunk: Bytes) -> Result<(), Error> {
        match self {
            Whole::Buffer(acc) => {
                acc.push(chunk);
                Ok(())
            }
            Whole::Sink(sink) => sink.push(&chunk),
        }
    }
}

/// Pre-allocation cap when a `Content-Length` announces a large body: the buffer still grows
/// past it as data arrives, but a lying header cannot make us reserve gigabytes up front.
const PREALLOCATE_LIMIT: usize = 64 << 20;

/// The default: the body in one buffer, joined without copying the common single-chunk case.
pub(crate) struct Accumulator {
    first: Option<Bytes>,
    buf: BytesMut,
    hint: Option<usize>,
}

impl Accumulator {
    pub(crate) fn new(hint: Option<usize>) -> Self {
        Accumulator {
            first: None,
            buf: BytesMut::new(),
            hint,
        }
    }

    pub(crate) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        if self.first.is_none() && self.buf.is_empty() {
            self.first = Some(chunk);
            return;
        }
        if let Some(first) = self.first.take() {
            let want = self.hint.unwrap_or(0).min(PREALLOCATE_LIMIT);
            self.buf.reserve(want.max(first.len() + chunk.len()));
            self.buf.extend_from_slice(&first);
        }
        self.buf.extend_from_slice(&chunk);
    }

    pub(crate) fn finish(self) -> Bytes {
        match self.first {
            Some(first) => first,
            None => self.buf.freeze(),
        }
    }
}
