//! `ActorClient::call` follows the run's log only when a `tracing` subscriber is interested in
//! `apify.actor`, against the local API. One test, in a binary of its own: `tracing` caches
//! which callsites are enabled process-wide, so the scenario without a subscriber must run
//! before the one that installs the (global) subscriber, and nothing else may install one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_host::{
    models::{ActorJobStatus, RunInput},
    options::CallOptions,
    pipeline::HttpSettings,
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig, LoggedRequest};
use serde_json::json;

const TOKEN: &str = "call-log-token";

fn setup() -> (LocalApi, ApifyClient) {
    let mut config = LocalApiConfig::with_token(TOKEN);
    let actors = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/actors");
    config
        .load_actors_dir(std::path::Path::new(actors))
        .unwrap_or_else(|e| panic!("{e}"));
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
    (api, client)
}

/// The requests this client (not the Actor, which writes its storages through the same API)
/// sent since the API's `from`-th request.
fn requests_since(api: &LocalApi, from: usize) -> Vec<LoggedRequest> {
    api.request_log()
        .into_iter()
        .skip(from)
        .filter(|r| {
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("ApifyClient/"))
        })
        .collect()
}

fn describe(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| match &r.query {
            Some(q) => format!("{} {}?{q}", r.method, r.path),
            None => format!("{} {}", r.method, r.path),
        })
        .collect()
}

/// The messages of `apify.actor` events.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_follows_the_log_only_when_a_subscriber_listens() {
    let (api, client) = setup();
    let input = RunInput::Json(json!({ "items": [{ "n": 1 }] }));

    // No subscriber at all: the start and the wait, nothing else.
    let run = client
        .actor("echo")
        .call(Some(&input), &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{run:?}");
    let seen = describe(&requests_since(&api, 0));
    assert!(!seen.iter().any(|r| r.contains("/log")), "{seen:?}");
    assert_eq!(seen[0], "POST /v2/actors/echo/runs", "{seen:?}");
    let poll = format!("GET /v2/actor-runs/{}?waitForFinish=", run.id);
    assert!(
        seen[1..].iter().all(|r| r.starts_with(&poll)),
        "only the wait's polls after the start: {seen:?}"
    );
    assert_eq!(seen.len(), 2, "a short run is 2 requests: {seen:?}");

    // A subscriber for `apify.actor`: the log is followed into it, as before.
    let messages = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(ActorLogCapture(messages.clone()))
        .expect("no other global subscriber in this test binary");
    let from = api.request_log().len();
    let run = client
        .actor("echo")
        .call(Some(&input), &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{run:?}");
    let seen = describe(&requests_since(&api, from));
    let log = format!("GET /v2/actor-runs/{}/log?", run.id);
    assert!(
        seen.iter()
            .any(|r| r.starts_with(&log) && r.contains("stream=true")),
        "{seen:?}"
    );
    assert!(seen.len() > 2, "{seen:?}");
    let needle = format!("echo runId:{} -> ", run.id);
    let about: Vec<String> = messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(&needle))
        .cloned()
        .collect();
    assert!(
        about
            .iter()
            .any(|m| m.contains("got") && m.contains("bytes of input")),
        "{about:?}"
    );
}
