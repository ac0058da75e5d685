//! `#[repr(C)]` types that cross the plugin boundary.
//!
//! Everything here is checked by abi_stable's layout check when a plugin is loaded. Changing a
//! field of an existing type is a major version change of the interface.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RResult, RSlice, RString, RVec},
    StableAbi,
};
use async_ffi::{FfiContext, FfiFuture, FfiPoll};

/// What went wrong in a transport, so that the host's retry policy classifies every plugin alike.
///
/// A transparent `u8` rather than a Rust enum: a newer plugin may return a kind this host does not
/// know, which must read as [`ErrorKind::OTHER`] instead of being undefined behaviour. That makes
/// the set open ("non-exhaustive") at the ABI level.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u8);

impl ErrorKind {
    /// Anything else; the `retryable` hint decides.
    pub const OTHER: ErrorKind = ErrorKind(0);
    /// The connection could not be established (refused, DNS, unreachable). Transient.
    pub const CONNECT: ErrorKind = ErrorKind(1);
    /// The exchange took longer than the request's timeout. Transient.
    pub const TIMEOUT: ErrorKind = ErrorKind(2);
    /// TLS configuration or handshake failure. Permanent.
    pub const TLS: ErrorKind = ErrorKind(3);
    /// I/O failure on an established connection: reset, broken pipe, truncated body. Transient.
    pub const IO: ErrorKind = ErrorKind(4);
    /// The peer broke the HTTP protocol. Permanent.
    pub const PROTOCOL: ErrorKind = ErrorKind(5);
    /// The request itself is unusable (bad URL, bad header). Permanent.
    pub const INVALID_REQUEST: ErrorKind = ErrorKind(6);
    /// The plugin panicked; the panic was caught at the boundary. Permanent.
    pub const PANIC: ErrorKind = ErrorKind(7);

    /// All kinds this version of the interface defines.
    pub const ALL: [ErrorKind; 8] = [
        Self::OTHER,
        Self::CONNECT,
        Self::TIMEOUT,
        Self::TLS,
        Self::IO,
        Self::PROTOCOL,
        Self::INVALID_REQUEST,
        Self::PANIC,
    ];

    /// A short lowercase name, e.g. `"connect"`; `"other"` for kinds this version does not know.
    pub fn name(self) -> &'static str {
        match self {
            Self::CONNECT => "connect",
            Self::TIMEOUT => "timeout",
            Self::TLS => "tls",
            Self::IO => "io",
            Self::PROTOCOL => "protocol",
            Self::INVALID_REQUEST => "invalid-request",
            Self::PANIC => "panic",
            _ => "other",
        }
    }

    /// Whether errors of this kind are transient by nature, as the host's retry policy reads it.
    /// `None` for [`ErrorKind::OTHER`] and unknown kinds: the error's own hint decides.
    pub fn is_transient(self) -> Option<bool> {
        match self {
            Self::CONNECT | Self::TIMEOUT | Self::IO => Some(true),
            Self::TLS | Self::PROTOCOL | Self::INVALID_REQUEST | Self::PANIC => Some(false),
            _ => None,
        }
    }
}

impl std::fmt::Debug for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A transport error as it crosses the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// A human-readable message; must never contain credentials.
    pub message: RString,
    /// The plugin's hint whether a retry may succeed; used for [`ErrorKind::OTHER`].
    pub retryable: bool,
}

/// One header; the value is bytes because HTTP allows non-UTF-8 (opaque) values.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHeader {
    /// Header name, lowercase.
    pub name: RString,
    /// Header value bytes.
    pub value: RVec<u8>,
}

/// Keeps the memory behind an [`FfiBytes`] alive, wherever it was allocated.
///
/// Body chunks cross the boundary without a copy: the side that produced them keeps ownership
/// (e.g. of a `bytes::Bytes`) and the other side reads the slice through this object.
#[sabi_trait]
pub trait BytesOwner: Send + Sync {
    /// The bytes this object owns.
    #[sabi(last_prefix_field)]
    fn as_slice(&self) -> RSlice<'_, u8>;
}

/// A zero-copy byte buffer owned by either side of the boundary.
pub type FfiBytes = BytesOwner_TO<'static, RBox<()>>;

/// One HTTP request, fully prepared by the host's pipeline.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiRequest {
    /// Method, uppercase (`GET`, `POST`, ...).
    pub method: RString,
    /// Absolute URL including the query string.
    pub url: RString,
    /// Headers to send, in order.
    pub headers: RVec<FfiHeader>,
    /// Body bytes; empty for no body.
    pub body: FfiBytes,
    /// Timeout for the whole exchange up to the response head, in milliseconds; `RNone` = none.
    pub timeout_ms: ROption<u64>,
    /// The caller will stream the body; a transport must not buffer it whole.
    pub stream: bool,
}

/// The head of a response plus the stream of its body.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, in order, names lowercase.
    pub headers: RVec<FfiHeader>,
    /// The body, chunk by chunk.
    pub body: BodyStreamBox,
}

/// The result of one body poll: `RSome(chunk)`, `RNone` at the end, or an error.
pub type ChunkResult = RResult<ROption<FfiBytes>, FfiError>;

/// A response body, read chunk by chunk with the host's waker.
///
/// A poll function rather than a method returning a future: one body may have tens of thousands
/// of chunks, and polling in place avoids a boxed future per chunk.
#[sabi_trait]
pub trait BodyStream: Send {
    /// Polls for the next chunk, like `futures::Stream::poll_next`.
    #[sabi(last_prefix_field)]
    fn poll_chunk(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<ChunkResult>;
}

/// An owned body stream trait object.
pub type BodyStreamBox = BodyStream_TO<'static, RBox<()>>;

/// The result of one call.
pub type CallResult = RResult<FfiResponse, FfiError>;

/// An HTTP client living in a plugin: performs one exchange per call.
#[sabi_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request` and resolves to the response head once it arrives; the body follows
    /// through [`FfiResponse::body`].
    fn call(&self, request: FfiRequest) -> FfiFuture<CallResult>;

    /// Releases pooled connections and background work. Calls after `close` may fail.
    #[sabi(last_prefix_field)]
    fn close(&self);
}

/// An owned `HttpClient` trait object.
pub type HttpClientBox = HttpClient_TO<'static, RBox<()>>;

/// A request body streamed from the host (added in 1.2): the plugin pulls its chunks as it
/// sends them, through the same [`BodyStream`] a response body uses, so chunks cross without a
/// copy in this direction too.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiStreamedBody {
    /// The chunks, polled by the plugin with its own waker.
    pub stream: BodyStreamBox,
    /// The exact length when the host knows it (it then also sends `Content-Length`).
    pub length: ROption<u64>,
}

/// An HTTP client whose calls can stream the request body (added in 1.2, created by the root
/// module's `new_streaming_client`). A new trait object rather than a new method on
/// [`HttpClient`]: its vtable's layout is part of the 1.0 and 1.1 root modules, which older
/// plugins must keep matching.
///
/// Dropping the future of a call, or the body stream of its response, ends the exchange in the
/// plugin (the connection it was using is closed, not returned to a pool mid-exchange).
#[sabi_trait]
pub trait StreamingHttpClient: Send + Sync {
    /// Sends `request`; when `body` is `RSome`, the request body is streamed from it and
    /// `request.body` is empty. Resolves to the response head; the body follows through
    /// [`FfiResponse::body`].
    fn call(&self, request: FfiRequest, body: ROption<FfiStreamedBody>) -> FfiFuture<CallResult>;

    /// Releases pooled connections and background work. Calls after `close` may fail.
    #[sabi(last_prefix_field)]
    fn close(&self);
}

/// An owned `StreamingHttpClient` trait object.
pub type StreamingHttpClientBox = StreamingHttpClient_TO<'static, RBox<()>>;

/// The runtime of a driven client (added in 1.5): a plugin runtime without threads of its own,
/// which the host runs on its threads whenever [`DrivenRuntime::ready_fd`] becomes readable.
///
/// Why: a plugin with a runtime of its own pays two cross-thread wake-ups per call (host →
/// plugin thread → host) and one more per body chunk. Driven, the thread that polls a call also
/// runs the plugin's tasks, as a transport linked into the host would.
#[sabi_trait]
pub trait DrivenRuntime: Send + Sync {
    /// A file descriptor that is readable while the runtime has work: I/O events of its
    /// sockets, or tasks woken from other threads (on Linux, the runtime's epoll instance).
    /// The host registers a duplicate of it with its own reactor, read interest only; it never
    /// reads from it or writes to it. Stays valid as long as this object lives.
    fn ready_fd(&self) -> i32;

    /// Runs the runtime's ready tasks and polls its I/O and timers once, without blocking for
    /// new events. Called on a host thread; returns `false` without running anything when
    /// another thread is driving the runtime at that moment. A panic inside is caught and
    /// logged by the plugin.
    #[sabi(last_prefix_field)]
    fn drive(&self) -> bool;
}

/// An owned [`DrivenRuntime`] trait object.
pub type DrivenRuntimeBox = DrivenRuntime_TO<'static, RBox<()>>;

/// What the root module's `new_driven_client` (added in 1.5) makes: a client whose exchanges
/// the host polls in place, and the runtime it runs on, which the host drives.
#[repr(C)]
#[derive(StableAbi)]
pub struct DrivenClient {
    /// The client, as `new_streaming_client` would make it.
    pub client: StreamingHttpClientBox,
    /// Its runtime. The host stops driving it (and drops it) once the client is gone.
    pub runtime: DrivenRuntimeBox,
}

/// The result of a socket read or write: how many bytes, or an error.
pub type IoResult = RResult<usize, FfiError>;

/// A TCP connection opened by the host for a plugin that runs on the host's threads (added in
/// 1.3). The socket is registered with the host's reactor, so a plugin polling it with the
/// host's waker is woken by the host's own I/O driver: the exchange never leaves the host's
/// threads.
#[sabi_trait]
pub trait HostSocket: Send {
    /// Reads into the `len` bytes at `buf` (which may be uninitialized), like
    /// `tokio::io::AsyncRead::poll_read`; `Ready(ROk(0))` is the end of the stream, `ROk(n)`
    /// means the first `n` bytes were written.
    ///
    /// # Safety
    /// `buf` must point to `len` bytes that are writable and not otherwise accessed for the
    /// duration of the call. (A raw pointer, so a read goes into a buffer's uninitialized
    /// spare capacity without zeroing it first.)
    unsafe fn poll_read(
        &mut self,
        cx: &mut FfiContext<'_>,
        buf: *mut u8,
        len: usize,
    ) -> FfiPoll<IoResult>;

    /// Writes some of `buf`, like `tokio::io::AsyncWrite::poll_write`.
    fn poll_write(&mut self, cx: &mut FfiContext<'_>, buf: RSlice<'_, u8>) -> FfiPoll<IoResult>;

    /// Writes some of `bufs` in one system call, like
    /// `tokio::io::AsyncWrite::poll_write_vectored` (a head and a body chunk go out together,
    /// without copying the chunk into the head's buffer first).
    fn poll_write_vectored(
        &mut self,
        cx: &mut FfiContext<'_>,
        bufs: RSlice<'_, RSlice<'_, u8>>,
    ) -> FfiPoll<IoResult>;

    /// Flushes buffered data (a no-op for a plain TCP socket).
    fn poll_flush(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<IoResult>;

    /// Shuts the write half down.
    #[sabi(last_prefix_field)]
    fn poll_shutdown(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<IoResult>;
}

/// An owned [`HostSocket`] trait object.
pub type HostSocketBox = HostSocket_TO<'static, RBox<()>>;

/// The result of a connect.
pub type ConnectResult = RResult<HostSocketBox, FfiError>;

/// What the host lends a plugin so that the plugin runs on the host's threads (added in 1.3,
/// given to the root module's `new_hosted_client`): TCP connections on the host's reactor,
/// tasks on the host's executor, and timers on the host's clock. A plugin that uses only these
/// (hyper, with its runtime-agnostic `rt` traits, can) costs no thread hand-off per exchange.
#[sabi_trait]
pub trait HostRuntime: Send + Sync + Clone {
    /// Resolves `host` and connects to `host:port` (TCP, `TCP_NODELAY` set). A failure is a
    /// [`ErrorKind::CONNECT`] error naming the address.
    fn connect(&self, host: RString, port: u16) -> FfiFuture<ConnectResult>;

    /// Runs `task` to its end on the host's runtime (a connection's background task). The
    /// task is dropped, unfinished, if the host's runtime shuts down first.
    fn spawn(&self, task: FfiFuture<()>);

    /// A future that completes `nanos` nanoseconds from now, on the host's timer.
    #[sabi(last_prefix_field)]
    fn sleep(&self, nanos: u64) -> FfiFuture<()>;
}

/// A shared [`HostRuntime`] trait object (cloned into the plugin's connector, executor and
/// timer).
pub type HostRuntimeBox = HostRuntime_TO<'static, abi_stable::std_types::RArc<()>>;

/// How much a log message matters (added in 1.4), in the numbering of the `log` and `tracing`
/// crates: [`LogLevel::ERROR`] is 1, [`LogLevel::TRACE`] 5, and 0 is [`LogLevel::OFF`].
///
/// A transparent `u8`, open like [`ErrorKind`]: a level this side does not know must not be
/// undefined behaviour. The host reads a value above `TRACE` as `TRACE`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LogLevel(pub u8);

impl LogLevel {
    /// Nothing is shown (only as an answer of [`HostLog::max_level`]).
    pub const OFF: LogLevel = LogLevel(0);
    /// Something failed.
    pub const ERROR: LogLevel = LogLevel(1);
    /// Something the operator should change (a deprecated option), or a failure that was
    /// handled.
    pub const WARN: LogLevel = LogLevel(2);
    /// What the plugin does, in broad steps.
    pub const INFO: LogLevel = LogLevel(3);
    /// Detail for diagnosing a problem.
    pub const DEBUG: LogLevel = LogLevel(4);
    /// Every detail.
    pub const TRACE: LogLevel = LogLevel(5);
}

/// The host's log channel (added in 1.4), handed to the plugin once it is loaded, through the
/// root module's `set_host_log`. Messages become the host's own log events, named after the
/// plugin, so the host's filters and its redaction of secrets apply to them.
///
/// Called from any thread of the plugin, at any time after the hand-off. The host treats what
/// it gets as untrusted: it decodes the bytes lossily, bounds their length, escapes control
/// characters and drops messages that come faster than it shows them (counting them).
#[sabi_trait]
pub trait HostLog: Send + Sync {
    /// Logs one message at `level`: UTF-8 text, without a trailing newline.
    fn log(&self, level: LogLevel, message: RSlice<'_, u8>);

    /// The most detailed level the host shows now ([`LogLevel::OFF`]: none), so that the
    /// plugin need not format a message the host would drop. It may change while the plugin
    /// runs (a program may set its logging up after loading the plugin).
    #[sabi(last_prefix_field)]
    fn max_level(&self) -> LogLevel;
}

/// An owned [`HostLog`] trait object.
pub type HostLogBox = HostLog_TO<'static, RBox<()>>;
