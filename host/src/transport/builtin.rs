//! The built-in transport: hyper 1 with hyper-util's pooled client and rustls (ring).
//!
//! Why hyper directly rather than reqwest: the pipeline already does what reqwest adds on top
//! of hyper (redirect policy aside, which the Apify API does not use), so the built-in path
//! keeps one thin layer over the connection pool, and a reqwest-based transport stays available
//! as a plugin. rustls with ring avoids a C toolchain dependency (aws-lc-sys) in the host.

use std::{
    error::Error as StdError,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_core::Stream;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use apify_plugin_api::{chain_has, error_chain};

use super::{
    CallFuture, HttpTransport, TransportBody, TransportError as Error,
    TransportErrorKind as ErrorKind, TransportRequest as Request,
    TransportRequestBody as RequestBody, TransportResponse as Response,
};

/// The default transport, compiled into the host.
#[derive(Clone)]
pub struct BuiltinTransport {
    client: Client<HttpsConnector<HttpConnector>, OutgoingBody>,
}

impl BuiltinTransport {
    /// A client with a keep-alive pool and the webpki root certificates.
    pub fn new() -> Result<Self, Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::TLS, format!("cannot set up TLS: {e}")))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(BuiltinTransport { client })
    }
}

impl HttpTransport for BuiltinTransport {
    fn name(&self) -> &str {
        "builtin"
    }

    fn call(&self, request: Request) -> CallFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let uri: hyper::Uri = request.url.parse().map_err(|e| {
                Error::new(
                    ErrorKind::INVALID_REQUEST,
                    format!("invalid URL {:?}: {e}", request.url),
                )
            })?;
            let Request {
                method,
                headers,
                body,
                timeout,
                ..
            } = request;
            let mut builder = hyper::Request::builder().method(method).uri(uri);
            if let Some(h) = builder.headers_mut() {
                *h = headers;
            }
            let req = builder
                .body(OutgoingBody::new(body))
                .map_err(|e| Error::new(ErrorKind::INVALID_REQUEST, e.to_string()))?;
            // The timeout covers the response head; the pipeline enforces it too, but a
            // transport that honours it reports a precise TIMEOUT rather than being cut off.
            let send = client.request(req);
            let resp = match timeout {
                Some(t) => tokio::time::timeout(t, send).await.map_err(|_| {
                    Error::new(ErrorKind::TIMEOUT, format!("no response head within {t:?}"))
                })?,
                None => send.await,
            }
            .map_err(map_client_error)?;
            let (parts, body) = resp.into_parts();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body: Box::pin(IncomingStream(body)),
            })
        })
    }
}

/// A request body as hyper sends it: whole, or pulled chunk by chunk from the pipeline's stream
/// (with its exact length as the size hint when known, so hyper sends `Content-Length`).
enum OutgoingBody {
    Full(Option<Bytes>),
    Stream {
        stream: TransportBody,
        length: Option<u64>,
    },
}

impl OutgoingBody {
    fn new(body: RequestBody) -> Self {
        match body {
            RequestBody::Full(b) if b.is_empty() => OutgoingBody::Full(None),
            RequestBody::Full(b) => OutgoingBody::Full(Some(b)),
            RequestBody::Stream { stream, length } => OutgoingBody::Stream { stream, length },
        }
    }
}

impl HttpBody for OutgoingBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match self.get_mut() {
            OutgoingBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            OutgoingBody::Stream { stream, .. } => stream
                .as_mut()
                .poll_next(cx)
                .map(|c| c.map(|c| c.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, OutgoingBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutgoingBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            OutgoingBody::Stream {
                length: Some(n), ..
            } => SizeHint::with_exact(*n),
            OutgoingBody::Stream { .. } => SizeHint::default(),
        }
    }
}

/// hyper's body as a stream of data chunks.
struct IncomingStream(Incoming);

impl Stream for IncomingStream {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.0).poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(map_hyper_error(&e)))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_) => continue, // trailers: not part of the body
                },
            };
        }
    }
}

fn map_client_error(e: hyper_util::client::legacy::Error) -> Error {
    let detail = error_chain(&e);
    // The request body's own source failed (a file read, a closed pipe): that error, as it is.
    if let Some(body_error) = find_source::<Error>(&e) {
        return Error::new(
            body_error.kind,
            format!("the request body failed: {}", body_error.message),
        )
        .retryable(body_error.retryable);
    }
    // A certificate or handshake failure surfaces as a connect error: classify it as TLS first,
    // so it is not retried (it will not heal by itself).
    if is_tls_failure(&e) {
        return Error::new(ErrorKind::TLS, format!("TLS failure: {detail}"));
    }
    if e.is_connect() {
        return Error::new(ErrorKind::CONNECT, format!("cannot connect: {detail}"));
    }
    if let Some(h) = find_source::<hyper::Error>(&e) {
        return map_hyper_error(h);
    }
    if let Some(io) = find_source::<io::Error>(&e) {
        return map_io_error(io, &detail);
    }
    Error::new(ErrorKind::OTHER, detail).retryable(false)
}

fn map_hyper_error(e: &hyper::Error) -> Error {
    let detail = error_chain(e);
    if let Some(io) = find_source::<io::Error>(e) {
        return map_io_error(io, &detail);
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_body_write_aborted() {
        Error::new(ErrorKind::IO, detail)
    } else if e.is_timeout() {
        Error::new(ErrorKind::TIMEOUT, detail)
    } else if e.is_parse() || e.is_user() {
        Error::new(ErrorKind::PROTOCOL, detail)
    } else {
        Error::new(ErrorKind::IO, detail)
    }
}

fn map_io_error(e: &io::Error, detail: &str) -> Error {
    use io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionRefused | K::NotConnected | K::AddrNotAvailable => ErrorKind::CONNECT,
        K::TimedOut | K::WouldBlock => ErrorKind::TIMEOUT,
        _ if is_tls_failure(e) => ErrorKind::TLS,
        _ => ErrorKind::IO,
    };
    Error::new(kind, detail.to_string())
}

/// Whether a rustls error is anywhere in the chain: a handshake or certificate failure.
fn is_tls_failure(e: &(dyn StdError + 'static)) -> bool {
    chain_has::<rustls::Error>(e)
}

fn find_source<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}
