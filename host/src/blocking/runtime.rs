//! The runtime behind the blocking facade: a current-thread tokio runtime parked on a thread of
//! its own, driving the sockets and timers, while the caller's thread polls the call's future.
//!
//! Polling on the caller's thread (instead of spawning onto the runtime) lets a call borrow
//! its arguments, as the async methods do. Waiting is a plain thread park, never tokio's
//! `block_on`, so no call can hit tokio's "cannot start a runtime from within a runtime" panic;
//! and the runtime is dropped on its own thread, so dropping the client inside async code
//! cannot panic either.

use std::{
    future::Future,
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Wake, Waker},
    thread::Thread,
};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::Error;

/// A shared handle on the facade's runtime; the runtime stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Rt(Arc<RuntimeThread>);

#[derive(Debug)]
struct RuntimeThread {
    handle: Handle,
    /// Dropping it ends the runtime thread's `block_on`.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Rt {
    /// Starts the runtime thread.
    pub(crate) fn start() -> Result<Rt, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::config(format!("cannot start the blocking client's runtime: {e}"))
                    .with_source(e)
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("apify-blocking".into())
            .spawn(move || {
                // Drives I/O and timers until the client is gone; the runtime is dropped here,
                // on a thread that is never inside async code.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| {
                Error::config(format!("cannot start the blocking client's thread: {e}"))
                    .with_source(e)
            })?;
        Ok(Rt(Arc::new(RuntimeThread {
            handle,
            _stop: stop,
        })))
    }

    /// Runs the future `make()` returns to completion on the calling thread, with the facade's
    /// runtime as the tokio context (sockets and timers registered with it).
    pub(crate) fn run<F, T>(&self, make: impl FnOnce() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.run_plain(make)?
    }

    /// [`Rt::run`] for a future whose output is not a `Result`.
    pub(crate) fn run_plain<F: Future>(
        &self,
        make: impl FnOnce() -> F,
    ) -> Result<F::Output, Error> {
        let inside = Handle::try_current().ok().map(|h| h.runtime_flavor());
        if inside == Some(RuntimeFlavor::CurrentThread) {
            // Parking this thread would stall every task of the caller's runtime, which may be
            // the one the caller's own I/O needs: refuse instead of hanging.
            return Err(Error::misuse(
                "the blocking client was called inside a current-thread tokio runtime, where \
                 waiting would stall that runtime: use the async `apify_host::ApifyClient` with \
                 `.await` there, or call the blocking client from a thread of its own \
                 (`std::thread::spawn`)",
            ));
        }
        let _context = self.0.handle.enter();
        let wait = || park_on(make());
        Ok(match inside {
            // On a worker of a multi-thread runtime: hand the worker's other tasks to another
            // thread first, as tokio requires before blocking (harmless on blocking threads).
            Some(_) => tokio::task::block_in_place(wait),
            None => wait(),
        })
    }
}

/// Wakes the parked caller.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between wake-ups.
fn park_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            // A spurious unpark only costs one more poll.
            Poll::Pending => std::thread::park(),
        }
    }
}
