//! The wire between the host and a transport worker: frames on a Unix socketpair.
//!
//! Every frame is `u32 length (little-endian) | u8 kind | u64 call id | payload`, where the
//! length counts kind, id and payload. Heads and control messages are postcard-encoded; body
//! chunks travel as raw payload, so a chunk is copied only into and out of the kernel. A small
//! answer that is all there at once goes as one [`Kind::Answer`] frame, head and body.
//!
//! Calls are multiplexed by id. Both body directions are flow-controlled by credit, as HTTP/2
//! does: a side sends body bytes only while the other has granted room for them, and grants
//! more as its consumer reads. So neither side buffers more than a window per call, however
//! fast the other writes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder};

use crate::transport::{TransportError, TransportErrorKind};

/// The largest frame either side accepts: a body chunk is cut to [`MAX_CHUNK`], and no head
/// comes near this. A peer announcing more is broken or hostile.
pub(crate) const MAX_FRAME: usize = 16 << 20;

/// The largest body chunk put in one frame; larger chunks are split.
pub(crate) const MAX_CHUNK: usize = 256 << 10;

/// The body bytes a side may send on one call before the other grants more. A window per call
/// bounds memory (32 downloads in flight buffer at most 32 windows) and is large enough that
/// the grants cost little. 2 MiB rather than 1: with the plugin's runtime driven by the
/// worker's thread, a worker with 1 MiB spent up to half of an isolated reqwest download
/// waiting for credit (2.0-2.2 GB/s at 200 MB, against 2.5-3.4 with 2 MiB and 3.2-3.6 in
/// process, 5 rounds each); 4 MiB was slower again (1.7 GB/s: the bytes in flight no longer
/// fit the cache).
pub(crate) const WINDOW: u32 = 2 << 20;

/// The room a message's encoding starts with: a small call's head fits.
const HEAD_ROOM: usize = 512;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    // host → worker
    /// [`Hello`]: what to load and how to confine.
    Hello = 1,
    /// [`CallHead`]: a new call.
    Call = 2,
    /// A request body chunk.
    RequestData = 3,
    /// The request body ended.
    RequestEnd = 4,
    /// The request body's source failed ([`WireError`]): fail the call.
    RequestFailed = 5,
    /// The host gave up on the call (dropped its future or its body).
    Cancel = 6,
    /// Room for `u32` more response body bytes.
    ResponseCredit = 7,
    // worker → host
    /// [`Ready`]: the plugin loaded and its client was made.
    Ready = 16,
    /// [`LoadRefused`]: a check or the constructor failed; the worker exits.
    LoadRefused = 17,
    /// [`ResponseHead`].
    Head = 18,
    /// A response body chunk.
    ResponseData = 19,
    /// The response body ended.
    ResponseEnd = 20,
    /// [`WireError`]: the call failed (before its head, or while its body streamed).
    Failed = 21,
    /// Room for `u32` more request body bytes.
    RequestCredit = 22,
    /// [`LogLine`]: a message the plugin logged, for the host's log.
    Log = 23,
    /// A response body chunk of `u32` bytes, written in the socket's shared ring (see
    /// `ring.rs`) after the previous one.
    ResponseShared = 24,
    /// A whole answer: a [`ResponseHead`], then the whole body (at most [`MAX_CHUNK`] bytes)
    /// as the rest of the payload. The call is over (see [`Frame::answer`]).
    Answer = 25,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        use Kind::*;
        Some(match b {
            1 => Hello,
            2 => Call,
            3 => RequestData,
            4 => RequestEnd,
            5 => RequestFailed,
            6 => Cancel,
            7 => ResponseCredit,
            16 => Ready,
            17 => LoadRefused,
            18 => Head,
            19 => ResponseData,
            20 => ResponseEnd,
            21 => Failed,
            22 => RequestCredit,
            23 => Log,
            24 => ResponseShared,
            25 => Answer,
            _ => return None,
        })
    }
}

/// One frame, its payload still encoded.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub kind: Kind,
    pub id: u64,
    pub payload: Bytes,
}

impl Frame {
    /// A frame with a postcard-encoded message.
    pub fn message<T: Serialize>(kind: Kind, id: u64, message: &T) -> Frame {
        Frame {
            kind,
            id,
            payload: encode(message, 0).into(),
        }
    }

    /// A whole answer to call `id`: its head and its body in one frame. A small answer that
    /// the host reads whole then costs one frame instead of three (head, body, end), and the
    /// host makes no queue for its body.
    pub fn answer(id: u64, head: &ResponseHead, body: &[u8]) -> Frame {
        let mut payload = encode(head, body.len());
        payload.extend_from_slice(body);
        Frame {
            kind: Kind::Answer,
            id,
            payload: payload.into(),
        }
    }

    /// The head and the body of a [`Kind::Answer`] frame. The body is copied out: a slice
    /// would keep the socket's whole read buffer alive as long as the caller keeps the body.
    pub fn decode_answer(&self) -> Result<(ResponseHead, Bytes), ProtocolError> {
        let (head, body) = postcard::take_from_bytes::<ResponseHead>(&self.payload)
            .map_err(|e| ProtocolError::new(format!("an Answer frame does not decode: {e}")))?;
        if body.len() > MAX_CHUNK {
            return Err(ProtocolError::new(format!(
                "an answer of {} bytes inline (at most {MAX_CHUNK})",
                body.len()
            )));
        }
        Ok((head, Bytes::copy_from_slice(body)))
    }

    /// A frame with a raw payload (a body chunk) or none.
    pub fn raw(kind: Kind, id: u64, payload: Bytes) -> Frame {
        Frame { kind, id, payload }
    }

    /// A credit grant of `n` bytes.
    pub fn credit(kind: Kind, id: u64, n: u32) -> Frame {
        Frame::raw(kind, id, Bytes::copy_from_slice(&n.to_le_bytes()))
    }

    /// Decodes the payload as `T`; a payload that does not decode is a protocol error.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ProtocolError> {
        postcard::from_bytes(&self.payload).map_err(|e| {
            ProtocolError::new(format!("a {:?} frame does not decode: {e}", self.kind))
        })
    }

    /// The length of a chunk in the shared ring.
    pub fn shared(id: u64, len: u32) -> Frame {
        Frame::credit(Kind::ResponseShared, id, len)
    }

    /// The credit a credit frame grants, or the length a [`Kind::ResponseShared`] frame says.
    pub fn credit_amount(&self) -> Result<u32, ProtocolError> {
        let bytes: [u8; 4] = self.payload[..]
            .try_into()
            .map_err(|_| ProtocolError::new(format!("a {:?} frame is not 4 bytes", self.kind)))?;
        Ok(u32::from_le_bytes(bytes))
    }
}

/// The peer broke the protocol: the connection is closed (and, from the host, the worker
/// killed). Or the socket failed under it; [`ProtocolError::hung_up`] tells a peer that went
/// away from one that sent bytes it must not.
#[derive(Debug, Clone)]
pub(crate) struct ProtocolError {
    message: String,
    hung_up: bool,
}

impl ProtocolError {
    /// A broken rule, in words.
    pub fn new(message: impl Into<String>) -> Self {
        ProtocolError {
            message: message.into(),
            hung_up: false,
        }
    }

    /// Whether the peer went away rather than broke a rule: it reset the socket (it closed it
    /// with bytes of ours unread, as a host does when the runtime of its callers ends), or
    /// closed it in the middle of a frame. No more frames come either way, but nobody lied.
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        ProtocolError {
            hung_up: matches!(
                e.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
            ),
            message: e.to_string(),
        }
    }
}

/// Frames from and to bytes, for tokio's `FramedRead` and the writers.
#[derive(Debug, Default)]
pub(crate) struct FrameCodec;

/// Bytes before the payload: length, kind, id.
pub(crate) const HEADER: usize = 4 + 1 + 8;

impl FrameCodec {
    /// The header of a frame with `payload_len` bytes of payload.
    pub fn header(kind: Kind, id: u64, payload_len: usize) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&((1 + 8 + payload_len) as u32).to_le_bytes());
        h[4] = kind as u8;
        h[5..].copy_from_slice(&id.to_le_bytes());
        h
    }
}

impl FrameCodec {
    /// Whether `buf` starts with a whole frame (of a plausible length), which the decoder
    /// returns without reading more.
    pub fn holds_a_frame(buf: &[u8]) -> bool {
        buf.len() >= 4 && {
            let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
            buf.len() >= 4 + len
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if src.len() < 4 {
            // Room for a whole body chunk's frame before its length is known: otherwise the
            // read that starts a frame gets tokio's default 8 KiB and a 256 KiB chunk takes
            // one read (and one trip through the read loop) more.
            src.reserve(HEADER + MAX_CHUNK);
            return Ok(None);
        }
        let len = u32::from_le_bytes(src[..4].try_into().expect("4 bytes")) as usize;
        if !(9..=MAX_FRAME).contains(&len) {
            return Err(ProtocolError::new(format!(
                "a frame of {len} bytes (a frame is 9 to {MAX_FRAME} bytes)"
            )));
        }
        if src.len() < 4 + len {
            // Room for the rest, so the read loop fills it in one go.
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let kind_byte = src.get_u8();
        let kind = Kind::from_u8(kind_byte)
            .ok_or_else(|| ProtocolError::new(format!("a frame of unknown kind {kind_byte}")))?;
        let id = src.get_u64_le();
        // `split_to` hands the payload out without copying it.
        let payload = src.split_to(len - 9).freeze();
        Ok(Some(Frame { kind, id, payload }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            // The writer's task ended inside a frame (its runtime shut down): a hang-up.
            None => Err(ProtocolError {
                message: format!("the socket closed {} bytes into a frame", src.len()),
                hung_up: true,
            }),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        dst.reserve(HEADER + frame.payload.len());
        dst.put_slice(&FrameCodec::header(
            frame.kind,
            frame.id,
            frame.payload.len(),
        ));
        dst.put_slice(&frame.payload);
        Ok(())
    }
}

/// `message` postcard-encoded, with room for `more` bytes after it. Room for a call's head (a
/// URL and a few headers) from the start: growing from nothing took three reallocations per
/// call.
fn encode<T: Serialize>(message: &T, more: usize) -> Vec<u8> {
    postcard::to_extend(message, Vec::with_capacity(HEAD_ROOM + more))
        .expect("our messages always encode")
}

/// The wire's version. The host and its worker must speak the same one: a worker found on
/// `PATH` may come from another release. Raised with any change to a frame kind or to a
/// message's fields (2: [`Kind::Answer`]). It is [`Hello`]'s first field, so that a worker of
/// any version can read it before the rest.
pub(crate) const PROTOCOL: u32 = 2;

/// What to do about a worker of another wire version, wherever the host or the worker finds
/// one.
pub(crate) const SAME_RELEASE_FIX: &str = "Use the apify-transport-worker built with this \
    apify-host (`cargo build --release -p apify-transport-worker` in the same checkout), named \
    by `worker` under [transport] or by APIFY_TRANSPORT_WORKER";

/// The host's first frame: what the worker loads, and how it confines itself first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    /// [`PROTOCOL`] as the host speaks it. First, so a worker of another version reads it.
    pub protocol: u32,
    /// The plugin's path, for messages only: the worker loads the inherited sealed copy and
    /// never opens the path.
    pub path: String,
    /// The sha256 the host computed of the sealed copy; the worker hashes it again.
    pub sha256: String,
    /// `[transport.options]` as JSON.
    pub options: String,
    /// Whether a hosted plugin is lent the worker's runtime.
    pub hosted: bool,
    /// Whether to confine (no_new_privs and Landlock); off only for diagnosis.
    pub confine: bool,
    /// Extra files the transport may read (those named in its options), besides the defaults.
    pub readable: Vec<String>,
    /// The most detailed plugin log level the host shows (`LogLevel`'s number): the worker
    /// forwards messages up to it.
    pub log_level: u8,
    /// How many lanes (sockets besides the first, at fds `LANE_FD`, `LANE_FD + 1`, ...) the
    /// host passed: each is served like the first, for the calls of one caller runtime.
    pub lanes: u8,
    /// The size of each socket's shared ring, 0 for none. The rings follow the lanes, one per
    /// socket, the first socket's first.
    pub ring: u32,
}

/// A message the plugin logged in the worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LogLine {
    /// `LogLevel`'s number.
    pub level: u8,
    pub plugin: String,
    pub text: String,
}

/// The worker's answer to [`Hello`] when the plugin is loaded and its client made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ready {
    pub name: String,
    pub version: String,
    pub description: String,
    pub api_major: u16,
    pub api_minor: u16,
    pub capabilities: u64,
    pub diagnostics: Option<String>,
    /// Each load check the worker ran: name and detail.
    pub checks: Vec<(String, String)>,
    /// Where the client runs in the worker (hosted, driven or on its own threads).
    pub runs: crate::transport::plugin::ClientRuns,
    /// Threads the constructor started.
    pub threads_started: Option<u32>,
    /// What confinement applied, in words.
    pub confinement: String,
}

/// The worker's answer to [`Hello`] when a check or the constructor failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadRefused {
    /// The failed check's name.
    pub check: String,
    /// [`crate::transport::plugin::PluginLoadFailure`] by its `Debug` name.
    pub failure: String,
    pub reason: String,
    pub fix: String,
    /// The checks that passed before it.
    pub passed: Vec<(String, String)>,
}

/// A request's head.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CallHead {
    pub method: String,
    pub url: String,
    pub headers: WireHeaders,
    /// The head deadline, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The caller streams the response body.
    pub stream: bool,
    /// How the request body comes.
    pub body: BodyKind,
    /// No other call was in flight on this socket when the host sent it: the caller waits on
    /// one exchange at a time, and the worker may look for its next event before it sleeps.
    pub alone: bool,
}

/// How a request body follows its head.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum BodyKind {
    /// In `RequestData` frames, then `RequestEnd`, all sent at once: a whole body of this
    /// length (the worker hands the plugin one buffer).
    Full(u64),
    /// In `RequestData` frames as credit allows, then `RequestEnd`: a stream, of this exact
    /// length when known.
    Stream(Option<u64>),
}

/// A response's head.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub headers: WireHeaders,
}

/// A transport error on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireError {
    pub kind: u8,
    pub message: String,
    pub retryable: bool,
}

impl From<&TransportError> for WireError {
    fn from(e: &TransportError) -> Self {
        WireError {
            kind: e.kind.0,
            message: e.message.clone(),
            retryable: e.retryable,
        }
    }
}

impl From<WireError> for TransportError {
    fn from(e: WireError) -> Self {
        TransportError::new(TransportErrorKind(e.kind), e.message).retryable(e.retryable)
    }
}

/// Headers on the wire: name and value pairs, in order (postcard: a length, then each name as
/// a string and each value as bytes).
///
/// Written straight from the `HeaderMap` and read straight into one: a call's head and its
/// answer's cross without a `Vec<(String, Vec<u8>)>` between, whose two allocations per header
/// on each side (and their frees) were the largest share of the framing's CPU per small call.
/// A name or value that is not valid does not decode (the frame is a protocol error): each side
/// only ever sends a `HeaderMap`'s own, so the peer is broken or hostile.
pub(crate) struct WireHeaders(pub http::HeaderMap);

impl std::fmt::Debug for WireHeaders {
    /// The names only: a value may be a secret (`Authorization`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Serialize for WireHeaders {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// One value as bytes (a `&[u8]` would go as a sequence of `u8`s, one call each).
        struct Value<'a>(&'a [u8]);
        impl Serialize for Value<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(self.0)
            }
        }
        use serde::ser::SerializeSeq;
        // `len` counts every value, a repeated name's too: postcard needs the length first.
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            seq.serialize_element(&(name.as_str(), Value(value.as_bytes())))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for WireHeaders {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = WireHeaders;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("header name and value pairs")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<WireHeaders, A::Error> {
                use serde::de::Error;
                // A hostile length must not reserve memory: at most what a frame can hold.
                let mut map = http::HeaderMap::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some((name, value)) = seq.next_element::<(&'de str, &'de [u8])>()? {
                    let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        A::Error::custom(format!("an invalid header name {name:?}"))
                    })?;
                    let value = http::HeaderValue::from_bytes(value).map_err(|_| {
                        A::Error::custom(format!("an invalid value for header {name}"))
                    })?;
                    // `append` panics past `HeaderMap`'s limit (24,576 names), which a hostile
                    // peer reaches in a frame of some 150 KB: a refusal instead.
                    map.try_append(name, value)
                        .map_err(|_| A::Error::custom("more headers than a HeaderMap holds"))?;
                }
                Ok(WireHeaders(map))
            }
        }
        deserializer.deserialize_seq(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_its_payload_is_not_copied() {
        let mut buf = BytesMut::new();
        let chunk = Bytes::from(vec![7u8; 100_000]);
        FrameCodec
            .encode(Frame::raw(Kind::ResponseData, 42, chunk.clone()), &mut buf)
            .unwrap();
        FrameCodec
            .encode(Frame::credit(Kind::ResponseCredit, 42, 4096), &mut buf)
            .unwrap();
        let first = FrameCodec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((first.kind, first.id), (Kind::ResponseData, 42));
        assert_eq!(first.payload, chunk);
        let second = FrameCodec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(second.credit_amount().unwrap(), 4096);
        assert!(FrameCodec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn a_partial_frame_waits_and_a_hostile_length_is_refused() {
        // A frame without payload is its header alone.
        let mut buf = BytesMut::from(&FrameCodec::header(Kind::RequestEnd, 1, 0)[..]);
        let mut part = buf.split_to(7);
        assert!(FrameCodec.decode(&mut part).unwrap().is_none());
        let mut huge = BytesMut::from(&(u32::MAX).to_le_bytes()[..]);
        let e = FrameCodec.decode(&mut huge).unwrap_err();
        assert!(e.message.contains("a frame is 9 to"), "{e}");
        assert!(!e.hung_up(), "a hostile length is a broken rule");
        let mut unknown = BytesMut::from(&FrameCodec::header(Kind::Call, 1, 0)[..]);
        unknown[4] = 99;
        assert!(FrameCodec
            .decode(&mut unknown)
            .unwrap_err()
            .message
            .contains("unknown kind 99"));
    }

    /// A peer that goes away (a reset, or a close inside a frame) is told from one that lies:
    /// the worker ends the socket's calls for the first and exits for the second.
    #[test]
    fn a_hang_up_is_told_from_a_broken_rule() {
        // A frame without payload is its header alone.
        let mut buf = BytesMut::from(&FrameCodec::header(Kind::RequestEnd, 1, 0)[..]);
        let mut whole = buf.clone();
        assert!(FrameCodec.decode_eof(&mut whole).unwrap().is_some());
        assert!(FrameCodec.decode_eof(&mut whole).unwrap().is_none());
        let mut part = buf.split_to(7);
        let e = FrameCodec.decode_eof(&mut part).unwrap_err();
        assert!(e.hung_up(), "{e}");
        assert!(e.message.contains("7 bytes into a frame"), "{e}");
        for (kind, hung_up) in [
            (std::io::ErrorKind::ConnectionReset, true),
            (std::io::ErrorKind::BrokenPipe, true),
            (std::io::ErrorKind::InvalidData, false),
        ] {
            let e = ProtocolError::from(std::io::Error::from(kind));
            assert_eq!(e.hung_up(), hung_up, "{kind:?}");
        }
    }

    #[test]
    fn heads_and_errors_round_trip() {
        let head = CallHead {
            method: "POST".into(),
            url: "http://127.0.0.1:1/v2/x?y=1".into(),
            headers: WireHeaders(
                [
                    (http::header::CONTENT_TYPE, "application/json"),
                    (http::header::HeaderName::from_static("x-apify"), "a"),
                    (http::header::HeaderName::from_static("x-apify"), "b"),
                ]
                .into_iter()
                .map(|(n, v)| (n, http::HeaderValue::from_static(v)))
                .collect(),
            ),
            timeout_ms: Some(30_000),
            stream: false,
            body: BodyKind::Full(12),
            alone: true,
        };
        let f = Frame::message(Kind::Call, 9, &head);
        let back: CallHead = f.decode().unwrap();
        assert_eq!(back.url, head.url);
        assert_eq!(
            back.headers.0, head.headers.0,
            "names, values and repeats, in order"
        );
        assert_eq!(
            format!("{:?}", back.headers),
            r#"["content-type", "x-apify", "x-apify"]"#,
            "Debug shows no value"
        );
        assert!(back.alone);
        assert!(matches!(back.body, BodyKind::Full(12)));
        let e = TransportError::new(TransportErrorKind::TIMEOUT, "slow");
        let wire = WireError::from(&e);
        assert_eq!(TransportError::from(wire), e);
    }

    /// The pairs' bytes are what a `Vec<(String, Vec<u8>)>` gives (so a worker of the previous
    /// build reads them), and a name or value `http` refuses does not decode.
    #[test]
    fn headers_go_as_pairs_and_an_invalid_one_does_not_decode() {
        let pairs = vec![
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("x-apify".to_owned(), b"a".to_vec()),
        ];
        let map: http::HeaderMap = pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(v).unwrap(),
                )
            })
            .collect();
        let bytes = postcard::to_allocvec(&WireHeaders(map)).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&pairs).unwrap());
        // postcard keeps no message of its own for these: the frame's error names the frame.
        for bad in [
            ("bad name".to_owned(), b"v".to_vec()),
            ("x-ok".to_owned(), b"line\nbreak".to_vec()),
        ] {
            let head = Frame::raw(
                Kind::Head,
                3,
                postcard::to_allocvec(&(200u16, vec![bad.clone()]))
                    .unwrap()
                    .into(),
            );
            let e = head.decode::<ResponseHead>().expect_err("refused");
            assert!(
                e.message.contains("a Head frame does not decode"),
                "{bad:?}: {e}"
            );
        }
    }

    /// More distinct names than a `HeaderMap` holds (where `append` panics) are refused, not
    /// a panic of the host's reader.
    #[test]
    fn a_head_with_too_many_headers_is_refused() {
        let pairs: Vec<(String, Vec<u8>)> = (0..30_000)
            .map(|i| (format!("x-{i}"), b"v".to_vec()))
            .collect();
        let head = Frame::raw(
            Kind::Head,
            3,
            postcard::to_allocvec(&(200u16, pairs)).unwrap().into(),
        );
        let e = head.decode::<ResponseHead>().expect_err("refused");
        assert!(e.message.contains("a Head frame does not decode"), "{e}");
    }

    /// A whole answer's head and body come back as they went, and a body past the limit is
    /// refused.
    #[test]
    fn an_answer_carries_its_head_and_body() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        let head = ResponseHead {
            status: 201,
            headers: WireHeaders(headers.clone()),
        };
        for body in [&b""[..], b"{\"data\":{}}"] {
            let frame = Frame::answer(7, &head, body);
            let (back, got) = frame.decode_answer().unwrap();
            assert_eq!(
                (back.status, &back.headers.0, &got[..]),
                (201, &headers, body)
            );
        }
        let big = vec![0u8; MAX_CHUNK + 1];
        let e = Frame::answer(7, &head, &big).decode_answer().unwrap_err();
        assert!(e.message.contains("inline (at most"), "{e}");
    }
}
