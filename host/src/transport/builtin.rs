//! The built-in transport: hyper 1 with hyper-util's pooled client and rustls (ring).
//!
//! Why hyper directly rather than reqwest: the pipeline already does what reqwest adds on top
//! of hyper (redirect policy aside, which the Apify API does not use), so the built-in path
//! keeps one thin layer over the connection pool, and a reqwest-based transport stays available
//! as a plugin. rustls with ring avoids a C toolchain dependency (aws-lc-sys) in the host.
//!
//! It takes the standard transport options (`apify_plugin_api::options`) from
//! `[transport.options]`. A proxy is hyper-util's: its `Matcher` (the proxy URL's credentials,
//! `NO_PROXY` as curl reads it) and its `Tunnel` (`CONNECT` for `https://` targets, then TLS to
//! the target through the tunnel) or `SocksV5`; `http://` targets go to an HTTP proxy in
//! absolute form, on a connection marked as proxied so that hyper-util writes the request line
//! that way.
//!
//! An `https://` proxy is the same with TLS to the proxy underneath: the connection to an HTTP
//! proxy is made by a second hyper-rustls connector (plain for `http://`, TLS for `https://`,
//! verified against the same roots, `ca_cert_file` included), so an `https://` target through
//! an `https://` proxy is TLS to the target inside a `CONNECT` tunnel inside TLS to the proxy.
//!
//! ```text
//! hyper-util Client
//!   └ HttpsConnector (TLS to an https:// target)          ← the target's certificate
//!       └ ProxyConnector: direct, SocksV5, Tunnel (CONNECT), or absolute form
//!           └ HttpsConnector (TLS to an https:// proxy)   ← the proxy's certificate
//!               └ HttpConnector (TCP)
//! ```

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use apify_hyper_common::{exchange, tls_config_with_ca, OutgoingBody};
use apify_plugin_api::options::{check_proxy_url, parse_options, redact_proxy, StandardOptions};
use http::{header::PROXY_AUTHORIZATION, uri::Scheme, Uri};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::{
    client::{
        legacy::{
            connect::{
                proxy::{SocksV5, Tunnel},
                Connected, Connection, HttpConnector,
            },
            Client,
        },
        proxy::matcher::{Intercept, Matcher},
    },
    rt::{TokioExecutor, TokioIo},
};
use tokio::net::TcpStream;
use tower_service::Service as _;

use super::{CallFuture, HttpTransport, TransportError as Error, TransportRequest as Request};
use crate::transport::TransportErrorKind as ErrorKind;

/// The proxy schemes the built-in transport speaks to.
const PROXY_SCHEMES: [&str; 4] = ["http", "https", "socks5", "socks5h"];

/// The default transport, compiled into the host.
///
/// Its `Debug` shows the options without the proxy's credentials.
#[derive(Clone)]
pub struct BuiltinTransport {
    client: Client<HttpsConnector<ProxyConnector>, OutgoingBody>,
    proxy: Option<Arc<Matcher>>,
    options: StandardOptions,
}

impl fmt::Debug for BuiltinTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `StandardOptions`' Debug masks the proxy's credentials; the matcher's never shows them.
        f.debug_struct("BuiltinTransport")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl BuiltinTransport {
    /// A client with a keep-alive pool and the webpki root certificates, and no proxy.
    pub fn new() -> Result<Self, Error> {
        Self::with_standard_options(StandardOptions::default())
    }

    /// A client set up by `options`, the JSON object of `[transport.options]`: the standard
    /// transport options (`proxy`, `proxy_from_env`, `ca_cert_file`, `connect_timeout_ms`,
    /// `pool_max_idle_per_host`, `http2`; see `apify_plugin_api::options`). Any other key is
    /// refused by name, as an [`ErrorKind::INVALID_REQUEST`] error. A proxy URL (`proxy`, or
    /// from the environment) may be `http://`, `https://` (TLS to the proxy, trusting what the
    /// target's TLS trusts), `socks5://` or `socks5h://`.
    pub fn with_options(options: &serde_json::Value) -> Result<Self, Error> {
        let parsed = parse_options(options.clone(), &[])?;
        parsed.check_own_options("built-in", &[])?;
        Self::with_standard_options(parsed.standard)
    }

    /// A client set up by parsed standard options.
    pub fn with_standard_options(options: StandardOptions) -> Result<Self, Error> {
        let proxy = match (&options.proxy, options.proxy_from_env) {
            (Some(url), _) => {
                check_proxy_url(url, &PROXY_SCHEMES)?;
                Some(Arc::new(Matcher::builder().all(url.as_str()).build()))
            }
            (None, true) => Some(Arc::new(Matcher::from_env())),
            (None, false) => None,
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(options.connect_timeout());
        let ca = options.read_ca_cert_file()?;
        let ca_path = options
            .ca_cert_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let tls = tls_config_with_ca(ca.as_deref().map(|pem| (pem, ca_path.as_str())))?;
        // The connection to an HTTP proxy itself: TCP for an `http://` proxy, TLS for an
        // `https://` one, trusting what the target's TLS trusts. HTTP/1.1 without ALPN: what
        // goes to the proxy (`CONNECT`, an absolute-form request) is HTTP/1.1, and an h2
        // negotiated with the proxy would also mark the target's connection above it as h2.
        let to_proxy = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http.clone());
        let connector = ProxyConnector {
            http,
            to_proxy,
            proxy: proxy.clone(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1();
        let https = if options.http2.unwrap_or(true) {
            https.enable_http2().wrap_connector(connector)
        } else {
            https.wrap_connector(connector)
        };
        let mut builder = Client::builder(TokioExecutor::new());
        if let Some(n) = options.pool_max_idle_per_host {
            builder.pool_max_idle_per_host(n);
        }
        Ok(BuiltinTransport {
            client: builder.build(https),
            proxy,
            options,
        })
    }
}

impl HttpTransport for BuiltinTransport {
    fn name(&self) -> &str {
        "builtin"
    }

    fn call(&self, mut request: Request) -> CallFuture {
        let client = self.client.clone();
        // An `http://` target through an HTTP(S) proxy: the proxy's credentials go with the
        // request itself (a tunnel sends them with its CONNECT instead; over TLS to an
        // `https://` proxy, either way).
        if let Some(matcher) = &self.proxy {
            if let Ok(uri) = request.url.parse::<Uri>() {
                if uri.scheme() == Some(&Scheme::HTTP) {
                    if let Some(auth) = matcher
                        .intercept(&uri)
                        .filter(|i| matches!(i.uri().scheme_str(), Some("http" | "https")))
                        .and_then(|i| i.basic_auth().cloned())
                    {
                        request.headers.insert(PROXY_AUTHORIZATION, auth);
                    }
                }
            }
        }
        Box::pin(async move {
            exchange(&client, request, tokio::time::sleep)
                .await
                .map_err(explain_proxy_error)
        })
    }
}

/// A proxy's refusal said so: hyper-util's tunnel error is not a public type, so its message
/// is what tells it. It will not heal on a retry.
fn explain_proxy_error(e: Error) -> Error {
    if e.message.contains("proxy authorization required") {
        return Error::new(
            ErrorKind::CONNECT,
            format!(
                "{}; the proxy wants credentials: put them in option `proxy`'s URL, as in \
                 http://user:password@host:port",
                e.message
            ),
        )
        .retryable(false);
    }
    e
}

/// Opens a connection for hyper-rustls: straight to the target, or through the proxy the
/// matcher picks for it.
#[derive(Clone)]
struct ProxyConnector {
    /// TCP to the target or to a SOCKS proxy.
    http: HttpConnector,
    /// To an `http://` proxy over TCP, to an `https://` one over TLS.
    to_proxy: HttpsConnector<HttpConnector>,
    proxy: Option<Arc<Matcher>>,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.proxy.as_ref().and_then(|m| m.intercept(&dst));
        Box::pin(connect(
            self.http.clone(),
            self.to_proxy.clone(),
            dst,
            intercept,
        ))
    }
}

/// A connection to `dst`, through `proxy` if there is one. Errors name the proxy without its
/// credentials; hyper-util reports any of them as a connect error (retried as one, except a
/// TLS failure with an `https://` proxy: see [`ProxyError`]).
async fn connect(
    mut http: HttpConnector,
    mut to_proxy: HttpsConnector<HttpConnector>,
    dst: Uri,
    proxy: Option<Intercept>,
) -> Result<ProxyStream, BoxError> {
    let Some(proxy) = proxy else {
        return Ok(ProxyStream::to_target(http.call(dst).await?));
    };
    // The matcher's URI: scheme, host and port, its credentials taken out.
    let proxy_uri = proxy.uri().clone();
    let failed = |e: &(dyn StdError + 'static)| ProxyError::new(&proxy_uri, e);
    match proxy_uri.scheme_str() {
        Some(scheme @ ("socks5" | "socks5h")) => {
            let mut socks = SocksV5::new(proxy_uri.clone(), http).local_dns(scheme == "socks5");
            if let Some((user, pass)) = proxy.raw_auth() {
                socks = socks.with_auth(user.to_string(), pass.to_string());
            }
            let io = socks.call(dst).await.map_err(|e| failed(&e))?;
            Ok(ProxyStream::to_target(io))
        }
        // An `https://` target: a `CONNECT` tunnel on the connection to the proxy (over TLS
        // for an `https://` proxy); the HttpsConnector above this one then does TLS to the
        // target inside the tunnel, so the proxy only relays bytes it cannot read.
        Some("http" | "https") if dst.scheme() == Some(&Scheme::HTTPS) => {
            let mut tunnel = Tunnel::new(proxy_uri.clone(), to_proxy);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let io = tunnel.call(dst).await.map_err(|e| failed(&e))?;
            Ok(ProxyStream::to_target(io))
        }
        // An `http://` target: the connection to the proxy (over TLS for an `https://` proxy)
        // carries the request itself, in absolute form, with `Proxy-Authorization` (see
        // `BuiltinTransport::call`); the HttpsConnector above adds no TLS for an `http://` URL.
        Some("http" | "https") => {
            let io = to_proxy
                .call(proxy_uri.clone())
                .await
                .map_err(|e| failed(&*e))?;
            Ok(ProxyStream::absolute_form(io))
        }
        other => Err(format!(
            "the proxy {}: the built-in transport cannot use a {other:?} proxy (it takes \
             {}); change the proxy URL, or use the reqwest or curl plugin",
            redact_proxy(&proxy_uri.to_string()),
            PROXY_SCHEMES.join(", ")
        )
        .into()),
    }
}

/// A failure on the way through the proxy. The message names the proxy (without credentials)
/// and gives the cause's chain with any URL credentials masked. Of the cause only a rustls
/// error is kept, as the source: a certificate or handshake failure with an `https://` proxy is
/// then classified by type as a TLS error (not retried), as one with the target is.
#[derive(Debug)]
struct ProxyError {
    message: String,
    tls: Option<rustls::Error>,
}

impl ProxyError {
    fn new(proxy: &Uri, cause: &(dyn StdError + 'static)) -> Self {
        ProxyError {
            message: format!(
                "the proxy {}: {}",
                redact_proxy(&proxy.to_string()),
                apify_plugin_api::redact_userinfo(&apify_plugin_api::error_chain(cause))
            ),
            tls: find_rustls_error(cause).cloned(),
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ProxyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.tls.as_ref().map(|e| e as _)
    }
}

/// The rustls error in `e`'s chain, looking inside `io::Error`s too (whose `source()` skips the
/// error they wrap), as `apify_plugin_api::chain_has` does.
fn find_rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A connection for hyper-util: TCP, or TLS to an `https://` proxy (a tunnel through it keeps
/// that type; the target's TLS is added above). Marked as proxied when it goes to an HTTP(S)
/// proxy that forwards each request, so that hyper-util writes the request in absolute form.
struct ProxyStream {
    io: MaybeHttpsStream<TokioIo<TcpStream>>,
    proxied: bool,
}

impl ProxyStream {
    /// A connection that leads to the target (direct, SOCKS, a tunnel): origin form.
    fn to_target(io: impl Into<MaybeHttpsStream<TokioIo<TcpStream>>>) -> Self {
        ProxyStream {
            io: io.into(),
            proxied: false,
        }
    }

    /// A connection to a forwarding HTTP(S) proxy: absolute form.
    fn absolute_form(io: MaybeHttpsStream<TokioIo<TcpStream>>) -> Self {
        ProxyStream { io, proxied: true }
    }
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
