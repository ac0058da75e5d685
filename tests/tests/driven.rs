//! A driven client (interface 1.5, capability `driven`: the reqwest plugin) runs its runtime on
//! the caller's threads: it starts none of its own, every caller runtime gets a driver of its
//! own (so calls on one runtime never wait for another that is not running), a driver follows
//! its runtime's end, and dropping the client stops its drivers. The cross-transport suites
//! run it through the whole matrix as `plugin_reqwest`; this file checks what is specific to it.

use std::{sync::Arc, time::Duration};

use apify_host::transport::plugin::{
    load_plugin, thread_count, ClientRuns, PluginLoadOptions, PluginTransport,
};
use apify_host::transport::HttpTransport;
use apify_tests::{get_request, plugin_path, server_on_own_runtime as server};
use futures_util::StreamExt;
use testkit::TestServer;

fn driven_reqwest() -> PluginTransport {
    let plugin = load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &PluginLoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = plugin
        .new_client(&serde_json::json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.runs(), ClientRuns::Driven);
    t
}

/// Set in a child process that runs one thread-counting test alone (see [`alone`]).
const ALONE_ENV: &str = "APIFY_DRIVEN_TEST_ALONE";

/// Whether this is the process to count threads in. If not, runs test `name` in a child
/// process of this test binary, alone, and fails if it fails: libtest starts a thread for each
/// of the other tests at moments of its own, so a count of this process's threads in a binary
/// running several tests moves for reasons the test cannot see.
fn alone(name: &str) -> bool {
    if std::env::var_os(ALONE_ENV).is_some() {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", name, "--test-threads", "1"])
        .env(ALONE_ENV, "1")
        .output()
        .expect("run the test alone in a child process");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{name}, run alone, failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// A current-thread runtime, as the CLI and the blocking facade use.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One GET of `n` pattern bytes, read whole and checked, within 10 s.
async fn get_bytes(t: &dyn HttpTransport, server: &TestServer, n: usize) {
    let call = async {
        let resp = t
            .call(get_request(server.url(&format!("/bytes/{n}")), None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp.status, 200);
        let mut body = resp.body;
        let mut got = Vec::with_capacity(n);
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, testkit::pattern_bytes(n));
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("a driven call stalled");
}

#[test]
fn a_driven_client_starts_no_thread_and_serves_calls() {
    if !alone("a_driven_client_starts_no_thread_and_serves_calls") {
        return;
    }
    let (_server_rt, server) = server();
    let before = thread_count();
    let t = driven_reqwest();
    let after = thread_count();
    assert_eq!(before, after, "the driven constructor started threads");
    let rt = current_thread();
    rt.block_on(async {
        for n in [0, 10, 70_000, 3_000_000] {
            get_bytes(&t, &server, n).await;
        }
        // Many in flight at once, on the one thread.
        let calls = (0..64).map(|i| get_bytes(&t, &server, 1000 + i));
        futures_util::future::join_all(calls).await;
    });
}

/// Runtime A makes a call, then stops running (its thread is busy elsewhere), and runtime B
/// makes calls: B's own driver serves them. Then A ends, and a call on a runtime made after it
/// is served too (the dead runtime's driver is replaced).
#[test]
fn each_caller_runtime_drives_its_own_calls() {
    let (_server_rt, server) = server();
    let t = Arc::new(driven_reqwest());
    let a = current_thread();
    a.block_on(get_bytes(&*t, &server, 100));
    // `a` is alive but not running.
    let b = current_thread();
    b.block_on(async {
        for _ in 0..20 {
            get_bytes(&*t, &server, 100_000).await;
        }
    });
    // Two threads at once, each on a runtime of its own.
    let server = Arc::new(server);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (t, server) = (t.clone(), server.clone());
            std::thread::spawn(move || {
                current_thread().block_on(async {
                    for _ in 0..50 {
                        get_bytes(&*t, &server, 5_000).await;
                    }
                })
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    drop(a);
    drop(b);
    current_thread().block_on(get_bytes(&*t, &server, 200_000));
}

/// Dropping the client ends the driver task it started on the caller's runtime.
#[test]
fn dropping_the_client_stops_its_driver() {
    let (_server_rt, server) = server();
    let rt = current_thread();
    let tasks = || rt.metrics().num_alive_tasks();
    assert_eq!(tasks(), 0);
    let t = driven_reqwest();
    rt.block_on(get_bytes(&t, &server, 100));
    assert_eq!(tasks(), 1, "one driver task for this runtime");
    drop(t);
    rt.block_on(async {
        for _ in 0..100 {
            if rt.metrics().num_alive_tasks() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert_eq!(tasks(), 0, "the driver task outlived its client");
}

/// With `hosted = false` the same plugin runs on runtime threads of its own, as before 1.5.
#[test]
fn not_lent_it_runs_on_threads_of_its_own() {
    if !alone("not_lent_it_runs_on_threads_of_its_own") {
        return;
    }
    let (_server_rt, server) = server();
    let plugin = load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let before = thread_count().unwrap();
    let t = plugin
        .new_client_on_own_runtime(&serde_json::json!({}))
        .unwrap();
    assert_eq!(t.runs(), ClientRuns::OwnThreads);
    assert!(thread_count().unwrap() >= before + 2);
    current_thread().block_on(get_bytes(&t, &server, 70_000));
}
