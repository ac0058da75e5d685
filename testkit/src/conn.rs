//! One HTTP/1.1 connection: request parsing, logging, and performing actions.

use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use flate2::write::MultiGzDecoder;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pattern;
use crate::routes::is_digest_path;
use crate::{Action, LoggedRequest, Shared};

/// Largest request head accepted (request line + headers).
const MAX_HEAD: usize = 64 * 1024;
/// Largest request header count accepted.
const MAX_HEADERS: usize = 128;
/// Largest request body accepted, except on `/digest/...` paths. Other bodies are held
/// in memory (and in the request log), so anything beyond this is a test bug rather
/// than a load we want to attempt.
const MAX_BODY: u64 = 8 << 30;
/// Read size for streamed (digested or partly read) bodies: large enough that the
/// per-read overhead vanishes next to hashing, small enough to stay cache-friendly.
const READ_CHUNK: usize = 256 * 1024;
/// How long a closing connection keeps reading after its FIN, see [`Conn::close`].
const LINGER: Duration = Duration::from_secs(2);

/// How a connection continues after an action.
enum After {
    /// Ready for the next request (unless the request asked to close).
    KeepAlive,
    /// Send a FIN and drop the connection.
    Close,
    /// Reset the connection (RST).
    Reset,
    /// The peer is gone; just drop.
    Gone,
}

/// Per-request facts that steer the response but are not part of [`LoggedRequest`].
struct Meta {
    /// The client can take another request on this connection after the response.
    keep_alive: bool,
    /// HTTP/1.0 client that asked for keep-alive: must be told it was granted.
    http10_keep_alive: bool,
    /// HEAD request: send the head only.
    head: bool,
}

/// How the request body is delimited on the wire.
#[derive(Clone, Copy)]
enum Framing {
    /// `Content-Length` (0 when absent).
    Sized(u64),
    Chunked,
}

/// A parsed request head, body not read yet.
struct Head {
    req: LoggedRequest,
    meta: Meta,
    framing: Framing,
    expect_continue: bool,
}

/// What reading a request body produced.
struct Body {
    /// The body itself, unless it was digested.
    bytes: Bytes,
    /// See [`LoggedRequest::body_len`].
    len: u64,
    /// See [`LoggedRequest::body_sha256`].
    sha256: Option<String>,
    /// Body bytes as sent: de-chunked, not content-decoded.
    encoded_len: u64,
    /// See [`LoggedRequest::complete`].
    complete: bool,
    /// The gzip content coding of a `/digest/` body was malformed: why.
    gzip_error: Option<String>,
}

enum ReadError {
    Io(io::Error),
    /// The client closed mid-request.
    Eof,
    Malformed(String),
    HeadTooLarge,
    BodyTooLarge,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    id: usize,
    shared: Arc<Shared>,
    /// The peer's close has been seen and recorded (once per connection).
    peer_closed: bool,
}

/// Serves one accepted connection until it closes. The caller cancels this future when
/// the server stops.
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, id: usize) {
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(16 * 1024),
        id,
        shared: shared.clone(),
        peer_closed: false,
    };
    loop {
        let Head {
            mut req,
            meta,
            framing,
            expect_continue,
        } = match conn.read_head().await {
            Ok(Some(h)) => h,
            Ok(None) => return, // clean close between requests
            Err(e) => {
                conn.reject(e).await;
                return;
            }
        };
        // Popped before the body is read: the action decides how much of it to read.
        let scripted = shared.pop_script(&req.path);
        let limit = scripted.as_ref().and_then(body_limit);
        let body = match conn.read_body(&req, framing, expect_continue, limit).await {
            Ok(b) => b,
            Err(e) => {
                // Not used up: the request never made it, so a retry should meet it.
                if let Some(action) = scripted {
                    shared.unpop_script(&req.path, action);
                }
                conn.reject(e).await;
                return;
            }
        };
        req.body = body.bytes;
        req.body_len = body.len;
        req.body_sha256 = body.sha256;
        req.complete = body.complete;
        req.received_at = Instant::now();
        shared.log(&req);
        let action = match body.gzip_error {
            // The body was read to its end, so the connection stays usable; the 400
            // answers instead of the scripted action, which stays queued.
            Some(why) => {
                if let Some(action) = scripted {
                    shared.unpop_script(&req.path, action);
                }
                let msg = format!("malformed gzip request body: {why}");
                tracing::debug!(conn = id, "testkit: {msg}");
                crate::routes::apify_error(400, "invalid-input", &msg)
            }
            None => {
                scripted.unwrap_or_else(|| crate::routes::default_action(&req, body.encoded_len))
            }
        };
        let after = match conn.perform(action, &meta).await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(conn = id, "testkit: write failed: {e}");
                conn.note_write_error(&e);
                return;
            }
        };
        match after {
            After::KeepAlive if meta.keep_alive => continue,
            After::KeepAlive | After::Close => return conn.close().await,
            After::Reset => return conn.reset(),
            After::Gone => return,
        }
    }
}

/// How many body bytes an action wants read before it is performed (`None`: all).
fn body_limit(action: &Action) -> Option<u64> {
    match action {
        Action::ResetDuringRequestBody { after } => Some(*after),
        Action::DelayHeaders(_, inner) => body_limit(inner),
        _ => None,
    }
}

impl Conn {
    /// Reads more bytes into the buffer; `Ok(0)` at EOF. An EOF or error here is the
    /// peer's doing and is recorded as such.
    async fn fill(&mut self, want: usize) -> io::Result<usize> {
        self.buf.reserve(want.max(8 * 1024));
        let read = self.stream.read_buf(&mut self.buf).await;
        if matches!(read, Ok(0) | Err(_)) {
            self.note_peer_close();
        }
        read
    }

    async fn fill_or_eof(&mut self, want: usize) -> Result<(), ReadError> {
        match self.fill(want).await? {
            0 => Err(ReadError::Eof),
            _ => Ok(()),
        }
    }

    /// Records that the peer closed this connection (once).
    fn note_peer_close(&mut self) {
        if !self.peer_closed {
            self.peer_closed = true;
            self.shared.note_closed_by_peer(self.id);
        }
    }

    /// A failed write is a peer close if the peer is what made it fail.
    fn note_write_error(&mut self, e: &io::Error) {
        use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
        if matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted) {
            self.note_peer_close();
        }
    }

    /// Reads one request head. `Ok(None)` if the client closed the connection cleanly
    /// before sending anything.
    async fn read_head(&mut self) -> Result<Option<Head>, ReadError> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = self.parse_head()? {
                    return Ok(Some(parsed));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(ReadError::HeadTooLarge);
                }
            }
            if self.fill(0).await? == 0 {
                return if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                    Ok(None)
                } else {
                    Err(ReadError::Eof)
                };
            }
        }
    }

    /// Reads the body of the request whose head is `req`: at most `limit` bytes of it
    /// if given, kept in memory or, on `/digest/...` paths, hashed as it arrives.
    async fn read_body(
        &mut self,
        req: &LoggedRequest,
        framing: Framing,
        expect_continue: bool,
        limit: Option<u64>,
    ) -> Result<Body, ReadError> {
        let body_coming = match framing {
            Framing::Sized(len) => len > 0,
            Framing::Chunked => true,
        };
        // Answer `Expect: 100-continue` only when a body is actually coming (and wanted),
        // as clients (curl, hyper) wait for it before sending the body.
        if expect_continue && body_coming && limit != Some(0) {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let digest = is_digest_path(&req.path);
        if let (false, None, Framing::Sized(len)) = (digest, limit, framing) {
            let bytes = self.read_sized_body(len).await?;
            return Ok(Body {
                len: bytes.len() as u64,
                encoded_len: bytes.len() as u64,
                bytes,
                sha256: None,
                complete: true,
                gzip_error: None,
            });
        }
        let mut sink = if digest {
            // A cut-short gzip stream cannot be decoded, so partial bodies are hashed
            // as sent (and `body_len` is then the byte count read, as documented).
            Sink::Digest(Digester::new(limit.is_none() && is_gzip(req)))
        } else {
            Sink::Keep(BytesMut::new())
        };
        let (encoded_len, complete) = self
            .stream_body(framing, limit.unwrap_or(u64::MAX), &mut sink)
            .await?;
        Ok(match sink {
            Sink::Keep(bytes) => Body {
                len: bytes.len() as u64,
                bytes: bytes.freeze(),
                sha256: None,
                encoded_len,
                complete,
                gzip_error: None,
            },
            Sink::Digest(digester) => {
                let (len, sha256) = digester.finish();
                Body {
                    bytes: Bytes::new(),
                    len,
                    encoded_len,
                    complete,
                    sha256: sha256.as_ref().ok().cloned(),
                    gzip_error: sha256.err(),
                }
            }
        })
    }

    /// Parses the request head if the buffer holds all of it, consuming it.
    fn parse_head(&mut self) -> Result<Option<Head>, ReadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let head_len = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
            Err(e) => return Err(ReadError::Malformed(format!("bad request head: {e}"))),
        };
        let method = parsed.method.unwrap_or_default().to_owned();
        let version = parsed.version.unwrap_or(1);
        let target = parsed.path.unwrap_or("/");
        // Absolute-form targets ("http://host/p?q", sent to proxies) name the same path.
        let target = match target.split_once("://") {
            Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
            None => target,
        };
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (target, None),
        };
        let path = if path.is_empty() { "/" } else { path }.to_owned();

        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut conn_close = false;
        let mut conn_keep_alive = false;
        let mut expect_continue = false;
        let mut logged = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            // Lowercased so that assertions read the same whichever transport (each
            // with its own casing habits) sent the request.
            let name = h.name.to_ascii_lowercase();
            let value = String::from_utf8_lossy(h.value).into_owned();
            match name.as_str() {
                "content-length" => {
                    let n = value.trim().parse::<u64>().map_err(|_| {
                        ReadError::Malformed(format!("bad content-length {value:?}"))
                    })?;
                    if content_length.is_some_and(|old| old != n) {
                        return Err(ReadError::Malformed("conflicting content-length".into()));
                    }
                    content_length = Some(n);
                }
                "transfer-encoding" => {
                    let last = value.rsplit(',').next().unwrap_or("").trim();
                    if last.eq_ignore_ascii_case("chunked") {
                        chunked = true;
                    } else {
                        return Err(ReadError::Malformed(format!(
                            "unsupported transfer-encoding {value:?}"
                        )));
                    }
                }
                "connection" => {
                    for token in value.split(',').map(str::trim) {
                        conn_close |= token.eq_ignore_ascii_case("close");
                        conn_keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                    }
                }
                "expect" => expect_continue = value.trim().eq_ignore_ascii_case("100-continue"),
                _ => {}
            }
            logged.push((name, value));
        }
        // RFC 9112 §6.3: chunked wins over Content-Length, but the pair smells of request
        // smuggling; a test server should complain loudly rather than guess.
        if chunked && content_length.is_some() {
            return Err(ReadError::Malformed(
                "both transfer-encoding and content-length".into(),
            ));
        }
        let body_len = content_length.unwrap_or(0);
        // Digested bodies are never held, so no size is too large for them.
        if body_len > MAX_BODY && !is_digest_path(&path) {
            return Err(ReadError::BodyTooLarge);
        }
        let keep_alive = if version == 0 {
            conn_keep_alive && !conn_close
        } else {
            !conn_close
        };
        let meta = Meta {
            keep_alive,
            http10_keep_alive: version == 0 && keep_alive,
            head: method == "HEAD",
        };
        // The request line as the bytes arrived (without its CRLF): the target's form too.
        let line_end = self.buf[..head_len]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(head_len);
        let request_line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
        let req = LoggedRequest {
            method,
            request_line,
            path,
            query,
            headers: logged,
            body: Bytes::new(),
            body_len: 0,
            body_sha256: None,
            complete: true,
            received_at: Instant::now(),
            connection: self.id,
        };
        self.buf.advance(head_len);
        Ok(Some(Head {
            req,
            meta,
            framing: if chunked {
                Framing::Chunked
            } else {
                Framing::Sized(body_len)
            },
            expect_continue,
        }))
    }

    /// Reads a whole `Content-Length` body into memory.
    async fn read_sized_body(&mut self, len: u64) -> Result<Bytes, ReadError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let len = len as usize;
        while self.buf.len() < len {
            let missing = len - self.buf.len();
            // Reserve the whole remainder at once so a large upload is one allocation
            // and one copy (kernel → buffer) per byte.
            self.fill_or_eof(missing).await?;
        }
        Ok(self.buf.split_to(len).freeze())
    }

    /// Passes the body through `sink` piece by piece, stopping after `limit` bytes.
    /// Returns how many body bytes were read and whether that was all of the body
    /// (the end of a chunked body counts as seen only once its last chunk was read).
    async fn stream_body(
        &mut self,
        framing: Framing,
        limit: u64,
        sink: &mut Sink,
    ) -> Result<(u64, bool), ReadError> {
        let mut got = 0u64;
        match framing {
            Framing::Sized(len) => {
                let want = len.min(limit);
                while got < want {
                    got += self.feed(sink, want - got).await?;
                }
                Ok((got, got == len))
            }
            Framing::Chunked => loop {
                if got == limit {
                    return Ok((got, false));
                }
                let line = self.read_line().await?;
                let size_str = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_str, 16)
                    .map_err(|_| ReadError::Malformed(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailer section: skip fields up to the empty line.
                    while !self.read_line().await?.is_empty() {}
                    return Ok((got, true));
                }
                if sink.keeps() && got.saturating_add(size) > MAX_BODY {
                    return Err(ReadError::BodyTooLarge);
                }
                let mut left = size;
                while left > 0 {
                    if got == limit {
                        return Ok((got, false));
                    }
                    let n = self.feed(sink, left.min(limit - got)).await?;
                    left -= n;
                    got += n;
                }
                if !self.read_line().await?.is_empty() {
                    return Err(ReadError::Malformed(
                        "chunk data not followed by CRLF".into(),
                    ));
                }
            },
        }
    }

    /// Passes up to `max` (> 0) body bytes to `sink`, reading if none are buffered.
    /// Returns how many it passed.
    async fn feed(&mut self, sink: &mut Sink, max: u64) -> Result<u64, ReadError> {
        if self.buf.is_empty() {
            // The buffer is empty, so this reuses its allocation: memory stays constant
            // however long the body is.
            self.fill_or_eof(READ_CHUNK).await?;
        }
        let take = max.min(self.buf.len() as u64) as usize;
        sink.feed(&self.buf[..take]);
        self.buf.advance(take);
        Ok(take as u64)
    }

    /// Reads one line of a chunked body, without its line ending.
    async fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buf.len() > 8 * 1024 {
                return Err(ReadError::Malformed("chunk line too long".into()));
            }
            self.fill_or_eof(0).await?;
        }
    }

    /// Answers an unreadable request with an error (if the client is still there) and
    /// closes the connection, since its framing can no longer be trusted.
    async fn reject(mut self, e: ReadError) {
        let (status, kind, msg) = match e {
            ReadError::Io(e) => {
                tracing::debug!(conn = self.id, "testkit: read failed: {e}");
                // Failed reads are recorded by `fill`; this catches the `100 Continue`.
                self.note_write_error(&e);
                return;
            }
            ReadError::Eof => return,
            ReadError::Malformed(m) => (400, "invalid-input", m),
            ReadError::HeadTooLarge => (431, "invalid-input", "request head too large".into()),
            ReadError::BodyTooLarge => (413, "request-too-large", "request body too large".into()),
        };
        tracing::debug!(conn = self.id, "testkit: rejecting request: {msg}");
        let action = crate::routes::apify_error(status, kind, &msg);
        let meta = Meta {
            keep_alive: false,
            http10_keep_alive: false,
            head: false,
        };
        if self.perform(action, &meta).await.is_ok() {
            self.close().await;
        }
    }

    /// Performs an action; boxed because `DelayHeaders` recurses.
    fn perform<'a>(
        &'a mut self,
        action: Action,
        meta: &'a Meta,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<After>> + Send + 'a>> {
        Box::pin(async move {
            match action {
                Action::Respond {
                    status,
                    headers,
                    body,
                } => self.respond(status, &headers, &body, meta).await,
                Action::ResetBeforeResponse => Ok(After::Reset),
                Action::CloseBeforeResponse => Ok(After::Close),
                // The partial body was read before the request was logged.
                Action::ResetDuringRequestBody { .. } => Ok(After::Reset),
                Action::ResetMidBody { total_len, send } => {
                    self.partial_body(total_len, send).await?;
                    self.wait_sent().await;
                    Ok(After::Reset)
                }
                Action::TruncatedBody { total_len, send } => {
                    self.partial_body(total_len, send).await?;
                    Ok(After::Close)
                }
                Action::DelayHeaders(delay, inner) => {
                    self.idle(delay).await;
                    self.perform(*inner, meta).await
                }
                Action::SlowBody {
                    total_len,
                    chunk,
                    interval,
                } => {
                    let head = Self::head(200, OCTET, Some(total_len), false, meta);
                    self.stream.write_all(&head).await?;
                    let chunk = chunk.max(1) as u64;
                    let mut off = 0;
                    while off < total_len {
                        self.idle(interval).await;
                        let n = chunk.min(total_len - off);
                        pattern::write_pattern(&mut self.stream, off, n).await?;
                        off += n;
                    }
                    Ok(After::KeepAlive)
                }
                Action::Hang => {
                    // Returns only at EOF or on an error: the client left.
                    self.discard_until_eof(None).await;
                    self.note_peer_close();
                    Ok(After::Gone)
                }
                Action::PatternBody { len, chunked } => {
                    let mut out = if chunked {
                        Self::head(200, OCTET, None, true, meta)
                    } else {
                        Self::head(200, OCTET, Some(len), false, meta)
                    };
                    if meta.head {
                        self.stream.write_all(&out).await?;
                    } else if !chunked && len <= SMALL_BODY {
                        // One write for head and body: fewer syscalls and segments for
                        // the small-request benchmark.
                        pattern::extend_pattern(&mut out, 0, len as usize);
                        self.stream.write_all(&out).await?;
                    } else {
                        self.stream.write_all(&out).await?;
                        if chunked {
                            pattern::write_pattern_chunked(&mut self.stream, len).await?;
                        } else {
                            pattern::write_pattern(&mut self.stream, 0, len).await?;
                        }
                    }
                    Ok(After::KeepAlive)
                }
                Action::Raw(bytes) => {
                    self.stream.write_all(&bytes).await?;
                    Ok(After::Close)
                }
            }
        })
    }

    /// Builds a head with the given framing; used by the built-in body actions.
    fn head(
        status: u16,
        content_type: &str,
        content_length: Option<u64>,
        chunked: bool,
        meta: &Meta,
    ) -> Vec<u8> {
        let mut h = status_line(status);
        h.extend_from_slice(b"content-type: ");
        h.extend_from_slice(content_type.as_bytes());
        h.extend_from_slice(b"\r\n");
        if let Some(n) = content_length {
            h.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
        }
        if chunked {
            h.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        connection_header(&mut h, meta);
        h.extend_from_slice(b"\r\n");
        h
    }

    async fn respond(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        meta: &Meta,
    ) -> io::Result<After> {
        let mut out = status_line(status);
        let mut framed = false;
        let mut own_connection_header = false;
        let mut after = After::KeepAlive;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-length") {
                framed = true;
                if value.trim().parse::<usize>().ok() != Some(body.len()) {
                    after = After::Close;
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // The caller framed the body itself; we cannot tell where it ends.
                framed = true;
                after = After::Close;
            } else if name.eq_ignore_ascii_case("connection") {
                own_connection_header = true;
                if value.to_ascii_lowercase().contains("close") {
                    after = After::Close;
                }
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        // RFC 9110 §8.6: no Content-Length on 1xx/204 responses; 304 mirrors a GET, so
        // leave it out there too rather than claim a length of 0.
        let bodiless = matches!(status, 100..=199 | 204 | 304);
        if !framed && !bodiless {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        if !own_connection_header {
            connection_header(&mut out, meta);
        }
        out.extend_from_slice(b"\r\n");
        if !meta.head && !bodiless {
            out.extend_from_slice(body);
        }
        self.stream.write_all(&out).await?;
        Ok(after)
    }

    async fn partial_body(&mut self, total_len: u64, send: u64) -> io::Result<()> {
        let meta = Meta {
            keep_alive: true,
            http10_keep_alive: false,
            head: false,
        };
        let head = Self::head(200, OCTET, Some(total_len), false, &meta);
        self.stream.write_all(&head).await?;
        pattern::write_pattern(&mut self.stream, 0, send.min(total_len)).await
    }

    /// Waits (bounded) until the kernel has no unacknowledged bytes queued for this
    /// socket, so that a following RST does not throw away data we claim to have sent.
    async fn wait_sent(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while unsent_bytes(&self.stream) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Sleeps for `delay` while watching the connection, so that a client that gives up
    /// meanwhile is noticed (and recorded) at once rather than at the next write.
    /// Whatever arrives during the wait (a pipelined request) stays in the buffer.
    async fn idle(&mut self, delay: Duration) {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            // After an EOF every read returns at once, so stop watching; likewise once a
            // pipelining client has sent more than a request head's worth.
            let watch = !self.peer_closed && self.buf.len() < MAX_HEAD;
            tokio::select! {
                _ = &mut sleep => return,
                // `read_buf` is cancel-safe: losing the race to the timer loses no bytes.
                _ = self.fill(0), if watch => {}
            }
        }
    }

    /// Reads and drops everything until EOF, an error, or `limit` elapses.
    async fn discard_until_eof(&mut self, limit: Option<Duration>) {
        let mut scratch = vec![0u8; 16 * 1024];
        let drain = async {
            while let Ok(n) = self.stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        match limit {
            Some(limit) => {
                let _ = tokio::time::timeout(limit, drain).await;
            }
            None => drain.await,
        }
    }

    /// Closes cleanly: FIN first, then keep reading (briefly) until the client closes.
    /// Dropping a socket with unread input sends an RST instead of a FIN, and an RST
    /// can destroy the response the client has not read yet, turning an intended
    /// "clean close" into a spurious reset.
    async fn close(mut self) {
        if self.stream.shutdown().await.is_ok() {
            self.discard_until_eof(Some(LINGER)).await;
        }
    }

    /// Resets the connection: with SO_LINGER 0, close() sends RST instead of FIN.
    fn reset(self) {
        let sock = socket2::SockRef::from(&self.stream);
        if let Err(e) = sock.set_linger(Some(Duration::ZERO)) {
            tracing::debug!(conn = self.id, "testkit: SO_LINGER failed: {e}");
        }
        drop(self.stream);
    }
}

const OCTET: &str = "application/octet-stream";

/// Pattern bodies up to this size go out in the same write as their head.
const SMALL_BODY: u64 = 64 * 1024;

fn status_line(status: u16) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut v = Vec::with_capacity(256);
    v.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    v
}

fn connection_header(out: &mut Vec<u8>, meta: &Meta) {
    if !meta.keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if meta.http10_keep_alive {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
}

/// Bytes in the socket's send queue not yet acknowledged by the peer (SIOCOUTQ).
#[cfg(target_os = "linux")]
fn unsent_bytes(stream: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (== SIOCOUTQ for sockets) writes one c_int through the pointer,
    // which points at a live local; the fd is owned by `stream` for the whole call.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// Without SIOCOUTQ there is no cheap way to tell, so an RST may cut off queued data.
#[cfg(not(target_os = "linux"))]
fn unsent_bytes(_stream: &TcpStream) -> usize {
    0
}

/// Where body bytes go as they are read.
enum Sink {
    /// Into memory, for the request log.
    Keep(BytesMut),
    /// Through SHA-256 (after gzip decoding, if any), for `/digest/...` paths.
    Digest(Digester),
}

impl Sink {
    fn keeps(&self) -> bool {
        matches!(self, Sink::Keep(_))
    }

    fn feed(&mut self, data: &[u8]) {
        match self {
            Sink::Keep(body) => body.extend_from_slice(data),
            Sink::Digest(digester) => digester.feed(data),
        }
    }
}

/// Counts and hashes the bytes written to it; the end of the gzip decoder's pipe.
#[derive(Default)]
struct HashWriter {
    hasher: Sha256,
    len: u64,
}

impl io::Write for HashWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// SHA-256 and length of a body, decoding gzip on the way if asked to.
enum Digester {
    Plain(HashWriter),
    /// Multi-member, as RFC 1952 allows; boxed as it carries the inflate state.
    Gzip(Box<MultiGzDecoder<HashWriter>>),
    /// The gzip stream was malformed: why, and how many bytes had been decoded. The
    /// rest of the body is still read and dropped, so that the connection stays in step
    /// and the client, perhaps still sending, gets the 400 instead of a reset.
    Failed(String, u64),
}

impl Digester {
    fn new(gzip: bool) -> Digester {
        if gzip {
            Digester::Gzip(Box::new(MultiGzDecoder::new(HashWriter::default())))
        } else {
            Digester::Plain(HashWriter::default())
        }
    }

    fn feed(&mut self, data: &[u8]) {
        match self {
            Digester::Plain(w) => {
                w.hasher.update(data);
                w.len += data.len() as u64;
            }
            Digester::Gzip(decoder) => {
                if let Err(e) = decoder.write_all(data) {
                    let decoded = decoder.get_ref().len;
                    *self = Digester::Failed(e.to_string(), decoded);
                }
            }
            Digester::Failed(..) => {}
        }
    }

    /// The (decoded) length, and the hex digest or why the gzip stream was malformed.
    fn finish(self) -> (u64, Result<String, String>) {
        match self {
            Digester::Plain(w) => (w.len, Ok(pattern::to_hex(&w.hasher.finalize()))),
            Digester::Gzip(mut decoder) => {
                // Flushes what is still buffered and checks the trailer (CRC, length);
                // a stream cut short or without any member fails here.
                let checked = decoder.try_finish();
                let w = decoder.get_ref();
                match checked {
                    Ok(()) => (w.len, Ok(pattern::to_hex(&w.hasher.clone().finalize()))),
                    Err(e) => (w.len, Err(e.to_string())),
                }
            }
            Digester::Failed(why, decoded) => (decoded, Err(why)),
        }
    }
}

/// Whether the request body is gzip content-coded (`Content-Encoding: gzip`).
fn is_gzip(req: &LoggedRequest) -> bool {
    req.header("content-encoding").is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip")
    })
}
