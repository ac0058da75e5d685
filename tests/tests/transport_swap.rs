//! Swapping a running client's transport (`ApifyClient::swap_transport`): calls in flight
//! finish on the old transport, new ones go to the new one at once, nothing fails, and the old
//! transport is closed once drained. Real plugins through the real loader, against the local
//! API and testkit servers on 127.0.0.1.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use apify_host::{
    options::ListItemsOptions,
    pipeline::{HttpSettings, TransportRole},
    prelude::*,
    transport::{BuiltinTransport, HttpTransport},
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig};
use apify_tests::{hyper_plugin, noise, reqwest_plugin};
use sha2::{Digest, Sha256};

const TOKEN: &str = "swap-token";

async fn local_api() -> (LocalApi, ApifyClient) {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .expect("local API starts");
    let client = ApifyClient::builder()
        .transport(Arc::new(BuiltinTransport::new().unwrap()))
        .api_url(api.base_url())
        .token(TOKEN)
        .settings(
            HttpSettings::default()
                .max_retries(3)
                .min_delay_between_retries(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    (api, client)
}

/// Makes a fresh transport for a swap.
type MakeTransport = fn() -> Arc<dyn HttpTransport>;

fn builtin() -> Arc<dyn HttpTransport> {
    Arc::new(BuiltinTransport::new().unwrap())
}

/// Stores `len` incompressible bytes as record `big` of store `store`, and opens it as a
/// stream: the stream and the sha256 it must end with.
async fn stored_record(
    client: &ApifyClient,
    store: &str,
    len: usize,
) -> (apify_host::clients::RecordStream, String) {
    let store = client
        .key_value_stores()
        .get_or_create(Some(store), None)
        .await
        .unwrap();
    let big = noise(len);
    let expected = hex::encode(Sha256::digest(&big));
    let kvs = client.key_value_store(&store.id);
    kvs.set_record("big", big, Some("application/octet-stream"))
        .await
        .unwrap();
    let record = kvs.stream_record("big").await.unwrap();
    (record.expect("the record exists"), expected)
}

/// Reads `stream` to its end slowly (a pause every 4 MiB), answering its sha256 and length.
/// After its first 4 MiB it waits for `hold` too, so that the test, not the machine's speed,
/// decides how long the download outlives what the test does meanwhile.
async fn slow_sha256<S>(
    mut stream: S,
    pause: Duration,
    hold: tokio::sync::oneshot::Receiver<()>,
) -> (String, u64)
where
    S: Stream<Item = apify_host::Result<bytes::Bytes>> + Unpin,
{
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut next_pause = 4 << 20;
    let mut hold = Some(hold);
    while let Some(chunk) = stream.try_next().await.expect("the download goes on") {
        hasher.update(&chunk);
        len += chunk.len() as u64;
        if len >= next_pause {
            next_pause += 4 << 20;
            if let Some(hold) = hold.take() {
                hold.await.expect("the test releases the download");
            }
            tokio::time::sleep(pause).await;
        }
    }
    (hex::encode(hasher.finalize()), len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_32_calls_in_flight_lose_no_call_and_a_64_mib_download_ends_exact() {
    let (_api, client) = local_api().await;
    let ds = client
        .datasets()
        .get_or_create(Some("swap"), None)
        .await
        .unwrap();
    let items: Vec<_> = (0..50).map(|n| serde_json::json!({ "n": n })).collect();
    client
        .dataset(&ds.id)
        .push_items(&serde_json::Value::Array(items))
        .await
        .unwrap();
    // The download starts on the built-in transport and is read slowly across every swap.
    let (record, expected) = stored_record(&client, "swap", 64 << 20).await;
    // Held after its first 4 MiB until the three swaps are done, then 15 pauses of 120 ms.
    let (release, hold) = tokio::sync::oneshot::channel();
    let download = tokio::spawn(slow_sha256(record, Duration::from_millis(120), hold));

    // 32 calls in flight all along.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (client, id) = (client.clone(), ds.id.clone());
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                let opts = ListItemsOptions::new().limit(10);
                while !stop.load(Ordering::Relaxed) {
                    match client
                        .dataset(&id)
                        .list_items::<serde_json::Value>(&opts)
                        .await
                    {
                        Ok(page) if page.items.len() == 10 => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(page) => panic!("a page of {} items", page.items.len()),
                        Err(e) => {
                            eprintln!("a call failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();

    let mut drains = Vec::new();
    let mut served = Vec::new();
    let sequence: [(&str, MakeTransport); 3] = [
        ("plugin:reqwest", reqwest_plugin),
        ("plugin:hyper", hyper_plugin),
        ("builtin", builtin),
    ];
    for (name, make) in sequence {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let before = ok.load(Ordering::Relaxed);
        let swap = client.swap_transport(make());
        assert_eq!(client.transport_name(), name);
        served.push((swap.old_transport().to_string(), before));
        drains.push(tokio::spawn(swap.drained()));
        let stats = client.transport_statistics();
        assert_eq!(stats[0].name, name);
        assert_eq!(stats[0].role, TransportRole::Primary);
    }
    assert!(
        !drains[0].is_finished(),
        "the download started on the built-in transport still holds it after the third swap"
    );
    release.send(()).expect("the download waits");
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let started = Instant::now();
    let (sha, len) = download.await.unwrap();
    let mut reports = Vec::new();
    for d in drains {
        reports.push(d.await.unwrap());
    }
    let calls = ok.load(Ordering::Relaxed);
    eprintln!(
        "{calls} calls, {} failed; swaps (old transport, calls so far): {served:?}; drains: \
         {reports:?} (the last ended {:?} after the workers)",
        failed.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no call fails");
    assert_eq!(len, 64 << 20);
    assert_eq!(sha, expected, "the download ends exact");
    assert!(
        reports.iter().all(|r| r.cut == 0),
        "everything finished within the drain: {reports:?}"
    );
    // Drained transports are gone from the statistics: only the one in service is left.
    let stats = client.transport_statistics();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].name, "builtin");
    assert!(
        stats[0].calls > 0 && stats[0].latency_p50.is_some(),
        "{stats:?}"
    );
    assert!(calls > 100, "the workers kept calling: {calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_drain_deadline_a_download_left_on_the_old_transport_resumes_on_the_new_one() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let client = ApifyClient::builder()
        .transport(reqwest_plugin())
        .api_url(api.base_url())
        .token(TOKEN)
        .settings(
            HttpSettings::default()
                .min_delay_between_retries(Duration::from_millis(10))
                .drain_timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let (record, expected) = stored_record(&client, "deadline", 32 << 20).await;
    // Held after its first 4 MiB until the drain's report: it outlives the 300 ms drain, so
    // the rest of it is cut and resumed.
    let (release, hold) = tokio::sync::oneshot::channel();
    let download = tokio::spawn(slow_sha256(record, Duration::from_millis(150), hold));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = client.swap_transport(builtin()).drained().await;
    release.send(()).expect("the download waits");
    assert_eq!(report.transports, ["plugin:reqwest"]);
    assert_eq!(report.cut, 1, "the download was still running: {report:?}");
    let (sha, len) = download.await.unwrap();
    assert_eq!(len, 32 << 20);
    assert_eq!(sha, expected, "resumed on the new transport, exact");
    let resumed = api
        .request_log()
        .into_iter()
        .filter(|r| r.path.ends_with("/records/big") && r.method == "GET")
        .count();
    assert!(resumed >= 2, "a second GET resumed the record: {resumed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_plugin_client_closes_its_connections_after_its_drain() {
    let server = testkit::TestServer::start().await;
    server.script("/v2/ping", vec![testkit::Action::status(200); 4]);
    let client = ApifyClient::builder()
        .transport(reqwest_plugin())
        .api_url(server.url(""))
        .token(TOKEN)
        .build()
        .unwrap();
    for _ in 0..3 {
        client
            .request(http::Method::GET, "/v2/ping")
            .send()
            .await
            .unwrap();
    }
    let conns: std::collections::BTreeSet<usize> =
        server.requests().iter().map(|r| r.connection).collect();
    assert!(!conns.is_empty());
    assert!(
        server.closed_by_peer().is_empty(),
        "the pool keeps its connections while the plugin serves"
    );
    let report = client.swap_transport(builtin()).drained().await;
    assert_eq!(
        (report.transports.join(","), report.cut),
        ("plugin:reqwest".to_string(), 0)
    );
    for id in conns {
        assert!(
            server.wait_closed_by_peer(id, Duration::from_secs(5)).await,
            "connection {id} of the old plugin client was closed"
        );
    }
    // The new transport serves.
    client
        .request(http::Method::GET, "/v2/ping")
        .send()
        .await
        .unwrap();
}

/// A config file at `path` naming the local API at `url` and, if given, a plugin.
fn write_config(
    path: &std::path::Path,
    url: &str,
    plugin: Option<(&std::path::Path, Option<&str>)>,
) {
    let mut text = format!("api_url = \"{url}\"\ntoken = \"{TOKEN}\"\n");
    if let Some((plugin, pin)) = plugin {
        text.push_str(&format!("[transport]\nplugin = \"{}\"\n", plugin.display()));
        if let Some(pin) = pin {
            text.push_str(&format!("sha256 = \"{pin}\"\n"));
        }
    }
    apify_tests::install_config(path, &text);
}

/// Copies `from` to `to` through a temporary file and a rename, as a deployment would.
fn install(from: &std::path::Path, to: &std::path::Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_when_the_config_or_the_plugin_bytes_change_and_a_bad_reload_changes_nothing()
{
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let plugin = dir.path().join("transport.so");
    write_config(&config, &api.base_url(), None);
    let client = apify_host::ApifyClientBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let works = |client: ApifyClient| async move {
        client
            .datasets()
            .get_or_create(Some("reload"), None)
            .await
            .expect("the transport in service serves")
    };
    assert_eq!(client.transport_name(), "builtin");
    assert!(
        client.reload_transport().await.unwrap().is_none(),
        "nothing changed"
    );

    // The config now names a plugin: a swap.
    install(
        &apify_tests::plugin_path("apify_transport_reqwest"),
        &plugin,
    );
    write_config(&config, &api.base_url(), Some((&plugin, None)));
    let swap = client.reload_transport().await.unwrap().expect("a change");
    assert_eq!(swap.old_transport(), "builtin");
    assert_eq!(client.transport_name(), "plugin:reqwest");
    works(client.clone()).await;
    assert_eq!(swap.drained().await.cut, 0);
    assert!(
        client.reload_transport().await.unwrap().is_none(),
        "nothing changed"
    );

    // The same path, new bytes (an upgrade in place): a change too.
    install(&apify_tests::plugin_path("apify_transport_hyper"), &plugin);
    let swap = client.reload_transport().await.unwrap().expect("new bytes");
    assert_eq!(client.transport_name(), "plugin:hyper");
    swap.drained().await;
    works(client.clone()).await;

    // A wrong pin: refused, and the transport in service keeps serving.
    let pin = "0".repeat(64);
    write_config(&config, &api.base_url(), Some((&plugin, Some(&pin))));
    let e = client.reload_transport().await.unwrap_err();
    assert!(e.is_plugin_load() || e.is_config(), "{e}");
    assert!(e.to_string().contains("sha256"), "the error says why: {e}");
    assert_eq!(client.transport_name(), "plugin:hyper");
    works(client.clone()).await;
    // A config that does not parse: the same.
    std::fs::write(&config, "api_url = [").unwrap();
    let e = client.reload_transport().await.unwrap_err();
    assert!(e.is_config(), "{e}");
    assert_eq!(client.transport_name(), "plugin:hyper");
    works(client.clone()).await;

    // A client with a transport of its own has nothing to reload from.
    let own = client.with_custom_http_client(builtin());
    let e = own.reload_transport().await.unwrap_err();
    assert_eq!(e.kind(), apify_host::ErrorKind::Misuse, "{e}");
}

#[test]
fn the_blocking_client_swaps_reloads_and_waits_for_the_drain() {
    let api = LocalApi::start_on_own_thread(LocalApiConfig::with_token(TOKEN), 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    write_config(&config, &api.base_url(), None);
    let client = apify_host::blocking::ApifyClient::from_async(
        apify_host::ApifyClientBuilder::from_config(&config)
            .unwrap()
            .build()
            .unwrap(),
    )
    .unwrap();
    let ds = client
        .datasets()
        .get_or_create(Some("blocking-swap"), None)
        .unwrap();

    let swap = client.swap_transport(reqwest_plugin());
    assert_eq!(client.transport_name(), "plugin:reqwest");
    assert!(client.dataset(&ds.id).get().unwrap().is_some());
    let report = client.wait_drained(swap).unwrap();
    assert_eq!(
        (report.transports.join(","), report.cut),
        ("builtin".into(), 0)
    );
    let stats = client.transport_statistics();
    assert_eq!((stats.len(), stats[0].calls), (1, 1), "{stats:?}");

    // After a swap by hand, a reload puts the config's transport (built-in) back.
    let swap = client
        .reload_transport()
        .unwrap()
        .expect("back to the config's transport");
    assert_eq!(client.transport_name(), "builtin");
    assert_eq!(
        client.wait_drained(swap).unwrap().transports,
        ["plugin:reqwest"]
    );
    assert!(
        client.reload_transport().unwrap().is_none(),
        "nothing changed"
    );
    write_config(
        &config,
        &api.base_url(),
        Some((&apify_tests::plugin_path("apify_transport_hyper"), None)),
    );
    let swap = client
        .reload_transport()
        .unwrap()
        .expect("the config changed");
    assert_eq!(client.transport_name(), "plugin:hyper");
    assert_eq!(client.wait_drained(swap).unwrap().transports, ["builtin"]);
    assert!(client.dataset(&ds.id).get().unwrap().is_some());
}
