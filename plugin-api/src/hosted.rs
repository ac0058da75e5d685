//! Transports that run on the host's threads (added in 1.3): [`HostedTransport`], the services
//! it is given ([`Host`]: TCP connections, tasks, timers), and the glue that exports it.
//!
//! Why: a plugin with a tokio runtime of its own (every [`crate::Transport`]) hands each
//! exchange to its own threads and back, two cross-thread wake-ups per call; on a 2-core VM
//! that alone cost a third of a sequential call. A hosted transport polls sockets that the
//! host opened on its own reactor, with the host's waker, and spawns its background tasks on
//! the host's executor, so the whole exchange stays on the host's thread, as the built-in
//! transport's does. hyper's runtime-agnostic `rt` traits make that possible; reqwest, which
//! needs tokio's own runtime, cannot be hosted.
//!
//! The same plugin still loads in a host older than 1.3, which lends no services: the glue
//! then builds the same services on a tokio runtime of the plugin's own.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RResult, RSlice, RStr, RString},
};
use async_ffi::{ContextExt as _, FfiFuture, FfiPoll, FutureExt as _};

use crate::export::{
    constructed, diagnostics_of, ffi_client_traits, metadata_of, parse_options, plugin_runtime,
    request_from_ffi, response_to_ffi, Glue,
};
use crate::ffi::{
    CallResult, FfiError, FfiRequest, FfiStreamedBody, HostRuntimeBox, HostSocketBox,
    HttpClientBox, HttpClient_TO, IoResult, StreamingHttpClientBox, StreamingHttpClient_TO,
};
use crate::module::{Capabilities, PluginMetadata};
use crate::panics::{catch, Guarded};
use crate::services::{tokio_runtime_services, MAX_IO_SLICES};
use crate::types::{Error, Metadata, Request, Response};

/// An HTTP transport that runs on the host's threads, as a plugin author writes it: like
/// [`crate::Transport`], but every socket, task and timer comes from the [`Host`] given to
/// `new`, never from a runtime of the plugin's own (there is none to use).
///
/// Export it with `export_plugin!(hosted MyTransport)`. hyper-based clients fit: give hyper's
/// client a connector over [`Host::connect`] (wrap [`HostTcp`] in `hyper_util::rt::TokioIo`),
/// an executor over [`Host::spawn`] and a timer over [`Host::sleep`].
///
/// On a 1.3 host **no tokio runtime is running** in your code: `tokio::spawn`,
/// `tokio::time::timeout` and hyper-util's `TokioExecutor`/`TokioTimer` panic there. Race a
/// call against `host.sleep(timeout)` for the head deadline. (A host older than 1.3 lends
/// nothing, so the glue starts a runtime of its own and serves the same [`Host`] from it:
/// tokio calls then happen to work. Do not let that hide the mistake.) TLS is yours: wrap the
/// [`HostTcp`] with `tokio_rustls`, which needs only the I/O traits. hyper's low-level
/// `client::conn` adds no `Host` header and sends the URI as given: set `Host` from the URL
/// and send the origin form (path and query), or use hyper-util's pooled `Client` with a
/// connector over [`Host::connect`]. `Host` is the URL's authority: the host, `:port` only
/// when it is not the scheme's default (80, 443), an IPv6 literal in brackets (`[::1]:8080`),
/// never the userinfo. `apify-host transport new NAME --kind hosted` writes a complete
/// example: hyper's `client::conn` with a keep-alive pool of its own and tokio-rustls.
/// [`crate::Capabilities::HOSTED`] is the macro's to set: it is ignored in any other plugin's
/// metadata.
pub trait HostedTransport: Send + Sync + Sized + 'static {
    /// Who this transport is. Called without creating a client. ([`Capabilities::HOSTED`] is
    /// added by the glue.)
    fn metadata() -> Metadata;

    /// Builds a client from the `[transport.options]` table of the host's config (a JSON
    /// object; `{}` when absent), with the services it must use for all I/O.
    fn new(options: serde_json::Value, host: Host) -> Result<Self, Error>;

    /// Performs one HTTP exchange; resolves when the response head has arrived. Polled on the
    /// host's threads: it must never block.
    fn call(&self, request: Request) -> impl Future<Output = Result<Response, Error>> + Send;

    /// Free-form diagnostics (a JSON object) for `apify-host transport inspect`.
    fn diagnostics() -> serde_json::Value {
        serde_json::json!({})
    }

    /// Releases pooled connections. The host calls it once, when it drops the client (a config
    /// reload or swap, the end of the program) and after the last call and response body that
    /// use the client are gone, on a thread of its own, and waits at most 5 s for it. Drop
    /// the idle connections there: their tasks then end. The default does nothing.
    fn close(&self) {}
}

/// The services a [`HostedTransport`] runs on: the host's (or, in a host older than 1.3, a
/// runtime the glue starts for the plugin). Cheap to clone, `Send` and `Sync`.
///
/// `Host` is **not `Unpin`** (it holds a stable-ABI trait object that does not promise it), so
/// neither is a struct that holds one: a hand-written `Future`, `Stream` or I/O type whose poll
/// state holds a `Host` cannot use `Pin::new(&mut self)` or `Pin::get_mut`. Keep the `Host` in
/// the transport (or behind an `Arc`), or pin the state (`Box::pin`, `std::pin::pin!`).
/// [`HostTcp`] and [`HostSleep`] are `Unpin`; the future of [`Host::connect`] is not, so pin
/// it to race it against a timer.
#[derive(Clone)]
pub struct Host {
    services: HostRuntimeBox,
}

impl Host {
    /// Resolves `host` and opens a TCP connection to `host:port` (`TCP_NODELAY` set). A
    /// failure is an [`crate::ErrorKind::CONNECT`] error that names the address.
    ///
    /// `host` is a name or an IP address as a resolver takes it: an IPv6 literal **without**
    /// brackets (`::1`, while a URL and the `Host` header write `[::1]`; `http::Uri::host`
    /// gives it bracketed).
    pub fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = Result<HostTcp, Error>> + Send + 'static {
        let connecting = self.services.connect(host.into(), port);
        async move {
            match connecting.await {
                RResult::ROk(socket) => Ok(HostTcp { socket }),
                RResult::RErr(e) => Err(e.into()),
            }
        }
    }

    /// Runs `task` to its end in the background (a connection's task), on the host's executor.
    ///
    /// The host never aborts it: it lives until it ends or the host's runtime shuts down (the
    /// program's end). The plugin is never unloaded, so a task cannot outlive its code, but a
    /// task that never ends is a leak that outlives the client: end it with its connection
    /// (hyper's connection task does, once the server closes it or its `SendRequest` and
    /// response body are dropped). In a host older than 1.3 it runs on the plugin's own
    /// runtime, which is shut down, with its tasks, when the client is dropped.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // Every poll is a boundary call: a panic in the task ends it and is logged once,
        // through the host's log, instead of unwinding into the host's executor (where
        // async-ffi would raise it again, as a panic of the host's).
        let task = async move {
            if let Err(caught) = Guarded::new(task).await {
                caught.log("a task the plugin spawned on the host panicked");
            }
        };
        self.services.spawn(task.into_ffi());
    }

    /// Completes after `duration`.
    pub fn sleep(&self, duration: Duration) -> HostSleep {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        HostSleep(self.services.sleep(nanos))
    }
}

/// A timer from [`Host::sleep`]. `Send` and `Unpin`, but not `Sync`: hyper's `rt::Timer`
/// wants `Sync` sleeps, so wrap it in a `Mutex` there (as our hyper plugin does).
pub struct HostSleep(FfiFuture<()>);

impl Future for HostSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// A TCP connection from [`Host::connect`], read and written with tokio's I/O traits (only the
/// traits: no tokio runtime is involved).
pub struct HostTcp {
    socket: HostSocketBox,
}

// The socket is a boxed trait object that is never pinned: moving `HostTcp` moves the box.
impl Unpin for HostTcp {}

/// An I/O poll's answer from the host, as `std::io`.
fn io_poll(polled: FfiPoll<IoResult>) -> Poll<io::Result<usize>> {
    match polled.try_into_poll() {
        Ok(Poll::Ready(RResult::ROk(n))) => Poll::Ready(Ok(n)),
        Ok(Poll::Ready(RResult::RErr(e))) => {
            // The host reports socket failures by transport kind; give them an `io::ErrorKind`
            // that classifies back to the same kind (`classify_io_kind`), so an author's
            // `Error::classify` keeps the retry the host would give a reset.
            let kind = match e.kind {
                crate::ErrorKind::IO => io::ErrorKind::ConnectionAborted,
                crate::ErrorKind::CONNECT => io::ErrorKind::ConnectionRefused,
                crate::ErrorKind::TIMEOUT => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::Other,
            };
            Poll::Ready(Err(io::Error::new(kind, e.message.into_string())))
        }
        Ok(Poll::Pending) => Poll::Pending,
        Err(_) => Poll::Ready(Err(io::Error::other("the host panicked in a socket poll"))),
    }
}

impl tokio::io::AsyncRead for HostTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: only written to (by the host's read), never read here before `assume_init`.
        let unfilled = unsafe { buf.unfilled_mut() };
        let (ptr, len) = (unfilled.as_mut_ptr().cast::<u8>(), unfilled.len());
        let this = &mut *self;
        // SAFETY: `ptr` and `len` are `buf`'s spare capacity, which nothing else touches
        // during the call.
        let polled = cx.with_ffi_context(|cx| unsafe { this.socket.poll_read(cx, ptr, len) });
        io_poll(polled).map_ok(|n| {
            let n = n.min(len);
            // SAFETY: the host's read initialized the first `n` bytes it reported.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
        })
    }
}

impl tokio::io::AsyncWrite for HostTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = cx.with_ffi_context(|cx| this.socket.poll_write(cx, RSlice::from_slice(buf)));
        io_poll(polled).map_ok(|n| n.min(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut slices: [RSlice<'_, u8>; MAX_IO_SLICES] = [RSlice::EMPTY; MAX_IO_SLICES];
        let n = bufs.len().min(MAX_IO_SLICES);
        for (slot, buf) in slices.iter_mut().zip(bufs) {
            *slot = RSlice::from_slice(buf);
        }
        let total: usize = slices[..n].iter().map(|s| s.len()).sum();
        let this = &mut *self;
        let polled = cx.with_ffi_context(|cx| {
            this.socket
                .poll_write_vectored(cx, RSlice::from_slice(&slices[..n]))
        });
        io_poll(polled).map_ok(|written| written.min(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        io_poll(cx.with_ffi_context(|cx| this.socket.poll_flush(cx))).map_ok(drop)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        io_poll(cx.with_ffi_context(|cx| this.socket.poll_shutdown(cx))).map_ok(drop)
    }
}

// ---- root module entry points ------------------------------------------------------------------

pub(crate) extern "C" fn metadata<T: HostedTransport>() -> PluginMetadata {
    metadata_of(catch(T::metadata), Capabilities::HOSTED)
}

pub(crate) extern "C" fn diagnostics<T: HostedTransport>() -> RString {
    diagnostics_of(catch(T::diagnostics))
}

/// A 1.3 host: the client runs on the services the host lends.
pub(crate) extern "C" fn new_hosted_client<T: HostedTransport>(
    options: RStr<'_>,
    runtime: HostRuntimeBox,
) -> RResult<StreamingHttpClientBox, FfiError> {
    construct::<T>(options, Some(runtime)).map(|c| StreamingHttpClient_TO::from_value(c, TD_Opaque))
}

/// A host that lends nothing: the same client on a runtime of the plugin's own.
pub(crate) extern "C" fn new_streaming_client<T: HostedTransport>(
    options: RStr<'_>,
) -> RResult<StreamingHttpClientBox, FfiError> {
    construct::<T>(options, None).map(|c| StreamingHttpClient_TO::from_value(c, TD_Opaque))
}

/// A 1.0/1.1 host (buffered request bodies): as `new_streaming_client`.
pub(crate) extern "C" fn new_client<T: HostedTransport>(
    options: RStr<'_>,
) -> RResult<HttpClientBox, FfiError> {
    construct::<T>(options, None).map(|c| HttpClient_TO::from_value(c, TD_Opaque))
}

fn construct<T: HostedTransport>(
    options: RStr<'_>,
    lent: Option<HostRuntimeBox>,
) -> RResult<HostedClient<T>, FfiError> {
    let result = catch(|| -> Result<HostedClient<T>, Error> {
        let options = parse_options(options)?;
        let (services, own) = match lent {
            Some(services) => (services, None),
            None => {
                let runtime = plugin_runtime(&T::metadata().name)?;
                let services = tokio_runtime_services(Some(runtime.handle().clone()));
                (services, Some(crate::export::OwnRuntime::Threads(runtime)))
            }
        };
        let inner = T::new(options, Host { services })?;
        Ok(HostedClient {
            glue: Glue::new(inner, own),
        })
    });
    constructed(result)
}

// ---- the client ----------------------------------------------------------------------------------

struct HostedClient<T> {
    /// The author's client, and the plugin's own runtime when the host lent no services.
    glue: Glue<T>,
}

impl<T: HostedTransport> HostedClient<T> {
    /// One exchange, polled in place by the host: no task, no thread hand-off. Dropping the
    /// future drops the author's, which ends the exchange.
    fn exchange(
        &self,
        request: FfiRequest,
        body: Option<FfiStreamedBody>,
    ) -> FfiFuture<CallResult> {
        let inner = self.glue.inner();
        let handle = self.glue.handle();
        let body_runtime = handle.clone();
        let exchange = async move {
            let request = request_from_ffi(request, body)?;
            let response: Response = inner.call(request).await?;
            Ok::<_, Error>(response_to_ffi(response, body_runtime))
        };
        CaughtCall::new(PollIn::entered(handle), exchange).into_ffi()
    }

    fn close_inner(&self) {
        self.glue
            .with_inner("the plugin panicked in close()", T::close)
    }
}

ffi_client_traits!(HostedClient, HostedTransport);

/// The author's exchange, polled with the plugin's own runtime entered when there is one, and
/// as a boundary call: a panic must not unwind into the host, and comes back as the call's
/// error with its location (see `crate::panics`).
pub(crate) struct CaughtCall<F> {
    poll_in: PollIn,
    exchange: Pin<Box<F>>,
}

impl<F> CaughtCall<F> {
    /// `exchange`, to be polled where `poll_in` says.
    pub(crate) fn new(poll_in: PollIn, exchange: F) -> Self {
        CaughtCall {
            poll_in,
            exchange: Box::pin(exchange),
        }
    }
}

impl<F: Future<Output = Result<crate::ffi::FfiResponse, Error>>> Future for CaughtCall<F> {
    type Output = CallResult;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CallResult> {
        let this = &mut *self;
        let exchange = &mut this.exchange;
        match this.poll_in.poll(|| catch(|| exchange.as_mut().poll(cx))) {
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(RResult::ROk(response)),
            Ok(Poll::Ready(Err(e))) => Poll::Ready(RResult::RErr(e.into())),
            Ok(Poll::Pending) => Poll::Pending,
            Err(caught) => Poll::Ready(RResult::RErr(
                caught.into_error("the plugin panicked during a call"),
            )),
        }
    }
}

/// Where the glue polls an exchange that the host polls in place (bodies are polled with
/// their runtime entered: see `convert::body_to_ffi`).
pub(crate) enum PollIn {
    /// As it is (a hosted plugin's, which runs on the host's runtime).
    Here,
    /// With this runtime entered (the blocking adapter's, whose runtime has threads).
    Entered(tokio::runtime::Handle),
}

impl PollIn {
    /// `Entered`, or `Here` without a runtime.
    pub(crate) fn entered(handle: Option<tokio::runtime::Handle>) -> PollIn {
        handle.map_or(PollIn::Here, PollIn::Entered)
    }

    /// Runs `f` (a poll) where this says.
    pub(crate) fn poll<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            PollIn::Here => f(),
            PollIn::Entered(handle) => {
                let _entered = handle.enter();
                f()
            }
        }
    }
}
