//! Panics in a plugin, and where they are reported.
//!
//! A plugin has its own copy of the standard library, and so its own panic hook: by default it
//! prints `thread '…' panicked at …` on standard error, once per panic, past the host's log
//! (its filters and its redaction of secrets). The glue catches every panic at the boundary and
//! returns it as the call's error, which the host reports; printing it as well said the same
//! thing twice, or once per call of a plugin that panics on every call.
//!
//! So once a host has loaded the plugin (`crate::module`'s `loaded`, never merely by linking),
//! a hook of ours goes before the previous one:
//! - a panic **inside a boundary call** (this thread is inside [`catch`], which every entry
//!   point, poll and body read of the glue runs in) is recorded, message and location, for the
//!   boundary to put into the error it returns, and printed nowhere;
//! - a panic **elsewhere** (a thread of the plugin's own, a task its runtime runs between
//!   calls) goes to the host's log channel as an error, with its location; without a channel (a
//!   host before 1.4) to the previous hook, as before.

use std::{
    any::Any,
    backtrace::{Backtrace, BacktraceStatus},
    cell::{Cell, RefCell},
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo},
    pin::Pin,
    sync::Once,
    task::{Context, Poll},
};

use abi_stable::std_types::RString;

use crate::ffi::{ErrorKind, FfiError};
use crate::log::{emit, host_connected, Level};

thread_local! {
    /// How many boundary calls this thread is inside (a body poll inside a call's poll nests).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The last panic raised inside a boundary call on this thread, until the boundary takes it.
    static RECORD: RefCell<Option<Record>> = const { RefCell::new(None) };
}

/// What the hook saw of a panic inside a boundary call.
struct Record {
    message: String,
    location: Option<String>,
}

impl Record {
    /// `message (at file:line:column)`.
    fn describe(&self) -> String {
        match &self.location {
            Some(at) => format!("{} (at {at})", self.message),
            None => self.message.clone(),
        }
    }
}

/// Puts our hook before the current one, once per plugin library (see the module docs).
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !quiet(info) {
                previous(info)
            }
        }));
    });
}

/// Our part of the hook: whether the panic was recorded or logged (else the previous hook
/// prints it). Nothing here may panic: a panic inside a panic hook aborts the process, the
/// host's included.
fn quiet(info: &PanicHookInfo<'_>) -> bool {
    let inside = DEPTH.try_with(Cell::get).unwrap_or(0) > 0;
    let record = || Record {
        message: payload_text(info.payload()),
        location: info.location().map(|l| l.to_string()),
    };
    if inside {
        let replaced = RECORD.try_with(|slot| {
            slot.try_borrow_mut()
                .map(|mut slot| slot.replace(record()))
                .ok()
        });
        match replaced {
            // A panic that the plugin caught itself, inside the call, before this one.
            Ok(Some(Some(earlier))) => caught_by_the_plugin(&earlier),
            Ok(Some(None)) => {}
            // The thread is being torn down, or the slot is busy: the previous hook prints it.
            Ok(None) | Err(_) => return false,
        }
        return true;
    }
    if !host_connected() {
        return false;
    }
    emit(
        Level::Error,
        &format!("a thread of the plugin panicked: {}", record().describe()),
        None,
    );
    // What the default hook would have printed with RUST_BACKTRACE set, at the level of detail
    // a backtrace is (and only captured when that level is shown: capturing is slow).
    if !crate::log::enabled(Level::Debug) {
        return true;
    }
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        emit(
            Level::Debug,
            &format!("backtrace of that panic:\n{backtrace}"),
            None,
        );
    }
    true
}

/// A recorded panic that no boundary took: the plugin caught it itself (`catch_unwind` inside
/// a call). Not the call's error, and not printed by the hook, so it is at least logged.
fn caught_by_the_plugin(record: &Record) {
    emit(
        Level::Debug,
        &format!("a panic the plugin caught itself: {}", record.describe()),
        None,
    );
}

/// The text of a panic's payload, as the default hook shows it.
fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string())
}

/// Marks this thread as inside a boundary call for as long as it lives.
struct Inside;

impl Inside {
    fn enter() -> Inside {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_add(1)));
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let depth = DEPTH
            .try_with(|d| {
                d.set(d.get().saturating_sub(1));
                d.get()
            })
            .unwrap_or(0);
        if depth == 0 {
            if let Some(left) = take_record() {
                caught_by_the_plugin(&left);
            }
        }
    }
}

fn take_record() -> Option<Record> {
    RECORD
        .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
        .ok()
        .flatten()
}

/// A panic caught at the boundary: its payload, and what the hook recorded of it (its
/// location), if the hook is ours.
pub(crate) struct Caught {
    payload: Box<dyn Any + Send>,
    record: Option<Record>,
}

impl Caught {
    /// `message (at file:line:column)`, or the payload's text when the hook recorded nothing
    /// (the hook is not ours: a program that links the crate, a plugin that set its own).
    fn describe(&self) -> String {
        match &self.record {
            Some(record) => record.describe(),
            None => payload_text(self.payload.as_ref()),
        }
    }

    /// The panic as the boundary's error: `what` (e.g. "the plugin panicked during a call"),
    /// the message, and where it happened.
    pub(crate) fn into_error(self, what: &str) -> FfiError {
        FfiError {
            kind: ErrorKind::PANIC,
            message: RString::from(format!("{what}: {}", self.describe())),
            retryable: false,
        }
    }

    /// For a panic no caller gets as an error (in `close`, in a drop, in a task of the
    /// plugin's): logged as an error, once, instead of printed by the hook.
    pub(crate) fn log(self, what: &str) {
        emit(Level::Error, &format!("{what}: {}", self.describe()), None);
    }
}

/// Runs `f` as a boundary call: a panic in it is caught (and, with our hook, recorded instead of
/// printed) and returned with its location.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    let _inside = Inside::enter();
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let mut record = take_record();
        // A payload resumed without a new panic (`resume_unwind`) does not pass the hook: the
        // record, if any, is then of a panic the plugin caught earlier, not of this one.
        if let Some(r) = record.take_if(|r| r.message != payload_text(payload.as_ref())) {
            caught_by_the_plugin(&r);
        }
        Caught { payload, record }
    })
}

/// A future polled as a boundary call, every poll: it resolves to the panic, if one is raised,
/// instead of unwinding into whoever polls it (a runtime's worker, the host). The future that
/// panicked is dropped at once, its drop caught too.
pub(crate) struct Guarded<F> {
    future: Option<Pin<Box<F>>>,
}

impl<F> Guarded<F> {
    pub(crate) fn new(future: F) -> Self {
        Guarded {
            future: Some(Box::pin(future)),
        }
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, Caught>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(future) = self.future.as_mut() else {
            // Polled after it completed: a misuse of the future, answered as tokio's would be
            // by a panic, which this must not raise.
            return Poll::Pending;
        };
        match catch(|| future.as_mut().poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.future = None;
                Poll::Ready(Ok(output))
            }
            Err(caught) => {
                let broken = self.future.take();
                if let Err(again) = catch(move || drop(broken)) {
                    again.log("the plugin panicked dropping a future that had panicked");
                }
                Poll::Ready(Err(caught))
            }
        }
    }
}

impl<F> Drop for Guarded<F> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            if let Err(caught) = catch(move || drop(future)) {
                caught.log("the plugin panicked dropping a call it was making");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hook is process-wide: one test installs it and checks both cases, so that no other
    // test of this crate runs under it by surprise (they would still pass: it only changes what
    // is printed).
    #[test]
    fn a_panic_inside_a_boundary_call_comes_back_with_its_location() {
        install_hook();
        let line = line!() + 1;
        let caught = catch(|| panic!("boom {}", 42)).expect_err("caught");
        let e = caught.into_error("the plugin panicked during a call");
        assert_eq!(e.kind, ErrorKind::PANIC);
        let expected = format!(
            "the plugin panicked during a call: boom 42 (at {}:{line}:",
            file!()
        );
        assert!(e.message.starts_with(&expected), "{}", e.message);
        // Nothing is left behind for the next call on this thread.
        assert!(take_record().is_none());
        // Nested boundaries: the inner one takes its own panic.
        let outer = catch(|| catch(|| panic!("inner")).err().map(|c| c.describe()));
        let inner = outer.ok().flatten().expect("the inner boundary caught it");
        assert!(inner.starts_with("inner (at "), "{inner}");
        assert_eq!(DEPTH.with(Cell::get), 0);
    }

    #[test]
    fn a_guarded_future_resolves_to_its_panic() {
        let mut guarded = Guarded::new(async { panic!("in a poll") });
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(&mut guarded).poll(&mut cx) {
            Poll::Ready(Err(caught)) => assert!(caught.describe().starts_with("in a poll")),
            _ => panic!("the panic was not caught"),
        }
        // Polled again, it stays pending instead of panicking.
        assert!(Pin::new(&mut guarded).poll(&mut cx).is_pending());
    }
}
