//! The smallest blocking transport: a `BlockingTransport` on ureq 3. The glue that
//! `export_plugin!(blocking ...)` generates runs each call on a thread of its own, enforces
//! the head deadline, and streams the body we return as a `Read` to the host.
//!
//! Build with `cargo build --release`; point the host's `[transport] plugin` at
//! `target/release/libtransport_blocking_example.so`.

use std::{io::Read, time::Duration};

use apify_plugin_api::http::{header, Method, Request};
use apify_plugin_api::*; // the plugin API: BlockingTransport, Error, ErrorKind, Metadata...
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, SendBody};

type Result<T> = std::result::Result<T, Error>;

pub struct UreqTransport(Agent);

impl BlockingTransport for UreqTransport {
    fn metadata() -> Metadata {
        Metadata {
            name: "ureq-example".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "example blocking transport on ureq 3".into(),
            capabilities: Capabilities::STREAMING | Capabilities::TLS | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value) -> Result<Self> {
        // The standard options this transport takes (the others are refused, by name).
        let options = options::parse_options(options, &[])?;
        options.check_own_options("ureq-example", &[])?;
        for name in options.standard.set_names() {
            if name != "ca_cert_file" {
                options.refuse(name, "this example takes only ca_cert_file")?;
            }
        }
        // ureq trusts either Mozilla's roots (bundled) or a list of its own: with
        // `ca_cert_file`, that file's certificates are the roots (as with curl's CA bundle).
        let mut tls = TlsConfig::builder();
        if let Some(pem) = options.standard.read_ca_cert_file()? {
            let bad = |e: &dyn std::fmt::Display| {
                Error::new(
                    ErrorKind::INVALID_REQUEST,
                    format!("option `ca_cert_file`: {e}"),
                )
            };
            let mut certs = Vec::new();
            for item in parse_pem(&pem) {
                if let PemItem::Certificate(cert) = item.map_err(|e| bad(&e))? {
                    certs.push(cert);
                }
            }
            if certs.is_empty() {
                return Err(bad(&"it holds no PEM certificate"));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let config = Agent::config_builder()
            .tls_config(tls.build())
            .max_redirects(0) // a 3xx is the response (rule 1)
            .http_status_as_error(false) // 4xx/5xx are responses (rule 2)
            .user_agent("") // "" = no header of ureq's own (rule 3); no `Accept-Encoding`
            .accept("") // either, as the `gzip` feature is off (which also means rule 4)
            .proxy(None) // proxies come from options only, never from HTTP_PROXY & co.
            // An idle connection for every call the glue runs at once: ureq keeps 3 per host by
            // default, so with 32 calls in flight most would connect anew.
            .max_idle_connections(MAX_BLOCKING_EXCHANGES)
            .max_idle_connections_per_host(MAX_BLOCKING_EXCHANGES)
            // Only ureq can end a read it is blocked in: bound each one, by the longest silence
            // the host may allow a body (`[http] stream_idle_timeout_secs`, at most an hour).
            .timeout_per_read(Some(Duration::from_secs(3600)))
            .build();
        Ok(UreqTransport(config.new_agent()))
    }

    fn call(&self, mut r: BlockingRequest) -> Result<(ResponseHead, impl Read + Send + 'static)> {
        // Frame a known length by it (the host may not have set it), also a POST's 0, which
        // ureq would send chunked; an unknown length goes chunked.
        let needs_body = matches!(r.method, Method::POST | Method::PUT | Method::PATCH);
        if let Some(n) = r.body.len().filter(|&n| n > 0 || needs_body) {
            r.headers.entry(header::CONTENT_LENGTH).or_insert(n.into());
        }
        let body = match r.body.is_empty() {
            true => SendBody::none(), // an empty body is no body at all
            false => SendBody::from_owned_reader(r.body),
        };
        let mut req = Request::new(body);
        (*req.method_mut(), *req.headers_mut()) = (r.method, r.headers);
        *req.uri_mut() = r.url.parse().map_err(|e| Error::classify(&e))?;
        // `r.timeout` bounds the wait for the head (the glue enforces it too).
        let config = self.0.configure_request(req);
        let req = config.timeout_recv_response(r.timeout).build();
        let (parts, body) = self.0.run(req).map_err(classify)?.into_parts();
        let (status, headers) = (parts.status, parts.headers);
        Ok((ResponseHead { status, headers }, body.into_reader()))
    }
}

/// `Error::classify` reads the `io::Error` in ureq's error; the variants it cannot see into
/// (ureq's timeout, DNS and TLS errors) are named here.
fn classify(e: ureq::Error) -> Error {
    let kind = match &e {
        ureq::Error::Timeout(_) => ErrorKind::TIMEOUT,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => ErrorKind::CONNECT,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => ErrorKind::TLS,
        ureq::Error::Io(io) if chain_has::<rustls::Error>(io) => ErrorKind::TLS,
        ureq::Error::Protocol(_) => ErrorKind::PROTOCOL,
        _ => return Error::classify(&e.into_io()),
    };
    Error::new(kind, Error::classify(&e.into_io()).message)
}

apify_plugin_api::export_plugin!(blocking UreqTransport);
