//! What the cases share: requests, reading bodies, the echo route, and failing with a sentence.

use std::time::Duration;

use apify_host::transport::{
    HttpTransport, TransportError, TransportRequest as Request, TransportResponse as Response,
};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};

use crate::Verdict;

/// Fails the case with a sentence when `cond` does not hold.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err($crate::Verdict::Fail(format!($($why)+)));
        }
    };
}
pub(crate) use ensure;

/// A failure verdict.
pub(crate) fn fail(why: impl Into<String>) -> Verdict {
    Verdict::Fail(why.into())
}

/// A request with no headers and no body, and a 30 s head deadline.
pub(crate) fn request(method: Method, url: String) -> Request {
    Request {
        method,
        url,
        headers: HeaderMap::new(),
        body: Bytes::new().into(),
        timeout: Some(Duration::from_secs(30)),
        stream: false,
    }
}

/// Calls, and fails the case (naming `what`) on a transport error.
pub(crate) async fn call(
    t: &dyn HttpTransport,
    req: Request,
    what: &str,
) -> Result<Response, Verdict> {
    t.call(req)
        .await
        .map_err(|e| fail(format!("{what}: the call failed: {e}")))
}

/// The whole body.
pub(crate) async fn read_all(resp: Response) -> Result<Vec<u8>, TransportError> {
    let mut body = resp.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// What the testkit's `/echo` route saw: status, response headers, and its JSON report.
pub(crate) async fn echo(
    t: &dyn HttpTransport,
    req: Request,
    what: &str,
) -> Result<(u16, HeaderMap, serde_json::Value), Verdict> {
    let resp = call(t, req, what).await?;
    let status = resp.status.as_u16();
    let headers = resp.headers.clone();
    let body = read_all(resp)
        .await
        .map_err(|e| fail(format!("{what}: reading the body failed: {e}")))?;
    let json = serde_json::from_slice(&body)
        .map_err(|e| fail(format!("{what}: the echo body is not the JSON sent: {e}")))?;
    Ok((status, headers, json))
}

/// The first value of header `name` in an echo report.
pub(crate) fn echoed_header<'a>(echoed: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echoed_headers(echoed)
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every header of an echo report, in order.
pub(crate) fn echoed_headers(
    echoed: &serde_json::Value,
) -> impl Iterator<Item = (&str, &str)> + '_ {
    echoed["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h[0].as_str()?, h[1].as_str()?)))
}
