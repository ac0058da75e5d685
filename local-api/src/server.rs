//! The listener and per-connection serving, and the [`LocalApi`] handle.
//!
//! Connections are served with hyper directly rather than through `axum::serve` (which needs
//! axum's `tokio` feature): the accept loop backs off on errors such as `EMFILE` under
//! benchmark load, and shutdown waits a bounded time for open connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::api;
use crate::config::LocalApiConfig;
use crate::db::seed::generate_items;
use crate::error::ApiError;
use crate::request_log::LoggedRequest;
use crate::shutdown::stopped;
use crate::state::AppState;
use crate::web::response::method_not_allowed;

/// A running local API server. Dropping it stops accepting connections and closes the open
/// ones once their current request is answered; its temporary data folder is removed when the
/// last connection is gone.
pub struct LocalApi {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The server's own thread and runtime, for [`LocalApi::start_on_own_thread`].
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalApi {
    /// Binds `config.addr` and starts serving on the current tokio runtime.
    ///
    /// A non-loopback address needs a token: without one this fails with
    /// [`InvalidInput`](std::io::ErrorKind::InvalidInput), as anyone who can reach the address
    /// could then run the Actors' commands as the server's user.
    pub async fn start(config: LocalApiConfig) -> std::io::Result<LocalApi> {
        let has_token = config.token.as_deref().is_some_and(|t| !t.is_empty());
        if !config.addr.ip().is_loopback() && !has_token {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "refusing to listen on {} without a token: anyone who can reach this address could run commands as you; pass --token (or listen on 127.0.0.1)",
                    config.addr
                ),
            ));
        }
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(&config, addr)?);
        let router = api::router(state.clone());
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, rx));
        tracing::info!(%addr, data_dir = %state.data_dir().display(), "local Apify API listening");
        Ok(LocalApi {
            addr,
            state,
            shutdown,
            task: Some(task),
            thread: None,
        })
    }

    /// Starts the server on a thread of its own with its own tokio runtime (`workers` worker
    /// threads, at least 1), callable from anywhere, even outside a runtime. Useful for tests
    /// of blocking clients, and for benchmarks that must not share the client's runtime.
    pub fn start_on_own_thread(
        config: LocalApiConfig,
        workers: usize,
    ) -> std::io::Result<LocalApi> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("apify-local-api".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers.max(1))
                    .thread_name("apify-local-api-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(err) => {
                        let _ = tx.send(Err(err));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut api = match LocalApi::start(config).await {
                        Ok(api) => api,
                        Err(err) => {
                            let _ = tx.send(Err(err));
                            return;
                        }
                    };
                    // The caller gets the handle; this thread keeps the accept loop and waits
                    // for the handle's shutdown signal.
                    let task = api.task.take();
                    let mut stop = api.shutdown.subscribe();
                    if tx.send(Ok(api)).is_err() {
                        return;
                    }
                    stopped(&mut stop).await;
                    if let Some(task) = task {
                        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                    }
                });
            })?;
        let mut api = rx
            .recv()
            .map_err(|_| std::io::Error::other("the server thread exited early"))??;
        api.thread = Some(thread);
        Ok(api)
    }

    /// `http://127.0.0.1:PORT` (no `/v2`).
    pub fn base_url(&self) -> String {
        self.state.identity.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The temporary folder holding record bodies.
    pub fn data_dir(&self) -> PathBuf {
        self.state.data_dir().to_owned()
    }

    /// Requests received on `/v2` (and unknown paths), oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.state.request_log.clear();
    }

    /// Seeds a run or build log (`GET /v2/logs/{id}`); `finished: false` keeps `?stream=1`
    /// readers waiting for [`append_log`](Self::append_log).
    pub fn set_log(&self, id: &str, text: impl Into<Vec<u8>>, finished: bool) {
        self.state.db.logs.set(id, text.into(), finished);
    }

    /// Appends to a run or build log, optionally finishing it.
    pub fn append_log(&self, id: &str, text: &[u8], finish: bool) {
        self.state.db.logs.append(id, text, finish);
    }

    /// Appends `count` generated items to the dataset with this id or name (created, named
    /// so, when missing); returns the dataset id. See `POST /_control/datasets/{id}/generate`.
    pub fn generate_dataset_items(
        &self,
        id_or_name: &str,
        count: usize,
    ) -> Result<String, ApiError> {
        generate_items(
            &self.state.db,
            &self.state.identity.username,
            id_or_name,
            count,
            0,
        )
    }

    /// Drops every storage and log.
    pub fn reset_storages(&self) {
        self.state.reset_storages();
    }

    /// Stops the server and waits (at most 5 s) for open connections to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.state.db.runs.kill_all_now();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        // No Actor run outlives the server.
        self.state.db.runs.kill_all_now();
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    // Connection tasks get their own receiver; the loop's is borrowed by `wait_for`.
    let conn_shutdown = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), conn_shutdown.clone()));
                }
                Err(err) => {
                    // Usually EMFILE under load: back off briefly instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let response = router.clone().oneshot(req.map(axum::body::Body::new));
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(
                if response.status() == http::StatusCode::METHOD_NOT_ALLOWED {
                    method_not_allowed(response)
                } else {
                    response
                },
            )
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
                return;
            }
            _ = stopped(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
