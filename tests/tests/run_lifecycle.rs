//! The life of an Actor run, through every transport, against the local API's Actors (real
//! child processes: `examples/actors/` and one-off commands): `call` polling until the run
//! ends, `wait_for_finish` with a limit and with a run that does not exist (yet), `abort`,
//! `charge` with its idempotency key, the last-run alias with a status filter, and the run's
//! log followed while the run writes it.
//!
//! Each case checks what the client answered and what it really sent (the local API's
//! request log).

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use apify_host::{
    models::{ActorJobStatus, RunInput},
    options::{CallOptions, ChargeOptions, ListItemsOptions, LogRedirect, StartOptions},
    pipeline::HttpSettings,
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig, LoggedRequest};
use apify_tests::{transport_tests, TransportUnderTest};
use futures_util::StreamExt;
use serde_json::{json, Value};

transport_tests! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    call_returns_the_finished_run_after_several_polls,
    wait_for_finish_stops_at_its_limit_and_abort_ends_the_run,
    wait_for_finish_believes_a_404_only_after_the_grace,
    wait_for_finish_finds_a_run_that_appears_during_the_grace,
    charge_sends_its_idempotency_key_and_a_retry_counts_once,
    last_succeeded_run_dataset_goes_through_the_alias_path,
    the_log_is_followed_while_the_run_writes_it,
}

const TOKEN: &str = "run-lifecycle-token";

/// Longer than any scenario here: a run still going then has hung.
const SLEEPER: &str = "sleeper=sleep 30";

/// A local API with the example Actors and [`SLEEPER`], and a client for it over `t`.
struct Rig {
    api: LocalApi,
    client: ApifyClient,
}

impl Rig {
    async fn start(t: TransportUnderTest) -> Rig {
        Self::start_with(t, |_| {}).await
    }

    async fn start_with(t: TransportUnderTest, tune: impl FnOnce(&mut LocalApiConfig)) -> Rig {
        let mut config = LocalApiConfig::with_token(TOKEN);
        let actors = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/actors");
        config
            .load_actors_dir(std::path::Path::new(actors))
            .unwrap_or_else(|e| panic!("{e}"));
        config.add_actor(SLEEPER).unwrap_or_else(|e| panic!("{e}"));
        tune(&mut config);
        let api = LocalApi::start(config).await.expect("local API starts");
        let client = ApifyClient::builder()
            .transport(t.transport)
            .api_url(api.base_url())
            .token(TOKEN)
            .settings(
                HttpSettings::default()
                    .max_retries(2)
                    .min_delay_between_retries(Duration::from_millis(10)),
            )
            .build()
            .expect("client builds");
        Rig { api, client }
    }

    /// The requests the API received for `path` (exactly), oldest first.
    fn requests_to(&self, method: &str, path: &str) -> Vec<LoggedRequest> {
        self.api
            .request_log()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// The `GET {path}?waitForFinish=N` polls the API received.
    fn polls(&self, path: &str) -> Vec<LoggedRequest> {
        self.requests_to("GET", path)
            .into_iter()
            .filter(|r| {
                r.query
                    .as_deref()
                    .is_some_and(|q| q.starts_with("waitForFinish="))
            })
            .collect()
    }
}

fn statuses(requests: &[LoggedRequest]) -> Vec<Option<u16>> {
    requests.iter().map(|r| r.status).collect()
}

async fn call_returns_the_finished_run_after_several_polls(t: TransportUnderTest) {
    // The API holds each poll at most 1 s, and the run lasts about 3 s.
    let rig = Rig::start_with(t, |c| c.max_wait_for_finish = Duration::from_secs(1)).await;
    let input = RunInput::Json(json!({ "sleepSecs": 3, "items": [{ "n": 1 }, { "n": 2 }] }));
    let started = Instant::now();
    let run = rig
        .client
        .actor("echo")
        .call(Some(&input), &CallOptions::new().log(LogRedirect::Off))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{run:?}");
    assert_eq!(run.exit_code, Some(0));
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(30)).contains(&took),
        "took {took:?}"
    );

    let starts = rig.requests_to("POST", "/v2/actors/echo/runs");
    assert_eq!(statuses(&starts), [Some(201)]);
    // `call` waits itself: the start asks the API to hold nothing.
    assert!(starts[0].query.is_none(), "{:?}", starts[0].query);
    let polls = rig.polls(&format!("/v2/actor-runs/{}", run.id));
    assert!(
        polls.len() >= 2,
        "one poll cannot see a 3 s run end: {polls:?}"
    );
    assert!(polls.iter().all(|p| p.status == Some(200)), "{polls:?}");

    let items = rig
        .client
        .run(&run.id)
        .dataset()
        .list_items::<Value>(&ListItemsOptions::new())
        .await
        .unwrap();
    assert_eq!(items.items, [json!({ "n": 1 }), json!({ "n": 2 })]);
}

async fn wait_for_finish_stops_at_its_limit_and_abort_ends_the_run(t: TransportUnderTest) {
    let rig = Rig::start(t).await;
    let sleeper = rig.client.actor("sleeper");
    let run = sleeper.start(None, &StartOptions::new()).await.unwrap();
    let client = rig.client.run(&run.id);

    let started = Instant::now();
    let seen = client
        .wait_for_finish(Some(Duration::from_millis(1500)))
        .await
        .unwrap()
        .expect("the run exists");
    let took = started.elapsed();
    assert_eq!(seen.status, ActorJobStatus::Running);
    // The API holds whole seconds: 1.5 s asks for 2.
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(20)).contains(&took),
        "took {took:?}"
    );
    let polls = rig.polls(&format!("/v2/actor-runs/{}", run.id));
    assert_eq!(polls[0].query.as_deref(), Some("waitForFinish=2"));
    assert_eq!(
        polls.len(),
        1,
        "the limit was over after one poll: {polls:?}"
    );

    // Forced abort: at once.
    let started = Instant::now();
    let aborted = client.abort(None).await.unwrap();
    assert_eq!(aborted.status, ActorJobStatus::Aborted, "{aborted:?}");
    assert!(aborted.finished_at.is_some());
    assert!(started.elapsed() < Duration::from_secs(20));
    let finished = client.wait_for_finish(None).await.unwrap().unwrap();
    assert_eq!(finished.status, ActorJobStatus::Aborted);

    // Graceful abort of a second run: answered at once with ABORTING, as the API does; SIGTERM
    // ends `sleep`, and the run is then ABORTED.
    let second = sleeper.start(None, &StartOptions::new()).await.unwrap();
    let aborted = rig.client.run(&second.id).abort(Some(true)).await.unwrap();
    assert!(
        matches!(
            aborted.status,
            ActorJobStatus::Aborting | ActorJobStatus::Aborted
        ),
        "{aborted:?}"
    );
    let ended = rig
        .client
        .run(&second.id)
        .wait_for_finish(None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, ActorJobStatus::Aborted);

    let aborts: Vec<(String, Option<String>, Option<u16>)> = rig
        .api
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/abort"))
        .map(|r| (r.path, r.query, r.status))
        .collect();
    assert_eq!(
        aborts,
        [
            (format!("/v2/actor-runs/{}/abort", run.id), None, Some(200)),
            (
                format!("/v2/actor-runs/{}/abort", second.id),
                Some("gracefully=true".to_owned()),
                Some(200)
            ),
        ]
    );
}

async fn wait_for_finish_believes_a_404_only_after_the_grace(t: TransportUnderTest) {
    let rig = Rig::start(t).await;
    let started = Instant::now();
    let got = rig
        .client
        .run("NoSuchRun00000001")
        .wait_for_finish(None)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(got.is_none());
    // The client's grace is 3 s.
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(30)).contains(&took),
        "took {took:?}"
    );
    let polls = rig.polls("/v2/actor-runs/NoSuchRun00000001");
    assert!(polls.len() >= 2, "asked again within the grace: {polls:?}");
    assert!(polls.iter().all(|p| p.status == Some(404)), "{polls:?}");
}

/// The last run of an Actor does not exist until the Actor runs: a wait on the alias that
/// starts before the run 404s at first, and must still find the run.
async fn wait_for_finish_finds_a_run_that_appears_during_the_grace(t: TransportUnderTest) {
    let rig = Rig::start(t).await;
    let last = rig.client.actor("echo").last_run(None, None);
    let waiter = tokio::spawn(async move { last.wait_for_finish(None).await });

    // Start the run once the waiter has been told that there is none.
    let alias = "/v2/actors/echo/runs/last";
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rig.polls(alias).iter().any(|p| p.status == Some(404)) {
        assert!(Instant::now() < deadline, "the waiter never polled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let run = rig
        .client
        .actor("echo")
        .start(Some(&json!({ "items": [] })), &StartOptions::new())
        .await
        .unwrap();

    let found = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the wait ends with the run")
        .unwrap()
        .unwrap()
        .expect("the run that appeared is found");
    assert_eq!(found.id, run.id);
    assert_eq!(found.status, ActorJobStatus::Succeeded);
    let polls = statuses(&rig.polls(alias));
    assert_eq!(polls.first(), Some(&Some(404)), "{polls:?}");
    assert_eq!(polls.last(), Some(&Some(200)), "{polls:?}");
}

async fn charge_sends_its_idempotency_key_and_a_retry_counts_once(t: TransportUnderTest) {
    let rig = Rig::start(t).await;
    // A running run is charged (an Actor without pricing takes any event).
    let run = rig
        .client
        .actor("sleeper")
        .start(None, &StartOptions::new())
        .await
        .unwrap();
    let client = rig.client.run(&run.id);
    let keyed = ChargeOptions::new()
        .count(2)
        .idempotency_key("lifecycle-key-1");
    client.charge("item-processed", &keyed).await.unwrap();
    // A retry of the same charge: the same key, counted once.
    client.charge("item-processed", &keyed).await.unwrap();
    // Two new charges: each with a new generated key.
    for _ in 0..2 {
        client
            .charge("item-processed", &ChargeOptions::new())
            .await
            .unwrap();
    }
    let charged = client.get().await.unwrap().unwrap();
    assert_eq!(
        charged.extra["chargedEventCounts"],
        json!({ "item-processed": 2 + 1 + 1 })
    );
    client.abort(None).await.unwrap();

    let charges = rig.requests_to("POST", &format!("/v2/actor-runs/{}/charge", run.id));
    assert_eq!(statuses(&charges), [Some(201); 4]);
    let keys: Vec<&str> = charges
        .iter()
        .map(|r| r.header("idempotency-key").expect("idempotency-key sent"))
        .collect();
    assert_eq!(keys[..2], ["lifecycle-key-1", "lifecycle-key-1"]);
    let generated = format!("{}-item-processed-", run.id);
    assert!(
        keys[2..].iter().all(|k| k.starts_with(&generated)),
        "{keys:?}"
    );
    assert_ne!(keys[2], keys[3]);
}

async fn last_succeeded_run_dataset_goes_through_the_alias_path(t: TransportUnderTest) {
    let rig = Rig::start(t).await;
    let echo = rig.client.actor("echo");
    let quiet = CallOptions::new().log(LogRedirect::Off);
    let good = echo
        .call(Some(&json!({ "items": [{ "ok": true }] })), &quiet)
        .await
        .unwrap();
    assert_eq!(good.status, ActorJobStatus::Succeeded);
    // Input that is not JSON makes the Actor's `jq` fail: the last run is a failed one.
    let bad = echo
        .call(Some(&RunInput::raw("text/plain", "not json")), &quiet)
        .await
        .unwrap();
    assert_eq!(bad.status, ActorJobStatus::Failed, "{bad:?}");

    let last = echo.last_run(None, None).get().await.unwrap().unwrap();
    assert_eq!(last.id, bad.id);
    let items = echo
        .last_run(Some(ActorJobStatus::Succeeded), None)
        .dataset()
        .list_items::<Value>(&ListItemsOptions::new())
        .await
        .unwrap();
    assert_eq!(items.items, [json!({ "ok": true })]);

    let alias = rig.requests_to("GET", "/v2/actors/echo/runs/last/dataset/items");
    assert_eq!(statuses(&alias), [Some(200)]);
    let query = alias[0].query.as_deref().unwrap_or_default();
    assert!(query.split('&').any(|p| p == "status=SUCCEEDED"), "{query}");
}

/// Everything `tracing` logs in this test binary, as text (one global subscriber: the log
/// redirect logs from tasks on the runtime's worker threads).
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static CAPTURE: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || CaptureWriter(sink.clone()))
            .try_init()
            .expect("no other global subscriber in this test binary");
        buffer
    })
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured lines about run `id` (tests run in parallel and share the capture).
fn lines_about(id: &str) -> Vec<String> {
    let needle = format!("runId:{id} -> ");
    String::from_utf8_lossy(&captured_logs().lock().unwrap())
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

async fn the_log_is_followed_while_the_run_writes_it(t: TransportUnderTest) {
    captured_logs();
    let rig = Rig::start(t).await;
    // Five lines 0.3 s apart, then exit 1.
    let input = json!({ "count": 5, "intervalSecs": "0.3" });
    let run = rig
        .client
        .actor("slow-fail")
        .start(Some(&input), &StartOptions::new())
        .await
        .unwrap();
    let client = rig.client.run(&run.id);

    // The raw log stream delivers its first chunk while the run still runs.
    let mut raw = client
        .log()
        .stream(true)
        .await
        .unwrap()
        .expect("the log exists");
    let first = raw.next().await.expect("a first chunk").unwrap();
    assert!(!first.is_empty());
    let status = client.get().await.unwrap().unwrap().status;
    assert!(
        !status.is_terminal(),
        "the run ended before the first chunk"
    );

    let mut redirect = client.get_streamed_log(true).await.unwrap();
    redirect.start();
    // A line reaches `tracing` while the run is still going.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !lines_about(&run.id)
        .iter()
        .any(|l| l.contains("line 1 of 5"))
    {
        assert!(
            Instant::now() < deadline,
            "no line arrived: {:?}",
            lines_about(&run.id)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = client.get().await.unwrap().unwrap().status;
    assert!(
        !status.is_terminal(),
        "the first line came only when the run had ended ({status})"
    );

    let finished = client.wait_for_finish(None).await.unwrap().unwrap();
    assert_eq!(finished.status, ActorJobStatus::Failed);
    // Every line, in order, once the run is over.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !lines_about(&run.id)
        .iter()
        .any(|l| l.contains("failing now"))
    {
        assert!(Instant::now() < deadline, "{:?}", lines_about(&run.id));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redirect.stop().await;
    let lines = lines_about(&run.id);
    let numbered: Vec<usize> = (1..=5)
        .map(|i| {
            lines
                .iter()
                .position(|l| l.contains(&format!("line {i} of 5")))
                .unwrap_or_else(|| panic!("line {i} missing: {lines:?}"))
        })
        .collect();
    assert!(numbered.is_sorted(), "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("apify.actor")
                && l.contains(&format!("slow-fail runId:{} -> ", run.id))),
        "{lines:?}"
    );

    // The raw stream follows to the run's end, and then ends too.
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(15), raw.next())
        .await
        .expect("the stream ends with the run")
    {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(text.contains("line 5 of 5"), "{text}");
    assert!(text.contains("Run finished: FAILED"), "{text}");
    assert!(!text.contains(TOKEN), "the token never reaches the log");
}
