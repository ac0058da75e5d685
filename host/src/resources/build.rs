//! One Actor build: `/v2/actor-builds/{buildId}` (or `/v2/actors/{id}/builds/default`).

use std::{sync::Arc, time::Duration};

use http::Method;
use serde::Serialize;

use super::{ActorJobStatus, LogClient, ResourceClient};
use crate::{
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// An Actor build, as `GET /v2/actor-builds/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Build {
    /// The build id.
    pub id: String,
    /// The Actor's id.
    pub act_id: Option<String>,
    /// The status.
    pub status: ActorJobStatus,
    /// The build number (`0.1.23`).
    pub build_number: Option<String>,
    /// Start time (UTC). A value that is not an RFC 3339 time is `None` here and kept in `extra`,
    /// as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// End time (UTC), once finished. A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every other field the API sent (`meta`, `stats`, `options`, `usage`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Build {
        required: id, status;
        timestamps: started_at, finished_at;
        optional: act_id, build_number
    }
}

/// A client for one build.
#[derive(Clone, Debug)]
pub struct BuildClient {
    pub(super) res: ResourceClient,
}

impl BuildClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        BuildClient {
            res: ResourceClient::item(pipeline, "actor-builds", id),
        }
    }

    /// The build; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Build>, Error> {
        self.res.get().await
    }

    /// Deletes the build; a build that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// Aborts the build.
    pub async fn abort(&self) -> Result<Build, Error> {
        let req = self
            .res
            .sub(Method::POST, &["abort"])
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Waits until the build finishes, or `wait` has passed (`None`: without limit); answers
    /// the last state seen, `None` if the build does not exist.
    pub async fn wait_for_finish(&self, wait: Option<Duration>) -> Result<Option<Build>, Error> {
        self.res.wait_for_finish(wait).await
    }

    /// The build's log.
    pub fn log(&self) -> LogClient {
        LogClient {
            res: self.res.child(&["log"]),
        }
    }

    /// The OpenAPI definition of the Actor at this build (`…/openapi.json`).
    pub async fn get_open_api_definition(&self) -> Result<serde_json::Value, Error> {
        let req = self
            .res
            .sub(Method::GET, &["openapi.json"])
            .timeout(TimeoutTier::Medium);
        self.res.call(req).await?.json().await
    }
}
