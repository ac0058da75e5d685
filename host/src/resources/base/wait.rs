//! `wait_for_finish` for anything with a status (Actor runs and builds), as the Python
//! client's `ActorJobBaseClient` does it: ask the API to hold the answer until the job ends
//! (`waitForFinish`, which the API caps at 60 s per call) and ask again until the job's status
//! is terminal or the caller's wait is over.

use std::time::{Duration, Instant};

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ResourceClient;
use crate::{pipeline::TimeoutTier, Error};

/// The longest hold the API grants one call.
const MAX_HOLD: Duration = Duration::from_secs(60);

/// A job that was just started may not be visible to every API replica yet: a 404 is only
/// believed after this long.
const NOT_FOUND_GRACE: Duration = Duration::from_secs(3);

/// The pause between two calls that did not end the wait (a 404, or an answer that was not
/// held), so a replica can catch up and the API is not asked in a tight loop.
const PAUSE: Duration = Duration::from_millis(250);

/// Statuses after which a job never changes again.
pub(crate) fn is_terminal_status(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "FAILED" | "TIMED-OUT" | "ABORTED")
}

/// Polls `resource` until its `status` is terminal or `wait` (forever when `None`) has passed;
/// answers the last state seen, or `None` if the job still did not exist after the grace time.
pub(crate) async fn wait_for_finish<T: DeserializeOwned>(
    resource: &ResourceClient,
    wait: Option<Duration>,
) -> Result<Option<T>, Error> {
    let started = Instant::now();
    loop {
        let elapsed = started.elapsed();
        let remaining = wait.map(|w| w.saturating_sub(elapsed));
        let hold = remaining.map_or(MAX_HOLD, |r| r.min(MAX_HOLD));
        let req = resource
            .request(Method::GET)
            // Whole seconds, rounded up: a wait with 0.9 s left still asks for a hold.
            .query("waitForFinish", hold.as_millis().div_ceil(1000) as u64)
            // The API holds the answer for up to `hold`: the attempt must outlast it.
            .timeout(TimeoutTier::Custom(hold + Duration::from_secs(30)));
        // Straight to the pipeline: a resource's timeout override must not cut the hold short.
        let asked = Instant::now();
        let answer = match resource.pipeline().call(req).await {
            Ok(r) => r.data::<Value>().await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(job) => {
                let status = job.get("status").and_then(Value::as_str).ok_or_else(|| {
                    Error::decode("the API answered a job without a `status` field")
                })?;
                let out_of_time = wait.is_some_and(|w| started.elapsed() >= w);
                if is_terminal_status(status) || out_of_time {
                    return serde_json::from_value(job).map(Some).map_err(|e| {
                        Error::decode(format!("the API answered a job that does not decode: {e}"))
                    });
                }
                // An answer that was held the full time: ask again at once. One that came back
                // early although the job goes on (a replica that does not hold): pause instead
                // of asking in a tight loop.
                if asked.elapsed() < hold {
                    tokio::time::sleep(PAUSE).await;
                }
            }
            Err(e) if e.is_record_not_found() => {
                // A 404 is believed after the grace, or once the caller's own wait is over.
                let out_of_time = wait.is_some_and(|w| started.elapsed() >= w);
                if started.elapsed() > NOT_FOUND_GRACE || out_of_time {
                    return Ok(None);
                }
                let left = wait.map_or(PAUSE, |w| w.saturating_sub(started.elapsed()));
                tokio::time::sleep(PAUSE.min(left)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::test_pipeline;
    use serde_json::json;
    use testkit::{Action, TestServer};

    fn job(status: &str) -> Action {
        Action::json(200, json!({"data": {"id": "r1", "status": status}}))
    }

    #[tokio::test]
    async fn waits_until_a_terminal_status_and_sends_the_hold() {
        let server = TestServer::start().await;
        server.script(
            "/v2/actor-runs/r1",
            vec![job("READY"), job("RUNNING"), job("SUCCEEDED")],
        );
        let client = test_pipeline(&server.url(""));
        let run = ResourceClient::item(&client, "actor-runs", "r1");
        let got: Value = run.wait_for_finish(None).await.unwrap().unwrap();
        assert_eq!(got["status"], "SUCCEEDED");
        let log = server.requests();
        assert_eq!(log.len(), 3);
        assert!(log
            .iter()
            .all(|r| r.query.as_deref() == Some("waitForFinish=60")));
    }

    #[tokio::test]
    async fn a_bounded_wait_answers_the_last_state_and_a_missing_job_is_none() {
        let server = TestServer::start().await;
        server.script("/v2/actor-runs/r1", vec![job("RUNNING"); 20]);
        let client = test_pipeline(&server.url(""));
        let run = ResourceClient::item(&client, "actor-runs", "r1");
        let got: Value = run
            .wait_for_finish(Some(Duration::from_secs(1)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got["status"], "RUNNING");
        assert_eq!(
            server.requests()[0].query.as_deref(),
            Some("waitForFinish=1")
        );
        assert!(
            server.requests().len() <= 6,
            "paused between answers that did not hold"
        );

        // The test server answers unknown paths with 404 record-not-found.
        let missing = ResourceClient::item(&client, "actor-runs", "nope");
        let started = Instant::now();
        let got: Option<Value> = missing.wait_for_finish(None).await.unwrap();
        assert!(got.is_none());
        assert!(
            started.elapsed() >= NOT_FOUND_GRACE,
            "believed a 404 only after the grace"
        );

        // A wait shorter than the grace ends with the wait, not with the grace.
        let started = Instant::now();
        let got: Option<Value> = missing
            .wait_for_finish(Some(Duration::from_millis(200)))
            .await
            .unwrap();
        assert!(got.is_none());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < NOT_FOUND_GRACE,
            "took {took:?}"
        );
    }
}
