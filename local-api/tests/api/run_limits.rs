//! Runs within limits: the concurrent-runs cap, the ranges of run options, capped logs,
//! output readers that end with their run, one process per resurrect, and no Actor command
//! in any log.

use std::time::{Duration, Instant};

use apify_local_api::LocalApiConfig;
use serde_json::{json, Value};

use crate::common::{actors_config, data, expect_error, group_gone, pid_in, Ctx};

const SLEEPER: &str = "sleeper=echo pid=$$; sleep 30";

/// A config with the example Actors, these one-offs and at most `max` live runs.
fn capped(max: usize, one_offs: &[&str]) -> LocalApiConfig {
    LocalApiConfig {
        max_concurrent_runs: max,
        ..actors_config(one_offs)
    }
}

async fn post(t: &Ctx, path: &str) -> reqwest::Response {
    t.http.post(t.url(path)).send().await.expect("POST sent")
}

async fn run_count(t: &Ctx) -> u64 {
    data(t.get("/v2/actor-runs").await).await["total"]
        .as_u64()
        .unwrap()
}

/// Checks a refusal for the limit of `max` runs.
async fn expect_limit(r: reqwest::Response, max: usize) {
    let body = expect_error(r, 402, "concurrent-runs-limit-exceeded").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("limit of {max} concurrent Actor runs")),
        "{message}"
    );
    assert!(message.contains("--max-concurrent-runs"), "{message}");
}

#[tokio::test]
async fn starts_above_the_concurrent_runs_limit_are_refused_and_start_nothing() {
    let t = Ctx::start_with(capped(2, &[SLEEPER, "quick=true"])).await;
    // The limits report the configured limit, not a fixed 25.
    let limits = data(t.get("/v2/users/me/limits").await).await;
    assert_eq!(limits["limits"]["maxConcurrentActorJobs"], 2);
    let me = data(t.get("/v2/users/me").await).await;
    assert_eq!(me["plan"]["maxConcurrentActorRuns"], 2);

    // A finished run, to resurrect later.
    let quick = t.start_run("quick", "waitForFinish=60", &Value::Null).await;
    assert_eq!(quick["status"], "SUCCEEDED");
    let a = t.start_run("sleeper", "", &Value::Null).await;
    let b = t.start_run("sleeper", "", &Value::Null).await;
    let before = run_count(&t).await;
    let datasets = data(t.get("/v2/datasets?unnamed=1").await).await["total"].clone();

    expect_limit(post(&t, "/v2/acts/sleeper/runs").await, 2).await;
    expect_limit(post(&t, "/v2/acts/quick/run-sync").await, 2).await;
    let task = data(
        t.post_json(
            "/v2/actor-tasks",
            &json!({ "actId": "quick", "name": "quick-task" }),
        )
        .await,
    )
    .await;
    let task_id = task["id"].as_str().unwrap();
    expect_limit(
        post(&t, &format!("/v2/actor-tasks/{task_id}/runs")).await,
        2,
    )
    .await;
    let quick_id = quick["id"].as_str().unwrap();
    expect_limit(
        post(&t, &format!("/v2/actor-runs/{quick_id}/resurrect")).await,
        2,
    )
    .await;
    assert_eq!(t.finished_run(quick_id).await["status"], "SUCCEEDED");
    // Nothing was made for the refused starts: no run, no storage.
    assert_eq!(run_count(&t).await, before);
    assert_eq!(
        data(t.get("/v2/datasets?unnamed=1").await).await["total"],
        datasets
    );
    let limits = data(t.get("/v2/users/me/limits").await).await;
    assert_eq!(limits["current"]["activeActorJobCount"], 2);

    // Once a run ends, there is room again.
    let a_id = a["id"].as_str().unwrap();
    data(post(&t, &format!("/v2/actor-runs/{a_id}/abort")).await).await;
    assert_eq!(t.finished_run(a_id).await["status"], "ABORTED");
    let c = t.start_run("sleeper", "", &Value::Null).await;
    for run in [&b, &c] {
        let id = run["id"].as_str().unwrap();
        data(post(&t, &format!("/v2/actor-runs/{id}/abort")).await).await;
    }
}

#[tokio::test]
async fn simultaneous_starts_never_pass_the_limit() {
    let t = Ctx::start_with(capped(3, &[SLEEPER])).await;
    let starts = (0..12).map(|_| post(&t, "/v2/acts/sleeper/runs"));
    let answers = futures_util::future::join_all(starts).await;
    let mut started = Vec::new();
    for r in answers {
        match r.status().as_u16() {
            201 => started.push(data(r).await["id"].as_str().unwrap().to_owned()),
            _ => expect_limit(r, 3).await,
        }
    }
    assert_eq!(started.len(), 3);
    assert_eq!(run_count(&t).await, 3);
    for id in started {
        data(post(&t, &format!("/v2/actor-runs/{id}/abort")).await).await;
    }
}

#[tokio::test]
async fn run_options_out_of_the_platforms_ranges_are_refused() {
    let t = Ctx::start_with(actors_config(&["quick=true"])).await;
    for (query, option) in [
        ("timeout=604801", "timeout"),
        ("timeout=1e30", "timeout"),
        ("memory=100", "memory"),
        ("memory=1000", "memory"),
        ("memory=65536", "memory"),
        ("memory=1e30", "memory"),
        ("memory=0", "memory"),
        ("maxItems=-1", "maxItems"),
        ("maxTotalChargeUsd=-1", "maxTotalChargeUsd"),
        ("maxTotalChargeUsd=NaN", "maxTotalChargeUsd"),
    ] {
        for path in ["/v2/acts/quick/runs", "/v2/acts/quick/run-sync"] {
            let r = post(&t, &format!("{path}?{query}")).await;
            let body = expect_error(r, 400, "invalid-input").await;
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("\"{option}\"")),
                "{query}: {message}"
            );
        }
    }
    let r = post(&t, "/v2/acts/quick/runs?memory=100").await;
    let body = expect_error(r, 400, "invalid-input").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("100") && message.contains("128") && message.contains("32768"));
    assert_eq!(run_count(&t).await, 0, "no refused start made a run");

    // The edges are accepted; huge numbers elsewhere are no panic.
    let run = t
        .start_run("quick", "memory=32768&timeout=604800", &Value::Null)
        .await;
    assert_eq!(run["options"]["memoryMbytes"], 32768);
    let id = run["id"].as_str().unwrap();
    let r = t
        .get(&format!("/v2/actor-runs/{id}?waitForFinish=1e30"))
        .await;
    assert_eq!(r.status(), 200);
    let r = t.get("/v2/actor-runs?limit=1e30&offset=1e30").await;
    assert_eq!(data(r).await["count"], 0);
    let r = t
        .get("/v2/actor-runs?limit=18446744073709551615&offset=18446744073709551615")
        .await;
    assert_eq!(r.status(), 200);

    // Task options: checked on create and update, naming the option.
    let r = t
        .post_json(
            "/v2/actor-tasks",
            &json!({ "actId": "quick", "name": "t1", "options": { "memoryMbytes": 100 } }),
        )
        .await;
    let body = expect_error(r, 400, "invalid-input").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("options.memoryMbytes"));
    let task = data(
        t.post_json(
            "/v2/actor-tasks",
            &json!({ "actId": "quick", "name": "t2", "options": { "memoryMbytes": 256 } }),
        )
        .await,
    )
    .await;
    let task_id = task["id"].as_str().unwrap();
    for options in [
        json!({ "timeoutSecs": 604801 }),
        json!({ "timeoutSecs": -1 }),
        json!({ "maxItems": -5 }),
        json!({ "maxTotalChargeUsd": -1 }),
    ] {
        let r = t
            .put_json(
                &format!("/v2/actor-tasks/{task_id}"),
                &json!({ "options": options }),
            )
            .await;
        expect_error(r, 400, "invalid-input").await;
    }
    // A task run's query options are checked too.
    let r = post(&t, &format!("/v2/actor-tasks/{task_id}/runs?timeout=1e30")).await;
    expect_error(r, 400, "invalid-input").await;
}

#[test]
fn a_manifest_with_default_run_options_out_of_range_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("big")).unwrap();
    let manifest = dir.path().join("big/actor.json");
    for (options, field) in [
        (r#"{"memoryMbytes": 100}"#, "defaultRunOptions.memoryMbytes"),
        (
            r#"{"memoryMbytes": 3000}"#,
            "defaultRunOptions.memoryMbytes",
        ),
        (
            r#"{"timeoutSecs": 999999999}"#,
            "defaultRunOptions.timeoutSecs",
        ),
    ] {
        std::fs::write(
            &manifest,
            format!(r#"{{"name": "big", "run": "true", "defaultRunOptions": {options}}}"#),
        )
        .unwrap();
        let err = LocalApiConfig::default()
            .load_actors_dir(dir.path())
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.field, field, "{text}");
        assert!(text.contains(&manifest.display().to_string()), "{text}");
    }
}

#[tokio::test]
async fn a_long_log_keeps_its_tail_with_one_marker_line() {
    let config = LocalApiConfig {
        max_log_bytes: 2000,
        ..actors_config(&[
            "chatty=i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; echo last-line",
        ])
    };
    let t = Ctx::start_with(config).await;
    let run = t
        .start_run("chatty", "waitForFinish=60", &Value::Null)
        .await;
    let id = run["id"].as_str().unwrap();
    assert_eq!(t.finished_run(id).await["status"], "SUCCEEDED");
    let log = t.run_log(id).await;
    assert!(log.starts_with("[log truncated: "), "{log}");
    assert_eq!(log.matches("[log truncated: ").count(), 1);
    let marker = log.lines().next().unwrap();
    let dropped: usize = marker["[log truncated: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 20_000, "{marker}");
    assert!(log.len() <= 2000 + marker.len() + 1, "{}", log.len());
    assert!(log.contains("last-line"));
    assert!(log.contains("Run finished: SUCCEEDED"));
    // The kept text starts at a line: the line after the marker is a whole, stamped one.
    let second = log.lines().nth(1).unwrap();
    assert!(second.starts_with("20"), "{second}");
    // The whole log, streamed, reads the same.
    let streamed = t
        .get(&format!("/v2/actor-runs/{id}/log?stream=1"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(streamed, log);
}

/// The `pipe:[inode]` that fd `fd` of process `pid` is.
fn pipe_of(pid: i32, fd: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .unwrap()
        .display()
        .to_string()
}

/// Whether this process (the server runs in it) still holds `pipe`.
fn we_hold(pipe: &str) -> bool {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.display().to_string() == pipe))
}

#[tokio::test]
async fn output_readers_end_with_the_run_even_when_a_process_left_the_group_with_the_pipe() {
    // The background sleep leaves the process group (setsid) and keeps stdout and stderr;
    // the Actor ends once it has left (the file is made after setsid), so the group kill at
    // the end of the run cannot reach it.
    let dir = tempfile::tempdir().unwrap();
    let left = dir.path().join("left");
    let command = format!(
        "escapee=setsid sh -c 'touch \"{0}\"; exec sleep 1000' & echo bg=$!; while [ ! -e '{0}' ]; do sleep 0.01; done",
        left.display()
    );
    let t = Ctx::start_with(actors_config(&[&command])).await;
    let run = t
        .start_run("escapee", "waitForFinish=60", &Value::Null)
        .await;
    let id = run["id"].as_str().unwrap();
    let run = t.finished_run(id).await;
    assert_eq!(run["status"], "SUCCEEDED");
    let log = t.run_log(id).await;
    let at = log.find("Z bg=").expect("bg pid in log") + 5;
    let bg: i32 = log[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The test's own process, ended by its id whatever the outcome.
    struct KillOnDrop(i32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _bg = KillOnDrop(bg);
    let pipes = [pipe_of(bg, 1), pipe_of(bg, 2)];
    assert!(pipes.iter().all(|p| p.starts_with("pipe:")), "{pipes:?}");
    // The readers stop after their grace: the server lets go of both pipes although the
    // sleep still holds their write ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while pipes.iter().any(|p| we_hold(p)) {
        assert!(
            Instant::now() < deadline,
            "a reader of run {id} still holds {pipes:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_simultaneous_resurrects_start_one_process_which_can_be_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran-once");
    // Ends at once the first time; runs until killed once resurrected.
    let command = format!(
        "twice=echo pid=$$; if [ -e '{0}' ]; then exec sleep 1000; fi; touch '{0}'",
        marker.display()
    );
    let t = Ctx::start_with(actors_config(&[&command])).await;
    let run = t.start_run("twice", "waitForFinish=60", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    assert_eq!(t.finished_run(id).await["status"], "SUCCEEDED");
    let path = format!("/v2/actor-runs/{id}/resurrect");
    let (one, two) = tokio::join!(post(&t, &path), post(&t, &path));
    let mut codes = [one.status().as_u16(), two.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 400]);
    for r in [one, two] {
        if r.status() == 400 {
            expect_error(r, 400, "invalid-input").await;
        }
    }
    let log = t.log_containing(id, "Resurrecting").await;
    let mut log = log;
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.matches("Z pid=").count() < 2 {
        assert!(Instant::now() < deadline, "no resurrected process: {log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = t.run_log(id).await;
    }
    let second = pid_in(&log[log.find("Resurrecting").unwrap()..]);
    let run = data(post(&t, &format!("/v2/actor-runs/{id}/abort")).await).await;
    assert_eq!(run["status"], "ABORTED");
    assert!(group_gone(second).await);
    let log = t.run_log(id).await;
    assert_eq!(log.matches("Starting local Actor").count(), 2, "{log}");
    assert_eq!(log.matches("Z pid=").count(), 2, "{log}");
    assert_eq!(
        data(t.get(&format!("/v2/actor-runs/{id}")).await).await["stats"]["resurrectCount"],
        1
    );
}

#[tokio::test]
async fn actor_commands_are_not_written_into_run_or_build_logs() {
    let t = Ctx::start_with(actors_config(&["secretive=echo hello # SECRET_x9f3"])).await;
    let run = t
        .start_run("secretive", "waitForFinish=60", &Value::Null)
        .await;
    let id = run["id"].as_str().unwrap();
    assert_eq!(t.finished_run(id).await["status"], "SUCCEEDED");
    let log = t.run_log(id).await;
    assert!(log.contains("hello"), "{log}");
    assert!(!log.contains("SECRET_x9f3"), "{log}");
    let build = data(t.get("/v2/acts/secretive/builds/default").await).await;
    let build_id = build["id"].as_str().unwrap();
    let build_log = t
        .get(&format!("/v2/actor-builds/{build_id}/log"))
        .await
        .text()
        .await
        .unwrap();
    assert!(build_log.contains("secretive"), "{build_log}");
    assert!(!build_log.contains("SECRET_x9f3"), "{build_log}");
}
