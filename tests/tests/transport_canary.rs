//! A canary transport (`[transport.canary]`, `ApifyClient::set_canary`): it takes its share of
//! the calls, a failure on it never fails a call, and one that keeps failing is rolled back by
//! itself. Real plugins through the real loader, against the local API on 127.0.0.1.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use apify_host::{
    pipeline::{CanaryPolicy, HttpSettings, TransportRole, TransportStatistics},
    transport::{BuiltinTransport, HttpTransport},
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig};
use apify_tests::{pipeline_support::LogCapture, plugin_path};

const TOKEN: &str = "canary-token";

/// `calls` dataset reads with `in_flight` of them at a time; answers how many failed.
async fn run_calls(client: &ApifyClient, dataset: &str, calls: u64, in_flight: u64) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (client, id) = (client.clone(), dataset.to_string());
            let (next, failed) = (next.clone(), failed.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    if let Err(e) = client.dataset(&id).get().await {
                        eprintln!("call failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    failed.load(Ordering::Relaxed)
}

fn by_role(stats: &[TransportStatistics], role: TransportRole) -> Vec<&TransportStatistics> {
    stats.iter().filter(|s| s.role == role).collect()
}

/// A config file at `path`: the local API at `url`, the built-in transport or `primary`,
/// and a `[transport.canary]` table when `canary` is given (its body, after the header).
fn write_config(path: &Path, url: &str, primary: Option<&Path>, canary: Option<&str>) {
    let mut text = format!("api_url = \"{url}\"\ntoken = \"{TOKEN}\"\n[transport]\n");
    if let Some(p) = primary {
        text.push_str(&format!("plugin = \"{}\"\n", p.display()));
    }
    if let Some(c) = canary {
        text.push_str(&format!("[transport.canary]\n{c}\n"));
    }
    apify_tests::install_config(path, &text);
}

async fn dataset(client: &ApifyClient, name: &str) -> String {
    client
        .datasets()
        .get_or_create(Some(name), None)
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_from_the_config_takes_its_share_of_2000_calls() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let reqwest = plugin_path("apify_transport_reqwest");
    write_config(
        &config,
        &api.base_url(),
        None,
        Some(&format!("plugin = \"{}\"\nshare = 0.25", reqwest.display())),
    );
    let client = apify_host::ApifyClientBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let id = dataset(&client, "share").await;
    let before = client.transport_statistics();
    let failed = run_calls(&client, &id, 2000, 16).await;
    assert_eq!(failed, 0);

    let stats = client.transport_statistics();
    let (primary, canary) = (
        by_role(&stats, TransportRole::Primary),
        by_role(&stats, TransportRole::Canary),
    );
    assert_eq!(primary.len(), 1, "{stats:?}");
    assert_eq!(canary.len(), 1, "{stats:?}");
    assert_eq!(
        (primary[0].name.as_str(), canary[0].name.as_str()),
        ("builtin", "plugin:reqwest")
    );
    let counted = |s: &[TransportStatistics], role| by_role(s, role)[0].calls;
    let to_canary = canary[0].calls - counted(&before, TransportRole::Canary);
    let to_primary = primary[0].calls - counted(&before, TransportRole::Primary);
    assert_eq!(to_canary + to_primary, 2000, "{stats:?}");
    let share = to_canary as f64 / 2000.0;
    eprintln!("canary share over 2000 calls: {share} ({to_canary} calls)");
    assert!((share - 0.25).abs() <= 0.05, "share {share}");
    assert!(!canary[0].rolled_back);
    assert!(canary[0].latency_p50.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_every_call_is_rolled_back_and_no_call_fails() {
    let logs = LogCapture::global();
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    // No retries at all: the fall-back from a failed canary must not need one.
    let client = ApifyClient::builder()
        .transport(Arc::new(BuiltinTransport::new().unwrap()))
        .api_url(api.base_url())
        .token(TOKEN)
        .settings(HttpSettings::default().max_retries(0))
        .build()
        .unwrap();
    let id = dataset(&client, "rollback").await;
    // Every exchange of this canary goes to a proxy on a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let plugin = apify_host::transport::plugin::load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &Default::default(),
    )
    .unwrap();
    let broken: Arc<dyn HttpTransport> = Arc::new(
        plugin
            .new_client(&serde_json::json!({ "proxy": format!("http://{closed}") }))
            .unwrap(),
    );
    let none = client
        .set_canary(broken, CanaryPolicy::new(0.2))
        .unwrap()
        .drained()
        .await;
    assert!(none.transports.is_empty(), "there was no canary before");

    let failed = run_calls(&client, &id, 2000, 8).await;
    assert_eq!(failed, 0, "a failing canary costs no call");

    let stats = client.transport_statistics();
    assert!(
        by_role(&stats, TransportRole::Canary).is_empty(),
        "{stats:?}"
    );
    let retired = by_role(&stats, TransportRole::Retired);
    assert_eq!(retired.len(), 1, "{stats:?}");
    let canary = retired[0];
    eprintln!("after 2000 calls: {stats:#?}");
    assert!(canary.rolled_back, "{canary:?}");
    assert_eq!(canary.name, "plugin:reqwest");
    // Rolled back after its window of 20 failures; calls already on it then fail too, and
    // each goes on on the primary.
    let failures: u64 = canary.failed_calls.iter().map(|(_, n)| n).sum();
    assert_eq!(failures, canary.calls, "{canary:?}");
    assert!((20..=28).contains(&failures), "{canary:?}");
    assert_eq!(canary.failed_calls[0].0, "connect", "{canary:?}");
    let primary = by_role(&stats, TransportRole::Primary)[0];
    assert_eq!(primary.calls, 2001, "{stats:?}");
    assert_eq!(client.statistics().calls, 2001);

    let text = logs.text();
    let warnings: Vec<_> = text
        .lines()
        .filter(|l| l.contains("canary transport rolled back"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("20 of its last 20 exchanges failed"),
        "{}",
        warnings[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_changes_promotes_and_removes_the_canary() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let url = api.base_url();
    let reqwest = plugin_path("apify_transport_reqwest");
    let canary = |share: f64| format!("plugin = \"{}\"\nshare = {share}", reqwest.display());
    write_config(&config, &url, None, None);
    let client = apify_host::ApifyClientBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let id = dataset(&client, "reload-canary").await;
    let roles = |client: &ApifyClient| -> Vec<(String, TransportRole)> {
        client
            .transport_statistics()
            .into_iter()
            .filter(|s| s.role != TransportRole::Retired)
            .map(|s| (s.name, s.role))
            .collect()
    };

    // A canary appears: the primary stays as it is (nothing of it drains).
    write_config(&config, &url, None, Some(&canary(0.5)));
    let swap = client.reload_transport().await.unwrap().expect("a canary");
    assert!(swap.old_transports().is_empty());
    assert_eq!(
        roles(&client),
        [
            ("builtin".into(), TransportRole::Primary),
            ("plugin:reqwest".into(), TransportRole::Canary)
        ]
    );
    assert_eq!(run_calls(&client, &id, 100, 4).await, 0);
    assert!(client.reload_transport().await.unwrap().is_none());

    // Its share changes: a new canary client, the old one drains.
    write_config(&config, &url, None, Some(&canary(0.1)));
    let swap = client
        .reload_transport()
        .await
        .unwrap()
        .expect("a new share");
    assert_eq!(swap.old_transports(), ["plugin:reqwest"]);
    assert_eq!(swap.drained().await.cut, 0);

    // A bad canary (out of range, then a file that is not there): nothing changes.
    write_config(&config, &url, None, Some(&canary(1.5)));
    let e = client.reload_transport().await.unwrap_err();
    assert!(
        e.to_string().contains("[transport.canary] share = 1.5"),
        "{e}"
    );
    write_config(
        &config,
        &url,
        None,
        Some("plugin = \"/nonexistent/canary.so\"\nshare = 0.1"),
    );
    let e = client.reload_transport().await.unwrap_err();
    assert!(e.to_string().contains("/nonexistent/canary.so"), "{e}");
    assert_eq!(roles(&client).len(), 2);
    assert_eq!(run_calls(&client, &id, 50, 4).await, 0);

    // Promoted: the canary's plugin is the primary now, and there is no canary.
    write_config(&config, &url, Some(&reqwest), None);
    let swap = client.reload_transport().await.unwrap().expect("promoted");
    assert_eq!(swap.old_transports(), ["builtin", "plugin:reqwest"]);
    let report = swap.drained().await;
    assert_eq!((report.transports.len(), report.cut), (2, 0));
    assert_eq!(
        roles(&client),
        [("plugin:reqwest".into(), TransportRole::Primary)]
    );
    assert_eq!(run_calls(&client, &id, 50, 4).await, 0);

    // A canary set by hand: the next reload puts the config's lineup (no canary) back.
    let _ = client
        .set_canary(
            Arc::new(BuiltinTransport::new().unwrap()),
            CanaryPolicy::new(0.5),
        )
        .unwrap();
    assert_eq!(roles(&client).len(), 2);
    let swap = client.reload_transport().await.unwrap().expect("by hand");
    assert_eq!(swap.old_transports(), ["builtin"]);
    assert_eq!(roles(&client).len(), 1);
    // An out-of-range policy by hand is refused and changes nothing.
    let e = client
        .set_canary(
            Arc::new(BuiltinTransport::new().unwrap()),
            CanaryPolicy::new(0.5).window(0),
        )
        .unwrap_err();
    assert!(e.is_config() && e.to_string().contains("window = 0"), "{e}");
    assert_eq!(roles(&client).len(), 1);
}

/// A canary that fails every exchange with `kind` (after "sending" it: no I/O at all).
struct Failing(apify_host::transport::TransportErrorKind);

impl HttpTransport for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn call(
        &self,
        _request: apify_host::transport::TransportRequest,
    ) -> apify_host::transport::CallFuture {
        let kind = self.0;
        Box::pin(async move {
            Err(apify_host::transport::TransportError::new(
                kind,
                "the canary broke while reading the answer",
            ))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_the_canary_may_have_sent_is_not_sent_again_on_the_primary() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let client = ApifyClient::builder()
        .transport(Arc::new(BuiltinTransport::new().unwrap()))
        .api_url(api.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    let id = dataset(&client, "post-once").await;
    let _ = client
        .set_canary(
            Arc::new(Failing(apify_host::transport::TransportErrorKind::PROTOCOL)),
            CanaryPolicy::new(1.0).window(1000),
        )
        .unwrap();
    // A GET can be sent again safely: it goes on on the primary.
    client.dataset(&id).get().await.unwrap().unwrap();
    // A POST that failed in a way that is not retried may have been acted on: its error is
    // the caller's, as on the primary, and the server saw it at most once.
    let before = api.request_log().len();
    let e = client
        .dataset(&id)
        .push_items(&serde_json::json!({ "n": 1 }))
        .await
        .unwrap_err();
    assert_eq!(
        e.transport_error_kind(),
        Some(apify_host::transport::TransportErrorKind::PROTOCOL),
        "{e}"
    );
    assert_eq!(
        api.request_log().len(),
        before,
        "nothing reached the server"
    );
    // A failure before sending (connect) falls back, POST or not.
    let _ = client
        .set_canary(
            Arc::new(Failing(apify_host::transport::TransportErrorKind::CONNECT)),
            CanaryPolicy::new(1.0).window(1000),
        )
        .unwrap();
    client
        .dataset(&id)
        .push_items(&serde_json::json!({ "n": 2 }))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_after_a_swap_keeps_the_new_primary_and_promotion_keeps_the_canary() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let client = ApifyClient::builder()
        .transport(Arc::new(BuiltinTransport::new().unwrap()))
        .api_url(api.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    let id = dataset(&client, "rollback-after-swap").await;
    let _ = client
        .set_canary(
            Arc::new(Failing(apify_host::transport::TransportErrorKind::CONNECT)),
            CanaryPolicy::new(0.5),
        )
        .unwrap();
    // The primary changes, the canary stays; then the canary is rolled back.
    let swap = client.swap_transport(apify_tests::reqwest_plugin());
    assert_eq!(swap.old_transports(), ["builtin"]);
    assert_eq!(run_calls(&client, &id, 200, 4).await, 0);
    let stats = client.transport_statistics();
    let primary = by_role(&stats, TransportRole::Primary);
    assert_eq!(primary[0].name, "plugin:reqwest", "{stats:?}");
    assert!(stats.iter().any(|s| s.name == "failing" && s.rolled_back));
    assert_eq!(client.transport_name(), "plugin:reqwest");

    // A healthy canary promoted: the same transport, its counters go on.
    let _ = client
        .set_canary(
            Arc::new(BuiltinTransport::new().unwrap()),
            CanaryPolicy::new(0.5),
        )
        .unwrap();
    assert_eq!(run_calls(&client, &id, 100, 4).await, 0);
    let served = by_role(&client.transport_statistics(), TransportRole::Canary)[0].calls;
    assert_eq!(served, 50);
    let swap = client.promote_canary();
    assert_eq!(swap.old_transports(), ["plugin:reqwest"]);
    assert_eq!(swap.drained().await.cut, 0);
    let stats = client.transport_statistics();
    let roles: Vec<_> = stats
        .iter()
        .filter(|s| s.role != TransportRole::Retired)
        .map(|s| (s.name.as_str(), s.role, s.calls))
        .collect();
    assert_eq!(
        roles,
        [("builtin", TransportRole::Primary, 50)],
        "{stats:?}"
    );
    assert_eq!(run_calls(&client, &id, 10, 2).await, 0);
    // Without a canary, promotion changes nothing.
    assert!(client.promote_canary().old_transports().is_empty());
}
