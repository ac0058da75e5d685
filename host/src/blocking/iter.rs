//! Blocking forms of the async streams: an [`Iterator`] over an [`ItemStream`] and a
//! [`std::io::Read`] over a streamed body.

use bytes::{Buf, Bytes};
use futures_util::StreamExt;

use super::runtime::Rt;
use crate::{
    clients::{ItemStream, StreamedBody},
    pipeline::ByteStream,
    Error,
};

/// The items of an `iterate_*` call, fetched page by page as the iterator advances.
pub struct Iter<T> {
    stream: Option<ItemStream<T>>,
    rt: Rt,
}

impl<T> std::fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T> Iter<T> {
    pub(crate) fn new(stream: ItemStream<T>, rt: Rt) -> Self {
        Iter {
            stream: Some(stream),
            rt,
        }
    }
}

impl<T> Iterator for Iter<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match self.rt.run_plain(|| stream.next()) {
            Ok(Some(Ok(item))) => Some(Ok(item)),
            // The stream ends at its first error; so does the iterator.
            Ok(Some(Err(e))) | Err(e) => {
                self.stream = None;
                Some(Err(e))
            }
            Ok(None) => {
                self.stream = None;
                None
            }
        }
    }
}

/// A streamed response body read with [`std::io::Read`]; the bytes are never held whole.
pub struct BodyReader {
    /// The `Content-Type` of the body, if sent.
    #[deprecated(since = "0.2.0", note = "use the `content_type()` method")]
    pub content_type: Option<String>,
    /// The body's length, when announced and not re-encoded.
    #[deprecated(since = "0.2.0", note = "use the `content_length()` method")]
    pub content_length: Option<u64>,
    body: ByteStream,
    chunk: Bytes,
    rt: Rt,
}

// The deprecated fields are still the storage; only callers outside are steered to the methods.
#[allow(deprecated)]
impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl super::macros::IntoBlocking for StreamedBody {
    type Blocking = BodyReader;
    fn into_blocking(self, rt: Rt) -> BodyReader {
        BodyReader::new(self, rt)
    }
}

/// A record whose value is read with [`std::io::Read`] (blocking form of
/// [`RecordStream`](crate::clients::RecordStream)): the `RecordReader` is itself the reader,
/// with the record's metadata as methods.
///
/// ```no_run
/// # fn demo(client: apify_host::blocking::ApifyClient) -> Result<(), Box<dyn std::error::Error>> {
/// if let Some(mut rec) = client.key_value_store("my-store").stream_record("big")? {
///     println!("{}: {:?}, {:?} bytes", rec.key(), rec.content_type(), rec.content_length());
///     std::io::copy(&mut rec, &mut std::fs::File::create("big.bin")?)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RecordReader {
    /// The key.
    #[deprecated(since = "0.2.0", note = "use the `key()` method")]
    pub key: String,
    /// The value.
    #[deprecated(
        since = "0.2.0",
        note = "read the `RecordReader` itself, or use `into_body()`"
    )]
    pub value: BodyReader,
}

#[allow(deprecated)]
impl RecordReader {
    /// The record's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Content-Type` the record was stored with, if sent.
    pub fn content_type(&self) -> Option<&str> {
        self.value.content_type()
    }

    /// The value's length in bytes, when the server announced it and the body is not
    /// re-encoded.
    pub fn content_length(&self) -> Option<u64> {
        self.value.content_length()
    }

    /// The value alone, as a [`BodyReader`].
    pub fn into_body(self) -> BodyReader {
        self.value
    }
}

#[allow(deprecated)]
impl std::io::Read for RecordReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.value.read(buf)
    }
}

impl super::macros::IntoBlocking for crate::clients::RecordStream {
    type Blocking = RecordReader;
    fn into_blocking(self, rt: Rt) -> RecordReader {
        let key = self.key().to_string();
        #[allow(deprecated)]
        RecordReader {
            key,
            value: BodyReader::new(self.into_body(), rt),
        }
    }
}

#[allow(deprecated)]
impl BodyReader {
    fn new(body: StreamedBody, rt: Rt) -> Self {
        BodyReader {
            content_type: body.content_type().map(str::to_string),
            content_length: body.content_length(),
            body: body.into_stream(),
            chunk: Bytes::new(),
            rt,
        }
    }

    /// The `Content-Type` of the body, if sent.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The body's length, when the server announced it and the body is not re-encoded (so it
    /// is the number of bytes [`Read`](std::io::Read) yields).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let body = &mut self.body;
            match self.rt.run_plain(|| body.next()) {
                Ok(Some(Ok(chunk))) => self.chunk = chunk,
                Ok(None) => return Ok(0),
                Ok(Some(Err(e))) | Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}
