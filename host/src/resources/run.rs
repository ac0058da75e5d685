//! One Actor run: `/v2/actor-runs/{runId}`, or a last-run alias such as
//! `/v2/actors/{actorId}/runs/last?status=SUCCEEDED` (see [`super::ActorClient::last_run`]).

use std::{sync::Arc, time::Duration};

use http::Method;
use rand::{distr::Alphanumeric, Rng};
use serde::Serialize;

use super::{
    base::{duration_secs, options_setters, to_run_input},
    ActorJobStatus, DatasetClient, KeyValueStoreClient, LogClient, RequestQueueClient,
    ResourceClient, StatusMessageWatcher, StreamedLog, ToRunInput,
};
use crate::{
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// An Actor run, as `GET /v2/actor-runs/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Run {
    /// The run id.
    pub id: String,
    /// The Actor's id.
    pub act_id: Option<String>,
    /// The task's id, when a task started the run.
    pub actor_task_id: Option<String>,
    /// The status.
    pub status: ActorJobStatus,
    /// The status message the Actor set, if any.
    pub status_message: Option<String>,
    /// Whether the status message is the run's last one.
    pub is_status_message_terminal: Option<bool>,
    /// Start time (UTC). A value that is not an RFC 3339 time is `None` here and kept in `extra`,
    /// as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// End time (UTC), once finished. A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The build the run uses.
    pub build_id: Option<String>,
    /// The build's number.
    pub build_number: Option<String>,
    /// The exit code of the Actor's process, once finished.
    pub exit_code: Option<i64>,
    /// The default dataset's id.
    pub default_dataset_id: Option<String>,
    /// The default key-value store's id.
    pub default_key_value_store_id: Option<String>,
    /// The default request queue's id.
    pub default_request_queue_id: Option<String>,
    /// Every other field the API sent (`meta`, `stats`, `options`, `usage`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Run {
        required: id, status;
        timestamps: started_at, finished_at;
        optional: act_id, actor_task_id, status_message, is_status_message_terminal, build_id, build_number, exit_code, default_dataset_id, default_key_value_store_id, default_request_queue_id
    }
}

/// The fields of a run that `update` changes (absent ones stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunUpdate {
    /// A new status message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Whether the status message is the last one of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_status_message_terminal: Option<bool>,
    /// Who can access the run and its storages (`RESTRICTED`, `ANYONE_WITH_ID_CAN_READ`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub general_access: Option<String>,
}

/// How to resurrect a finished run: `POST /v2/actor-runs/{id}/resurrect`. Unset fields keep
/// the run's previous values.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use std::time::Duration;
///
/// use apify_host::options::ResurrectOptions;
///
/// let opts = ResurrectOptions::new()
///     .memory_mbytes(2048)
///     .run_timeout(Duration::from_secs(600))
///     .restart_on_error(true);
/// let run = client.run("my-run-id").resurrect(&opts).await?;
/// println!("{} is {}", run.id, run.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResurrectOptions {
    /// The build to use: a tag or a number.
    pub build: Option<String>,
    /// Memory in megabytes.
    #[serde(rename = "memory")]
    pub memory_mbytes: Option<u64>,
    /// The run's new timeout (sent in whole seconds).
    #[serde(rename = "timeout", serialize_with = "duration_secs")]
    pub run_timeout: Option<Duration>,
    /// At most this many results (can only grow).
    pub max_items: Option<u64>,
    /// The limit of the total charge in USD (can only grow).
    pub max_total_charge_usd: Option<f64>,
    /// Restart the run when it fails.
    pub restart_on_error: Option<bool>,
}

options_setters! {
    ResurrectOptions {
        /// the build to use: a tag or a number.
        build: Option<String>,
        /// memory in megabytes.
        memory_mbytes: Option<u64>,
        /// the run's new timeout (sent in whole seconds).
        run_timeout: Option<Duration>,
        /// at most this many results (can only grow).
        max_items: Option<u64>,
        /// the limit of the total charge in USD (can only grow).
        max_total_charge_usd: Option<f64>,
        /// restart the run when it fails.
        restart_on_error: Option<bool>,
    }
}

/// The options of a pay-per-event charge ([`RunClient::charge`](crate::clients::RunClient::charge),
/// `POST /v2/actor-runs/{id}/charge`): one event by default, with a generated idempotency key.
/// The event's name is an argument of `charge`, as in the Python client.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::options::ChargeOptions;
///
/// let run = client.run("my-run-id");
/// run.charge("item-processed", &ChargeOptions::new()).await?;
/// let opts = ChargeOptions::new().count(10).idempotency_key("page-batch-7");
/// run.charge("page-scraped", &opts).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChargeOptions {
    /// How many events (default 1).
    pub count: u64,
    /// Keeps a retried charge from counting twice; generated when `None`.
    pub idempotency_key: Option<String>,
    /// The request of a multi-tenant Actor Server run this charge is for (its
    /// `X-Actor-Request-ID` header): the caller who made that request is charged.
    pub request_id: Option<String>,
}

/// One event, a generated idempotency key.
impl Default for ChargeOptions {
    fn default() -> Self {
        ChargeOptions {
            count: 1,
            idempotency_key: None,
            request_id: None,
        }
    }
}

options_setters! {
    ChargeOptions {
        /// how many events (default 1).
        count: u64,
        /// keeps a retried charge from counting twice (generated when not set).
        idempotency_key: Option<String>,
        /// the request of a multi-tenant Actor Server run this charge is for (its
        /// `X-Actor-Request-ID` header).
        request_id: Option<String>,
    }
}

/// `{runId}-{eventName}-{millis}-{6 random letters or digits}`, as the JS and Python clients
/// generate it: unique per call, the same across the retries of one call.
fn idempotency_key(run: &str, event_name: &str) -> String {
    let millis = chrono::Utc::now().timestamp_millis();
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(6)
        .map(char::from)
        .collect();
    format!("{run}-{event_name}-{millis}-{random}")
}

/// A client for one run (or the last run of an Actor or task).
#[derive(Clone, Debug)]
pub struct RunClient {
    pub(super) res: ResourceClient,
    /// The run's id; `None` for a last-run alias.
    id: Option<String>,
}

impl RunClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        RunClient {
            res: ResourceClient::item(pipeline, "actor-runs", id),
            id: Some(id.to_string()),
        }
    }

    /// A run client over an alias path (`…/runs/last` with its `status` and `origin`).
    pub(crate) fn from_alias(res: ResourceClient) -> Self {
        RunClient { res, id: None }
    }

    /// The run; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Run>, Error> {
        self.res.get().await
    }

    /// Changes the status message (or the general access) of the run.
    pub async fn update(&self, fields: &RunUpdate) -> Result<Run, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the run; a run that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// Aborts the run; `gracefully` lets the Actor persist its state first.
    pub async fn abort(&self, gracefully: Option<bool>) -> Result<Run, Error> {
        let req = self
            .res
            .sub(Method::POST, &["abort"])
            .query("gracefully", gracefully)
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Waits until the run finishes, or `wait` has passed (`None`: without limit); answers the
    /// last state seen, `None` if the run does not exist. A run that was just started and is
    /// not visible yet is waited for a few seconds.
    pub async fn wait_for_finish(&self, wait: Option<Duration>) -> Result<Option<Run>, Error> {
        self.res.wait_for_finish(wait).await
    }

    /// Turns the run into a run of another Actor (`target_actor_id`, at `build` if given) with
    /// `input`, keeping its storages.
    pub async fn metamorph(
        &self,
        target_actor_id: &str,
        build: Option<&str>,
        input: Option<&(dyn ToRunInput + Sync)>,
    ) -> Result<Run, Error> {
        let input = to_run_input(input)?;
        let mut req = self
            .res
            .sub(Method::POST, &["metamorph"])
            // An id in `username/name` form is sent as `username~name`, as in paths.
            .query("targetActorId", target_actor_id.replace('/', "~"))
            .query("build", build)
            .timeout(TimeoutTier::Medium);
        if let Some(input) = &input {
            req = input.attach(req)?;
        }
        self.res.data(req).await
    }

    /// Restarts a finished run with the same storages.
    pub async fn resurrect(&self, opts: &ResurrectOptions) -> Result<Run, Error> {
        let req = self
            .res
            .sub(Method::POST, &["resurrect"])
            .query_all(opts)?
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// Restarts the run's container.
    pub async fn reboot(&self) -> Result<Run, Error> {
        let req = self
            .res
            .sub(Method::POST, &["reboot"])
            .timeout(TimeoutTier::Medium);
        self.res.data(req).await
    }

    /// The run's default dataset.
    pub fn dataset(&self) -> DatasetClient {
        DatasetClient {
            res: self.res.child(&["dataset"]),
        }
    }

    /// The run's default key-value store.
    pub fn key_value_store(&self) -> KeyValueStoreClient {
        KeyValueStoreClient {
            res: self.res.child(&["key-value-store"]),
        }
    }

    /// The run's default request queue.
    pub fn request_queue(&self) -> RequestQueueClient {
        RequestQueueClient::from_resource(self.res.child(&["request-queue"]))
    }

    /// The run's log.
    pub fn log(&self) -> LogClient {
        LogClient {
            res: self.res.child(&["log"]),
        }
    }

    /// Charges `opts.count` events named `event_name` (as the Actor's pricing defines it) to
    /// the run (pay-per-event Actors). The idempotency key, given or generated, is the same
    /// across the retries of this call.
    pub async fn charge(&self, event_name: &str, opts: &ChargeOptions) -> Result<(), Error> {
        if event_name.is_empty() {
            return Err(Error::invalid_input(
                "charge needs an event name, as the Actor's pricing defines it",
            ));
        }
        let key = match &opts.idempotency_key {
            Some(k) => k.clone(),
            None => idempotency_key(self.id.as_deref().unwrap_or("last"), event_name),
        };
        let mut body = serde_json::json!({ "eventName": event_name, "count": opts.count });
        if let Some(request_id) = &opts.request_id {
            body["requestId"] = request_id.as_str().into();
        }
        let req = self
            .res
            .sub(Method::POST, &["charge"])
            .try_header("idempotency-key", &key)?
            .json(&body)?
            .timeout(TimeoutTier::Short);
        self.res.drain(req).await
    }

    /// The name the redirected log and status messages carry: `{actor name} runId:{id}`
    /// (either part left out when unknown), as the Python client names its logger.
    async fn redirect_prefix(&self) -> Result<String, Error> {
        let run = self.get().await?;
        let run_id = run.as_ref().map(|r| format!("runId:{}", r.id));
        let actor_name = match run.as_ref().and_then(|r| r.act_id.as_deref()) {
            Some(actor_id) => super::ActorClient::new(self.res.pipeline(), actor_id)
                .get()
                .await?
                .map(|a| a.name),
            None => None,
        };
        Ok([actor_name, run_id]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// A [`StreamedLog`] that follows the run's log into `tracing` (target `apify.actor`),
    /// one event per log message, prefixed with the Actor's name and the run id. Call
    /// [`StreamedLog::start`] to begin. `from_start: false` skips messages older than now.
    pub async fn get_streamed_log(&self, from_start: bool) -> Result<StreamedLog, Error> {
        let prefix = self.redirect_prefix().await?;
        Ok(StreamedLog::new(self.log(), prefix, from_start))
    }

    /// A [`StatusMessageWatcher`] that polls the run every `check_period` (Python: 1 s) and
    /// logs each change of its status or status message. Call [`StatusMessageWatcher::start`].
    pub async fn get_status_message_watcher(
        &self,
        check_period: Duration,
    ) -> Result<StatusMessageWatcher, Error> {
        let prefix = self.redirect_prefix().await?;
        Ok(StatusMessageWatcher::new(
            self.clone(),
            prefix,
            check_period,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::{test_pipeline, to_params};
    use serde_json::json;
    use testkit::{Action, TestServer};

    #[test]
    fn idempotency_keys_have_the_js_shape() {
        let key = idempotency_key("run1", "page-scraped");
        let parts: Vec<&str> = key.rsplitn(3, '-').collect();
        assert_eq!(parts.len(), 3, "{key}");
        assert_eq!(parts[0].len(), 6);
        assert!(parts[0].chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(parts[1].parse::<i64>().unwrap() > 1_600_000_000_000);
        assert_eq!(parts[2], "run1-page-scraped");
        assert_ne!(key, idempotency_key("run1", "page-scraped"));
    }

    #[test]
    fn resurrect_options_become_parameters() {
        let opts = ResurrectOptions::new()
            .build("1.2.3")
            .memory_mbytes(512)
            .run_timeout(Duration::from_secs(60))
            .max_items(5)
            .max_total_charge_usd(1.5)
            .restart_on_error(false);
        let got: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let want = [
            ("build", "1.2.3"),
            ("memory", "512"),
            ("timeout", "60"),
            ("maxItems", "5"),
            ("maxTotalChargeUsd", "1.5"),
            ("restartOnError", "false"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_deref()), (wk, Some(wv)));
        }
    }

    #[tokio::test]
    async fn charge_sends_the_event_and_an_idempotency_key() {
        let server = TestServer::start().await;
        server.script(
            "/v2/actor-runs/r1/charge",
            vec![Action::status(201), Action::status(201)],
        );
        let run = RunClient::new(&test_pipeline(&server.url("")), "r1");
        run.charge("ev", &ChargeOptions::new()).await.unwrap();
        let given = ChargeOptions::new()
            .count(3)
            .idempotency_key("mine")
            .request_id("req1");
        run.charge("ev", &given).await.unwrap();
        let log = server.requests();
        assert_eq!(log[0].method, "POST");
        let body: serde_json::Value = serde_json::from_slice(&log[0].body).unwrap();
        assert_eq!(body, json!({"eventName": "ev", "count": 1}));
        assert!(log[0]
            .header("idempotency-key")
            .unwrap()
            .starts_with("r1-ev-"));
        assert_eq!(log[1].header("idempotency-key"), Some("mine"));
        let body: serde_json::Value = serde_json::from_slice(&log[1].body).unwrap();
        assert_eq!(
            body,
            json!({"eventName": "ev", "count": 3, "requestId": "req1"})
        );
        let err = run.charge("", &ChargeOptions::new()).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
    }

    #[tokio::test]
    async fn run_scoped_paths() {
        let server = TestServer::start().await;
        let body = json!({"data": {"id": "r1", "status": "ABORTED", "newField": 1}});
        server.script("/v2/actor-runs/r1/abort", vec![Action::json(200, body)]);
        let run = RunClient::new(&test_pipeline(&server.url("")), "r1");
        let aborted = run.abort(Some(true)).await.unwrap();
        assert_eq!(aborted.status, ActorJobStatus::Aborted);
        assert_eq!(aborted.extra["newField"], 1);
        let _ = run.dataset().get().await;
        let _ = run.key_value_store().get().await;
        let _ = run.request_queue().get().await;
        let _ = run.log().get(false).await;
        let _ = run
            .metamorph("me/other", Some("beta"), Some(&json!({"a": 1})))
            .await;
        let seen: Vec<(String, Option<String>)> = server
            .requests()
            .into_iter()
            .map(|r| (r.path, r.query))
            .collect();
        let want = [
            ("/v2/actor-runs/r1/abort", Some("gracefully=true")),
            ("/v2/actor-runs/r1/dataset", None),
            ("/v2/actor-runs/r1/key-value-store", None),
            ("/v2/actor-runs/r1/request-queue", None),
            ("/v2/actor-runs/r1/log", Some("raw=false")),
            (
                "/v2/actor-runs/r1/metamorph",
                // `~` percent-encoded in a query value; the API decodes it back.
                Some("targetActorId=me%7Eother&build=beta"),
            ),
        ];
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(p, q)| (p.to_string(), q.map(str::to_string)))
            .collect();
        assert_eq!(seen, want);
    }
}
