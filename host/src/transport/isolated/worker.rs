//! The worker process's side: confine, load the plugin from the inherited sealed copy, make its
//! client, and serve the host's calls until the host goes.
//!
//! The `apify-transport-worker` binary is only [`main`]. It inherits descriptors from the
//! host: the socket on fd 3, the sealed copy of the plugin on fd 4, its lanes from fd 5 on
//! (more sockets, each served like the first, so that each caller runtime of the host reads
//! and writes its own calls on its own thread), then a shared-memory ring per socket for
//! response bodies (`ring.rs`). It never opens the plugin's path.

use std::{
    collections::HashMap,
    os::fd::{FromRawFd, OwnedFd},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::{
    codec::{Decoder, Encoder, FramedRead},
    sync::CancellationToken,
};

use super::protocol::{
    BodyKind, CallHead, Frame, FrameCodec, Hello, Kind, LoadRefused, LogLine, ProtocolError, Ready,
    ResponseHead, WireError, WireHeaders, MAX_CHUNK, MAX_FRAME, PROTOCOL, SAME_RELEASE_FIX, WINDOW,
};
use super::ring::RingWriter;
use super::wire::{send_credited, send_credited_with, write_frames, Outbox};

/// A socket's shared ring for response bodies, if the host gave it one.
type Ring = Option<Arc<Mutex<RingWriter>>>;

/// What the calls of one socket share.
#[derive(Clone)]
struct Socket {
    calls: Arc<Mutex<HashMap<u64, WorkerCall>>>,
    out: Outbox,
    ring: Ring,
}
use crate::transport::{
    plugin::{loader, PluginTransport},
    HttpTransport, TransportError, TransportErrorKind, TransportRequest, TransportRequestBody,
};

/// The socket to the host.
pub(crate) const SOCKET_FD: i32 = 3;
/// The sealed copy of the plugin.
pub(crate) const IMAGE_FD: i32 = 4;
/// The first lane; Hello says how many follow.
pub(crate) const LANE_FD: i32 = 5;
/// The most lanes a worker takes.
pub(crate) const MAX_LANES: usize = 8;
/// The host's pid, so the worker can tell it was orphaned before it could ask to die with it.
pub(crate) const PARENT_ENV: &str = "APIFY_TRANSPORT_WORKER_PARENT";
/// How many runtime threads the worker runs (default [`DEFAULT_THREADS`]).
pub(crate) const THREADS_ENV: &str = "APIFY_TRANSPORT_WORKER_THREADS";
/// The worker's runtime threads unless [`THREADS_ENV`] says otherwise. One: the socket, the
/// calls and a hosted plugin's connections then share a thread, and no call wakes another
/// thread on its way through (a plugin with a runtime of its own has its own threads anyway).
/// With two, the sequential small-call rate of the hosted hyper plugin was about half.
const DEFAULT_THREADS: usize = 1;

/// How long, in µs, the worker's thread keeps looking for work before it sleeps (default
/// [`DEFAULT_SPIN_US`]; 0 turns it off; at most 10,000).
pub(crate) const SPIN_ENV: &str = "APIFY_TRANSPORT_WORKER_SPIN_US";
/// A worker between two events of a small call (the call's frame, the server's answer) sleeps
/// for a few tens of µs, and waking a sleeping CPU is the dearest part of a sequential call on
/// a virtual machine. Looking for 50 µs first took the hosted hyper plugin's sequential rate
/// from 0.54-0.65x to 0.82x of in process, reqwest's from 0.65x to 0.79x. The worker looks
/// only while [`Load::quiet`]: the host sent the latest call alone (no other in flight on its
/// socket), at most one call runs here, and no body moves. Under load it does not look, since
/// the looking would take CPU the host and the server want: with a gate on the worker's own
/// state alone, 32 in flight fell from 0.84x to 0.60x on 2 cores; with the host's word it
/// stayed at 0.86x. A worker with nothing to do sleeps after it either way.
const DEFAULT_SPIN_US: u64 = 50;

/// What the worker is doing, for whether it looks for work before it sleeps.
struct Load {
    /// Whether the host sent the latest call alone (no other in flight on its socket).
    alone: std::sync::atomic::AtomicBool,
    /// Calls started and not ended.
    calls: std::sync::atomic::AtomicUsize,
    /// Bodies moving: a request body still coming, a response body past its first chunk.
    bodies: std::sync::atomic::AtomicUsize,
}

static LOAD: Load = Load {
    alone: std::sync::atomic::AtomicBool::new(false),
    calls: std::sync::atomic::AtomicUsize::new(0),
    bodies: std::sync::atomic::AtomicUsize::new(0),
};

impl Load {
    /// A caller that sends one call at a time, at most one call here, and no body moving: the
    /// worker waits on one small exchange, and nothing else wants its CPU on its account.
    fn quiet(&self) -> bool {
        self.alone.load(std::sync::atomic::Ordering::Relaxed)
            && self.calls.load(std::sync::atomic::Ordering::Relaxed) <= 1
            && self.bodies.load(std::sync::atomic::Ordering::Relaxed) == 0
    }
}

/// Counts one in `counter` while it lives.
struct Counted(&'static std::sync::atomic::AtomicUsize);

impl Counted {
    fn new(counter: &'static std::sync::atomic::AtomicUsize) -> Counted {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Exit codes, for the host's message when a worker ends.
pub(crate) mod exit {
    /// The plugin could not be loaded (the host has the reason).
    pub const LOAD_REFUSED: u8 = 3;
    /// Not started by a host (no socket, no image, no parent).
    pub const NOT_FROM_A_HOST: u8 = 4;
    /// The host broke the protocol.
    pub const PROTOCOL: u8 = 5;
}

/// The worker binary's whole `main`.
pub fn main() -> ExitCode {
    // Ctrl-C in a terminal signals the whole process group; the host decides when its worker
    // ends (it closes the socket, or dies and takes the worker with it).
    // SAFETY: setting a signal's disposition to "ignore" at start, before any thread exists.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    // SAFETY: getppid has no preconditions.
    let orphaned = parent.is_none_or(|p| unsafe { libc::getppid() } != p);
    if orphaned {
        eprintln!(
            "apify-transport-worker: this program serves a transport plugin for apify-host and \
             is started by it (through `[transport] isolation = \"process\"`), not by hand"
        );
        return ExitCode::from(exit::NOT_FROM_A_HOST);
    }
    // SAFETY: the host placed these descriptors at these numbers before exec (see
    // `spawn.rs`); nothing else in this process owns them.
    let (socket, image) = unsafe {
        (
            OwnedFd::from_raw_fd(SOCKET_FD),
            OwnedFd::from_raw_fd(IMAGE_FD),
        )
    };
    let mut socket = std::os::unix::net::UnixStream::from(socket);
    // Hello is read, and the process confined, before the runtime starts: Landlock and
    // no_new_privs hold for the thread that asks and the threads it starts afterwards, so
    // every runtime thread (where a hosted plugin's calls run) must be started after it.
    let hello = match read_hello(&mut socket) {
        Ok(First::Hello(h)) => h,
        Ok(First::Closed) => return ExitCode::SUCCESS,
        Ok(First::OtherVersion(theirs)) => {
            refuse_other_version(&mut socket, theirs);
            return ExitCode::from(exit::LOAD_REFUSED);
        }
        Err(e) => return protocol_exit(&e),
    };
    let (lanes, mut rings) = match take_lanes(hello.lanes).and_then(|l| {
        let r = take_rings(hello.lanes, hello.ring)?;
        Ok((l, r))
    }) {
        Ok(x) => x,
        Err(e) => return protocol_exit(&e),
    };
    // The first socket's ring first, then the lanes' in their order.
    let ring = rings.next().flatten();
    let lanes: Vec<_> = lanes
        .into_iter()
        .zip(rings.chain(std::iter::repeat_with(|| None)))
        .collect();
    let confinement = if hello.confine {
        super::confine::confine(&hello.readable)
    } else {
        "none: turned off by the host ([transport] confine = false)".to_string()
    };
    let threads = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|t| (1..=64).contains(t))
        .unwrap_or(DEFAULT_THREADS);
    // One thread: a current-thread runtime driven by this thread, so a frame read, the call
    // it starts and a hosted plugin's connections all run here and no call wakes a thread.
    let spin = Duration::from_micros(
        std::env::var(SPIN_ENV)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(DEFAULT_SPIN_US)
            .min(10_000),
    );
    let reactor = Arc::new(std::sync::atomic::AtomicI32::new(-1));
    let built = if threads == 1 {
        let reactor = reactor.clone();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || spin_before_sleep(&reactor, spin))
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("apify-transport-worker")
            .enable_all()
            .build()
    };
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            eprintln!("apify-transport-worker: cannot start its runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if threads == 1 && !spin.is_zero() {
        if let Some(fd) = apify_plugin_api::__private::find_epoll(&runtime) {
            reactor.store(fd, std::sync::atomic::Ordering::Relaxed);
        }
    }
    // On a multi-thread runtime the connection is served by a task on the runtime's threads,
    // not by `block_on` on this one: the frames it reads then start their calls on the same
    // thread (tokio runs a task spawned by a worker next, on that worker), where from here
    // every call would cost a wake-up of a runtime thread.
    let code = runtime.block_on(async move {
        tokio::spawn(serve(socket, ring, lanes, image, hello, confinement))
            .await
            .unwrap_or(ExitCode::FAILURE)
    });
    // The plugin's client and its threads may linger; the host is gone or done with us.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Runs before the runtime's thread sleeps: polls the runtime's epoll instance (without
/// taking its events, which the runtime then reads at once) until it has one or `spin` is over.
fn spin_before_sleep(reactor: &std::sync::atomic::AtomicI32, spin: Duration) {
    let fd = reactor.load(std::sync::atomic::Ordering::Relaxed);
    if fd < 0 || spin.is_zero() || !LOAD.quiet() {
        return;
    }
    let deadline = std::time::Instant::now() + spin;
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one descriptor the runtime holds open, with a zero timeout.
        if unsafe { libc::poll(&mut p, 1, 0) } != 0 || std::time::Instant::now() >= deadline {
            return;
        }
        std::hint::spin_loop();
    }
}

/// What the host's first frame said.
enum First {
    Hello(Hello),
    /// The host closed the socket first.
    Closed,
    /// A Hello of another wire version (this one), whose rest may not read as ours.
    OtherVersion(u32),
}

/// Reads the host's first frame, Hello, with blocking reads.
fn read_hello(socket: &mut std::os::unix::net::UnixStream) -> Result<First, ProtocolError> {
    use std::io::Read;
    // Exactly one frame: the host sends nothing more before the worker's answer.
    let mut len = [0u8; 4];
    match socket.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(First::Closed),
        Err(e) => return Err(e.into()),
    }
    let n = u32::from_le_bytes(len) as usize;
    if !(9..=MAX_FRAME).contains(&n) {
        return Err(ProtocolError::new(format!("a first frame of {n} bytes")));
    }
    let mut buf = BytesMut::zeroed(4 + n);
    buf[..4].copy_from_slice(&len);
    socket.read_exact(&mut buf[4..])?;
    let frame = FrameCodec
        .decode(&mut buf)?
        .ok_or_else(|| ProtocolError::new("a truncated first frame"))?;
    if frame.kind != Kind::Hello {
        return Err(ProtocolError::new(format!("{:?} before Hello", frame.kind)));
    }
    let (theirs, _) = postcard::take_from_bytes::<u32>(&frame.payload)
        .map_err(|e| ProtocolError::new(format!("a Hello without a version ({e})")))?;
    if theirs != PROTOCOL {
        return Ok(First::OtherVersion(theirs));
    }
    frame.decode().map(First::Hello)
}

/// Tells a host of another wire version, in the one message every version reads alike
/// ([`LoadRefused`]), which worker to use instead.
fn refuse_other_version(socket: &mut std::os::unix::net::UnixStream, theirs: u32) {
    use std::io::Write;
    let me = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "apify-transport-worker".into());
    let refused = LoadRefused {
        check: "protocol".into(),
        failure: "LoadFailed".into(),
        reason: format!(
            "the transport worker {me} speaks version {PROTOCOL} of the wire to its host, and \
             this host version {theirs}: they come from different releases of apify-host"
        ),
        fix: SAME_RELEASE_FIX.into(),
        passed: Vec::new(),
    };
    let mut buf = BytesMut::new();
    if FrameCodec
        .encode(Frame::message(Kind::LoadRefused, 0, &refused), &mut buf)
        .is_ok()
    {
        let _ = socket.write_all(&buf);
    }
}

/// The lanes the host passed, checked to be open sockets before they are owned.
fn take_lanes(n: u8) -> Result<Vec<std::os::unix::net::UnixStream>, ProtocolError> {
    if usize::from(n) > MAX_LANES {
        return Err(ProtocolError::new(format!(
            "{n} lanes (at most {MAX_LANES})"
        )));
    }
    (0..i32::from(n))
        .map(|k| {
            let fd = LANE_FD + k;
            // SAFETY: fstat on a descriptor number only reads its type; nothing owns it yet.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let is_socket = unsafe { libc::fstat(fd, &mut st) } == 0
                && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
            if !is_socket {
                return Err(ProtocolError::new(format!("lane fd {fd} is not a socket")));
            }
            // SAFETY: an open socket the host placed at this number for us (see `spawn.rs`);
            // nothing else in this process owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) }.into())
        })
        .collect()
}

/// The rings the host passed after the lanes (one per socket, or none when `size` is 0).
fn take_rings(lanes: u8, size: u32) -> Result<impl Iterator<Item = Ring>, ProtocolError> {
    let count = if size == 0 { 0 } else { i32::from(lanes) + 1 };
    let first = LANE_FD + i32::from(lanes);
    let rings = (first..first + count)
        .map(|fd| {
            // SAFETY: fstat on a descriptor number only reads its type; nothing owns it yet.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let is_file = unsafe { libc::fstat(fd, &mut st) } == 0
                && st.st_mode & libc::S_IFMT == libc::S_IFREG;
            if !is_file {
                return Err(ProtocolError::new(format!(
                    "ring fd {fd} is not a memory file"
                )));
            }
            // SAFETY: an open memory file the host placed at this number for us.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            RingWriter::open(owned, size)
                .map(|r| Some(Arc::new(Mutex::new(r))))
                .ok_or_else(|| {
                    ProtocolError::new(format!("ring fd {fd} is not a ring of {size} bytes"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rings.into_iter())
}

async fn serve(
    socket: std::os::unix::net::UnixStream,
    ring: Ring,
    lanes: Vec<(std::os::unix::net::UnixStream, Ring)>,
    image: OwnedFd,
    hello: Hello,
    confinement: String,
) -> ExitCode {
    let socket = match socket
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(socket))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apify-transport-worker: fd {SOCKET_FD} is not the host's socket: {e}");
            return ExitCode::from(exit::NOT_FROM_A_HOST);
        }
    };
    let (read, write) = socket.into_split();
    let mut frames = FramedRead::new(read, FrameCodec);
    let (out, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_frames(write, rx, CancellationToken::new()));

    let client = match start(hello, confinement, image, &out) {
        Some(c) => Arc::new(c),
        None => {
            drop(out);
            let _ = writer.await;
            return ExitCode::from(exit::LOAD_REFUSED);
        }
    };

    for (lane, ring) in lanes {
        tokio::spawn(serve_lane(lane, ring, client.clone()));
    }
    match serve_frames(&mut frames, &client, &out, &ring).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => protocol_exit(&e),
    }
}

/// Serves one lane until the host closes it (its runtime ended) or the process exits.
async fn serve_lane(
    lane: std::os::unix::net::UnixStream,
    ring: Ring,
    client: Arc<PluginTransport>,
) {
    let Ok(socket) = lane
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(lane))
    else {
        return;
    };
    let (read, write) = socket.into_split();
    let mut frames = FramedRead::new(read, FrameCodec);
    let (out, rx) = mpsc::unbounded_channel();
    tokio::spawn(write_frames(write, rx, CancellationToken::new()));
    if let Err(e) = serve_frames(&mut frames, &client, &out, &ring).await {
        // As on the first socket: the host is not to be trusted any further.
        eprintln!("apify-transport-worker: the host broke the protocol on a lane ({e}); exiting");
        std::process::exit(i32::from(exit::PROTOCOL));
    }
}

/// Serves the calls of one socket until the host closes it; the calls still running then are
/// cancelled.
async fn serve_frames(
    frames: &mut FramedRead<tokio::net::unix::OwnedReadHalf, FrameCodec>,
    client: &Arc<PluginTransport>,
    out: &Outbox,
    ring: &Ring,
) -> Result<(), ProtocolError> {
    let socket = Socket {
        calls: Arc::default(),
        out: out.clone(),
        ring: ring.clone(),
    };
    let result = loop {
        let frame = match frames.next().await {
            Some(Ok(f)) => f,
            // The host closed or reset the socket: it is done with us, or gone (a reset
            // when it closed the socket with frames of ours unread, as when the runtime
            // its calls ran on ended).
            Some(Err(e)) if e.hung_up() => break Ok(()),
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        };
        if let Err(e) = dispatch(frame, client, &socket) {
            break Err(e);
        }
    };
    for (_, call) in socket
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
    {
        call.cancel();
    }
    result
}

fn protocol_exit(e: &ProtocolError) -> ExitCode {
    eprintln!("apify-transport-worker: the host broke the protocol ({e}); exiting");
    ExitCode::from(exit::PROTOCOL)
}

/// Runs the loader's checks on the sealed copy, then makes the client; the process is
/// confined already (see [`main`]), so no byte of the plugin runs before the confinement holds.
fn start(
    hello: Hello,
    confinement: String,
    image: OwnedFd,
    out: &Outbox,
) -> Option<PluginTransport> {
    // The plugin's log goes to the host, set before it loads (the loader hands it the channel).
    let logs = out.clone();
    crate::transport::plugin::log::forward_to(
        apify_plugin_api::abi::ffi::LogLevel(hello.log_level),
        move |level, plugin, text| {
            let line = LogLine {
                level: level.0,
                plugin: plugin.to_string(),
                text: text.to_string(),
            };
            let _ = logs.send(Frame::message(Kind::Log, 0, &line));
        },
    );
    let mut checks = Vec::new();
    let path = std::path::PathBuf::from(&hello.path);
    let loaded = loader::load_inherited(&path, image, &hello.sha256, &mut checks);
    let passed = |checks: &[loader::PluginCheck]| {
        checks
            .iter()
            .filter_map(|c| {
                c.result
                    .as_ref()
                    .ok()
                    .map(|d| (c.check.to_string(), d.clone()))
            })
            .collect::<Vec<_>>()
    };
    let refuse = |check: &str, e: &loader::PluginLoadError, passed| {
        let refused = LoadRefused {
            check: check.to_string(),
            failure: format!("{:?}", e.failure),
            reason: e.reason.clone(),
            fix: e.fix.clone(),
            passed,
        };
        let _ = out.send(Frame::message(Kind::LoadRefused, 0, &refused));
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            let check = checks.last().map_or("load", |c| c.check);
            refuse(check, &e, passed(&checks[..checks.len().saturating_sub(1)]));
            return None;
        }
    };
    let options: serde_json::Value =
        serde_json::from_str(&hello.options).unwrap_or_else(|_| serde_json::json!({}));
    let before = crate::transport::plugin::thread_count();
    let client = if hello.hosted {
        loaded.new_client(&options)
    } else {
        loaded.new_client_on_own_runtime(&options)
    };
    let threads_started = before
        .zip(crate::transport::plugin::thread_count())
        .map(|(b, a)| a.saturating_sub(b) as u32);
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            refuse("constructor", &e, passed(&checks));
            return None;
        }
    };
    let m = &loaded.metadata;
    let ready = Ready {
        name: m.name.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        api_major: m.api_major,
        api_minor: m.api_minor,
        capabilities: m.capabilities.0,
        diagnostics: m.diagnostics.clone(),
        checks: passed(&checks),
        runs: client.runs(),
        threads_started,
        confinement,
    };
    let _ = out.send(Frame::message(Kind::Ready, 0, &ready));
    Some(client)
}

/// A call the worker is serving.
struct WorkerCall {
    /// The task serving it, once started: aborted when the host gives up on the call, or the
    /// connection ends (dropping the plugin's exchange, which cancels it).
    task: Option<tokio::task::AbortHandle>,
    /// Room the host granted for response body bytes.
    credit: Arc<Semaphore>,
    /// Where request body chunks go: a whole body being gathered, or a stream's channel.
    body: Option<IncomingBody>,
}

impl WorkerCall {
    /// The host gave up on it, or the connection ended: its task (if it started) is dropped at
    /// its next turn, and a body waiting for room stops waiting.
    fn cancel(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        self.credit.close();
    }
}

enum IncomingBody {
    /// A whole body: gathered, then the call starts with it.
    Full {
        head: Box<CallHead>,
        buf: BytesMut,
        expected: u64,
        _moving: Counted,
    },
    /// A streamed body: the call has started and reads it from this channel.
    Stream {
        tx: mpsc::UnboundedSender<Result<Bytes, TransportError>>,
        _moving: Counted,
    },
}

fn dispatch(
    frame: Frame,
    client: &Arc<PluginTransport>,
    socket: &Socket,
) -> Result<(), ProtocolError> {
    let (calls, out) = (&socket.calls, &socket.out);
    let id = frame.id;
    let mut map = calls.lock().unwrap_or_else(|e| e.into_inner());
    match frame.kind {
        Kind::Call => {
            let head: CallHead = frame.decode()?;
            LOAD.alone
                .store(head.alone, std::sync::atomic::Ordering::Relaxed);
            if map.contains_key(&id) {
                return Err(ProtocolError::new(format!("call {id} started twice")));
            }
            let mut call = WorkerCall {
                task: None,
                credit: Arc::new(Semaphore::new(WINDOW as usize)),
                body: None,
            };
            match head.body {
                BodyKind::Full(0) => {
                    call.task = Some(start_call(
                        id,
                        head,
                        TransportRequestBody::empty(),
                        &call,
                        client,
                        socket,
                    ));
                }
                BodyKind::Full(n) => {
                    call.body = Some(IncomingBody::Full {
                        expected: n,
                        buf: BytesMut::with_capacity(n.min(64 << 20) as usize),
                        head: Box::new(head),
                        _moving: Counted::new(&LOAD.bodies),
                    });
                }
                BodyKind::Stream(length) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let stream = CreditedBody {
                        rx,
                        id,
                        out: out.clone(),
                        unacked: 0,
                    };
                    let body = TransportRequestBody::Stream {
                        stream: Box::pin(stream),
                        length,
                    };
                    call.body = Some(IncomingBody::Stream {
                        tx,
                        _moving: Counted::new(&LOAD.bodies),
                    });
                    call.task = Some(start_call(id, head, body, &call, client, socket));
                }
            }
            map.insert(id, call);
        }
        Kind::RequestData => {
            let Some(call) = map.get_mut(&id) else {
                return Ok(()); // a call that ended already
            };
            match &mut call.body {
                Some(IncomingBody::Full { buf, expected, .. }) => {
                    if buf.len() as u64 + frame.payload.len() as u64 > *expected {
                        return Err(ProtocolError::new(format!(
                            "call {id}: more body than announced"
                        )));
                    }
                    buf.extend_from_slice(&frame.payload);
                }
                Some(IncomingBody::Stream { tx, .. }) => {
                    let _ = tx.send(Ok(frame.payload));
                }
                None => return Err(ProtocolError::new(format!("call {id}: body after its end"))),
            }
        }
        Kind::RequestEnd => {
            let Some(call) = map.get_mut(&id) else {
                return Ok(());
            };
            match call.body.take() {
                Some(IncomingBody::Full {
                    head,
                    buf,
                    expected,
                    ..
                }) => {
                    if buf.len() as u64 != expected {
                        return Err(ProtocolError::new(format!(
                            "call {id}: body shorter than announced"
                        )));
                    }
                    call.task = Some(start_call(
                        id,
                        *head,
                        TransportRequestBody::Full(buf.freeze()),
                        call,
                        client,
                        socket,
                    ));
                }
                Some(IncomingBody::Stream { tx, .. }) => drop(tx), // the stream ends
                None => return Err(ProtocolError::new(format!("call {id}: body ended twice"))),
            }
        }
        Kind::RequestFailed => {
            let e: WireError = frame.decode()?;
            if let Some(call) = map.get_mut(&id) {
                match call.body.take() {
                    Some(IncomingBody::Stream { tx, .. }) => {
                        let _ = tx.send(Err(e.into()));
                    }
                    _ => {
                        if let Some(call) = map.remove(&id) {
                            call.cancel();
                        }
                    }
                }
            }
        }
        Kind::Cancel => {
            if let Some(call) = map.remove(&id) {
                call.cancel();
            }
        }
        Kind::ResponseCredit => {
            let n = frame.credit_amount()?;
            if let Some(call) = map.get(&id) {
                call.credit.add_permits(n as usize);
            }
        }
        other => {
            return Err(ProtocolError::new(format!(
                "a {other:?} frame from the host"
            )));
        }
    }
    Ok(())
}

/// Starts serving call `id` on a task of its own.
fn start_call(
    id: u64,
    head: CallHead,
    body: TransportRequestBody,
    call: &WorkerCall,
    client: &Arc<PluginTransport>,
    socket: &Socket,
) -> tokio::task::AbortHandle {
    let credit = call.credit.clone();
    let client = client.clone();
    let Socket { calls, out, ring } = socket.clone();
    tokio::spawn(async move {
        let _call = Counted::new(&LOAD.calls);
        match request_from_wire(head, body) {
            Ok(request) => serve_call(id, request, &client, &credit, &out, &ring).await,
            Err(e) => drop(out.send(Frame::message(Kind::Failed, id, &WireError::from(&e)))),
        }
        calls.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    })
    .abort_handle()
}

fn request_from_wire(
    head: CallHead,
    body: TransportRequestBody,
) -> Result<TransportRequest, TransportError> {
    let invalid = |what: String| TransportError::new(TransportErrorKind::INVALID_REQUEST, what);
    let method = http::Method::from_bytes(head.method.as_bytes())
        .map_err(|_| invalid(format!("an invalid method {:?}", head.method)))?;
    Ok(TransportRequest {
        method,
        url: head.url,
        headers: head.headers.0,
        body,
        timeout: head.timeout_ms.map(Duration::from_millis),
        stream: head.stream,
    })
}

/// Runs one call on the plugin and sends its head, body and end (or its failure).
async fn serve_call(
    id: u64,
    request: TransportRequest,
    client: &PluginTransport,
    credit: &Semaphore,
    out: &Outbox,
    ring: &Ring,
) {
    let streamed = request.stream;
    let response = match client.call(request).await {
        Ok(r) => r,
        Err(e) => {
            let _ = out.send(Frame::message(Kind::Failed, id, &WireError::from(&e)));
            return;
        }
    };
    let head = ResponseHead {
        status: response.status.as_u16(),
        headers: WireHeaders(response.headers),
    };
    let mut body = response.body;
    // A body the host reads whole anyway goes with its head: the head waits for the first
    // chunk (or the end), so that a small answer is one write and wakes the host once, not
    // once for its head and again for its body (a plugin with a runtime of its own often
    // hands over the body a wake-up after the head). A body that is all there by then (one
    // chunk, and the end already known) goes in one frame with the head.
    // Items taken from the body before the head went, in order.
    let (mut first, mut second) = (None, None);
    if !streamed {
        match body.next().await {
            None => {
                let _ = out.send(Frame::answer(id, &head, &[]));
                return;
            }
            Some(Ok(chunk)) if chunk.len() <= MAX_CHUNK => {
                // Without waiting: a plugin whose body ends a wake-up after its last chunk (a
                // hyper connection task closes it) sends the head, body and end as before;
                // yielding once for it cost hosted hyper a fifth of its rate at 32 in flight
                // with free placement.
                match futures_util::FutureExt::now_or_never(body.next()) {
                    Some(None) => {
                        let _ = out.send(Frame::answer(id, &head, &chunk));
                        return;
                    }
                    Some(Some(next)) => (first, second) = (Some(Some(Ok(chunk))), Some(Some(next))),
                    None => first = Some(Some(Ok(chunk))),
                }
            }
            item => first = Some(item),
        }
    }
    let _ = out.send(Frame::message(Kind::Head, id, &head));
    // A body of more than one chunk is moving (see `Load`) from its second chunk on.
    let (mut sent_one, mut _moving) = (false, None);
    loop {
        let next = match first.take().or_else(|| second.take()) {
            Some(item) => item,
            None => body.next().await,
        };
        let Some(chunk) = next else { break };
        if sent_one && _moving.is_none() {
            _moving = Some(Counted::new(&LOAD.bodies));
        }
        sent_one = true;
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = out.send(Frame::message(Kind::Failed, id, &WireError::from(&e)));
                return;
            }
        };
        // Room granted by the host: without it the plugin's body is not read further, which
        // is the backpressure down to the plugin's socket.
        let sent = match ring {
            Some(ring) => send_shared(out, ring, id, chunk, credit).await,
            None => send_credited(out, Kind::ResponseData, id, chunk, credit).await,
        };
        if !sent {
            return; // cancelled
        }
    }
    let _ = out.send(Frame::raw(Kind::ResponseEnd, id, Bytes::new()));
}

/// Sends `chunk` like [`send_credited`], each piece through the socket's ring when it has
/// room (inline otherwise). The piece is copied in and its frame queued under the ring's
/// lock, so that the frames go out in the order of the bytes in the ring.
async fn send_shared(
    out: &Outbox,
    ring: &Mutex<RingWriter>,
    id: u64,
    chunk: Bytes,
    credit: &Semaphore,
) -> bool {
    send_credited_with(chunk, credit, |piece| {
        let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        let frame = if ring.put(&piece) {
            Frame::shared(id, piece.len() as u32)
        } else {
            Frame::raw(Kind::ResponseData, id, piece)
        };
        out.send(frame).is_ok()
    })
    .await
}

/// A streamed request body as the plugin reads it, granting the host room as it goes.
struct CreditedBody {
    rx: mpsc::UnboundedReceiver<Result<Bytes, TransportError>>,
    id: u64,
    out: Outbox,
    unacked: u32,
}

impl futures_core::Stream for CreditedBody {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.rx.poll_recv(cx));
        if let Some(Ok(chunk)) = &item {
            self.unacked += chunk.len() as u32;
            if self.unacked >= WINDOW / 2 {
                let n = std::mem::take(&mut self.unacked);
                let _ = self
                    .out
                    .send(Frame::credit(Kind::RequestCredit, self.id, n));
            }
        }
        std::task::Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spin finds the runtime's epoll instance, returns at once when it has an event, and
    /// does not look at all for a caller with other calls in flight.
    #[test]
    fn the_spin_watches_the_runtimes_epoll_instance() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fd = apify_plugin_api::__private::find_epoll(&runtime)
            .expect("the runtime's epoll instance");
        let reactor = std::sync::atomic::AtomicI32::new(fd);
        // A caller with other calls in flight: no looking at all.
        LOAD.alone
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let start = std::time::Instant::now();
        spin_before_sleep(&reactor, Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
        // A caller with one call at a time, and nothing registered is ready: the spin runs its
        // whole time.
        LOAD.alone.store(true, std::sync::atomic::Ordering::Relaxed);
        let start = std::time::Instant::now();
        spin_before_sleep(&reactor, Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A socket with bytes waiting, registered with the runtime: the epoll instance is
        // readable, and the spin ends long before its 10 s.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let _registered = runtime.block_on(async { tokio::net::UnixStream::from_std(b).unwrap() });
        use std::io::Write;
        (&a).write_all(b"x").unwrap();
        let start = std::time::Instant::now();
        spin_before_sleep(&reactor, Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
