//! The runtime services of interface 1.3 ([`HostRuntime`], [`HostSocket`]) implemented on
//! tokio, written once for both sides: the host lends them on its own runtime, and a hosted
//! plugin loaded by an older host (which lends nothing) builds them on a runtime of its own.
//! Within one process this crate shares the tokio of whoever links it, so the same code serves
//! the host's tokio in the host and the plugin's tokio in a plugin.

use std::{
    future::Future,
    io::{self, IoSlice},
    mem::MaybeUninit,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RResult, RSlice, RString},
};
use async_ffi::{FfiContext, FfiFuture, FfiPoll, FutureExt as _};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    runtime::Handle,
};

use crate::ffi::{
    ConnectResult, ErrorKind, FfiError, HostRuntime, HostRuntimeBox, HostRuntime_TO, HostSocket,
    HostSocketBox, HostSocket_TO, IoResult,
};

/// Runtime services on tokio: on `runtime` when given (entered around every poll), else on
/// whichever runtime polls them (the host's).
pub fn tokio_runtime_services(runtime: Option<Handle>) -> HostRuntimeBox {
    HostRuntime_TO::from_ptr(RArc::new(TokioServices { runtime }), TD_Opaque)
}

#[derive(Clone)]
struct TokioServices {
    runtime: Option<Handle>,
}

impl HostRuntime for TokioServices {
    fn connect(&self, host: RString, port: u16) -> FfiFuture<ConnectResult> {
        Entered::new(self.runtime.clone(), async move {
            let connected = TcpStream::connect((host.as_str(), port)).await;
            match connected {
                Ok(stream) => {
                    // Small requests go out at once; the transports write whole heads.
                    let _ = stream.set_nodelay(true);
                    RResult::ROk(socket_to_ffi(stream))
                }
                Err(e) => RResult::RErr(FfiError {
                    kind: ErrorKind::CONNECT,
                    message: RString::from(format!("could not connect to {host}:{port}: {e}")),
                    retryable: true,
                }),
            }
        })
        .into_ffi()
    }

    fn spawn(&self, task: FfiFuture<()>) {
        let runtime = self.runtime.clone().or_else(|| Handle::try_current().ok());
        match runtime {
            Some(rt) => drop(rt.spawn(task)),
            // Only reachable when polled outside any runtime, which the host never does: the
            // task (a connection's) is dropped, so its connection closes.
            None => drop(task),
        }
    }

    fn sleep(&self, nanos: u64) -> FfiFuture<()> {
        Entered::new(self.runtime.clone(), async move {
            if Handle::try_current().is_ok() {
                tokio::time::sleep(Duration::from_nanos(nanos)).await;
            } else {
                // No clock to wait on (polled outside any runtime): never fires, as a timer
                // whose runtime is gone.
                std::future::pending::<()>().await;
            }
        })
        .into_ffi()
    }
}

/// Polls a future with `runtime` entered (when given): tokio's sockets and timers register with
/// the runtime that is current when they are created.
struct Entered<F> {
    runtime: Option<Handle>,
    future: Pin<Box<F>>,
}

impl<F> Entered<F> {
    fn new(runtime: Option<Handle>, future: F) -> Self {
        Entered {
            runtime,
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = self.runtime.as_ref().map(Handle::enter);
        self.future.as_mut().poll(cx)
    }
}

/// The most buffers one vectored write passes on (the rest wait for the next call, as with
/// any short write).
pub(crate) const MAX_IO_SLICES: usize = 64;

/// A tokio TCP stream as a [`HostSocket`].
pub fn socket_to_ffi(stream: TcpStream) -> HostSocketBox {
    HostSocket_TO::from_value(TokioSocket(stream), TD_Opaque)
}

struct TokioSocket(TcpStream);

fn io_result(polled: Poll<io::Result<usize>>) -> FfiPoll<IoResult> {
    FfiPoll::from_poll(polled.map(|r| match r {
        Ok(n) => RResult::ROk(n),
        Err(e) => RResult::RErr(FfiError {
            kind: ErrorKind::IO,
            message: RString::from(e.to_string()),
            retryable: true,
        }),
    }))
}

impl HostSocket for TokioSocket {
    unsafe fn poll_read(
        &mut self,
        cx: &mut FfiContext<'_>,
        buf: *mut u8,
        len: usize,
    ) -> FfiPoll<IoResult> {
        // SAFETY: the caller lends `len` writable bytes at `buf` for this call (the method's
        // contract); they may be uninitialized, which `ReadBuf::uninit` expects.
        let memory = unsafe { std::slice::from_raw_parts_mut(buf.cast::<MaybeUninit<u8>>(), len) };
        let mut read = ReadBuf::uninit(memory);
        let polled = cx.with_context(|cx| Pin::new(&mut self.0).poll_read(cx, &mut read));
        io_result(polled.map_ok(|()| read.filled().len()))
    }

    fn poll_write(&mut self, cx: &mut FfiContext<'_>, buf: RSlice<'_, u8>) -> FfiPoll<IoResult> {
        io_result(cx.with_context(|cx| Pin::new(&mut self.0).poll_write(cx, buf.as_slice())))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut FfiContext<'_>,
        bufs: RSlice<'_, RSlice<'_, u8>>,
    ) -> FfiPoll<IoResult> {
        // On the stack: at most `MAX_IO_SLICES` per call, as writev takes them anyway.
        let mut slices: [IoSlice<'_>; MAX_IO_SLICES] = std::array::from_fn(|_| IoSlice::new(&[]));
        let n = bufs.len().min(MAX_IO_SLICES);
        for (slot, buf) in slices.iter_mut().zip(bufs.iter()) {
            *slot = IoSlice::new(buf.as_slice());
        }
        io_result(cx.with_context(|cx| Pin::new(&mut self.0).poll_write_vectored(cx, &slices[..n])))
    }

    fn poll_flush(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<IoResult> {
        io_result(cx.with_context(|cx| Pin::new(&mut self.0).poll_flush(cx).map_ok(|()| 0)))
    }

    fn poll_shutdown(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<IoResult> {
        io_result(cx.with_context(|cx| Pin::new(&mut self.0).poll_shutdown(cx).map_ok(|()| 0)))
    }
}
