//! A transport plugin on hyper that runs on the host's threads: a [`HostedTransport`]
//! (interface 1.3). hyper's client gets a connector over the host's sockets, an executor over
//! the host's tasks and a timer over the host's clock, so an exchange is polled, written and
//! read on the host's thread with no hand-off to a runtime of the plugin's own (there is none,
//! except in a host older than 1.3, where the glue starts one).
//!
//! Options (the config's `[transport.options]`):
//! - `http2` (bool, default true): offer HTTP/2 over TLS (ALPN);
//! - `pool_max_idle_per_host` (integer): keep-alive pool size per host;
//! - `pool_idle_timeout_secs` (integer, default 90): how long an idle connection is kept.
//!
//! Unknown options are refused with a message that names them.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use apify_hyper_common::{exchange, tls_config, OutgoingBody};
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
use serde::Deserialize;

/// The transport: hyper's pooled client over the host's services.
pub struct HyperTransport {
    client: Client<HttpsConnector<HostConnector>, OutgoingBody>,
    host: Host,
}

/// The options this plugin accepts.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    http2: Option<bool>,
    pool_max_idle_per_host: Option<usize>,
    pool_idle_timeout_secs: Option<u64>,
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
        let o: Options = serde_json::from_value(options).map_err(|e| {
            Error::new(
                ErrorKind::INVALID_REQUEST,
                format!("invalid hyper transport options: {e}"),
            )
        })?;
        let tls = tls_config()?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1();
        let https = if o.http2.unwrap_or(true) {
            https
                .enable_http2()
                .wrap_connector(HostConnector(host.clone()))
        } else {
            https.wrap_connector(HostConnector(host.clone()))
        };
        let mut builder = Client::builder(HostExecutor(host.clone()));
        builder
            .timer(HostTimer(host.clone()))
            .pool_timer(HostTimer(host.clone()))
            .pool_idle_timeout(Duration::from_secs(o.pool_idle_timeout_secs.unwrap_or(90)));
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

/// Opens connections through the host (its resolver, its reactor).
#[derive(Clone)]
struct HostConnector(Host);

impl tower_service::Service<hyper::Uri> for HostConnector {
    type Response = HostIo;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HostIo, Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let host = self.0.clone();
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
            Ok(HostIo(TokioIo::new(host.connect(name, port).await?)))
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
