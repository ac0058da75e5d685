//! A loopback HTTPS server with a certificate from a CA made for the run (rcgen), for tests of
//! a transport's `ca_cert_file` option: no system root trusts it, so a client succeeds only
//! when it is given [`TlsServer::ca_pem`].
//!
//! It answers every request `200` with a small body naming the request's target, and logs each
//! request line and `Host` header. HTTP/1.1 with keep-alive; ALPN is not offered (HTTP/1.1).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

/// A CA made for the run, and a server configuration with a certificate it signed for
/// `localhost` and `127.0.0.1` (rustls on ring, as the host's), ALPN not set.
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// A TLS server configuration with the signed certificate.
    pub server_config: rustls::ServerConfig,
}

impl TestCa {
    /// Makes the CA (named `common_name`) and the server certificate; `Err` says which step
    /// failed.
    pub fn new(common_name: &str) -> Result<TestCa, String> {
        let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
        let ca_key = KeyPair::generate().map_err(|e| err("a CA key", &e))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("a CA", &e))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, common_name);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(|e| err("a CA", &e))?;
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().map_err(|e| err("a server key", &e))?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| err("a server certificate", &e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| err("a server certificate", &e))?;
        let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| err("the TLS server", &e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| err("the TLS server", &e))?;
        Ok(TestCa {
            ca_pem: ca_cert.pem(),
            server_config,
        })
    }
}

/// The running server; stops when dropped.
pub struct TlsServer {
    addr: SocketAddr,
    ca_pem: String,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsServer {
    /// Makes a CA and a certificate for `localhost` and `127.0.0.1` signed by it, and serves
    /// HTTPS on `127.0.0.1` with it.
    pub async fn start() -> TlsServer {
        let TestCa {
            ca_pem,
            server_config: config,
        } = TestCa::new("testkit test CA").expect("a test CA and its server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    let log = log.clone();
                    tokio::spawn(async move {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve(tls, log).await;
                        }
                    });
                }
            }
        });
        TlsServer {
            addr,
            ca_pem,
            log,
            task,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate to `dir/ca.pem`; answers its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem).expect("write the CA file");
        path
    }

    /// Each request received: its request line, then ` host=` and its `Host` header.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn serve<S>(mut conn: S, log: Arc<Mutex<Vec<String>>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(req.parse(&head), Ok(httparse::Status::Complete(_))) {
            return;
        }
        let target = req.path.unwrap_or_default().to_string();
        let host = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .unwrap_or_default();
        log.lock().unwrap().push(format!(
            "{} {target} host={host}",
            req.method.unwrap_or_default()
        ));
        // Bodies are not expected; a request with one ends the connection after the answer.
        let has_body = req.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                || (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
        });
        let body = format!("{{\"tls\":true,\"target\":{target:?}}}");
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if has_body { "connection: close\r\n" } else { "" }
        );
        if conn.write_all(answer.as_bytes()).await.is_err() || has_body {
            let _ = conn.shutdown().await;
            return;
        }
    }
}
