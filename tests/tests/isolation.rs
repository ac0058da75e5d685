//! Process isolation: a plugin served by a confined `apify-transport-worker`.
//!
//! - A worker that dies (segfault, abort, `exit`, stack overflow) fails only the calls it was
//!   serving; each is sent once more on a fresh worker, the crashing call fails with how the
//!   worker ended, and the host lives on. No zombie is left.
//! - A worker that hangs a call past its deadline plus the grace is killed, and that call fails
//!   without a retry.
//! - A worker that answers calls and dies before the host read the answers: those calls keep
//!   their answers and are not sent again.
//! - More than 20 deaths in 60 s make the transport fail fast.
//! - The worker cannot read a file outside its allow-list (where Landlock exists).
//!
//! The figures each test prints are what the issue asked to see.

use std::{sync::Arc, time::Duration};

use apify_host::transport::{
    plugin::PluginLoadOptions, HttpTransport, IsolatedTransport, Isolation,
    TransportRequest as Request,
};
use apify_tests::plugin_path;
use futures_util::StreamExt;
use serde_json::json;
use testkit::{Action, TestServer};

fn isolated(lib: &str, options: serde_json::Value) -> IsolatedTransport {
    IsolatedTransport::start(
        &plugin_path(lib),
        &PluginLoadOptions::default().isolation(Isolation::Process),
        &options,
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn get(url: String, timeout: Option<Duration>) -> Request {
    apify_tests::get_request(url, timeout)
}

/// The status and body of a call, or its error's words.
async fn exchange(t: &dyn HttpTransport, req: Request) -> Result<(u16, Vec<u8>), String> {
    let resp = t.call(req).await.map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    let mut stream = resp.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
    }
    Ok((resp.status.as_u16(), body))
}

/// This process's children that are zombies (exited, not reaped).
fn zombie_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) && fields.first() == Some(&"Z") {
            out.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    out
}

/// How many requests `server` has seen once it saw `n` (or 20 s passed).
async fn requests_reach(server: &TestServer, n: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.requests().len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.requests().len()
}

/// One crash with `slow` other calls in flight: the figures.
async fn crash_with_calls_in_flight(marker: &str, expect: &[&str]) {
    const SLOW: usize = 6;
    let server = TestServer::start().await;
    for i in 0..SLOW {
        // Twice: once for the first try, once for the retry on a fresh worker.
        // The first try is held long enough to be in flight whatever the machine's load; the
        // retry, on a fresh worker, is answered at once.
        let held = Action::DelayHeaders(
            Duration::from_millis(1500),
            Box::new(Action::json(200, json!({"i": i}))),
        );
        server.script(
            &format!("/slow/{i}"),
            vec![held, Action::json(200, json!({"i": i}))],
        );
    }
    let t = Arc::new(isolated("fixture_faulty_plugin", json!({})));
    let first_pid = t.worker_pid().expect("a worker runs");
    let mut calls = Vec::new();
    for i in 0..SLOW {
        let (t, url) = (t.clone(), server.url(&format!("/slow/{i}")));
        calls.push(tokio::spawn(async move {
            exchange(&*t, get(url, Some(Duration::from_secs(10)))).await
        }));
    }
    // The slow calls are in the worker, and the server holds their heads, when it dies.
    assert_eq!(
        requests_reach(&server, SLOW).await,
        SLOW,
        "{marker}: the slow calls reached the server"
    );
    let crash = exchange(&*t, get(server.url(marker), Some(Duration::from_secs(10)))).await;
    let mut ok = 0;
    for c in calls {
        match c.await.unwrap() {
            Ok((200, _)) => ok += 1,
            other => panic!("{marker}: a call in flight when the worker died failed: {other:?}"),
        }
    }
    let err = crash.expect_err("the crashing call fails");
    for word in expect {
        assert!(err.contains(word), "{marker}: {err}");
    }
    assert!(
        err.contains("again when the call was retried on a fresh worker"),
        "{marker}: {err}"
    );
    let retried = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/slow/"))
        .count()
        - SLOW;
    // The host lives, a new worker serves, and it is not the first one.
    let after = exchange(&*t, get(server.url("/status/200"), None)).await;
    assert_eq!(after.map(|(s, _)| s), Ok(200), "{marker}");
    assert_ne!(t.worker_pid(), Some(first_pid));
    let counts = t.worker_counts();
    assert_eq!(
        counts.deaths, 2,
        "{marker}: the crashing call killed its worker and its retry's"
    );
    assert_eq!(counts.started, 3, "{marker}");
    assert_eq!(
        retried, SLOW,
        "{marker}: each call in flight was sent once more"
    );
    // The dead workers were reaped by their wait threads.
    let mut zombies = zombie_children();
    // Other tests' workers die too in this process: wait out a passing one.
    for _ in 0..250 {
        if zombies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        zombies = zombie_children();
    }
    assert!(zombies.is_empty(), "{marker}: zombies {zombies:?}");
    println!(
        "{marker}: calls failed 1 (the crashing one: {err}), calls in flight {SLOW} → retried \
         {retried}, succeeded {ok}; workers started {}, deaths {}, zombies 0",
        counts.started, counts.deaths
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segfault_fails_only_its_own_call() {
    crash_with_calls_in_flight("/__fault/segv", &["killed by SIGSEGV (segmentation fault)"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_fails_only_its_own_call() {
    crash_with_calls_in_flight("/__fault/abort", &["killed by SIGABRT (abort)"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_fails_only_its_own_call() {
    crash_with_calls_in_flight("/__fault/exit/7", &["exited with code 7"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_overflow_fails_only_its_own_call() {
    // Rust's guard page handler reports the overflow and aborts.
    crash_with_calls_in_flight("/__fault/overflow", &["killed by SIG"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_hangs_its_worker_gets_it_killed_and_fails_alone() {
    let server = TestServer::start().await;
    let t = isolated("fixture_faulty_plugin", json!({}));
    let first = t.worker_pid().unwrap();
    let started = std::time::Instant::now();
    // The fixture's hang ignores the timeout: no head ever, past 300 ms plus the 5 s grace.
    let err = exchange(
        &t,
        get(
            server.url("/__fault/hang"),
            Some(Duration::from_millis(300)),
        ),
    )
    .await
    .expect_err("the hung call fails");
    let took = started.elapsed();
    assert!(
        err.contains("was killed by the host because this call got no response head"),
        "{err}"
    );
    assert!(
        err.contains("not retried, since the call itself hangs it"),
        "{err}"
    );
    assert!(took >= Duration::from_secs(5), "{took:?}");
    let ok = exchange(&t, get(server.url("/status/200"), None)).await;
    assert_eq!(ok.map(|(s, _)| s), Ok(200));
    assert_ne!(t.worker_pid(), Some(first));
    let counts = t.worker_counts();
    assert_eq!((counts.deaths, counts.killed_hung), (1, 1), "{counts:?}");
    println!(
        "hung call: failed after {took:?} ({err}); workers started {}, killed for hanging {}",
        counts.started, counts.killed_hung
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_twenty_deaths_in_a_minute_make_calls_fail_fast() {
    let server = TestServer::start().await;
    let t = isolated("fixture_faulty_plugin", json!({}));
    // Each crashing call kills two workers (its try and its retry).
    let mut last = String::new();
    for _ in 0..11 {
        last = exchange(&t, get(server.url("/__fault/exit/3"), None))
            .await
            .expect_err("it crashes");
    }
    let deaths = t.worker_counts().deaths;
    assert!(deaths > 20, "{deaths} deaths; last: {last}");
    let started = std::time::Instant::now();
    let err = exchange(&t, get(server.url("/status/200"), None))
        .await
        .expect_err("fails fast");
    assert!(
        err.contains("died more than 20 times in 60 s")
            && err.contains("calls fail at once for 10 s"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    println!("after {deaths} deaths: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reads_no_file_outside_its_allow_list() {
    if let Err(why) = apify_host::transport::isolated::landlock_available() {
        println!("skipped: {why}; the worker runs with no_new_privs only");
        return;
    }
    let server = TestServer::start().await;
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the host's secret").unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), "a CA the options name").unwrap();
    let read = |path: &std::path::Path| {
        let q = percent_encoding::utf8_percent_encode(
            &path.display().to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        server.url(&format!("/__fault/read?path={q}"))
    };
    // In process, the plugin reads what it likes.
    let in_process = apify_host::transport::plugin::load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap()
    .new_client(&json!({}))
    .unwrap();
    let (status, body) = exchange(&in_process, get(read(secret.path()), None))
        .await
        .unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"the host's secret"[..]));
    // Isolated, it reads neither the secret nor /etc/passwd, but the file its options name and
    // the CA bundle folder.
    let t = isolated(
        "fixture_faulty_plugin",
        json!({"ca_cert_file": ca.path().display().to_string()}),
    );
    assert!(
        t.confinement().contains("Landlock ABI"),
        "{}",
        t.confinement()
    );
    for refused in [secret.path(), std::path::Path::new("/etc/passwd")] {
        let (status, body) = exchange(&t, get(read(refused), None)).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 403, "{refused:?}: {body}");
        assert!(body.contains("Permission denied"), "{body}");
    }
    let (status, body) = exchange(&t, get(read(ca.path()), None)).await.unwrap();
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"a CA the options name"[..])
    );
    println!("confinement: {}", t.confinement());
}

/// Every thread of the worker, the runtime's where a hosted plugin's calls run included, was
/// started after the confinement: Landlock and no_new_privs bind the thread that asks and the
/// threads it starts afterwards, never those already running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_of_the_worker_is_confined() {
    let server = TestServer::start().await;
    // (plugin, lend the worker's threads): hosted hyper, driven reqwest, and reqwest on runtime
    // threads of its own (`hosted = false`), which it starts when its client is made.
    for (lib, lend) in [
        ("apify_transport_hyper", true),
        ("apify_transport_reqwest", true),
        ("apify_transport_reqwest", false),
    ] {
        let t = IsolatedTransport::start(
            &plugin_path(lib),
            &PluginLoadOptions::default().isolation(Isolation::Process),
            &json!({}),
            lend,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.runs_hosted(), lib.ends_with("hyper"), "{lib}");
        // A call, so that every pool and runtime thread the plugin starts is running.
        let ok = exchange(&t, get(server.url("/status/200"), None)).await;
        assert_eq!(ok.map(|(s, _)| s), Ok(200), "{lib}");
        let pid = t.worker_pid().unwrap();
        let mut threads = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .flatten()
        {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            assert!(
                status
                    .lines()
                    .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "1"])),
                "{lib}: thread {:?} of the worker is not confined:\n{status}",
                task.file_name()
            );
            threads += 1;
        }
        // The hosted hyper plugin and the driven reqwest one run on the worker's one thread (a
        // current-thread runtime, started after the confinement, on the thread that confined
        // itself); reqwest on its own runtime starts two more.
        let least = if lend { 1 } else { 3 };
        assert!(threads >= least, "{lib} (lend {lend}): {threads} threads");
    }
}

/// A current-thread runtime on a thread of its own, for the lane tests.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Each caller runtime reads and writes its calls on a lane of its own, the first four to
/// call; those after them go through the I/O thread. All are answered, by one worker.
#[test]
fn each_caller_runtime_gets_a_lane_of_its_own() {
    let server = TestServer::start_blocking();
    let t = Arc::new(isolated("apify_transport_hyper", json!({})));
    const RUNTIMES: usize = 6;
    let start = Arc::new(std::sync::Barrier::new(RUNTIMES));
    let threads: Vec<_> = (0..RUNTIMES)
        .map(|k| {
            let (t, start, url) = (t.clone(), start.clone(), server.url("/small"));
            std::thread::spawn(move || {
                let rt = runtime();
                // Every runtime is alive, and calls, at the same time.
                start.wait();
                let answers: Vec<_> = (0..20)
                    .map(|_| rt.block_on(exchange(&*t, get(url.clone(), None))))
                    .collect();
                start.wait();
                (k, answers)
            })
        })
        .collect();
    for thread in threads {
        let (k, answers) = thread.join().unwrap();
        for a in answers {
            assert_eq!(a.map(|(s, _)| s), Ok(200), "runtime {k}");
        }
    }
    let counts = t.worker_counts();
    println!("{RUNTIMES} runtimes calling at once: {counts:?}");
    assert_eq!(counts.lanes_bound, 4, "{counts:?}");
    assert_eq!((counts.started, counts.deaths), (1, 0), "{counts:?}");
    // A runtime after them all, whose lanes ended with their runtimes: the I/O thread serves it.
    let rt = runtime();
    let late = rt.block_on(exchange(&*t, get(server.url("/small"), None)));
    assert_eq!(late.map(|(s, _)| s), Ok(200));
    assert_eq!(t.worker_counts().lanes_bound, 4);
}

/// A runtime that ends while a body it asked for is still coming: the body fails, with words
/// that say why, instead of waiting forever; the worker lives on and serves the next runtime.
#[test]
fn a_body_outliving_its_runtime_fails_and_the_worker_lives_on() {
    let server = TestServer::start_blocking();
    let t = Arc::new(isolated("apify_transport_hyper", json!({})));
    let pid = t.worker_pid();
    let (t2, url) = (t.clone(), server.url("/bytes/16000000"));
    // The head comes on runtime A; A ends with the body unread (the worker holds all but a
    // window of it until the host grants room).
    let body = std::thread::spawn(move || {
        let rt = runtime();
        let resp = rt
            .block_on(t2.call(Request {
                stream: true,
                ..get(url, Some(Duration::from_secs(30)))
            }))
            .unwrap();
        assert_eq!(resp.status.as_u16(), 200);
        drop(rt);
        resp.body
    })
    .join()
    .unwrap();
    let rt = runtime();
    let (read, failure) = rt.block_on(async {
        let mut body = body;
        let mut n = 0usize;
        // The guard only makes a broken lane fail the test instead of hanging it.
        let end = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(c) => n += c.len(),
                    Err(e) => return Some(e.to_string()),
                }
            }
            None
        })
        .await
        .expect("the body ends instead of waiting forever");
        (n, end)
    });
    println!("read {read} bytes of 16000000, then: {failure:?}");
    let failure = failure.expect("the body fails");
    assert!(
        failure.contains("the runtime this call was made on ended"),
        "{failure}"
    );
    assert!(read < 16_000_000);
    let next = rt.block_on(exchange(&*t, get(server.url("/small"), None)));
    assert_eq!(next.map(|(s, _)| s), Ok(200));
    assert_eq!(t.worker_pid(), pid, "the same worker");
    let counts = t.worker_counts();
    assert_eq!((counts.deaths, counts.lanes_bound), (0, 2), "{counts:?}");
}

/// A worker that answers calls and dies before the host read the answers: those calls keep
/// their answers and are not sent again, since they were done (a POST must not run twice).
///
/// The calls go on the lane of a current-thread runtime, which then reads nothing for 3 s: the
/// server answers them after 200 ms, and the worker exits a second after the marker call, so
/// their answers wait unread in the lane when the host learns of its death.
#[test]
fn calls_answered_before_their_worker_died_are_not_sent_again() {
    const HELD: usize = 8;
    let server = TestServer::start_blocking();
    for i in 0..HELD {
        let held = Action::DelayHeaders(
            Duration::from_millis(200),
            Box::new(Action::json(200, json!({"i": i}))),
        );
        server.script(&format!("/held/{i}"), vec![held]);
    }
    let t = Arc::new(isolated("fixture_faulty_plugin", json!({})));
    let first_pid = t.worker_pid().expect("a worker runs");
    let rt = runtime();
    let answers = rt.block_on(async {
        let calls: Vec<_> = (0..HELD)
            .map(|i| {
                let request = Request {
                    method: http::Method::POST,
                    body: bytes::Bytes::from(format!("{{\"order\":{i}}}")).into(),
                    ..get(
                        server.url(&format!("/held/{i}")),
                        Some(Duration::from_secs(30)),
                    )
                };
                let t = t.clone();
                tokio::spawn(async move { exchange(&*t, request).await })
            })
            .collect();
        assert_eq!(
            requests_reach(&server, HELD).await,
            HELD,
            "the calls reached the server"
        );
        let marker = exchange(&*t, get(server.url("/__fault/exit-later/1000"), None)).await;
        assert_eq!(
            marker.map(|(s, _)| s),
            Ok(200),
            "the marker call is answered"
        );
        // Blocks this runtime, and with it its lane's reader.
        std::thread::sleep(Duration::from_secs(3));
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        answers
    });
    let counts = t.worker_counts();
    let sent: Vec<usize> = (0..HELD)
        .map(|i| {
            let path = format!("/held/{i}");
            server.requests().iter().filter(|r| r.path == path).count()
        })
        .collect();
    println!(
        "{HELD} POSTs answered, then their worker exited before the host read them: \
         answers {:?}, times each reached the server {sent:?}; {counts:?}",
        answers
            .iter()
            .map(|a| a.as_ref().map(|(s, _)| *s))
            .collect::<Vec<_>>()
    );
    for (i, answer) in answers.into_iter().enumerate() {
        let (status, body) = answer.unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(status, 200, "call {i}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"i": i}), "call {i}");
    }
    assert_eq!(sent, vec![1; HELD], "each POST reached the server once");
    assert_eq!((counts.started, counts.deaths), (2, 1), "{counts:?}");
    assert_ne!(t.worker_pid(), Some(first_pid), "a fresh worker serves");
}

/// Response bodies cross in the socket's shared ring, several calls' chunks interleaved in it:
/// eight downloads at once on one runtime (so one lane and one ring), of sizes that are no
/// multiple of a chunk, each arrive whole and in order. One is read slowly: the host copies
/// each chunk out of the ring as its frame comes, so a slow reader holds its own window of
/// bytes, never the ring.
#[tokio::test(flavor = "current_thread")]
async fn bodies_interleaved_in_the_shared_ring_arrive_whole_and_in_order() {
    let server = TestServer::start().await;
    let t = Arc::new(isolated("apify_transport_hyper", json!({})));
    let mut calls = Vec::new();
    for k in 0..8u64 {
        let len = 3_000_000 + k * 123_457;
        let (t, url) = (t.clone(), server.url(&format!("/bytes/{len}")));
        calls.push(tokio::spawn(async move {
            let resp = t
                .call(Request {
                    stream: true,
                    ..get(url, Some(Duration::from_secs(60)))
                })
                .await
                .unwrap();
            let mut body = resp.body;
            let mut at = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.unwrap();
                assert!(testkit::pattern_matches(at, &chunk), "call {k} at {at}");
                at += chunk.len() as u64;
                if k == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            assert_eq!(at, len, "call {k}");
        }));
    }
    for c in calls {
        c.await.unwrap();
    }
    let counts = t.worker_counts();
    assert_eq!((counts.deaths, counts.lanes_bound), (0, 1), "{counts:?}");
}
