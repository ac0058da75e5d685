//! The `worker` example is a long-running program: it processes a request queue while ops
//! swap its transport by editing its config and sending SIGHUP, and read its per-transport
//! statistics with SIGUSR1. This runs the example binary that `cargo test` builds, under load,
//! against the local API on 127.0.0.1, with the reqwest plugin through the real loader.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use apify_host::{models::Dataset, ApifyClient};
use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::Value;

const TOKEN: &str = "worker-token";
const REQUESTS: usize = 3000;

/// `target/<profile>/examples/worker`, built here when only this test target was asked for.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("examples").join("worker");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "apify-host", "--example", "worker"]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "building the example");
    }
    assert!(bin.is_file(), "{} is missing", bin.display());
    bin
}

fn reqwest_plugin() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let so = deps.parent().unwrap().join("libapify_transport_reqwest.so");
    assert!(so.is_file(), "{} is missing", so.display());
    so
}

fn write_config(path: &Path, url: &str, plugin: Option<&Path>) {
    use std::os::unix::fs::PermissionsExt;
    let mut text = format!("api_url = \"{url}\"\ntoken = \"{TOKEN}\"\n");
    if let Some(p) = plugin {
        text.push_str(&format!("[transport]\nplugin = \"{}\"\n", p.display()));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

/// The next JSON line of the worker's stdout, within 30 s.
fn next_line(lines: &mpsc::Receiver<String>) -> Value {
    let line = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker prints a line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn primary(stats: &Value) -> &str {
    stats["transports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "primary")
        .expect("a primary")["name"]
        .as_str()
        .unwrap()
}

#[test]
fn the_worker_swaps_its_transport_on_sighup_under_load_and_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt
        .block_on(LocalApi::start(LocalApiConfig::with_token(TOKEN)))
        .unwrap();
    let client = ApifyClient::builder()
        .api_url(api.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    let queue = rt
        .block_on(client.request_queues().get_or_create(Some("jobs")))
        .unwrap();
    let requests: Vec<Value> = (0..REQUESTS)
        .map(|n| serde_json::json!({ "url": format!("https://example.com/{n}") }))
        .collect();
    let added = rt
        .block_on(
            client
                .request_queue(&queue.id)
                .batch_add_requests(&requests, &Default::default()),
        )
        .unwrap();
    assert_eq!(added.processed_requests.len(), REQUESTS);

    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("worker.toml");
    write_config(&config, &api.base_url(), None);
    let mut child = Command::new(example_binary())
        .env_remove("APIFY_TOKEN")
        .env_remove("APIFY_API_BASE_URL")
        .env_remove("APIFY_TRANSPORT_PLUGIN")
        .env("HOME", home.path())
        .env("APIFY_HOST_CONFIG", &config)
        .env("WORKER_EXIT_WHEN_EMPTY", "1")
        .env("WORKER_CONCURRENCY", "8")
        .arg("jobs")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());

    // Under load: a tenth of the queue done, the rest still to do.
    let results = |client: &ApifyClient| -> Option<Dataset> {
        rt.block_on(client.datasets().get_or_create(Some("jobs-results"), None))
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while results(&client).and_then(|d| d.item_count).unwrap_or(0) < (REQUESTS / 10) as u64 {
        assert!(Instant::now() < deadline, "the worker makes progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(pid, libc::SIGUSR1);
    let before = next_line(&lines);
    assert_eq!(before["event"], "statistics");
    assert_eq!(primary(&before), "builtin", "{before}");

    write_config(&config, &api.base_url(), Some(&reqwest_plugin()));
    kill(pid, libc::SIGHUP);
    // The reload is done when the statistics name the new primary.
    let after = loop {
        std::thread::sleep(Duration::from_millis(50));
        kill(pid, libc::SIGUSR1);
        let stats = next_line(&lines);
        if stats["event"] == "done" || primary(&stats) == "plugin:reqwest" {
            break stats;
        }
    };
    assert_eq!(
        after["event"], "statistics",
        "reloaded before the end: {after}"
    );
    assert!(
        after["processed"].as_u64().unwrap() < REQUESTS as u64,
        "reloaded under load: {after}"
    );

    let status = child.wait().unwrap();
    let logs = logs.join().unwrap();
    assert!(status.success(), "{logs}");
    let done = loop {
        let line = next_line(&lines);
        if line["event"] == "done" {
            break line;
        }
    };
    assert_eq!(done["processed"], REQUESTS as u64, "{done}\n{logs}");
    assert_eq!(done["failed"], 0, "{done}\n{logs}");
    assert_eq!(primary(&done), "plugin:reqwest", "{done}");
    let reqwest_calls = done["transports"][0]["calls"].as_u64().unwrap();
    assert!(reqwest_calls > 0, "{done}");
    assert!(logs.contains("transport reloaded on SIGHUP"), "{logs}");
    assert!(logs.contains("transport drained after SIGHUP"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
    eprintln!("before: {before}\nafter: {after}\ndone: {done}");

    // Every request recorded once, by the transport that served it: some by each.
    let id = results(&client).unwrap().id;
    let items: Vec<Value> = rt
        .block_on(async {
            use futures_util::TryStreamExt;
            client
                .dataset(&id)
                .iterate_items(&Default::default())
                .try_collect()
                .await
        })
        .unwrap();
    assert_eq!(items.len(), REQUESTS);
    let by = |name: &str| items.iter().filter(|i| i["transport"] == name).count();
    assert!(by("builtin") >= REQUESTS / 10, "{}", by("builtin"));
    assert!(by("plugin:reqwest") > 0);
    assert_eq!(by("builtin") + by("plugin:reqwest"), REQUESTS);
    let head = rt
        .block_on(client.request_queue(&queue.id).list_head(Some(10)))
        .unwrap();
    assert!(head.items.is_empty(), "every request handled");
}
