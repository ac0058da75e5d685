//! The log of an Actor run or build: `/v2/logs/{buildOrRunId}`.

use bytes::Bytes;
use http::Method;

use super::{ResourceClient, StreamedBody};
use std::sync::Arc;

use crate::{
    error::not_found_as_none,
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// A client for one log.
#[derive(Clone, Debug)]
pub struct LogClient {
    pub(super) res: ResourceClient,
}

impl LogClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        LogClient {
            res: ResourceClient::item(pipeline, "logs", id),
        }
    }

    /// The log as text, or `None` if there is no such run or build. `raw` keeps formatting
    /// such as colour escape sequences.
    pub async fn get(&self, raw: bool) -> Result<Option<String>, Error> {
        Ok(self
            .get_as_bytes(raw)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The log as bytes, or `None` if there is no such run or build.
    pub async fn get_as_bytes(&self, raw: bool) -> Result<Option<Bytes>, Error> {
        let req = self
            .res
            .request(Method::GET)
            .query("raw", raw)
            .timeout(TimeoutTier::Long);
        let resp = not_found_as_none(self.res.call(req).await)?;
        match resp {
            Some(r) => Ok(Some(r.bytes().await?)),
            None => Ok(None),
        }
    }

    /// The log as a stream (`stream=true`): for a running Actor, the body follows the log as it
    /// is written and ends when the run does. `None` if there is no such run or build.
    pub async fn stream(&self, raw: bool) -> Result<Option<StreamedBody>, Error> {
        // The timeout covers the wait for the response head only; the body may flow for as
        // long as the run lasts.
        let req = self
            .res
            .request(Method::GET)
            .query("stream", true)
            .query("raw", raw)
            .timeout(TimeoutTier::Long)
            .stream();
        Ok(not_found_as_none(self.res.call(req).await)?.map(StreamedBody::from_response))
    }
}
