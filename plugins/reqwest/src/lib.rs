//! An HTTP transport plugin on reqwest, for the Apify API client host.
//!
//! Build it (`cargo build --release -p apify-transport-reqwest`) and point the host at the
//! resulting `libapify_transport_reqwest.so` with `[transport] plugin = "..."`.
//!
//! Options (`[transport.options]` in the host's config), all optional: the standard ones
//! (`apify_plugin_api::options`), and one of its own:
//! - `proxy`: proxy URL for all requests, e.g. `"http://proxy.internal:3128"` (`http://` or
//!   `https://`; credentials in it become `Proxy-Authorization`);
//! - `proxy_from_env`: `true` takes the proxy from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//!   `NO_PROXY` when `proxy` is not set (default `false`: the environment is ignored);
//! - `ca_cert_file`: path of an extra PEM CA certificate to trust, on top of the roots;
//! - `connect_timeout_ms`: TCP/TLS connect timeout;
//! - `pool_max_idle_per_host`: keep-alive pool size per host;
//! - `http2`: `true` (the default) offers HTTP/2 on https (ALPN), `false` speaks HTTP/1.1 only;
//! - `tls_roots` (its own): `"webpki"` (the default: Mozilla's roots, bundled, as the built-in
//!   transport trusts) or `"system"` (the platform's verifier and certificate store, e.g. for a
//!   corporate CA installed there; it reads the store when the client is built, a few ms).
//!
//! Deprecated: `http2_prior_knowledge = true` (HTTP/2 without negotiation, h2c on plain HTTP)
//! still works, with a warning in the host's log; write `http2 = true` instead.
//!
//! Request and response bodies are streamed chunk by chunk and cross the plugin boundary without
//! a copy.

#![warn(missing_docs)]

use apify_plugin_api::options::{check_proxy_url, parse_options, StandardOptions};
use apify_plugin_api::{
    chain_has, error_chain, export_plugin, redact_userinfo, Body, Capabilities, Error, ErrorKind,
    Metadata, Request, RequestBody, Response, Transport,
};
use futures_util::StreamExt;

/// The plugin's options, from the host's `[transport.options]` table.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// The standard options.
    pub standard: StandardOptions,
    /// Root certificates: `"webpki"` (default) or `"system"`.
    pub tls_roots: Option<String>,
    /// Use HTTP/2 without negotiation (the deprecated `http2_prior_knowledge`).
    pub http2_prior_knowledge: bool,
    /// What the options said that is deprecated, one line each.
    pub warnings: Vec<String>,
}

/// The options this plugin takes besides the standard ones.
const OWN_OPTIONS: [&str; 1] = ["tls_roots"];

impl Options {
    /// Reads the options (the JSON object `new` gets), refusing unknown ones by name.
    pub fn parse(options: serde_json::Value) -> Result<Options, Error> {
        let mut options = options;
        let prior = match options.as_object_mut() {
            Some(map) => map.remove("http2_prior_knowledge"),
            None => None,
        };
        let parsed = parse_options(options, &[])?;
        parsed.check_own_options("reqwest", &OWN_OPTIONS)?;
        let tls_roots = match parsed.own.get("tls_roots") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| {
                        invalid(format!("option `tls_roots` must be a string, not {v}"))
                    })?
                    .to_string(),
            ),
        };
        let mut warnings = parsed.warnings;
        let mut http2_prior_knowledge = false;
        if let Some(v) = prior {
            http2_prior_knowledge = v.as_bool().ok_or_else(|| {
                invalid(format!(
                    "option `http2_prior_knowledge` must be true or false, not {v}"
                ))
            })?;
            if http2_prior_knowledge && parsed.standard.http2 == Some(false) {
                return Err(invalid(
                    "options `http2 = false` and `http2_prior_knowledge = true` contradict each \
                     other; keep only `http2`"
                        .into(),
                ));
            }
            warnings.push(
                "option `http2_prior_knowledge` is deprecated: write `http2 = true` (HTTP/2 \
                 offered on https by ALPN); until it is removed it still means HTTP/2 with \
                 prior knowledge (h2c on http://)"
                    .into(),
            );
        }
        Ok(Options {
            standard: parsed.standard,
            tls_roots,
            http2_prior_knowledge,
            warnings,
        })
    }
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
            .redirect(reqwest::redirect::Policy::none());
        // The environment's proxies only when asked (reqwest reads them unless told not to).
        if o.standard.proxy.is_none() && !o.standard.proxy_from_env {
            b = b.no_proxy();
        }
        if let Some(p) = &o.standard.proxy {
            check_proxy_url(p, &["http", "https"])?;
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
        let extra = match o.standard.read_ca_cert_file()? {
            Some(pem) => Some(reqwest::Certificate::from_pem(&pem).map_err(|e| {
                invalid(format!(
                    "option `ca_cert_file`: {} is not a PEM certificate: {e}",
                    o.standard
                        .ca_cert_file
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display()
                ))
            })?),
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
        if let Some(t) = o.standard.connect_timeout() {
            b = b.connect_timeout(t);
        }
        if let Some(n) = o.standard.pool_max_idle_per_host {
            b = b.pool_max_idle_per_host(n);
        }
        if o.http2_prior_knowledge {
            b = b.http2_prior_knowledge();
        } else if o.standard.http2 == Some(false) {
            b = b.http1_only();
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
        let o = Options::parse(options)?;
        // Through the host's log (warnings are shown by default), once per client.
        for w in &o.warnings {
            apify_plugin_api::log::warn!("{w}");
        }
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
