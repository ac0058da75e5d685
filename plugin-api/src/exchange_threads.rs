//! The threads a blocking plugin's exchanges run on (see [`crate::blocking`]).

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Condvar, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use tokio::{
    runtime::Handle,
    sync::{OwnedSemaphorePermit, Semaphore},
};

use crate::ffi::ErrorKind;
use crate::panics::catch;
use crate::types::Error;

/// How long an exchange thread with nothing to do waits for the next exchange before it ends.
pub(crate) const IDLE_THREAD_LINGERS: Duration = Duration::from_secs(10);
/// How often the watcher looks at the queue while exchanges run; also how long a queued
/// exchange waits at most (give or take a tick) before it gets a thread of its own. Ticks cost:
/// at 2 ms, the watcher's wake-ups took a tenth of the ureq example's rate at 32 in flight.
const TICK: Duration = Duration::from_millis(10);
/// The watcher rests after this long with nothing queued.
const REST_AFTER: Duration = Duration::from_millis(200);
/// The share of its thread's time an exchange typically spends on a CPU (the rest waiting on
/// the server) from which exchanges queue: below it, threads mostly wait on the network, and
/// more of them side by side is more done.
const CPU_BOUND: f64 = 0.2;
/// How long exchanges count as waiting on the network without a new measure before queueing
/// is tried again (measures are taken only with at most `eager` threads running, which such
/// exchanges prevent). Trying costs a slow server's calls up to a tick each, for a few of them.
const REMEASURE: Duration = Duration::from_secs(10);

/// The threads a client's exchanges run on, kept a while when idle, ended when the client is
/// dropped ([`ExchangeThreads::close`]). Each exchange comes with its slot (a permit of the
/// client's semaphore), which its thread gives back only once it is idle or on its next
/// exchange, so there are never more threads than slots. A caller with a slot gets a thread at
/// once, or waits in the queue (below) while threads it could have had stay idle, by design.
///
/// Why not tokio's blocking pool: it hands a job over through one mutex and a condition
/// variable that every thread shares, so at 32 exchanges in flight the threads queue on that
/// lock, each wait one more sleep and wake-up on a 2-core machine. Here an idle thread waits
/// on a channel of its own: the caller takes the most recently idle one (its stack and caches
/// are warm) and wakes exactly it; the shared lock is held only for a few fields' updates.
/// Measured with the ureq example at 32 exchanges in flight (2-core VM): futex calls 5.6 ->
/// 3.0 per call, context switches 4.7 -> 3.1, calls/s +7-16 % (the curl plugin +14 %).
///
/// Why a queue: a thread per exchange sleeps twice per exchange, once for the server and once
/// for its next exchange, and when the server answers fast each sleep and wake-up costs about
/// as much CPU as the exchange itself. So while exchanges typically spend at least
/// [`CPU_BOUND`] of their thread's time on a CPU (measured on the thread, with at most `eager`
/// threads running, `eager` being the number of CPUs), an exchange that finds `eager` threads
/// running waits in a queue, the next thread to finish takes it without sleeping, and threads
/// beyond `eager` go idle as they finish. When exchanges mostly wait on the server (a slow or
/// distant one), every exchange gets a thread at once, as before: more side by side is then
/// more done. A watcher thread gives a queued exchange a thread of its own once it waited a
/// [`TICK`] (behind long ones: a slow body read, say, or while the measures catch up with a
/// server that slowed down), and then counts exchanges as waiting on the network until the
/// next measure, since the threads it waited for were held that long.
/// Measured with the ureq example at 32 in flight (2-core VM, loopback server): 33-35k calls/s
/// with a thread each, 46-51k with the queue behind 2 or 4 threads, 42k behind 8.
pub(crate) struct ExchangeThreads {
    /// One permit per exchange that may run at once.
    slots: Arc<Semaphore>,
    pool: Mutex<Shared>,
    /// Wakes a resting watcher.
    watcher: Condvar,
    next_id: AtomicU64,
    name: String,
    linger: Duration,
    /// Threads that run exchanges before the queue, for CPU-bound ones.
    eager: usize,
    /// How long a queued exchange waits before it gets a thread of its own.
    patience: Duration,
}

/// The threads' shared state.
struct Shared {
    /// Each idle thread's id and channel, the most recently idle last.
    idle: Vec<(u64, mpsc::Sender<Message>)>,
    /// Exchanges waiting for a busy thread, with when they came.
    queue: VecDeque<(Job, Instant)>,
    /// Threads running an exchange.
    running: usize,
    /// A moving average (an eighth per measure) of the share of its thread's time an
    /// exchange spends on a CPU; starts as CPU-bound.
    cpu_share: f64,
    /// When `cpu_share` last took a measure.
    measured: Instant,
    /// When an exchange last went into the queue.
    queued: Instant,
    /// Whether the watcher thread was started.
    watched: bool,
    /// Whether the watcher waits for [`ExchangeThreads::watcher`].
    resting: bool,
    /// Set by [`ExchangeThreads::close`]: a thread that finishes its exchange then ends.
    closed: bool,
}

impl Shared {
    /// Folds one exchange into `cpu_share`: `held` its thread's time, `on_cpu` the CPU time
    /// of it (an eighth of the new share).
    fn measure(&mut self, held: Duration, on_cpu: Duration, now: Instant) {
        let held = held.max(on_cpu);
        if held.is_zero() {
            return;
        }
        let share = on_cpu.as_secs_f64() / held.as_secs_f64();
        self.cpu_share += (share - self.cpu_share) / 8.0;
        self.measured = now;
    }
}

/// What an idle thread receives.
enum Message {
    /// An exchange and its slot.
    Run(Job),
    /// The client is gone: end.
    Stop,
}

/// An exchange and its slot.
type Job = (Box<dyn FnOnce() + Send>, OwnedSemaphorePermit);

impl ExchangeThreads {
    /// Threads named `name` for at most `slots` exchanges at once, each ending after `linger`
    /// with nothing to do; beyond as many as CPUs, CPU-bound exchanges queue.
    pub(crate) fn new(name: String, slots: usize, linger: Duration) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::tuned(name, slots, linger, cpus, TICK)
    }

    /// As [`new`](Self::new), with `eager` threads before the queue and the queue's
    /// `patience`.
    fn tuned(
        name: String,
        slots: usize,
        linger: Duration,
        eager: usize,
        patience: Duration,
    ) -> Self {
        let now = Instant::now();
        ExchangeThreads {
            slots: Arc::new(Semaphore::new(slots)),
            pool: Mutex::new(Shared {
                idle: Vec::new(),
                queue: VecDeque::new(),
                running: 0,
                cpu_share: 1.0,
                measured: now,
                queued: now,
                watched: false,
                resting: false,
                closed: false,
            }),
            watcher: Condvar::new(),
            next_id: AtomicU64::new(0),
            name,
            linger,
            eager: eager.max(1),
            patience,
        }
    }

    fn pool(&self) -> MutexGuard<'_, Shared> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot, to [`run`](Self::run) an exchange with; fails once closed.
    pub(crate) async fn slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::new(ErrorKind::OTHER, "the transport is shutting down"))
    }

    /// Runs `job` with the plugin's runtime entered (as tokio's blocking threads have it: the
    /// author's code may use `Handle::current()`): on an idle thread or a new one, or, while
    /// exchanges are CPU-bound and `eager` threads run, after the exchange of the next one to
    /// finish.
    /// Its thread frees `slot` once it is done with it. Fails (retryably) only when no thread
    /// can be started.
    pub(crate) fn run(
        self: &Arc<Self>,
        runtime: &Handle,
        slot: OwnedSemaphorePermit,
        job: impl FnOnce() + Send + 'static,
    ) -> Result<(), Error> {
        let runtime = runtime.clone();
        let exchange: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _entered = runtime.enter();
            job()
        });
        let job: Job = (exchange, slot);
        let mut pool = self.pool();
        let now = Instant::now();
        if pool.cpu_share < CPU_BOUND && now.duration_since(pool.measured) >= REMEASURE {
            // Waiting on the network for a while, unmeasured since: try queueing again (the
            // next measures say whether it still is).
            pool.cpu_share = 1.0;
            pool.measured = now;
        }
        if pool.running < self.eager || pool.cpu_share < CPU_BOUND || pool.closed {
            pool.running += 1;
            drop(pool);
            return self.hand_over(job).inspect_err(|_| self.given_up_one());
        }
        pool.queue.push_back((job, now));
        pool.queued = now;
        let wake = std::mem::take(&mut pool.resting);
        let start_watcher = !std::mem::replace(&mut pool.watched, true);
        drop(pool);
        if wake {
            self.watcher.notify_one();
        }
        if start_watcher {
            self.start_watcher();
        }
        Ok(())
    }

    /// Starts the watcher thread (once: `watched` was set).
    fn start_watcher(self: &Arc<Self>) {
        let threads = self.clone();
        let started = std::thread::Builder::new()
            .name(format!("{}-watch", self.name))
            .spawn(move || threads.watch());
        if let Err(e) = started {
            // The queue still moves as threads finish; the next exchange beyond `eager` tries
            // to start the watcher again.
            self.pool().watched = false;
            crate::log::warn!("could not start the exchange watcher thread: {e}");
        }
    }

    /// An exchange counted in `running` got no thread. With none left running, no thread will
    /// take the queue either: its exchanges are dropped, and their calls fail.
    fn given_up_one(&self) {
        let stranded = {
            let mut pool = self.pool();
            pool.running -= 1;
            if pool.running == 0 {
                std::mem::take(&mut pool.queue)
            } else {
                VecDeque::new()
            }
        };
        drop(stranded);
    }

    /// Gives `job` to an idle thread, or to a new one (counted in `running` already).
    fn hand_over(self: &Arc<Self>, mut job: Job) -> Result<(), Error> {
        loop {
            let Some((_, thread)) = self.pool().idle.pop() else {
                break;
            };
            // An entry is only ever taken once, and a thread leaves the list before it ends,
            // so the send finds its thread waiting; the job comes back only if it is gone.
            match thread.send(Message::Run(job)) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(Message::Run(back))) => job = back,
                Err(mpsc::SendError(Message::Stop)) => unreachable!("a job was sent"),
            }
        }
        let threads = self.clone();
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || threads.serve(job))
            .map(drop)
            .map_err(|e| {
                Error::new(
                    ErrorKind::OTHER,
                    format!("could not start a thread for the exchange: {e}"),
                )
                .retryable(true)
            })
    }

    /// Fails the calls still waiting for a slot or in the queue, ends the idle threads and the
    /// watcher now, and each busy thread when its exchange is done (the client is dropped:
    /// without this they would wait out their linger).
    pub(crate) fn close(&self) {
        self.slots.close();
        let (idle, queued) = {
            let mut pool = self.pool();
            pool.closed = true;
            (
                std::mem::take(&mut pool.idle),
                std::mem::take(&mut pool.queue),
            )
        };
        self.watcher.notify_all();
        // A queued exchange dropped unrun fails its call ("ended without a response").
        drop(queued);
        for (_, thread) in idle {
            let _ = thread.send(Message::Stop);
        }
    }

    /// An exchange thread's life: run a job, take the next from the queue or go back to the
    /// idle list, and wait for the next.
    fn serve(self: Arc<Self>, first: Job) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel::<Message>();
        let mut job = first;
        loop {
            let (exchange, slot) = job;
            let (started, cpu_started) = (Instant::now(), thread_cpu_time());
            // The exchange catches the plugin's panics in its call and reads, but a reader's or
            // a client's drop may panic too: the thread lives on.
            if let Err(caught) = catch(exchange) {
                caught.log("the plugin panicked on an exchange thread");
            }
            let on_cpu = thread_cpu_time().saturating_sub(cpu_started);
            {
                let now = Instant::now();
                let mut pool = self.pool();
                // With more threads than `eager` running, an exchange's time includes waiting
                // for a CPU, which says nothing of the server.
                if pool.running <= self.eager {
                    pool.measure(now.duration_since(started), on_cpu, now);
                }
                if pool.closed {
                    pool.running -= 1;
                    return;
                }
                // While exchanges are CPU-bound, threads beyond `eager` go idle as they finish:
                // fewer threads then do more.
                let next = if pool.running <= self.eager || pool.cpu_share < CPU_BOUND {
                    pool.queue.pop_front()
                } else {
                    None
                };
                if let Some((next, _)) = next {
                    drop(pool);
                    drop(slot);
                    job = next;
                    continue;
                }
                pool.running -= 1;
                pool.idle.push((id, tx.clone()));
            }
            drop(slot);
            let next = match rx.recv_timeout(self.linger) {
                Ok(next) => next,
                Err(_) => {
                    // Leave the list; if a caller (or `close`) took this thread's entry
                    // meanwhile, its message is on the way.
                    let mut pool = self.pool();
                    match pool.idle.iter().position(|(i, _)| *i == id) {
                        Some(at) => {
                            pool.idle.remove(at);
                            return;
                        }
                        None => {
                            drop(pool);
                            match rx.recv() {
                                Ok(next) => next,
                                Err(_) => return,
                            }
                        }
                    }
                }
            };
            job = match next {
                Message::Run(job) => job,
                Message::Stop => return,
            };
        }
    }

    /// The watcher's life, until the client is gone: every tick, gives queued exchanges
    /// threads of their own when exchanges wait on the network, and those that waited their
    /// patience in any case; rests while nothing queues.
    fn watch(self: Arc<Self>) {
        let mut pool = self.pool();
        loop {
            if pool.closed {
                return;
            }
            let now = Instant::now();
            if pool.queue.is_empty() && now.duration_since(pool.queued) >= REST_AFTER {
                pool.resting = true;
                pool = self.watcher.wait(pool).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let mut due = Vec::new();
            while let Some((_, since)) = pool.queue.front() {
                let waited = now.duration_since(*since) >= self.patience;
                if !(pool.cpu_share < CPU_BOUND || waited) {
                    break;
                }
                if waited {
                    // The threads it waited for were held that long: until the next measure,
                    // exchanges count as waiting on the network, and nothing queues.
                    (pool.cpu_share, pool.measured) = (0.0, now);
                }
                let (job, _) = pool.queue.pop_front().expect("a front");
                pool.running += 1;
                due.push(job);
            }
            if !due.is_empty() {
                drop(pool);
                for job in due {
                    if let Err(e) = self.hand_over(job) {
                        // No thread to be had now (the error is gone with the job's thread
                        // closure, so the call fails as "ended without a response").
                        crate::log::warn!("{e}");
                        self.given_up_one();
                    }
                }
                pool = self.pool();
                if pool.closed {
                    return;
                }
            }
            pool = self
                .watcher
                .wait_timeout(pool, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// A pool of `slots` threads lingering `linger`, on a runtime of its own.
    struct Pool {
        rt: tokio::runtime::Runtime,
        threads: Arc<ExchangeThreads>,
    }

    impl Pool {
        fn new(slots: usize, linger: Duration) -> Pool {
            Pool::tuned(slots, linger, slots, TICK)
        }

        /// With `eager` threads before the queue and its `patience`.
        fn tuned(slots: usize, linger: Duration, eager: usize, patience: Duration) -> Pool {
            Pool {
                rt: tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap(),
                threads: Arc::new(ExchangeThreads::tuned(
                    "t".into(),
                    slots,
                    linger,
                    eager,
                    patience,
                )),
            }
        }

        /// Exchanges count as CPU-bound (they start so): those beyond `eager` queue.
        fn busy(&self) {
            let mut pool = self.threads.pool();
            (pool.cpu_share, pool.measured) = (1.0, std::time::Instant::now());
        }

        /// Exchanges count as waiting on the network: none queues.
        fn network_bound(&self) {
            let mut pool = self.threads.pool();
            (pool.cpu_share, pool.measured) = (0.0, std::time::Instant::now());
        }

        /// Ends the threads and the watcher with the test.
        fn close(&self) {
            self.threads.close();
        }

        /// A free slot, now.
        fn slot(&self) -> OwnedSemaphorePermit {
            self.threads
                .slots
                .clone()
                .try_acquire_owned()
                .expect("a free slot")
        }

        fn run(&self, job: impl FnOnce() + Send + 'static) {
            self.run_with(self.slot(), job)
        }

        fn run_with(&self, slot: OwnedSemaphorePermit, job: impl FnOnce() + Send + 'static) {
            self.threads.run(self.rt.handle(), slot, job).unwrap()
        }

        /// Waits until `n` slots are free (their threads idle again).
        fn wait_for_slots(&self, n: u32) {
            let slots = self.threads.slots.clone();
            drop(self.rt.block_on(slots.acquire_many_owned(n)).unwrap());
        }

        /// How many threads were started.
        fn started(&self) -> u64 {
            self.threads.next_id.load(Ordering::Relaxed)
        }
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            self.close();
        }
    }

    /// A job runs with the runtime entered; its thread is back in the idle list by the time
    /// its slot is free, so a caller that takes the slot the instant it is freed still finds
    /// that thread, and one slot never has more than one thread.
    #[test]
    fn the_next_job_goes_to_the_thread_that_freed_its_slot() {
        let pool = Pool::new(1, Duration::from_secs(10));
        let (tx, rx) = channel();
        for _ in 0..2000 {
            // Spin for the slot, to take it as soon as the thread frees it.
            let slot = loop {
                match pool.threads.slots.clone().try_acquire_owned() {
                    Ok(slot) => break slot,
                    Err(_) => std::hint::spin_loop(),
                }
            };
            let tx = tx.clone();
            pool.run_with(slot, move || {
                let entered = Handle::try_current().is_ok();
                tx.send((std::thread::current().id(), entered)).unwrap();
            });
        }
        let ran: Vec<_> = (0..2000).map(|_| rx.recv().unwrap()).collect();
        assert!(
            ran.iter().all(|(_, entered)| *entered),
            "a job ran outside the runtime"
        );
        assert!(ran.iter().all(|(id, _)| *id == ran[0].0));
        assert_eq!(pool.started(), 1, "a second thread was started");
    }

    /// Jobs that overlap each get a thread of their own: each waits until all four have
    /// started, which only happens if they run at once.
    #[test]
    fn overlapping_jobs_run_at_once() {
        let pool = Pool::new(4, Duration::from_secs(10));
        let started = Arc::new(AtomicU64::new(0));
        let (tx, rx) = channel();
        for _ in 0..4 {
            let (started, tx) = (started.clone(), tx.clone());
            pool.run(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let since = std::time::Instant::now();
                while started.load(Ordering::SeqCst) < 4
                    && since.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let all = started.load(Ordering::SeqCst) == 4;
                tx.send((std::thread::current().id(), all)).unwrap();
            });
        }
        let ran: Vec<_> = (0..4)
            .map(|_| {
                rx.recv_timeout(Duration::from_secs(60))
                    .expect("a job never ended")
            })
            .collect();
        assert!(
            ran.iter().all(|(_, all)| *all),
            "the jobs did not run at once"
        );
        let mut ids: Vec<_> = ran.iter().map(|(id, _)| format!("{id:?}")).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
    }

    /// A panic that escapes the job (a reader's drop, say) is logged and the thread goes on to
    /// the next job.
    #[test]
    fn a_thread_outlives_a_panicking_job() {
        let pool = Pool::new(1, Duration::from_secs(10));
        pool.run(|| panic!("a reader's drop panicked"));
        pool.wait_for_slots(1);
        let (tx, rx) = channel();
        pool.run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the job after the panic never ran");
        assert_eq!(pool.started(), 1, "the thread died");
    }

    /// Closing ends the idle threads at once and a busy one when its job is done.
    #[test]
    fn close_ends_the_threads() {
        let pool = Pool::new(2, Duration::from_secs(3600));
        pool.run(|| ());
        pool.wait_for_slots(2);
        let (go_tx, go_rx) = channel::<()>();
        pool.run(move || go_rx.recv_timeout(Duration::from_secs(10)).unwrap());
        pool.run(|| ());
        pool.wait_for_slots(1);
        pool.threads.close();
        go_tx.send(()).unwrap();
        // Each thread holds the pool while it lives: only this test's reference is left once
        // both have ended (an hour's linger, so only `close` can end them).
        let since = std::time::Instant::now();
        while Arc::strong_count(&pool.threads) > 1 {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "a thread lives on after close"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(pool.threads.pool().idle.is_empty());
    }

    /// An idle thread ends after its linger and leaves the list; a job after that starts a
    /// new thread and runs.
    #[test]
    fn an_idle_thread_ends_after_its_linger() {
        let pool = Pool::new(1, Duration::from_millis(20));
        let (tx, rx) = channel();
        let first = tx.clone();
        pool.run(move || first.send(()).unwrap());
        rx.recv().unwrap();
        pool.wait_for_slots(1);
        let start = std::time::Instant::now();
        while !pool.threads.pool().idle.is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the idle thread never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        pool.run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the job after the linger never ran");
        assert_eq!(pool.started(), 2);
    }

    /// With CPU-bound exchanges, a job that finds `eager` threads running waits in the queue and
    /// runs on the thread that finishes first, without a new thread or a sleep.
    #[test]
    fn a_queued_job_runs_on_the_next_thread_to_finish() {
        let pool = Pool::tuned(2, Duration::from_secs(10), 1, Duration::from_secs(3600));
        pool.busy();
        let (release, held) = channel::<()>();
        let (tx, rx) = channel();
        let first = tx.clone();
        pool.run(move || {
            held.recv().unwrap();
            first.send(std::thread::current().id()).unwrap();
        });
        pool.run(move || tx.send(std::thread::current().id()).unwrap());
        // An hour's patience: only the first job's thread can run the second.
        assert_eq!(
            pool.threads.pool().queue.len(),
            1,
            "the second job is queued"
        );
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "the queued job ran while every thread was busy"
        );
        release.send(()).unwrap();
        let a = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let b = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(a, b, "the second job ran on the first one's thread");
        assert_eq!(pool.started(), 1);
    }

    /// A queued job behind one that does not end gets a thread of its own once it waited its
    /// patience.
    #[test]
    fn a_job_queued_behind_a_long_one_gets_a_thread_after_its_patience() {
        let pool = Pool::tuned(2, Duration::from_secs(10), 1, Duration::from_millis(20));
        pool.busy();
        let (release, held) = channel::<()>();
        pool.run(move || held.recv_timeout(Duration::from_secs(60)).unwrap());
        let (tx, rx) = channel();
        let queued = std::time::Instant::now();
        pool.run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the queued job never got a thread");
        let waited = queued.elapsed();
        release.send(()).unwrap();
        assert!(
            waited >= Duration::from_millis(20),
            "it did not queue: {waited:?}"
        );
        assert_eq!(pool.started(), 2);
    }

    /// With exchanges that wait on the network (a slow server), nothing queues: each job gets
    /// a thread at once, however many run.
    #[test]
    fn network_bound_jobs_each_get_a_thread_at_once() {
        let pool = Pool::tuned(2, Duration::from_secs(10), 1, Duration::from_secs(3600));
        pool.network_bound();
        let (release, held) = channel::<()>();
        pool.run(move || held.recv_timeout(Duration::from_secs(60)).unwrap());
        let (tx, rx) = channel();
        pool.run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second job waited for the first");
        release.send(()).unwrap();
        assert_eq!(pool.started(), 2);
    }

    /// Once exchanges are CPU-bound, threads beyond `eager` go idle as they finish and leave
    /// the queue to the others.
    #[test]
    fn with_cpu_bound_jobs_threads_beyond_eager_go_idle() {
        let pool = Pool::tuned(3, Duration::from_secs(10), 1, Duration::from_secs(3600));
        pool.network_bound();
        let (release_a, held_a) = channel::<()>();
        let (release_b, held_b) = channel::<()>();
        let (tx, rx) = channel();
        let (ta, tb) = (tx.clone(), tx.clone());
        pool.run(move || {
            held_a.recv().unwrap();
            ta.send(("a", std::thread::current().id())).unwrap();
        });
        pool.run(move || {
            held_b.recv().unwrap();
            tb.send(("b", std::thread::current().id())).unwrap();
        });
        pool.busy();
        pool.run(move || tx.send(("c", std::thread::current().id())).unwrap());
        assert_eq!(pool.threads.pool().queue.len(), 1, "c is queued");
        release_a.send(()).unwrap();
        let a = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(a.0, "a");
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "a's thread, beyond eager, took c"
        );
        release_b.send(()).unwrap();
        let b = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let c = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!((b.0, c.0), ("b", "c"));
        assert_eq!(b.1, c.1, "c ran on b's thread");
        assert_eq!(pool.started(), 2);
    }

    /// Jobs that sleep (wait on a "server") measure as network-bound, on their own threads.
    /// (Load only lowers a measured share, so this cannot pass by chance.)
    #[test]
    fn sleeping_jobs_measure_as_network_bound() {
        let pool = Pool::tuned(4, Duration::from_secs(10), 1, Duration::from_secs(3600));
        for _ in 0..20 {
            let (tx, rx) = channel();
            pool.run(move || {
                std::thread::sleep(Duration::from_millis(2));
                tx.send(()).unwrap();
            });
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
            pool.wait_for_slots(4);
        }
        let share = pool.threads.pool().cpu_share;
        assert!(share < CPU_BOUND, "sleeping jobs measured {share}");
    }

    /// The share is a moving average of each exchange's CPU time over its time, an eighth per
    /// exchange, and a watcher's hand-over after the patience turns queueing off.
    #[test]
    fn the_cpu_share_averages_and_a_late_job_turns_queueing_off() {
        let pool = Pool::tuned(4, Duration::from_secs(10), 1, Duration::from_millis(20));
        let now = std::time::Instant::now();
        {
            let mut state = pool.threads.pool();
            assert_eq!(state.cpu_share, 1.0);
            state.measure(Duration::from_micros(100), Duration::from_micros(50), now);
            assert!((state.cpu_share - (1.0 - 0.5 / 8.0)).abs() < 1e-9);
            for _ in 0..100 {
                state.measure(Duration::from_micros(100), Duration::from_micros(50), now);
            }
            assert!((state.cpu_share - 0.5).abs() < 1e-3);
            // CPU time past the wall time (clock granularity) counts as all of it.
            state.measure(Duration::ZERO, Duration::from_micros(10), now);
            assert!(state.cpu_share > 0.5);
        }
        pool.busy();
        let (release, held) = channel::<()>();
        pool.run(move || held.recv_timeout(Duration::from_secs(60)).unwrap());
        let (tx, rx) = channel();
        pool.run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the queued job never got a thread");
        release.send(()).unwrap();
        assert!(
            pool.threads.pool().cpu_share < CPU_BOUND,
            "a job that waited its patience left queueing on"
        );
    }

    /// Closing drops the queued jobs unrun (their calls fail) and ends the watcher.
    #[test]
    fn close_drops_the_queue_and_ends_the_watcher() {
        let pool = Pool::tuned(2, Duration::from_secs(3600), 1, Duration::from_secs(3600));
        pool.busy();
        let (release, held) = channel::<()>();
        pool.run(move || held.recv_timeout(Duration::from_secs(60)).unwrap());
        let (tx, rx) = channel::<()>();
        pool.run(move || tx.send(()).unwrap());
        pool.threads.close();
        release.send(()).unwrap();
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_err(),
            "a queued job ran after close"
        );
        let since = std::time::Instant::now();
        while Arc::strong_count(&pool.threads) > 1 {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "a thread or the watcher lives on after close"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
