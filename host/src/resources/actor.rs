//! One Actor: `/v2/actors/{actorId}`, its runs, builds and versions.
//!
//! Start a run and wait for it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! use apify_host::{ApifyClient, options::CallOptions};
//! use serde_json::json;
//!
//! let client = ApifyClient::new("my-token")?;
//! let input = json!({ "startUrls": [{ "url": "https://a.example" }] });
//! // Starts the run, follows its log in `tracing` (target `apify.actor`; only if a subscriber
//! // listens there) and waits until it ends.
//! let run = client.actor("apify/hello-world").call(Some(&input), &CallOptions::new()).await?;
//! println!("{:?}", run.status);
//! # Ok(()) }
//! ```
//!
//! Read the items of the last successful run:
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! use apify_host::{ApifyClient, models::ActorJobStatus, options::ListItemsOptions};
//!
//! let client = ApifyClient::new("my-token")?;
//! let last = client.actor("apify/hello-world").last_run(Some(ActorJobStatus::Succeeded), None);
//! let page = last.dataset().list_items::<serde_json::Value>(&ListItemsOptions::new()).await?;
//! println!("{} items", page.items.len());
//! # Ok(()) }
//! ```

use std::{sync::Arc, time::Duration};

use http::Method;
use serde::Serialize;

use super::{
    base::{options_setters, to_run_input},
    ActorJobStatus, ActorVersionClient, ActorVersionCollectionClient, Build, BuildClient,
    BuildCollectionClient, ResourceClient, Run, RunClient, RunCollectionClient, RunInput,
    StartOptions, ToRunInput,
};
use crate::{
    pipeline::{ApiRequest, Pipeline, TimeoutTier},
    Error,
};

/// An Actor, as `GET /v2/actors/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Actor {
    /// The Actor id.
    pub id: String,
    /// The technical name (`hello-world`).
    pub name: String,
    /// The owner's username.
    pub username: Option<String>,
    /// The owner's user id.
    pub user_id: Option<String>,
    /// The human-readable title.
    pub title: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Whether it is published in the Store.
    pub is_public: Option<bool>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last modification time (UTC). A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every other field the API sent (`versions`, `defaultRunOptions`, `stats`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Actor {
        required: id, name;
        timestamps: created_at, modified_at;
        optional: username, user_id, title, description, is_public
    }
}

/// Where [`ActorClient::call`] sends the run's log and status messages while it waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogRedirect {
    /// Into `tracing` (target `apify.actor`), prefixed with the Actor's name and the run id,
    /// as the Python client's default logger does; only when a subscriber is interested in
    /// `apify.actor` (`tracing::enabled!`, at any level) when the call starts. Without one,
    /// as [`LogRedirect::Off`]. See [`CallOptions`] for what following the log costs.
    #[default]
    Default,
    /// Nowhere: only wait.
    Off,
}

/// How [`ActorClient::call`] starts the run and waits for it.
///
/// # What following the log costs
///
/// A `call` makes the start request (`POST …/runs`) and the wait's polls
/// (`GET /v2/actor-runs/{id}?waitForFinish=N`, one per 60 s of run at most): 2 requests for a
/// short run. Following the log ([`LogRedirect::Default`] with a `tracing` subscriber
/// interested in target `apify.actor`) adds, for the same short run, 7 more (9 in all):
/// - 4 to name the log lines: the run and its Actor, looked up once for the log and once for
///   the status messages;
/// - 1 streaming `GET …/log?stream=true&raw=true`, open while the run lasts (reopened with a
///   backoff of 0.5 to 5 s while the log is still empty);
/// - a `GET` of the run every second while it runs, for its status message, and a last one
///   after it ends.
///
/// With no subscriber for `apify.actor` (e.g. a program that installs none), or with
/// [`LogRedirect::Off`], none of these is made.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use std::time::Duration;
///
/// use apify_host::{options::{CallOptions, LogRedirect, StartOptions}};
/// use serde_json::json;
///
/// let opts = CallOptions::new()
///     .start(StartOptions::new().memory_mbytes(512).build("latest"))
///     .wait(Duration::from_secs(600))
///     .log(LogRedirect::Off);
/// let run = client.actor("apify/hello-world").call(Some(&json!({ "q": 1 })), &opts).await?;
/// println!("{} ended {}", run.id, run.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallOptions {
    /// The start options (their `wait_for_finish` is not used: `call` waits itself).
    pub start: StartOptions,
    /// The longest wait; `None` waits until the run ends.
    pub wait: Option<Duration>,
    /// Where the run's log goes meanwhile (by default `tracing`, if a subscriber listens).
    pub log: LogRedirect,
}

options_setters! {
    CallOptions {
        /// the start options (their `wait_for_finish` is not used: `call` waits itself).
        start: StartOptions,
        /// the longest wait (not set: until the run ends).
        wait: Option<Duration>,
        /// where the run's log goes meanwhile.
        log: LogRedirect,
    }
}

/// How to build an Actor version: `POST /v2/actors/{id}/builds`.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use apify_host::options::BuildOptions;
///
/// let opts = BuildOptions::new().tag("beta").use_cache(false).wait_for_finish(60);
/// let build = client.actor("me/my-actor").build("0.1", &opts).await?;
/// println!("build {} is {}", build.id, build.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BuildOptions {
    /// Build with beta versions of Apify NPM packages.
    pub beta_packages: Option<bool>,
    /// The tag the build gets when it succeeds (default `latest`).
    pub tag: Option<String>,
    /// Use the Docker layer cache.
    pub use_cache: Option<bool>,
    /// Seconds (at most 60) the API holds the answer while the build is not finished.
    pub wait_for_finish: Option<u64>,
}

options_setters! {
    BuildOptions {
        /// build with beta versions of Apify NPM packages.
        beta_packages: Option<bool>,
        /// the tag the build gets when it succeeds (default `latest`).
        tag: Option<String>,
        /// use the Docker layer cache.
        use_cache: Option<bool>,
        /// seconds (at most 60) the API holds the answer while the build is not finished.
        wait_for_finish: Option<u64>,
    }
}

/// The timeout of a call that asks the API to hold its answer `wait_for_finish` seconds.
pub(crate) fn holding_tier(wait_for_finish: Option<u64>) -> TimeoutTier {
    match wait_for_finish {
        Some(s) if s > 0 => TimeoutTier::Custom(Duration::from_secs(s.min(60) + 30)),
        _ => TimeoutTier::Medium,
    }
}

/// `POST {res}/runs` with the start options and the input: shared by Actors and tasks.
pub(crate) async fn start_run(
    res: &ResourceClient,
    input: Option<&RunInput>,
    opts: &StartOptions,
) -> Result<Run, Error> {
    let mut req: ApiRequest = res
        .sub(Method::POST, &["runs"])
        .query_all(opts)?
        .timeout(holding_tier(opts.wait_for_finish));
    if let Some(input) = input {
        req = input.attach(req)?;
    }
    res.data(req).await
}

/// A client for one Actor, by id or `username~name` (`username/name` works too).
#[derive(Clone, Debug)]
pub struct ActorClient {
    pub(super) res: ResourceClient,
}

impl ActorClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        ActorClient {
            res: ResourceClient::item(pipeline, "actors", id),
        }
    }

    /// The Actor; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Actor>, Error> {
        self.res.get().await
    }

    /// Changes the fields of the Actor in `fields` (the API's names: `title`,
    /// `defaultRunOptions`, ...); answers the updated Actor.
    pub async fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<Actor, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the Actor; an Actor that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// Starts a run and answers it at once (or after `opts.wait_for_finish` seconds at most).
    /// `input`: see [`call`](Self::call).
    pub async fn start(
        &self,
        input: Option<&(dyn ToRunInput + Sync)>,
        opts: &StartOptions,
    ) -> Result<Run, Error> {
        let input = to_run_input(input)?;
        start_run(&self.res, input.as_ref(), opts).await
    }

    /// Starts a run and waits until it ends (or `opts.wait` has passed), meanwhile redirecting
    /// its log and status messages as `opts.log` says (by default into `tracing`, only if a
    /// subscriber listens to `apify.actor`: see [`CallOptions`] for the cost). Answers the last
    /// state of the run; a run that vanished meanwhile is an error of kind
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    ///
    /// `input` is `None` (the Actor's default input) or a reference to a [`RunInput`] or to any
    /// [`Serialize`] value, sent as JSON:
    ///
    /// ```no_run
    /// # async fn run(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
    /// use apify_host::{options::CallOptions, models::RunInput};
    /// use serde_json::json;
    ///
    /// let actor = client.actor("apify~hello-world");
    /// let opts = CallOptions::new();
    /// actor.call(None, &opts).await?;
    /// actor.call(Some(&json!({ "message": "hi" })), &opts).await?;
    /// let value = json!({ "message": "hi" });
    /// actor.call(Some(&value), &opts).await?;
    /// let input = RunInput::raw("text/plain", "hi");
    /// let run = actor.call(Some(&input), &opts).await?;
    /// println!("{} ended {:?}", run.id, run.status);
    /// # Ok(()) }
    /// ```
    pub async fn call(
        &self,
        input: Option<&(dyn ToRunInput + Sync)>,
        opts: &CallOptions,
    ) -> Result<Run, Error> {
        let start = StartOptions {
            wait_for_finish: None,
            ..opts.start.clone()
        };
        let started_id = self.start(input, &start).await?.id;
        let run = RunClient::new(self.res.pipeline(), &started_id);
        self.follow(&run, &started_id, opts)
            .await?
            .ok_or_else(|| vanished_run(&started_id))
    }

    /// Waits for the started run, redirecting its log as `opts.log` says.
    async fn follow(
        &self,
        run: &RunClient,
        started_id: &str,
        opts: &CallOptions,
    ) -> Result<Option<Run>, Error> {
        match opts.log {
            LogRedirect::Off => run.wait_for_finish(opts.wait).await,
            // Nobody would see the log: spare its requests. Its messages go out at every level
            // (`ERROR` to `DEBUG`, status lines at `INFO`), so the least verbose one decides.
            LogRedirect::Default if !tracing::enabled!(target: super::streamed_log::TARGET, tracing::Level::ERROR) => {
                run.wait_for_finish(opts.wait).await
            }
            LogRedirect::Default => {
                // The run is started: failing to set up the redirect (the Actor's name is
                // looked up) must not lose it, so wait without redirecting then.
                let redirect = async {
                    let watcher = run
                        .get_status_message_watcher(Duration::from_secs(1))
                        .await?;
                    let log = run.get_streamed_log(true).await?;
                    Ok::<_, Error>((watcher, log))
                };
                let (mut watcher, mut log) = match redirect.await {
                    Ok(both) => both,
                    Err(e) => {
                        tracing::warn!(
                            target: super::streamed_log::TARGET,
                            "cannot redirect the log of run {}: {e}; waiting without it",
                            started_id
                        );
                        return run.wait_for_finish(opts.wait).await;
                    }
                };
                watcher.start();
                log.start();
                let finished = run.wait_for_finish(opts.wait).await;
                // The log stream ends with the run: give it a moment to deliver the tail.
                log.finish(Duration::from_secs(5)).await;
                watcher.stop().await;
                finished
            }
        }
    }

    /// Builds `version_number` of the Actor (e.g. `0.1`).
    pub async fn build(&self, version_number: &str, opts: &BuildOptions) -> Result<Build, Error> {
        let req = self
            .res
            .sub(Method::POST, &["builds"])
            .query("version", version_number)
            .query_all(opts)?
            .timeout(holding_tier(opts.wait_for_finish));
        self.res.data(req).await
    }

    /// The Actor's builds.
    pub fn builds(&self) -> BuildCollectionClient {
        BuildCollectionClient::from_resource(self.res.child(&["builds"]))
    }

    /// The Actor's runs.
    pub fn runs(&self) -> RunCollectionClient {
        RunCollectionClient::from_resource(self.res.child(&["runs"]))
    }

    /// The Actor's default build (`…/builds/default`), waiting up to `wait_for_finish`
    /// seconds (at most 60) for it to finish; a client for that build.
    pub async fn default_build(&self, wait_for_finish: Option<u64>) -> Result<BuildClient, Error> {
        let req = self
            .res
            .sub(Method::GET, &["builds", "default"])
            .query("waitForFinish", wait_for_finish)
            .timeout(holding_tier(wait_for_finish));
        let build: Build = self.res.data(req).await?;
        Ok(BuildClient::new(self.res.pipeline(), &build.id))
    }

    /// The last run of the Actor (`…/runs/last`), only among runs with `status` and `origin`
    /// (`API`, `WEB`, `SCHEDULER`, ...) when given. The filters flow down to its storages and
    /// log: `last_run(..).dataset()` is the dataset of that same run.
    pub fn last_run(&self, status: Option<ActorJobStatus>, origin: Option<&str>) -> RunClient {
        last_run(&self.res, status, origin)
    }

    /// The Actor's webhooks (`/v2/actors/{id}/webhooks`: list, iterate).
    pub fn webhooks(&self) -> super::WebhookCollectionClient {
        super::WebhookCollectionClient::under(&self.res)
    }

    /// The Actor's versions.
    pub fn versions(&self) -> ActorVersionCollectionClient {
        ActorVersionCollectionClient::from_resource(self.res.child(&["versions"]))
    }

    /// One version of the Actor (e.g. `0.1`).
    pub fn version(&self, version_number: &str) -> ActorVersionClient {
        ActorVersionClient::from_resource(self.res.child(&["versions", version_number]))
    }

    /// Validates `input` against the input schema of the Actor (at `build`, default: the
    /// default build). `Ok(true)` when valid; an invalid input is an API error saying why.
    pub async fn validate_input(
        &self,
        input: &RunInput,
        build: Option<&str>,
    ) -> Result<bool, Error> {
        let req = self
            .res
            .sub(Method::POST, &["validate-input"])
            .query("build", build)
            .timeout(TimeoutTier::Medium);
        self.res.drain(input.attach(req)?).await.map(|_| true)
    }
}

/// The error of a `call` whose run went away while it was waited for.
pub(crate) fn vanished_run(id: &str) -> Error {
    Error::vanished(format!(
        "the run {id} disappeared while it was being waited for"
    ))
}

/// `{res}/runs/last` with its filters as default parameters: shared by Actors and tasks.
pub(crate) fn last_run(
    res: &ResourceClient,
    status: Option<ActorJobStatus>,
    origin: Option<&str>,
) -> RunClient {
    let mut last = res.child(&["runs", "last"]);
    if let Some(status) = status {
        last = last.with_param("status", status.as_str());
    }
    if let Some(origin) = origin {
        last = last.with_param("origin", origin);
    }
    RunClient::from_alias(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{
        base::{test_pipeline, to_params},
        ListRunsOptions, PageOptions,
    };
    use serde_json::json;
    use testkit::{Action, TestServer};

    #[test]
    fn build_options_become_parameters() {
        let opts = BuildOptions::new()
            .beta_packages(true)
            .tag("beta")
            .use_cache(false)
            .wait_for_finish(30);
        let got: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["betaPackages", "tag", "useCache", "waitForFinish"]);
        assert_eq!(got[2].1.as_deref(), Some("false"));
    }

    #[tokio::test]
    async fn last_run_aliases_carry_their_filters_down() {
        let server = TestServer::start().await;
        let pipeline = test_pipeline(&server.url(""));
        let actor = ActorClient::new(&pipeline, "me/x");
        let _ = actor
            .last_run(Some(ActorJobStatus::Succeeded), None)
            .dataset()
            .get()
            .await;
        let _ = actor
            .last_run(Some(ActorJobStatus::Failed), Some("API"))
            .key_value_store()
            .get()
            .await;
        let _ = actor.last_run(None, None).log().get(true).await;
        let _ = actor
            .last_run(None, Some("WEB"))
            .request_queue()
            .get()
            .await;
        let seen: Vec<(String, Option<String>)> = server
            .requests()
            .into_iter()
            .map(|r| (r.path, r.query))
            .collect();
        let want = [
            (
                "/v2/actors/me~x/runs/last/dataset",
                Some("status=SUCCEEDED"),
            ),
            (
                "/v2/actors/me~x/runs/last/key-value-store",
                Some("status=FAILED&origin=API"),
            ),
            ("/v2/actors/me~x/runs/last/log", Some("raw=true")),
            (
                "/v2/actors/me~x/runs/last/request-queue",
                Some("origin=WEB"),
            ),
        ];
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(p, q)| (p.to_string(), q.map(str::to_string)))
            .collect();
        assert_eq!(seen, want);
    }

    /// Collects the `apify.actor` events of the current thread (a current-thread runtime runs
    /// the redirect tasks there too).
    struct Capture(Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

    struct Message(String);

    impl tracing::field::Visit for Message {
        fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
            if f.name() == "message" {
                self.0 = format!("{v:?}");
            }
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if event.metadata().target() == crate::resources::streamed_log::TARGET {
                let mut m = Message(String::new());
                event.record(&mut m);
                self.0
                    .lock()
                    .unwrap()
                    .push((*event.metadata().level(), m.0));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test]
    async fn a_run_that_vanishes_during_call_is_a_not_found_error() {
        let server = TestServer::start().await;
        server.script(
            "/v2/actors/a1/runs",
            vec![Action::json(
                201,
                json!({"data": {"id": "r9", "actId": "a1", "status": "READY"}}),
            )],
        );
        // `/v2/actor-runs/r9` is not scripted: the test server answers 404 record-not-found.
        let actor = ActorClient::new(&test_pipeline(&server.url("")), "a1");
        let opts = CallOptions::new()
            .wait(Duration::from_millis(200))
            .log(LogRedirect::Off);
        let e = actor.call(Some(&json!({"q": 1})), &opts).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound, "{e:?}");
        assert_eq!(
            e.to_string(),
            "the run r9 disappeared while it was being waited for"
        );
        assert!(e.api_error().is_none());
    }

    #[tokio::test]
    async fn call_waits_and_redirects_the_log_and_the_status_message() {
        let server = TestServer::start().await;
        let run = |status: &str, message: &str| {
            Action::json(
                200,
                json!({"data": {"id": "r1", "actId": "a1", "status": status,
                                "statusMessage": message, "isStatusMessageTerminal": status == "SUCCEEDED"}}),
            )
        };
        server.script(
            "/v2/actors/a1/runs",
            vec![Action::json(
                201,
                json!({"data": {"id": "r1", "actId": "a1", "status": "READY"}}),
            )],
        );
        // Two lookups of the log's prefix, then the watcher's and the wait's polls.
        let mut polls = vec![run("RUNNING", "Starting"); 2];
        polls.extend(vec![run("SUCCEEDED", "Done"); 30]);
        server.script("/v2/actor-runs/r1", polls);
        server.script(
            "/v2/actors/a1",
            vec![Action::json(200, json!({"data": {"id": "a1", "name": "my-actor"}})); 2],
        );
        server.script(
            "/v2/actor-runs/r1/log",
            vec![Action::text(
                200,
                "2024-01-01T00:00:00.000Z hello\n2024-01-01T00:00:01.000Z WARN careful\n  detail\n",
            )],
        );
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let _guard = tracing::subscriber::set_default(Capture(events.clone()));

        let actor = ActorClient::new(&test_pipeline(&server.url("")), "a1");
        let done = actor.call(None, &CallOptions::new()).await.unwrap();
        assert_eq!(done.status, ActorJobStatus::Succeeded);
        let events = events.lock().unwrap().clone();
        let prefix = "my-actor runId:r1 -> ";
        assert!(
            events.contains(&(
                tracing::Level::INFO,
                format!("{prefix}2024-01-01T00:00:00.000Z hello")
            )),
            "{events:?}"
        );
        assert!(
            events.contains(&(
                tracing::Level::WARN,
                format!("{prefix}2024-01-01T00:00:01.000Z WARN careful\n  detail")
            )),
            "{events:?}"
        );
        let statuses: Vec<_> = events
            .iter()
            .filter(|(_, m)| m.contains("Status:"))
            .collect();
        assert_eq!(
            statuses,
            [&(
                tracing::Level::INFO,
                format!("{prefix}Status: SUCCEEDED, Message: Done")
            )],
            "each status line once"
        );
        let log_reads: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v2/actor-runs/r1/log")
            .map(|r| r.query)
            .collect();
        assert_eq!(log_reads, [Some("stream=true&raw=true".to_string())]);
    }

    #[tokio::test]
    async fn sub_resources_of_an_actor() {
        let server = TestServer::start().await;
        server.script(
            "/v2/actors/a/builds/default",
            vec![Action::json(
                200,
                json!({"data": {"id": "b1", "status": "SUCCEEDED"}}),
            )],
        );
        let actor = ActorClient::new(&test_pipeline(&server.url("")), "a");
        let build = actor.default_build(Some(5)).await.unwrap();
        let _ = build.get().await;
        let _ = build.log().get(false).await;
        let _ = actor.versions().list().await;
        let _ = actor.version("0.1").env_var("MY VAR").get().await;
        let _ = actor.version("0.1").env_vars().list().await;
        let _ = actor.builds().list(&PageOptions::new()).await;
        let _ = actor.runs().list(&ListRunsOptions::new()).await;
        let _ = actor.build("0.1", &BuildOptions::new().tag("beta")).await;
        let _ = actor
            .validate_input(&RunInput::Json(json!({})), Some("latest"))
            .await;
        let seen: Vec<(String, String, Option<String>)> = server
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.query))
            .collect();
        let want = [
            (
                "GET",
                "/v2/actors/a/builds/default",
                Some("waitForFinish=5"),
            ),
            ("GET", "/v2/actor-builds/b1", None),
            ("GET", "/v2/actor-builds/b1/log", Some("raw=false")),
            ("GET", "/v2/actors/a/versions", None),
            ("GET", "/v2/actors/a/versions/0.1/env-vars/MY%20VAR", None),
            ("GET", "/v2/actors/a/versions/0.1/env-vars", None),
            ("GET", "/v2/actors/a/builds", None),
            ("GET", "/v2/actors/a/runs", None),
            ("POST", "/v2/actors/a/builds", Some("version=0.1&tag=beta")),
            ("POST", "/v2/actors/a/validate-input", Some("build=latest")),
        ];
        let want: Vec<(String, String, Option<String>)> = want
            .iter()
            .map(|(m, p, q)| (m.to_string(), p.to_string(), q.map(str::to_string)))
            .collect();
        assert_eq!(seen, want);
    }

    #[tokio::test]
    async fn start_sends_the_options_and_the_input() {
        let server = TestServer::start().await;
        let run = json!({"data": {"id": "r1", "status": "READY"}});
        server.script(
            "/v2/actors/a/runs",
            vec![Action::json(201, run.clone()), Action::json(201, run)],
        );
        let actor = ActorClient::new(&test_pipeline(&server.url("")), "a");
        let opts = StartOptions::new().memory_mbytes(256).build("beta");
        let started = actor.start(Some(&json!({"q": 1})), &opts).await.unwrap();
        assert_eq!(started.status, ActorJobStatus::Ready);
        let raw = RunInput::raw("text/plain", "hello");
        actor.start(Some(&raw), &StartOptions::new()).await.unwrap();
        let log = server.requests();
        assert_eq!(log[0].method, "POST");
        assert_eq!(log[0].query.as_deref(), Some("build=beta&memory=256"));
        assert!(log[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(&log[0].body[..], br#"{"q":1}"#);
        assert_eq!(log[1].header("content-type"), Some("text/plain"));
        assert_eq!(&log[1].body[..], b"hello");
    }
}
