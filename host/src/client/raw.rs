//! Raw calls: [`RequestBuilder`], for endpoints no resource client covers yet (and for
//! `apify-host api`). They take the same pipeline as every resource client.

use bytes::Bytes;
use http::Method;

use super::ApifyClient;
use crate::{
    pipeline::{ApiRequest, ApiResponse, ParamValue, TimeoutTier},
    Error,
};

/// A raw API call being built, like `reqwest::RequestBuilder`: set the query, headers, body and
/// timeout, then [`RequestBuilder::send`]. A value that cannot be sent (an invalid header, a
/// body that does not serialize) is reported by `send`, before anything goes out.
#[must_use = "a request is only sent by `send`"]
#[derive(Debug)]
pub struct RequestBuilder {
    client: ApifyClient,
    request: Result<ApiRequest, Error>,
}

impl RequestBuilder {
    pub(super) fn new(client: ApifyClient, method: Method, path: &str) -> Self {
        RequestBuilder {
            client,
            request: Ok(ApiRequest::new(method, path)),
        }
    }

    fn map(mut self, f: impl FnOnce(ApiRequest) -> Result<ApiRequest, Error>) -> Self {
        self.request = self.request.and_then(f);
        self
    }

    /// Appends a path segment, percent-encoded (it can never add `/`, `?` or `#`).
    pub fn segment(self, segment: &str) -> Self {
        self.map(|r| Ok(r.segment(segment)))
    }

    /// Appends a resource id: `/` becomes `~` (the API's `username/name` form), then encoded.
    pub fn id(self, id: &str) -> Self {
        self.map(|r| Ok(r.id(id)))
    }

    /// Appends a record key, percent-encoded (including any `/`).
    pub fn key(self, key: &str) -> Self {
        self.map(|r| Ok(r.key(key)))
    }

    /// Adds a query parameter, encoded as the Python client does (`None` dropped, bools as
    /// `true`/`false`, lists comma-joined, datetimes as UTC ISO with milliseconds).
    pub fn query(self, name: &str, value: impl Into<ParamValue>) -> Self {
        let value = value.into();
        self.map(|r| Ok(r.query(name, value)))
    }

    /// Adds a header; it wins over a default header of the same name (case-insensitively).
    pub fn header(self, name: &str, value: &str) -> Self {
        self.map(|r| r.try_header(name, value))
    }

    /// Sets a JSON body (`Content-Type: application/json`).
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
            Error::invalid_input(format!("cannot serialize the body as JSON: {e}")).with_source(e)
        });
        self.map(|r| Ok(r.json_bytes(body?)))
    }

    /// Sets an already-serialized JSON body.
    pub fn json_bytes(self, json: impl Into<Bytes>) -> Self {
        let json = json.into();
        self.map(|r| Ok(r.json_bytes(json)))
    }

    /// Sets a raw body with its content type.
    pub fn body(self, content_type: &str, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        self.map(|r| Ok(r.body(content_type, data)))
    }

    /// Sets the timeout of the first attempt: a tier of the client's settings, or a
    /// `Duration`. It doubles per attempt up to the settings' `timeout_max`.
    pub fn timeout(self, timeout: impl Into<TimeoutTier>) -> Self {
        let timeout = timeout.into();
        self.map(|r| Ok(r.timeout(timeout)))
    }

    /// Attaches an abort handle: aborting it ends the call and its streamed body at once
    /// ([`crate::Error::is_aborted`]).
    pub fn abort_handle(self, handle: &crate::pipeline::AbortHandle) -> Self {
        let handle = handle.clone();
        self.map(move |r| Ok(r.abort_handle(&handle)))
    }

    /// Hands the response body over as it arrives ([`ApiResponse::into_stream`]) instead of
    /// reading it whole inside the retry loop.
    pub fn stream(self) -> Self {
        self.map(|r| Ok(r.stream()))
    }

    /// The request as a value, e.g. to send it later with [`ApifyClient::execute`].
    pub fn build(self) -> Result<ApiRequest, Error> {
        self.request
    }

    /// Sends the call and returns its 2xx response, or the error of its last attempt.
    pub async fn send(self) -> Result<ApiResponse, Error> {
        self.client.execute(self.request?).await
    }
}
