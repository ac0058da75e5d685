//! One exchange, driven through libcurl's multi interface on the glue's thread.
//!
//! libcurl pushes: `curl_easy_perform` runs a whole transfer and calls back with header lines
//! and body bytes. The glue pulls: `call` must return at the response head, and the body is
//! then `read` on the same thread. Rather than run `perform` on a second thread and pipe the
//! body across, the exchange drives the transfer itself with `curl_multi_perform` +
//! `curl_multi_wait` (non-blocking steps), stepping only until what the caller asked for is
//! there: the head in [`Exchange::head`], the next bytes in [`Read::read`]. So:
//! - no thread besides the glue's (which bounds them at `MAX_BLOCKING_EXCHANGES`);
//! - back-pressure without blocking inside a curl callback: once [`BODY_CHUNK`] bytes wait
//!   unread, the write callback *pauses* the transfer and `read` resumes it when they are
//!   taken. A paused transfer is exempt from curl's low-speed check, whereas a callback
//!   blocked on a slow consumer would have counted as a stalled server;
//! - cancellation is seen between steps (every [`POLL_EVERY`] at most while the network is
//!   quiet) and inside them (the progress callback), so a call or body the host dropped ends
//!   its transfer, and its connection, within a tenth of a second.
//!
//! A finished exchange hands its multi handle, with libcurl's connection cache in it, to the
//! next one through [`IdleMultis`]: keep-alive connections are reused across calls.

use std::io::{self, Read};
use std::mem;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_plugin_api::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use apify_plugin_api::{BlockingBody, Cancellation, Error, ErrorKind, ResponseHead, BODY_CHUNK};
use apify_plugin_api::bytes::Bytes;
use curl::easy::{Easy2, Handler, ReadError, WriteError};
use curl::multi::{Easy2Handle, Multi};

use crate::errors::{cancelled, from_curl, io_error_kind, protocol};

/// The longest `curl_multi_wait` sleeps before the exchange looks at its cancellation again.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// At most this many idle multi handles (each with its connection cache) are kept: as many as
/// the glue runs exchanges at once, so that every exchange of a busy client finds a connection.
/// With 16, half of 32 calls in flight opened a new connection each: 32 in flight ran at 0.32x
/// the built-in transport and 0.38x with 64 (3 rounds side by side, 78-94 against 73-80 µs of
/// CPU per call).
const MAX_IDLE_MULTIS: usize = apify_plugin_api::MAX_BLOCKING_EXCHANGES;

/// The handler of one transfer's callbacks: what libcurl pushes is stored here, and the
/// exchange takes it out between steps (through `Easy2Handle::get_mut`).
pub(crate) struct Collector {
    /// The request body, read by libcurl's read callback as it sends.
    upload: BlockingBody,
    cancel: Cancellation,
    /// The response head, as its lines arrive.
    head: HeadParser,
    /// Body bytes received and not yet read: `body[taken..]`.
    body: Vec<u8>,
    taken: usize,
    /// The write callback paused the transfer because `body` was full.
    paused: bool,
    /// Why one of our callbacks made libcurl abort, which its error code cannot tell.
    failure: Option<Error>,
}

impl Collector {
    pub(crate) fn new(upload: BlockingBody, cancel: Cancellation) -> Self {
        Collector {
            upload,
            cancel,
            head: HeadParser::default(),
            body: Vec::new(),
            taken: 0,
            paused: false,
            failure: None,
        }
    }

    fn unread(&self) -> usize {
        self.body.len() - self.taken
    }

    /// Moves buffered body bytes into `buf`.
    fn take(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.unread());
        buf[..n].copy_from_slice(&self.body[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.body.len() {
            self.body.clear();
            self.taken = 0;
        }
        n
    }

    /// Records why a callback aborts the transfer (the first reason wins).
    fn fail(&mut self, e: Error) {
        self.failure.get_or_insert(e);
    }
}

/// The response head, built from libcurl's header callback: one call per line, for every
/// response of the exchange (interim `1xx` ones included) and for trailers after the body.
#[derive(Default)]
struct HeadParser {
    /// The status of the response whose header lines are arriving.
    status: Option<StatusCode>,
    headers: HeaderMap,
    /// The final (non-1xx) head has ended; later lines are trailers, ignored.
    done: bool,
}

impl HeadParser {
    /// One header line of a response: a status line, a header, or the blank line ending it.
    fn line(&mut self, line: &[u8]) -> Result<(), Error> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"HTTP/") {
            // A new response begins (after a 1xx, there is another): start over.
            let code = line
                .split(|&b| b == b' ')
                .find(|t| !t.is_empty() && !t.starts_with(b"HTTP/"));
            let status = code.and_then(|c| StatusCode::from_bytes(c).ok());
            self.status = Some(status.ok_or_else(|| {
                protocol(format!(
                    "bad status line {:?}",
                    String::from_utf8_lossy(line)
                ))
            })?);
            self.headers.clear();
        } else if line.is_empty() {
            match self.status {
                // `100 Continue`, `103 Early Hints`: interim, the final response follows.
                Some(s) if s.is_informational() => self.status = None,
                Some(_) => self.done = true,
                None => return Err(protocol("a blank header line before any status line")),
            }
        } else {
            let colon = line.iter().position(|&b| b == b':');
            let parsed = colon.and_then(|i| {
                let name = HeaderName::from_bytes(&line[..i]).ok()?;
                let value = line[i + 1..].trim_ascii();
                Some((name, HeaderValue::from_bytes(value).ok()?))
            });
            let (name, value) = parsed.ok_or_else(|| {
                // Also an obsolete folded line (starting with a space): refused like hyper does.
                protocol(format!(
                    "bad header line {:?}",
                    String::from_utf8_lossy(line)
                ))
            })?;
            // `append`, not `insert`: repeated headers are returned as received.
            self.headers.append(name, value);
        }
        Ok(())
    }
}

impl Handler for Collector {
    fn header(&mut self, data: &[u8]) -> bool {
        if self.head.done {
            return true; // trailers of a chunked body
        }
        match self.head.line(data) {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        if self.unread() >= BODY_CHUNK {
            // libcurl keeps `data` and hands it over again once `read` unpauses the transfer.
            self.paused = true;
            return Err(WriteError::Pause);
        }
        // Drop what was read before appending, so the buffer stays within two chunks whatever
        // the reader's buffer size (the glue's reads empty it, and this moves nothing).
        self.body.drain(..self.taken);
        self.taken = 0;
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    fn read(&mut self, data: &mut [u8]) -> Result<usize, ReadError> {
        loop {
            match self.upload.read(data) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The host's stream failed (a file read, a closed pipe): the exchange fails
                    // with the host's own error when the glue passed one through.
                    let error = match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
                        Some(host) => host.clone(),
                        None => Error::new(
                            ErrorKind::IO,
                            format!("reading the request body failed: {e}"),
                        ),
                    };
                    self.fail(error);
                    return Err(ReadError::Abort);
                }
            }
        }
    }

    fn progress(&mut self, _dltotal: f64, _dlnow: f64, _ultotal: f64, _ulnow: f64) -> bool {
        if self.cancel.is_cancelled() {
            self.fail(cancelled());
            return false;
        }
        true
    }
}

/// A multi handle parked between exchanges, with the easy handle of its last transfer: the
/// next exchange resets and reuses it (`curl_easy_reset`) rather than paying
/// `curl_easy_init` and `curl_easy_cleanup`, and their allocations, on every call.
struct IdleMulti(Multi, Option<Easy2<Collector>>);

// SAFETY: libcurl handles may move between threads as long as no two threads use one at the
// same time ("you can pass the handles around among threads, but you must never use a single
// handle from more than one thread at any given time", libcurl-thread(3)). The `curl` crate
// leaves `Multi` `!Send` only because it holds raw pointers; an `IdleMulti`'s easy handle is
// detached from it, and both are reachable only through the pool's mutex.
unsafe impl Send for IdleMulti {}

/// The idle multi handles of one client, i.e. its pool of keep-alive connections.
#[derive(Default)]
pub(crate) struct IdleMultis {
    idle: Mutex<Vec<IdleMulti>>,
    /// How many are kept (the `pool_max_idle_per_host` option, [`MAX_IDLE_MULTIS`] otherwise).
    cap: usize,
}

impl IdleMultis {
    /// Keeps at most `cap` idle multi handles ([`MAX_IDLE_MULTIS`] when `None`).
    pub(crate) fn new(cap: Option<usize>) -> Self {
        IdleMultis {
            idle: Mutex::new(Vec::new()),
            cap: cap.unwrap_or(MAX_IDLE_MULTIS),
        }
    }

    /// An idle multi handle (or a new one), and the easy handle parked with it, if any.
    fn take(&self) -> (Multi, Option<Easy2<Collector>>) {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        idle.map_or_else(|| (Multi::new(), None), |m| (m.0, m.1))
    }

    /// Parks `multi`, and `easy` with it (its handler emptied first, so that nothing of the
    /// last request, such as its upload body, stays alive in the pool).
    fn put(&self, multi: Multi, mut easy: Option<Easy2<Collector>>) {
        if let Some(easy) = easy.as_mut() {
            *easy.get_mut() = Collector::new(BlockingBody::from(Bytes::new()), Cancellation::new());
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.cap {
            idle.push(IdleMulti(multi, easy));
        }
    }
}

/// A transfer in flight: a multi handle and the one easy handle attached to it.
struct Transfer {
    // Field order matters: the easy handle detaches from the multi before the multi drops.
    easy: Easy2Handle<Collector>,
    multi: Multi,
}

// SAFETY: as for `IdleMulti`: the transfer owns both handles, and only the thread that holds
// the `Exchange` (`&mut` for every step) touches them. The glue runs `call` and every `read`
// on one thread anyway; `Send` is what its `Read + Send` bound asks.
unsafe impl Send for Transfer {}

/// One exchange: the transfer, its outcome once libcurl reports it, and where its multi
/// handle goes back to. Returned by `call` as the response body.
pub(crate) struct Exchange {
    /// `None` only while dropping.
    transfer: Option<Transfer>,
    /// `Some` once the transfer has ended: completely, or with the error to report.
    outcome: Option<Result<(), Error>>,
    idle: Arc<IdleMultis>,
}

impl Exchange {
    /// Takes an idle multi handle from `idle` (or a new one), builds the transfer's easy handle
    /// with `build` (given the easy handle parked with that multi, to reuse), and attaches it;
    /// starts nothing yet: the first step happens in [`Exchange::head`]. On a failure the
    /// multi handle goes back to `idle`, as it does when the exchange ends.
    pub(crate) fn new(
        idle: Arc<IdleMultis>,
        build: impl FnOnce(Option<Easy2<Collector>>) -> Result<Easy2<Collector>, Error>,
    ) -> Result<Self, Error> {
        let (multi, recycled) = idle.take();
        let attached = build(recycled).and_then(|easy| {
            multi.add2(easy).map_err(|e| {
                Error::new(
                    ErrorKind::OTHER,
                    format!("libcurl refused the transfer: {e}"),
                )
            })
        });
        match attached {
            Ok(easy) => Ok(Exchange {
                transfer: Some(Transfer { easy, multi }),
                outcome: None,
                idle,
            }),
            Err(e) => {
                idle.put(multi, None);
                Err(e)
            }
        }
    }

    /// Steps the transfer until `ready` holds for what has arrived, or the transfer ends.
    fn step_until(&mut self, ready: impl Fn(&Collector) -> bool) {
        let Some(t) = self.transfer.as_mut() else {
            return;
        };
        while self.outcome.is_none() && !ready(t.easy.get_ref()) {
            if t.easy.get_ref().cancel.is_cancelled() {
                self.outcome = Some(Err(cancelled()));
                return;
            }
            if let Err(e) = t.multi.perform() {
                self.outcome = Some(Err(multi_error(e)));
                return;
            }
            let mut finished = None;
            t.multi.messages(|m| {
                if let Some(result) = m.result_for2(&t.easy) {
                    finished = Some(result);
                }
            });
            if let Some(result) = finished {
                let collector = t.easy.get_mut();
                self.outcome = Some(result.map_err(|e| {
                    // Our callback's reason first: libcurl only knows "aborted by callback".
                    collector
                        .failure
                        .take()
                        .unwrap_or_else(|| from_curl(&e, collector.head.done))
                }));
                return;
            }
            if ready(t.easy.get_ref()) {
                return;
            }
            // Sleeps until a socket is ready or libcurl's next timer (connect and low-speed
            // timeouts) is due, whichever is first, but no longer than POLL_EVERY.
            if let Err(e) = t.multi.wait(&mut [], POLL_EVERY) {
                self.outcome = Some(Err(multi_error(e)));
                return;
            }
        }
    }

    /// Runs the exchange until the final response head has arrived.
    pub(crate) fn head(&mut self) -> Result<ResponseHead, Error> {
        self.step_until(|c| c.head.done);
        let collector = self.transfer.as_mut().map(|t| t.easy.get_mut());
        match (collector, &self.outcome) {
            // The head is there (even if the transfer failed right after it: the body's
            // reader reports that).
            (Some(c), _) if c.head.done => Ok(ResponseHead {
                status: c.head.status.unwrap_or_default(),
                headers: mem::take(&mut c.head.headers),
            }),
            (_, Some(Err(e))) => Err(e.clone()),
            _ => Err(protocol("the transfer ended without a response head")),
        }
    }
}

impl Read for Exchange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step_until(|c| c.unread() > 0);
        let Some(t) = self.transfer.as_mut() else {
            return Ok(0);
        };
        let collector = t.easy.get_mut();
        if collector.unread() > 0 {
            let n = collector.take(buf);
            if collector.paused && collector.unread() == 0 {
                collector.paused = false;
                // May call the write callback right away with the data held back.
                t.easy.unpause_write().map_err(|e| {
                    io::Error::other(format!("libcurl could not resume the transfer: {e}"))
                })?;
            }
            return Ok(n);
        }
        match &self.outcome {
            Some(Err(e)) => Err(io::Error::new(io_error_kind(e.kind), e.message.clone())),
            // Ended completely (`None` cannot be: `step_until` returns with data or an outcome).
            _ => Ok(0),
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(Transfer { easy, multi }) = self.transfer.take() {
            // Detaching an unfinished transfer closes its connection (it is mid-response);
            // a finished one's stays in the multi handle's cache for the next exchange.
            let easy = multi.remove2(easy).ok();
            self.idle.put(multi, easy);
        }
    }
}

fn multi_error(e: curl::MultiError) -> Error {
    Error::new(
        ErrorKind::OTHER,
        format!("libcurl's multi interface failed: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Result<HeadParser, Error> {
        let mut head = HeadParser::default();
        for line in lines {
            head.line(line.as_bytes())?;
        }
        Ok(head)
    }

    #[test]
    fn interim_responses_are_skipped_and_headers_kept_as_received() {
        let head = parse(&[
            "HTTP/1.1 100 Continue\r\n",
            "\r\n",
            "HTTP/1.1 103 Early Hints\r\n",
            "Link: </style.css>\r\n",
            "\r\n",
            "HTTP/1.1 404 Not Found\r\n",
            "X-Dup: a\r\n",
            "x-dup:  b \r\n",
            "X-Empty:\r\n",
            "\r\n",
        ])
        .unwrap();
        assert!(head.done);
        assert_eq!(head.status, Some(StatusCode::NOT_FOUND));
        let dup: Vec<_> = head.headers.get_all("x-dup").iter().collect();
        assert_eq!(dup, ["a", "b"]);
        assert_eq!(head.headers.get("x-empty").unwrap(), "");
        assert!(
            head.headers.get("link").is_none(),
            "a 103's headers are not the response's"
        );
    }

    #[test]
    fn an_http2_status_line_has_no_reason() {
        let head = parse(&["HTTP/2 204 \r\n", "\r\n"]).unwrap();
        assert_eq!(head.status, Some(StatusCode::NO_CONTENT));
        assert!(head.done);
    }

    #[test]
    fn broken_heads_are_protocol_errors() {
        for lines in [
            &["HTTP/1.1 abc\r\n"][..],
            &["HTTP/1.1 200 OK\r\n", "no colon\r\n"],
            &["HTTP/1.1 200 OK\r\n", " folded\r\n"],
            &["\r\n"],
        ] {
            let e = parse(lines).err().expect("refused");
            assert_eq!(e.kind, ErrorKind::PROTOCOL, "{lines:?}: {e}");
        }
    }
}
