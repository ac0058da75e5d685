//! Drives the runtime of a driven plugin client (interface 1.5) on the caller's threads.
//!
//! A driven client's runtime has no threads: its exchanges are polled in place by the tasks
//! that await them, and this module runs the runtime whenever its ready fd (the runtime's epoll
//! instance, registered with our reactor) is readable, plus on a short tick while calls are in
//! flight, for the plugin's timers and for an event that slips in between a drive's last
//! check of the fd and its I/O poll (see `apify_plugin_api`'s `driven.rs`).
//!
//! One driver task per caller runtime, started by the first call made on it: a runtime that
//! stops running (a blocking facade's, between calls) must not leave another runtime's calls
//! without a driver. The tasks end when the client is dropped (a task on a runtime that is
//! alive but not running ends when that runtime next runs; until then it keeps the plugin's
//! runtime, and its pooled sockets, alive), or with their runtime.

use std::{
    os::fd::{BorrowedFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use apify_plugin_api::abi::ffi::DrivenRuntimeBox;
use tokio::{
    io::{unix::AsyncFd, Interest},
    sync::Notify,
};
use tokio_util::sync::CancellationToken;

/// How often the runtime is driven while calls are in flight, besides when its fd is
/// readable: for the plugin's own timers (the host enforces every deadline of a call itself)
/// and for the rare task woken by an event that slips in between a drive's last check and its
/// I/O poll (about 1 sequential call in 30,000 waited for the tick in a bench run).
///
/// Not shorter than the kernel's scheduler tick (4 ms at `HZ=250`): each sleep of the caller's
/// thread arms a timer of this length, and one due before the scheduler's own reprograms the
/// CPU's timer, which in a VM is an exit to the hypervisor on the way to sleep and back (2-core
/// KVM VM, sequential driven reqwest calls with halt polling on: 56-60 µs of CPU per call with
/// a 1 ms tick, 47-48 with 5 ms, 50-53 with 10 ms).
const TICK: Duration = Duration::from_millis(5);

/// The runtime of one driven client, and the tasks that drive it.
pub(super) struct Driver {
    runtime: DrivenRuntimeBox,
    /// A duplicate of the runtime's ready fd, ours to close; each task registers a duplicate
    /// of its own (one epoll registration per reactor).
    fd: OwnedFd,
    /// Calls and response bodies in flight: while there are any, the tasks also drive on
    /// [`TICK`].
    busy: AtomicUsize,
    tasks: Mutex<Vec<DriverTask>>,
    /// Cancelled when the client is dropped.
    stop: CancellationToken,
}

/// A task driving the runtime from one caller runtime.
struct DriverTask {
    runtime: tokio::runtime::Id,
    /// Cleared when the task ends (its runtime shut down).
    alive: Arc<AtomicBool>,
    /// Wakes it when calls start after an idle spell (its tick is off while idle).
    busy: Arc<Notify>,
}

impl Driver {
    /// Takes the plugin's runtime; fails if its ready fd cannot be duplicated.
    pub(super) fn new(runtime: DrivenRuntimeBox) -> std::io::Result<Arc<Driver>> {
        let raw = runtime.ready_fd();
        if raw < 0 {
            return Err(std::io::Error::other(format!(
                "the plugin gave an invalid ready fd ({raw})"
            )));
        }
        // SAFETY: the plugin keeps the fd open while `runtime` lives, which outlives this
        // borrow; we only duplicate it.
        let fd = unsafe { BorrowedFd::borrow_raw(raw) }.try_clone_to_owned()?;
        Ok(Arc::new(Driver {
            runtime,
            fd,
            busy: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
            stop: CancellationToken::new(),
        }))
    }

    /// Counts a call in flight until the returned guard drops, making sure a task drives the
    /// runtime from the caller's runtime (outside any runtime nothing can: the call then waits
    /// for a driver another runtime runs, if any).
    pub(super) fn start_call(self: &Arc<Self>) -> Busy {
        let was_idle = self.busy.fetch_add(1, Ordering::AcqRel) == 0;
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| t.alive.load(Ordering::Acquire));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let id = runtime.id();
            if !tasks.iter().any(|t| t.runtime == id) {
                tasks.push(self.spawn_task(&runtime));
            }
        }
        if was_idle {
            for t in tasks.iter() {
                t.busy.notify_one();
            }
        }
        Busy(self.clone())
    }

    fn spawn_task(self: &Arc<Self>, runtime: &tokio::runtime::Handle) -> DriverTask {
        let alive = Arc::new(AtomicBool::new(true));
        let busy = Arc::new(Notify::new());
        let ended = EndsWithTask(alive.clone());
        runtime.spawn(self.clone().drive_from_here(busy.clone(), ended));
        DriverTask {
            runtime: runtime.id(),
            alive,
            busy,
        }
    }

    /// The task: drives when the fd is readable, and on the tick while calls are in flight.
    async fn drive_from_here(self: Arc<Self>, busy: Arc<Notify>, _ended: EndsWithTask) {
        let registered = self
            .fd
            .try_clone()
            // SAFETY: the `OwnedFd` is open, and it is moved into the `AsyncFd`, which is the
            // only one to close it, after deregistering.
            .and_then(|fd| unsafe { Ok(AsyncFd::register_with_interest(fd, Interest::READABLE)?) });
        let fd = match registered {
            Ok(fd) => fd,
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "cannot watch the plugin's runtime; its calls on this runtime will stall"
                );
                return;
            }
        };
        loop {
            let in_flight = self.busy.load(Ordering::Acquire) > 0;
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                ready = fd.readable() => {
                    let Ok(mut ready) = ready else { return };
                    // Cleared before driving: an event that comes during the drive makes the
                    // fd readable again (a new edge for our reactor), so none is missed and
                    // no check of the fd is needed after the drive.
                    ready.clear_ready();
                    self.runtime.drive();
                }
                () = tokio::time::sleep(TICK), if in_flight => {
                    self.runtime.drive();
                }
                () = busy.notified(), if !in_flight => {}
            }
        }
    }

    /// Stops every task (the client is gone).
    pub(super) fn stop(&self) {
        self.stop.cancel();
    }
}

/// A call or response body in flight on a driven client.
pub(super) struct Busy(Arc<Driver>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Clears a task's `alive` flag when the task ends or is dropped with its runtime.
struct EndsWithTask(Arc<AtomicBool>);

impl Drop for EndsWithTask {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
