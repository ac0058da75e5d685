//! The smallest hosted transport: a `HostedTransport` on hyper 1's low-level
//! `client::conn::http1`, with a keep-alive pool of its own and TLS by tokio-rustls. The glue
//! that `export_plugin!(hosted ...)` generates lends it the host's sockets, tasks and timers:
//! it runs on the host's threads, with no runtime and no thread of its own.
//!
//! Options, from the standard ones (`apify_plugin_api::options`): `ca_cert_file` (an extra CA
//! to trust, PEM), `connect_timeout_ms`, `pool_max_idle_per_host` (idle connections kept per
//! origin; no limit by default) and `http2 = false`; `proxy`, `proxy_from_env` and
//! `http2 = true` are refused, as is any other option.
//!
//! Build with `cargo build --release`; point the host's `[transport] plugin` at
//! `target/release/libtransport_hosted_example.so`.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apify_plugin_api::*; // the plugin API: HostedTransport, Host, Request, Error, ErrorKind...
use futures_util::{Stream, TryStreamExt};
use http::{header::HOST, uri::PathAndQuery, HeaderValue, Uri};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

type HyperBody = UnsyncBoxBody<bytes::Bytes, Error>;
/// One HTTP/1.1 connection: hyper's handle to send a request on it.
type Conn = SendRequest<HyperBody>;
/// Where a connection goes: https or not, the host name as `Host::connect` takes it, the port.
type Origin = (bool, String, u16);

/// The transport: the host's services, the TLS setup and the pool of idle connections.
pub struct HostedHyper {
    host: Host,
    tls: TlsConnector,
    pool: Arc<Pool>,
    connect_timeout: Option<Duration>,
}

impl HostedTransport for HostedHyper {
    fn metadata() -> Metadata {
        Metadata {
            name: "hyper-hosted-example".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "example hosted transport on hyper's client::conn with tokio-rustls"
                .into(),
            capabilities: Capabilities::STREAMING | Capabilities::TLS | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value, host: Host) -> Result<Self, Error> {
        // The standard options, read (and their values checked) by the plugin API; this
        // transport has none of its own, so any other key is refused by name.
        let options = options::parse_options(options, &[])?;
        options.check_own_options("hyper-hosted-example", &[])?;
        // Refuse what it cannot honour, rather than ignore it: a proxy that is not used would
        // send the calls direct, past whatever the proxy was there to enforce.
        let direct = "this transport connects directly; use a transport with proxy support";
        options.refuse("proxy", direct)?;
        options.refuse("proxy_from_env", direct)?;
        let o = &options.standard;
        if o.http2 == Some(true) {
            return Err(invalid(
                "option `http2`: this transport speaks HTTP/1.1 only (`false` or unset)".into(),
            ));
        }
        Ok(HostedHyper {
            tls: tls(o.ca_cert_file.as_deref())?,
            pool: Arc::new(Pool {
                idle: Mutex::default(),
                max_idle: o.pool_max_idle_per_host.unwrap_or(usize::MAX),
            }),
            connect_timeout: o.connect_timeout(),
            host,
        })
    }

    async fn call(&self, r: Request) -> Result<Response, Error> {
        let (origin, path, authority) = split(&r.url)?;
        // Bytes go as one frame (none when empty: no body), a stream as it comes: by its
        // `Content-Length` when the host knows it, chunked otherwise.
        let body = match r.body {
            RequestBody::Full(b) => HyperBody::new(Full::new(b).map_err(|never| match never {})),
            s => HyperBody::new(StreamBody::new(s.into_stream().map_ok(Frame::data))),
        };
        let mut req = http::Request::new(body);
        (*req.method_mut(), *req.headers_mut()) = (r.method, r.headers);
        // `client::conn` sends the URI as given and adds no `Host`: the origin form
        // (`/path?query`) goes on the request line, the URL's authority in `Host`.
        *req.uri_mut() = path;
        req.headers_mut().insert(HOST, authority);
        // `r.timeout` bounds connecting, sending and the head (`None`: forever); the host
        // bounds the body. Timers come from the host: there is no tokio timer here.
        let exchange = self.exchange(origin, req);
        within(&self.host, r.timeout, ErrorKind::TIMEOUT, exchange).await
    }

    /// Called by the host when it drops the client (no call in flight then): the idle
    /// connections close as their handles go.
    fn close(&self) {
        self.pool.idle().clear();
    }
}

impl HostedHyper {
    /// Sends `req` on an idle connection to `origin`, or on a new one.
    async fn exchange(
        &self,
        origin: Origin,
        mut req: http::Request<HyperBody>,
    ) -> Result<Response, Error> {
        while let Some(mut conn) = self.pool.take(&origin) {
            // Wait until it is idle; an error means the server closed it meanwhile.
            if conn.ready().await.is_err() {
                continue;
            }
            match conn.try_send_request(req).await {
                Ok(response) => return Ok(self.pool.respond(origin, conn, response)),
                // The connection closed before the request went out (a server closing an idle
                // keep-alive connection): hyper gives the request back, unsent. Send it once
                // more, on a new connection; that costs the host no failed attempt.
                Err(mut e) => match e.take_message() {
                    Some(unsent) => {
                        req = unsent;
                        break;
                    }
                    None => return Err(classify(&e.into_error())),
                },
            }
        }
        let mut conn = self.connect(&origin).await?;
        let response = conn.send_request(req).await.map_err(|e| classify(&e))?;
        Ok(self.pool.respond(origin, conn, response))
    }

    /// A new connection: TCP from the host, TLS for https, then HTTP/1.1.
    async fn connect(&self, (https, name, port): &Origin) -> Result<Conn, Error> {
        let connecting = async {
            let tcp = self.host.connect(name, *port).await?; // a CONNECT error on failure
            if !*https {
                return Ok(Box::new(tcp) as Box<dyn Io>);
            }
            let server = ServerName::try_from(name.clone()).map_err(|e| invalid(e.to_string()))?;
            let tls = self
                .tls
                .connect(server, tcp)
                .await
                .map_err(|e| classify(&e))?;
            Ok(Box::new(tls) as Box<dyn Io>)
        };
        let io = within(
            &self.host,
            self.connect_timeout,
            ErrorKind::CONNECT,
            connecting,
        )
        .await?;
        let (conn, io_task) = http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| classify(&e))?;
        // The connection's reads and writes run as a task on the host's executor. It ends when
        // the connection does: closed by the server, or once `conn` and the response body are
        // both dropped (out of the pool, cut short, or the pool full).
        self.host.spawn(async move {
            let _ = io_task.await;
        });
        Ok(conn)
    }
}

/// A connection's byte stream: a host socket, or TLS over one.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// The request's URL as HTTP/1.1 sends it: where to connect, the request line's origin form
/// and the `Host` header. `Host` is the authority without any userinfo, the port only when not
/// the scheme's default, an IPv6 literal in brackets; `Host::connect` takes it unbracketed.
fn split(url: &str) -> Result<(Origin, Uri, HeaderValue), Error> {
    let uri: Uri = url.parse().map_err(|e| Error::classify(&e))?;
    let (https, default_port) = match uri.scheme_str() {
        Some("https") => (true, 443),
        Some("http") => (false, 80),
        _ => return Err(invalid(format!("not an http(s) URL: {url}"))),
    };
    let host = uri
        .host()
        .ok_or_else(|| invalid(format!("no host in {url}")))?; // "[::1]"
    let port = uri.port_u16().unwrap_or(default_port);
    let authority = match port == default_port {
        true => host.to_string(),
        false => format!("{host}:{port}"),
    };
    let authority = HeaderValue::try_from(authority).map_err(|e| Error::classify(&e))?;
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or(PathAndQuery::from_static("/"));
    let name = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(((https, name, port), Uri::from(path), authority))
}

/// How long a connection may wait in the pool and still be used (hyper-util's pool default).
/// A server or load balancer closes an idle keep-alive connection after a timeout of its own
/// (nginx 75 s, AWS's load balancers 60 s), which the pool sees once the close arrives
/// (`is_closed`, `ready`). But a NAT or firewall on the way may forget an idle connection
/// without telling either end, and a request sent on it then waits for nothing until the
/// call's timeout. The older the connection, the likelier it is gone; a new one costs only a
/// handshake.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle keep-alive connections by origin, each with the time it came back, oldest first.
struct Pool {
    idle: Mutex<HashMap<Origin, Vec<(Conn, Instant)>>>,
    max_idle: usize,
}

impl Pool {
    fn idle(&self) -> MutexGuard<'_, HashMap<Origin, Vec<(Conn, Instant)>>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used connection to `origin`. Those closed, or idle for
    /// [`IDLE_TIMEOUT`] or longer, are dropped (which closes them) rather than used.
    fn take(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle();
        let conns = idle.get_mut(origin)?;
        conns.retain(|(conn, since)| !conn.is_closed() && since.elapsed() < IDLE_TIMEOUT);
        conns.pop().map(|(conn, _)| conn)
    }

    fn put(&self, origin: Origin, conn: Conn) {
        let mut idle = self.idle();
        let conns = idle.entry(origin).or_default();
        if !conn.is_closed() && conns.len() < self.max_idle {
            conns.push((conn, Instant::now()));
        }
    }

    /// The host's response. `conn` comes back to the pool once the body has been read to its
    /// end (at once for a bodiless one: HEAD, 204, 304); a body dropped before its end takes
    /// the connection with it, since hyper then closes it.
    fn respond(
        self: &Arc<Self>,
        origin: Origin,
        conn: Conn,
        r: http::Response<Incoming>,
    ) -> Response {
        let (head, body) = r.into_parts();
        let mut body = PooledBody {
            body,
            conn: Some((self.clone(), origin, conn)),
        };
        if body.body.is_end_stream() {
            body.give_back();
        }
        Response {
            status: head.status,
            headers: head.headers,
            body: Box::pin(body),
        }
    }
}

/// A response body that returns its connection to the pool when it ends.
struct PooledBody {
    body: Incoming,
    conn: Option<(Arc<Pool>, Origin, Conn)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((pool, origin, conn)) = self.conn.take() {
            pool.put(origin, conn);
        }
    }
}

impl Stream for PooledBody {
    type Item = Result<bytes::Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    self.give_back();
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(classify(&e)))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue, // not part of the body
                },
            };
        }
    }
}

/// `work`'s result, or an error of `kind` when `limit` passes first (no limit: it waits). The
/// timer is the host's (`Host::sleep`): tokio's would panic, as no tokio runtime runs here.
async fn within<T>(
    host: &Host,
    limit: Option<Duration>,
    kind: ErrorKind,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(limit) = limit else {
        return work.await;
    };
    let (mut work, mut timer) = (pin!(work), host.sleep(limit));
    poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Pending => Pin::new(&mut timer)
            .poll(cx)
            .map(|()| Err(Error::new(kind, format!("timed out after {limit:?}")))),
        done => done,
    })
    .await
}

/// The TLS client: Mozilla's roots (bundled) and the `ca_cert_file` ones, HTTP/1.1 by ALPN.
///
/// The crypto provider is aws-lc-rs, rustls's default: from rustls 0.23.48 on, `ring`'s
/// `default_provider()` is deprecated (it has no post-quantum key exchange), so every build
/// that names it warns. aws-lc-rs needs a C compiler to build, as ring does.
fn tls(ca_cert_file: Option<&std::path::Path>) -> Result<TlsConnector, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_cert_file {
        let bad = |e: &dyn std::fmt::Display| {
            invalid(format!("option `ca_cert_file`: {}: {e}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))?;
        let certs = certs.collect::<Result<Vec<_>, _>>().map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no PEM certificate in it"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::TLS, format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()]; // this client speaks HTTP/1.1 only
    Ok(TlsConnector::from(Arc::new(config)))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, message)
}

/// `Error::classify` finds the `io::Error` or failed lookup in an error chain: a reset, in the
/// TLS handshake too, is IO. Only rustls's type tells a TLS failure apart (a certificate
/// problem, a peer that does not speak TLS), and hyper's own failures on an open connection
/// ("connection closed before message completed") hold no `io::Error`: they are IO errors.
fn classify(e: &(dyn std::error::Error + 'static)) -> Error {
    let error = Error::classify(e);
    let kind = match error.kind {
        _ if chain_has::<rustls::Error>(e) => ErrorKind::TLS,
        ErrorKind::OTHER if chain_has::<hyper::Error>(e) => ErrorKind::IO,
        kind => kind,
    };
    Error::new(kind, error.message)
}

export_plugin!(hosted HostedHyper);
