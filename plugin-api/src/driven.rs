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
//! tokio exposes neither its epoll fd nor its next timer deadline, so:
//! - the fd is found once, by registering a probe socket with the runtime and asking each of
//!   the process's epoll instances whether it holds that socket ([`find_epoll`]);
//! - the host also drives on a short tick while calls are in flight (timers, and tasks woken
//!   by a drive's last I/O poll: tokio's current-thread loop polls I/O right before it returns
//!   from `block_on`, and tasks that poll wakes wait for the next drive, with no event left to
//!   make the fd readable).

use std::{
    os::fd::{AsRawFd, RawFd},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    sync::Arc,
};

use tokio::runtime::{Handle, Runtime};

use crate::ffi::DrivenRuntime;
use crate::panics::catch;
use crate::types::Error;

/// How many times one drive runs the ready tasks and polls I/O (with a zero timeout) before it
/// returns: a response read by the first pass usually lets a task finish in the second.
const PASSES: usize = 3;

/// A current-thread runtime, its epoll instance, and who is driving it.
pub(crate) struct Driven {
    runtime: Runtime,
    epoll: RawFd,
    /// Set while a thread drives: a second thread skips rather than waiting for the first
    /// (the first polls whatever made both wake).
    driving: AtomicBool,
    /// Exchanges and response bodies the host polls in place (see [`Active`]).
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
}

impl Driven {
    /// Runs `f` (a poll of an exchange or a body, with the host's waker) inside the runtime, then
    /// the tasks it woke, once: a request handed to a connection's task is written before the
    /// host's poll returns, as a transport linked into the host would, instead of after a
    /// wake-up of the runtime's fd and a drive.
    ///
    /// Only while `f`'s exchange or body is the only one in flight: each such poll costs a
    /// zero-timeout I/O poll, and with many in flight the drives that their events trigger
    /// serve them in batches (measured at 32 in flight: 0.38x of the built-in transport with
    /// every poll inside, 0.65x with none). Otherwise, and when another thread is driving the
    /// runtime, or this thread already is (a nested `block_on` of one tokio copy would panic),
    /// `f` runs with the runtime entered.
    pub(crate) fn run_inside<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.active.load(Ordering::Relaxed) > 1
            || DRIVING.get()
            || self.driving.swap(true, Ordering::Acquire)
        {
            let _entered = self.runtime.enter();
            return f();
        }
        DRIVING.set(true);
        let mut f = Some(f);
        let mut out = None;
        let ran = catch(|| {
            self.runtime.block_on(async {
                if let Some(f) = f.take() {
                    out = Some(f());
                }
                tokio::task::yield_now().await;
            })
        });
        DRIVING.set(false);
        self.driving.store(false, Ordering::Release);
        if let Err(caught) = ran {
            caught.log("the plugin panicked while the host drove its runtime");
        }
        match (out, f) {
            (Some(out), _) => out,
            // `block_on` failed before it ran `f`.
            (None, Some(f)) => {
                let _entered = self.runtime.enter();
                f()
            }
            (None, None) => unreachable!("`f` ran, so its result was stored"),
        }
    }
}

thread_local! {
    /// Set while this thread drives a runtime of this plugin (of this copy of the glue).
    static DRIVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An exchange or body in flight on a driven runtime, counted while it lives.
pub(crate) struct Active(Arc<Driven>);

impl Active {
    pub(crate) fn new(driven: Arc<Driven>) -> Active {
        driven.active.fetch_add(1, Ordering::Relaxed);
        Active(driven)
    }
}

impl Clone for Active {
    fn clone(&self) -> Self {
        Active::new(self.0.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where the glue polls a plugin future that the host polls in place.
#[derive(Clone)]
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

    /// The runtime to enter around a drop.
    pub(crate) fn handle(&self) -> Option<&Handle> {
        match self {
            PollIn::Here => None,
            PollIn::Entered(handle) => Some(handle),
            PollIn::Driven(active) => Some(active.0.handle()),
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
        let driven = &self.0;
        if DRIVING.get() || driven.driving.swap(true, Ordering::Acquire) {
            return false;
        }
        DRIVING.set(true);
        // `block_on` of this plugin's tokio, on a host thread: the host's tokio is another
        // copy, so this runtime does not see the host's context and allows it.
        let ran = catch(|| {
            driven.runtime.block_on(async {
                for _ in 0..PASSES {
                    tokio::task::yield_now().await;
                }
            })
        });
        DRIVING.set(false);
        driven.driving.store(false, Ordering::Release);
        if let Err(caught) = ran {
            caught.log("the plugin panicked while the host drove its runtime");
        }
        true
    }
}

/// The epoll instance of `runtime`'s reactor: the one of this process's epoll fds that holds a
/// probe socket just registered with the runtime (`EPOLL_CTL_MOD` of an fd an instance does
/// not hold fails with `ENOENT`). Linux only; `None` elsewhere or when `/proc` is unreadable.
fn find_epoll(runtime: &Runtime) -> Option<RawFd> {
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
}
