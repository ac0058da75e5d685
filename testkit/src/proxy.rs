//! A small forward HTTP proxy on 127.0.0.1, for tests of a transport's `proxy` option: it takes
//! absolute-form requests (`GET http://host:port/path HTTP/1.1`) for `http://` targets and
//! `CONNECT host:port` tunnels for `https://` ones, logs what it was asked, and can require
//! `Proxy-Authorization: Basic` credentials (answering `407` without them).
//!
//! [`ForwardProxy::start_tls`] makes it an `https://` proxy: it terminates TLS with a
//! certificate for `localhost` and `127.0.0.1` from a CA made for the run ([`TestCa`], so only a
//! client given [`ForwardProxy::ca_pem`] trusts it), then does the same inside. A client reaching
//! an `https://` target through it speaks TLS to the target inside the tunnel, inside TLS to the
//! proxy.
//!
//! An absolute-form request is sent on to its origin in origin form, with `Connection: close`
//! and without the proxy's own headers, and the origin's answer is copied back: one request per
//! client connection, which is all a test needs (the client opens a new one for the next).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use base64::Engine as _;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::LazyConfigAcceptor;

use crate::tls::TestCa;

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// The request target as sent: `host:port` for `CONNECT`, an absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
    /// Whether the proxy let it through (credentials matched, or none were required).
    pub allowed: bool,
    /// For a TLS proxy, the ALPN protocols the client offered in its handshake with the proxy
    /// (empty: none); `None` for a plain proxy.
    pub tls_alpn_offered: Option<Vec<String>>,
}

/// The running proxy; stops when dropped.
pub struct ForwardProxy {
    addr: SocketAddr,
    /// The CA of the proxy's certificate, for a TLS proxy.
    ca_pem: Option<String>,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ForwardProxy {
    /// Starts a proxy that lets every request through.
    pub async fn start() -> ForwardProxy {
        Self::start_with(None, None).await
    }

    /// Starts a proxy that requires `user:password` as `Proxy-Authorization: Basic`.
    pub async fn with_credentials(user: &str, password: &str) -> ForwardProxy {
        Self::start_with(Some(basic(user, password)), None).await
    }

    /// Starts an `https://` proxy (TLS to the proxy, certificate from a CA made for the run)
    /// that lets every request through.
    pub async fn start_tls() -> ForwardProxy {
        Self::start_with(None, Some(proxy_ca())).await
    }

    /// Starts an `https://` proxy that requires `user:password` as `Proxy-Authorization: Basic`.
    pub async fn tls_with_credentials(user: &str, password: &str) -> ForwardProxy {
        Self::start_with(Some(basic(user, password)), Some(proxy_ca())).await
    }

    async fn start_with(required: Option<String>, tls: Option<TestCa>) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let ca_pem = tls.as_ref().map(|ca| ca.ca_pem.clone());
        let server_config = tls.map(|ca| Arc::new(ca.server_config));
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                while let Ok((conn, _)) = listener.accept().await {
                    let (required, log) = (required.clone(), log.clone());
                    let server_config = server_config.clone();
                    tokio::spawn(async move {
                        match server_config {
                            None => serve(conn, required, log, None).await,
                            // A failed handshake (a client that does not trust the CA) logs
                            // nothing: the proxy never saw a request.
                            Some(config) => {
                                if let Some((tls, alpn)) = accept_tls(conn, config).await {
                                    serve(tls, required, log, Some(alpn)).await;
                                }
                            }
                        }
                    });
                }
            }
        });
        ForwardProxy {
            addr,
            ca_pem,
            log,
            task,
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy URL, `http://127.0.0.1:PORT` (`https://` for a TLS proxy), with
    /// `user:password@` when given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        match credentials {
            Some((user, password)) => format!("{scheme}://{user}:{password}@{}", self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    /// The CA certificate (PEM) of a TLS proxy's certificate; `None` for a plain proxy.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Writes the CA certificate of a TLS proxy to `dir/proxy-ca.pem` and answers its path.
    /// Panics for a plain proxy.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let pem = self.ca_pem.as_ref().expect("a TLS proxy (start_tls)");
        let path = dir.join("proxy-ca.pem");
        std::fs::write(&path, pem).expect("write the proxy's CA file");
        path
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.log.lock().unwrap().clone()
    }
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn proxy_ca() -> TestCa {
    TestCa::new("testkit proxy CA").expect("a CA and a certificate for the TLS proxy")
}

/// The TLS handshake of a TLS proxy, noting the ALPN protocols the client offered (the server
/// selects none: it speaks HTTP/1.1).
async fn accept_tls(
    conn: TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, Vec<String>)> {
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), conn)
        .await
        .ok()?;
    let alpn = start
        .client_hello()
        .alpn()
        .map(|offered| {
            offered
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let tls = start.into_stream(config).await.ok()?;
    Some((tls, alpn))
}

/// Reads a request head (up to the blank line); answers it and what was read past it.
async fn read_head<S: AsyncRead + Unpin>(conn: &mut S) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Serves one client connection: plain TCP, or the TLS stream of a TLS proxy (with the ALPN
/// protocols its client offered).
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    required: Option<String>,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    tls_alpn_offered: Option<Vec<String>>,
) {
    let Some((head, rest)) = read_head(&mut conn).await else {
        return;
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(&head), Ok(httparse::Status::Complete(_))) {
        let _ = conn
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default().to_string();
    let auth = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned());
    let allowed = required.as_ref().is_none_or(|r| auth.as_ref() == Some(r));
    log.lock().unwrap().push(ProxiedRequest {
        method: method.clone(),
        target: target.clone(),
        proxy_authorization: auth,
        allowed,
        tls_alpn_offered,
    });
    if !allowed {
        let _ = conn
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  proxy-authenticate: Basic realm=\"testkit\"\r\ncontent-length: 0\r\n\
                  connection: close\r\n\r\n",
            )
            .await;
        return;
    }
    if method == "CONNECT" {
        let Ok(mut upstream) = TcpStream::connect(&target).await else {
            let _ = conn
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        if conn
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_err()
            || upstream.write_all(&rest).await.is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
        return;
    }
    // Absolute form: `http://host:port/path`.
    let Some(after) = target.strip_prefix("http://") else {
        let _ = conn
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let (authority, path) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    let Ok(mut upstream) = TcpStream::connect(authority).await else {
        let _ = conn
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection"
        ) {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&rest);
    if upstream.write_all(&out).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
}
