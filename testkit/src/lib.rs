//! A loopback HTTP/1.1 test server with faults on demand.
//!
//! It backs the transport conformance suite: the same tests run against every HTTP
//! transport and against the retrying pipeline, so the server must control the bytes
//! on the wire exactly. That is why it is written on raw tokio sockets with a small
//! hand-written HTTP/1.1 layer (httparse for the request head) instead of a framework:
//! a framework would refuse to reset a connection mid-body or to lie about a length.
//!
//! ```no_run
//! # async fn demo() {
//! use testkit::{Action, TestServer};
//! let server = TestServer::start().await;
//! server.script("/echo", vec![Action::status(503), Action::ResetBeforeResponse]);
//! let url = server.url("/echo?x=1"); // 503, then a reset, then the echo route
//! # let _ = url;
//! # }
//! ```
//!
//! Default routes (when no scripted action is queued; the method does not matter, and
//! `HEAD` gets the head only):
//! - `/echo`: 200 JSON describing the request (`method`, `path`, `query`, `headers` as
//!   `[[name, value], ...]` with lowercased names in order, `body_len`, `body_sha256`,
//!   `body_utf8` (or null), `body_base64`). Query `status=NNN` sets the status,
//!   repeatable `header=Name:Value` adds response headers, `content_type=` sets it.
//! - `/bytes/{n}`: `n` bytes of the pattern with `Content-Length`, or chunked with
//!   `?chunked=1`. Byte `i` of the pattern is `(i % 251) as u8`; check bodies with
//!   [`pattern_sha256`], [`pattern_matches`] (streaming) or [`pattern_bytes`].
//! - `/v2/users/me`: a fixed ~1 KiB Apify "get user" body (`{"data":{...}}`).
//! - `/small`: a fixed ~1 KiB Apify-shaped JSON body (`{"data":{...}}`).
//! - `/status/{code}`: that status; 4xx/5xx carry `{"error":{"type":..,"message":..}}`.
//! - `/digest/...` (any path under it): 201 JSON
//!   `{"data":{"bodyLength":N,"bodySha256":"hex","encodedLength":M}}`, see below.
//! - anything else: 404 with `{"error":{"type":"record-not-found",..}}`.
//!
//! Request bodies on `/digest/...` paths (whatever answers them, route or scripted
//! action) are never held in memory: they are hashed with SHA-256 as they are read, in
//! large chunks, so uploads of many GiB run at hundreds of MB/s in constant memory (and
//! have no size limit; other bodies are capped at 8 GiB). With
//! `Content-Encoding: gzip` (or `x-gzip`) the body is decoded on the fly and
//! `bodyLength`/`bodySha256` describe the decoded bytes, `encodedLength` the bytes as
//! sent (after de-chunking); any other content coding is hashed as sent. A malformed
//! gzip body is still read to its end, then answered with a 400 Apify-shaped error. The
//! request is logged with an empty [`LoggedRequest::body`] and with
//! [`LoggedRequest::body_len`] and [`LoggedRequest::body_sha256`] set.
//!
//! Order of work per request: the head is parsed, then the scripted action for the path
//! is popped (or the default route chosen), then the body is read (whole, digested, or
//! only partly for [`Action::ResetDuringRequestBody`]), then the request is logged, then
//! the action is performed. If the body cannot be read (the client went away, broken
//! framing, malformed gzip) the popped action is put back at the front of its queue, so
//! an action is only used up by a request that was actually read.
//!
//! Scripted actions ([`Action`]): `Respond` (and the helpers [`Action::status`],
//! [`Action::json`], [`Action::text`]), `ResetBeforeResponse`, `CloseBeforeResponse`,
//! `ResetDuringRequestBody`, `ResetMidBody`, `TruncatedBody`, `DelayHeaders`,
//! `SlowBody`, `Hang`, `PatternBody` and `Raw`.
//!
//! Connection closes: [`TestServer::closed_by_peer`] lists the connections the client
//! closed (an EOF or a reset seen while the server was reading: between requests, in a
//! request, while an action waits or hangs; or a write failing because the peer is
//! gone), and [`TestServer::wait_closed_by_peer`] waits for one, so a test can check
//! that dropping an in-flight call really closed its connection. Closes the server
//! makes itself (reset or close actions, `Connection: close`, broken framing, the
//! server stopping) are not peer closes.

#![warn(missing_docs)]
mod action;
mod conn;
mod pattern;
pub mod proxy;
mod routes;
pub mod tls;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use action::Action;
pub use pattern::{pattern_byte, pattern_bytes, pattern_matches, pattern_sha256};
pub use routes::user_me_body;

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Method, as sent (`"GET"`).
    pub method: String,
    /// The request line exactly as received, without its CRLF
    /// (`"GET /echo?x=1 HTTP/1.1"`): whether the target came in origin form or absolute form
    /// (`GET http://127.0.0.1:PORT/echo HTTP/1.1`), which [`LoggedRequest::path`] hides.
    pub request_line: String,
    /// Path without the query (`"/echo"`), not percent-decoded.
    pub path: String,
    /// Raw query string without the `?`, if the target had one (possibly empty).
    pub query: Option<String>,
    /// Headers in the order received. Names are lowercased (transports disagree on
    /// casing, and tests should not depend on it); values are as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked (never content-decoded): all of it, or for a request cut
    /// short by [`Action::ResetDuringRequestBody`] the part that was read. Always empty
    /// for `/digest/...` paths, whose bodies are hashed as they arrive and never kept.
    pub body: Bytes,
    /// Length of the body as received: `body.len()` for ordinary requests; for
    /// `/digest/...` paths the length after gzip decoding (if the request was gzipped;
    /// for a malformed gzip body, what decoded before the error); for a cut-short
    /// request the number of body bytes read (de-chunked, never gzip-decoded).
    pub body_len: u64,
    /// Lowercase hex SHA-256 of the body as counted by [`LoggedRequest::body_len`], for
    /// `/digest/...` paths (`None` if its gzip was malformed). `None` for other paths:
    /// hash [`LoggedRequest::body`] yourself.
    pub body_sha256: Option<String>,
    /// `false` only for a request cut short by [`Action::ResetDuringRequestBody`] before
    /// its end was read; `true` for every other logged request.
    pub complete: bool,
    /// When the last byte of the request had been read.
    pub received_at: Instant,
    /// Which connection carried it: 0 for the first accepted connection, 1 for the
    /// second, and so on. Lets a test tell whether a retry reused a connection.
    pub connection: usize,
}

impl LoggedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// State shared between the handle and the connection tasks.
pub(crate) struct Shared {
    scripts: Mutex<HashMap<String, VecDeque<Action>>>,
    log: Mutex<Vec<LoggedRequest>>,
    accepted: AtomicUsize,
    /// Ids of the connections the peer closed, in the order noticed.
    closed_by_peer: Mutex<Vec<usize>>,
}

impl Shared {
    fn log(&self, req: &LoggedRequest) {
        self.log.lock().unwrap().push(req.clone());
    }

    fn pop_script(&self, path: &str) -> Option<Action> {
        let mut scripts = self.scripts.lock().unwrap();
        let queue = scripts.get_mut(path)?;
        let action = queue.pop_front();
        if queue.is_empty() {
            scripts.remove(path);
        }
        action
    }

    /// Puts an action popped by [`Shared::pop_script`] back at the front of its queue,
    /// for a request whose body could not be read after all.
    fn unpop_script(&self, path: &str, action: Action) {
        self.scripts
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .push_front(action);
    }

    fn note_closed_by_peer(&self, id: usize) {
        self.closed_by_peer.lock().unwrap().push(id);
    }
}

/// A running test server on `127.0.0.1`. Dropping it stops the server: the listener
/// closes and every open connection is dropped, including hanging and mid-body ones.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Never sent on; dropping it is the stop signal (`changed()` then fails everywhere).
    stop: Option<watch::Sender<()>>,
    /// The runtime thread of [`TestServer::start_blocking`].
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, or if binding fails.
    pub async fn start() -> TestServer {
        let (std_listener, addr) =
            bind(([127, 0, 0, 1], 0).into()).expect("testkit: bind 127.0.0.1:0");
        Self::serve(std_listener, addr)
    }

    /// Binds `addr` (e.g. `[::1]:0`, or a fixed port such as `127.0.0.80:80`) and serves on
    /// the current tokio runtime; [`TestServer::url`] then names that address (IPv6 in
    /// brackets, port 80 left out). Fails, instead of panicking, where the address cannot be
    /// bound (no IPv6 on the machine, a privileged port).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn start_at(addr: SocketAddr) -> std::io::Result<TestServer> {
        let (std_listener, addr) = bind(addr)?;
        Ok(Self::serve(std_listener, addr))
    }

    fn serve(std_listener: std::net::TcpListener, addr: SocketAddr) -> TestServer {
        let listener = TcpListener::from_std(std_listener).expect("testkit: register listener");
        let (shared, stop, rx) = Self::parts();
        tokio::spawn(accept_loop(listener, shared.clone(), rx));
        TestServer {
            addr,
            shared,
            stop: Some(stop),
            thread: None,
        }
    }

    /// Binds `127.0.0.1:0` and serves on its own two-worker runtime on a background
    /// thread, for synchronous tests and benchmarks. Usable inside or outside a runtime.
    ///
    /// # Panics
    /// If binding or creating the runtime fails.
    pub fn start_blocking() -> TestServer {
        let (std_listener, addr) =
            bind(([127, 0, 0, 1], 0).into()).expect("testkit: bind 127.0.0.1:0");
        let (shared, stop, rx) = Self::parts();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("testkit: build runtime");
                rt.block_on(async move {
                    let listener =
                        TcpListener::from_std(std_listener).expect("testkit: register listener");
                    accept_loop(listener, thread_shared, rx).await;
                });
                // Dropping `rt` here cancels whatever connection tasks are left.
            })
            .expect("testkit: spawn server thread");
        TestServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn parts() -> (Arc<Shared>, watch::Sender<()>, watch::Receiver<()>) {
        let shared = Arc::new(Shared {
            scripts: Mutex::default(),
            log: Mutex::default(),
            accepted: AtomicUsize::new(0),
            closed_by_peer: Mutex::default(),
        });
        let (tx, rx) = watch::channel(());
        (shared, tx, rx)
    }

    /// The listening address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path_and_query` (a `/` is inserted if it
    /// does not start with one). An IPv6 address is bracketed (`http://[::1]:PORT/...`), and
    /// port 80 is left out (`http://127.0.0.80/...`).
    pub fn url(&self, path_and_query: &str) -> String {
        let sep = if path_and_query.starts_with('/') {
            ""
        } else {
            "/"
        };
        let authority = match (self.addr.ip(), self.addr.port()) {
            (ip, 80) if ip.is_ipv6() => format!("[{ip}]"),
            (ip, 80) => ip.to_string(),
            _ => self.addr.to_string(),
        };
        format!("http://{authority}{sep}{path_and_query}")
    }

    /// Appends actions to the queue for requests whose path (without query) equals
    /// `path` exactly. Each such request pops one action; once the queue is empty the
    /// default route answers again.
    pub fn script(&self, path: &str, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        self.shared
            .scripts
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(actions);
    }

    /// Drops every queued action, for all paths.
    pub fn clear_scripts(&self) {
        self.shared.scripts.lock().unwrap().clear();
    }

    /// Every request received so far, in arrival order: the complete ones, and those
    /// cut short by [`Action::ResetDuringRequestBody`] (see [`LoggedRequest::complete`]).
    /// Requests whose body could not be read (the client left, broken framing) are not
    /// logged.
    ///
    /// The log keeps request bodies alive: benchmarks that upload large bodies should
    /// call [`TestServer::clear_requests`] between iterations.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// How many TCP connections the server has accepted.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Ids (see [`LoggedRequest::connection`]) of the connections closed by the peer,
    /// in the order the server noticed.
    ///
    /// A peer close is an EOF or a reset seen while the server reads the connection:
    /// between requests, inside a request, while an action waits
    /// ([`Action::DelayHeaders`], [`Action::SlowBody`]) or hangs ([`Action::Hang`]); or
    /// a write failing because the peer is gone. Connections the server closes or
    /// resets itself, or drops when it stops, are not listed. A client's close is
    /// noticed at once while the server reads or waits on the connection, and at the
    /// next failing write while it streams a response.
    pub fn closed_by_peer(&self) -> Vec<usize> {
        self.shared.closed_by_peer.lock().unwrap().clone()
    }

    /// Waits until the server has noticed that the peer closed connection `id` (see
    /// [`TestServer::closed_by_peer`]), for at most `limit`. Returns whether it did.
    ///
    /// Polls every few milliseconds with `tokio::time::sleep`, so it needs a tokio
    /// runtime (any: the server itself may run elsewhere, as with
    /// [`TestServer::start_blocking`]).
    pub async fn wait_closed_by_peer(&self, id: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.shared.closed_by_peer.lock().unwrap().contains(&id) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // Joining makes "dropped" mean "port closed" for blocking servers. The thread
            // only drops its own runtime, so this does not block on our caller's runtime.
            let _ = thread.join();
        }
    }
}

/// A URL on `127.0.0.1` where nothing listens (`http://127.0.0.1:PORT/`): the port was
/// just bound and released, so connecting is refused (unless something grabs the port
/// in between, which the kernel makes unlikely by cycling through ephemeral ports).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("testkit: bind");
    let port = listener.local_addr().expect("testkit: local_addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/")
}

/// Binds a non-blocking listener on `addr` with a backlog large enough for connection-storm
/// benchmarks (std's default is 128).
fn bind(addr: SocketAddr) -> std::io::Result<(std::net::TcpListener, SocketAddr)> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if addr.port() != 0 {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    let listener: std::net::TcpListener = socket.into();
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let id = shared.accepted.fetch_add(1, Ordering::SeqCst);
                    // Responses are written whole; Nagle would only add latency to the
                    // small-request path (head and body in separate writes elsewhere).
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let mut stop = stop.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.changed() => {}
                            _ = conn::serve(stream, shared, id) => {}
                        }
                    });
                }
                Err(e) => {
                    // E.g. EMFILE in a connection storm: back off instead of spinning.
                    tracing::debug!("testkit: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            },
        }
    }
}
