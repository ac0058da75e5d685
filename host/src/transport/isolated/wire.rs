//! Writing frames: one writer task per side of a connection, fed by a channel.
//!
//! Small frames from many calls are batched into one write; a large body chunk goes out with
//! its header in one vectored write, without being copied into the batch.

use std::{future::Future, io::IoSlice};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{Frame, FrameCodec, Kind, MAX_CHUNK};
use tokio_util::codec::Encoder;

/// Frames to send. Unbounded, because what fills it is bounded elsewhere: body bytes by the
/// credit each call is granted, everything else is a few small frames per call.
pub(crate) type Outbox = mpsc::UnboundedSender<Frame>;

/// A payload at least this large is written from its own buffer rather than copied into the
/// batch.
const COPY_LIMIT: usize = 16 << 10;

/// Flush the batch once it is this large, even if more frames are waiting.
const BATCH: usize = 256 << 10;

/// Writes every frame from `rx` to `w` until the channel closes (every sender gone), `close`
/// is cancelled, or a write fails (the peer is gone); then shuts the write side down, which the
/// peer reads as the end.
pub(crate) async fn write_frames<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Frame>,
    close: CancellationToken,
) -> std::io::Result<()> {
    let mut batch = BytesMut::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            biased;
            f = rx.recv() => match f { Some(f) => f, None => break },
            () = close.cancelled() => break,
        };
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            if frame.payload.len() >= COPY_LIMIT {
                batch.put_slice(&FrameCodec::header(
                    frame.kind,
                    frame.id,
                    frame.payload.len(),
                ));
                write_two(&mut w, &batch, &frame.payload).await?;
                batch.clear();
            } else {
                FrameCodec
                    .encode(frame, &mut batch)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                if batch.len() >= BATCH {
                    w.write_all(&batch).await?;
                    batch.clear();
                }
            }
            next = rx.try_recv().ok();
        }
        if !batch.is_empty() {
            w.write_all(&batch).await?;
            batch.clear();
        }
    }
    w.shutdown().await
}

/// Writes `a` then `b` whole, in as few vectored writes as the socket takes.
async fn write_two<W: AsyncWrite + Unpin>(w: &mut W, a: &[u8], b: &Bytes) -> std::io::Result<()> {
    let (mut a, mut b) = (a, &b[..]);
    while !a.is_empty() || !b.is_empty() {
        let n = w
            .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    Ok(())
}

/// Sends `chunk` as `kind` frames of call `id`, at most [`MAX_CHUNK`] each, each once the peer
/// has granted room for it in `credit`: without room the body is not read further, which is the
/// backpressure down to its source. `false` when the call ended (credit closed) or the
/// connection is gone.
pub(crate) async fn send_credited(
    out: &Outbox,
    kind: Kind,
    id: u64,
    chunk: Bytes,
    credit: &tokio::sync::Semaphore,
) -> bool {
    send_credited_with(chunk, credit, |piece| {
        out.send(Frame::raw(kind, id, piece)).is_ok()
    })
    .await
}

/// Cuts `chunk` into pieces of at most [`MAX_CHUNK`] and hands each to `send` once `credit`
/// has room for it; `false` when the call ended (credit closed) or `send` failed.
pub(crate) async fn send_credited_with(
    mut chunk: Bytes,
    credit: &tokio::sync::Semaphore,
    mut send: impl FnMut(Bytes) -> bool,
) -> bool {
    while !chunk.is_empty() {
        let piece = chunk.split_to(chunk.len().min(MAX_CHUNK));
        match credit.acquire_many(piece.len() as u32).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        if !send(piece) {
            return false;
        }
    }
    true
}

/// The future of [`write_frames`], boxed to be shared; `None` once it has ended.
type WriterFuture = Option<std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>>;

/// A writer ([`write_frames`]) that the task which queued a call's frames can also run in
/// place, so that they go out at once rather than after every task queued ahead of the
/// writer's own. On a current-thread runtime, a burst of answers wakes many callers; each
/// queues its next call, and the writer task, woken by the first, ran only after all of them,
/// so the worker waited while the host worked through the burst, and the other way round.
///
/// The writer is always polled with its own task's waker, whoever polls it, so that no
/// registration it makes is lost.
pub(crate) struct InlineWriter {
    state: std::sync::Mutex<WriterState>,
    /// The runtime whose reactor the socket is registered with: only its tasks run the writer.
    runtime: tokio::runtime::Id,
}

struct WriterState {
    future: WriterFuture,
    /// The writer task's waker, once it has run.
    waker: Option<std::task::Waker>,
}

impl InlineWriter {
    /// The writer of `w`, fed by `rx`, with its task spawned on `runtime` (the one `w` is
    /// registered with).
    pub(crate) fn spawn<W: AsyncWrite + Unpin + Send + 'static>(
        w: W,
        rx: mpsc::UnboundedReceiver<Frame>,
        close: CancellationToken,
        runtime: &tokio::runtime::Handle,
    ) -> std::sync::Arc<InlineWriter> {
        let writer = std::sync::Arc::new(InlineWriter {
            state: std::sync::Mutex::new(WriterState {
                future: Some(Box::pin(write_frames(w, rx, close))),
                waker: None,
            }),
            runtime: runtime.id(),
        });
        runtime.spawn(writer.clone().run());
        writer
    }

    /// The writer's task: polls the writer whenever it is woken, until it ends.
    async fn run(self: std::sync::Arc<Self>) {
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.waker = Some(cx.waker().clone());
            Self::poll_writer(&mut state.future, cx)
        })
        .await
    }

    /// Runs the writer here, once, if this task is on the socket's runtime and no one else is
    /// running it: the frames queued so far are written now if the socket takes them; the
    /// rest waits for the writer's task, which every registration wakes.
    pub(crate) fn flush(&self) {
        if tokio::runtime::Handle::try_current().map(|h| h.id()).ok() != Some(self.runtime) {
            return;
        }
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        let WriterState { future, waker } = &mut *state;
        // No waker yet: the task has not run, and will.
        if let Some(waker) = waker {
            let _ = Self::poll_writer(future, &mut std::task::Context::from_waker(waker));
        }
    }

    fn poll_writer(
        writer: &mut WriterFuture,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let Some(future) = writer.as_mut() else {
            return std::task::Poll::Ready(());
        };
        let polled = future.as_mut().poll(cx);
        if polled.is_ready() {
            *writer = None;
        }
        polled.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::Decoder;

    /// Reads every frame the peer has received so far, without waiting.
    fn frames_waiting(peer: &std::os::unix::net::UnixStream, buf: &mut BytesMut) -> Vec<Frame> {
        use std::io::Read;
        let mut chunk = [0u8; 64 << 10];
        loop {
            match (&*peer).read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        std::iter::from_fn(|| FrameCodec.decode(buf).unwrap()).collect()
    }

    /// A call's frames, flushed in place, are on the socket before the writer's task has run
    /// again; frames the socket cannot take at once go out later, through the task, in order.
    /// A writer on one end of a socketpair (both ends non-blocking), its task run once and
    /// waiting for frames; call inside a current-thread runtime.
    async fn writer_on_a_pair() -> (
        std::sync::Arc<InlineWriter>,
        Outbox,
        std::os::unix::net::UnixStream,
    ) {
        let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_nonblocking(true).unwrap();
        let socket = tokio::net::UnixStream::from_std(ours).unwrap();
        let (_read, write) = socket.into_split();
        let (out, rx) = mpsc::unbounded_channel();
        let writer = InlineWriter::spawn(
            write,
            rx,
            CancellationToken::new(),
            &tokio::runtime::Handle::current(),
        );
        tokio::task::yield_now().await;
        (writer, out, peer)
    }

    #[tokio::test]
    async fn a_flush_in_place_writes_at_once_and_loses_nothing() {
        let (writer, out, peer) = writer_on_a_pair().await;

        let mut buf = BytesMut::new();
        out.send(Frame::credit(Kind::Call, 1, 7)).unwrap();
        assert!(
            frames_waiting(&peer, &mut buf).is_empty(),
            "queued only: the writer's task has not run"
        );
        writer.flush();
        let got = frames_waiting(&peer, &mut buf);
        assert_eq!(got.len(), 1, "flushed in place, before any other task ran");
        assert_eq!((got[0].kind, got[0].id), (Kind::Call, 1));

        // More than the socket's buffer holds: the flush writes what it can, the task the
        // rest, as the peer reads.
        let n = 200u64;
        for id in 0..n {
            out.send(Frame::raw(
                Kind::RequestData,
                id,
                Bytes::from(vec![id as u8; 32 << 10]),
            ))
            .unwrap();
        }
        writer.flush();
        let mut ids = Vec::new();
        while ids.len() < n as usize {
            ids.extend(frames_waiting(&peer, &mut buf).into_iter().map(|f| {
                assert!(f.payload.iter().all(|&b| b == f.id as u8), "frame {}", f.id);
                f.id
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(ids, (0..n).collect::<Vec<_>>(), "every frame, in order");
    }

    /// A writer that has ended (its channel closed) is not polled again, in place or by its
    /// task.
    #[tokio::test]
    async fn an_ended_writer_is_left_alone() {
        let (writer, out, _peer) = writer_on_a_pair().await;
        drop(out);
        // The task sees the channel closed and ends.
        while writer.state.lock().unwrap().future.is_some() {
            tokio::task::yield_now().await;
        }
        writer.flush();
        writer.flush();
    }
}
