//! Keeps one worker alive for a plugin: starts it, notices its death, fails the calls it took
//! with it, starts the next at once, and stops restarting a worker that keeps dying.

use std::{
    collections::VecDeque,
    io::{Read, Write},
    os::fd::AsRawFd,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};

use bytes::BytesMut;
use tokio_util::{
    codec::{Decoder, Encoder},
    sync::CancellationToken,
};

use super::connection::{Connection, Death};
use super::protocol::{Frame, FrameCodec, Hello, Kind, LoadRefused, LogLine, Ready};
use super::ring::RingReader;
use super::spawn::{describe_exit, spawn, Spawned};
use crate::transport::{
    plugin::{loader::fail, PluginLoadError, PluginLoadFailure},
    TransportError, TransportErrorKind,
};

/// More deaths than this within [`DEATH_WINDOW`] make the transport fail fast.
pub(crate) const MAX_DEATHS: usize = 20;
/// The window deaths are counted in.
pub(crate) const DEATH_WINDOW: Duration = Duration::from_secs(60);
/// How long calls fail at once after too many deaths.
pub(crate) const FAIL_FAST: Duration = Duration::from_secs(10);
/// How long a worker may take from exec to ready (loading and constructing the plugin).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a closed or killed worker is given to exit before the host kills it.
const EXIT_LIMIT: Duration = Duration::from_secs(5);
/// How long a dead worker's sockets are read for the answers it wrote before it died.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How often the host looks for calls whose head is overdue.
const HUNG_CHECK: Duration = Duration::from_millis(250);

/// The runtime the workers' sockets are served on: one thread for the whole process, so that a
/// transport works from any runtime that calls it (the CLI's, a test's, the blocking client's)
/// and outlives each of them.
pub(crate) fn io() -> &'static tokio::runtime::Handle {
    static IO: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    IO.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime starts");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("apify-transport-io".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the transport I/O thread starts");
        handle
    })
}

/// What every worker of one plugin is started with.
pub(crate) struct Spec {
    pub worker: PathBuf,
    /// The plugin's path, for messages.
    pub path: PathBuf,
    /// The sealed copy, kept open for every restart; the host never maps it executable.
    pub image: std::os::fd::OwnedFd,
    pub hello: Hello,
    /// How far past its head deadline a call may go before the worker counts as hung.
    pub grace: Duration,
}

/// How many lanes each worker gets: one per caller runtime, the first ones to call (a program
/// has a few runtimes; a call from any further one goes through the I/O thread).
pub(crate) const LANES: usize = 4;

/// A worker's lanes: sockets besides its first, each bound on first use to the runtime of the
/// call that used it, whose own threads then read and write its calls. A call on the first
/// socket costs two more thread wake-ups (there and back through the I/O thread).
#[derive(Default)]
struct Lanes {
    /// Not bound yet, with their rings.
    free: Vec<(std::os::unix::net::UnixStream, Option<RingReader>)>,
    /// Bound: the runtime each serves, and its connection.
    bound: Vec<(tokio::runtime::Id, Arc<Connection>)>,
    /// Set once the worker ended: none is bound any more.
    ended: bool,
}

/// A worker that answered Ready.
pub(crate) struct Worker {
    pub pid: u32,
    /// Its first socket, served on the I/O thread.
    conn: Arc<Connection>,
    lanes: Mutex<Lanes>,
    /// Call ids, unique across its sockets.
    next_id: Arc<std::sync::atomic::AtomicU64>,
    /// The supervisor's count of lanes bound.
    lanes_bound: Arc<std::sync::atomic::AtomicU64>,
    /// Why the host killed it, when it did (a call overdue, the protocol broken).
    killed_for: Mutex<Option<String>>,
    /// The calls it was killed for (their heads overdue).
    overdue: Mutex<Vec<u64>>,
    /// Set when the transport is done with it: its end is no death.
    retired: AtomicBool,
    /// Cancelling it closes the socket, which tells the worker to exit.
    close: CancellationToken,
}

impl Worker {
    fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a call made here goes: the lane of the caller's runtime (bound on its first call),
    /// else the first socket (outside a runtime, every lane taken, or the worker ended).
    ///
    /// A lane's calls are read and written by its runtime, like a tokio socket's: a call made
    /// on a runtime, and its response body, need that runtime running until they are done.
    /// When the runtime ends, its lane closes and the calls still on it fail.
    pub(crate) fn connection(self: &Arc<Self>) -> Arc<Connection> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.conn.clone();
        };
        let id = runtime.id();
        let mut lanes = self.lanes();
        if lanes.ended {
            return self.conn.clone();
        }
        if let Some((_, conn)) = lanes.bound.iter().find(|(i, c)| *i == id && c.usable()) {
            return conn.clone();
        }
        lanes.bound.retain(|(_, c)| c.usable());
        let Some((lane, ring)) = lanes.free.pop() else {
            return self.conn.clone();
        };
        match self.bind(lane, ring, &runtime) {
            Some(conn) => {
                self.lanes_bound.fetch_add(1, Ordering::Relaxed);
                lanes.bound.push((id, conn.clone()));
                conn
            }
            None => self.conn.clone(),
        }
    }

    /// Serves `lane` on `runtime` (the caller's, entered).
    fn bind(
        self: &Arc<Self>,
        lane: std::os::unix::net::UnixStream,
        ring: Option<RingReader>,
        runtime: &tokio::runtime::Handle,
    ) -> Option<Arc<Connection>> {
        let socket = lane
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(lane))
            .ok()?;
        let (conn, frames) = Connection::start(
            socket,
            ring,
            self.conn.grace(),
            self.next_id.clone(),
            runtime,
        );
        conn.set_pid(self.pid);
        let (reader, worker) = (conn.clone(), Arc::downgrade(self));
        runtime.spawn(async move {
            let mut guard = LaneGuard {
                conn: reader.clone(),
                ended_by_worker: false,
            };
            match reader.read_frames(frames).await {
                // The worker closed (or reset) it: it is exiting, and the supervisor fails the
                // calls with how it ended (and retries them).
                Ok(()) => {}
                Err(e) if e.hung_up() => {}
                Err(e) => {
                    if let Some(w) = worker.upgrade() {
                        w.kill(format!("it broke the protocol on a lane ({e})"));
                    }
                }
            }
            guard.ended_by_worker = true;
        });
        Some(conn)
    }

    /// Its first socket and its bound lanes.
    fn connections(&self) -> Vec<Arc<Connection>> {
        let lanes = self.lanes();
        std::iter::once(self.conn.clone())
            .chain(lanes.bound.iter().map(|(_, c)| c.clone()))
            .collect()
    }

    /// Fails every call still open on every socket with `death`; no lane is bound after it.
    ///
    /// Each socket is first read to its end (at most [`DRAIN_LIMIT`]): a worker may answer
    /// calls and die before the host read the answers, which wait in the socket (a lane's
    /// reader runs on its caller's runtime, which may be busy). Failed as if the worker had
    /// died with them, those calls would be sent again, and a POST would run twice.
    async fn fail_all(&self, death: Arc<Death>, overdue: &[u64]) {
        let conns = {
            let mut lanes = self.lanes();
            lanes.ended = true;
            lanes.free.clear();
            std::iter::once(self.conn.clone())
                .chain(lanes.bound.drain(..).map(|(_, c)| c))
                .collect::<Vec<_>>()
        };
        futures_util::future::join_all(conns.into_iter().map(|conn| {
            let death = death.clone();
            async move {
                let _ = tokio::time::timeout(DRAIN_LIMIT, conn.drained()).await;
                conn.fail_all(death, overdue);
            }
        }))
        .await;
    }

    fn kill(&self, why: String) {
        let mut k = self.killed_for.lock().unwrap_or_else(|e| e.into_inner());
        if k.is_none() {
            *k = Some(why);
            // SAFETY: kill(2) on our own child's pid; it is reaped only by its wait thread, which
            // reports its exit before anyone could see the pid reused.
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
    }
}

/// What the supervisor counted, for `transport info`, statistics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerCounts {
    /// Workers started, the first included.
    pub started: u64,
    /// Workers that died (not those the transport retired).
    pub deaths: u64,
    /// Workers the host killed because a call's head was overdue.
    pub killed_hung: u64,
    /// Lanes bound to a caller's runtime, over every worker: calls from such a runtime are
    /// read and written on its own threads, not through the transport's I/O thread.
    pub lanes_bound: u64,
}

struct State {
    current: Option<Arc<Worker>>,
    deaths: VecDeque<Instant>,
    /// Until when calls fail at once, and why.
    fail_fast: Option<(Instant, String)>,
    counts: WorkerCounts,
}

/// The supervisor of one plugin's worker.
pub(crate) struct Supervisor {
    spec: Arc<Spec>,
    lanes_bound: Arc<std::sync::atomic::AtomicU64>,
    state: Mutex<State>,
    /// Held while a worker starts, so that calls arriving meanwhile wait for that one.
    starting: tokio::sync::Mutex<()>,
    /// Calls retried after a death go one at a time until their head: if one of them is what
    /// kills workers, it kills the next one alone, not the other survivors with it.
    pub(crate) retry_gate: tokio::sync::Semaphore,
    myself: Weak<Supervisor>,
}

impl Supervisor {
    /// Starts the first worker, synchronously: a plugin that cannot load is refused here, in
    /// the worker's words, as the in-process loader would refuse it.
    pub(crate) fn start(spec: Spec) -> Result<(Arc<Supervisor>, Ready, u32), PluginLoadError> {
        let spec = Arc::new(spec);
        let (spawned, ready) = handshake(&spec)?;
        let pid = spawned.pid;
        let sup = Arc::new_cyclic(|myself| Supervisor {
            spec,
            lanes_bound: Arc::default(),
            state: Mutex::new(State {
                current: None,
                deaths: VecDeque::new(),
                fail_fast: None,
                counts: WorkerCounts {
                    started: 1,
                    ..WorkerCounts::default()
                },
            }),
            starting: tokio::sync::Mutex::new(()),
            retry_gate: tokio::sync::Semaphore::new(1),
            myself: myself.clone(),
        });
        let worker = sup.attach(spawned).map_err(|e| {
            fail(
                &sup.spec.path,
                PluginLoadFailure::LoadFailed,
                e.message,
                "Report this",
            )
        })?;
        sup.state().current = Some(worker);
        Ok((sup, ready, pid))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> WorkerCounts {
        WorkerCounts {
            lanes_bound: self.lanes_bound.load(Ordering::Relaxed),
            ..self.state().counts
        }
    }

    /// The live worker's pid, if one runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.state().current.as_ref().map(|w| w.pid)
    }

    /// The live worker, started if there is none; `not_pid` skips a worker known to be dead
    /// whose death the supervisor has not processed yet.
    pub(crate) async fn worker(&self, not_pid: Option<u32>) -> Result<Arc<Worker>, TransportError> {
        if let Some(w) = self.usable(not_pid)? {
            return Ok(w);
        }
        let _starting = self.starting.lock().await;
        if let Some(w) = self.usable(not_pid)? {
            return Ok(w);
        }
        let spec = self.spec.clone();
        let started = io()
            .spawn_blocking(move || handshake(&spec))
            .await
            .map_err(|e| start_error(format!("its start panicked ({e})")))?;
        let (spawned, _ready) = match started {
            Ok(s) => {
                self.state().counts.started += 1;
                s
            }
            Err(e) => {
                // A worker that cannot start counts as one that died.
                let why = format!("a new worker could not start: {}. {}", e.reason, e.fix);
                self.record_death(&why);
                return Err(start_error(why));
            }
        };
        let worker = self.attach(spawned)?;
        self.state().current = Some(worker.clone());
        Ok(worker)
    }

    fn usable(&self, not_pid: Option<u32>) -> Result<Option<Arc<Worker>>, TransportError> {
        let mut s = self.state();
        if let Some((until, why)) = &s.fail_fast {
            if Instant::now() < *until {
                return Err(TransportError::new(
                    TransportErrorKind::OTHER,
                    format!(
                        "the transport worker of {} died more than {MAX_DEATHS} times in {} s \
                         (last: {why}); calls fail at once for {} s, then a new worker is tried",
                        self.spec.path.display(),
                        DEATH_WINDOW.as_secs(),
                        FAIL_FAST.as_secs()
                    ),
                )
                .retryable(false));
            }
            s.fail_fast = None;
        }
        Ok(s.current
            .clone()
            .filter(|w| Some(w.pid) != not_pid && !w.retired.load(Ordering::Relaxed)))
    }

    /// Wires a started worker's socket into this runtime and watches it.
    fn attach(&self, spawned: Spawned) -> Result<Arc<Worker>, TransportError> {
        let Spawned {
            pid,
            socket,
            lanes,
            rings,
            exit,
        } = spawned;
        let mut rings = rings.into_iter();
        let ring = rings.next();
        let lanes: Vec<_> = lanes
            .into_iter()
            .zip(rings.map(Some).chain(std::iter::repeat_with(|| None)))
            .collect();
        let _io = io().enter();
        let socket = socket
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(socket))
            .map_err(|e| start_error(format!("its socket cannot join the runtime ({e})")))?;
        let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let (conn, frames) =
            Connection::start(socket, ring, self.spec.grace, next_id.clone(), io());
        conn.set_pid(pid);
        let worker = Arc::new(Worker {
            pid,
            conn,
            lanes: Mutex::new(Lanes {
                free: lanes,
                ..Lanes::default()
            }),
            next_id,
            lanes_bound: self.lanes_bound.clone(),
            killed_for: Mutex::new(None),
            overdue: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
            close: CancellationToken::new(),
        });
        // A task of its own, so that it goes on reading to the socket's end after the
        // worker's exit is known (see `Worker::fail_all`).
        let reader = {
            let conn = worker.conn.clone();
            io().spawn(async move { conn.read_frames(frames).await })
        };
        let (w, sup) = (worker.clone(), self.myself.clone());
        io().spawn(async move {
            let (mut exit, mut reader) = (exit, reader);
            let mut status = None;
            let ended = tokio::select! {
                // A reset is how a worker that died with our frames unread ends its socket:
                // its exit status, not the reset, says what happened.
                r = &mut reader => match r {
                    Ok(r) => r
                        .err()
                        .filter(|e| !e.hung_up())
                        .map(|e| format!("it broke the protocol ({e})")),
                    Err(e) => Some(format!("its socket's reader failed ({e})")),
                },
                why = overdue(&w) => Some(why),
                () = w.close.cancelled() => None,
                s = &mut exit => {
                    status = s.ok();
                    None
                }
            };
            if let Some(why) = ended {
                w.kill(why);
            }
            for conn in w.connections() {
                conn.close();
            }
            if status.is_none() {
                status = match tokio::time::timeout(EXIT_LIMIT, &mut exit).await {
                    Ok(s) => s.ok(),
                    Err(_) => {
                        w.kill("it did not exit when its socket closed".into());
                        tokio::time::timeout(EXIT_LIMIT, exit)
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                };
            }
            let killed_for = w
                .killed_for
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let how = match (killed_for, status) {
                (Some(why), _) => format!("was killed by the host: {why}"),
                (None, Some(status)) => describe_exit(status),
                (None, None) => "ended in a way the host could not learn".into(),
            };
            let death = Arc::new(Death { pid: w.pid, how });
            let retired = w.retired.load(Ordering::Relaxed);
            if let Some(sup) = sup.upgrade() {
                sup.on_end(&w, &death, retired);
            }
            let overdue = std::mem::take(&mut *w.overdue.lock().unwrap_or_else(|e| e.into_inner()));
            w.fail_all(death, &overdue).await;
        });
        Ok(worker)
    }

    /// A worker ended: forget it, count a death unless it was retired, and start the next.
    fn on_end(&self, w: &Arc<Worker>, death: &Death, retired: bool) {
        {
            let mut s = self.state();
            if s.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, w)) {
                s.current = None;
            }
        }
        if retired {
            return;
        }
        if w.killed_for
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .is_some_and(|k| k.contains("got no response head"))
        {
            self.state().counts.killed_hung += 1;
        }
        tracing::warn!(
            plugin = %self.spec.path.display(),
            pid = death.pid,
            "the transport worker {}; starting a new one",
            death.how
        );
        if self.record_death(&death.how) {
            return;
        }
        // At once, so that the next call finds it ready.
        if let Some(sup) = self.myself.upgrade() {
            io().spawn(async move {
                let _ = sup.worker(None).await;
            });
        }
    }

    /// Counts a death; `true` when it tipped the transport into failing fast.
    fn record_death(&self, how: &str) -> bool {
        let now = Instant::now();
        let mut s = self.state();
        s.counts.deaths += 1;
        s.deaths.push_back(now);
        while s
            .deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > DEATH_WINDOW)
        {
            s.deaths.pop_front();
        }
        if s.deaths.len() > MAX_DEATHS {
            s.deaths.clear();
            s.fail_fast = Some((now + FAIL_FAST, how.to_string()));
            tracing::error!(
                plugin = %self.spec.path.display(),
                "the transport worker died more than {MAX_DEATHS} times in {} s; calls fail at once for {} s",
                DEATH_WINDOW.as_secs(),
                FAIL_FAST.as_secs()
            );
            return true;
        }
        false
    }

    /// Retires the live worker (the transport is being dropped): it exits when its socket
    /// closes, once its calls are done.
    pub(crate) fn retire(&self) {
        let mut s = self.state();
        if let Some(w) = s.current.take() {
            w.retired.store(true, Ordering::Relaxed);
            w.close.cancel();
        }
    }
}

/// Ends a lane: no new call uses it, and when its runtime ended (the reader was dropped, not
/// ended by the worker), the calls still on it fail, since nothing reads for them any more.
struct LaneGuard {
    conn: Arc<Connection>,
    ended_by_worker: bool,
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        self.conn.stop();
        if !self.ended_by_worker {
            self.conn.fail_stranded();
            self.conn.close();
        }
    }
}

/// Resolves when a call on `w` is overdue: past its head deadline plus the grace.
async fn overdue(w: &Worker) -> String {
    loop {
        tokio::time::sleep(HUNG_CHECK).await;
        let now = Instant::now();
        let late: Vec<u64> = w
            .connections()
            .iter()
            .flat_map(|c| c.overdue(now))
            .collect();
        if !late.is_empty() {
            let n = late.len();
            *w.overdue.lock().unwrap_or_else(|e| e.into_inner()) = late;
            return format!(
                "{} got no response head within {} deadline plus {} s of grace",
                if n == 1 {
                    "a call".to_string()
                } else {
                    format!("{n} calls")
                },
                if n == 1 { "its" } else { "their" },
                w.conn.grace().as_secs_f64()
            );
        }
    }
}

fn start_error(why: String) -> TransportError {
    TransportError::new(
        TransportErrorKind::OTHER,
        format!("the transport worker could not be started: {why}"),
    )
    .retryable(false)
}

/// Starts a worker and waits for its Ready, on this thread with blocking I/O (no runtime is
/// needed, so a plugin is refused where the config is read, as in-process).
fn handshake(spec: &Spec) -> Result<(Spawned, Ready), PluginLoadError> {
    let refuse =
        |reason: String, fix: &str| fail(&spec.path, PluginLoadFailure::LoadFailed, reason, fix);
    // A ring per socket; without them (no memfd), bodies go inline, only slower.
    let lanes = usize::from(spec.hello.lanes);
    let rings = (0..=lanes)
        .map(|_| super::ring::create(super::ring::RING))
        .collect::<std::io::Result<Vec<_>>>()
        .unwrap_or_default();
    let mut hello = spec.hello.clone();
    hello.ring = if rings.is_empty() {
        0
    } else {
        super::ring::RING
    };
    let (readers, ring_fds): (Vec<_>, Vec<_>) = rings.into_iter().unzip();
    let raw_rings: Vec<_> = ring_fds.iter().map(|f| f.as_raw_fd()).collect();
    let mut spawned =
        spawn(&spec.worker, spec.image.as_raw_fd(), lanes, &raw_rings).map_err(|e| {
            refuse(
                format!(
                    "the transport worker {} cannot be started ({e})",
                    spec.worker.display()
                ),
                "Check `worker` under [transport], APIFY_TRANSPORT_WORKER, or that \
             apify-transport-worker is installed next to this program",
            )
        })?;
    // The worker has its copies of the rings' descriptors; the host keeps its mappings.
    drop(ring_fds);
    spawned.rings = readers;
    let mut buf = BytesMut::new();
    FrameCodec
        .encode(Frame::message(Kind::Hello, 0, &hello), &mut buf)
        .expect("encodes");
    let pid = spawned.pid;
    let socket = &mut spawned.socket;
    let answer = (|| -> std::io::Result<Option<Frame>> {
        socket.set_write_timeout(Some(START_LIMIT))?;
        socket.write_all(&buf)?;
        socket.set_read_timeout(Some(START_LIMIT))?;
        let mut input = BytesMut::with_capacity(16 << 10);
        let mut chunk = [0u8; 16 << 10];
        loop {
            while let Some(f) = FrameCodec
                .decode(&mut input)
                .map_err(|e| std::io::Error::other(e.to_string()))?
            {
                // What the plugin logs while it loads (a deprecated option) goes to the log.
                if f.kind == Kind::Log {
                    if let Ok(line) = f.decode::<LogLine>() {
                        crate::transport::plugin::log::emit_forwarded(
                            apify_plugin_api::abi::ffi::LogLevel(line.level),
                            &line.plugin,
                            &line.text,
                            pid,
                        );
                    }
                    continue;
                }
                return Ok(Some(f));
            }
            let n = socket.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            input.extend_from_slice(&chunk[..n]);
        }
    })();
    // How a worker that failed its start ended. Polled, not `blocking_recv`: the first start
    // runs wherever the config is read, which may be inside a runtime.
    let ended = |mut spawned: Spawned| {
        // SAFETY: kill(2) on our child; harmless if it already exited.
        unsafe { libc::kill(spawned.pid as i32, libc::SIGKILL) };
        let deadline = Instant::now() + EXIT_LIMIT;
        loop {
            match spawned.exit.try_recv() {
                Ok(status) => break (describe_exit(status), status.code()),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break ("ended".to_string(), None),
            }
        }
    };
    match answer {
        Ok(Some(f)) if f.kind == Kind::Ready => {
            let ready: Ready = f.decode().map_err(|e| {
                refuse(
                    e.to_string(),
                    "Rebuild apify-transport-worker from the same source as this program",
                )
            })?;
            spawned.socket.set_read_timeout(None).ok();
            spawned.socket.set_write_timeout(None).ok();
            Ok((spawned, ready))
        }
        Ok(Some(f)) if f.kind == Kind::LoadRefused => {
            let r: LoadRefused = f
                .decode()
                .map_err(|e| refuse(e.to_string(), "Rebuild apify-transport-worker"))?;
            let _ = ended(spawned);
            Err(fail(
                &spec.path,
                failure_from_name(&r.failure),
                format!(
                    "{} (in the transport worker, check `{}`)",
                    r.reason, r.check
                ),
                r.fix,
            ))
        }
        Ok(Some(f)) => {
            let (how, _) = ended(spawned);
            Err(refuse(
                format!(
                    "the transport worker answered {:?} before Ready, and {how}",
                    f.kind
                ),
                "Rebuild apify-transport-worker from the same source as this program",
            ))
        }
        Ok(None) | Err(_) => {
            let (how, code) = ended(spawned);
            // A worker from before the wire had versions reads a newer Hello as broken.
            if code == Some(i32::from(super::worker::exit::PROTOCOL)) {
                return Err(refuse(
                    format!(
                        "the transport worker {} could not read the host's first message and \
                         {how}: it is likely from another release of apify-host",
                        spec.worker.display()
                    ),
                    super::protocol::SAME_RELEASE_FIX,
                ));
            }
            Err(refuse(
                format!("the transport worker {how} before it was ready"),
                "Run the same command with RUST_BACKTRACE=1 and look at the worker's stderr above; \
                 if the plugin crashes while loading, report it to its author",
            ))
        }
    }
}

fn failure_from_name(name: &str) -> PluginLoadFailure {
    use PluginLoadFailure::*;
    match name {
        "NotFound" => NotFound,
        "NotAFile" => NotAFile,
        "InsecurePermissions" => InsecurePermissions,
        "NotASharedLibrary" => NotASharedLibrary,
        "WrongPlatform" => WrongPlatform,
        "CorruptFile" => CorruptFile,
        "ChecksumMismatch" => ChecksumMismatch,
        "NotAPlugin" => NotAPlugin,
        "IncompatibleApiVersion" => IncompatibleApiVersion,
        "LayoutMismatch" => LayoutMismatch,
        "LayoutCheckDisabled" => LayoutCheckDisabled,
        "ConstructorFailed" => ConstructorFailed,
        "ConstructorPanicked" => ConstructorPanicked,
        _ => LoadFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::PROTOCOL;
    use super::*;

    /// A host of another wire version gets the worker's refusal in the one message every
    /// version reads alike, naming both versions and which worker to use.
    #[test]
    fn a_worker_refuses_a_host_of_another_wire_version() {
        let plugin = std::path::Path::new("/nowhere/libplugin.so");
        let found = super::super::find_worker(plugin, &Default::default());
        let Ok(worker) = found else {
            // `cargo test --workspace` (the README's command, and CI's) builds it.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI builds the whole workspace: the worker must be beside the tests"
            );
            eprintln!(
                "skipped: apify-transport-worker is not built beside this test binary; run \
                 `cargo test --workspace`"
            );
            return;
        };
        let spec = Spec {
            worker,
            path: "/nowhere/libplugin.so".into(),
            // The worker refuses before it looks at the image.
            image: std::fs::File::open("/dev/null").unwrap().into(),
            hello: Hello {
                protocol: PROTOCOL + 1,
                path: "/nowhere/libplugin.so".into(),
                sha256: String::new(),
                options: "{}".into(),
                hosted: true,
                confine: true,
                readable: Vec::new(),
                log_level: 0,
                lanes: 0,
                ring: 0,
            },
            grace: Duration::from_secs(5),
        };
        let e = handshake(&spec).err().expect("refused");
        let says = [
            format!("speaks version {PROTOCOL} of the wire"),
            format!("this host version {}", PROTOCOL + 1),
            "check `protocol`".to_string(),
        ];
        for s in says {
            assert!(e.reason.contains(&s), "{s:?} in {e:?}");
        }
        assert!(e.fix.contains("APIFY_TRANSPORT_WORKER"), "{e:?}");
    }
}
