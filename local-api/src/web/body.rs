//! Request bodies: `Content-Encoding` decoding, size limits, and streaming record bodies to disk.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use futures_util::StreamExt;
use http::{header, HeaderMap};
use tokio::io::AsyncWriteExt;

use crate::db::key_value_store::INLINE_RECORD_LIMIT;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Buffer between the network and a record file: large enough that each blocking write moves
/// a useful amount of data, small enough to keep the server's memory flat for huge records.
const FILE_WRITE_BUFFER: usize = 1024 * 1024;

/// An incremental decoder for the `Content-Encoding`s the API accepts on uploads.
///
/// flate2's *write* decoders are used so that each network chunk is decoded as it arrives,
/// without a blocking reader thread; output is drained after every chunk.
pub enum Decoder {
    /// No encoding: chunks pass through without a copy.
    Identity,
    /// `gzip` (also several concatenated members).
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
    /// `deflate`, decided on the first bytes: zlib-wrapped (RFC 9110) or raw, as some clients send.
    Deflate(Option<Box<DeflateKind>>),
}

/// The two shapes of `deflate` bodies seen in the wild.
pub enum DeflateKind {
    /// zlib wrapper around deflate data (the standard meaning of `deflate`).
    Zlib(ZlibDecoder<Vec<u8>>),
    /// Raw deflate data.
    Raw(DeflateDecoder<Vec<u8>>),
}

impl Decoder {
    /// The decoder for a request's `Content-Encoding`; 415 for encodings we do not decode.
    pub fn for_headers(headers: &HeaderMap) -> ApiResult<Self> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Decoder::Identity);
        };
        let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Decoder::Identity),
            "gzip" | "x-gzip" => Ok(Decoder::Gzip(Box::new(MultiGzDecoder::new(Vec::new())))),
            "deflate" => Ok(Decoder::Deflate(None)),
            other => Err(ApiError::unsupported_encoding(other)),
        }
    }

    /// Decodes one chunk and returns what it decoded to (possibly nothing yet).
    pub fn push(&mut self, chunk: Bytes) -> io::Result<Bytes> {
        match self {
            Decoder::Identity => Ok(chunk),
            Decoder::Gzip(d) => {
                d.write_all(&chunk)?;
                Ok(std::mem::take(d.get_mut()).into())
            }
            Decoder::Deflate(kind) => {
                let d = kind.get_or_insert_with(|| {
                    // A zlib header is 0x?8 with a checksum making the first 16 bits divisible by 31.
                    let zlib = chunk.len() >= 2
                        && chunk[0] & 0x0f == 8
                        && (u16::from(chunk[0]) << 8 | u16::from(chunk[1])) % 31 == 0;
                    Box::new(if zlib {
                        DeflateKind::Zlib(ZlibDecoder::new(Vec::new()))
                    } else {
                        DeflateKind::Raw(DeflateDecoder::new(Vec::new()))
                    })
                });
                match d.as_mut() {
                    DeflateKind::Zlib(d) => {
                        d.write_all(&chunk)?;
                        Ok(std::mem::take(d.get_mut()).into())
                    }
                    DeflateKind::Raw(d) => {
                        d.write_all(&chunk)?;
                        Ok(std::mem::take(d.get_mut()).into())
                    }
                }
            }
        }
    }

    /// Ends the stream, checking the trailer; returns any last decoded bytes.
    pub fn finish(&mut self) -> io::Result<Bytes> {
        match self {
            Decoder::Identity => Ok(Bytes::new()),
            Decoder::Gzip(d) => {
                d.try_finish()?;
                Ok(std::mem::take(d.get_mut()).into())
            }
            Decoder::Deflate(None) => Ok(Bytes::new()),
            Decoder::Deflate(Some(d)) => match d.as_mut() {
                DeflateKind::Zlib(d) => {
                    d.try_finish()?;
                    Ok(std::mem::take(d.get_mut()).into())
                }
                DeflateKind::Raw(d) => {
                    d.try_finish()?;
                    Ok(std::mem::take(d.get_mut()).into())
                }
            },
        }
    }
}

fn decode_error(err: io::Error) -> ApiError {
    ApiError::invalid_request(format!("Request body could not be decompressed: {err}"))
}

fn body_error(err: axum::Error) -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "request-aborted-prematurely",
        format!("Reading the request body failed: {err}"),
    )
}

/// Reads a whole (small) request body into memory, decoded, refusing more than `limit` bytes
/// before or after decoding with the API's 413.
pub async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    let mut decoder = Decoder::for_headers(headers)?;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(ApiError::too_large(limit, len));
        }
    }
    let mut stream = body.into_data_stream();
    let mut out = BytesMut::new();
    let mut raw = 0usize;
    let mut single: Option<Bytes> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_error)?;
        raw += chunk.len();
        let decoded = decoder.push(chunk).map_err(decode_error)?;
        append(&mut out, &mut single, decoded);
        let len = out.len() + single.as_ref().map_or(0, Bytes::len);
        if raw > limit || len > limit {
            return Err(ApiError::too_large(limit, raw.max(len)));
        }
    }
    let last = decoder.finish().map_err(decode_error)?;
    append(&mut out, &mut single, last);
    let len = out.len() + single.as_ref().map_or(0, Bytes::len);
    if len > limit {
        return Err(ApiError::too_large(limit, len));
    }
    // `append` keeps a lone chunk in `single` and moves it into `out` once a second one comes.
    Ok(single.unwrap_or_else(|| out.freeze()))
}

/// A whole request body read with [`read_limited`] up to the server's `max_payload_bytes`.
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

/// Collects chunks, avoiding a copy when the whole body arrives as one chunk (the common case
/// for small JSON bodies).
fn append(out: &mut BytesMut, single: &mut Option<Bytes>, chunk: Bytes) {
    if chunk.is_empty() {
        return;
    }
    if out.is_empty() && single.is_none() {
        *single = Some(chunk);
        return;
    }
    if let Some(first) = single.take() {
        out.extend_from_slice(&first);
    }
    out.extend_from_slice(&chunk);
}

/// What [`stream_to_file`] wrote.
pub struct WrittenFile {
    /// Decoded size in bytes.
    pub size: u64,
    /// The body itself when it is at most [`INLINE_RECORD_LIMIT`] bytes.
    pub inline: Option<Bytes>,
}

/// Streams a request body, decoded, into a new file at `path`; memory use stays at about one
/// write buffer whatever the body's size. On any failure the partial file is removed.
pub async fn stream_to_file(
    headers: &HeaderMap,
    body: Body,
    path: &Path,
) -> ApiResult<WrittenFile> {
    let decoder = Decoder::for_headers(headers)?;
    let result = write_file(decoder, body, path).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

async fn write_file(mut decoder: Decoder, body: Body, path: &Path) -> ApiResult<WrittenFile> {
    let file = tokio::fs::File::create(path).await?;
    let mut writer = tokio::io::BufWriter::with_capacity(FILE_WRITE_BUFFER, file);
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    // Collected only while the body is still small enough to be kept in memory.
    let mut inline = Some(BytesMut::new());
    let write = |chunk: Bytes, size: &mut u64, inline: &mut Option<BytesMut>| {
        *size += chunk.len() as u64;
        if let Some(buf) = inline {
            if buf.len() + chunk.len() <= INLINE_RECORD_LIMIT {
                buf.extend_from_slice(&chunk);
            } else {
                *inline = None;
            }
        }
        chunk
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_error)?;
        let decoded = decoder.push(chunk).map_err(decode_error)?;
        let decoded = write(decoded, &mut size, &mut inline);
        writer.write_all(&decoded).await?;
    }
    let last = decoder.finish().map_err(decode_error)?;
    let last = write(last, &mut size, &mut inline);
    writer.write_all(&last).await?;
    writer.flush().await?;
    Ok(WrittenFile {
        size,
        inline: inline.map(BytesMut::freeze),
    })
}
