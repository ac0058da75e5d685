//! The author-facing [`Transport`] trait and the glue that exports it over the FFI.
//!
//! The glue, generated once here instead of in every plugin:
//! - owns the plugin's tokio runtime (a plugin has its own copy of tokio, whose reactor the
//!   host's runtime cannot poll);
//! - for a host of interface 1.5 or later (`new_driven_client`), builds that runtime without
//!   threads: the host polls each exchange in place and drives the runtime (see
//!   `crate::driven`), so an exchange crosses no thread;
//! - otherwise runs each exchange as a task of a runtime with worker threads (the host awaits
//!   its join handle through the FFI future; dropping that future aborts the task, closing its
//!   connection). A small response body that has arrived with the head is read inside that
//!   task, so an exchange costs two cross-thread wake-ups; larger or streamed bodies are polled
//!   in place on the host's thread, with the plugin runtime's context entered, so no task
//!   hand-off is paid per chunk;
//! - converts types;
//! - catches every panic at the boundary: a panic would otherwise abort the host process. The
//!   panic comes back as the call's error, with its location, and is not printed as well (see
//!   `crate::panics`).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RStr, RString},
};
use async_ffi::{FfiFuture, FutureExt as _};
use tokio::runtime::{Handle, Runtime};

use crate::convert::{
    body_from_ffi, body_to_ffi, bytes_from_ffi, headers_from_ffi, headers_to_ffi,
};
use crate::driven::{Driven, DrivenHandle};
use crate::ffi::{
    CallResult, DrivenClient, DrivenRuntime_TO, ErrorKind, FfiError, FfiRequest, FfiResponse,
    FfiStreamedBody, HttpClientBox, HttpClient_TO, StreamingHttpClientBox, StreamingHttpClient_TO,
};
use crate::hosted::PollIn;
use crate::module::{metadata_for, Capabilities, PluginMetadata};
use crate::panics::{catch, Caught, Guarded};
use crate::types::{one_item, Body, Error, Metadata, Request, RequestBody, Response};

/// An HTTP transport, as a plugin author writes it: one exchange per call, plain async Rust.
///
/// Export it with [`crate::export_plugin!`]. Retries, timeouts per attempt, error mapping and
/// statistics are the host's job; `call` performs a single exchange.
pub trait Transport: Send + Sync + Sized + 'static {
    /// Who this transport is. Called without creating a client.
    fn metadata() -> Metadata;

    /// Builds a client from the `[transport.options]` table of the host's config (a JSON
    /// object; `{}` when absent). Unknown or invalid options should be an
    /// [`ErrorKind::INVALID_REQUEST`] error that names the option.
    ///
    /// Runs with the plugin's tokio runtime entered.
    fn new(options: serde_json::Value) -> Result<Self, Error>;

    /// Performs one HTTP exchange. Resolves when the response head has arrived; the body follows
    /// as a stream. Runs with the plugin's tokio runtime entered.
    fn call(&self, request: Request) -> impl Future<Output = Result<Response, Error>> + Send;

    /// Free-form diagnostics (a JSON object) for `apify-host transport inspect`.
    fn diagnostics() -> serde_json::Value {
        serde_json::json!({})
    }

    /// Releases pooled connections. The default does nothing.
    fn close(&self) {}
}

// ---- root module entry points ------------------------------------------------------------------

/// `new_hosted_client` of a plugin that runs on its own runtime: not offered (its metadata
/// lacks [`crate::Capabilities::HOSTED`], so a host never calls this).
pub(crate) extern "C" fn no_hosted_client(
    _options: RStr<'_>,
    _runtime: crate::ffi::HostRuntimeBox,
) -> RResult<StreamingHttpClientBox, FfiError> {
    RResult::RErr(FfiError {
        kind: ErrorKind::OTHER,
        message: RString::from("this plugin runs on a runtime of its own, not on the host's"),
        retryable: false,
    })
}

/// `IN_PLACE` (the blocking adapter) is not offered driven: its exchanges run on threads of
/// their own anyway.
pub(crate) extern "C" fn metadata<T: Transport, const IN_PLACE: bool>() -> PluginMetadata {
    let extra = if IN_PLACE {
        Capabilities::empty()
    } else {
        Capabilities::DRIVEN
    };
    metadata_of(catch(T::metadata), extra)
}

pub(crate) extern "C" fn diagnostics<T: Transport>() -> RString {
    diagnostics_of(catch(T::diagnostics))
}

/// The metadata an author's `metadata()` gave (or a placeholder if it panicked), with `extra`
/// capabilities the glue adds; [`Capabilities::HOSTED`] and [`Capabilities::DRIVEN`] only
/// when the glue adds them.
pub(crate) fn metadata_of(given: Result<Metadata, Caught>, extra: Capabilities) -> PluginMetadata {
    match given {
        Ok(mut m) => {
            // `hosted` and `driven` are the glue's to say (`extra`): a value the author set
            // would have the host call a constructor that does not exist.
            let glue_only = Capabilities::HOSTED | Capabilities::DRIVEN;
            m.capabilities = Capabilities(m.capabilities.0 & !glue_only.0) | extra;
            metadata_for(m)
        }
        Err(caught) => {
            caught.log("the plugin panicked in metadata()");
            metadata_for(Metadata {
                name: "<metadata panicked>".into(),
                version: String::new(),
                description: String::new(),
                capabilities: Default::default(),
            })
        }
    }
}

/// The diagnostics an author's `diagnostics()` gave, as JSON text.
pub(crate) fn diagnostics_of(given: Result<serde_json::Value, Caught>) -> RString {
    match given {
        Ok(v) => RString::from(v.to_string()),
        Err(caught) => {
            caught.log("the plugin panicked in diagnostics()");
            RString::from(r#"{"error":"diagnostics panicked"}"#)
        }
    }
}

/// `IN_PLACE`: see [`Client::in_place`].
pub(crate) extern "C" fn new_client<T: Transport, const IN_PLACE: bool>(
    options: RStr<'_>,
) -> RResult<HttpClientBox, FfiError> {
    construct::<T>(options, IN_PLACE).map(|c| HttpClient_TO::from_value(c, TD_Opaque))
}

/// `IN_PLACE`: see [`Client::in_place`].
pub(crate) extern "C" fn new_streaming_client<T: Transport, const IN_PLACE: bool>(
    options: RStr<'_>,
) -> RResult<StreamingHttpClientBox, FfiError> {
    construct::<T>(options, IN_PLACE).map(|c| StreamingHttpClient_TO::from_value(c, TD_Opaque))
}

/// `new_driven_client` of a transport: its client on a runtime without threads, which the
/// host drives (see `crate::driven`). Not offered with `IN_PLACE` (the blocking adapter).
pub(crate) extern "C" fn new_driven_client<T: Transport, const IN_PLACE: bool>(
    options: RStr<'_>,
) -> RResult<DrivenClient, FfiError> {
    if IN_PLACE {
        return no_driven_client(options);
    }
    let result = catch(|| -> Result<DrivenClient, Error> {
        let options = parse_options(options)?;
        let driven = Driven::start()?;
        let inner = {
            let _entered = driven.enter();
            T::new(options)?
        };
        let client = Client {
            handle: driven.handle().clone(),
            glue: Glue::new(inner, Some(OwnRuntime::Driven(driven.clone()))),
            // Exchanges are tasks of the driven runtime (see `Driven::spawn_exchange`).
            in_place: false,
            driven: Some(driven.clone()),
        };
        Ok(DrivenClient {
            client: StreamingHttpClient_TO::from_value(client, TD_Opaque),
            runtime: DrivenRuntime_TO::from_value(DrivenHandle(driven), TD_Opaque),
        })
    });
    constructed(result)
}

/// `new_driven_client` of a plugin whose runtime the host cannot drive (hosted and blocking
/// transports: their metadata lacks [`Capabilities::DRIVEN`], so a host never calls this).
pub(crate) extern "C" fn no_driven_client(_options: RStr<'_>) -> RResult<DrivenClient, FfiError> {
    RResult::RErr(FfiError {
        kind: ErrorKind::OTHER,
        message: RString::from("this plugin's runtime cannot be driven by the host"),
        retryable: false,
    })
}

/// Builds the client behind both constructors: the runtime, then the author's `new` in it.
fn construct<T: Transport>(options: RStr<'_>, in_place: bool) -> RResult<Client<T>, FfiError> {
    let result = catch(|| -> Result<Client<T>, Error> {
        let options = parse_options(options)?;
        let runtime = plugin_runtime(&T::metadata().name)?;
        let inner = {
            let _entered = runtime.enter();
            T::new(options)?
        };
        Ok(Client {
            handle: runtime.handle().clone(),
            glue: Glue::new(inner, Some(OwnRuntime::Threads(runtime))),
            in_place,
            driven: None,
        })
    });
    constructed(result)
}

/// The runtime a plugin owns. Multi-thread on purpose: its workers run the exchanges and drive
/// the plugin's sockets and timers while the host polls streamed bodies in place; a
/// current-thread runtime would have nobody to drive them.
pub(crate) fn plugin_runtime(name: &str) -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(PLUGIN_WORKERS)
        .enable_all()
        .thread_name(format!("{name}-transport"))
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::OTHER,
                format!("could not start the plugin runtime: {e}"),
            )
        })
}

/// A constructor's outcome across the boundary: the client, its error, or its panic as an
/// error.
pub(crate) fn constructed<C>(result: Result<Result<C, Error>, Caught>) -> RResult<C, FfiError> {
    match result {
        Ok(Ok(client)) => RResult::ROk(client),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(caught) => {
            RResult::RErr(caught.into_error("the plugin panicked during client construction"))
        }
    }
}

/// The plugin's options: a JSON object (`{}` when the host sends nothing).
pub(crate) fn parse_options(options: RStr<'_>) -> Result<serde_json::Value, Error> {
    if options.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(options.as_str()).map_err(|e| {
        Error::new(
            ErrorKind::INVALID_REQUEST,
            format!("the plugin options are not valid JSON: {e}"),
        )
    })
}

// ---- the client ----------------------------------------------------------------------------------

/// A runtime the plugin owns: with worker threads, or driven by the host's threads (shared
/// with the [`crate::ffi::DrivenRuntime`] the host holds, so it lives until both let go).
pub(crate) enum OwnRuntime {
    Threads(Runtime),
    Driven(Arc<Driven>),
}

impl OwnRuntime {
    fn handle(&self) -> &Handle {
        match self {
            OwnRuntime::Threads(rt) => rt.handle(),
            OwnRuntime::Driven(d) => d.handle(),
        }
    }

    fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        match self {
            OwnRuntime::Threads(rt) => rt.enter(),
            OwnRuntime::Driven(d) => d.enter(),
        }
    }
}

/// The author's client, with the runtime it runs on when the plugin owns one, dropped in the
/// right order: the author's value first, inside that runtime (its `Drop` may touch it) and
/// `catch_unwind`; then the runtime, in the background (the host may drop us from inside its
/// own runtime, where a blocking shutdown would stall it).
pub(crate) struct Glue<T> {
    /// `None` only while dropping.
    inner: Option<Arc<T>>,
    runtime: Option<OwnRuntime>,
}

impl<T> Glue<T> {
    pub(crate) fn new(inner: T, runtime: Option<OwnRuntime>) -> Self {
        Glue {
            inner: Some(Arc::new(inner)),
            runtime,
        }
    }

    /// The author's client, for one exchange.
    pub(crate) fn inner(&self) -> Arc<T> {
        self.inner.clone().expect("client used while dropping")
    }

    /// The plugin's own runtime, if it has one.
    pub(crate) fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|rt| rt.handle().clone())
    }

    /// Runs `f` on the author's client like every other entry point: inside the plugin's
    /// runtime (if any) and as a boundary call; a panic is logged (`close` returns nothing to
    /// report it in).
    pub(crate) fn with_inner(&self, what: &str, f: impl FnOnce(&T)) {
        let called = catch(|| {
            let _entered = self.runtime.as_ref().map(OwnRuntime::enter);
            if let Some(inner) = &self.inner {
                f(inner)
            }
        });
        if let Err(caught) = called {
            caught.log(what);
        }
    }
}

impl<T> Drop for Glue<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _entered = self.runtime.as_ref().map(OwnRuntime::enter);
            if let Err(caught) = catch(move || drop(inner)) {
                caught.log("the plugin panicked dropping its client");
            }
        }
        // A driven runtime ends with the host's last reference (see `crate::driven`).
        if let Some(OwnRuntime::Threads(rt)) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

struct Client<T> {
    glue: Glue<T>,
    /// The plugin runtime's handle (kept: one clone per exchange).
    handle: Handle,
    /// Whether the host polls each exchange itself, with the plugin runtime entered, instead
    /// of awaiting a task of that runtime. For the blocking adapter, whose exchange only hands
    /// the call to a blocking thread and waits for its answer: in place, the blocking thread
    /// wakes the host directly, where a task would add a hand-off each way (host → runtime
    /// worker → blocking thread → worker → host).
    in_place: bool,
    /// The runtime the host drives, for a driven client: exchanges are spawned on it through
    /// [`Driven::spawn_exchange`].
    driven: Option<Arc<Driven>>,
}

impl<T: Transport> Client<T> {
    /// One exchange: polled in place, or run as a task of the plugin runtime (see
    /// [`spawned_exchange`]).
    fn exchange(
        &self,
        request: FfiRequest,
        body: Option<FfiStreamedBody>,
    ) -> FfiFuture<CallResult> {
        if !self.in_place {
            return spawned_exchange(
                self.glue.inner(),
                self.handle.clone(),
                self.driven.as_ref(),
                request,
                body,
            );
        }
        let inner = self.glue.inner();
        let poll_in = PollIn::Entered(self.handle.clone());
        let body_runtime = Some(self.handle.clone());
        let exchange = async move {
            let request = request_from_ffi(request, body)?;
            let response = inner.call(request).await?;
            Ok::<_, Error>(response_to_ffi(response, body_runtime))
        };
        crate::hosted::CaughtCall::new(poll_in, exchange).into_ffi()
    }

    fn close_inner(&self) {
        self.glue
            .with_inner("the plugin panicked in close()", T::close)
    }
}

/// Implements both FFI client traits for a glue client over its `exchange` and `close_inner`.
macro_rules! ffi_client_traits {
    ($client:ident, $bound:ident) => {
        impl<T: $bound> $crate::ffi::HttpClient for $client<T> {
            fn call(
                &self,
                request: $crate::ffi::FfiRequest,
            ) -> async_ffi::FfiFuture<$crate::ffi::CallResult> {
                self.exchange(request, None)
            }

            fn close(&self) {
                self.close_inner()
            }
        }

        impl<T: $bound> $crate::ffi::StreamingHttpClient for $client<T> {
            fn call(
                &self,
                request: $crate::ffi::FfiRequest,
                body: abi_stable::std_types::ROption<$crate::ffi::FfiStreamedBody>,
            ) -> async_ffi::FfiFuture<$crate::ffi::CallResult> {
                self.exchange(request, body.into_option())
            }

            fn close(&self) {
                self.close_inner()
            }
        }
    };
}
pub(crate) use ffi_client_traits;

ffi_client_traits!(Client, Transport);

pub(crate) fn request_from_ffi(
    r: FfiRequest,
    streamed: Option<FfiStreamedBody>,
) -> Result<Request, Error> {
    let method = http::Method::from_bytes(r.method.as_bytes()).map_err(|_| {
        Error::new(
            ErrorKind::INVALID_REQUEST,
            format!("invalid method {:?}", r.method.as_str()),
        )
    })?;
    let body = match streamed {
        Some(s) => RequestBody::Stream {
            stream: body_from_ffi(s.stream, ()),
            length: s.length.into_option(),
        },
        None => RequestBody::Full(bytes_from_ffi(r.body)),
    };
    Ok(Request {
        method,
        url: r.url.into_string(),
        headers: headers_from_ffi(r.headers)
            .map_err(|e| Error::new(ErrorKind::INVALID_REQUEST, e.message))?,
        body,
        timeout: match r.timeout_ms {
            ROption::RSome(ms) => Some(std::time::Duration::from_millis(ms)),
            ROption::RNone => None,
        },
        stream: r.stream,
    })
}

pub(crate) fn response_to_ffi(r: Response, handle: Option<Handle>) -> FfiResponse {
    FfiResponse {
        status: r.status.as_u16(),
        headers: headers_to_ffi(&r.headers),
        body: body_to_ffi(r.body, handle),
    }
}

/// Worker threads of the plugin runtime: they run the exchanges and drive the sockets and
/// timers. Two, not one per core: with 32 calls in flight two workers measured 0.95x the
/// built-in transport against 0.63-0.75x for one (2-core machine, transports bench), and a fixed
/// number keeps a CLI on a many-core machine from starting dozens of threads.
const PLUGIN_WORKERS: usize = 2;

/// Bodies up to this size (by `Content-Length`, or as read when the length is not known), for
/// calls that do not stream, are read inside the exchange's task (see [`read_what_is_ready`]).
const SMALL_BODY: u64 = 64 * 1024;

/// Runs one exchange as a task of the plugin runtime; the host awaits its join handle through
/// the FFI future, and dropping that future aborts the task, which drops the author's future
/// and so closes its connection. A small body that has arrived is read inside the task: on a
/// runtime with threads the whole exchange then costs two cross-thread wake-ups (host → plugin
/// worker → host) instead of one more per poll; on a driven runtime (`driven`), no wake-up of
/// the runtime from the host's polls of the body (each would cost a drive).
/// Larger and streamed bodies are polled in place by the host (see `body_to_ffi`).
fn spawned_exchange<T: Transport>(
    inner: Arc<T>,
    handle: Handle,
    driven: Option<&Arc<Driven>>,
    request: FfiRequest,
    body: Option<FfiStreamedBody>,
) -> FfiFuture<CallResult> {
    let task_handle = handle.clone();
    // Polled as a boundary call on the runtime's worker: a panic becomes the call's error, with
    // its location, instead of a `JoinError` (and a line the plugin's panic hook prints).
    let exchange = Guarded::new(async move {
        let request = request_from_ffi(request, body)?;
        let stream = request.stream;
        let mut response = inner.call(request).await?;
        // A body of unknown length (chunked, say) is read too, up to the same size.
        let small = !stream
            && response
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_none_or(|n| n <= SMALL_BODY);
        if small {
            response.body = read_what_is_ready(response.body).await;
        }
        Ok::<_, Error>(response_to_ffi(response, Some(task_handle)))
    });
    let task = async move {
        exchange.await.unwrap_or_else(|caught| {
            Err(caught
                .into_error("the plugin panicked during a call")
                .into())
        })
    };
    let (joined, in_flight) = match driven {
        Some(driven) => {
            let (spawned, active) = driven.spawn_exchange(task);
            (Joined::Driven(spawned), Some(active))
        }
        None => (Joined::Task(AbortOnDrop(handle.spawn(task))), None),
    };
    async move {
        let _in_flight = in_flight;
        let outcome = match joined {
            Joined::Task(join) => join.await.map_err(|e| {
                if e.is_panic() {
                    // Only the glue's own code is left outside the guard.
                    crate::convert::panic_error(e.into_panic(), "the plugin panicked during a call")
                } else {
                    cancelled(&e)
                }
            }),
            Joined::Driven(spawned) => spawned.await.ok_or_else(|| cancelled(&"no answer")),
        };
        match outcome {
            Ok(Ok(resp)) => RResult::ROk(resp),
            Ok(Err(e)) => RResult::RErr(e.into()),
            Err(e) => RResult::RErr(e),
        }
    }
    .into_ffi()
}

/// How many times the exchange's task yields to let the connection deliver a small body before
/// it hands the body over as a stream: the body usually arrives with the head, but the
/// connection's own task must run once to pass it on.
const READY_BODY_YIELDS: usize = 2;

/// Reads the chunks of `body` that are there without waiting on the network (yielding at most
/// [`READY_BODY_YIELDS`] times), up to [`SMALL_BODY`] bytes: the whole body if it has arrived,
/// so it crosses as one chunk with the head. Otherwise the chunks read so far, then the rest as
/// it comes, so a slow body is still bounded by the host's idle limit rather than the head's
/// timeout; a body that fails (or panics) while it is read ahead fails where the host reads it,
/// after the chunks before the failure (the head itself arrived).
async fn read_what_is_ready(mut body: Body) -> Body {
    let mut chunks = std::collections::VecDeque::new();
    let mut read = 0;
    let mut yields = 0;
    loop {
        let polled =
            std::future::poll_fn(|cx| Poll::Ready(catch(|| body.as_mut().poll_next(cx)))).await;
        let polled = match polled {
            Ok(polled) => polled,
            Err(caught) => {
                // As `body_to_ffi` does: the body's own error, and the body, in an unknown
                // state, forgotten rather than dropped.
                std::mem::forget(body);
                let e = caught.into_error("a body stream panicked while producing a chunk");
                return Prefixed::then(chunks, one_item(Err(e.into())));
            }
        };
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                read += chunk.len() as u64;
                chunks.push_back(chunk);
                if read > SMALL_BODY {
                    return Prefixed::then(chunks, body);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                return Prefixed::then(chunks, one_item(Err(e)));
            }
            Poll::Ready(None) => {
                let whole = match chunks.len() {
                    0 => bytes::Bytes::new(),
                    1 => chunks.pop_front().unwrap_or_default(),
                    _ => chunks.make_contiguous().concat().into(),
                };
                return RequestBody::Full(whole).into_stream();
            }
            Poll::Pending if yields < READY_BODY_YIELDS => {
                yields += 1;
                tokio::task::yield_now().await;
            }
            Poll::Pending => return Prefixed::then(chunks, body),
        }
    }
}

/// Chunks already read, then the rest of the body.
struct Prefixed {
    chunks: std::collections::VecDeque<bytes::Bytes>,
    rest: Body,
}

impl Prefixed {
    fn then(chunks: std::collections::VecDeque<bytes::Bytes>, rest: Body) -> Body {
        Box::pin(Prefixed { chunks, rest })
    }
}

impl futures_core::Stream for Prefixed {
    type Item = Result<bytes::Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            None => self.rest.as_mut().poll_next(cx),
        }
    }
}

/// The task of a spawned exchange, on a runtime with threads or a driven one.
enum Joined<T> {
    Task(AbortOnDrop<T>),
    Driven(crate::driven::Spawned<T>),
}

/// The error of an exchange whose task ended without an answer.
fn cancelled(why: &dyn std::fmt::Display) -> FfiError {
    FfiError {
        kind: ErrorKind::OTHER,
        message: RString::from(format!("the plugin's exchange was cancelled: {why}")),
        retryable: false,
    }
}

/// Aborts the spawned exchange when the host drops the call future.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Exports a [`Transport`] implementation as this library's plugin root module.
///
/// Put it once in the plugin crate (crate-type `cdylib`):
/// ```ignore
/// apify_plugin_api::export_plugin!(MyTransport);          // a `Transport`
/// apify_plugin_api::export_plugin!(hosted MyTransport);   // a `HostedTransport`
/// apify_plugin_api::export_plugin!(blocking MyTransport); // a `BlockingTransport`
/// ```
#[macro_export]
macro_rules! export_plugin {
    (blocking $transport:ty) => {
        $crate::export_plugin!(@root $crate::__private::blocking_root_module::<$transport>);
    };
    (hosted $transport:ty) => {
        $crate::export_plugin!(@root $crate::__private::hosted_root_module::<$transport>);
    };
    ($transport:ty) => {
        $crate::export_plugin!(@root $crate::__private::root_module::<$transport>);
    };
    (@root $root:expr) => {
        // Panics are turned into errors with `catch_unwind`, which cannot work with abort.
        #[cfg(panic = "abort")]
        compile_error!("transport plugins must be built with panic = \"unwind\": the export glue turns panics into errors");

        /// The symbol abi_stable's loader looks up (its mangled root-module loader name).
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader:
            $crate::__private::abi_stable::library::LibHeader = {
            extern "C" fn __apify_root_module(
            ) -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader($root)
            }
            // SAFETY: what `#[export_root_module]` expands to (abi_stable 0.11): the header
            // describes `PluginModRef`, which `__apify_root_module` returns, and the layout is
            // checked by the loader (`CheckTypeLayout::Yes`). tests/symbol.rs guards the name.
            unsafe {
                $crate::__private::abi_stable::library::LibHeader::from_constructor::<
                    $crate::abi::root::PluginModRef,
                >(
                    __apify_root_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claiming(capabilities: Capabilities) -> Result<Metadata, Caught> {
        Ok(Metadata {
            name: "t".into(),
            version: "0".into(),
            description: String::new(),
            capabilities,
        })
    }

    #[test]
    fn only_the_glue_says_hosted_or_driven() {
        let claimed = Capabilities::STREAMING | Capabilities::HOSTED;
        let plain = metadata_of(claiming(claimed), Capabilities::empty());
        assert_eq!(plain.capabilities, Capabilities::STREAMING);
        let claimed_driven = Capabilities::STREAMING | Capabilities::DRIVEN;
        let plain = metadata_of(claiming(claimed_driven), Capabilities::empty());
        assert_eq!(plain.capabilities, Capabilities::STREAMING);
        let hosted = metadata_of(claiming(Capabilities::STREAMING), Capabilities::HOSTED);
        assert_eq!(hosted.capabilities, claimed);
    }
}
