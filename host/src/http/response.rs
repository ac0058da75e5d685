//! A response as resource clients see it: status, headers and a body stream.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};

use super::retry;
use crate::{
    error::{Error, TransportFailure},
    token::Token,
    transport::TransportBody,
};

/// A successful (2xx) response whose body has not been read yet.
#[non_exhaustive]
pub struct ApiResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    body: ByteStream,
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
        }
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
    Streaming(Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>),
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
    /// (and any `token=` query value) from their messages.
    pub(crate) fn from_transport_redacted(
        body: TransportBody,
        context: TransportFailure,
        token: Option<Token>,
    ) -> Self {
        ByteStream {
            inner: Inner::Streaming(Box::pin(body.map(move |r| {
                r.map_err(|e| {
                    let retryable = retry::is_retryable_transport_error(&e);
                    let failure = context.clone().with_error(e, retryable);
                    Error::from(failure.redacted(token.as_ref()))
                })
            }))),
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
