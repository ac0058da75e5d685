//! The blocking-library path: a [`BlockingTransport`] is written with plain `std::io::Read`
//! (ureq, libcurl's easy interface, a hand-written client), and the glue here turns it into a
//! [`Transport`].
//!
//! What the glue owns, so that no author writes it again:
//! - **threads**: each exchange runs on a thread of the glue's own, with the plugin's runtime
//!   entered, at most [`MAX_BLOCKING_EXCHANGES`] at once (a call waits for a free one, within
//!   its head deadline); an idle thread takes the next exchange, and ends after 10 s idle or
//!   when the client is dropped (a busy one once its exchange is done);
//! - **the head deadline**: `Request.timeout` bounds the wait for [`BlockingTransport::call`] to
//!   return; past it the host gets an [`ErrorKind::TIMEOUT`] error at once;
//! - **chunking**: the body is read on the same thread in chunks of [`BODY_CHUNK`] bytes and
//!   handed over through a queue of [`CHUNKS_AHEAD`] chunks, so a slow reader holds at most
//!   that much memory;
//! - **cancellation**: when the host drops the call or the body, [`Cancellation`] is set and
//!   the thread stops at its next chunk, dropping the reader (which closes the connection).
//!   What the glue cannot do is interrupt a read the library is blocked in: a call dropped
//!   while the library waits for the head keeps its thread and its connection until the
//!   library returns, so a blocking transport must always set the library's read timeout (see
//!   [`BlockingTransport::new`]). A library that can be stopped from inside (libcurl's progress
//!   callback) should poll [`Cancellation::is_cancelled`] there. A thread left behind still
//!   holds its slot: a client never has more than [`MAX_BLOCKING_EXCHANGES`] threads (those
//!   of a dropped client end as their exchanges do).
//!
//! Errors from the body's `Read` are reported by their `io::ErrorKind`
//! ([`crate::classify_io_kind`]); one that would classify as `OTHER` or `INVALID_REQUEST` is
//! reported as [`ErrorKind::IO`], since the connection is established by then.

use std::{
    io::{self, Read},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use tokio::{
    runtime::Handle,
    sync::{mpsc, oneshot},
};

use crate::classify::classify_io_kind;
use crate::exchange_threads::{ExchangeThreads, IDLE_THREAD_LINGERS};
use crate::export::Transport;
use crate::ffi::ErrorKind;
use crate::panics::catch;
use crate::types::{one_item, Body, Error, Metadata, Request, RequestBody, Response};

/// At most this many exchanges of one client run at once, each on its own thread.
pub const MAX_BLOCKING_EXCHANGES: usize = 64;
/// The size of the chunks a response body is read in.
pub const BODY_CHUNK: usize = 64 * 1024;
/// How many chunks may wait for the host before the reading thread waits too.
pub const CHUNKS_AHEAD: usize = 4;

/// An HTTP transport over a blocking library: one exchange per call, on a thread the glue
/// provides. Export it with `export_plugin!(blocking T)`.
///
/// The rules of [`Transport`] hold here too (the crate docs list them): one exchange, no
/// redirects followed, 4xx/5xx returned as responses, no header added, no decompression.
///
/// What the glue does, so you don't:
/// - runs each `call` on a blocking thread, at most [`MAX_BLOCKING_EXCHANGES`] at once (a
///   further call waits for a free thread within its head deadline);
/// - enforces [`BlockingRequest::timeout`] (you may claim [`crate::Capabilities::TIMEOUTS`]);
/// - reads the body you return in [`BODY_CHUNK`]s, at most [`CHUNKS_AHEAD`] ahead of the host;
///   a body of `Content-Length` ≤ [`BODY_CHUNK`] is read whole and sent with the head; no body
///   is read after `HEAD`, a 1xx, 204 or 304;
/// - stops reading and drops your reader (closing the connection) when the host drops the call
///   or the body, and sets [`BlockingRequest::cancel`].
///
/// What it cannot do: see a short body (your `Read` must fail with
/// `io::ErrorKind::UnexpectedEof` before `Content-Length` bytes, not return `Ok(0)`: wrap the
/// library's reader if it ends early cleanly), or interrupt a read the library is blocked in
/// (set the library's read timeout, see [`BlockingTransport::new`]). A read error is reported
/// by its `io::ErrorKind` (`OTHER` and `INVALID_REQUEST` become [`ErrorKind::IO`]: the
/// connection is open), unless it wraps an [`Error`], which is passed on as it is.
pub trait BlockingTransport: Send + Sync + Sized + 'static {
    /// Who this transport is. Called without creating a client.
    fn metadata() -> Metadata;

    /// Builds a client from the `[transport.options]` table of the host's config (a JSON
    /// object; `{}` when absent). Refuse unknown options by name ([`crate::check_options`]).
    ///
    /// Set the library's timeout for a single socket read here. It is the only thing that
    /// frees a thread whose library is blocked on a silent server after the host gave up. It
    /// must be at least as long as the host waits between two body chunks
    /// (`stream_idle_timeout_secs`, 60 s by default, at most 3,600), or it would cut bodies the
    /// host still accepts: one hour is always safe. A library with only a *total* timeout
    /// (minreq) must not get [`BlockingRequest::timeout`] as that total, which would cut long
    /// bodies: leave the head deadline to the glue, and offer a total timeout as an option.
    ///
    /// When all [`MAX_BLOCKING_EXCHANGES`] threads are busy (or stuck in reads), a new call
    /// waits for one, within its head deadline, and then fails with [`ErrorKind::TIMEOUT`].
    fn new(options: serde_json::Value) -> Result<Self, Error>;

    /// Performs one exchange: sends the request (its body is a `Read`), and returns when the
    /// response head has arrived, with the body as a `Read` the glue drains on this thread.
    /// A read error from the body is reported by its `io::ErrorKind` (see
    /// [`crate::classify_io_kind`]), with its message; to give a precise kind, return
    /// `io::Error::other(apify_plugin_api::Error::new(kind, message))`, which is passed on as
    /// it is. The body of a `HEAD` answer, a 204 or a 304 is never read.
    fn call(
        &self,
        request: BlockingRequest,
    ) -> Result<(ResponseHead, impl Read + Send + 'static), Error>;

    /// Free-form diagnostics (a JSON object) for `apify-host transport inspect`.
    fn diagnostics() -> serde_json::Value {
        serde_json::json!({})
    }

    /// Releases pooled connections. The default does nothing.
    fn close(&self) {}
}

/// One exchange for a [`BlockingTransport`].
#[derive(Debug)]
pub struct BlockingRequest {
    /// The method.
    pub method: Method,
    /// Absolute URL with the query string.
    pub url: String,
    /// The headers to send, exactly these.
    pub headers: HeaderMap,
    /// The body; [`BlockingBody::len`] says its length when known. `Content-Length` is among
    /// the headers only for a streamed body of known length; a body in memory carries none, so
    /// frame it by `len()`.
    pub body: BlockingBody,
    /// The deadline for the response head, counted from the start of the call (connecting and
    /// sending the body included). The glue enforces it; give it to the library as well, but
    /// only as a head timeout, never as a total one: that would cut long bodies.
    pub timeout: Option<Duration>,
    /// Set when the host no longer wants this exchange. Poll it where the library lets you
    /// (a progress callback) to stop early.
    pub cancel: Cancellation,
}

/// The status and headers of a response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// The status code, whatever it is (4xx/5xx are responses, not errors).
    pub status: StatusCode,
    /// The headers, as received.
    pub headers: HeaderMap,
}

/// Whether the host has given up on an exchange (dropped the call or its response body).
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    /// A cancellation not set yet (the glue makes one per exchange; this is for tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the exchange was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets it, for every clone (the glue does, when the host gives up; public for tests).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
}

/// Sets the cancellation when dropped (with the call future, or with the response body).
struct CancelOnDrop(Cancellation);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel()
    }
}

/// A request body as `std::io::Read`: the bytes in memory, or the host's stream read chunk by
/// chunk (the calling thread waits for each).
///
/// Read it on the thread `call` runs on (or one the library starts), never from inside an
/// async task: reading a streamed body blocks the thread until the next chunk arrives.
/// `BlockingBody::from(bytes)` makes one for a unit test of `call`.
pub struct BlockingBody {
    length: Option<u64>,
    current: Bytes,
    rest: Option<(Body, Handle)>,
}

impl BlockingBody {
    fn new(body: RequestBody, handle: Handle) -> Self {
        match body {
            RequestBody::Full(bytes) => BlockingBody::from(bytes),
            RequestBody::Stream { stream, length } => BlockingBody {
                length,
                current: Bytes::new(),
                rest: Some((stream, handle)),
            },
        }
    }

    /// The exact length in bytes, when known: always for a body in memory, and for a streamed
    /// one whose source knows it. `None` means: send it chunked.
    pub fn len(&self) -> Option<u64> {
        self.length
    }

    /// Whether the body is known to be empty (then send no body at all).
    pub fn is_empty(&self) -> bool {
        self.length == Some(0)
    }
}

impl From<Bytes> for BlockingBody {
    fn from(bytes: Bytes) -> Self {
        BlockingBody {
            length: Some(bytes.len() as u64),
            current: bytes,
            rest: None,
        }
    }
}

impl std::fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingBody")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            let Some((stream, handle)) = &mut self.rest else {
                return Ok(0);
            };
            let next = handle.block_on(std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)));
            match next {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.rest = None;
                    return Err(io::Error::other(e));
                }
                None => self.rest = None,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The [`Transport`] a [`BlockingTransport`] is exported as (by `export_plugin!(blocking T)`).
#[doc(hidden)]
pub struct Blocking<T> {
    inner: Arc<T>,
    threads: Arc<ExchangeThreads>,
}

impl<T: BlockingTransport> Transport for Blocking<T> {
    fn metadata() -> Metadata {
        T::metadata()
    }

    fn new(options: serde_json::Value) -> Result<Self, Error> {
        Ok(Blocking {
            inner: Arc::new(T::new(options)?),
            threads: Arc::new(ExchangeThreads::new(
                format!("{}-exchange", T::metadata().name),
                MAX_BLOCKING_EXCHANGES,
                IDLE_THREAD_LINGERS,
            )),
        })
    }

    fn diagnostics() -> serde_json::Value {
        T::diagnostics()
    }

    fn close(&self) {
        self.inner.close()
    }

    async fn call(&self, request: Request) -> Result<Response, Error> {
        let deadline = request.timeout;
        let head = self.start(request);
        let (head, body) = match deadline {
            Some(d) => tokio::time::timeout(d, head).await.map_err(|_| {
                Error::new(
                    ErrorKind::TIMEOUT,
                    format!("no response head within {} ms", d.as_millis()),
                )
            })??,
            None => head.await?,
        };
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

impl<T> Drop for Blocking<T> {
    /// The client is gone: a call still waiting for a slot fails, and the exchange threads end
    /// (the idle ones now, the busy ones when their exchange is done).
    fn drop(&mut self) {
        self.threads.close();
    }
}

impl<T: BlockingTransport> Blocking<T> {
    /// Waits for a slot, then runs the exchange on a blocking thread; resolves with the head.
    /// Dropping this future (the host gave up, or the deadline passed) cancels the exchange.
    async fn start(&self, request: Request) -> Result<(ResponseHead, Body), Error> {
        let cancel = Cancellation::default();
        let call_guard = CancelOnDrop(cancel.clone());
        let slot = self.threads.slot().await?;
        let handle = Handle::current();
        let is_head = request.method == Method::HEAD;
        let blocking = BlockingRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: BlockingBody::new(request.body, handle.clone()),
            timeout: request.timeout,
            cancel: cancel.clone(),
        };
        let (head_tx, head_rx) = oneshot::channel();
        let inner = self.inner.clone();
        let thread_cancel = cancel;
        self.threads.run(&handle, slot, move || {
            // It may have waited in the queue: a call given up meanwhile is not sent.
            if thread_cancel.is_cancelled() {
                return;
            }
            let called = catch(|| inner.call(blocking));
            match called {
                Ok(Ok((head, mut reader))) => {
                    // A small body is read here and goes with the head: one hand-off to the
                    // host instead of one per chunk, and the thread is free at once.
                    match small_body_len(is_head, &head) {
                        Some(len) => {
                            let whole = read_small(&mut reader, len);
                            let complete = whole.as_ref().is_ok_and(|b| b.len() == len);
                            if complete {
                                // One more read lets the library see the body's end: a library
                                // that pools connections (ureq) keeps this one only once it
                                // has. Before the host has the answer: the host polls the
                                // exchange itself and is woken by this thread at once, so its
                                // next call could otherwise find the connection still out of
                                // the pool and open another. The body is all there, so this
                                // read returns at once.
                                if let Err(caught) = catch(|| reader.read(&mut [0u8; 1])) {
                                    caught
                                        .log("the plugin panicked reading past the end of a body");
                                }
                            }
                            drop(reader);
                            drop(head_tx.send(Ok((head, Answered::Whole(whole)))));
                        }
                        None => {
                            // The chunk queue only for a body read in chunks: most answers
                            // are small, and a queue is an allocation of 32 slots.
                            let (body_tx, body_rx) = mpsc::channel(CHUNKS_AHEAD);
                            if head_tx
                                .send(Ok((head, Answered::InChunks(body_rx))))
                                .is_ok()
                            {
                                pump(reader, &body_tx, &thread_cancel);
                            }
                        }
                    }
                }
                Ok(Err(e)) => drop(head_tx.send(Err(e))),
                Err(caught) => drop(
                    head_tx.send(Err(caught
                        .into_error("the plugin panicked during a call")
                        .into())),
                ),
            }
        })?;
        let (head, body) = head_rx.await.map_err(|_| {
            Error::new(
                ErrorKind::OTHER,
                "the blocking exchange ended without a response",
            )
        })??;
        let body: Body = match body {
            // The thread is done: the guard may go (setting the flag no one reads any more).
            Answered::Whole(result) => one_item(result),
            // From here on the body owns the cancellation: dropping it stops the reading thread.
            Answered::InChunks(body_rx) => Box::pin(ChunkReceiver {
                rx: body_rx,
                _cancel: call_guard,
            }),
        };
        Ok((head, body))
    }
}

/// How the exchange thread hands a response body over with the head.
enum Answered {
    /// Read whole on the thread (a small body, or none).
    Whole(Result<Bytes, Error>),
    /// Read in chunks, which come through this queue.
    InChunks(mpsc::Receiver<Result<Bytes, Error>>),
}

/// The length of a response body small enough ([`BODY_CHUNK`]) to be read whole on the
/// exchange's thread: its `Content-Length`, or 0 for the answer to `HEAD`, a 1xx, 204 or 304,
/// which have no body whatever their headers say (a library would wait for one in vain).
fn small_body_len(is_head: bool, head: &ResponseHead) -> Option<usize> {
    let status = head.status.as_u16();
    if is_head || status < 200 || status == 204 || status == 304 {
        return Some(0);
    }
    let len = head
        .headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?;
    len.trim()
        .parse::<usize>()
        .ok()
        .filter(|&n| n <= BODY_CHUNK)
}

/// Reads a body of `len` declared bytes whole (a body that ends early, or fails, is reported as
/// the library reports it: a clean end, or the error as the body's only item).
fn read_small(reader: &mut impl Read, len: usize) -> Result<Bytes, Error> {
    let mut buf = Vec::with_capacity(len);
    let read = catch(|| reader.take(len as u64).read_to_end(&mut buf));
    match read {
        Ok(Ok(_)) => Ok(Bytes::from(buf)),
        Ok(Err(e)) => Err(body_error(&e)),
        Err(caught) => Err(caught
            .into_error("the plugin panicked reading a body")
            .into()),
    }
}

/// A failed body read as the host's error: an [`Error`] the author wrapped in the `io::Error`
/// as it is; otherwise by the `io::ErrorKind`, with `IO` at least (the connection is open).
fn body_error(e: &io::Error) -> Error {
    if let Some(author) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        return author.clone();
    }
    Error::new(
        match classify_io_kind(e.kind()) {
            ErrorKind::OTHER | ErrorKind::INVALID_REQUEST => ErrorKind::IO,
            kind => kind,
        },
        format!(
            "reading the response body failed: {}",
            crate::error_chain(e)
        ),
    )
}

/// Reads `reader` to its end in [`BODY_CHUNK`]s and queues them for the host; stops when the
/// host drops the body or cancels, and reports a read error as the body's last item.
fn pump(mut reader: impl Read, tx: &mpsc::Sender<Result<Bytes, Error>>, cancel: &Cancellation) {
    // One buffer, zeroed once; each chunk is a copy of what a read filled, so a short read
    // queues a short chunk instead of a mostly empty 64 KiB one.
    let mut buf = vec![0u8; BODY_CHUNK];
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let read = catch(|| reader.read(&mut buf));
        let item = match read {
            Ok(Ok(0)) => return,
            Ok(Ok(n)) => Ok(Bytes::copy_from_slice(&buf[..n.min(BODY_CHUNK)])),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => Err(body_error(&e)),
            Err(caught) => Err(caught
                .into_error("the plugin panicked reading a body")
                .into()),
        };
        let failed = item.is_err();
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// The host's side of the chunk queue, as a [`Body`]; cancels the exchange when dropped.
struct ChunkReceiver {
    rx: mpsc::Receiver<Result<Bytes, Error>>,
    _cancel: CancelOnDrop,
}

impl futures_core::Stream for ChunkReceiver {
    type Item = Result<Bytes, Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Builds the root module for blocking transport `T`; called once, by the loader symbol that
/// `export_plugin!(blocking T)` emits. Its exchanges are polled in place by the host, so the
/// blocking thread that runs one wakes the host directly (see `export::Client::in_place`).
#[doc(hidden)]
pub fn blocking_root_module<T: BlockingTransport>() -> crate::abi::root::PluginModRef {
    crate::module::transport_root_module::<Blocking<T>, true>()
}
