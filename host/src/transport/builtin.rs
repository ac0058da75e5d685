//! The built-in transport: hyper 1 with hyper-util's pooled client and rustls (ring).
//!
//! Why hyper directly rather than reqwest: the pipeline already does what reqwest adds on top
//! of hyper (redirect policy aside, which the Apify API does not use), so the built-in path
//! keeps one thin layer over the connection pool, and a reqwest-based transport stays available
//! as a plugin. rustls with ring avoids a C toolchain dependency (aws-lc-sys) in the host.

use apify_hyper_common::{map_client_error, tls_config, IncomingStream, OutgoingBody};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use super::{
    CallFuture, HttpTransport, TransportError as Error, TransportErrorKind as ErrorKind,
    TransportRequest as Request, TransportResponse as Response,
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
        let tls = tls_config()?;
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
