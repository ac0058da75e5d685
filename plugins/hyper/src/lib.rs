//! A transport plugin on hyper that runs on the host's threads: a [`HostedTransport`]
//! (interface 1.3). hyper's client gets a connector over the host's sockets, an executor over
//! the host's tasks and a timer over the host's clock, so an exchange is polled, written and
//! read on the host's thread with no hand-off to a runtime of the plugin's own (there is none,
//! except in a host older than 1.3, where the glue starts one).
//!
//! Options (the config's `[transport.options]`): the standard ones it can honour
//! (`apify_plugin_api::options`), and one of its own:
//! - `http2` (bool, default true): offer HTTP/2 over TLS (ALPN);
//! - `pool_max_idle_per_host` (integer): keep-alive pool size per host;
//! - `ca_cert_file` (path): an extra PEM CA certificate to trust, on top of the webpki roots;
//! - `connect_timeout_ms` (integer): how long opening a connection may take;
//! - `pool_idle_timeout_secs` (integer, default 90; its own): how long an idle connection is
//!   kept.
//!
//! `proxy` and `proxy_from_env` are refused: this plugin has no proxy support (the built-in
//! transport, the reqwest and the curl plugins have).
//! Unknown options are refused with a message that names them.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use apify_hyper_common::{exchange, tls_config_with_ca, OutgoingBody};
use apify_plugin_api::options::parse_options;
use apify_plugin_api::{
    export_plugin, Capabilities, Error, ErrorKind, Host, HostSleep, HostTcp, HostedTransport,
    Metadata, Request, Response,
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{
        connect::{Connected, Connection},
        Client,
    },
    rt::TokioIo,
};

/// The transport: hyper's pooled client over the host's services.
pub struct HyperTransport {
    client: Client<HttpsConnector<HostConnector>, OutgoingBody>,
    host: Host,
}

impl HostedTransport for HyperTransport {
    fn metadata() -> Metadata {
        Metadata {
            name: "hyper".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "hyper 1 with rustls, on the host's threads".into(),
            capabilities: Capabilities::STREAMING
                | Capabilities::TLS
                | Capabilities::HTTP2
                | Capabilities::TIMEOUTS,
        }
    }

    fn new(options: serde_json::Value, host: Host) -> Result<Self, Error> {
        let parsed = parse_options(options, &[])?;
        parsed.check_own_options("hyper", &["pool_idle_timeout_secs"])?;
        let no_proxy = "the hyper plugin has no proxy support; use the built-in transport (no \
                        plugin), or the reqwest or curl plugin";
        parsed.refuse("proxy", no_proxy)?;
        parsed.refuse("proxy_from_env", no_proxy)?;
        let pool_idle_timeout_secs = match parsed.own.get("pool_idle_timeout_secs") {
            None => 90,
            Some(v) => v.as_u64().ok_or_else(|| {
                Error::new(
                    ErrorKind::INVALID_REQUEST,
                    format!(
                        "option `pool_idle_timeout_secs` must be a whole number of seconds, not {v}"
                    ),
                )
            })?,
        };
        let o = parsed.standard;
        let ca = o.read_ca_cert_file()?;
        let ca_path = o
            .ca_cert_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let tls = tls_config_with_ca(ca.as_deref().map(|pem| (pem, ca_path.as_str())))?;
        let connector = HostConnector(host.clone(), o.connect_timeout());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1();
        let https = if o.http2.unwrap_or(true) {
            https.enable_http2().wrap_connector(connector)
        } else {
            https.wrap_connector(connector)
        };
        let mut builder = Client::builder(HostExecutor(host.clone()));
        builder
            .timer(HostTimer(host.clone()))
            .pool_timer(HostTimer(host.clone()))
            .pool_idle_timeout(Duration::from_secs(pool_idle_timeout_secs));
        if let Some(n) = o.pool_max_idle_per_host {
            builder.pool_max_idle_per_host(n);
        }
        Ok(HyperTransport {
            client: builder.build(https),
            host: host.clone(),
        })
    }

    async fn call(&self, request: Request) -> Result<Response, Error> {
        exchange(&self.client, request, |limit| self.host.sleep(limit)).await
    }

    fn diagnostics() -> serde_json::Value {
        serde_json::json!({"hyper": "1", "tls": "rustls (ring), webpki roots", "runtime": "the host's"})
    }
}

export_plugin!(hosted HyperTransport);

// ---- hyper's runtime, served by the host --------------------------------------------------------

/// Opens connections through the host (its resolver, its reactor), within the connect timeout
/// if there is one.
#[derive(Clone)]
struct HostConnector(Host, Option<Duration>);

impl tower_service::Service<hyper::Uri> for HostConnector {
    type Response = HostIo;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HostIo, Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let host = self.0.clone();
        let limit = self.1;
        Box::pin(async move {
            let name = uri.host().ok_or_else(|| {
                Error::new(ErrorKind::INVALID_REQUEST, format!("no host in {uri}"))
            })?;
            // An IPv6 literal comes bracketed in a URI, never in a socket address.
            let name = name.trim_start_matches('[').trim_end_matches(']');
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            let mut connect = std::pin::pin!(host.connect(name, port));
            let tcp = match limit {
                None => connect.await?,
                Some(limit) => {
                    let mut timer = std::pin::pin!(host.sleep(limit));
                    std::future::poll_fn(|cx| match connect.as_mut().poll(cx) {
                        Poll::Ready(r) => Poll::Ready(Some(r)),
                        Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
                    })
                    .await
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::CONNECT,
                            format!(
                                "no connection to {name}:{port} within {limit:?} (option \
                                 `connect_timeout_ms`)"
                            ),
                        )
                    })??
                }
            };
            Ok(HostIo(TokioIo::new(tcp)))
        })
    }
}

/// A host socket as hyper's I/O.
struct HostIo(TokioIo<HostTcp>);

impl Connection for HostIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for HostIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for HostIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Runs hyper's connection tasks on the host's executor.
#[derive(Clone)]
struct HostExecutor(Host);

impl<F: Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for HostExecutor {
    fn execute(&self, task: F) {
        self.0.spawn(task);
    }
}

/// hyper's timers on the host's clock.
#[derive(Clone)]
struct HostTimer(Host);

impl hyper::rt::Timer for HostTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TimerSleep(std::sync::Mutex::new(self.0.sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

/// hyper wants its timers `Sync`; a host timer is only `Send`, so it sits behind a lock that
/// only its own poll ever takes.
struct TimerSleep(std::sync::Mutex<HostSleep>);

impl Future for TimerSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut().0.get_mut() {
            Ok(sleep) => Pin::new(sleep).poll(cx),
            // A poll that panicked poisoned it: the timer is as good as fired.
            Err(_) => Poll::Ready(()),
        }
    }
}

impl hyper::rt::Sleep for TimerSleep {}
