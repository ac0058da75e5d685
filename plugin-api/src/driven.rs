//! A plugin runtime that the host drives (interface 1.5): current-thread, with no threads of
//! its own.
//!
//! Why: a plugin's copy of tokio has its own reactor, which the host's runtime cannot poll, so
//! until 1.5 every such plugin ran two worker threads, and each call crossed threads twice
//! (host → plugin worker → host) and each body chunk once more. On a 2-vCPU VM a cross-thread
//! wake of an idle CPU costs 50–60 µs, which made the reqwest plugin 0.36–0.44× of the
//! built-in transport sequentially on a current-thread host.
//!
//! Driven, each exchange is a task of this runtime ([`Driven::spawn_exchange`]), which the host
//! runs whenever the runtime's epoll instance is readable: readiness of the runtime's sockets,
//! and tasks woken from other threads (tokio's wake-up eventfd is in the same epoll set), both
//! make it readable. A sequential call then stays on the host's thread, as a transport linked
//! into the host does.
//!
//! tokio exposes neither its epoll fd nor its next timer deadline, nor its run queue, so:
//! - the fd is found once, by registering a probe socket with the runtime and asking each of
//!   the process's epoll instances whether it holds that socket ([`find_epoll`]);
//! - tokio's current-thread loop always polls I/O right before `block_on` returns, and tasks
//!   that last poll wakes would wait in the run queue with no event left to make the fd
//!   readable (the host's epoll drops a nested epoll fd that has become empty). So a drive
//!   runs in rounds ([`until_quiet`]) and ends only after an I/O poll that had nothing to take,
//!   which a park hook tells (tokio calls it when the run queue is empty, right before it
//!   polls I/O);
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

/// The period of the timer that keeps calls' deadlines from being the runtime's earliest (see
/// [`Driven::start`]).
const EARLIEST_TIMER: std::time::Duration = std::time::Duration::from_secs(1);

/// A current-thread runtime, its epoll instance, and who is driving it.
pub(crate) struct Driven {
    runtime: Runtime,
    /// Told by the runtime each time its run queue is empty (see [`until_quiet`]).
    idle: Arc<Idle>,
    /// Set while a thread drives: a second thread skips rather than waiting for the first
    /// (the first polls whatever made both wake).
    driving: AtomicBool,
    /// Exchanges in flight (see [`Active`]).
    active: AtomicUsize,
    /// Exchanges spawned while others are in flight wait here (see [`Driven::spawn_exchange`]).
    spawner: Arc<Spawner>,
}

impl Driven {
    /// Starts the runtime and finds its epoll instance.
    pub(crate) fn start() -> Result<Arc<Driven>, Error> {
        let idle = Arc::new(Idle::default());
        let hook = idle.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || hook.run_queue_empty())
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
        idle.epoll.store(epoll, Ordering::Release);
        let spawner = Arc::new(Spawner::default());
        runtime.spawn(spawner.clone().run());
        // tokio wakes its I/O driver (a write to its eventfd) whenever a timer is set earlier
        // than every other one, in case the driver sleeps until the old deadline. A driven
        // runtime never sleeps (each park here is a zero-timeout poll; the host's tick serves
        // the timers), so each call's head deadline would cost an eventfd write for nothing,
        // and a wake-up of the host. A timer always due within a second is earlier than those
        // deadlines (seconds to minutes; a shorter one still wakes, harmlessly); it costs one
        // timer a second while calls keep the host ticking.
        runtime.spawn(async {
            loop {
                tokio::time::sleep(EARLIEST_TIMER).await;
            }
        });
        Ok(Arc::new(Driven {
            runtime,
            idle,
            driving: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            spawner,
        }))
    }

    /// The runtime's epoll instance (kept where the park hook reads it).
    fn epoll(&self) -> RawFd {
        self.idle.epoll.load(Ordering::Acquire)
    }

    pub(crate) fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Enters the runtime (for the author's constructor, `close` and drop).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.enter()
    }

    /// Spawns an exchange's task, counted in flight until the returned guard drops; dropping the
    /// returned [`Spawned`] ends the task.
    ///
    /// While it is the only exchange in flight, the spawn happens inside a drive of the runtime
    /// (on the caller's thread): the task runs at once, so the request is written before the
    /// host's first poll returns, as a transport linked into the host would, and a response
    /// that arrives while the drive lasts is read in it too. With others in flight it waits in
    /// a queue for the runtime's spawner task: the runtime's fd wakes the host, whose drive
    /// then starts the whole batch. (With every call inside a drive of its own, 32 in flight
    /// measured 0.38x of the built-in transport, against 0.65x in batches; and tokio wakes its
    /// I/O driver, an eventfd write, for each task spawned from outside the runtime, where the
    /// queue wakes the spawner once a batch.)
    pub(crate) fn spawn_exchange<F>(self: &Arc<Self>, task: F) -> (Spawned<F::Output>, Active)
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let active = Active::new(self.clone());
        let (answer, result) = tokio::sync::oneshot::channel();
        let (cancel, mut cancelled) = tokio::sync::oneshot::channel::<()>();
        let task: Queued = Box::pin(async move {
            let mut task = std::pin::pin!(task);
            let mut answer = Some(answer);
            std::future::poll_fn(|cx| {
                // The host dropped the call (the sender): end the exchange.
                if std::future::Future::poll(std::pin::Pin::new(&mut cancelled), cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
                let out = std::task::ready!(task.as_mut().poll(cx));
                if let Some(answer) = answer.take() {
                    let _ = answer.send(out);
                }
                std::task::Poll::Ready(())
            })
            .await
        });
        if self.active.load(Ordering::Relaxed) > 1 {
            self.spawner.submit(task);
        } else {
            let handle = self.handle().clone();
            self.run_inside(move || drop(handle.spawn(task)));
        }
        let spawned = Spawned {
            result,
            _cancel: cancel,
        };
        (spawned, active)
    }

    /// Runs `f` inside the runtime, then the tasks it woke, in one drive; with the runtime
    /// only entered when another thread is driving it, or this thread already is (a nested
    /// `block_on` of one tokio copy would panic).
    fn run_inside<T>(&self, f: impl FnOnce() -> T) -> T {
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
        let idle = &*self.idle;
        let ran = catch(|| {
            self.runtime.block_on(async {
                f();
                until_quiet(idle).await;
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
/// nothing to take (at most [`MAX_ROUNDS`]). A round ends when the run queue is empty: tokio
/// then calls its park hook ([`Idle::run_queue_empty`]), which looks whether the epoll instance
/// holds events right before the runtime's I/O poll takes them, and wakes this future. If it
/// did, the tasks those events wake run in the next round instead of waiting in the queue
/// after `block_on` returns.
///
/// Waking the `block_on` future from the hook makes tokio poll I/O without blocking and then
/// poll the future (tokio 1.53 and later: before, a hook's wake could skip the I/O poll).
async fn until_quiet(idle: &Idle) {
    for _ in 0..MAX_ROUNDS {
        let mut registered = false;
        let quiet = std::future::poll_fn(|cx| {
            if registered {
                if let Some(quiet) = idle.outcome() {
                    return std::task::Poll::Ready(quiet);
                }
            }
            idle.wait(cx.waker());
            registered = true;
            std::task::Poll::Pending
        })
        .await;
        if quiet {
            return;
        }
    }
}

/// What the park hook tells [`until_quiet`].
struct Idle {
    /// The runtime's epoll instance (set once it is found; until then the hook looks at
    /// nothing).
    epoll: std::sync::atomic::AtomicI32,
    /// The drive waiting for the run queue to empty.
    waiter: std::sync::Mutex<Option<std::task::Waker>>,
    /// Set by the hook: whether the epoll instance held no events.
    outcome: AtomicU8,
}

impl Default for Idle {
    fn default() -> Idle {
        Idle {
            epoll: std::sync::atomic::AtomicI32::new(-1),
            waiter: std::sync::Mutex::new(None),
            outcome: AtomicU8::new(NOT_YET),
        }
    }
}

/// [`Idle::outcome`] values.
const NOT_YET: u8 = 0;
const QUIET: u8 = 1;
const EVENTS: u8 = 2;

impl Idle {
    /// Registers the drive's waker, to be woken at the next empty run queue.
    fn wait(&self, waker: &std::task::Waker) {
        self.outcome.store(NOT_YET, Ordering::Relaxed);
        *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker.clone());
    }

    /// The hook's finding since [`Idle::wait`]: `Some(true)` if the I/O poll had nothing to
    /// take.
    fn outcome(&self) -> Option<bool> {
        match self.outcome.load(Ordering::Relaxed) {
            NOT_YET => None,
            found => Some(found == QUIET),
        }
    }

    /// The park hook: the run queue is empty and tokio is about to poll I/O.
    fn run_queue_empty(&self) {
        let Some(waker) = self.waiter.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let epoll = self.epoll.load(Ordering::Acquire);
        let found = if epoll >= 0 && readable(epoll) {
            EVENTS
        } else {
            QUIET
        };
        self.outcome.store(found, Ordering::Relaxed);
        waker.wake();
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

/// An exchange's task, as the spawner's queue holds it.
type Queued = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Exchanges waiting for the runtime's spawner task, and the wake-up that runs it.
#[derive(Default)]
struct Spawner {
    queue: std::sync::Mutex<Vec<Queued>>,
    /// Wakes the spawner once however many exchanges arrive before it runs (a permit is kept
    /// when it is not waiting, so none is missed).
    queued: tokio::sync::Notify,
}

impl Spawner {
    fn submit(&self, task: Queued) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        self.queued.notify_one();
    }

    /// The spawner task: spawns each batch inside the runtime.
    async fn run(self: Arc<Self>) {
        loop {
            self.queued.notified().await;
            let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
            for task in batch {
                drop(tokio::spawn(task));
            }
        }
    }
}

/// An exchange spawned on a driven runtime: its output, or `None` if its task ended without
/// one (the runtime shut down). Dropping it ends the task.
pub(crate) struct Spawned<T> {
    result: tokio::sync::oneshot::Receiver<T>,
    _cancel: tokio::sync::oneshot::Sender<()>,
}

impl<T> std::future::Future for Spawned<T> {
    type Output = Option<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::pin::Pin::new(&mut self.result)
            .poll(cx)
            .map(Result::ok)
    }
}

/// An exchange in flight on a driven runtime, counted while it lives.
pub(crate) struct Active(Arc<Driven>);

impl Active {
    fn new(driven: Arc<Driven>) -> Active {
        driven.active.fetch_add(1, Ordering::Relaxed);
        Active(driven)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The FFI face of a [`Driven`] runtime, shared with the client that runs on it.
pub(crate) struct DrivenHandle(pub(crate) Arc<Driven>);

impl DrivenRuntime for DrivenHandle {
    fn ready_fd(&self) -> i32 {
        self.0.epoll()
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
            driven.epoll(),
            other_epoll,
            "each runtime has its own instance"
        );

        // A task spawned from outside wakes the runtime through its epoll fd.
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        driven
            .handle()
            .spawn(async move { flag.store(true, Ordering::SeqCst) });
        let mut p = libc::pollfd {
            fd: driven.epoll(),
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
            readable(driven.epoll()),
            "the byte makes the runtime's fd readable"
        );
        assert!(handle.drive());
        assert!(
            done.load(Ordering::SeqCst),
            "the woken task ran in the same drive"
        );
        assert!(
            !readable(driven.epoll()),
            "nothing is left for a later drive"
        );
    }

    /// The only exchange in flight runs inside the spawn; with another in flight it waits for a
    /// drive (the host's, when the runtime's fd says so).
    #[test]
    fn the_only_exchange_runs_at_once_and_others_in_the_next_drive() {
        let driven = Driven::start().expect("a driven runtime");
        let ran = |flag: &Arc<AtomicBool>| {
            let flag = flag.clone();
            async move { flag.store(true, Ordering::SeqCst) }
        };
        let answered = |spawned: &mut Spawned<()>| {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            std::future::Future::poll(std::pin::Pin::new(spawned), &mut cx).is_ready()
        };
        // The runtime's own tasks (the spawner, the timer) start in the first drive.
        assert!(DrivenHandle(driven.clone()).drive());
        assert!(!readable(driven.epoll()));

        let first = Arc::new(AtomicBool::new(false));
        let (mut spawned, active) = driven.spawn_exchange(ran(&first));
        assert!(first.load(Ordering::SeqCst), "ran inside the spawn");
        assert!(answered(&mut spawned));
        assert!(!readable(driven.epoll()), "nothing left for a drive");

        // Two more while the first is still counted: queued, and one wake-up for both.
        let (second, third) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (mut spawned_2, _active_2) = driven.spawn_exchange(ran(&second));
        let (mut spawned_3, _active_3) = driven.spawn_exchange(ran(&third));
        assert!(!second.load(Ordering::SeqCst), "queued, not run");
        assert!(readable(driven.epoll()), "the queue wakes the runtime's fd");
        assert!(DrivenHandle(driven.clone()).drive());
        assert!(
            second.load(Ordering::SeqCst) && third.load(Ordering::SeqCst),
            "one drive ran both"
        );
        assert!(answered(&mut spawned_2) && answered(&mut spawned_3));
        drop(active);
    }

    /// Dropping a [`Spawned`] ends its exchange (the host dropped the call).
    #[test]
    fn a_dropped_exchange_ends() {
        let driven = Driven::start().expect("a driven runtime");
        struct Ends(Arc<AtomicBool>);
        impl Drop for Ends {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let ended = Arc::new(AtomicBool::new(false));
        let guard = Ends(ended.clone());
        let (spawned, active) = driven.spawn_exchange(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        assert!(!ended.load(Ordering::SeqCst), "the exchange waits");
        drop(spawned);
        drop(active);
        assert!(DrivenHandle(driven.clone()).drive());
        assert!(ended.load(Ordering::SeqCst), "dropping the call ended it");
    }
}
