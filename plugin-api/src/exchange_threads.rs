//! The threads a blocking plugin's exchanges run on (see [`crate::blocking`]).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex, MutexGuard,
    },
    time::Duration,
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

/// The threads a client's exchanges run on, kept a while when idle, ended when the client is
/// dropped ([`ExchangeThreads::close`]). Each exchange comes with
/// its slot (a permit of the client's semaphore), which its thread gives back only once it is
/// in the idle list again: so a caller with a slot always finds an idle thread when one is
/// about to be, and there are never more threads than slots.
///
/// Why not tokio's blocking pool: it hands a job over through one mutex and a condition
/// variable that every thread shares, so at 32 exchanges in flight the threads queue on that
/// lock, each wait one more sleep and wake-up on a 2-core machine. Here an idle thread waits
/// on a channel of its own: the caller takes the most recently idle one (its stack and caches
/// are warm) and wakes exactly it; the shared lock is held only to push or pop one entry.
/// Measured with the ureq example at 32 exchanges in flight (2-core VM): futex calls 5.6 ->
/// 3.0 per call, context switches 4.7 -> 3.1, calls/s +7-16 % (the curl plugin +14 %).
pub(crate) struct ExchangeThreads {
    /// One permit per exchange that may run at once.
    slots: Arc<Semaphore>,
    idle: Mutex<Idle>,
    next_id: AtomicU64,
    name: String,
    linger: Duration,
}

/// The idle threads, and whether the client is gone.
#[derive(Default)]
struct Idle {
    /// Each idle thread's id and channel, the most recently idle last.
    threads: Vec<(u64, mpsc::Sender<Message>)>,
    /// Set by [`ExchangeThreads::close`]: a thread that finishes its exchange then ends.
    closed: bool,
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
    /// with nothing to do.
    pub(crate) fn new(name: String, slots: usize, linger: Duration) -> Self {
        ExchangeThreads {
            slots: Arc::new(Semaphore::new(slots)),
            idle: Mutex::new(Idle::default()),
            next_id: AtomicU64::new(0),
            name,
            linger,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot, to [`run`](Self::run) an exchange with; fails once closed.
    pub(crate) async fn slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::new(ErrorKind::OTHER, "the transport is shutting down"))
    }

    /// Runs `job` on an idle thread, or on a new one, with the plugin's runtime entered (as
    /// tokio's blocking threads have it: the author's code may use `Handle::current()`); the
    /// thread frees `slot` once it is idle again. Fails (retryably) only when no thread can be
    /// started.
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
        let mut job: Job = (exchange, slot);
        loop {
            let Some((_, thread)) = self.idle().threads.pop() else {
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

    /// Fails the calls still waiting for a slot, ends the idle threads now, and each busy one
    /// when its exchange is done (the client is dropped: without this they would wait out
    /// their linger).
    pub(crate) fn close(&self) {
        self.slots.close();
        let idle = {
            let mut idle = self.idle();
            idle.closed = true;
            std::mem::take(&mut idle.threads)
        };
        for (_, thread) in idle {
            let _ = thread.send(Message::Stop);
        }
    }

    /// An exchange thread's life: run a job, go back to the idle list, wait for the next.
    fn serve(self: Arc<Self>, first: Job) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel::<Message>();
        let mut job = first;
        loop {
            let (exchange, slot) = job;
            // The exchange catches the plugin's panics in its call and reads, but a reader's or
            // a client's drop may panic too: the thread lives on.
            if let Err(caught) = catch(exchange) {
                caught.log("the plugin panicked on an exchange thread");
            }
            {
                let mut idle = self.idle();
                if idle.closed {
                    return;
                }
                idle.threads.push((id, tx.clone()));
            }
            drop(slot);
            let next = match rx.recv_timeout(self.linger) {
                Ok(next) => next,
                Err(_) => {
                    // Leave the list; if a caller (or `close`) took this thread's entry
                    // meanwhile, its message is on the way.
                    let mut idle = self.idle();
                    match idle.threads.iter().position(|(i, _)| *i == id) {
                        Some(at) => {
                            idle.threads.remove(at);
                            return;
                        }
                        None => {
                            drop(idle);
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
            Pool {
                rt: tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap(),
                threads: Arc::new(ExchangeThreads::new("t".into(), slots, linger)),
            }
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
        assert!(pool.threads.idle().threads.is_empty());
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
        while !pool.threads.idle().threads.is_empty() {
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
}
