//! The smallest async transport: a `Transport` on hyper-util's client, TLS by rustls. The glue
//! that `export_plugin!` generates gives it a tokio runtime of its own and converts its types.
//!
//! Build with `cargo build --release`; point the host's `[transport] plugin` at
//! `target/release/libtransport_async_example.so`.

use std::{fmt::Display, sync::Arc, time::Duration};

use apify_plugin_api::*; // the plugin API: Transport, Request, Response, Error, ErrorKind...
use futures_util::TryStreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::{
    crypto::aws_lc_rs,
    pki_types::{pem::PemObject, CertificateDer},
};

type HyperBody = UnsyncBoxBody<bytes::Bytes, Error>;

pub struct HyperTransport(Client<HttpsConnector<HttpConnector>, HyperBody>);

impl Transport for HyperTransport {
    fn metadata() -> Metadata {
        Metadata {
            name: "hyper-example".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "example async transport on hyper-util with rustls".into(),
            capabilities: Capabilities::STREAMING | Capabilities::TLS | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value) -> Result<Self, Error> {
        // The standard options this transport takes (the others are refused, by name).
        let options = options::parse_options(options, &[])?;
        options.check_own_options("hyper-example", &[])?;
        for name in options.standard.set_names() {
            if name != "ca_cert_file" {
                options.refuse(name, "this example takes only ca_cert_file")?;
            }
        }
        // Mozilla's roots (bundled), and those of `ca_cert_file`, for a private CA.
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = options.standard.read_ca_cert_file()? {
            let bad = |e: &dyn Display| {
                fail(ErrorKind::INVALID_REQUEST)(format!("option `ca_cert_file`: {e}"))
            };
            for cert in CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
        }
        // The crypto provider is aws-lc-rs, rustls's default: from rustls 0.23.48 on, ring's
        // `default_provider()` is deprecated (it has no post-quantum key exchange).
        let provider = Arc::new(aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(fail(ErrorKind::TLS))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = HttpsConnectorBuilder::new().with_tls_config(tls);
        let https = tls.https_or_http().enable_http1().build();
        // hyper follows no redirect, decodes nothing and adds no header but Host and framing.
        Ok(Self(Client::builder(TokioExecutor::new()).build(https)))
    }

    async fn call(&self, r: Request) -> Result<Response, Error> {
        // Bytes go as one frame (none when empty: no body), a stream as it comes: by its
        // `Content-Length` when the host knows it, chunked otherwise.
        let body = match r.body {
            RequestBody::Full(b) => HyperBody::new(Full::new(b).map_err(|never| match never {})),
            s => HyperBody::new(StreamBody::new(s.into_stream().map_ok(Frame::data))),
        };
        let mut req = http::Request::new(body);
        (*req.method_mut(), *req.headers_mut()) = (r.method, r.headers);
        *req.uri_mut() = r.url.parse().map_err(fail(ErrorKind::INVALID_REQUEST))?;
        // `r.timeout` bounds the wait for the head only (`None`: forever); the host bounds
        // the body.
        let sent = tokio::time::timeout(r.timeout.unwrap_or(Duration::MAX), self.0.request(req));
        let response = sent.await.map_err(fail(ErrorKind::TIMEOUT))?;
        let (head, body) = response.map_err(classify)?.into_parts();
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body: Box::pin(body.into_data_stream().map_err(classify)),
        })
    }
}

fn fail<E: Display>(kind: ErrorKind) -> impl Fn(E) -> Error {
    move |e| Error::new(kind, e.to_string())
}

/// `Error::classify` finds the `io::Error` or failed lookup in hyper's error chain. Only
/// rustls's type tells a TLS failure apart, and hyper's own failures on an open connection
/// ("connection closed before message completed") hold no `io::Error`: they are IO errors.
fn classify(e: impl std::error::Error + 'static) -> Error {
    let error = Error::classify(&e);
    let kind = match error.kind {
        _ if chain_has::<rustls::Error>(&e) => ErrorKind::TLS,
        ErrorKind::OTHER if chain_has::<hyper::Error>(&e) => ErrorKind::IO,
        kind => kind,
    };
    Error::new(kind, error.message)
}

export_plugin!(HyperTransport);
