//! An HTTP transport plugin on libcurl (the system library, through the `curl` crate), for the
//! Apify API client host: a [`BlockingTransport`], so the plugin API's glue owns the threads,
//! the head deadline and the chunking of bodies.
//!
//! Build it with `cargo build --release` in this folder (it needs `libcurl4-openssl-dev`) and
//! point the host at `target/release/libapify_transport_curl.so` (`[transport] plugin = ...`).
//!
//! Options (`[transport.options]` in the host's config), all optional, the standard ones
//! (`apify_plugin_api::options`); any other key is refused:
//! - `proxy`: proxy URL for every request (`http://`, `https://`, `socks5h://`...);
//! - `proxy_from_env`: `true` lets libcurl take the proxy from the environment when `proxy` is
//!   not set: `http_proxy` (lower case only, as libcurl reads it), `HTTPS_PROXY`, `ALL_PROXY`
//!   and `NO_PROXY`. Default `false`: no proxy is used, whatever those say;
//! - `ca_cert_file`: path of a PEM CA bundle to trust instead of libcurl's default one (also
//!   for an `https://` proxy); it must exist;
//! - `http2`: `true` offers HTTP/2 on TLS connections (ALPN); plain `http://` stays HTTP/1.1.
//!   Default `false`: HTTP/1.1 everywhere;
//! - `connect_timeout_ms`: how long connecting (TCP, proxy, TLS handshake) may take;
//!   libcurl's default (300 s) otherwise, and never longer than the request's head timeout;
//! - `pool_max_idle_per_host`: how many idle connection caches (one libcurl multi handle each)
//!   are kept between calls, 64 by default (as many as calls run at once); with the one API
//!   host, that many idle connections.
//!
//! Deprecated names, still read with a warning in the host's log: `ca_file` (now
//! `ca_cert_file`) and `connect_timeout_secs` (now `connect_timeout_ms`, in milliseconds).
//!
//! **Which libcurl.** The `curl-sys` crate links the system libcurl that `pkg-config` finds
//! (Debian: `libcurl4-openssl-dev`). Without it, it builds a bundled libcurl, which in this
//! configuration has no TLS: the plugin then leaves `tls` out of its capabilities, and refuses
//! `https://` URLs with a message naming the fix (install `libcurl4-openssl-dev`, rebuild).
//!
//! How the contract maps onto libcurl:
//! - the request's headers are sent exactly: libcurl's own `Accept: */*` and
//!   `Expect: 100-continue` (and `Proxy-Connection` through a proxy) are switched off with
//!   empty header lines, no `User-Agent` or `Accept-Encoding` is configured, and a header with
//!   an empty value is written `Name;` (libcurl's syntax for it);
//! - redirects are not followed, 4xx/5xx are responses (no `CURLOPT_FAILONERROR`), bodies are
//!   not decoded (no `CURLOPT_ACCEPT_ENCODING`, content decoding off);
//! - a request body is sent through libcurl's read callback from the glue's `BlockingBody`,
//!   framed by its length when known and chunked otherwise; an empty body is no body;
//! - the exchange is driven through the multi interface on the glue's thread (see
//!   `exchange.rs` for why), with the connection cache kept between calls.

mod errors;
mod exchange;
mod options;

use std::ffi::c_long;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use apify_plugin_api::http::{header, HeaderMap, Method};
use apify_plugin_api::{
    export_plugin, serde_json, BlockingRequest, BlockingTransport, Capabilities, Error, ErrorKind,
    Metadata, ResponseHead, BODY_CHUNK,
};
use curl::easy::{Easy2, HttpVersion, List};

use crate::errors::from_curl;
use crate::exchange::{Collector, Exchange, IdleMultis};
use crate::options::Options;

/// The curl transport: its options, and the idle connections of finished exchanges.
pub struct CurlTransport {
    options: Options,
    idle: Arc<IdleMultis>,
}

/// The curl low-speed limit, a backstop behind the host's own idle limit: a transfer that
/// moves less than one byte a second for this long (or for the head timeout, if longer) ends
/// as a timeout. Long, because the host's idle limit for streamed bodies is configurable up to
/// an hour and the plugin is not told it; the glue frees the thread sooner by cancelling.
const LOW_SPEED_BACKSTOP: Duration = Duration::from_secs(3600);

/// The headers libcurl adds on its own unless the request has them: `Accept: */*` always,
/// `Expect: 100-continue` for uploads, `Proxy-Connection: Keep-Alive` through an HTTP proxy.
const CURL_DEFAULT_HEADERS: [header::HeaderName; 3] = [
    header::ACCEPT,
    header::EXPECT,
    header::HeaderName::from_static("proxy-connection"),
];

/// `CURLOPT_SUPPRESS_CONNECT_HEADERS` (libcurl 7.54), which `curl-sys` does not name.
const CURLOPT_SUPPRESS_CONNECT_HEADERS: curl_sys::CURLoption = curl_sys::CURLOPTTYPE_LONG + 265;

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, message)
}

/// A libcurl option that could not be set: the library lacks a feature, or a value is bad.
fn setopt(what: &str) -> impl Fn(curl::Error) -> Error + '_ {
    move |e| {
        let mut error = from_curl(&e, false);
        error.message = format!("cannot set {what}: {}", error.message);
        error
    }
}

impl CurlTransport {
    /// An easy handle set up for `request` (nothing is sent yet). Easy2 rather than Easy: its
    /// callbacks go to one handler value owned by the handle, which the exchange reads between
    /// steps (`get_mut`); `Easy`'s closures would have to share that state through an
    /// `Arc<Mutex<..>>` to be read from outside while the handle is in the multi handle.
    fn easy(
        &self,
        request: BlockingRequest,
        recycled: Option<Easy2<Collector>>,
    ) -> Result<Easy2<Collector>, Error> {
        let BlockingRequest {
            method,
            url,
            headers,
            body,
            timeout,
            cancel,
        } = request;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(format!("not an http(s) URL: {url}")));
        }
        if url.starts_with("https://") && !libcurl_has_https() {
            return Err(Error::new(ErrorKind::TLS, no_https_message()));
        }
        let has_body = !body.is_empty();
        let length = body.len();
        let collector = Collector::new(body, cancel);
        // A parked handle keeps its connection-independent allocations; every option is set
        // again below, from libcurl's defaults.
        let mut easy = match recycled {
            Some(mut easy) => {
                easy.reset();
                *easy.get_mut() = collector;
                easy
            }
            None => Easy2::new(collector),
        };

        // The URL as given: no `/../` squashing (the host has encoded the path already).
        easy.url(&url).map_err(setopt("the URL"))?;
        easy.path_as_is(true).map_err(setopt("path_as_is"))?;

        // One exchange, as sent: no redirects, no decoding, no statuses turned into errors.
        easy.follow_location(false)
            .map_err(setopt("follow_location"))?;
        easy.http_content_decoding(false)
            .map_err(setopt("http_content_decoding"))?;
        easy.http_version(if self.options.http2 {
            HttpVersion::V2TLS
        } else {
            HttpVersion::V11
        })
        .map_err(setopt("the HTTP version"))?;

        // The method and the body. A body (or a POST/PUT/PATCH, which servers expect one on)
        // is an upload through the read callback: its length frames it when known
        // (`Content-Length`, added by libcurl unless the request has it), chunked otherwise.
        // Upload mode rather than `CURLOPT_POST`, which would add a form `Content-Type`.
        let expects_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        if method == Method::HEAD {
            easy.nobody(true).map_err(setopt("HEAD"))?;
        } else if has_body || expects_body {
            easy.upload(true).map_err(setopt("the upload"))?;
            if let Some(n) = length {
                easy.in_filesize(n).map_err(setopt("the body length"))?;
            }
            if method != Method::PUT {
                easy.custom_request(method.as_str())
                    .map_err(setopt("the method"))?;
            }
        } else if method != Method::GET {
            easy.custom_request(method.as_str())
                .map_err(setopt("the method"))?;
        }
        easy.http_headers(header_list(&headers)?)
            .map_err(setopt("the headers"))?;

        // Proxy: the option's, or explicitly none (an empty string also ignores the
        // environment's `http_proxy`) unless `proxy_from_env` lets libcurl read it. The proxy's
        // answer to CONNECT is not the response.
        match (&self.options.proxy, self.options.proxy_from_env) {
            (Some(proxy), _) => easy.proxy(proxy).map_err(setopt("the proxy"))?,
            (None, true) => {}
            (None, false) => easy.proxy("").map_err(setopt("the proxy"))?,
        }
        // SAFETY: a valid easy handle, a known long option (libcurl ignores unknown ones with
        // an error code), a long argument as that option takes.
        let code = unsafe {
            curl_sys::curl_easy_setopt(easy.raw(), CURLOPT_SUPPRESS_CONNECT_HEADERS, 1 as c_long)
        };
        if code != curl_sys::CURLE_OK {
            return Err(setopt("suppress_connect_headers")(curl::Error::new(code)));
        }
        if let Some(ca) = &self.options.ca_file {
            easy.cainfo(ca).map_err(setopt("ca_cert_file"))?;
            easy.proxy_cainfo(&ca.to_string_lossy())
                .map_err(setopt("ca_cert_file for the proxy"))?;
        }

        // Timeouts. The glue enforces the head deadline and cancels; these free libcurl's
        // side too: connecting may not outlast the head deadline, and a transfer stalled for
        // longer than the deadline (or the backstop) ends as a timeout. No overall timeout:
        // a body may take as long as it keeps flowing.
        let connect = match (self.options.connect_timeout, timeout) {
            (Some(c), Some(t)) => Some(c.min(t)),
            (c, t) => c.or(t),
        };
        if let Some(c) = connect {
            easy.connect_timeout(c)
                .map_err(setopt("the connect timeout"))?;
        }
        if let Some(t) = timeout {
            easy.low_speed_limit(1)
                .map_err(setopt("the low-speed limit"))?;
            easy.low_speed_time(t.max(LOW_SPEED_BACKSTOP))
                .map_err(setopt("the low-speed time"))?;
        }

        // The progress callback is where a cancelled exchange stops mid-step.
        easy.progress(true)
            .map_err(setopt("the progress callback"))?;
        // Receive in the glue's chunk size: fewer callbacks per chunk it reads.
        easy.buffer_size(BODY_CHUNK)
            .map_err(setopt("the buffer size"))?;
        Ok(easy)
    }
}

/// The request headers as libcurl's list, plus empty lines that switch off its defaults.
fn header_list(headers: &HeaderMap) -> Result<List, Error> {
    let mut list = List::new();
    for (name, value) in headers {
        // libcurl takes C strings; `http` allows any byte but NUL, CR and LF in a value.
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            invalid(format!(
                "header `{name}` has a value that is not UTF-8, which libcurl cannot send"
            ))
        })?;
        // `Name:` alone would *remove* a header in libcurl; `Name;` sends it empty.
        let line = if value.is_empty() {
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        list.append(&line).map_err(setopt("a header"))?;
    }
    for default in CURL_DEFAULT_HEADERS {
        if !headers.contains_key(&default) {
            list.append(&format!("{default}:"))
                .map_err(setopt("a header"))?;
        }
    }
    Ok(list)
}

/// Whether the libcurl this plugin runs on speaks `https` (a bundled libcurl built without a
/// TLS library does not).
fn libcurl_has_https() -> bool {
    curl::Version::get().protocols().any(|p| p == "https")
}

/// What an `https://` request gets from a libcurl without TLS: the cause and the fix.
fn no_https_message() -> String {
    format!(
        "this curl plugin was built against a libcurl without https ({}, protocols: {}), \
         usually curl-sys's bundled copy because the system libcurl was not found; install \
         libcurl4-openssl-dev (and pkg-config) and rebuild the plugin",
        curl::Version::get().version(),
        curl::Version::get().protocols().collect::<Vec<_>>().join(" ")
    )
}

impl BlockingTransport for CurlTransport {
    fn metadata() -> Metadata {
        // `tls` only when this libcurl has it: `transport check` then holds it to it.
        let tls = if libcurl_has_https() {
            Capabilities::TLS
        } else {
            Capabilities::empty()
        };
        Metadata {
            name: "curl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "HTTP transport on the system libcurl (multi interface, blocking glue)"
                .into(),
            capabilities: Capabilities::STREAMING
                | tls
                | Capabilities::HTTP2
                | Capabilities::PROXY
                | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value) -> Result<Self, Error> {
        let options = Options::parse(options)?;
        // Through the host's log (warnings are shown by default), once per client.
        for warning in &options.warnings {
            apify_plugin_api::log::warn!("{warning}");
        }
        // Said once here rather than as a failed option on every request.
        if options.http2 && !curl::Version::get().feature_http2() {
            return Err(invalid(format!(
                "option `http2`: this libcurl ({}) was built without HTTP/2",
                curl::Version::get().version()
            )));
        }
        Ok(CurlTransport {
            idle: Arc::new(IdleMultis::new(options.pool_max_idle)),
            options,
        })
    }

    fn call(
        &self,
        request: BlockingRequest,
    ) -> Result<(ResponseHead, impl Read + Send + 'static), Error> {
        let mut exchange =
            Exchange::new(self.idle.clone(), |recycled| self.easy(request, recycled))?;
        let head = exchange.head()?;
        Ok((head, exchange))
    }

    fn diagnostics() -> serde_json::Value {
        let v = curl::Version::get();
        serde_json::json!({
            "libcurl": v.version(),
            "tls": v.ssl_version(),
            "https": libcurl_has_https(),
            "http2": v.feature_http2(),
            "nghttp2": v.nghttp2_version(),
            "default_ca_file": v.cainfo(),
        })
    }
}

export_plugin!(blocking CurlTransport);

#[cfg(test)]
mod tests {
    use super::*;
    use apify_plugin_api::http::HeaderValue;

    #[test]
    fn headers_are_sent_exactly_and_curl_defaults_are_switched_off() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        h.append("x-repeat", HeaderValue::from_static("1"));
        h.append("x-repeat", HeaderValue::from_static("2"));
        h.insert("x-empty", HeaderValue::from_static(""));
        let list = header_list(&h).unwrap();
        let lines: Vec<_> = list
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(
            lines,
            [
                "accept: application/json",
                "x-repeat: 1",
                "x-repeat: 2",
                "x-empty;",
                "expect:",
                "proxy-connection:"
            ]
        );
    }
}
