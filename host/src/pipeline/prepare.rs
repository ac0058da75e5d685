//! Step 1 of the pipeline: turn an [`ApiRequest`] into the bytes every attempt sends.
//!
//! Preparation runs once per call, before the retry loop, so every attempt re-sends exactly
//! the same URL, headers and (already compressed) body, and retries cost no CPU.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};

use super::request::{ApiRequest, RequestBody};
use super::upload::UploadBody;
use crate::{error::Error, token::Token};

/// Bodies smaller than this are sent as they are: gzip's header and CPU cost outweigh the gain.
pub const MIN_COMPRESSION_SIZE: usize = 1024;

/// Above this size the gzip work moves to tokio's blocking pool, so compressing a large upload
/// does not stall the other tasks of the caller's runtime. Below it the hop costs more than
/// the compression.
const COMPRESS_OFF_THREAD_SIZE: usize = 256 * 1024;

/// Gzip must save at least this share of a body for the compressed form to be sent: random or
/// already-compressed bytes barely shrink, and compressing them was most of an upload's time
/// (the main job's 256 MiB random record spent ~3 s in gzip for nothing).
const MIN_SAVING: f64 = 0.10;

/// Bodies at least this large are judged by a sample before the whole is compressed, so a
/// body that will not shrink costs the compression of the sample only.
const SAMPLE_ABOVE: usize = 256 * 1024;

/// The sample: this many bytes each from the start, the middle and the end of the body.
const SAMPLE_PART: usize = 32 * 1024;

/// Media types under an "already compressed" prefix that are raw in fact, so gzip still pays
/// off (the Python client's `COMPRESSIBLE_MEDIA_TYPES`).
const COMPRESSIBLE_MEDIA_TYPES: &[&str] = &[
    "audio/aiff",
    "audio/basic",
    "audio/l16",
    "audio/vnd.wave",
    "audio/wav",
    "audio/wave",
    "audio/x-aiff",
    "audio/x-wav",
    "image/bmp",
    "image/tiff",
    "image/vnd.adobe.photoshop",
    "image/vnd.microsoft.icon",
    "image/x-icon",
    "image/x-ms-bmp",
];

/// Structured-syntax suffixes that mark a media type as text even under an already-compressed
/// prefix (`image/svg+xml`).
const COMPRESSIBLE_MEDIA_TYPE_SUFFIXES: &[&str] = &["+json", "+xml"];

/// Prefixes whose payloads carry their own compression.
const ALREADY_COMPRESSED_PREFIXES: &[&str] = &["audio/", "image/", "video/"];

/// Exact media types whose payloads carry their own compression (archives, office documents,
/// web fonts), as the Python client lists them.
const ALREADY_COMPRESSED_MEDIA_TYPES: &[&str] = &[
    "application/epub+zip",
    "application/gzip",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.rar",
    "application/x-7z-compressed",
    "application/x-bzip",
    "application/x-bzip2",
    "application/x-gzip",
    "application/x-rar-compressed",
    "application/x-xz",
    "application/x-zip-compressed",
    "application/zip",
    "application/zstd",
    "font/woff",
    "font/woff2",
];

/// Whether a request body of this `Content-Type` is worth gzipping, by the Python client's rule:
/// no content type → yes; raw types and `+json`/`+xml` → yes; images, audio, video, archives →
/// no; anything else (text, JSON, `application/octet-stream`, ...) → yes.
pub fn is_compressible_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    // Case-insensitive, and parameters such as `; charset=utf-8` do not matter.
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type.is_empty() {
        return true;
    }
    if COMPRESSIBLE_MEDIA_TYPES.contains(&media_type.as_str())
        || COMPRESSIBLE_MEDIA_TYPE_SUFFIXES
            .iter()
            .any(|s| media_type.ends_with(s))
    {
        return true;
    }
    !(ALREADY_COMPRESSED_MEDIA_TYPES.contains(&media_type.as_str())
        || ALREADY_COMPRESSED_PREFIXES
            .iter()
            .any(|p| media_type.starts_with(p)))
}

/// Whether the pipeline gzips this body: compression enabled, at least
/// [`MIN_COMPRESSION_SIZE`] bytes, no `Content-Encoding` yet (a caller-supplied one means the
/// body is already encoded, `identity` included), and a compressible content type.
pub fn should_compress(enabled: bool, headers: &HeaderMap, body_len: usize) -> bool {
    if !enabled || body_len < MIN_COMPRESSION_SIZE || headers.contains_key(header::CONTENT_ENCODING)
    {
        return false;
    }
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        // A content type we cannot read is not one we can judge: leave the body alone.
        Some(v) => v
            .to_str()
            .is_ok_and(|ct| is_compressible_content_type(Some(ct))),
    }
}

/// Gzips `data` at the fastest level.
///
/// Level 1 instead of the default 6: on the main job's 256 MiB record it cuts the upload from
/// ~9.5 s to ~4 s (random bytes, which hardly compress at any level), while JSON still shrinks
/// several-fold; the CPU spent compressing is the client's bottleneck, not the bytes sent.
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// The `User-Agent` the Apify clients send:
/// `ApifyClient/{version} ({os}; Rust/{rustc}); isAtHome/{true|false}`.
pub fn user_agent(is_at_home: bool) -> String {
    format!(
        "ApifyClient/{} ({}; Rust/{}); isAtHome/{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        crate::RUSTC_VERSION,
        is_at_home
    )
}

/// The headers every request carries; a request's own headers override them.
///
/// Reads `APIFY_IS_AT_HOME` (set at all → `isAtHome/true`, as the Python client reads it) and
/// `APIFY_WORKFLOW_KEY` (sent as `X-Apify-Workflow-Key`) when called, i.e. once per client.
pub fn default_headers(token: Option<&Token>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, */*"),
    );
    let at_home = std::env::var_os("APIFY_IS_AT_HOME").is_some();
    if let Ok(v) = HeaderValue::from_str(&user_agent(at_home)) {
        h.insert(header::USER_AGENT, v);
    }
    if let Some(t) = token {
        if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", t.expose())) {
            // Sensitive values print as `Sensitive` in `Debug` output and are never indexed
            // by HTTP/2 header compression.
            v.set_sensitive(true);
            h.insert(header::AUTHORIZATION, v);
        }
    }
    if let Some(key) = std::env::var_os("APIFY_WORKFLOW_KEY") {
        if let Some(v) = key.to_str().and_then(|k| HeaderValue::from_str(k).ok()) {
            h.insert("x-apify-workflow-key", v);
        }
    }
    h
}

/// Merges `overrides` into `base`: a name present in `overrides` replaces every value of that
/// name in `base`. Names are case-insensitive by construction (`HeaderName` is lowercase), so
/// `authorization` replaces `Authorization`. Repeated override values are all kept.
pub fn merge_headers(base: &mut HeaderMap, overrides: &HeaderMap) {
    for name in overrides.keys() {
        base.remove(name);
    }
    for (name, value) in overrides {
        base.append(name.clone(), value.clone());
    }
}

/// One call, ready to send: what every attempt sends, prepared once.
#[derive(Clone)]
pub struct PreparedRequest {
    /// The method.
    pub method: Method,
    /// Absolute URL with the query string (may carry secrets: never log it).
    pub url: String,
    /// The merged headers, `Content-Encoding: gzip` included when the body was compressed.
    pub headers: HeaderMap,
    /// The body as sent (compressed, if it was).
    pub body: PreparedBody,
    /// The caller streams the response body.
    pub stream: bool,
}

impl PreparedRequest {
    /// Whether the body can be sent again (everything but a one-time stream such as stdin).
    pub fn is_replayable(&self) -> bool {
        match &self.body {
            PreparedBody::Upload { body, .. } => body.is_replayable(),
            PreparedBody::Bytes(_) => true,
        }
    }
}

impl std::fmt::Debug for PreparedRequest {
    // No URL (its query may hold a token) and no header values (Authorization).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// The body every attempt sends.
#[derive(Clone, Debug)]
pub enum PreparedBody {
    /// In memory, compressed once if that paid.
    Bytes(Bytes),
    /// Read as it is sent, each attempt anew; `gzip`: compressed on the fly.
    Upload {
        /// The source.
        body: UploadBody,
        /// Whether the sample said gzip pays.
        gzip: bool,
    },
}

#[cfg(test)]
impl PreparedBody {
    /// The bytes of a buffered body (tests only).
    fn bytes(&self) -> &[u8] {
        match self {
            PreparedBody::Bytes(b) => b,
            PreparedBody::Upload { .. } => panic!("an upload has no bytes in memory"),
        }
    }
}

/// Builds what every attempt of `req` sends: URL with the encoded query, default headers merged
/// with the request's own (the request wins), the body with its content type, gzipped once
/// when [`should_compress`] says so.
pub async fn prepare(
    req: &ApiRequest,
    base_url: &str,
    default_headers: &HeaderMap,
    compress: bool,
) -> Result<PreparedRequest, Error> {
    // Here, not in `ApiRequest::segment`: resource clients build their paths from segments too,
    // and raw paths come whole, and every one of them passes here before anything is sent.
    if let Some(segment) = super::request::find_dot_segment(&req.path) {
        return Err(Error::invalid_input(format!(
            "the path {} has the segment {segment:?}, which URL parsers resolve as `.` or `..`, \
             so the request would reach another resource; an id, key or name cannot be `.` or \
             `..` (in any percent-encoded spelling)",
            req.path
        )));
    }
    let mut url = format!("{base_url}{}", req.path);
    if let Some(q) = req.query_string() {
        url.push('?');
        url.push_str(&q);
    }

    let mut headers = default_headers.clone();
    let mut upload = None;
    let body = match &req.body {
        RequestBody::Empty => Bytes::new(),
        RequestBody::Upload { content_type, body } => {
            headers.insert(header::CONTENT_TYPE, content_type_value(content_type)?);
            match body.as_bytes() {
                // In memory after all: sent like any buffered body.
                Some(bytes) => bytes.clone(),
                None => {
                    upload = Some(body.clone());
                    Bytes::new()
                }
            }
        }
        RequestBody::Json(b) => {
            // A caller-supplied content type (e.g. with a charset) is kept: inserted here,
            // it is replaced by the merge below.
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            b.clone()
        }
        RequestBody::Raw { content_type, data } => {
            headers.insert(header::CONTENT_TYPE, content_type_value(content_type)?);
            data.clone()
        }
    };
    merge_headers(&mut headers, &req.headers);
    // Whoever set it (default or caller), an Authorization value stays out of Debug output.
    if let http::header::Entry::Occupied(mut e) = headers.entry(header::AUTHORIZATION) {
        for v in e.iter_mut() {
            v.set_sensitive(true);
        }
    }

    if let Some(body) = upload {
        let size = body
            .len()
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let gzip = should_compress(compress, &headers, size) && {
            let sample = body.sample(SAMPLE_PART).await?;
            sample.len() < MIN_COMPRESSION_SIZE
                || tokio::task::spawn_blocking(move || {
                    gzip(&sample).is_ok_and(|gz| saves_enough(sample.len(), gz.len()))
                })
                .await
                .unwrap_or(false)
        };
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        } else if let Some(n) = body.len() {
            // Transports that frame by the headers (the reqwest plugin) need it for a stream.
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        return Ok(PreparedRequest {
            method: req.method.clone(),
            url,
            headers,
            body: PreparedBody::Upload { body, gzip },
            stream: req.stream,
        });
    }

    let body = if should_compress(compress, &headers, body.len()) {
        match compress_body(body.clone()).await {
            Some(gz) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                gz
            }
            // Not worth it (the body barely shrinks), or gzip failed (it does not, in memory):
            // the body goes as it is, unlabelled, which is always correct.
            None => body,
        }
    } else {
        body
    };

    Ok(PreparedRequest {
        method: req.method.clone(),
        url,
        headers,
        body: PreparedBody::Bytes(body),
        stream: req.stream,
    })
}

fn content_type_value(content_type: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(content_type).map_err(|_| {
        Error::invalid_input(format!(
            "the content type {content_type:?} is not a valid header value"
        ))
    })
}

/// Whether `compressed` bytes save at least [`MIN_SAVING`] of `original` bytes.
fn saves_enough(original: usize, compressed: usize) -> bool {
    (compressed as f64) <= (original as f64) * (1.0 - MIN_SAVING)
}

/// The gzip of `body` when it is worth sending: a large body is judged first by the gzip of a
/// sample (its start, middle and end), then the whole must save enough too. `None`: send the
/// body as it is.
pub fn gzip_if_worth_it(body: &[u8]) -> Option<Vec<u8>> {
    if body.len() >= SAMPLE_ABOVE {
        let mid = body.len() / 2 - SAMPLE_PART / 2;
        let end = body.len() - SAMPLE_PART;
        let sample = [
            &body[..SAMPLE_PART],
            &body[mid..mid + SAMPLE_PART],
            &body[end..],
        ]
        .concat();
        if !saves_enough(sample.len(), gzip(&sample).ok()?.len()) {
            return None;
        }
    }
    let gz = gzip(body).ok()?;
    saves_enough(body.len(), gz.len()).then_some(gz)
}

/// Gzips `body` when that is worth it (see [`gzip_if_worth_it`]), on the blocking pool when
/// it is large.
async fn compress_body(body: Bytes) -> Option<Bytes> {
    if body.len() < COMPRESS_OFF_THREAD_SIZE {
        return gzip_if_worth_it(&body).map(Bytes::from);
    }
    tokio::task::spawn_blocking(move || gzip_if_worth_it(&body).map(Bytes::from))
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Bytes that do not compress (xorshift), reproducibly.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn gzip_is_kept_only_when_it_saves_enough() {
        // Text shrinks: compressed, and it round-trips.
        let json = br#"{"url":"https://example.com/page","title":"A page"},"#.repeat(20_000);
        let gz = gzip_if_worth_it(&json).expect("JSON is worth compressing");
        assert!(gz.len() < json.len() / 5);
        assert_eq!(gunzip(&gz), json);
        // Noise does not, whether judged whole (small) or by its sample (large).
        assert!(gzip_if_worth_it(&noise(4096)).is_none());
        assert!(gzip_if_worth_it(&noise(SAMPLE_ABOVE * 8)).is_none());
        // A large body whose sample shrinks but whose whole does not is judged by the whole:
        // text at the three sample places, noise everywhere else.
        let mut mixed = noise(SAMPLE_ABOVE * 8);
        let n = mixed.len();
        for range in [
            0..SAMPLE_PART,
            n / 2 - SAMPLE_PART / 2..n / 2 + SAMPLE_PART / 2,
            n - SAMPLE_PART..n,
        ] {
            mixed[range].fill(b'x');
        }
        assert!(gzip_if_worth_it(&mixed).is_none());
        // The threshold: 10 % saved is enough, less is not.
        assert!(saves_enough(1000, 900));
        assert!(!saves_enough(1000, 901));
    }

    #[test]
    fn compressible_content_types() {
        for ct in [
            None,
            Some(""),
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("application/octet-stream"),
            Some("application/ld+json"),
            Some("image/svg+xml"),
            Some("IMAGE/SVG+XML"),
            Some("image/bmp"),
            Some("audio/wav"),
            Some("application/xml"),
        ] {
            assert!(is_compressible_content_type(ct), "{ct:?}");
        }
        for ct in [
            "image/png",
            "image/jpeg; q=1",
            "Image/PNG",
            "video/mp4",
            "audio/mpeg",
            "application/zip",
            "application/gzip",
            "application/x-7z-compressed",
            "application/zstd",
            "application/epub+zip",
            "font/woff2",
        ] {
            assert!(!is_compressible_content_type(Some(ct)), "{ct}");
        }
    }

    #[test]
    fn compression_threshold_and_existing_encoding() {
        let mut h = HeaderMap::new();
        assert!(!should_compress(true, &h, MIN_COMPRESSION_SIZE - 1));
        assert!(should_compress(true, &h, MIN_COMPRESSION_SIZE));
        assert!(!should_compress(false, &h, MIN_COMPRESSION_SIZE));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert!(!should_compress(true, &h, 1 << 20));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
        assert!(should_compress(true, &h, 1 << 20));
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!should_compress(true, &h, 1 << 20));
    }

    #[test]
    fn gzip_round_trips() {
        let data = b"hello world ".repeat(200);
        let gz = gzip(&data).unwrap();
        assert!(gz.len() < data.len());
        assert_eq!(gunzip(&gz), data);
    }

    #[test]
    fn merge_is_case_insensitive_and_override_wins() {
        let mut base = HeaderMap::new();
        base.insert("Authorization", HeaderValue::from_static("Bearer x"));
        base.insert("Accept", HeaderValue::from_static("a"));
        let mut over = HeaderMap::new();
        over.insert("AUTHORIZATION", HeaderValue::from_static("Bearer y"));
        over.append("x-multi", HeaderValue::from_static("1"));
        over.append("x-multi", HeaderValue::from_static("2"));
        merge_headers(&mut base, &over);
        let auth: Vec<_> = base.get_all("authorization").iter().collect();
        assert_eq!(auth, ["Bearer y"]);
        assert_eq!(base["accept"], "a");
        assert_eq!(base.get_all("x-multi").iter().count(), 2);
    }

    #[test]
    fn user_agent_format() {
        let ua = user_agent(true);
        let rest = ua.strip_prefix("ApifyClient/").unwrap();
        assert!(rest.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(ua.contains(&format!("({}; Rust/", std::env::consts::OS)));
        assert!(ua.ends_with("); isAtHome/true"), "{ua}");
        assert!(user_agent(false).ends_with("); isAtHome/false"));
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn prepare_compresses_json_once_and_keeps_caller_content_type() {
        let big = serde_json::json!({ "k": "x".repeat(2000) });
        let req = ApiRequest::new(Method::POST, "/v2/x")
            .query("a", true)
            .query("b", None::<String>)
            .json(&big)
            .unwrap();
        let p = run(prepare(&req, "http://h", &HeaderMap::new(), true)).unwrap();
        assert_eq!(p.url, "http://h/v2/x?a=true");
        assert_eq!(p.headers["content-encoding"], "gzip");
        assert_eq!(p.headers["content-type"], "application/json");
        let back: serde_json::Value = serde_json::from_slice(&gunzip(p.body.bytes())).unwrap();
        assert_eq!(back, big);

        let req = ApiRequest::new(Method::POST, "/v2/x")
            .header("Content-Type", "application/json; charset=utf-8")
            .json(&serde_json::json!({"a": 1}))
            .unwrap();
        let p = run(prepare(&req, "http://h", &HeaderMap::new(), true)).unwrap();
        assert_eq!(p.headers["content-type"], "application/json; charset=utf-8");
        assert!(!p.headers.contains_key("content-encoding"));
        assert_eq!(p.body.bytes(), br#"{"a":1}"#);
    }

    #[test]
    fn prepare_keeps_a_caller_encoding_and_skips_images() {
        let data = vec![7u8; 4096];
        let req = ApiRequest::new(Method::PUT, "/r")
            .header("content-encoding", "br")
            .body("text/plain", data.clone());
        let p = run(prepare(&req, "http://h", &HeaderMap::new(), true)).unwrap();
        assert_eq!(p.headers["content-encoding"], "br");
        assert_eq!(p.body.bytes(), &data[..]);

        let req = ApiRequest::new(Method::PUT, "/r").body("image/png", data.clone());
        let p = run(prepare(&req, "http://h", &HeaderMap::new(), true)).unwrap();
        assert!(!p.headers.contains_key("content-encoding"));
        assert_eq!(p.body.bytes(), &data[..]);

        // Large enough to be compressed off the runtime thread.
        let big = vec![b'a'; COMPRESS_OFF_THREAD_SIZE + 1];
        let req = ApiRequest::new(Method::PUT, "/r").body("text/plain", big.clone());
        let p = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(prepare(&req, "http://h", &HeaderMap::new(), true))
            .unwrap();
        assert_eq!(p.headers["content-encoding"], "gzip");
        assert_eq!(gunzip(p.body.bytes()), big);
    }

    #[test]
    fn prepare_refuses_dot_segments() {
        for key in [".", "..", "%2e", ".%2E"] {
            let req = ApiRequest::new(Method::PUT, "/v2/key-value-stores/S/records").key(key);
            let e = run(prepare(&req, "http://h", &HeaderMap::new(), true)).unwrap_err();
            assert!(e.is_invalid_input(), "{e}");
        }
        let req = ApiRequest::new(Method::DELETE, "/v2/key-value-stores").id("..");
        assert!(run(prepare(&req, "http://h", &HeaderMap::new(), true)).is_err());
        let req = ApiRequest::new(Method::GET, "/v2/x/%2e%2e/y");
        assert!(run(prepare(&req, "http://h", &HeaderMap::new(), true)).is_err());
        for key in ["a..b", ".hidden", "..."] {
            let req = ApiRequest::new(Method::PUT, "/v2/key-value-stores/S/records").key(key);
            assert!(run(prepare(&req, "http://h", &HeaderMap::new(), true)).is_ok());
        }
    }

    #[test]
    fn prepare_rejects_a_bad_content_type_and_hides_authorization() {
        let req = ApiRequest::new(Method::PUT, "/r").body("bad\nvalue", vec![1]);
        let r = run(prepare(&req, "http://h", &HeaderMap::new(), true));
        assert!(r.is_err_and(|e| e.is_invalid_input()));
        let req =
            ApiRequest::new(Method::GET, "/r").header("Authorization", "Bearer custom-secret");
        let p = run(prepare(&req, "http://h", &default_headers(None), true)).unwrap();
        assert_eq!(p.headers["authorization"], "Bearer custom-secret");
        assert!(!format!("{p:?} {:?}", p.headers).contains("custom-secret"));
    }
}
