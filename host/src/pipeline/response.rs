//! A response as resource clients see it: status, headers and a body stream.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};

use super::retry;
use crate::{
    error::{Error, TransportFailure},
    token::Token,
    transport::{TransportBody, TransportError, TransportErrorKind},
};

/// A successful (2xx) response whose body has not been read yet.
#[non_exhaustive]
pub struct ApiResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    body: ByteStream,
    /// The sink the body went into instead, for a call that had one.
    sink: Option<Box<dyn super::BodySink>>,
}

impl std::fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl ApiResponse {
    /// Wraps a response head and its body.
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: ByteStream) -> Self {
        ApiResponse {
            status,
            headers,
            body,
            sink: None,
        }
    }

    /// The same response, whose body is in `sink`.
    pub(crate) fn with_sink(mut self, sink: Box<dyn super::BodySink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The sink the body went into, as the type the call's request made it (`None` for
    /// another type, or a call without one).
    pub(crate) fn take_sink<S: super::BodySink>(&mut self) -> Option<S> {
        let sink = self.sink.take()?.into_any();
        sink.downcast::<S>().ok().map(|s| *s)
    }

    /// The same response whose streamed body ends with an aborted error once `handle` is
    /// aborted (a buffered body is already whole).
    pub(crate) fn abortable(mut self, handle: &super::AbortHandle, what: String) -> Self {
        if let Inner::Streaming(inner) = self.body.inner {
            self.body.inner = Inner::Streaming(Box::pin(UntilAborted {
                inner: Some(inner),
                aborted: Box::pin(handle.clone().aborted_owned()),
                what,
            }));
        }
        self
    }

    /// A header's value as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body, if the pipeline already read it (calls that did not ask to stream);
    /// `None` for streamed calls.
    pub fn buffered_body(&self) -> Option<&Bytes> {
        self.body.buffered_bytes()
    }

    /// The body as a stream of chunks, read in bounded memory.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }

    /// Reads the whole body. Only for bodies the caller wants in memory.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.body.collect_bytes().await
    }

    /// Reads the whole body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String, Error> {
        let b = self.bytes().await?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads the whole body and parses it as JSON.
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let b = self.bytes().await?;
        serde_json::from_slice(&b).map_err(|e| {
            Error::decode(format!(
                "the API answered with a body that is not the expected JSON: {e}"
            ))
        })
    }

    /// Parses `{"data": ...}` and returns what is inside `data`.
    pub async fn data<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        #[derive(serde::Deserialize)]
        struct Wrapper<T> {
            data: T,
        }
        Ok(self.json::<Wrapper<T>>().await?.data)
    }
}

/// A response body stream whose errors are already mapped to [`crate::Error`].
///
/// For calls that did not ask to stream, the pipeline has already read the whole body (inside
/// its retry loop, so a connection reset mid-body is retried): the stream then just hands out
/// that buffer, and [`ByteStream::buffered_bytes`] shows it without consuming anything.
pub struct ByteStream {
    inner: Inner,
}

enum Inner {
    /// The whole body, already in memory (`None` once handed out).
    Buffered(Option<Bytes>),
    /// Chunks as the transport delivers them.
    Streaming(Chunks),
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Buffered(b) => f
                .debug_struct("ByteStream")
                .field("buffered_len", &b.as_ref().map_or(0, Bytes::len))
                .finish(),
            Inner::Streaming(_) => f.debug_struct("ByteStream").finish_non_exhaustive(),
        }
    }
}

impl ByteStream {
    /// Wraps a transport body, attaching the call's context to its errors and removing `token`
    /// (and any `token=` query value) from their messages. Bounded: a silence longer than
    /// `idle` between two chunks ends the stream with a TIMEOUT error, and a body that ends
    /// short of (or runs past) `expected` bytes ends it with an IO error, so a consumer never
    /// takes a truncated body for a complete one.
    pub(crate) fn from_transport_guarded(
        body: TransportBody,
        context: TransportFailure,
        token: Option<Token>,
        idle: Duration,
        expected: Option<u64>,
    ) -> Self {
        ByteStream {
            inner: Inner::Streaming(Box::pin(Guarded {
                body,
                context,
                token,
                idle,
                sleep: Box::pin(tokio::time::sleep(idle)),
                waiting: false,
                seen: 0,
                expected,
                done: false,
            })),
        }
    }

    /// A stream over already-read bytes.
    pub fn from_bytes(bytes: Bytes) -> Self {
        ByteStream {
            inner: Inner::Buffered(Some(bytes)),
        }
    }

    /// Wraps any stream of chunks.
    pub fn from_stream(s: impl Stream<Item = Result<Bytes, Error>> + Send + 'static) -> Self {
        ByteStream {
            inner: Inner::Streaming(Box::pin(s)),
        }
    }

    /// The whole body, if it is already in memory (non-streamed calls).
    pub fn buffered_bytes(&self) -> Option<&Bytes> {
        match &self.inner {
            Inner::Buffered(b) => b.as_ref(),
            Inner::Streaming(_) => None,
        }
    }

    /// The body as a [`tokio::io::AsyncRead`], for [`tokio::io::copy`] and the other
    /// `tokio::io` helpers. A failed chunk becomes an [`std::io::Error`] whose
    /// [`get_ref`](std::io::Error::get_ref) / [`into_inner`](std::io::Error::into_inner) is the
    /// [`crate::Error`] (kind `TimedOut` for a timeout, `Other` otherwise).
    ///
    /// ```no_run
    /// # async fn demo(client: apify_host::ApifyClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let body = client.log("run-id").stream(false).await?.expect("log exists").into_stream();
    /// let mut file = tokio::fs::File::create("run.log").await?;
    /// tokio::io::copy(&mut body.into_async_read(), &mut file).await?;
    /// # Ok(()) }
    /// ```
    pub fn into_async_read(self) -> impl tokio::io::AsyncRead + Send + Unpin {
        tokio_util::io::StreamReader::new(self.map(|chunk| chunk.map_err(into_io_error)))
    }

    /// Reads everything into one buffer (no copy when the body is already in memory or
    /// arrives as a single chunk).
    pub async fn collect_bytes(mut self) -> Result<Bytes, Error> {
        if let Inner::Buffered(b) = &mut self.inner {
            return Ok(b.take().unwrap_or_default());
        }
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            match first.take() {
                None if buf.is_empty() => first = Some(chunk),
                prev => {
                    if let Some(p) = prev {
                        buf.extend_from_slice(&p);
                    }
                    buf.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| buf.freeze()))
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.inner {
            // An empty buffered body yields no chunk at all, like an empty stream.
            Inner::Buffered(b) => Poll::Ready(b.take().filter(|b| !b.is_empty()).map(Ok)),
            Inner::Streaming(s) => s.as_mut().poll_next(cx),
        }
    }
}

/// A body error as `tokio::io` reports it, with the [`Error`] inside.
fn into_io_error(e: Error) -> std::io::Error {
    let kind = if e.is_timeout() {
        std::io::ErrorKind::TimedOut
    } else {
        std::io::ErrorKind::Other
    };
    std::io::Error::new(kind, e)
}

/// A transport body with an idle limit and a length check (see
/// [`ByteStream::from_transport_guarded`]).
struct Guarded {
    body: TransportBody,
    context: TransportFailure,
    token: Option<Token>,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// Whether the consumer is waiting for a chunk: the idle clock runs only then, so a slow
    /// consumer is never blamed on the server.
    waiting: bool,
    seen: u64,
    expected: Option<u64>,
    done: bool,
}

impl Guarded {
    fn fail(&mut self, e: TransportError) -> Poll<Option<Result<Bytes, Error>>> {
        self.done = true;
        let retryable = retry::is_retryable_transport_error(&e);
        let failure = self.context.clone().with_error(e, retryable);
        Poll::Ready(Some(Err(Error::from(
            failure.redacted(self.token.as_ref()),
        ))))
    }
}

impl Stream for Guarded {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if !this.waiting {
            this.waiting = true;
            let deadline = tokio::time::Instant::now() + this.idle;
            this.sleep.as_mut().reset(deadline);
        }
        match this.body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.waiting = false;
                this.seen += chunk.len() as u64;
                match this.expected {
                    Some(n) if this.seen > n => this.fail(TransportError::new(
                        TransportErrorKind::PROTOCOL,
                        format!("the body runs past its Content-Length of {n} bytes"),
                    )),
                    _ => Poll::Ready(Some(Ok(chunk))),
                }
            }
            Poll::Ready(Some(Err(e))) => this.fail(e),
            Poll::Ready(None) => match this.expected {
                Some(n) if this.seen < n => {
                    let seen = this.seen;
                    this.fail(TransportError::new(
                        TransportErrorKind::IO,
                        format!("the body ended after {seen} of its {n} bytes"),
                    ))
                }
                _ => {
                    this.done = true;
                    Poll::Ready(None)
                }
            },
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let (idle, seen) = (this.idle, this.seen);
                    this.fail(TransportError::new(
                        TransportErrorKind::TIMEOUT,
                        format!(
                            "no body data within {idle:?} after {seen} bytes (the \
                             stream_idle_timeout setting)"
                        ),
                    ))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// A boxed stream of body chunks.
type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A body stream that ends with an aborted error as soon as its abort handle is aborted.
struct UntilAborted {
    /// `None` once aborted: the transport's body (and its connection) is dropped at once.
    inner: Option<Chunks>,
    aborted: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    what: String,
}

impl Stream for UntilAborted {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.inner.is_none() {
            return Poll::Ready(None);
        }
        if self.aborted.as_mut().poll(cx).is_ready() {
            self.inner = None;
            let what = std::mem::take(&mut self.what);
            return Poll::Ready(Some(Err(Error::aborted(format!(
                "{what}: aborted by its abort handle while the body was streaming"
            )))));
        }
        match self.inner.as_mut() {
            Some(inner) => inner.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod async_read_tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn into_async_read_yields_the_chunks_then_the_error_inside_an_io_error() {
        let chunks = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"cd")),
        ]);
        let mut out = Vec::new();
        ByteStream::from_stream(chunks)
            .into_async_read()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"abcd");

        let failing = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Err(Error::decode("broken body")),
        ]);
        let mut out = Vec::new();
        let err = ByteStream::from_stream(failing)
            .into_async_read()
            .read_to_end(&mut out)
            .await
            .unwrap_err();
        assert_eq!(out, b"ab");
        assert_eq!(err.kind(), std::io::ErrorKind::Other);
        let inner = err.into_inner().expect("the Error is inside");
        let inner = inner.downcast::<Error>().expect("an apify_host::Error");
        assert!(inner.is_decode(), "{inner}");

        let mut out = Vec::new();
        ByteStream::from_bytes(Bytes::from_static(b"whole"))
            .into_async_read()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"whole");
    }
}
