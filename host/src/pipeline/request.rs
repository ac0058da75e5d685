//! How a resource client describes one API call.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters escaped in a path segment: everything but unreserved characters (RFC 3986), so a
/// segment can never introduce `/`, `?` or `#`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How many rounds of percent-decoding a segment gets before it is compared with `.` and `..`:
/// each round undoes one layer of encoding a server, proxy or second parser might undo.
const DECODE_ROUNDS: usize = 8;

/// Whether a URL parser or a server would read `segment` as `.` (this folder) or `..` (the
/// parent): plainly, or percent-encoded once or more (`%2e`, `.%2E`, `%252e%252e`, ...). Such a
/// segment is resolved away (`…/records/..` becomes `…/key-value-stores/S/`), so the request
/// would reach another resource than the one named. `a..b` and `.hidden` are ordinary names.
pub(crate) fn is_dot_segment(segment: &str) -> bool {
    let mut s = std::borrow::Cow::Borrowed(segment);
    for _ in 0..DECODE_ROUNDS {
        if s == "." || s == ".." {
            return true;
        }
        let decoded = percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == s {
            return false;
        }
        s = std::borrow::Cow::Owned(decoded);
    }
    s == "." || s == ".."
}

/// The first segment of an encoded `path` (query and fragment excluded) that is a dot segment
/// (see [`is_dot_segment`]). `\` counts as a separator, as URL parsers treat it in `http` URLs.
pub(crate) fn find_dot_segment(path: &str) -> Option<&str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split(['/', '\\']).find(|s| is_dot_segment(s))
}

/// Timeout tier of a call; the attempt k timeout is `min(tier · 2^(k-1), timeout_max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TimeoutTier {
    /// Quick reads (default 5 s).
    Short,
    /// Ordinary calls (default 30 s).
    #[default]
    Medium,
    /// Large transfers (default 360 s).
    Long,
    /// No timeout, for calls that wait server-side on purpose.
    NoTimeout,
    /// An explicit base timeout.
    Custom(std::time::Duration),
}

impl From<std::time::Duration> for TimeoutTier {
    fn from(d: std::time::Duration) -> Self {
        TimeoutTier::Custom(d)
    }
}

/// A query parameter value, encoded as the Python client does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParamValue {
    /// Dropped from the query.
    None,
    /// `true` / `false`.
    Bool(bool),
    /// Decimal integer.
    Int(i64),
    /// Decimal float.
    Float(f64),
    /// As is (percent-encoded on the wire).
    Str(String),
    /// Comma-joined.
    List(Vec<String>),
    /// UTC ISO 8601 with milliseconds and `Z`.
    DateTime(DateTime<Utc>),
}

impl ParamValue {
    /// The encoded value, or `None` when the parameter is dropped.
    pub fn encode(&self) -> Option<String> {
        match self {
            ParamValue::None => None,
            ParamValue::Bool(b) => Some(if *b { "true" } else { "false" }.to_string()),
            ParamValue::Int(i) => Some(i.to_string()),
            ParamValue::Float(f) => Some(f.to_string()),
            ParamValue::Str(s) => Some(s.clone()),
            ParamValue::List(v) => Some(v.join(",")),
            ParamValue::DateTime(d) => Some(d.to_rfc3339_opts(SecondsFormat::Millis, true)),
        }
    }
}

macro_rules! param_from {
    ($($t:ty => $v:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for ParamValue {
            fn from(x: $t) -> Self { ParamValue::$v(x $(as $cast)?) }
        }
    )*};
}
param_from!(bool => Bool, i64 => Int, i32 => Int as i64, u32 => Int as i64, u64 => Int as i64,
    usize => Int as i64, f64 => Float, String => Str, DateTime<Utc> => DateTime, Vec<String> => List);

impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Str(s.to_string())
    }
}

impl From<&String> for ParamValue {
    fn from(s: &String) -> Self {
        ParamValue::Str(s.clone())
    }
}

impl<T: Into<ParamValue>> From<Option<T>> for ParamValue {
    fn from(o: Option<T>) -> Self {
        o.map_or(ParamValue::None, Into::into)
    }
}

/// A request body: JSON or raw bytes, never both.
#[derive(Debug, Clone, Default)]
pub(crate) enum RequestBody {
    /// No body.
    #[default]
    Empty,
    /// Serialized JSON; sent with `Content-Type: application/json`.
    Json(Bytes),
    /// Raw bytes with their content type.
    Raw {
        /// The `Content-Type` to send.
        content_type: String,
        /// The bytes.
        data: Bytes,
    },
    /// A body streamed as it is sent (a file, a reader), with its content type.
    Upload {
        /// The `Content-Type` to send.
        content_type: String,
        /// The source.
        body: super::upload::UploadBody,
    },
}

/// One API call as a value, before the pipeline prepares it: the analog of `reqwest::Request`.
/// Build it with [`ApiRequest::new`] and the builder methods, send it with
/// [`crate::ApifyClient::execute`]; or chain the same methods on
/// [`crate::ApifyClient::request`].
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub(crate) method: Method,
    /// Encoded path below the API base URL, starting with `/` (e.g. `/v2/datasets/abc`).
    pub(crate) path: String,
    /// Query parameters in order; `ParamValue::None` ones are dropped.
    pub(crate) params: Vec<(String, ParamValue)>,
    /// Extra headers; they win over the defaults (case-insensitively).
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: RequestBody,
    /// Timeout tier.
    pub(crate) timeout: TimeoutTier,
    /// The caller streams the response body.
    pub(crate) stream: bool,
    /// Ends the call on demand.
    pub(crate) abort: Option<super::AbortHandle>,
    /// Takes a successful body as it arrives, instead of one buffer (see [`super::BodySink`]).
    pub(crate) sink: Option<super::MakeSink>,
}

impl ApiRequest {
    /// A request for `path`, already encoded (use [`ApiRequest::segment`], [`ApiRequest::id`]
    /// and [`ApiRequest::key`] to build it safely).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        ApiRequest {
            method,
            path: path.into(),
            params: Vec::new(),
            headers: HeaderMap::new(),
            body: RequestBody::Empty,
            timeout: TimeoutTier::default(),
            stream: false,
            abort: None,
            sink: None,
        }
    }

    /// Appends a literal path segment, percent-encoded.
    ///
    /// A segment that is `.` or `..`, plainly or percent-encoded, is refused when the request
    /// is sent, with an invalid-input error and before anything goes out: URL parsers resolve
    /// such a segment, so the request would reach another resource (`…/records/..` is the
    /// store itself).
    pub fn segment(mut self, segment: &str) -> Self {
        self.path.push('/');
        self.path
            .extend(utf8_percent_encode(segment, SEGMENT).map(|s| s.to_string()));
        self
    }

    /// Appends a resource id: `/` becomes `~` (the API's `username/name` form), then encoded.
    /// `.` and `..` are refused as in [`ApiRequest::segment`].
    pub fn id(self, id: &str) -> Self {
        let safe = id.replace('/', "~");
        self.segment(&safe)
    }

    /// Appends a record key, percent-encoded (including any `/`). `.` and `..` are refused as
    /// in [`ApiRequest::segment`].
    pub fn key(self, key: &str) -> Self {
        self.segment(key)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.params.push((name.to_string(), value.into()));
        self
    }

    /// Adds a header, or says which part is not valid in a header.
    pub fn try_header(mut self, name: &str, value: &str) -> Result<Self, crate::Error> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            crate::Error::invalid_input(format!("{name:?} is not a valid header name"))
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            crate::Error::invalid_input(format!(
                "the value of header {name} is not valid in a header"
            ))
        })?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Adds a header; it overrides a default header of the same name.
    ///
    /// # Panics
    /// If `name` or `value` is not a valid header; callers pass constants or checked values.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        let value = HeaderValue::from_str(value).expect("valid header value");
        self.headers.insert(name, value);
        self
    }

    /// Sets a JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Result<Self, crate::Error> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            crate::Error::invalid_input(format!("cannot serialize the body as JSON: {e}"))
                .with_source(e)
        })?;
        self.body = RequestBody::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// Sets an already-serialized JSON body.
    pub fn json_bytes(mut self, bytes: Bytes) -> Self {
        self.body = RequestBody::Json(bytes);
        self
    }

    /// Sets a raw body with its content type.
    pub fn body(mut self, content_type: &str, data: impl Into<Bytes>) -> Self {
        self.body = RequestBody::Raw {
            content_type: content_type.to_string(),
            data: data.into(),
        };
        self
    }

    /// Sets a body streamed as it is sent (a file, a reader), with its content type.
    pub fn upload(mut self, content_type: &str, body: super::upload::UploadBody) -> Self {
        self.body = RequestBody::Upload {
            content_type: content_type.to_string(),
            body,
        };
        self
    }

    /// Attaches an abort handle: [`super::AbortHandle::abort`] ends the call (and its streamed
    /// body) at once, with an error for which [`crate::Error::is_aborted`] is true.
    pub fn abort_handle(mut self, handle: &super::AbortHandle) -> Self {
        self.abort = Some(handle.clone());
        self
    }

    /// Sets the timeout tier.
    pub fn timeout(mut self, tier: TimeoutTier) -> Self {
        self.timeout = tier;
        self
    }

    /// Hands a successful body to a sink `make` builds for each attempt, read inside the retry
    /// loop like a buffered body; the answer carries the sink (`ApiResponse::take_sink`).
    pub(crate) fn sink(mut self, make: super::MakeSink) -> Self {
        self.sink = Some(make);
        self
    }

    /// Marks the response body as streamed by the caller.
    pub fn stream(mut self) -> Self {
        self.stream = true;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The encoded path below the API base URL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string (without `?`), or `None` when empty.
    pub fn query_string(&self) -> Option<String> {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for (k, v) in &self.params {
            if let Some(v) = v.encode() {
                ser.append_pair(k, &v);
                any = true;
            }
        }
        any.then(|| ser.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn params_encode_as_the_api_expects() {
        let dt = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 45).unwrap()
            + chrono::Duration::milliseconds(123);
        assert_eq!(ParamValue::from(true).encode().as_deref(), Some("true"));
        assert_eq!(ParamValue::from(false).encode().as_deref(), Some("false"));
        assert_eq!(ParamValue::from(10u32).encode().as_deref(), Some("10"));
        assert_eq!(ParamValue::from(-3i64).encode().as_deref(), Some("-3"));
        assert_eq!(ParamValue::from(1.5).encode().as_deref(), Some("1.5"));
        assert_eq!(ParamValue::from(None::<bool>).encode(), None);
        assert_eq!(
            ParamValue::from(Some(true)).encode().as_deref(),
            Some("true")
        );
        let list = vec!["id1".to_string(), "id2".to_string(), "id3".to_string()];
        assert_eq!(
            ParamValue::from(list).encode().as_deref(),
            Some("id1,id2,id3")
        );
        assert_eq!(
            ParamValue::from(dt).encode().as_deref(),
            Some("2024-01-15T10:30:45.123Z")
        );
        // Whole seconds still carry milliseconds.
        let whole = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 45).unwrap();
        assert_eq!(
            ParamValue::from(whole).encode().as_deref(),
            Some("2024-01-15T10:30:45.000Z")
        );
    }

    #[test]
    fn query_string_drops_none_and_keeps_order() {
        let req = ApiRequest::new(Method::GET, "/v2/x")
            .query("limit", 10)
            .query("offset", 0)
            .query("empty", None::<String>)
            .query("flag", true)
            .query("tags", vec!["a".to_string(), "b".to_string()])
            .query("name", "a b&c");
        assert_eq!(
            req.query_string().as_deref(),
            Some("limit=10&offset=0&flag=true&tags=a%2Cb&name=a+b%26c")
        );
        let req = ApiRequest::new(Method::GET, "/v2/x").query("empty", None::<String>);
        assert_eq!(req.query_string(), None);
    }

    #[test]
    fn path_segments_ids_and_keys_are_encoded() {
        let req = ApiRequest::new(Method::GET, "/v2/acts")
            .id("john-doe/my-actor")
            .segment("runs")
            .key("a/b c?d#e%.json");
        assert_eq!(
            req.path,
            "/v2/acts/john-doe~my-actor/runs/a%2Fb%20c%3Fd%23e%25.json"
        );
        let req = ApiRequest::new(Method::GET, "").segment("é");
        assert_eq!(req.path, "/%C3%A9");
    }

    #[test]
    fn dot_segments_in_every_spelling() {
        for s in [
            ".",
            "..",
            "%2e",
            "%2E",
            ".%2e",
            "%2e.",
            "%2E%2e",
            "%252e",
            "%25252e%25252E",
        ] {
            assert!(is_dot_segment(s), "{s}");
            // As a key, `%` is encoded once more: still refused.
            let req = ApiRequest::new(Method::PUT, "/v2/key-value-stores/S/records").key(s);
            assert!(find_dot_segment(&req.path).is_some(), "{}", req.path);
        }
        for s in [
            "a..b",
            ".hidden",
            "...",
            "..a",
            "%2e%2e%2e",
            "",
            "%",
            "%zz",
            "a/..",
        ] {
            assert!(!is_dot_segment(s), "{s}");
        }
        // An id `a/..` becomes `a~..`: one segment, not a dot segment.
        let req = ApiRequest::new(Method::GET, "/v2/datasets").id("a/..");
        assert_eq!(find_dot_segment(&req.path), None);
        assert_eq!(find_dot_segment("/v2/x/..?q=.."), Some(".."));
        assert_eq!(find_dot_segment("/v2/x\\..\\y"), Some(".."));
        assert_eq!(find_dot_segment("/v2/x?a=/../"), None);
    }
}
