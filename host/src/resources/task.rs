//! One Actor task (an Actor with saved input and options): `/v2/actor-tasks/{actorTaskId}`.

use std::{sync::Arc, time::Duration};

use http::Method;
use serde::Serialize;

use super::{
    actor::{last_run, start_run, vanished_run},
    base::to_run_input,
    ActorJobStatus, ResourceClient, Run, RunClient, RunCollectionClient, StartOptions, ToRunInput,
};
use crate::{
    pipeline::{Pipeline, TimeoutTier},
    Error,
};

/// An Actor task, as `GET /v2/actor-tasks/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Task {
    /// The task id.
    pub id: String,
    /// The Actor it runs.
    pub act_id: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The owner's username.
    pub username: Option<String>,
    /// The human-readable title.
    pub title: Option<String>,
    /// Creation time (UTC). A value that is not an RFC 3339 time is `None` here and kept in
    /// `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last modification time (UTC). A value that is not an RFC 3339 time is `None` here and kept
    /// in `extra`, as sent.
    #[serde(serialize_with = "super::base::serialize_timestamp")]
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The saved input.
    pub input: Option<serde_json::Value>,
    /// Every other field the API sent (`options`, `stats`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    Task {
        required: id;
        timestamps: created_at, modified_at;
        optional: act_id, name, username, title, input
    }
}

/// A client for one task, by id or `username~name`.
#[derive(Clone, Debug)]
pub struct TaskClient {
    pub(super) res: ResourceClient,
}

impl TaskClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: &str) -> Self {
        TaskClient {
            res: ResourceClient::item(pipeline, "actor-tasks", id),
        }
    }

    /// The task; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<Task>, Error> {
        self.res.get().await
    }

    /// Changes the fields in `fields` (the API's names: `title`, `input`, `options`, ...).
    pub async fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<Task, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the task; a task that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// Starts a run of the task; `input` (a JSON object: a `serde_json::Value` or any
    /// [`Serialize`] value) overrides fields of the saved input.
    /// `opts.force_permission_level` is for Actors only and is not sent.
    pub async fn start(
        &self,
        input: Option<&(dyn ToRunInput + Sync)>,
        opts: &StartOptions,
    ) -> Result<Run, Error> {
        let opts = StartOptions {
            force_permission_level: None,
            ..opts.clone()
        };
        let input = to_run_input(input)?;
        start_run(&self.res, input.as_ref(), &opts).await
    }

    /// Starts a run and waits until it ends or `wait` has passed (`None`: without limit);
    /// answers the last state of the run. A run that vanished meanwhile is an error of kind
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    ///
    /// ```no_run
    /// # async fn run(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
    /// use apify_host::options::StartOptions;
    /// use serde_json::json;
    ///
    /// let task = client.task("me~my-task");
    /// let opts = StartOptions::new().memory_mbytes(1024);
    /// task.call(None, &opts, None).await?;
    /// let run = task.call(Some(&json!({ "maxItems": 10 })), &opts, None).await?;
    /// println!("{} ended {:?}", run.id, run.status);
    /// # Ok(()) }
    /// ```
    pub async fn call(
        &self,
        input: Option<&(dyn ToRunInput + Sync)>,
        opts: &StartOptions,
        wait: Option<Duration>,
    ) -> Result<Run, Error> {
        let start = StartOptions {
            wait_for_finish: None,
            ..opts.clone()
        };
        let run = self.start(input, &start).await?;
        RunClient::new(self.res.pipeline(), &run.id)
            .wait_for_finish(wait)
            .await?
            .ok_or_else(|| vanished_run(&run.id))
    }

    /// The task's saved input; `None` if the task does not exist.
    pub async fn get_input(&self) -> Result<Option<serde_json::Value>, Error> {
        let req = self
            .res
            .sub(Method::GET, &["input"])
            .timeout(TimeoutTier::Short);
        crate::error::not_found_as_none(match self.res.call(req).await {
            Ok(r) => r.json().await,
            Err(e) => Err(e),
        })
    }

    /// Replaces the task's saved input; answers the new input.
    pub async fn update_input(
        &self,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let req = self
            .res
            .sub(Method::PUT, &["input"])
            .json(input)?
            .timeout(TimeoutTier::Short);
        self.res.call(req).await?.json().await
    }

    /// Makes the task public (`isPublic: true`), as the Python client's `publish`.
    pub async fn publish(&self) -> Result<Task, Error> {
        self.update(&serde_json::json!({ "isPublic": true })).await
    }

    /// Makes the task private again (`isPublic: false`), as the Python client's `unpublish`.
    pub async fn unpublish(&self) -> Result<Task, Error> {
        self.update(&serde_json::json!({ "isPublic": false })).await
    }

    /// The task's webhooks (`/v2/actor-tasks/{id}/webhooks`: list, iterate).
    pub fn webhooks(&self) -> super::WebhookCollectionClient {
        super::WebhookCollectionClient::under(&self.res)
    }

    /// The task's runs.
    pub fn runs(&self) -> RunCollectionClient {
        RunCollectionClient::from_resource(self.res.child(&["runs"]))
    }

    /// The last run of the task (`…/runs/last`), only among runs with `status` and `origin`
    /// when given; the filters flow down to its storages and log.
    pub fn last_run(&self, status: Option<ActorJobStatus>, origin: Option<&str>) -> RunClient {
        last_run(&self.res, status, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::test_pipeline;
    use serde_json::json;
    use testkit::{Action, TestServer};

    #[tokio::test]
    async fn task_paths_and_the_permission_level_left_out() {
        let server = TestServer::start().await;
        let run = json!({"data": {"id": "r1", "status": "READY"}});
        server.script("/v2/actor-tasks/me~t/runs", vec![Action::json(201, run)]);
        server.script(
            "/v2/actor-tasks/me~t/input",
            vec![Action::json(200, json!({"a": 1}))],
        );
        let task = TaskClient::new(&test_pipeline(&server.url("")), "me/t");
        let opts = StartOptions::new()
            .max_items(3)
            .force_permission_level("LIMITED_PERMISSIONS");
        task.start(Some(&json!({"x": 1})), &opts).await.unwrap();
        assert_eq!(task.get_input().await.unwrap(), Some(json!({"a": 1})));
        let _ = task
            .last_run(Some(ActorJobStatus::Succeeded), None)
            .log()
            .get(false)
            .await;
        let seen: Vec<(String, Option<String>)> = server
            .requests()
            .into_iter()
            .map(|r| (r.path, r.query))
            .collect();
        let want = [
            ("/v2/actor-tasks/me~t/runs", Some("maxItems=3")),
            ("/v2/actor-tasks/me~t/input", None),
            (
                "/v2/actor-tasks/me~t/runs/last/log",
                Some("status=SUCCEEDED&raw=false"),
            ),
        ];
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(p, q)| (p.to_string(), q.map(str::to_string)))
            .collect();
        assert_eq!(seen, want);
    }
}
