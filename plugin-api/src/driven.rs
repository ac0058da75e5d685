//! A plugin runtime that the host drives (interface 1.5): current-thread, with no threads of
//! its own.
//!
//! Why: a plugin's copy of tokio has its own reactor, which the host's runtime cannot poll, so
//! until 1.5 every such plugin ran two worker threads, and each call crossed threads twice
//! (host → plugin worker → host) and each body chunk once more. On a 2-vCPU VM a cross-thread
//! wake of an idle CPU costs 50–60 µs, which made the reqwest plugin 0.36–0.44× of the
//! built-in transport sequentially on a current-thread host.
//!
//! Driven, the host polls each exchange in place (with this runtime entered, so sockets and
//! spawned tasks land here) and runs the runtime whenever its epoll instance is readable:
//! readiness of the runtime's sockets, and tasks woken from other threads (tokio's wake-up
//! eventfd is in the same epoll set), both make it readable. A sequential call then stays on
//! the host's thread, as a transport linked into the host does.
//!
//! tokio exposes neither its epoll fd nor its next timer deadline, nor its run queue, so:
//! - the fd is found once, by registering a probe socket with the runtime and asking each of
//!   the process's epoll instances whether it holds that socket ([`find_epoll`]);
//! - tokio's current-thread loop always polls I/O right before `block_on` returns, and tasks
//!   that last poll wakes would wait in the run queue with no event left to make the fd
//!   readable (the host's epoll drops a nested epoll fd that has become empty). So a drive
//!   runs in rounds ([`until_quiet`]) and ends only after an I/O poll that had nothing to take;
//! - the host also drives on a short tick while calls are in flight, for the plugin's timers
//!   and for an event that slips in between that check and the I/O poll.

use std::{
    os::fd::{AsRawFd, RawFd},
    sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
    sync::Arc,
};

use tokio::runtime::{Handle, Runtime};

use crate::ffi::DrivenRuntime;
use crate::panics::catch;
use crate::types::Error;

/// At most this many rounds per drive (see [`until_quiet`]): a runtime that always has work
/// still lets the host's thread go; the fd, still readable, brings the host back.
const MAX_ROUNDS: usize = 4;

/// A current-thread runtime, its epoll instance, and who is driving it.
pub(crate) struct Driven {
    runtime: Runtime,
    epoll: RawFd,
    /// Set while a thread drives: a second thread skips rather than waiting for the first
    /// (the first polls whatever made both wake).
    driving: AtomicBool,
    /// Exchanges the host polls in place (see [`Active`]).
    active: AtomicUsize,
}

impl Driven {
    /// Starts the runtime and finds its epoll instance.
    pub(crate) fn start() -> Result<Arc<Driven>, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    crate::ffi::ErrorKind::OTHER,
                    format!("could not start the plugin runtime: {e}"),
                )
            })?;
        let epoll = find_epoll(&runtime).ok_or_else(|| {
            Error::new(
                crate::ffi::ErrorKind::OTHER,
                "could not find the epoll instance of the plugin runtime (is /proc mounted?)",
            )
        })?;
        Ok(Arc::new(Driven {
            runtime,
            epoll,
            driving: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        }))
    }

    pub(crate) fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Enters the runtime (for the author's constructor, `close` and drop).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.enter()
    }

    /// Runs `f` (a poll of an exchange or a body, with the host's waker) inside the runtime, then
    /// the tasks it woke, once: a request handed to a connection's task is written before the
    /// host's poll returns, as a transport linked into the host would, instead of after a
    /// wake-up of the runtime's fd and a drive.
    ///
    /// Only while `f`'s exchange is the only one in flight: each such poll costs a
    /// zero-timeout I/O poll, and with many in flight the drives that their events trigger
    /// serve them in batches (measured at 32 in flight: 0.38x of the built-in transport with
    /// every poll inside, 0.65x with none). Otherwise, and when another thread is driving the
    /// runtime, or this thread already is (a nested `block_on` of one tokio copy would panic),
    /// `f` runs with the runtime entered.
    pub(crate) fn run_inside<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.active.load(Ordering::Relaxed) > 1 {
            let _entered = self.runtime.enter();
            return f();
        }
        let (mut f, mut out) = (Some(f), None);
        self.block_on(|| out = f.take().map(|f| f()));
        match (out, f) {
            (Some(out), _) => out,
            // Another thread is driving, this one already is, or `block_on` failed before it
            // ran `f`.
            (None, Some(f)) => {
                let _entered = self.runtime.enter();
                f()
            }
            (None, None) => unreachable!("`f` ran, so its result was stored"),
        }
    }

    /// Runs `f`, then the runtime [`until_quiet`], in one `block_on` of the plugin's tokio (on
    /// a host thread: the host's tokio is another copy, so this runtime does not see the
    /// host's context and allows it). `false`, without running anything, when another thread
    /// is driving the runtime or this one already is (a nested `block_on` of one tokio copy
    /// would panic). A panic of `block_on` is logged.
    fn block_on(&self, f: impl FnOnce()) -> bool {
        if DRIVING.get() || self.driving.swap(true, Ordering::Acquire) {
            return false;
        }
        DRIVING.set(true);
        let epoll = self.epoll;
        let ran = catch(|| {
            self.runtime.block_on(async {
                f();
                until_quiet(epoll).await;
            })
        });
        DRIVING.set(false);
        self.driving.store(false, Ordering::Release);
        if let Err(caught) = ran {
            caught.log("the plugin panicked while the host drove its runtime");
        }
        true
    }
}

/// Runs the runtime's ready tasks and polls its I/O in rounds, until a round's I/O poll had
/// nothing to take (at most [`MAX_ROUNDS`]). Each round spawns a check that the run queue
/// reaches after the tasks already in it, and that looks whether the epoll instance holds
/// events right before the runtime's I/O poll takes them; if it did, the tasks those events
/// wake run in the next round instead of waiting in the queue after `block_on` returns.
async fn until_quiet(epoll: RawFd) {
    /// The check has not run yet; it found the epoll instance empty; it found events.
    const NOT_YET: u8 = 0;
    const EMPTY: u8 = 1;
    const EVENTS: u8 = 2;
    for _ in 0..MAX_ROUNDS {
        let seen = Arc::new(AtomicU8::new(NOT_YET));
        let check = seen.clone();
        drop(tokio::spawn(async move {
            let found = if readable(epoll) { EVENTS } else { EMPTY };
            check.store(found, Ordering::Relaxed);
        }));
        // A queue longer than tokio's event interval polls I/O before the check has run:
        // wait for it (a bounded number of times).
        let mut yields = 0;
        loop {
            tokio::task::yield_now().await;
            yields += 1;
            if seen.load(Ordering::Relaxed) != NOT_YET || yields == MAX_ROUNDS {
                break;
            }
        }
        if seen.load(Ordering::Relaxed) != EVENTS {
            return;
        }
    }
}

/// Whether `fd` is readable now (`poll` with a zero timeout).
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

thread_local! {
    /// Set while this thread drives a runtime of this plugin (of this copy of the glue).
    static DRIVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An exchange in flight on a driven runtime, counted while it lives.
pub(crate) struct Active(Arc<Driven>);

impl Active {
    pub(crate) fn new(driven: Arc<Driven>) -> Active {
        driven.active.fetch_add(1, Ordering::Relaxed);
        Active(driven)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where the glue polls an exchange that the host polls in place (bodies are polled with
/// their runtime entered: see `convert::body_to_ffi`).
pub(crate) enum PollIn {
    /// As it is (a hosted plugin's, which runs on the host's runtime).
    Here,
    /// With this runtime entered (a runtime with threads of its own).
    Entered(Handle),
    /// Inside this driven runtime (see [`Driven::run_inside`]).
    Driven(Active),
}

impl PollIn {
    /// `Entered`, or `Here` without a runtime.
    pub(crate) fn entered(handle: Option<Handle>) -> PollIn {
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
            PollIn::Driven(active) => active.0.run_inside(f),
        }
    }
}

/// The FFI face of a [`Driven`] runtime, shared with the client that runs on it.
pub(crate) struct DrivenHandle(pub(crate) Arc<Driven>);

impl DrivenRuntime for DrivenHandle {
    fn ready_fd(&self) -> i32 {
        self.0.epoll
    }

    fn drive(&self) -> bool {
        self.0.block_on(|| ())
    }
}

/// The epoll instance of `runtime`'s reactor: the one of this process's epoll fds that holds a
/// probe socket just registered with the runtime (`EPOLL_CTL_MOD` of an fd an instance does
/// not hold fails with `ENOENT`). Linux only; `None` elsewhere or when `/proc` is unreadable.
/// The host's isolation worker finds its own runtime's instance with it too.
pub fn find_epoll(runtime: &Runtime) -> Option<RawFd> {
    let (probe, _peer) = std::os::unix::net::UnixStream::pair().ok()?;
    probe.set_nonblocking(true).ok()?;
    let probe_fd = probe.as_raw_fd();
    let registered = {
        let _entered = runtime.enter();
        tokio::net::UnixStream::from_std(probe).ok()?
    };
    let found = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: RawFd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            (target.as_os_str() == "anon_inode:[eventpoll]").then_some(fd)
        })
        .find(|&epoll| {
            // No events: the probe cannot report anything before it is deregistered.
            let mut event = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: plain syscall on integers; `event` outlives it.
            unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, probe_fd, &mut event) == 0 }
        });
    drop(registered);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_epoll_and_drives_tasks() {
        let driven = Driven::start().expect("a driven runtime");
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let other_epoll = find_epoll(&other).expect("the other runtime's epoll");
        assert_ne!(
            driven.epoll, other_epoll,
            "each runtime has its own instance"
        );

        // A task spawned from outside wakes the runtime through its epoll fd.
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        driven
            .handle()
            .spawn(async move { flag.store(true, Ordering::SeqCst) });
        let mut p = libc::pollfd {
            fd: driven.epoll,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let ready = unsafe { libc::poll(&mut p, 1, 1000) };
        assert_eq!(ready, 1, "the epoll fd is readable once a task is woken");
        let handle = DrivenHandle(driven);
        assert!(handle.drive());
        assert!(done.load(Ordering::SeqCst), "the drive ran the task");
    }

    /// A drive runs the tasks that its own I/O poll wakes: the data that makes a task's read
    /// ready is taken from the epoll instance by the drive, so no event would be left to bring
    /// the host back for that task.
    #[test]
    fn a_drive_leaves_no_task_woken_by_its_last_io_poll() {
        use std::io::Write as _;
        let driven = Driven::start().expect("a driven runtime");
        let handle = DrivenHandle(driven.clone());
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        driven.handle().spawn(async move {
            use tokio::io::AsyncReadExt as _;
            let mut a = tokio::net::UnixStream::from_std(a).unwrap();
            let mut byte = [0u8; 1];
            a.read_exact(&mut byte).await.unwrap();
            flag.store(true, Ordering::SeqCst);
        });
        // The task starts and waits on its read.
        assert!(handle.drive());
        assert!(!done.load(Ordering::SeqCst));
        b.write_all(b"x").unwrap();
        assert!(
            readable(driven.epoll),
            "the byte makes the runtime's fd readable"
        );
        assert!(handle.drive());
        assert!(
            done.load(Ordering::SeqCst),
            "the woken task ran in the same drive"
        );
        assert!(!readable(driven.epoll), "nothing is left for a later drive");
    }
}
