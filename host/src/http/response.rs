//! A response as resource clients see it: status, headers and a body stream.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};

use crate::error::{Error, TransportFailure};

/// A successful (2xx) response whose body has not been read yet.
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
    pub fn new(status: StatusCode, headers: HeaderMap, body: ByteStream) -> Self {
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
            Error::Decode(format!("the API answered with a body that is not the expected JSON: {e}"))
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
pub struct ByteStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>,
}

impl ByteStream {
    /// Wraps a transport body, attaching the call's context to its errors.
    pub fn from_transport(body: apify_plugin_api::Body, context: TransportFailure) -> Self {
        ByteStream {
            inner: Box::pin(body.map(move |r| {
                r.map_err(|e| Error::Transport(context.clone().with_error(e)))
            })),
        }
    }

    /// A stream over already-read bytes.
    pub fn from_bytes(bytes: Bytes) -> Self {
        ByteStream {
            inner: Box::pin(futures_util::stream::iter([Ok(bytes)])),
        }
    }

    /// Wraps any stream of chunks.
    pub fn from_stream(s: impl Stream<Item = Result<Bytes, Error>> + Send + 'static) -> Self {
        ByteStream { inner: Box::pin(s) }
    }

    /// Reads everything into one buffer.
    pub async fn collect_bytes(mut self) -> Result<Bytes, Error> {
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.inner.next().await {
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
        self.inner.as_mut().poll_next(cx)
    }
}
