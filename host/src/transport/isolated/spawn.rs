//! Starting a worker process, and learning how it ended.
//!
//! Each worker has a thread of its own that starts it and then waits for it: the wait reaps
//! it (no zombie), and `PR_SET_PDEATHSIG` is tied to the thread that forked, which therefore
//! lives exactly as long as the worker.

use std::{
    os::{
        fd::{AsRawFd, RawFd},
        unix::process::{CommandExt, ExitStatusExt},
    },
    path::Path,
    process::{Command, ExitStatus, Stdio},
};

use tokio::sync::oneshot;

use super::worker::{IMAGE_FD, LANE_FD, MAX_LANES, PARENT_ENV, SOCKET_FD, SPIN_ENV, THREADS_ENV};

/// The variables a worker inherits; every other one, `APIFY_TOKEN` first, stays with the host.
const PASSED_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "TZ",
    THREADS_ENV,
    SPIN_ENV,
];

/// A started worker: its pid, the host's end of its sockets, and how it will end.
pub(crate) struct Spawned {
    pub pid: u32,
    pub socket: std::os::unix::net::UnixStream,
    /// The host's ends of the lanes, in fd order.
    pub lanes: Vec<std::os::unix::net::UnixStream>,
    /// The host's side of each socket's ring (the first socket's first), or none.
    pub rings: Vec<super::ring::RingReader>,
    pub exit: oneshot::Receiver<ExitStatus>,
}

/// The most descriptors placed from fd 5 on: the lanes, then a ring per socket.
const MAX_EXTRA: usize = 2 * MAX_LANES + 1;

/// Starts `worker` with the sealed copy `image` on fd 4, a fresh socket on fd 3, `lanes` more
/// from fd 5 on, and then `rings` (one per socket, or none).
pub(crate) fn spawn(
    worker: &Path,
    image: RawFd,
    lanes: usize,
    rings: &[RawFd],
) -> std::io::Result<Spawned> {
    assert!(lanes <= MAX_LANES && lanes + rings.len() <= MAX_EXTRA);
    let (host_end, worker_end) = std::os::unix::net::UnixStream::pair()?;
    let mut host_lanes = Vec::with_capacity(lanes);
    let mut worker_lanes = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (h, w) = std::os::unix::net::UnixStream::pair()?;
        host_lanes.push(h);
        worker_lanes.push(w);
    }
    for end in [&host_end, &worker_end]
        .into_iter()
        .chain(&host_lanes)
        .chain(&worker_lanes)
    {
        grow_send_buffer(end.as_raw_fd());
    }
    // Read in the child between fork and exec, where nothing may allocate.
    let mut extra = [-1 as RawFd; MAX_EXTRA];
    let fds = worker_lanes
        .iter()
        .map(|l| l.as_raw_fd())
        .chain(rings.iter().copied());
    for (slot, fd) in extra.iter_mut().zip(fds) {
        *slot = fd;
    }
    let extras = lanes + rings.len();
    let mut cmd = Command::new(worker);
    cmd.env_clear()
        .envs(
            PASSED_ENV
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (k, v))),
        )
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        // A plugin printing to stdout must not mix into the host's output (a JSON document the
        // CLI prints, say): the worker's stdout goes where its stderr goes.
        .stdout(Stdio::from(std::io::stderr().as_fd_owned()?))
        .stderr(Stdio::inherit());
    let socket_fd = worker_end.as_raw_fd();
    // SAFETY: the closure only makes async-signal-safe calls (fcntl, dup2, prctl, close_range)
    // on descriptors this process owns, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // First above any fixed number, so that placing one cannot close another.
            let above = LANE_FD + MAX_EXTRA as RawFd;
            let s = cvt(libc::fcntl(socket_fd, libc::F_DUPFD, above))?;
            let i = cvt(libc::fcntl(image, libc::F_DUPFD, above))?;
            let mut moved = [-1 as RawFd; MAX_EXTRA];
            for (to, from) in moved.iter_mut().zip(&extra).take(extras) {
                *to = cvt(libc::fcntl(*from, libc::F_DUPFD, above))?;
            }
            // dup2 leaves the new descriptors open across exec (no close-on-exec flag).
            cvt(libc::dup2(s, SOCKET_FD))?;
            cvt(libc::dup2(i, IMAGE_FD))?;
            for (k, fd) in moved.iter().enumerate().take(extras) {
                cvt(libc::dup2(*fd, LANE_FD + k as RawFd))?;
            }
            // Dies with the thread that forked it, which lives as long as it (see above).
            cvt(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
            // Nothing else of the host's crosses: a descriptor opened without close-on-exec by
            // some library of the host's process would otherwise be the worker's.
            libc::syscall(
                libc::SYS_close_range,
                (LANE_FD + extras as RawFd) as u32,
                u32::MAX,
                0u32,
            );
            Ok(())
        });
    }
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (exit_tx, exit_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("apify-transport-worker-wait".into())
        .spawn(move || {
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                    return;
                }
            };
            // The worker has its copies; ours would hide its end-of-file.
            drop(worker_end);
            drop(worker_lanes);
            let _ = started_tx.send(Ok(child.id()));
            let status = loop {
                match child.wait() {
                    Ok(s) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break ExitStatus::from_raw(0),
                }
            };
            let _ = exit_tx.send(status);
        })?;
    let pid = started_rx
        .recv()
        .map_err(|_| std::io::Error::other("the worker's thread ended before it started"))??;
    Ok(Spawned {
        pid,
        socket: host_end,
        lanes: host_lanes,
        rings: Vec::new(),
        exit: exit_rx,
    })
}

/// The send buffer asked for on each end of a worker's socket: a whole credit window, so a
/// side streaming a body writes it in a few large writes instead of the default ~208 KiB at a
/// time (each partial write is a wake-up of the reader, then of the writer, in two processes).
/// The kernel caps it at `net.core.wmem_max`; where that is lower, the default stays.
const SEND_BUFFER: libc::c_int = super::protocol::WINDOW as libc::c_int;

/// Asks for [`SEND_BUFFER`] on `fd`; best effort (a smaller buffer is slower, not wrong).
fn grow_send_buffer(fd: RawFd) {
    let size = SEND_BUFFER;
    // SAFETY: setsockopt on a socket we own, with a pointer to a c_int and its size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn cvt(r: libc::c_int) -> std::io::Result<libc::c_int> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// How a worker ended, in words: `killed by SIGSEGV (segmentation fault)`, `exited with code 3`.
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = signal_name(sig);
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        return format!("killed by {name}{core}");
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "ended".into(),
    }
}

fn signal_name(sig: i32) -> String {
    let (name, what) = match sig {
        libc::SIGSEGV => ("SIGSEGV", "segmentation fault"),
        libc::SIGABRT => ("SIGABRT", "abort"),
        libc::SIGBUS => ("SIGBUS", "bus error"),
        libc::SIGILL => ("SIGILL", "illegal instruction"),
        libc::SIGFPE => ("SIGFPE", "arithmetic fault"),
        libc::SIGKILL => ("SIGKILL", "killed"),
        libc::SIGTERM => ("SIGTERM", "terminated"),
        libc::SIGINT => ("SIGINT", "interrupted"),
        libc::SIGPIPE => ("SIGPIPE", "broken pipe"),
        libc::SIGSYS => ("SIGSYS", "bad system call"),
        libc::SIGTRAP => ("SIGTRAP", "trap"),
        _ => return format!("signal {sig}"),
    };
    format!("{name} ({what})")
}

/// `Stdio::from(stderr)` needs an owned descriptor.
trait AsFdOwned {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl AsFdOwned for std::io::Stderr {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        std::os::fd::AsFd::as_fd(self).try_clone_to_owned()
    }
}
