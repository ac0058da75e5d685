//! A CA made on the spot and a loopback TLS server signed by it, in front of a testkit server:
//! what `https-success` calls through.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use tokio::net::{TcpListener, TcpStream};

/// A TLS server on `127.0.0.1` that forwards each connection's plain bytes to `backend`, and
/// the PEM file of the CA that signed its certificate. Stops (and removes the file) on drop.
pub(crate) struct TlsFront {
    addr: SocketAddr,
    /// The CA certificate, PEM, in a file of its own.
    pub(crate) ca_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Makes the CA and the server certificate (for `127.0.0.1` and `localhost`), writes the
    /// CA to a temporary file, and starts serving. ALPN offers only `http/1.1`: the backend
    /// speaks nothing else.
    pub(crate) async fn start(backend: SocketAddr) -> Result<TlsFront, String> {
        let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
        let testkit::tls::TestCa {
            ca_pem,
            server_config: mut config,
        } = testkit::tls::TestCa::new("apify-host transport check CA")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        static N: AtomicUsize = AtomicUsize::new(0);
        let ca_file = std::env::temp_dir().join(format!(
            "apify-check-ca-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&ca_file, ca_pem)
            .map_err(|e| err(&format!("writing {}", ca_file.display()), &e))?;

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| err("binding 127.0.0.1", &e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err("the TLS server's address", &e))?;
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(TlsFront {
            addr,
            ca_file,
            task,
        })
    }

    /// `https://127.0.0.1:PORT` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.ca_file);
    }
}
