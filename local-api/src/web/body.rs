//! Request bodies: `Content-Encoding` decoding in bounded steps, size limits, the JSON media
//! type of JSON routes, and streaming record bodies to disk.
//!
//! Every body is decoded a step at a time (at most [`READ_STEP`] decoded bytes per step) and
//! the decoded size is checked against the limit after every step, so a small compressed body
//! that would expand to gigabytes (a "zip bomb") costs at most one step over the limit in
//! memory or on disk before it is answered 413.

use std::io;
use std::path::Path;
use std::sync::Arc;

use async_compression::tokio::bufread::{BrotliDecoder, DeflateDecoder, GzipDecoder, ZlibDecoder};
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{header, HeaderMap, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::io::StreamReader;

use crate::db::key_value_store::INLINE_RECORD_LIMIT;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The most decoded bytes one step produces: the limit is checked after each step, so this is
/// also the most a body can overshoot its limit by before it is refused.
pub const READ_STEP: usize = 64 * 1024;

/// Buffer between the network and a record file: large enough that each blocking write moves
/// a useful amount of data, small enough to keep the server's memory flat for huge records.
const FILE_WRITE_BUFFER: usize = 1024 * 1024;

/// The `Content-Encoding`s the API accepts on uploads (the spec's `br`, `gzip`, `deflate`,
/// `identity`). Both official SDKs send `br` for bodies of 1 KiB and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding.
    Identity,
    /// `gzip` (several concatenated members are one body, as RFC 1952 allows).
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 9110), or raw deflate data as some clients send; decided
    /// on the first two bytes.
    Deflate,
    /// `br` (brotli, standard window: at most 16 MiB of decoder state).
    Brotli,
}

impl Encoding {
    /// The encoding a request's `Content-Encoding` names; 415 for encodings we do not decode.
    pub fn of(headers: &HeaderMap) -> ApiResult<Self> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let value = value.to_str().unwrap_or("?").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            "br" => Ok(Encoding::Brotli),
            other => Err(ApiError::unsupported_encoding(other)),
        }
    }
}

/// Which limit a body is read under, for the 413's message.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// A JSON (or other in-memory) payload: the API's own 413 message.
    Payload(u64),
    /// A key-value store record streamed to disk.
    Record(u64),
}

impl Limit {
    fn bytes(self) -> u64 {
        match self {
            Limit::Payload(n) | Limit::Record(n) => n,
        }
    }

    fn exceeded(self, seen: u64) -> ApiError {
        match self {
            Limit::Payload(limit) => ApiError::too_large(limit, seen),
            Limit::Record(limit) => ApiError::record_too_large(limit, seen),
        }
    }
}

/// Why the raw body stream stopped early; carried inside an `io::Error` through the decoder,
/// so that a client's broken upload and a limit are not reported as bad compressed data.
#[derive(Debug)]
enum Stop {
    /// Reading from the connection failed (the client went away, a malformed chunk, ...).
    Body(axum::Error),
    /// More raw (still encoded) bytes than the limit: this many were seen.
    TooLarge(u64),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Body(e) => write!(f, "reading the request body failed: {e}"),
            Stop::TooLarge(n) => write!(f, "the body is over the limit ({n} bytes seen)"),
        }
    }
}

impl std::error::Error for Stop {}

/// The API error for a failed read of a (possibly decoded) body.
fn read_error(err: io::Error, limit: Limit) -> ApiError {
    match err.get_ref().and_then(|e| e.downcast_ref::<Stop>()) {
        Some(Stop::Body(e)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "request-aborted-prematurely",
            format!("Reading the request body failed: {e}"),
        ),
        Some(Stop::TooLarge(seen)) => limit.exceeded(*seen),
        None => ApiError::invalid_request(format!(
            "Request body could not be decompressed as its Content-Encoding says: {err}"
        )),
    }
}

/// Where decoded pieces come from.
enum Source {
    /// Identity: the connection's chunks as they are, without a copy.
    Chunks(BoxStream<'static, io::Result<Bytes>>),
    /// A decoder over the connection's chunks.
    Reader(Box<dyn AsyncRead + Send + Unpin>),
}

/// A request body, decoded in bounded steps and counted against a limit.
struct Decoded {
    source: Source,
    limit: Limit,
    /// Decoded bytes handed out so far.
    seen: u64,
}

impl Decoded {
    /// Checks the `Content-Length` against the limit (an early 413 without reading), and
    /// sets up the decoder for the `Content-Encoding`.
    async fn new(headers: &HeaderMap, body: Body, limit: Limit) -> ApiResult<Self> {
        let encoding = Encoding::of(headers)?;
        if let Some(len) = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            if len > limit.bytes() {
                return Err(limit.exceeded(len));
            }
        }
        // The raw stream refuses more encoded bytes than the limit too: compressed data never
        // needs to be larger than what it decodes to by more than a few percent, and a stream
        // of empty gzip members must not run forever.
        let mut raw_seen = 0u64;
        let max = limit.bytes();
        let mut raw: BoxStream<'static, io::Result<Bytes>> = body
            .into_data_stream()
            .map(move |chunk| match chunk {
                Ok(chunk) => {
                    raw_seen = raw_seen.saturating_add(chunk.len() as u64);
                    if raw_seen > max {
                        Err(io::Error::other(Stop::TooLarge(raw_seen)))
                    } else {
                        Ok(chunk)
                    }
                }
                Err(e) => Err(io::Error::other(Stop::Body(e))),
            })
            .boxed();
        let source = match encoding {
            Encoding::Identity => Source::Chunks(raw),
            Encoding::Gzip => {
                let mut d = GzipDecoder::new(StreamReader::new(raw));
                d.multiple_members(true);
                Source::Reader(Box::new(d))
            }
            Encoding::Brotli => {
                Source::Reader(Box::new(BrotliDecoder::new(StreamReader::new(raw))))
            }
            Encoding::Deflate => {
                // The first two bytes decide zlib or raw; they may come in separate chunks.
                let mut prefix: Vec<io::Result<Bytes>> = Vec::new();
                let mut head: Vec<u8> = Vec::with_capacity(2);
                while head.len() < 2 {
                    match raw.next().await {
                        Some(Ok(chunk)) => {
                            head.extend(chunk.iter().take(2 - head.len()));
                            prefix.push(Ok(chunk));
                        }
                        Some(Err(e)) => return Err(read_error(e, limit)),
                        None => break,
                    }
                }
                if head.is_empty() {
                    // An empty body decodes to nothing, whatever its encoding claims.
                    return Ok(Decoded {
                        source: Source::Chunks(futures_util::stream::empty().boxed()),
                        limit,
                        seen: 0,
                    });
                }
                // A zlib header is 0x?8 with a check making the first 16 bits divisible by 31.
                let zlib = head.len() == 2
                    && head[0] & 0x0f == 8
                    && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
                let reader =
                    StreamReader::new(futures_util::stream::iter(prefix).chain(raw).boxed());
                if zlib {
                    Source::Reader(Box::new(ZlibDecoder::new(reader)))
                } else {
                    Source::Reader(Box::new(DeflateDecoder::new(reader)))
                }
            }
        };
        Ok(Decoded {
            source,
            limit,
            seen: 0,
        })
    }

    /// The next decoded piece (at most [`READ_STEP`] bytes when decoding), `None` at the end;
    /// 413 as soon as the decoded size is over the limit.
    async fn next(&mut self) -> ApiResult<Option<Bytes>> {
        let piece = match &mut self.source {
            Source::Chunks(stream) => match stream.next().await {
                None => None,
                Some(chunk) => Some(chunk.map_err(|e| read_error(e, self.limit))?),
            },
            Source::Reader(reader) => {
                let mut buf = BytesMut::with_capacity(READ_STEP);
                let n = reader
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| read_error(e, self.limit))?;
                (n > 0).then(|| buf.freeze())
            }
        };
        if let Some(piece) = &piece {
            self.seen = self.seen.saturating_add(piece.len() as u64);
            if self.seen > self.limit.bytes() {
                return Err(self.limit.exceeded(self.seen));
            }
        }
        Ok(piece)
    }
}

/// Reads a whole (small) request body into memory, decoded, refusing more than `limit` bytes
/// before or after decoding with the API's 413.
pub async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    let limit = Limit::Payload(u64::try_from(limit).unwrap_or(u64::MAX));
    let mut decoded = Decoded::new(headers, body, limit).await?;
    // A body that arrives as one piece (the common case for small JSON) is kept without a copy.
    let Some(first) = decoded.next().await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = decoded.next().await? else {
        return Ok(first);
    };
    let mut out = BytesMut::with_capacity(first.len() + second.len());
    out.extend_from_slice(&first);
    out.extend_from_slice(&second);
    while let Some(piece) = decoded.next().await? {
        out.extend_from_slice(&piece);
    }
    Ok(out.freeze())
}

/// A whole request body read with [`read_limited`] up to the server's `max_payload_bytes`,
/// whatever its type: for routes whose body is data (the input of a run).
/// As a body extractor it runs after the handler's other extractors, so a missing storage is
/// answered 404 before the body is read.
pub struct Payload(pub Bytes);

impl FromRequest<Arc<AppState>> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> ApiResult<Self> {
        let (parts, body) = req.into_parts();
        read_limited(&parts.headers, body, state.max_payload_bytes)
            .await
            .map(Payload)
    }
}

/// Like [`Payload`], for routes that parse the body as JSON: a non-empty body must be sent
/// with `Content-Type: application/json` (or any `…/…+json`; parameters such as `charset`
/// allowed), else 415 `unsupported-media-type`. A web page can send a cross-site POST
/// without a preflight only as `text/plain`, form data or multipart, so this keeps such pages
/// from ever reaching a JSON handler.
pub struct JsonPayload(pub Bytes);

impl FromRequest<Arc<AppState>> for JsonPayload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> ApiResult<Self> {
        let (parts, body) = req.into_parts();
        let bytes = read_limited(&parts.headers, body, state.max_payload_bytes).await?;
        if !bytes.is_empty() {
            check_json_media_type(&parts.headers)?;
        }
        Ok(JsonPayload(bytes))
    }
}

/// Whether the request's `Content-Type` is JSON (`application/json` or `…/…+json`).
pub fn check_json_media_type(headers: &HeaderMap) -> ApiResult<()> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_json = value.as_deref().is_some_and(|v| {
        let essence = v
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some((kind, subtype)) = essence.split_once('/') else {
            return false;
        };
        !kind.is_empty()
            && !kind.contains(char::is_whitespace)
            && (essence == "application/json" || subtype.ends_with("+json"))
    });
    if is_json {
        return Ok(());
    }
    let sent = match value {
        Some(v) => format!(
            "Content-Type \"{}\"",
            v.chars().take(100).collect::<String>()
        ),
        None => "no Content-Type".to_owned(),
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!(
            "This endpoint reads a JSON body, but the request has {sent}: send the body with Content-Type: application/json"
        ),
    ))
}

/// What [`stream_to_file`] wrote.
pub struct WrittenFile {
    /// Decoded size in bytes.
    pub size: u64,
    /// The body itself when it is at most [`INLINE_RECORD_LIMIT`] bytes.
    pub inline: Option<Bytes>,
}

/// Streams a request body, decoded, into a new file at `path`, refusing more than `limit`
/// decoded bytes with 413; memory use stays at about one write buffer whatever the body's
/// size. On any failure the partial file is removed.
pub async fn stream_to_file(
    headers: &HeaderMap,
    body: Body,
    path: &Path,
    limit: u64,
) -> ApiResult<WrittenFile> {
    let decoded = Decoded::new(headers, body, Limit::Record(limit)).await?;
    let result = write_file(decoded, path).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

async fn write_file(mut decoded: Decoded, path: &Path) -> ApiResult<WrittenFile> {
    let file = tokio::fs::File::create(path).await?;
    let mut writer = tokio::io::BufWriter::with_capacity(FILE_WRITE_BUFFER, file);
    // Collected only while the body is still small enough to be kept in memory.
    let mut inline = Some(BytesMut::new());
    while let Some(piece) = decoded.next().await? {
        if let Some(buf) = &mut inline {
            if buf.len() + piece.len() <= INLINE_RECORD_LIMIT {
                buf.extend_from_slice(&piece);
            } else {
                inline = None;
            }
        }
        writer.write_all(&piece).await?;
    }
    writer.flush().await?;
    Ok(WrittenFile {
        size: decoded.seen,
        inline: inline.map(BytesMut::freeze),
    })
}
