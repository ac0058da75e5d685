//! Streamed `GET` bodies that survive a broken connection.
//!
//! A download of gigabytes cannot be read whole inside the retry loop, so a reset halfway would
//! otherwise be fatal. When the body breaks with a transient error (a reset, a truncation, a
//! silence past `stream_idle_timeout`), the stream asks again for the rest,
//! `Range: bytes=N-` (with `If-Range` when the first answer had a strong `ETag`, so a record
//! that changed meanwhile is never spliced), and accepts only a `206` whose `Content-Range`
//! starts at `N` and has the same total. While nothing has been delivered yet it simply asks
//! again from the start. Otherwise, or after `max_resumes` resumes, the stream ends with the
//! break's error, saying how many bytes were delivered before it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, StatusCode};

use super::{retry, Pipeline};
use crate::{
    error::TransportFailure,
    pipeline::{ApiRequest, ApiResponse, ByteStream},
    Error,
};

/// Wraps `first`, the response to `req`, in a body stream that resumes after a break.
pub(super) fn resuming(
    pipeline: Arc<Pipeline>,
    req: ApiRequest,
    first: ApiResponse,
) -> ApiResponse {
    let status = first.status;
    let headers = first.headers.clone();
    let total = total_length(status, &headers);
    let etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|e| !e.starts_with("W/"))
        .map(str::to_string);
    let state = Resume {
        resumes_left: pipeline.settings().max_resumes,
        pipeline,
        req,
        body: first.into_stream(),
        delivered: 0,
        total,
        etag,
        resumes: 0,
        done: false,
    };
    let body = futures_util::stream::unfold(state, |mut st| async move {
        let item = st.next_chunk().await?;
        Some((item, st))
    });
    ApiResponse::new(status, headers, ByteStream::from_stream(body))
}

/// The full body's length: `Content-Length` of a 200, the total of a 206's `Content-Range`.
fn total_length(status: StatusCode, headers: &HeaderMap) -> Option<u64> {
    if status == StatusCode::PARTIAL_CONTENT {
        return content_range(headers).and_then(|(_, total)| total);
    }
    super::content_length(headers)
}

/// `Content-Range: bytes START-END/TOTAL` → `(START, TOTAL)` (`TOTAL` may be `*`).
pub(crate) fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?.trim();
    let rest = v.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

struct Resume {
    pipeline: Arc<Pipeline>,
    req: ApiRequest,
    body: ByteStream,
    /// Bytes handed to the consumer so far.
    delivered: u64,
    total: Option<u64>,
    etag: Option<String>,
    resumes_left: u32,
    resumes: u32,
    done: bool,
}

impl Resume {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, Error>> {
        loop {
            if self.done {
                return None;
            }
            let broke = match self.body.next().await {
                Some(Ok(chunk)) => {
                    self.delivered += chunk.len() as u64;
                    return Some(Ok(chunk));
                }
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => e,
            };
            let transient = broke
                .transport_failure()
                .is_some_and(TransportFailure::is_transient);
            if !transient || self.resumes_left == 0 {
                self.done = true;
                let why = if transient {
                    format!("{} resume(s) were tried (max_resumes)", self.resumes)
                } else {
                    "the error is not transient".to_string()
                };
                return Some(Err(self.annotate(broke, &why)));
            }
            self.resumes_left -= 1;
            self.resumes += 1;
            let delay = retry::delay_before_retry(
                self.pipeline.settings(),
                retry::random_backoff(
                    self.pipeline.settings().min_delay_between_retries,
                    self.resumes,
                ),
                None,
            );
            tracing::debug!(
                method = %self.req.method,
                path = %self.req.path,
                delivered = self.delivered,
                resume = self.resumes,
                delay_ms = delay.as_millis() as u64,
                "resuming a broken body"
            );
            tokio::time::sleep(delay).await;
            let reopened = reopen(
                self.pipeline.clone(),
                self.req.clone(),
                self.delivered,
                self.total,
                self.etag.clone(),
            );
            match reopened.await {
                Ok(body) => self.body = body,
                Err(why) => {
                    self.done = true;
                    return Some(Err(self.annotate(broke, &why)));
                }
            }
        }
    }

    /// The break's error, saying how much was delivered and why it was not resumed.
    fn annotate(&self, broke: Error, why: &str) -> Error {
        let Some(failure) = broke.transport_failure() else {
            return broke;
        };
        let mut failure = failure.clone();
        let of = match self.total {
            Some(t) => format!(" of {t}"),
            None => String::new(),
        };
        failure.message = format!(
            "{}; the body broke after {}{of} bytes had been delivered and could not be \
             resumed: {why}",
            failure.message, self.delivered
        );
        Error::from(failure)
    }
}

/// Asks for the rest of the body; `Err` says why it cannot be resumed.
async fn reopen(
    pipeline: Arc<Pipeline>,
    mut req: ApiRequest,
    delivered: u64,
    total: Option<u64>,
    etag: Option<String>,
) -> Result<ByteStream, String> {
    if delivered > 0 {
        req = req.header("range", &format!("bytes={}-", delivered));
        if let Some(etag) = &etag {
            req = req.header("if-range", etag);
        }
    }
    let resp = pipeline
        .call_once(&req)
        .await
        .map_err(|e| format!("asking for the rest failed: {e}"))?;
    if delivered == 0 {
        // Nothing was delivered: a fresh answer from the start is as good as the first.
        return match resp.status {
            StatusCode::OK => Ok(resp.into_stream()),
            s => Err(format!("asking again from the start answered {s}")),
        };
    }
    match resp.status {
        StatusCode::PARTIAL_CONTENT => match content_range(&resp.headers) {
            Some((start, their_total))
                if start == delivered
                    && (total.is_none() || their_total.is_none() || their_total == total) =>
            {
                Ok(resp.into_stream())
            }
            _ => Err(format!(
                "the server answered bytes={}- with Content-Range {:?}",
                delivered,
                resp.header("content-range").unwrap_or("(none)")
            )),
        },
        StatusCode::OK => Err(
            "the server does not support resuming (it answered 200 to a Range request), or \
             the body changed meanwhile"
                .to_string(),
        ),
        s => Err(format!("the Range request answered {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn content_ranges() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::CONTENT_RANGE, HeaderValue::from_static(v));
            m
        };
        assert_eq!(content_range(&h("bytes 10-99/100")), Some((10, Some(100))));
        assert_eq!(content_range(&h("bytes 0-0/*")), Some((0, None)));
        assert_eq!(content_range(&h("bytes 5-4/100")), None);
        assert_eq!(content_range(&h("bytes */100")), None);
        assert_eq!(content_range(&h("items 1-2/3")), None);
        assert_eq!(content_range(&HeaderMap::new()), None);
        assert_eq!(
            total_length(StatusCode::PARTIAL_CONTENT, &h("bytes 1-2/3")),
            Some(3)
        );
    }
}
