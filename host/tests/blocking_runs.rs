//! The blocking facade against the local API's Actors (real child processes from
//! `examples/actors/` and one-off commands): the run scenarios of
//! `tests/tests/run_lifecycle.rs` (which runs them through every transport) through
//! `apify_host::blocking`, on the builtin transport.

use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use apify_host::{
    blocking,
    models::{ActorJobStatus, RunInput},
    options::{CallOptions, ChargeOptions, ListItemsOptions, LogRedirect, StartOptions},
    pipeline::HttpSettings,
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig, LoggedRequest};
use serde_json::{json, Value};

const TOKEN: &str = "blocking-runs-token";

fn setup() -> (LocalApi, blocking::ApifyClient) {
    setup_with(|_| {})
}

/// A local API with the example Actors and `sleeper` (`sleep 30`, longer than any scenario),
/// and a blocking client for it.
fn setup_with(tune: impl FnOnce(&mut LocalApiConfig)) -> (LocalApi, blocking::ApifyClient) {
    let mut config = LocalApiConfig::with_token(TOKEN);
    let actors = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/actors");
    config
        .load_actors_dir(std::path::Path::new(actors))
        .unwrap_or_else(|e| panic!("{e}"));
    config
        .add_actor("sleeper=sleep 30")
        .unwrap_or_else(|e| panic!("{e}"));
    tune(&mut config);
    let api = LocalApi::start_on_own_thread(config, 1).expect("local API starts");
    let client = ApifyClient::builder()
        .token(TOKEN)
        .api_url(api.base_url())
        .settings(
            HttpSettings::default()
                .max_retries(2)
                .min_delay_between_retries(Duration::from_millis(10)),
        )
        .build()
        .expect("client builds");
    (api, blocking::ApifyClient::from_async(client).unwrap())
}

/// The `GET {path}?waitForFinish=N` polls the API received, oldest first.
fn polls(api: &LocalApi, path: &str) -> Vec<LoggedRequest> {
    api.request_log()
        .into_iter()
        .filter(|r| {
            r.method == "GET"
                && r.path == path
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.starts_with("waitForFinish="))
        })
        .collect()
}

fn quiet() -> CallOptions {
    CallOptions::new().log(LogRedirect::Off)
}

#[test]
fn call_returns_the_finished_run_after_several_polls() {
    // Polls held at most 1 s, a run of about 3 s.
    let (api, client) = setup_with(|c| c.max_wait_for_finish = Duration::from_secs(1));
    let input = RunInput::Json(json!({ "sleepSecs": 3, "items": [{ "n": 1 }] }));
    let started = Instant::now();
    let run = client.actor("echo").call(Some(&input), &quiet()).unwrap();
    let took = started.elapsed();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{run:?}");
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(30)).contains(&took),
        "took {took:?}"
    );
    let polls = polls(&api, &format!("/v2/actor-runs/{}", run.id));
    assert!(polls.len() >= 2, "{polls:?}");
    let items = client
        .run(&run.id)
        .dataset()
        .list_items::<Value>(&ListItemsOptions::new())
        .unwrap();
    assert_eq!(items.items, [json!({ "n": 1 })]);
}

#[test]
fn wait_for_finish_stops_at_its_limit_and_abort_ends_the_run() {
    let (api, client) = setup();
    let run = client
        .actor("sleeper")
        .start(None, &StartOptions::new())
        .unwrap();
    let run_client = client.run(&run.id);
    let started = Instant::now();
    let seen = run_client
        .wait_for_finish(Some(Duration::from_millis(1500)))
        .unwrap()
        .unwrap();
    assert_eq!(seen.status, ActorJobStatus::Running);
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(20)).contains(&took),
        "took {took:?}"
    );
    assert_eq!(polls(&api, &format!("/v2/actor-runs/{}", run.id)).len(), 1);

    // A graceful abort answers at once with ABORTING, as the API does; the run then ends.
    let aborted = run_client.abort(Some(true)).unwrap();
    assert!(
        matches!(
            aborted.status,
            ActorJobStatus::Aborting | ActorJobStatus::Aborted
        ),
        "{aborted:?}"
    );
    let finished = run_client.wait_for_finish(None).unwrap().unwrap();
    assert_eq!(finished.status, ActorJobStatus::Aborted);
}

#[test]
fn wait_for_finish_believes_a_404_only_after_the_grace() {
    let (api, client) = setup();
    let started = Instant::now();
    let got = client
        .run("NoSuchRun00000001")
        .wait_for_finish(None)
        .unwrap();
    assert!(got.is_none());
    let took = started.elapsed();
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(30)).contains(&took),
        "took {took:?}"
    );
    let polls = polls(&api, "/v2/actor-runs/NoSuchRun00000001");
    assert!(polls.len() >= 2, "{polls:?}");
    assert!(polls.iter().all(|p| p.status == Some(404)), "{polls:?}");
}

#[test]
fn wait_for_finish_finds_a_run_that_appears_during_the_grace() {
    let (api, client) = setup();
    let last = client.actor("echo").last_run(None, None);
    let waiter = std::thread::spawn(move || last.wait_for_finish(None));
    let alias = "/v2/actors/echo/runs/last";
    let deadline = Instant::now() + Duration::from_secs(10);
    while !polls(&api, alias).iter().any(|p| p.status == Some(404)) {
        assert!(Instant::now() < deadline, "the waiter never polled");
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = client
        .actor("echo")
        .start(Some(&json!({ "items": [] })), &StartOptions::new())
        .unwrap();
    let found = waiter.join().unwrap().unwrap().expect("the run is found");
    assert_eq!(found.id, run.id);
    assert_eq!(found.status, ActorJobStatus::Succeeded);
}

#[test]
fn charge_sends_its_idempotency_key_and_a_retry_counts_once() {
    let (api, client) = setup();
    let run = client
        .actor("sleeper")
        .start(None, &StartOptions::new())
        .unwrap();
    let run_client = client.run(&run.id);
    let keyed = ChargeOptions::new()
        .count(2)
        .idempotency_key("blocking-key");
    run_client.charge("item-processed", &keyed).unwrap();
    run_client.charge("item-processed", &keyed).unwrap();
    run_client
        .charge("item-processed", &ChargeOptions::new())
        .unwrap();
    let charged = run_client.get().unwrap().unwrap();
    assert_eq!(
        charged.extra["chargedEventCounts"],
        json!({ "item-processed": 3 })
    );
    run_client.abort(None).unwrap();
    let keys: Vec<String> = api
        .request_log()
        .into_iter()
        .filter(|r| r.path == format!("/v2/actor-runs/{}/charge", run.id))
        .map(|r| r.header("idempotency-key").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[..2], ["blocking-key", "blocking-key"]);
    assert!(
        keys[2].starts_with(&format!("{}-item-processed-", run.id)),
        "{keys:?}"
    );
}

#[test]
fn last_succeeded_run_dataset_goes_through_the_alias_path() {
    let (api, client) = setup();
    let echo = client.actor("echo");
    let good = echo
        .call(Some(&json!({ "items": [{ "ok": true }] })), &quiet())
        .unwrap();
    assert_eq!(good.status, ActorJobStatus::Succeeded);
    // Not JSON: the Actor's `jq` fails, and the last run is a failed one.
    let bad = echo
        .call(Some(&RunInput::raw("text/plain", "not json")), &quiet())
        .unwrap();
    assert_eq!(bad.status, ActorJobStatus::Failed, "{bad:?}");
    let items = echo
        .last_run(Some(ActorJobStatus::Succeeded), None)
        .dataset()
        .list_items::<Value>(&ListItemsOptions::new())
        .unwrap();
    assert_eq!(items.items, [json!({ "ok": true })]);
    let alias: Vec<LoggedRequest> = api
        .request_log()
        .into_iter()
        .filter(|r| r.path == "/v2/actors/echo/runs/last/dataset/items")
        .collect();
    assert_eq!(alias.len(), 1);
    let query = alias[0].query.as_deref().unwrap_or_default();
    assert!(query.split('&').any(|p| p == "status=SUCCEEDED"), "{query}");
}

/// The messages of `apify.actor` events, for every test of this binary. Written by hand: the
/// redirect logs from the facade's runtime thread, so a thread-local subscriber would miss it.
fn captured() -> &'static Arc<Mutex<Vec<String>>> {
    static CAPTURE: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let messages = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(ActorLogCapture(messages.clone()))
            .expect("no other global subscriber in this test binary");
        messages
    })
}

struct ActorLogCapture(Arc<Mutex<Vec<String>>>);

struct MessageField(String);

impl tracing::field::Visit for MessageField {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for ActorLogCapture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "apify.actor"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = MessageField(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn messages_about(id: &str) -> Vec<String> {
    let needle = format!("runId:{id} -> ");
    captured()
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(&needle))
        .cloned()
        .collect()
}

#[test]
fn the_log_is_followed_while_the_run_writes_it() {
    captured();
    let (_api, client) = setup();
    let run = client
        .actor("slow-fail")
        .start(
            Some(&json!({ "count": 5, "intervalSecs": "0.3" })),
            &StartOptions::new(),
        )
        .unwrap();
    let run_client = client.run(&run.id);

    // The raw stream: a first chunk while the run still runs.
    let mut raw = run_client.log().stream(true).unwrap().expect("the log");
    let mut buf = vec![0u8; 64 * 1024];
    let n = raw.read(&mut buf).unwrap();
    assert!(n > 0);
    let status = run_client.get().unwrap().unwrap().status;
    assert!(
        !status.is_terminal(),
        "the run ended before the first chunk"
    );
    let mut text = String::from_utf8_lossy(&buf[..n]).into_owned();

    let mut redirect = run_client.get_streamed_log(true).unwrap();
    redirect.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !messages_about(&run.id)
        .iter()
        .any(|m| m.contains("line 1 of 5"))
    {
        assert!(Instant::now() < deadline, "no line arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = run_client.get().unwrap().unwrap().status;
    assert!(
        !status.is_terminal(),
        "the first line came only when the run had ended ({status})"
    );

    let finished = run_client.wait_for_finish(None).unwrap().unwrap();
    assert_eq!(finished.status, ActorJobStatus::Failed);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !messages_about(&run.id)
        .iter()
        .any(|m| m.contains("failing now"))
    {
        assert!(Instant::now() < deadline, "{:?}", messages_about(&run.id));
        std::thread::sleep(Duration::from_millis(20));
    }
    redirect.stop().unwrap();
    let messages = messages_about(&run.id);
    for i in 1..=5 {
        assert!(
            messages
                .iter()
                .any(|m| m.contains(&format!("line {i} of 5"))),
            "line {i} missing: {messages:?}"
        );
    }

    // The raw stream ends with the run.
    raw.read_to_string(&mut text).unwrap();
    assert!(text.contains("line 5 of 5") && text.contains("Run finished: FAILED"));
    assert!(!text.contains(TOKEN));
}
