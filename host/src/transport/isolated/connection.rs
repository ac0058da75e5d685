//! The host's end of a worker's socket: calls multiplexed by id, heads and bodies routed back
//! to the calls that wait for them.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::{codec::FramedRead, sync::CancellationToken};

use super::protocol::{
    BodyKind, CallHead, Frame, FrameCodec, Kind, LogLine, ProtocolError, ResponseHead, WireError,
    WireHeaders, MAX_CHUNK, WINDOW,
};
use super::ring::RingReader;
use super::wire::{send_credited, InlineWriter, Outbox};
use crate::transport::{
    TransportError, TransportErrorKind, TransportRequest, TransportRequestBody, TransportResponse,
};

/// How a worker ended: shared by every call it failed.
#[derive(Debug)]
pub(crate) struct Death {
    pub pid: u32,
    /// `killed by SIGSEGV (segmentation fault)`, `exited with code 3`, ...
    pub how: String,
}

/// Why a call failed.
pub(crate) enum CallFailure {
    /// The plugin's own error, or the host's (a body source failed).
    Transport(TransportError),
    /// The worker died while the call was in flight.
    WorkerDied(Arc<Death>),
    /// The host killed the worker because this very call made no progress: it is not retried.
    Overdue(Arc<Death>),
}

/// How a response body reaches its call, with its head.
enum Answered {
    /// All of it came with the head ([`Kind::Answer`]): the call is over in the worker.
    Whole(Bytes),
    /// In frames still to come.
    InChunks(mpsc::UnboundedReceiver<BodyItem>),
}

type HeadResult = Result<(ResponseHead, Answered), CallFailure>;
/// A head read and not yet handed to its call.
type PendingHead = (oneshot::Sender<HeadResult>, ResponseHead, Answered);

/// Hands the heads read so far to their calls.
fn deliver(heads: &mut Vec<PendingHead>) {
    for (tx, head, body) in heads.drain(..) {
        let _ = tx.send(Ok((head, body)));
    }
}
type BodyItem = Result<Bytes, CallFailure>;

/// A call in flight, as the reader routes frames to it.
struct HostCall {
    /// Until the head comes.
    head: Option<oneshot::Sender<HeadResult>>,
    /// From the head on, when the body comes in frames of its own (the queue is made then:
    /// most answers come whole, and a queue is an allocation of 32 slots).
    body: Option<mpsc::UnboundedSender<BodyItem>>,
    /// Room the worker granted for request body bytes.
    request_credit: Arc<Semaphore>,
    /// When the head is overdue: its deadline plus the grace. `None`: no deadline.
    overdue_at: Option<Instant>,
}

impl HostCall {
    /// Fails the body being read (the head went already).
    fn fail_body(self, e: CallFailure) {
        if let Some(body) = self.body {
            let _ = body.send(Err(e));
        }
    }
}

/// One of a worker's sockets (its first, or a lane), as the calls see it.
pub(crate) struct Connection {
    out: Outbox,
    /// The writer, run in place after a call's frames (see [`InlineWriter`]).
    writer: Arc<InlineWriter>,
    calls: Mutex<HashMap<u64, HostCall>>,
    /// Shared by all of one worker's sockets, so that a call id names one call of the worker.
    next_id: Arc<AtomicU64>,
    /// Set once the worker is gone: later calls fail at once with it.
    death: Mutex<Option<Arc<Death>>>,
    /// How long past its head deadline a call waits before the worker counts as hung.
    grace: Duration,
    /// Cancelled to close the socket's write side: the worker reads its end and exits.
    closer: CancellationToken,
    /// The worker's pid, for its log lines.
    pid: AtomicU64,
    /// Set when its reader stopped (a lane whose runtime ended): no new call may use it.
    stopped: std::sync::atomic::AtomicBool,
    /// Where the worker puts response body bytes, if the socket has a ring (only the reader
    /// takes from it).
    ring: Mutex<Option<RingReader>>,
    /// Cancelled once its reader stopped: every frame the worker wrote is routed (or never
    /// will be, when the reader's runtime ended).
    drained: CancellationToken,
}

impl Connection {
    /// Starts the writer of `socket` on `runtime` (whose reactor `socket` is registered
    /// with); the caller runs [`Connection::read_frames`] there too.
    pub(crate) fn start(
        socket: tokio::net::UnixStream,
        ring: Option<RingReader>,
        grace: Duration,
        next_id: Arc<AtomicU64>,
        runtime: &tokio::runtime::Handle,
    ) -> (
        Arc<Connection>,
        FramedRead<tokio::net::unix::OwnedReadHalf, FrameCodec>,
    ) {
        let (read, write) = socket.into_split();
        let (out, rx) = mpsc::unbounded_channel();
        let closer = CancellationToken::new();
        let writer = InlineWriter::spawn(write, rx, closer.clone(), runtime);
        let conn = Arc::new(Connection {
            writer,
            out,
            closer,
            pid: AtomicU64::new(0),
            calls: Mutex::default(),
            next_id,
            death: Mutex::default(),
            grace,
            stopped: Default::default(),
            ring: Mutex::new(ring),
            drained: CancellationToken::new(),
        });
        (conn, FramedRead::new(read, FrameCodec))
    }

    /// Routes frames from the worker until the socket ends; the error says why it ended early.
    pub(crate) async fn read_frames(
        self: &Arc<Self>,
        mut frames: FramedRead<tokio::net::unix::OwnedReadHalf, FrameCodec>,
    ) -> Result<(), ProtocolError> {
        // Heads are handed to their calls only once every frame already read is routed. A
        // small call's head, body and end come in one read, and its caller, on another
        // thread, is then woken once and finds them all, instead of being woken for the head
        // and again for each body frame it is already waiting for.
        let _drained = self.drained.clone().drop_guard();
        let mut heads = Vec::new();
        let result = async {
            while let Some(frame) = frames.next().await {
                self.route(frame?, &mut heads)?;
                if !FrameCodec::holds_a_frame(frames.read_buffer()) {
                    deliver(&mut heads);
                }
            }
            Ok(())
        }
        .await;
        deliver(&mut heads);
        result
    }

    /// Resolves once its reader stopped (see [`Connection::drained`]'s field).
    pub(crate) async fn drained(&self) {
        self.drained.cancelled().await;
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<u64, HostCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes one frame; a head goes to `heads`, for [`deliver`].
    fn route(&self, frame: Frame, heads: &mut Vec<PendingHead>) -> Result<(), ProtocolError> {
        let id = frame.id;
        if frame.kind == Kind::Log {
            let line: LogLine = frame.decode()?;
            crate::transport::plugin::log::emit_forwarded(
                apify_plugin_api::abi::ffi::LogLevel(line.level),
                &line.plugin,
                &line.text,
                self.pid.load(Ordering::Relaxed) as u32,
            );
            return Ok(());
        }
        // A chunk in the ring is taken out now, whether its call still wants it or not: the
        // ring is read strictly in order.
        let frame = if frame.kind == Kind::ResponseShared {
            let len = frame.credit_amount()?;
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            let ring = ring
                .as_mut()
                .ok_or_else(|| ProtocolError::new("a shared chunk on a socket without a ring"))?;
            Frame::raw(Kind::ResponseData, id, ring.take(len)?)
        } else {
            frame
        };
        let mut calls = self.calls();
        // Frames for a call the host gave up on are dropped.
        let Some(call) = calls.get_mut(&id) else {
            return match frame.kind {
                Kind::Head
                | Kind::Answer
                | Kind::ResponseData
                | Kind::ResponseEnd
                | Kind::Failed
                | Kind::RequestCredit => Ok(()),
                other => Err(ProtocolError::new(format!(
                    "a {other:?} frame after the worker started"
                ))),
            };
        };
        match frame.kind {
            Kind::Head => {
                let head: ResponseHead = frame.decode()?;
                let Some(tx) = call.head.take() else {
                    return Err(ProtocolError::new(format!("call {id}: a second head")));
                };
                call.overdue_at = None;
                let (body_tx, body_rx) = mpsc::unbounded_channel();
                call.body = Some(body_tx);
                heads.push((tx, head, Answered::InChunks(body_rx)));
            }
            Kind::Answer => {
                let (head, body) = frame.decode_answer()?;
                let Some(tx) = call.head.take() else {
                    return Err(ProtocolError::new(format!("call {id}: a second head")));
                };
                calls.remove(&id);
                heads.push((tx, head, Answered::Whole(body)));
            }
            Kind::ResponseData => {
                let Some(body) = &call.body else {
                    return Err(ProtocolError::new(format!("call {id}: body before head")));
                };
                let _ = body.send(Ok(frame.payload));
            }
            Kind::ResponseEnd => {
                calls.remove(&id); // dropping the sender ends the body
            }
            Kind::Failed => {
                let e: WireError = frame.decode()?;
                let e = CallFailure::Transport(e.into());
                let call = calls.remove(&id).expect("looked up above");
                call.request_credit.close();
                match call.head {
                    Some(tx) => drop(tx.send(Err(e))),
                    None => call.fail_body(e),
                }
            }
            Kind::RequestCredit => {
                call.request_credit
                    .add_permits(frame.credit_amount()? as usize);
            }
            other => {
                return Err(ProtocolError::new(format!(
                    "a {other:?} frame during calls"
                )))
            }
        }
        Ok(())
    }

    /// Fails every call in flight with `death`, and every later one; `overdue` are the calls
    /// the worker was killed for.
    pub(crate) fn fail_all(&self, death: Arc<Death>, overdue: &[u64]) {
        *self.death.lock().unwrap_or_else(|e| e.into_inner()) = Some(death.clone());
        let calls: Vec<(u64, HostCall)> = self.calls().drain().collect();
        for (id, call) in calls {
            call.request_credit.close();
            let e = if overdue.contains(&id) {
                CallFailure::Overdue(death.clone())
            } else {
                CallFailure::WorkerDied(death.clone())
            };
            match call.head {
                Some(tx) => drop(tx.send(Err(e))),
                None => call.fail_body(e),
            }
        }
    }

    /// Fails the calls still on a lane whose runtime ended: nothing reads for them any more.
    pub(crate) fn fail_stranded(&self) {
        let calls: Vec<(u64, HostCall)> = self.calls().drain().collect();
        for (_, call) in calls {
            call.request_credit.close();
            let e = CallFailure::Transport(TransportError::new(
                TransportErrorKind::IO,
                "the runtime this call was made on ended, and with it the call's lane to the \
                 transport worker; keep the runtime running until its calls and their bodies \
                 are done",
            ));
            match call.head {
                Some(tx) => drop(tx.send(Err(e))),
                None => call.fail_body(e),
            }
        }
    }

    /// Closes the socket towards the worker: it exits (its first socket) or drops the lane.
    pub(crate) fn close(&self) {
        self.closer.cancel();
    }

    /// Marks it unusable for new calls (its reader stopped).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Whether new calls may use it.
    pub(crate) fn usable(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
    }

    /// The calls whose head is overdue (past their deadline plus the grace).
    pub(crate) fn overdue(&self, now: Instant) -> Vec<u64> {
        self.calls()
            .iter()
            .filter(|(_, c)| c.overdue_at.is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The worker's pid, for its log lines.
    pub(crate) fn set_pid(&self, pid: u32) {
        self.pid.store(u64::from(pid), Ordering::Relaxed);
    }

    /// How far past its head deadline a call may go.
    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }

    /// Sends `request` to the worker and waits for its head.
    pub(crate) async fn call(
        self: &Arc<Self>,
        request: TransportRequest,
    ) -> Result<TransportResponse, CallFailure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let TransportRequest {
            method,
            url,
            headers,
            body,
            timeout,
            stream,
        } = request;
        let kind = match &body {
            TransportRequestBody::Full(b) => BodyKind::Full(b.len() as u64),
            TransportRequestBody::Stream { length, .. } => BodyKind::Stream(*length),
        };
        let (head_tx, head_rx) = oneshot::channel();
        let credit = Arc::new(Semaphore::new(WINDOW as usize));
        let alone = {
            let mut calls = self.calls();
            // Under the map's lock: `fail_all` sets the death before it empties the map, so a
            // call either sees the death here or is in the map it empties.
            if let Some(death) = self.death.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Err(CallFailure::WorkerDied(death));
            }
            let alone = calls.is_empty();
            calls.insert(
                id,
                HostCall {
                    head: Some(head_tx),
                    body: None,
                    request_credit: credit.clone(),
                    overdue_at: timeout.map(|t| Instant::now() + t + self.grace),
                },
            );
            alone
        };
        let head = CallHead {
            alone,
            method: method.as_str().to_owned(),
            url,
            headers: WireHeaders(headers),
            timeout_ms: timeout.map(|t| t.as_millis().min(u64::MAX as u128) as u64),
            stream,
            body: kind,
        };
        // From here on, dropping this future cancels the call in the worker.
        let mut guard = CancelOnDrop {
            conn: self.clone(),
            id,
            armed: true,
        };
        let _ = self.out.send(Frame::message(Kind::Call, id, &head));
        let _pump = match body {
            TransportRequestBody::Full(b) => {
                self.send_whole(id, b);
                None
            }
            TransportRequestBody::Stream { stream, .. } => Some(AbortOnDrop(tokio::spawn(
                pump_body(self.out.clone(), id, stream, credit),
            ))),
        };
        self.writer.flush();
        let (head, answered) = match head_rx.await {
            Ok(Ok(answer)) => answer,
            Ok(Err(failure)) => {
                guard.armed = false;
                return Err(failure);
            }
            // The sender went without a word: only `fail_all` empties the map that way, and
            // it sends first; treat it as the connection's death.
            Err(_) => {
                guard.armed = false;
                let death = self.death.lock().unwrap_or_else(|e| e.into_inner()).clone();
                return Err(death.map_or_else(
                    || {
                        CallFailure::Transport(TransportError::new(
                            TransportErrorKind::IO,
                            "the transport worker dropped the call",
                        ))
                    },
                    CallFailure::WorkerDied,
                ));
            }
        };
        let status = http::StatusCode::from_u16(head.status).map_err(|_| {
            CallFailure::Transport(TransportError::new(
                TransportErrorKind::PROTOCOL,
                format!("the transport returned an invalid status {}", head.status),
            ))
        })?;
        let headers = head.headers.0;
        // The call is over in the worker, or its body's own guard cancels from now on.
        guard.armed = false;
        let body: crate::transport::TransportBody = match answered {
            // The call is out of the map: nothing to cancel, and a streamed request body has
            // nowhere to go any more.
            Answered::Whole(bytes) => {
                if bytes.is_empty() {
                    Box::pin(futures_util::stream::empty())
                } else {
                    Box::pin(futures_util::stream::once(std::future::ready(Ok(bytes))))
                }
            }
            // A streamed request body keeps pumping while the response comes (the server may
            // answer before it read everything).
            Answered::InChunks(rx) => Box::pin(WorkerBody {
                rx,
                cancel: CancelOnDrop {
                    conn: self.clone(),
                    id,
                    armed: true,
                },
                unacked: 0,
                _pump,
            }),
        };
        Ok(TransportResponse {
            status,
            headers,
            body,
        })
    }

    /// A whole body's chunks and its end; none for an empty body, which `BodyKind::Full(0)`
    /// already said.
    fn send_whole(&self, id: u64, mut body: Bytes) {
        if body.is_empty() {
            return;
        }
        while !body.is_empty() {
            let piece = body.split_to(body.len().min(MAX_CHUNK));
            let _ = self.out.send(Frame::raw(Kind::RequestData, id, piece));
        }
        let _ = self
            .out
            .send(Frame::raw(Kind::RequestEnd, id, Bytes::new()));
    }

    fn cancel(&self, id: u64) {
        if let Some(call) = self.calls().remove(&id) {
            call.request_credit.close();
            let _ = self.out.send(Frame::raw(Kind::Cancel, id, Bytes::new()));
        }
    }
}

/// Sends a streamed request body as the worker grants room for it.
async fn pump_body(
    out: Outbox,
    id: u64,
    mut stream: crate::transport::TransportBody,
    credit: Arc<Semaphore>,
) {
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = out.send(Frame::message(
                    Kind::RequestFailed,
                    id,
                    &WireError::from(&e),
                ));
                return;
            }
        };
        if !send_credited(&out, Kind::RequestData, id, chunk, &credit).await {
            return; // the call ended
        }
    }
    let _ = out.send(Frame::raw(Kind::RequestEnd, id, Bytes::new()));
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tells the worker to drop a call the host no longer wants.
struct CancelOnDrop {
    conn: Arc<Connection>,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.conn.cancel(self.id);
        }
    }
}

/// A response body from the worker, granting it room as it is read.
struct WorkerBody {
    rx: mpsc::UnboundedReceiver<BodyItem>,
    cancel: CancelOnDrop,
    unacked: u32,
    _pump: Option<AbortOnDrop>,
}

impl futures_core::Stream for WorkerBody {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match std::task::ready!(self.rx.poll_recv(cx)) {
            Some(Ok(chunk)) => {
                self.unacked += chunk.len() as u32;
                // Every quarter window: the worker stalls less waiting for room (side by side,
                // downloads went from 0.42-0.63x to 0.50-0.69x of in process for reqwest, and
                // from 0.57x to 0.69-0.75x for hosted hyper, over granting every half).
                if self.unacked >= WINDOW / 4 {
                    let n = std::mem::take(&mut self.unacked);
                    let id = self.cancel.id;
                    let _ = self
                        .cancel
                        .conn
                        .out
                        .send(Frame::credit(Kind::ResponseCredit, id, n));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(failure)) => {
                self.cancel.armed = false;
                Poll::Ready(Some(Err(match failure {
                    CallFailure::Transport(e) => e,
                    CallFailure::WorkerDied(death) | CallFailure::Overdue(death) => {
                        death_error(&death, DiedWhile::Body)
                    }
                })))
            }
            None => {
                self.cancel.armed = false;
                Poll::Ready(None)
            }
        }
    }
}

/// Where in a call the worker died.
pub(crate) enum DiedWhile {
    /// While the response body streamed: not retried (the head was already handed on).
    Body,
    /// Before the head, and the call could not be sent again (a streamed request body).
    NotReplayable,
    /// Before the head, on the one retry a call gets.
    Retry,
    /// It was killed for this call, which got no head within its deadline plus the grace.
    ThisCallHung,
}

/// The error a call gets when its worker died. `OTHER` and not retryable: the pipeline must
/// not send the call again, since the transport already did once (or could not), and the call
/// itself may be what kills the worker.
pub(crate) fn death_error(death: &Death, when: DiedWhile) -> TransportError {
    let tail = match when {
        DiedWhile::Body => "while the response body was streaming; not retried",
        DiedWhile::NotReplayable => {
            "before the response head; not retried, since its streamed request body cannot be \
             sent twice"
        }
        DiedWhile::ThisCallHung => {
            return TransportError::new(
                TransportErrorKind::OTHER,
                format!(
                    "the transport worker (pid {}) was killed by the host because this call got \
                     no response head within its deadline plus the grace; not retried, since \
                     the call itself hangs it",
                    death.pid
                ),
            )
            .retryable(false);
        }
        DiedWhile::Retry => {
            "again when the call was retried on a fresh worker; not retried further, since the \
             call itself may be what kills it"
        }
    };
    TransportError::new(
        TransportErrorKind::OTHER,
        format!(
            "the transport worker (pid {}) {} {tail}",
            death.pid, death.how
        ),
    )
    .retryable(false)
}
