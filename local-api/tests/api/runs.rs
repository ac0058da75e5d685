//! Runs of local Actors: real child processes, their lifecycle, logs, storages and charges.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::{actors_config, data, expect_error, group_gone, pid_in, Ctx};

/// A one-off that prints its process group id, then sleeps.
const SLEEPER: &str = "sleeper=echo pid=$$; sleep 30";

#[tokio::test]
async fn echo_succeeds_with_its_dataset_item_and_output_through_a_token() {
    let mut config = actors_config(&[]);
    config.token = Some("s3cret-token".to_owned());
    let api = apify_local_api::LocalApi::start(config).await.unwrap();
    let http = crate::common::http_client();
    let base = api.base_url();
    let auth = "Bearer s3cret-token";
    let input = json!({ "items": [{ "n": 1 }, { "n": 2 }] });
    let r = http
        .post(format!("{base}/v2/acts/echo/runs?waitForFinish=60"))
        .header("authorization", auth)
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("/v2/actor-runs/"));
    let run = data(r).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["exitCode"], 0);
    assert!(run["finishedAt"].is_string());
    assert_eq!(run["meta"]["origin"], "API");
    assert_eq!(run["options"]["memoryMbytes"], 256);
    assert_eq!(run["options"]["timeoutSecs"], 300);
    let id = run["id"].as_str().unwrap();
    let get = |path: String| {
        let http = http.clone();
        async move {
            http.get(path)
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
        }
    };
    let items: Value = get(format!(
        "{base}/v2/datasets/{}/items",
        run["defaultDatasetId"].as_str().unwrap()
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(items, json!([{ "n": 1 }, { "n": 2 }]));
    // The run-scoped aliases reach the same storages.
    let items: Value = get(format!("{base}/v2/actor-runs/{id}/dataset/items?desc=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items, json!([{ "n": 2 }, { "n": 1 }]));
    let output: Value = get(format!(
        "{base}/v2/actor-runs/{id}/key-value-store/records/OUTPUT"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(output, input);
    let r = get(format!(
        "{base}/v2/actor-runs/{id}/key-value-store/records/INPUT"
    ))
    .await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let keys = data(get(format!("{base}/v2/actor-runs/{id}/key-value-store/keys")).await).await;
    assert_eq!(keys["count"], 2);
    let queue = data(get(format!("{base}/v2/actor-runs/{id}/request-queue")).await).await;
    assert_eq!(queue["id"], run["defaultRequestQueueId"]);
    let log = get(format!("{base}/v2/actor-runs/{id}/log"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("echo: done") && log.contains("Run finished: SUCCEEDED"),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "the token never reaches the log");
    // Without the token, nothing.
    assert_eq!(
        http.get(format!("{base}/v2/actor-runs/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_run_gets_the_platform_environment() {
    let t = Ctx::start_with(actors_config(&[
        "env=env | grep -E '^(ACTOR|APIFY)_' | grep -v TOKEN | sort",
    ]))
    .await;
    let run = t
        .start_run("env", "memory=512&waitForFinish=60", &Value::Null)
        .await;
    assert_eq!(run["status"], "SUCCEEDED");
    let log = t.run_log(run["id"].as_str().unwrap()).await;
    for (name, value) in [
        ("ACTOR_RUN_ID", run["id"].as_str().unwrap().to_owned()),
        ("ACTOR_ID", run["actId"].as_str().unwrap().to_owned()),
        ("APIFY_API_BASE_URL", t.api.base_url()),
        (
            "ACTOR_DEFAULT_DATASET_ID",
            run["defaultDatasetId"].as_str().unwrap().to_owned(),
        ),
        (
            "ACTOR_DEFAULT_KEY_VALUE_STORE_ID",
            run["defaultKeyValueStoreId"].as_str().unwrap().to_owned(),
        ),
        (
            "ACTOR_DEFAULT_REQUEST_QUEUE_ID",
            run["defaultRequestQueueId"].as_str().unwrap().to_owned(),
        ),
        (
            "ACTOR_BUILD_ID",
            run["buildId"].as_str().unwrap().to_owned(),
        ),
        ("ACTOR_INPUT_KEY", "INPUT".to_owned()),
        ("ACTOR_MEMORY_MBYTES", "512".to_owned()),
        ("APIFY_IS_AT_HOME", "1".to_owned()),
    ] {
        assert!(
            log.contains(&format!("{name}={value}\n")),
            "{name}={value} missing in {log}"
        );
    }
    assert!(log.contains("ACTOR_TIMEOUT_AT=20"), "{log}");
}

#[tokio::test]
async fn a_failing_command_fails_with_its_exit_code() {
    let t = Ctx::start_with(actors_config(&["fail=sh -c 'exit 3'"])).await;
    let run = t.start_run("fail", "waitForFinish=60", &Value::Null).await;
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["exitCode"], 3);
}

#[tokio::test]
async fn the_run_timeout_kills_it_as_timed_out() {
    let t = Ctx::start_with(actors_config(&[SLEEPER])).await;
    let started = Instant::now();
    let run = t.start_run("sleeper", "timeout=1", &Value::Null).await;
    assert_eq!(run["options"]["timeoutSecs"], 1);
    let id = run["id"].as_str().unwrap();
    let pgid = pid_in(&t.log_containing(id, "Z pid=").await);
    let run = t.finished_run(id).await;
    assert_eq!(run["status"], "TIMED-OUT");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        group_gone(pgid).await,
        "the timed-out process group is gone"
    );
}

#[tokio::test]
async fn abort_forced_and_graceful_end_the_whole_process_group() {
    let t = Ctx::start_with(actors_config(&[
        SLEEPER,
        "stubborn=trap '' TERM; echo pid=$$; sleep 30",
    ]))
    .await;
    // Forced: SIGKILL at once.
    let run = t.start_run("sleeper", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let pgid = pid_in(&t.log_containing(id, "Z pid=").await);
    let r = t
        .http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(data(r).await["status"], "ABORTED");
    assert!(group_gone(pgid).await, "the aborted group is gone");
    // Graceful: SIGTERM, which a plain sleeper obeys at once.
    let run = t.start_run("sleeper", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let pgid = pid_in(&t.log_containing(id, "Z pid=").await);
    let started = Instant::now();
    let r = t
        .http
        .post(t.url("/v2/acts/sleeper/runs/last/abort?gracefully=true"))
        .send()
        .await
        .unwrap();
    // Answered at once, as the API does; the run ends ABORTED when the process is gone.
    assert_eq!(data(r).await["status"], "ABORTING");
    let ended = data(
        t.get(&format!("/v2/actor-runs/{id}?waitForFinish=30"))
            .await,
    )
    .await;
    assert_eq!(ended["status"], "ABORTED");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "SIGTERM was enough: {:?}",
        started.elapsed()
    );
    assert!(group_gone(pgid).await);
    // Graceful on a process that ignores SIGTERM: SIGKILL after the grace period (5 s).
    let run = t.start_run("stubborn", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let pgid = pid_in(&t.log_containing(id, "Z pid=").await);
    let r = t
        .http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort?gracefully=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(data(r).await["status"], "ABORTING");
    let ended = data(
        t.get(&format!("/v2/actor-runs/{id}?waitForFinish=30"))
            .await,
    )
    .await;
    assert_eq!(ended["status"], "ABORTED");
    assert!(
        group_gone(pgid).await,
        "SIGKILL followed the ignored SIGTERM"
    );
    // Aborting a finished run changes nothing.
    let r = t
        .http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(data(r).await["status"], "ABORTED");
}

#[tokio::test]
async fn no_run_outlives_the_server() {
    let t = Ctx::start_with(actors_config(&[SLEEPER])).await;
    let run = t.start_run("sleeper", "", &Value::Null).await;
    let pgid = pid_in(
        &t.log_containing(run["id"].as_str().unwrap(), "Z pid=")
            .await,
    );
    t.api.shutdown().await;
    assert!(group_gone(pgid).await, "shutdown killed the run");
}

#[tokio::test]
async fn wait_for_finish_holds_the_answer_until_the_end_or_the_limit() {
    let t = Ctx::start_with(actors_config(&[SLEEPER])).await;
    // A run of about a second: the start answer comes when it is done.
    let started = Instant::now();
    let run = t
        .start_run("echo", "waitForFinish=60", &json!({ "sleepSecs": 1 }))
        .await;
    assert_eq!(run["status"], "SUCCEEDED");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    // A long run: the answer comes at the limit, still running.
    let run = t.start_run("sleeper", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let started = Instant::now();
    let got = data(t.get(&format!("/v2/actor-runs/{id}?waitForFinish=1")).await).await;
    assert_eq!(got["status"], "RUNNING");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(10));
    // Without waitForFinish: at once.
    assert_eq!(
        data(t.get(&format!("/v2/actor-runs/{id}")).await).await["status"],
        "RUNNING"
    );
    t.http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort")))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_log_streams_while_the_run_is_alive_and_ends_with_it() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let run = t
        .start_run(
            "slow-fail",
            "",
            &json!({ "count": 15, "intervalSecs": "0.2" }),
        )
        .await;
    let id = run["id"].as_str().unwrap();
    let r = t.get(&format!("/v2/actor-runs/{id}/log?stream=1")).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    while !text.contains("line 1 of 15") {
        let chunk = stream.next().await.expect("stream open").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    // A line arrived, and the run still runs: the log is live.
    let now = data(t.get(&format!("/v2/actor-runs/{id}")).await).await;
    assert_eq!(now["status"], "RUNNING", "{text}");
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(
        text.contains("line 15 of 15") && text.contains("Run finished: FAILED"),
        "{text}"
    );
    let run = t.finished_run(id).await;
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["exitCode"], 1);
    // The Actor set its own status message.
    assert_eq!(run["statusMessage"], "Failed on purpose after 15 lines");
    assert_eq!(run["isStatusMessageTerminal"], true);
}

#[tokio::test]
async fn a_status_message_can_be_set_and_cleared() {
    let t = Ctx::start_with(actors_config(&[SLEEPER])).await;
    let id = t.start_run("sleeper", "", &Value::Null).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .put_json(
            &format!("/v2/actor-runs/{id}"),
            &json!({ "statusMessage": "Halfway", "isStatusMessageTerminal": false }),
        )
        .await;
    let run = data(r).await;
    assert_eq!(
        (
            run["statusMessage"].as_str(),
            run["isStatusMessageTerminal"].as_bool()
        ),
        (Some("Halfway"), Some(false))
    );
    expect_error(
        t.put_json(
            &format!("/v2/actor-runs/{id}"),
            &json!({ "statusMessage": 7 }),
        )
        .await,
        400,
        "invalid-value",
    )
    .await;
    let run = data(
        t.put_json(
            &format!("/v2/actor-runs/{id}"),
            &json!({ "statusMessage": null }),
        )
        .await,
    )
    .await;
    assert!(run["statusMessage"].is_null());
    // A live run cannot be deleted; a finished one can.
    expect_error(
        t.delete(&format!("/v2/actor-runs/{id}")).await,
        400,
        "invalid-input",
    )
    .await;
    t.http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        t.delete(&format!("/v2/actor-runs/{id}")).await.status(),
        204
    );
    expect_error(
        t.get(&format!("/v2/actor-runs/{id}")).await,
        404,
        "record-not-found",
    )
    .await;
}

#[tokio::test]
async fn charges_are_counted_once_per_idempotency_key() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let run = t
        .start_run("charge", "waitForFinish=60", &Value::Null)
        .await;
    assert_eq!(
        run["status"],
        "SUCCEEDED",
        "{}",
        t.run_log(run["id"].as_str().unwrap()).await
    );
    assert_eq!(
        run["chargedEventCounts"],
        json!({ "actor-start": 1, "item-processed": 3 })
    );
    assert_eq!(run["usageTotalUsd"], 0.013);
    let id = run["id"].as_str().unwrap();
    let charge = |key: &'static str, body: Value| {
        t.http
            .post(t.url(&format!("/v2/actor-runs/{id}/charge")))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    assert_eq!(
        charge("k1", json!({ "eventName": "item-processed", "count": 2 }))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        charge("k1", json!({ "eventName": "item-processed", "count": 2 }))
            .await
            .unwrap()
            .status(),
        201
    );
    expect_error(
        charge("k2", json!({ "eventName": "nope" })).await.unwrap(),
        400,
        "invalid-input",
    )
    .await;
    let run = data(t.get(&format!("/v2/actor-runs/{id}")).await).await;
    assert_eq!(run["chargedEventCounts"]["item-processed"], 5);
}

#[tokio::test]
async fn metamorph_runs_another_actor_in_the_same_run_and_storages() {
    let t = Ctx::start_with(actors_config(&[SLEEPER])).await;
    let run = t.start_run("sleeper", "", &json!({ "first": true })).await;
    let id = run["id"].as_str().unwrap();
    let pgid = pid_in(&t.log_containing(id, "Z pid=").await);
    let echo = data(t.get("/v2/acts/echo").await).await;
    let r = t
        .post_json(
            &format!("/v2/actor-runs/{id}/metamorph?targetActorId=echo"),
            &json!({ "items": [{ "m": 1 }] }),
        )
        .await;
    let morphed = data(r).await;
    assert_eq!(morphed["id"], id);
    assert_eq!(morphed["actId"], echo["id"]);
    assert!(group_gone(pgid).await, "the first process is gone");
    let run = t.finished_run(id).await;
    assert_eq!(run["status"], "SUCCEEDED");
    assert_eq!(run["stats"]["metamorph"], 1);
    assert_eq!(run["defaultDatasetId"], morphed["defaultDatasetId"]);
    let items: Value = t
        .get(&format!("/v2/actor-runs/{id}/dataset/items"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items, json!([{ "m": 1 }]));
    // Both inputs are kept, under the platform's keys.
    let first: Value = t
        .get(&format!(
            "/v2/actor-runs/{id}/key-value-store/records/INPUT"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, json!({ "first": true }));
    assert_eq!(
        t.get(&format!(
            "/v2/actor-runs/{id}/key-value-store/records/INPUT-METAMORPH-1"
        ))
        .await
        .status(),
        200
    );
    // The run is listed under the Actor it started as.
    assert_eq!(data(t.get("/v2/acts/sleeper/runs").await).await["total"], 1);
    expect_error(
        t.post_json(
            &format!("/v2/actor-runs/{id}/metamorph?targetActorId=echo"),
            &json!({}),
        )
        .await,
        400,
        "invalid-input",
    )
    .await;
}

#[tokio::test]
async fn resurrect_and_reboot_start_the_process_again() {
    let t = Ctx::start_with(actors_config(&["fail=exit 3", SLEEPER])).await;
    let run = t.start_run("fail", "waitForFinish=60", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    assert_eq!(run["status"], "FAILED");
    let r = t
        .http
        .post(t.url(&format!("/v2/actor-runs/{id}/resurrect")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run = t.finished_run(id).await;
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["stats"]["resurrectCount"], 1);
    assert_eq!(
        t.run_log(id).await.matches("Starting local Actor").count(),
        2
    );

    let run = t.start_run("sleeper", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let first = pid_in(&t.log_containing(id, "Z pid=").await);
    expect_error(
        t.http
            .post(t.url(&format!("/v2/actor-runs/{id}/resurrect")))
            .send()
            .await
            .unwrap(),
        400,
        "invalid-input",
    )
    .await;
    let r = t
        .http
        .post(t.url(&format!("/v2/actor-runs/{id}/reboot")))
        .send()
        .await
        .unwrap();
    let rebooted = data(r).await;
    assert_eq!(rebooted["status"], "RUNNING");
    assert_eq!(rebooted["stats"]["rebootCount"], 1);
    assert!(group_gone(first).await);
    // A new process of the same run prints its own pid after the reboot line.
    let mut log = t.log_containing(id, "Rebooting").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log[log.find("Rebooting").unwrap()..].contains("Z pid=") {
        assert!(
            Instant::now() < deadline,
            "no new process after the reboot: {log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = t.run_log(id).await;
    }
    let second = pid_in(&log[log.find("Rebooting").unwrap()..]);
    assert_ne!(first, second);
    assert!(crate::common::group_alive(second));
    t.http
        .post(t.url(&format!("/v2/actor-runs/{id}/abort")))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_last_run_follows_status_and_origin_filters_and_has_aliases() {
    // Succeeds when its input contains "ok".
    let flip = "flip=curl -sf \"$APIFY_API_BASE_URL/v2/key-value-stores/$ACTOR_DEFAULT_KEY_VALUE_STORE_ID/records/INPUT\" | grep -q ok";
    let t = Ctx::start_with(actors_config(&[flip])).await;
    expect_error(
        t.get("/v2/acts/flip/runs/last").await,
        404,
        "record-not-found",
    )
    .await;
    let good = t
        .start_run("flip", "waitForFinish=60", &json!({ "say": "ok" }))
        .await;
    assert_eq!(good["status"], "SUCCEEDED");
    let bad = t
        .start_run("flip", "waitForFinish=60", &json!({ "say": "no" }))
        .await;
    assert_eq!(bad["status"], "FAILED");
    assert_eq!(
        data(t.get("/v2/acts/flip/runs/last").await).await["id"],
        bad["id"]
    );
    assert_eq!(
        data(t.get("/v2/acts/flip/runs/last?status=SUCCEEDED").await).await["id"],
        good["id"]
    );
    assert_eq!(
        data(
            t.get("/v2/actors/flip/runs/last?status=SUCCEEDED&origin=API")
                .await
        )
        .await["id"],
        good["id"]
    );
    expect_error(
        t.get("/v2/acts/flip/runs/last?origin=WEB").await,
        404,
        "record-not-found",
    )
    .await;
    expect_error(
        t.get("/v2/acts/flip/runs/last?status=DONE").await,
        400,
        "invalid-input",
    )
    .await;
    let input: Value = t
        .get("/v2/acts/flip/runs/last/key-value-store/records/INPUT?status=SUCCEEDED")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(input, json!({ "say": "ok" }));
    let dataset = data(t.get("/v2/acts/flip/runs/last/dataset").await).await;
    assert_eq!(dataset["id"], bad["defaultDatasetId"]);
    let log = t
        .get("/v2/acts/flip/runs/last/log?status=FAILED")
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("Run finished: FAILED"), "{log}");
    // A run of another Actor is not found under this one.
    let echo = t.start_run("echo", "", &Value::Null).await;
    expect_error(
        t.get(&format!(
            "/v2/acts/flip/runs/{}",
            echo["id"].as_str().unwrap()
        ))
        .await,
        404,
        "record-not-found",
    )
    .await;
    assert_eq!(
        data(
            t.get(&format!(
                "/v2/acts/flip/runs/{}",
                good["id"].as_str().unwrap()
            ))
            .await
        )
        .await["id"],
        good["id"]
    );
}

#[tokio::test]
async fn runs_are_listed_with_pagination_and_status_filters() {
    let t = Ctx::start_with(actors_config(&["ok=exit 0", "fail=exit 1"])).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            t.start_run("ok", "waitForFinish=60", &Value::Null).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    t.start_run("fail", "waitForFinish=60", &Value::Null).await;
    let page = data(t.get("/v2/acts/ok/runs?offset=1&limit=1").await).await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["count"].as_u64(),
            page["offset"].as_u64(),
            page["limit"].as_u64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    assert_eq!(page["items"][0]["id"], ids[1]);
    let desc = data(t.get("/v2/acts/ok/runs?desc=1").await).await;
    assert_eq!(desc["desc"], true);
    assert_eq!(desc["items"][0]["id"], ids[2]);
    assert_eq!(desc["items"][0]["status"], "SUCCEEDED");
    let all = data(t.get("/v2/actor-runs").await).await;
    assert_eq!(all["total"], 4);
    let failed = data(t.get("/v2/actor-runs?status=FAILED").await).await;
    assert_eq!(failed["total"], 1);
    let some = data(
        t.get("/v2/actor-runs?status=FAILED,SUCCEEDED&limit=2")
            .await,
    )
    .await;
    assert_eq!(
        (some["total"].as_u64(), some["count"].as_u64()),
        (Some(4), Some(2))
    );
    expect_error(
        t.get("/v2/actor-runs?status=nope").await,
        400,
        "invalid-input",
    )
    .await;
    expect_error(t.get("/v2/actor-runs/nope").await, 404, "record-not-found").await;
}

#[tokio::test]
async fn run_sync_answers_with_the_output_or_the_items_or_the_failure() {
    let t = Ctx::start_with(actors_config(&["fail=exit 4"])).await;
    let input = json!({ "items": [{ "s": 1 }, { "s": 2 }] });
    let r = t.post_json("/v2/acts/echo/run-sync", &input).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), input);
    let r = t
        .post_json("/v2/acts/echo/run-sync-get-dataset-items?desc=1", &input)
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{ "s": 2 }, { "s": 1 }])
    );
    let body = expect_error(t.get("/v2/acts/fail/run-sync").await, 400, "run-failed").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("FAILED"),
        "{body}"
    );
    let task = data(
        t.post_json(
            "/v2/actor-tasks",
            &json!({ "actId": "echo", "name": "sync", "input": { "items": [{ "t": 1 }] } }),
        )
        .await,
    )
    .await;
    let r = t
        .get(&format!(
            "/v2/actor-tasks/{}/run-sync-get-dataset-items",
            task["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([{ "t": 1 }]));
}
