//! An HTTP transport plugin on reqwest, for the Apify API client host.
//!
//! Build it (`cargo build --release -p apify-transport-reqwest`) and point the host at the
//! resulting `libapify_transport_reqwest.so` with `[transport] plugin = "..."`.
//!
//! Options (`[transport.options]` in the host's config), all optional:
//! - `proxy`: proxy URL for all requests, e.g. `"http://proxy.internal:3128"`;
//! - `tls_roots`: `"webpki"` (the default: Mozilla's roots, bundled, as the built-in transport
//!   trusts) or `"system"` (the platform's verifier and certificate store, e.g. for a
//!   corporate CA installed there; it reads the store when the client is built, a few ms);
//! - `ca_cert_file`: path of an extra PEM CA certificate to trust, on top of either set;
//! - `connect_timeout_ms`: TCP/TLS connect timeout;
//! - `pool_max_idle_per_host`: keep-alive pool size per host;
//! - `http2_prior_knowledge`: speak HTTP/2 without negotiation (h2c on plain HTTP).
//!
//! Request and response bodies are streamed chunk by chunk and cross the plugin boundary without
//! a copy.

#![warn(missing_docs)]
use std::time::Duration;

use apify_plugin_api::{
    chain_has, error_chain, export_plugin, redact_userinfo, Body, Capabilities, Error, ErrorKind,
    Metadata, Request, RequestBody, Response, Transport,
};
use futures_util::StreamExt;
use serde::Deserialize;

/// The plugin's options, from the host's `[transport.options]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Proxy URL for every request.
    pub proxy: Option<String>,
    /// Root certificates: `"webpki"` (default) or `"system"`.
    pub tls_roots: Option<String>,
    /// Extra PEM CA certificate file to trust.
    pub ca_cert_file: Option<String>,
    /// Connect timeout in milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: Option<usize>,
    /// Use HTTP/2 without negotiation.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
}

/// The reqwest transport.
pub struct ReqwestTransport {
    client: reqwest::Client,
}

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, msg)
}

impl ReqwestTransport {
    /// Builds the client from parsed options.
    pub fn with_options(o: Options) -> Result<Self, Error> {
        // reqwest is built without a bundled crypto provider; use ring (this plugin's own copy
        // of rustls, so this does not touch the host's process-wide default).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .tcp_nodelay(true)
            // A transport performs exactly one exchange: redirects are not followed (the Apify
            // API does not send them), so what the pipeline sees is what the server said.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(p) = &o.proxy {
            let proxy = reqwest::Proxy::all(p).map_err(|e| {
                // The value is not repeated: a mistyped one may hold a password that is not
                // in the user:password@ form a redactor recognises.
                invalid(redact_userinfo(&format!(
                    "option `proxy` is not a valid proxy URL ({e}); write it as \
                     http://proxy.internal:3128 or http://user:password@proxy.internal:3128"
                )))
            })?;
            b = b.proxy(proxy);
        }
        let extra = match &o.ca_cert_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    invalid(format!("option `ca_cert_file`: cannot read {path}: {e}"))
                })?;
                Some(reqwest::Certificate::from_pem(&pem).map_err(|e| {
                    invalid(format!(
                        "option `ca_cert_file`: {path} is not a PEM certificate: {e}"
                    ))
                })?)
            }
            None => None,
        };
        match o.tls_roots.as_deref().unwrap_or("webpki") {
            "webpki" => {
                let mut roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|der| reqwest::Certificate::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid(format!("the bundled root certificates: {e}")))?;
                roots.extend(extra);
                b = b.tls_certs_only(roots);
            }
            "system" => b = b.tls_certs_merge(extra),
            other => {
                return Err(invalid(format!(
                    "option `tls_roots` = {other:?} is not one of \"webpki\" (bundled roots) \
                     or \"system\" (the platform's store)"
                )))
            }
        }
        if let Some(ms) = o.connect_timeout_ms {
            b = b.connect_timeout(Duration::from_millis(ms));
        }
        if let Some(n) = o.pool_max_idle_per_host {
            b = b.pool_max_idle_per_host(n);
        }
        if o.http2_prior_knowledge {
            b = b.http2_prior_knowledge();
        }
        let client = b.build().map_err(|e| {
            invalid(redact_userinfo(&format!(
                "cannot build the reqwest client: {}",
                error_chain(&e)
            )))
        })?;
        Ok(ReqwestTransport { client })
    }
}

impl Transport for ReqwestTransport {
    fn metadata() -> Metadata {
        Metadata {
            name: "reqwest".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "HTTP transport on reqwest 0.13 with rustls (ring)".into(),
            capabilities: Capabilities::STREAMING
                | Capabilities::TLS
                | Capabilities::HTTP2
                | Capabilities::PROXY
                | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value) -> Result<Self, Error> {
        let o: Options = serde_json::from_value(options).map_err(|e| {
            invalid(format!(
                "invalid [transport.options] for the reqwest plugin: {e}"
            ))
        })?;
        Self::with_options(o)
    }

    fn diagnostics() -> serde_json::Value {
        serde_json::json!({ "http_library": "reqwest 0.13", "tls": "rustls 0.23 (ring)" })
    }

    async fn call(&self, request: Request) -> Result<Response, Error> {
        let Request {
            method,
            url,
            headers,
            body,
            timeout,
            stream: _,
        } = request;
        let body = match body {
            RequestBody::Full(bytes) => reqwest::Body::from(bytes),
            // Streamed as the host produces it; the host sends `Content-Length` when it knows
            // the length, and hyper frames the body by that header (chunked otherwise).
            RequestBody::Stream { stream, .. } => reqwest::Body::wrap_stream(stream),
        };
        let send = self
            .client
            .request(method, &url)
            .headers(headers)
            .body(body)
            .send();
        // The timeout covers the response head only: a long streamed body must not be cut off.
        let resp = match timeout {
            Some(t) => tokio::time::timeout(t, send).await.map_err(|_| {
                Error::new(ErrorKind::TIMEOUT, format!("no response head within {t:?}"))
            })?,
            None => send.await,
        }
        .map_err(|e| map_error(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body: Body = Box::pin(resp.bytes_stream().map(|r| r.map_err(|e| map_error(&e))));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// Classifies a reqwest error by what actually failed, looking at its source chain.
fn map_error(e: &reqwest::Error) -> Error {
    let msg = redact_userinfo(&error_chain(e));
    let kind = if e.is_builder() {
        ErrorKind::INVALID_REQUEST
    } else if e.is_timeout() {
        ErrorKind::TIMEOUT
    } else if chain_has::<rustls::Error>(e) {
        // Checked before `is_connect`: a handshake failure is reported as a connect error, but
        // unlike one it will not heal on retry.
        ErrorKind::TLS
    } else if e.is_connect() {
        ErrorKind::CONNECT
    } else if e.is_body() || e.is_decode() || e.is_request() {
        ErrorKind::IO
    } else {
        ErrorKind::OTHER
    };
    Error::new(kind, msg)
}

export_plugin!(ReqwestTransport);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_leaves_the_plugin() {
        assert_eq!(
            redact_userinfo("proxy (http://user:secretpw@127.0.0.1:9/) refused"),
            "proxy (http://***@127.0.0.1:9/) refused"
        );
        assert_eq!(redact_userinfo("http://h/a@b c@d"), "http://h/a@b c@d");
        let e = ReqwestTransport::new(serde_json::json!({"proxy": "http://user:secretpw@[bad"}))
            .err()
            .expect("an invalid proxy URL is refused");
        assert!(!e.message.contains("secretpw"), "{}", e.message);
        let e = ReqwestTransport::new(serde_json::json!({"proxy": "not a url pw99"}))
            .err()
            .expect("an invalid proxy URL is refused");
        assert!(
            !e.message.contains("pw99"),
            "the value is not echoed: {}",
            e.message
        );
    }
}
