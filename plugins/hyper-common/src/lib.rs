//! What the two hyper-based transports share: the built-in one (in the host, on hyper-util's
//! tokio connector) and the hyper plugin (on the host's sockets, lent across the plugin
//! boundary). Both send and read bodies, classify hyper's errors and set up TLS alike, so they
//! behave alike under the pipeline.

use std::{
    error::Error as StdError,
    future::Future as _,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use apify_plugin_api::{
    bytes::Bytes, chain_has, error_chain, Body, Error, ErrorKind, Request, RequestBody, Response,
};
use futures_core::Stream;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::{connect::Connect, Client};

/// One exchange on a hyper client: the pipeline's request sent as it is, the response head
/// awaited for at most the request's timeout (on the clock `sleep` gives), the body returned as
/// a stream. The timeout is the pipeline's too, but a transport that honours it reports a
/// precise TIMEOUT rather than being cut off.
pub async fn exchange<C, S>(
    client: &Client<C, OutgoingBody>,
    request: Request,
    sleep: impl FnOnce(std::time::Duration) -> S,
) -> Result<Response, Error>
where
    C: Connect + Clone + Send + Sync + 'static,
    S: std::future::Future<Output = ()>,
{
    let uri: hyper::Uri = request.url.parse().map_err(|e| {
        Error::new(
            ErrorKind::INVALID_REQUEST,
            format!("invalid URL {:?}: {e}", request.url),
        )
    })?;
    let mut builder = hyper::Request::builder().method(request.method).uri(uri);
    if let Some(h) = builder.headers_mut() {
        *h = request.headers;
    }
    let req = builder
        .body(OutgoingBody::new(request.body))
        .map_err(|e| Error::new(ErrorKind::INVALID_REQUEST, e.to_string()))?;
    let mut send = std::pin::pin!(client.request(req));
    let resp = match request.timeout {
        None => send.await,
        Some(limit) => {
            let mut timer = std::pin::pin!(sleep(limit));
            std::future::poll_fn(|cx| match send.as_mut().poll(cx) {
                Poll::Ready(r) => Poll::Ready(Ok(r)),
                Poll::Pending => timer.as_mut().poll(cx).map(|()| Err(())),
            })
            .await
            .map_err(|()| {
                Error::new(
                    ErrorKind::TIMEOUT,
                    format!("no response head within {limit:?}"),
                )
            })?
        }
    }
    .map_err(map_client_error)?;
    let (parts, body) = resp.into_parts();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body: Box::pin(IncomingStream(body)),
    })
}

/// The TLS client setup: rustls with ring (no C toolchain) and the bundled webpki roots.
pub fn tls_config() -> Result<rustls::ClientConfig, Error> {
    tls_config_with_ca(None)
}

/// [`tls_config`], also trusting the CA certificates of `extra_ca` (the PEM bytes of the
/// standard `ca_cert_file` option, named by `path` in errors): an
/// [`ErrorKind::INVALID_REQUEST`] error when it holds no usable certificate.
pub fn tls_config_with_ca(extra_ca: Option<(&[u8], &str)>) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some((pem, path)) = extra_ca {
        let not_pem = |detail: String| {
            Error::new(
                ErrorKind::INVALID_REQUEST,
                format!(
                    "option `ca_cert_file`: {path} is not a PEM CA certificate ({detail}); give \
                     the CA's certificate as -----BEGIN CERTIFICATE----- text"
                ),
            )
        };
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| not_pem(e.to_string()))?;
        if certs.is_empty() {
            return Err(not_pem("no certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| not_pem(e.to_string()))?;
        }
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::TLS, format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A request body as hyper sends it: whole, or pulled chunk by chunk from the pipeline's stream
/// (with its exact length as the size hint when known, so hyper sends `Content-Length`).
pub enum OutgoingBody {
    /// The whole body (`None` once sent, or when empty).
    Full(Option<Bytes>),
    /// Chunks pulled from the pipeline's stream.
    Stream {
        /// The chunks.
        stream: Body,
        /// The exact length, when known.
        length: Option<u64>,
    },
}

impl OutgoingBody {
    /// hyper's body for `body`.
    pub fn new(body: RequestBody) -> Self {
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

/// The error kind and message of a failed exchange.
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

/// The error kind and message of a hyper error (a body read, a connection).
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
