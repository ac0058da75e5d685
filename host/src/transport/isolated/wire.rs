//! Writing frames: one writer task per side of a connection, fed by a channel.
//!
//! Small frames from many calls are batched into one write; a large body chunk goes out with
//! its header in one vectored write, without being copied into the batch.

use std::io::IoSlice;

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
