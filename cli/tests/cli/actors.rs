//! The Actor commands (`call`, `actors`, `runs`, `builds`, `task`), run as the real binary
//! against the local API running the example Actors of `examples/actors` as child processes.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::support::{ok, ok_json, run_with, stderr, Env};

const TOKEN: &str = "cli-actors-token-81d2";

#[test]
fn call_streams_the_log_waits_and_prints_the_run_or_its_dataset() {
    let env = Env::with_actors(TOKEN);
    let input = r#"{"items": [{"n": 1}, {"n": 2}]}"#;
    let out = env.run(&["call", "echo", "--input", input, "-o", "json"]);
    let run = ok_json(&out);
    assert_eq!(run["status"], "SUCCEEDED");
    let log = stderr(&out);
    assert!(
        log.contains("echo: done"),
        "the log streams to stderr: {log}"
    );
    assert!(log.contains(&format!(
        "run {} of echo started",
        run["id"].as_str().unwrap()
    )));

    // --output-dataset: the items on stdout; --silent: no log on stderr.
    let out = env.run(&[
        "call",
        "echo",
        "-i",
        input,
        "--output-dataset",
        "--silent",
        "-o",
        "json",
    ]);
    assert_eq!(ok_json(&out), json!([{"n": 1}, {"n": 2}]));
    assert!(!stderr(&out).contains("echo: done"), "{}", stderr(&out));

    // Input from a file and from stdin; `actors call` is the same command.
    let file = env.file("input.json", r#"{"items": [{"from": "file"}]}"#);
    let at_file = format!("@{}", file.display());
    let out = env.run(&[
        "actors",
        "call",
        "echo",
        "-i",
        &at_file,
        "--output-dataset",
        "-s",
    ]);
    assert_eq!(ok_json(&out), json!([{"from": "file"}]));
    let out = env.run_stdin(
        &["call", "echo", "-i", "-", "--output-dataset", "-s"],
        br#"{"items": [{"from": "stdin"}]}"#,
    );
    assert_eq!(ok_json(&out), json!([{"from": "stdin"}]));

    // The run's OUTPUT record is the input, as the Actor stored it.
    let output = ok_json(&env.run(&[
        "key-value-stores",
        "get-value",
        run["defaultKeyValueStoreId"].as_str().unwrap(),
        "OUTPUT",
    ]));
    assert_eq!(output, serde_json::from_str::<Value>(input).unwrap());
}

#[test]
fn a_failing_run_exits_1_with_its_status_and_the_last_log_lines() {
    let env = Env::with_actors(TOKEN);
    let out = env.run(&[
        "call",
        "slow-fail",
        "--input",
        r#"{"count": 3, "intervalSecs": "0.05"}"#,
        "--silent",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("ended FAILED with exit code 1"), "{err}");
    assert!(err.contains("last lines of the log:"), "{err}");
    assert!(err.contains("slow-fail: line 3 of 3"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error line: {err}"
    );
}

#[test]
fn bad_input_unknown_actors_and_usage_errors() {
    let env = Env::with_actors(TOKEN);
    // Invalid JSON input: refused before any request.
    let before = env.requests();
    let out = env.run(&["call", "echo", "--input", "{not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was sent"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.requests(), before, "no request for invalid input");

    // An unknown Actor: one line, exit 1.
    let out = env.run(&["call", "no-such-actor"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("there is no Actor \"no-such-actor\""), "{err}");

    // Usage errors exit 2.
    let out = env.run(&["call"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["runs", "abort"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ctrl_c_during_call_exits_130_and_leaves_the_run_running() {
    let env = Env::with_actors(TOKEN);
    let mut cmd = env.cmd();
    cmd.args(["call", "sleeper", "--silent"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Wait until the run exists (the CLI is then waiting), then interrupt it.
    let started = Instant::now();
    let run_id = loop {
        let runs = ok_json(&env.run(&["runs", "ls", "sleeper", "-o", "json"]));
        if let Some(id) = runs["items"][0]["id"].as_str() {
            break id.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no run started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("apify-host runs abort {run_id}")),
        "says how to abort: {err}"
    );
    assert!(!err.contains(TOKEN));

    let run = ok_json(&env.run(&["runs", "info", &run_id, "-o", "json"]));
    assert_eq!(run["status"], "RUNNING", "the run goes on");
    let aborted = ok_json(&env.run(&["runs", "abort", &run_id, "--force", "-o", "json"]));
    assert!(
        matches!(aborted["status"].as_str(), Some("ABORTED" | "ABORTING")),
        "{aborted}"
    );
    let waited = env.run(&["runs", "wait", &run_id, "-o", "json"]);
    assert_eq!(waited.status.code(), Some(1), "an aborted run exits 1");
    assert!(
        stderr(&waited).contains("ended ABORTED"),
        "{}",
        stderr(&waited)
    );
}

#[test]
fn actors_runs_and_builds_commands() {
    let env = Env::with_actors(TOKEN);
    let actors = ok_json(&env.run(&["actors", "ls", "-o", "json"]));
    let names: Vec<&str> = actors["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for name in ["echo", "slow-fail", "charge", "sleeper"] {
        assert!(names.contains(&name), "{name} is listed: {names:?}");
    }
    let echo = ok_json(&env.run(&["actors", "info", "echo", "-o", "json"]));
    assert_eq!(echo["name"], "echo");
    assert_eq!(
        ok_json(&env.run(&["actors", "info", "local-user/echo", "-o", "json"]))["id"],
        echo["id"]
    );
    assert_eq!(env.run(&["actors", "info", "nope"]).status.code(), Some(1));
    // The local API's Actors are registered at its start: `actors rm` is refused, in one line
    // that says where Actors come from, and the Actor stays.
    let out = env.run(&["actors", "rm", "echo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("registered when it starts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_eq!(env.run(&["actors", "rm", "nope"]).status.code(), Some(1));
    ok(&env.run(&["actors", "info", "echo"]));

    // start does not wait; runs wait does, and follows the log with --follow.
    let run = ok_json(&env.run(&[
        "actors",
        "start",
        "echo",
        "-i",
        r#"{"sleepSecs": 1}"#,
        "-o",
        "json",
    ]));
    let id = run["id"].as_str().unwrap();
    assert!(
        matches!(run["status"].as_str(), Some("READY" | "RUNNING")),
        "{run}"
    );
    let out = env.run(&["runs", "wait", id, "--follow", "-o", "json"]);
    assert_eq!(ok_json(&out)["status"], "SUCCEEDED");
    assert!(
        stderr(&out).contains("echo: sleeping 1s"),
        "{}",
        stderr(&out)
    );

    let listed = ok_json(&env.run(&["runs", "ls", "echo", "-o", "json"]));
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id));
    let all = ok_json(&env.run(&["runs", "ls", "--status", "SUCCEEDED", "-o", "json"]));
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "SUCCEEDED"));
    assert_eq!(
        ok_json(&env.run(&["runs", "info", id, "-o", "json"]))["id"],
        id
    );
    let log = ok(&env.run(&["runs", "log", id]));
    assert!(log.contains("echo: done"), "{log}");
    let log = ok(&env.run(&["runs", "log", id, "--follow"]));
    assert!(
        log.contains("echo: done"),
        "a finished run's followed log ends: {log}"
    );

    // resurrect a finished run, abort it gracefully, then delete it.
    let again = ok_json(&env.run(&["runs", "resurrect", id, "-o", "json"]));
    assert!(
        matches!(again["status"].as_str(), Some("READY" | "RUNNING")),
        "{again}"
    );
    let aborted = ok_json(&env.run(&["runs", "abort", id, "-o", "json"]));
    assert!(matches!(
        aborted["status"].as_str(),
        Some("ABORTING" | "ABORTED" | "SUCCEEDED")
    ));
    let _ = env.run(&["runs", "wait", id]);
    ok(&env.run(&["runs", "rm", id]));
    assert_eq!(env.run(&["runs", "info", id]).status.code(), Some(1));

    // Builds: create (waits), ls, info, log, wait, rm.
    let build = ok_json(&env.run(&["actors", "build", "echo", "-o", "json"]));
    assert_eq!(build["status"], "SUCCEEDED");
    let bid = build["id"].as_str().unwrap();
    let builds = ok_json(&env.run(&["builds", "ls", "echo", "-o", "json"]));
    assert!(builds["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["id"] == bid));
    assert_eq!(
        ok_json(&env.run(&["builds", "info", bid, "-o", "json"]))["id"],
        bid
    );
    assert!(!ok(&env.run(&["builds", "log", bid])).is_empty());
    assert_eq!(
        ok_json(&env.run(&["builds", "wait", bid, "-o", "json"]))["status"],
        "SUCCEEDED"
    );
    let created = ok_json(&env.run(&["builds", "create", "echo", "--no-wait", "-o", "json"]));
    assert!(created["id"].is_string());
    ok(&env.run(&["builds", "rm", bid]));
    assert_eq!(env.run(&["builds", "info", bid]).status.code(), Some(1));
}

#[test]
fn tasks_run_ls_and_info() {
    let env = Env::with_actors(TOKEN);
    let echo = ok_json(&env.run(&["actors", "info", "echo", "-o", "json"]));
    let body = json!({
        "actId": echo["id"],
        "name": "echo-task",
        "input": {"items": [{"from": "task"}]},
    })
    .to_string();
    let task = ok_json(&env.run(&["api", "POST", "/v2/actor-tasks", "--body", &body]));
    let task_id = task["data"]["id"].as_str().unwrap().to_string();

    let tasks = ok_json(&env.run(&["task", "ls", "-o", "json"]));
    assert!(tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == task_id.as_str()));
    let info = ok_json(&env.run(&["tasks", "info", "echo-task", "-o", "json"]));
    assert_eq!(info["id"], task_id.as_str());

    let items = ok_json(&env.run(&["task", "run", "echo-task", "--output-dataset", "-s"]));
    assert_eq!(items, json!([{"from": "task"}]));
    let run = ok_json(&env.run(&["task", "run", &task_id, "-o", "json"]));
    assert_eq!(run["actorTaskId"], task_id.as_str());
    assert_eq!(
        env.run(&["task", "run", "no-such-task"]).status.code(),
        Some(1)
    );
}

#[test]
fn the_actor_commands_never_print_the_token() {
    // Every run above goes through `run_with`, which asserts this per command; here the
    // verbose log of a call, which includes the run's log and the transport's debug lines.
    let env = Env::with_actors(TOKEN);
    let out = run_with(env.cmd(), TOKEN, &["-vv", "call", "echo", "-i", "{}"], None);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A loopback HTTP listener that answers every request 200 and counts them.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, hits)
}

#[test]
fn webhooks_and_schedules_commands() {
    let env = Env::with_actors(TOKEN);
    let echo = ok_json(&env.run(&["actors", "info", "echo", "-o", "json"]));
    let (url, hits) = webhook_receiver();
    let body = json!({
        "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
        "condition": {"actorId": echo["id"]},
        "requestUrl": url,
    })
    .to_string();
    let created = ok_json(&env.run(&["api", "POST", "/v2/webhooks", "--body", &body]));
    let id = created["data"]["id"].as_str().unwrap().to_string();

    let all = ok_json(&env.run(&["webhooks", "ls", "-o", "json"]));
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == id.as_str()));
    let of_actor = ok_json(&env.run(&["webhooks", "ls", "--actor", "echo", "-o", "json"]));
    assert_eq!(of_actor["items"][0]["id"], id.as_str());
    assert_eq!(
        ok_json(&env.run(&["webhooks", "info", &id, "-o", "json"]))["requestUrl"],
        url.as_str()
    );

    // A test dispatch, then a real one from a run; both reach the receiver and are listed.
    let dispatch = ok_json(&env.run(&["webhooks", "test", &id, "-o", "json"]));
    assert!(dispatch["id"].is_string(), "{dispatch}");
    ok(&env.run(&["call", "echo", "-i", "{}", "-s"]));
    let started = Instant::now();
    while hits.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the webhook was not called"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let dispatches = ok_json(&env.run(&["webhooks", "dispatches", &id, "-o", "json"]));
    assert!(
        dispatches["items"].as_array().unwrap().len() >= 2,
        "{dispatches}"
    );
    let mine = ok_json(&env.run(&["webhooks", "dispatches", "-o", "json"]));
    assert!(mine["total"].as_u64().unwrap() >= 2, "{mine}");
    assert_eq!(
        env.run(&["webhooks", "info", "nope"]).status.code(),
        Some(1)
    );

    // The local API refuses a webhook to anything but loopback, with a clear message.
    let outside = json!({
        "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
        "condition": {"actorId": echo["id"]},
        "requestUrl": "http://example.com/hook",
    })
    .to_string();
    let out = env.run(&["api", "POST", "/v2/webhooks", "--body", &outside]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopback"), "{}", stderr(&out));

    // Schedules: ls, info and the log.
    let schedule = json!({
        "name": "nightly-echo",
        "cronExpression": "0 3 * * *",
        "isEnabled": true,
        "isExclusive": true,
        "actions": [{"type": "RUN_ACTOR", "actorId": echo["id"]}],
    })
    .to_string();
    let created = ok_json(&env.run(&["api", "POST", "/v2/schedules", "--body", &schedule]));
    let sid = created["data"]["id"].as_str().unwrap().to_string();
    let listed = ok_json(&env.run(&["schedules", "ls", "-o", "json"]));
    assert_eq!(listed["items"][0]["id"], sid.as_str());
    let info = ok_json(&env.run(&["schedules", "info", &sid, "-o", "json"]));
    assert_eq!(info["cronExpression"], "0 3 * * *");
    let log = ok_json(&env.run(&["schedules", "info", &sid, "--log", "-o", "json"]));
    assert!(log.is_array(), "{log}");
    assert_eq!(
        env.run(&["schedules", "info", "nope"]).status.code(),
        Some(1)
    );
}
