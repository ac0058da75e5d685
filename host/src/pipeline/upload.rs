//! Request bodies that are not in memory: a file, a reader, a stream of chunks.
//!
//! An [`UploadBody`] is sent as a stream, so uploading a 1 GiB file costs a few chunks of
//! memory, not a copy of the file (and not a second, gzipped copy). Whether a failed attempt
//! can be sent again depends on the source: a file is read again from its start; a one-time
//! stream (standard input, a socket) cannot be, and a failure after part of it was sent is one
//! clear error instead of a retry with a body that lost its beginning.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::{
    error::Error,
    transport::{TransportBody, TransportError, TransportErrorKind, TransportRequestBody},
};

/// Chunk size when reading a file or reader: large enough that per-chunk costs vanish, small
/// enough that an upload holds a few MiB at most.
const CHUNK: usize = 256 * 1024;

/// A request body read as it is sent: from a file (sent again from its start when an attempt
/// fails), or from a one-time reader or stream (not sent again once any of it went out).
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::pipeline::UploadBody;
/// let body = UploadBody::from_file("export.json")?;
/// client
///     .key_value_store("my-store")
///     .set_record_from("export", body, "application/json")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UploadBody {
    source: Source,
    length: Option<u64>,
}

#[derive(Clone)]
enum Source {
    /// In memory.
    Bytes(Bytes),
    /// Reopened for every attempt.
    File(Arc<PathBuf>),
    /// Taken by the first attempt that sends it.
    Once(Arc<Mutex<Option<TransportBody>>>),
}

impl std::fmt::Debug for UploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("UploadBody");
        match &self.source {
            Source::Bytes(_) => d.field("bytes", &"in memory"),
            Source::File(p) => d.field("file", p),
            Source::Once(_) => d.field("stream", &"one-time"),
        };
        d.field("length", &self.length).finish()
    }
}

impl UploadBody {
    /// The file at `path`, read as it is sent. Its length is taken now and sent as
    /// `Content-Length`; a file that shrinks or grows while it is sent fails the call rather
    /// than sending a body of another length.
    ///
    /// # Errors
    /// An invalid-input error naming the path when it cannot be read or is not a regular file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::invalid_input(format!("cannot read {}: {e}", path.display())).with_source(e)
        })?;
        if !meta.is_file() {
            return Err(Error::invalid_input(format!(
                "{} is not a regular file; upload a file, or stream other sources with \
                 UploadBody::from_reader",
                path.display()
            )));
        }
        Ok(UploadBody {
            source: Source::File(Arc::new(path.to_path_buf())),
            length: Some(meta.len()),
        })
    }

    /// Bytes in memory (sent again as they are when an attempt fails).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        let length = Some(bytes.len() as u64);
        UploadBody {
            source: Source::Bytes(bytes),
            length,
        }
    }

    /// A one-time reader, e.g. standard input. `length`, when known, is sent as
    /// `Content-Length`; otherwise the body goes chunked.
    pub fn from_reader(reader: impl AsyncRead + Send + 'static, length: Option<u64>) -> Self {
        Self::from_stream(ReaderStream::with_capacity(reader, CHUNK), length)
    }

    /// A one-time stream of chunks. An error from the stream fails the call with its message.
    pub fn from_stream<S, E>(stream: S, length: Option<u64>) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let body: TransportBody = Box::pin(stream.map(|r| {
            r.map_err(|e| {
                TransportError::new(
                    TransportErrorKind::IO,
                    format!("reading the request body failed: {e}"),
                )
                .retryable(false)
            })
        }));
        UploadBody {
            source: Source::Once(Arc::new(Mutex::new(Some(body)))),
            length,
        }
    }

    /// The exact length, when known.
    pub fn len(&self) -> Option<u64> {
        self.length
    }

    /// The bytes of a body made with [`UploadBody::from_bytes`].
    pub(crate) fn as_bytes(&self) -> Option<&Bytes> {
        match &self.source {
            Source::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.length == Some(0)
    }

    /// Whether a failed attempt can send the body again (a file: yes; a reader or stream: only
    /// while none of it has been read).
    pub fn is_replayable(&self) -> bool {
        matches!(self.source, Source::File(_) | Source::Bytes(_))
    }

    /// Up to `n` bytes from the start, the middle and the end of the body (for a one-time
    /// stream: from its start only, put back in front of the rest), to judge whether gzip pays.
    pub(crate) async fn sample(&self, n: usize) -> Result<Vec<u8>, Error> {
        match &self.source {
            Source::Bytes(b) => Ok(if b.len() <= 3 * n {
                b.to_vec()
            } else {
                let mid = b.len() / 2 - n / 2;
                [&b[..n], &b[mid..mid + n], &b[b.len() - n..]].concat()
            }),
            Source::File(path) => {
                let path = Arc::clone(path);
                let len = self.length.unwrap_or(0);
                tokio::task::spawn_blocking(move || sample_file(&path, len, n))
                    .await
                    .map_err(|e| Error::invalid_input(format!("sampling the body failed: {e}")))?
            }
            Source::Once(slot) => {
                let Some(mut stream) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    return Ok(Vec::new());
                };
                let mut head: Vec<Bytes> = Vec::new();
                let mut sample = Vec::new();
                let mut failure = None;
                while sample.len() < 3 * n {
                    match stream.next().await {
                        Some(Ok(chunk)) => {
                            sample.extend_from_slice(&chunk);
                            head.push(chunk);
                        }
                        Some(Err(e)) => {
                            failure = Some(e);
                            break;
                        }
                        None => break,
                    }
                }
                // Put the head back in front of the rest, error included: nothing is lost.
                let rest: TransportBody = match failure {
                    Some(e) => Box::pin(futures_util::stream::iter(
                        head.into_iter().map(Ok).chain(std::iter::once(Err(e))),
                    )),
                    None => {
                        Box::pin(futures_util::stream::iter(head.into_iter().map(Ok)).chain(stream))
                    }
                };
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(rest);
                Ok(sample)
            }
        }
    }

    /// The body for one attempt, counting what the transport takes into `sent`, if given.
    pub(crate) fn open(&self, sent: Option<&Arc<AtomicU64>>) -> Result<TransportBody, OpenError> {
        let stream: TransportBody = match &self.source {
            Source::Bytes(b) => TransportRequestBody::Full(b.clone()).into_stream(),
            Source::File(path) => Box::pin(FileChunks::new(Arc::clone(path), self.length)),
            Source::Once(slot) => {
                let inner = slot
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .ok_or(OpenError::AlreadySent)?;
                Box::pin(Lent {
                    inner: Some(inner),
                    slot: Arc::clone(slot),
                    started: false,
                })
            }
        };
        Ok(match sent {
            Some(sent) => Box::pin(Counted {
                inner: stream,
                sent: Arc::clone(sent),
            }),
            None => stream,
        })
    }
}

/// Why a body could not be opened for an attempt.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// A one-time body was taken by an earlier attempt.
    AlreadySent,
}

fn sample_file(path: &Path, len: u64, n: usize) -> Result<Vec<u8>, Error> {
    use std::io::{Read, Seek, SeekFrom};
    let read_err = |e: io::Error| {
        Error::invalid_input(format!("cannot read {}: {e}", path.display())).with_source(e)
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let n = n as u64;
    let mut sample = Vec::new();
    let starts = if len <= 3 * n {
        vec![0]
    } else {
        vec![0, len / 2 - n / 2, len - n]
    };
    for start in starts {
        file.seek(SeekFrom::Start(start)).map_err(read_err)?;
        (&mut file)
            .take(if len <= 3 * n { len } else { n })
            .read_to_end(&mut sample)
            .map_err(read_err)?;
    }
    Ok(sample)
}

/// A file read in [`CHUNK`]s, checked against the length it had when the body was made.
struct FileChunks {
    path: Arc<PathBuf>,
    expected: Option<u64>,
    read: u64,
    state: FileState,
}

enum FileState {
    Opening(Pin<Box<dyn std::future::Future<Output = io::Result<tokio::fs::File>> + Send>>),
    Reading(ReaderStream<tokio::fs::File>),
    Done,
}

impl FileChunks {
    fn new(path: Arc<PathBuf>, expected: Option<u64>) -> Self {
        let p = Arc::clone(&path);
        FileChunks {
            path,
            expected,
            read: 0,
            state: FileState::Opening(Box::pin(async move { tokio::fs::File::open(&*p).await })),
        }
    }

    fn fail(&mut self, message: String) -> Poll<Option<Result<Bytes, TransportError>>> {
        self.state = FileState::Done;
        Poll::Ready(Some(Err(TransportError::new(
            TransportErrorKind::IO,
            message,
        )
        .retryable(false))))
    }
}

impl Stream for FileChunks {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                FileState::Opening(open) => match open.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(file)) => {
                        this.state = FileState::Reading(ReaderStream::with_capacity(file, CHUNK))
                    }
                    Poll::Ready(Err(e)) => {
                        let msg = format!("cannot read {}: {e}", this.path.display());
                        return this.fail(msg);
                    }
                },
                FileState::Reading(chunks) => {
                    return match Pin::new(chunks).poll_next(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Some(Ok(chunk))) => {
                            this.read += chunk.len() as u64;
                            if this.expected.is_some_and(|n| this.read > n) {
                                let msg = format!(
                                    "{} grew while it was being sent (it had {} bytes)",
                                    this.path.display(),
                                    this.expected.unwrap_or_default()
                                );
                                return this.fail(msg);
                            }
                            Poll::Ready(Some(Ok(chunk)))
                        }
                        Poll::Ready(Some(Err(e))) => {
                            let msg = format!("reading {} failed: {e}", this.path.display());
                            this.fail(msg)
                        }
                        Poll::Ready(None) => {
                            if let Some(n) = this.expected.filter(|&n| n != this.read) {
                                let msg = format!(
                                    "{} shrank while it was being sent (from {n} to {} bytes)",
                                    this.path.display(),
                                    this.read
                                );
                                return this.fail(msg);
                            }
                            this.state = FileState::Done;
                            Poll::Ready(None)
                        }
                    };
                }
                FileState::Done => return Poll::Ready(None),
            }
        }
    }
}

/// A one-time stream lent to one attempt: given back on drop if the attempt never took a chunk
/// (a refused connection), so the next attempt can still send it whole.
struct Lent {
    inner: Option<TransportBody>,
    slot: Arc<Mutex<Option<TransportBody>>>,
    started: bool,
}

impl Stream for Lent {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = inner.as_mut().poll_next(cx);
        if polled.is_ready() {
            self.started = true;
        }
        polled
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if !self.started {
            if let Some(inner) = self.inner.take() {
                *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(inner);
            }
        }
    }
}

/// Counts the bytes a transport has taken from a body.
struct Counted {
    inner: TransportBody,
    sent: Arc<AtomicU64>,
}

impl Stream for Counted {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        polled
    }
}

/// `body` gzipped on the fly at the fastest level, in chunks of up to [`CHUNK`] bytes.
pub(crate) fn gzip_stream(body: TransportBody) -> TransportBody {
    let reader = StreamReader::new(body.map(|r| r.map_err(io::Error::other)));
    let encoder = async_compression::tokio::bufread::GzipEncoder::with_quality(
        reader,
        async_compression::Level::Fastest,
    );
    Box::pin(ReaderStream::with_capacity(encoder, CHUNK).map(|r| {
        r.map_err(|e| {
            // The body's own error, passed through the reader unchanged when it is one.
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TransportError>())
            {
                Some(inner) => inner.clone(),
                None => TransportError::new(
                    TransportErrorKind::IO,
                    format!("compressing the request body failed: {e}"),
                )
                .retryable(false),
            }
        })
    }))
}
