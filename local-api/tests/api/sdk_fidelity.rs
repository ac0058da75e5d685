//! What the official SDKs (Python `apify` + crawlee, JS `apify` + crawlee) need from the API
//! beyond the plain endpoints: request ids computed from the uniqueKey, PUT as an upsert,
//! lock semantics, pricing for `Actor.charge`, the platform's run environment built from an
//! allow-list, and reboot/metamorph asked for by the run itself.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use apify_local_api::config::manifest::ChargeEvent;
use serde_json::{json, Value};

use crate::common::{actors_config, data, expect_error, Ctx};

/// The SDKs' check value: `unique_key_to_request_id("https://crawlee.dev")`.
const CRAWLEE_DEV_ID: &str = "3FULW9cbbkMrV4R";
/// The same for `https://x.y/` (computed with the Python SDK's function).
const X_Y_ID: &str = "TzgAekCsPhJnrjr";

async fn queue(t: &Ctx) -> String {
    t.create("request-queues", "sdk").await
}

async fn counts(t: &Ctx, q: &str) -> (u64, u64, u64, bool) {
    let queue = data(t.get(&format!("/v2/request-queues/{q}")).await).await;
    (
        queue["totalRequestCount"].as_u64().unwrap(),
        queue["handledRequestCount"].as_u64().unwrap(),
        queue["pendingRequestCount"].as_u64().unwrap(),
        queue["hadMultipleClients"].as_bool().unwrap(),
    )
}

fn ids(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn request_ids_are_the_sdks_hash_of_the_unique_key() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    let added = data(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests?clientKey=c"),
            &json!({ "url": "https://crawlee.dev" }),
        )
        .await,
    )
    .await;
    assert_eq!(added["requestId"], CRAWLEE_DEV_ID);
    // Values computed with the Python SDK's `unique_key_to_request_id` (UTF-8, `+`/`/`/`=`
    // stripped from the standard base64).
    let batch = data(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests/batch?clientKey=c"),
            &json!([
                { "url": "https://example.com/ü?q=a+b" },
                { "url": "https://x.y/", "uniqueKey": "GET:https://x.y/" },
            ]),
        )
        .await,
    )
    .await;
    let processed = &batch["processedRequests"];
    assert_eq!(processed[0]["requestId"], "xO28PdZyzgIYCIO");
    assert_eq!(processed[1]["requestId"], "PjovhXMgEGF0PrN");
    assert_eq!(batch["unprocessedRequests"], json!([]));
    let got = data(
        t.get(&format!("/v2/request-queues/{q}/requests/{CRAWLEE_DEV_ID}"))
            .await,
    )
    .await;
    assert_eq!(got["id"], CRAWLEE_DEV_ID);
    assert_eq!(got["uniqueKey"], "https://crawlee.dev");
}

#[tokio::test]
async fn put_adds_a_request_named_by_the_id_of_its_unique_key() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    data(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests?clientKey=c"),
            &json!({ "url": "https://x.y/", "uniqueKey": "GET:https://x.y/" }),
        )
        .await,
    )
    .await;
    // The Python single-client queue sends PUT with the id it computed, forefront.
    let r = t
        .put_json(
            &format!("/v2/request-queues/{q}/requests/{CRAWLEE_DEV_ID}?forefront=true&clientKey=c"),
            &json!({ "id": CRAWLEE_DEV_ID, "url": "https://crawlee.dev", "uniqueKey": "https://crawlee.dev", "retryCount": 0 }),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        data(r).await,
        json!({ "requestId": CRAWLEE_DEV_ID, "wasAlreadyPresent": false, "wasAlreadyHandled": false })
    );
    assert_eq!(counts(&t, &q).await, (2, 0, 2, false));
    let head = data(
        t.get(&format!("/v2/request-queues/{q}/head?clientKey=c"))
            .await,
    )
    .await;
    assert_eq!(ids(&head["items"]), [CRAWLEE_DEV_ID, "PjovhXMgEGF0PrN"]);

    // Upserting a handled request counts it as handled.
    let r = t
        .put_json(
            &format!("/v2/request-queues/{q}/requests/xO28PdZyzgIYCIO?clientKey=c"),
            &json!({ "url": "https://example.com/ü?q=a+b", "uniqueKey": "https://example.com/ü?q=a+b", "handledAt": "2026-01-01T00:00:00.000Z" }),
        )
        .await;
    assert_eq!(data(r).await["wasAlreadyPresent"], false);
    assert_eq!(counts(&t, &q).await, (3, 1, 2, false));

    // Again: now it is there, and was handled.
    let again = data(
        t.put_json(
            &format!("/v2/request-queues/{q}/requests/xO28PdZyzgIYCIO?clientKey=c"),
            &json!({ "url": "https://example.com/ü?q=a+b", "uniqueKey": "https://example.com/ü?q=a+b", "handledAt": "2026-01-01T00:00:00.000Z" }),
        )
        .await,
    )
    .await;
    assert_eq!(again["wasAlreadyPresent"], true);
    assert_eq!(again["wasAlreadyHandled"], true);

    // An id that is not the uniqueKey's, or no uniqueKey: still 404.
    for body in [
        json!({ "url": "https://crawlee.dev/other", "uniqueKey": "https://crawlee.dev/other" }),
        json!({ "url": "https://crawlee.dev" }),
    ] {
        expect_error(
            t.put_json(
                &format!("/v2/request-queues/{q}/requests/AAAAAAAAAAAAAAA?clientKey=c"),
                &body,
            )
            .await,
            404,
            "record-not-found",
        )
        .await;
    }
    assert_eq!(counts(&t, &q).await, (3, 1, 2, false));
}

#[tokio::test]
async fn null_fields_are_stored_as_absent() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    let body = json!({ "url": "https://crawlee.dev", "handledAt": null, "loadedUrl": null, "payload": null, "noRetry": null });
    data(
        t.post_json(&format!("/v2/request-queues/{q}/requests"), &body)
            .await,
    )
    .await;
    let url = format!("/v2/request-queues/{q}/requests/{CRAWLEE_DEV_ID}");
    let got = data(t.get(&url).await).await;
    for field in ["handledAt", "loadedUrl", "payload", "noRetry"] {
        assert!(got.get(field).is_none(), "{field} in {got}");
    }
    data(t.put_json(&url, &body).await).await;
    let got = data(t.get(&url).await).await;
    assert!(got.get("payload").is_none(), "{got}");
    assert_eq!(counts(&t, &q).await.2, 1, "a null handledAt is pending");
}

#[tokio::test]
async fn a_batch_with_an_unnamed_invalid_request_is_refused_whole() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    for bad in [
        json!("https://a.b"),
        json!({ "url": 3 }),
        json!({ "url": "" }),
    ] {
        let body = expect_error(
            t.post_json(
                &format!("/v2/request-queues/{q}/requests/batch"),
                &json!([{ "url": "https://ok.example" }, bad]),
            )
            .await,
            400,
            "invalid-value",
        )
        .await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Request 1 of the batch"), "{message}");
    }
    assert_eq!(counts(&t, &q).await.0, 0, "nothing was added");
    // One with a uniqueKey comes back unprocessed under it; the rest is added.
    let result = data(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests/batch"),
            &json!([{ "url": "https://ok.example" }, { "uniqueKey": "no-url", "method": "GET" }]),
        )
        .await,
    )
    .await;
    assert_eq!(result["processedRequests"].as_array().unwrap().len(), 1);
    assert_eq!(
        result["unprocessedRequests"],
        json!([{ "uniqueKey": "no-url", "method": "GET" }])
    );
    assert_eq!(counts(&t, &q).await.0, 1);
}

#[tokio::test]
async fn head_lock_takes_at_most_25() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    for chunk in 0..2 {
        let batch: Vec<Value> = (0..20)
            .map(|i| json!({ "url": format!("https://{chunk}-{i}.example") }))
            .collect();
        data(
            t.post_json(
                &format!("/v2/request-queues/{q}/requests/batch?clientKey=c"),
                &Value::Array(batch),
            )
            .await,
        )
        .await;
    }
    let locked = data(
        t.http
            .post(t.url(&format!(
                "/v2/request-queues/{q}/head/lock?lockSecs=60&limit=100&clientKey=c"
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(locked["limit"], 25);
    assert_eq!(locked["items"].as_array().unwrap().len(), 25);
    let head = data(
        t.get(&format!(
            "/v2/request-queues/{q}/head?limit=5000&clientKey=c"
        ))
        .await,
    )
    .await;
    assert_eq!(head["limit"], 1000);
    assert_eq!(head["items"].as_array().unwrap().len(), 15);
}

/// The JS crawler's cycle: lock the head, prolong, reclaim (PUT + DELETE lock), mark handled;
/// the crawl ends when the lock call returns nothing and `queueHasLockedRequests: false`.
#[tokio::test]
async fn locks_follow_the_sdk_cycle() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    for url in ["https://crawlee.dev", "https://x.y/"] {
        data(
            t.post_json(
                &format!("/v2/request-queues/{q}/requests?clientKey=a"),
                &json!({ "url": url }),
            )
            .await,
        )
        .await;
    }
    let lock_head = |client: &'static str, secs: u32| {
        t.http
            .post(t.url(&format!(
                "/v2/request-queues/{q}/head/lock?lockSecs={secs}&limit=25&clientKey={client}"
            )))
            .send()
    };
    let lock_url = |id: &str, client: &str, extra: &str| {
        t.url(&format!(
            "/v2/request-queues/{q}/requests/{id}/lock?lockSecs=60&clientKey={client}{extra}"
        ))
    };
    // A lock of 0 s has run out already: the request waited too long in a local head.
    let locked = data(lock_head("a", 0).await.unwrap()).await;
    assert_eq!(locked["items"].as_array().unwrap().len(), 2);
    // Prolonging an expired lock nobody else took locks it again for the caller.
    let prolonged = data(
        t.http
            .put(lock_url(CRAWLEE_DEV_ID, "a", ""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        prolonged["lockExpiresAt"].as_str().unwrap()
            > locked["items"][0]["lockExpiresAt"].as_str().unwrap()
    );
    // Now it is held: another client may neither prolong nor delete it.
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        expect_error(
            t.http
                .request(method, lock_url(CRAWLEE_DEV_ID, "b", ""))
                .send()
                .await
                .unwrap(),
            403,
            "insufficient-permissions",
        )
        .await;
    }
    // Another client's lock call gets the other (expired) request only.
    let other = data(lock_head("b", 60).await.unwrap()).await;
    assert_eq!(ids(&other["items"]), [X_Y_ID]);
    assert_eq!(other["queueHasLockedRequests"], true);

    // Reclaim as JS does: PUT without handledAt (forefront), then DELETE the lock.
    let put = |id: &str, client: &str, body: Value, query: &str| {
        t.http
            .put(t.url(&format!(
                "/v2/request-queues/{q}/requests/{id}?clientKey={client}{query}"
            )))
            .json(&body)
            .send()
    };
    let reg = data(
        put(CRAWLEE_DEV_ID, "a", json!({ "url": "https://crawlee.dev", "uniqueKey": "https://crawlee.dev", "retryCount": 1 }), "&forefront=true")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reg["wasAlreadyHandled"], false);
    assert_eq!(
        t.http
            .delete(lock_url(CRAWLEE_DEV_ID, "a", "&forefront=true"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let again = data(lock_head("a", 60).await.unwrap()).await;
    assert_eq!(ids(&again["items"]), [CRAWLEE_DEV_ID]);
    assert_eq!(again["items"][0]["retryCount"], 1);

    // Mark both handled (JS: whole request + handledAt, no forefront): locks go with it.
    for (id, client, url) in [
        (CRAWLEE_DEV_ID, "a", "https://crawlee.dev"),
        (X_Y_ID, "b", "https://x.y/"),
    ] {
        let reg = data(
            put(id, client, json!({ "id": id, "url": url, "uniqueKey": url, "handledAt": "2026-01-01T00:00:00.000Z" }), "")
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reg["wasAlreadyHandled"], false);
    }
    let end = data(lock_head("a", 60).await.unwrap()).await;
    assert_eq!(end["items"], json!([]));
    assert_eq!(end["queueHasLockedRequests"], false);
    // A handled request has no lock to prolong.
    expect_error(
        t.http
            .put(lock_url(CRAWLEE_DEV_ID, "a", ""))
            .send()
            .await
            .unwrap(),
        400,
        "invalid-value",
    )
    .await;
    // Two clients used the queue.
    assert_eq!(counts(&t, &q).await, (2, 2, 0, true));

    // Python's reclaim of a handled request: PUT without handledAt makes it pending again,
    // and `wasAlreadyHandled` is the state before.
    let reg = data(
        put(
            CRAWLEE_DEV_ID,
            "a",
            json!({ "url": "https://crawlee.dev", "uniqueKey": "https://crawlee.dev" }),
            "",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(reg["wasAlreadyHandled"], true);
    assert_eq!(counts(&t, &q).await, (2, 1, 1, true));
    // DELETE takes it out of its bucket; a batch delete by uniqueKey too.
    assert_eq!(
        t.delete(&format!(
            "/v2/request-queues/{q}/requests/{CRAWLEE_DEV_ID}?clientKey=a"
        ))
        .await
        .status(),
        204
    );
    assert_eq!(counts(&t, &q).await, (1, 1, 0, true));
    let deleted = data(
        t.http
            .delete(t.url(&format!(
                "/v2/request-queues/{q}/requests/batch?clientKey=a"
            )))
            .json(&json!([{ "uniqueKey": "https://x.y/" }]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        deleted["processedRequests"],
        json!([{ "id": X_Y_ID, "uniqueKey": "https://x.y/" }])
    );
    assert_eq!(counts(&t, &q).await, (0, 0, 0, true));
}

#[tokio::test]
async fn one_client_key_throughout_is_one_client() {
    let t = Ctx::start().await;
    let q = queue(&t).await;
    let add = t
        .post_json(
            &format!("/v2/request-queues/{q}/requests/batch?clientKey=only"),
            &json!([{ "url": "https://crawlee.dev" }]),
        )
        .await;
    data(add).await;
    let head = data(
        t.get(&format!(
            "/v2/request-queues/{q}/head?limit=200&clientKey=only"
        ))
        .await,
    )
    .await;
    assert_eq!(head["hadMultipleClients"], false);
    // Reading a request or the queue carries no clientKey and does not count as a client.
    data(
        t.get(&format!("/v2/request-queues/{q}/requests/{CRAWLEE_DEV_ID}"))
            .await,
    )
    .await;
    assert!(!counts(&t, &q).await.3);
    // A call without a clientKey comes from a new client.
    data(t.get(&format!("/v2/request-queues/{q}/head")).await).await;
    assert!(counts(&t, &q).await.3);
}

/// A config whose `NAME=COMMAND` Actor has a pay-per-event price for `ev`.
fn priced(config: &mut apify_local_api::LocalApiConfig, one_off: &str) {
    config.add_actor(one_off).unwrap();
    config.actors.last_mut().unwrap().charge_events = vec![ChargeEvent {
        name: "ev".to_owned(),
        price_usd: 0.5,
        title: Some("An event".to_owned()),
        description: None,
    }];
}

/// A run that charges twice, then reboots itself through the API; the new process sees the
/// counts so far. Also: pricing on the run object, and status messages set by the run.
#[tokio::test]
async fn a_run_reboots_itself_and_keeps_its_pricing_and_counts() {
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("started");
    let api =
        r#"curl -sS -H "Authorization: Bearer $APIFY_TOKEN" -H 'content-type: application/json'"#;
    let command = format!(
        r#"if [ -e '{mark}' ]; then echo "second counts=$APIFY_CHARGED_ACTOR_EVENT_COUNTS"; exit 0; fi
touch '{mark}'
echo "first pricing=$APIFY_ACTOR_PRICING_INFO counts=$APIFY_CHARGED_ACTOR_EVENT_COUNTS"
{api} -X POST -d '{{"eventName":"ev","count":2}}' "$APIFY_API_BASE_URL/v2/actor-runs/$ACTOR_RUN_ID/charge"
{api} -X PUT -d '{{"statusMessage":"rebooting myself"}}' "$APIFY_API_BASE_URL/v2/actor-runs/$ACTOR_RUN_ID" >/dev/null
{api} -X POST "$APIFY_API_BASE_URL/v2/actor-runs/$ACTOR_RUN_ID/reboot" >/dev/null
sleep 60; exit 7"#,
        mark = mark.display()
    );
    let mut config = actors_config(&[]);
    priced(&mut config, &format!("self-reboot={command}"));
    let t = Ctx::start_with(config).await;
    let run = t.start_run("self-reboot", "", &Value::Null).await;
    let id = run["id"].as_str().unwrap();
    let run = t.finished_run(id).await;
    let log = t.run_log(id).await;
    assert_eq!(run["status"], "SUCCEEDED", "{log}");
    assert_eq!(run["stats"]["rebootCount"], 1, "{log}");
    assert_eq!(run["statusMessage"], "rebooting myself");
    assert!(log.contains("second counts={\"ev\":2}\n"), "{log}");
    let pricing: Value = serde_json::from_str(
        log.split("first pricing=")
            .nth(1)
            .and_then(|s| s.split(" counts=").next())
            .unwrap_or_else(|| panic!("{log}")),
    )
    .unwrap();
    assert_eq!(
        pricing,
        json!({
            "pricingModel": "PAY_PER_EVENT",
            "pricingPerEvent": { "actorChargeEvents": { "ev": {
                "eventTitle": "An event", "eventDescription": "An event", "eventPriceUsd": 0.5
            } } }
        })
    );
    assert!(log.contains("counts={}\n"), "{log}");
    assert_eq!(run["chargedEventCounts"], json!({ "ev": 2 }));
    assert_eq!(run["usageTotalUsd"], 1.0);
    let info = &run["pricingInfo"];
    assert_eq!(info["pricingModel"], "PAY_PER_EVENT");
    assert_eq!(info["apifyMarginPercentage"], 0);
    assert!(info["createdAt"].as_str().unwrap().ends_with('Z'), "{info}");
    assert!(info["startedAt"].as_str().unwrap().ends_with('Z'), "{info}");
    assert_eq!(
        info["pricingPerEvent"]["actorChargeEvents"]["ev"]["eventTitle"],
        "An event"
    );
}

#[tokio::test]
async fn a_run_metamorphs_itself_into_another_actor() {
    let api = r#"curl -sS -H "Authorization: Bearer $APIFY_TOKEN""#;
    let morph = format!(
        r#"morph={api} -X POST -H 'content-type: application/json' -d '{{"x":1}}' "$APIFY_API_BASE_URL/v2/actor-runs/$ACTOR_RUN_ID/metamorph?targetActorId=target" >/dev/null; sleep 60; exit 7"#
    );
    let target = format!(
        r#"target=echo "target key=$ACTOR_INPUT_KEY pricing=$APIFY_ACTOR_PRICING_INFO"; {api} "$APIFY_API_BASE_URL/v2/key-value-stores/$ACTOR_DEFAULT_KEY_VALUE_STORE_ID/records/$ACTOR_INPUT_KEY"; echo"#
    );
    let mut config = actors_config(&[&morph]);
    priced(&mut config, &target);
    let t = Ctx::start_with(config).await;
    let run = t.start_run("morph", "", &json!({ "first": true })).await;
    assert!(
        run["pricingInfo"].is_null(),
        "no prices: {}",
        run["pricingInfo"]
    );
    let id = run["id"].as_str().unwrap();
    let run = t.finished_run(id).await;
    let log = t.run_log(id).await;
    assert_eq!(run["status"], "SUCCEEDED", "{log}");
    assert_eq!(run["stats"]["metamorph"], 1);
    let target = data(t.get("/v2/acts/target").await).await;
    assert_eq!(run["actId"], target["id"]);
    assert!(
        log.contains("target key=INPUT-METAMORPH-1 pricing={\"pricingModel\":\"PAY_PER_EVENT\""),
        "{log}"
    );
    assert!(log.contains("{\"x\":1}"), "{log}");
    // The run now carries the target's pricing.
    assert_eq!(run["pricingInfo"]["pricingModel"], "PAY_PER_EVENT");
}

#[tokio::test]
async fn a_run_gets_the_environment_the_sdks_read() {
    let t = Ctx::start_with(actors_config(&[
        r#"env=env | grep -v TOKEN | sort; [ -n "$APIFY_TOKEN" ] && echo token-is-set"#,
    ]))
    .await;
    let run = t
        .start_run(
            "env",
            "memory=8192&timeout=0&waitForFinish=60",
            &Value::Null,
        )
        .await;
    assert_eq!(run["status"], "SUCCEEDED");
    let log = t.run_log(run["id"].as_str().unwrap()).await;
    for line in [
        "token-is-set",
        "APIFY_IS_AT_HOME=1",
        "ACTOR_FULL_NAME=local-user/env",
        "ACTOR_BUILD_TAGS=latest",
        "APIFY_DEDICATED_CPUS=2",
        "APIFY_ACTOR_PRICING_INFO={}",
        "APIFY_CHARGED_ACTOR_EVENT_COUNTS={}",
        "APIFY_HEADLESS=1",
        "APIFY_DISABLE_BROWSER_SANDBOX=1",
        "APIFY_META_ORIGIN=API",
        "APIFY_INPUT_KEY=INPUT",
        &format!("APIFY_ACTOR_RUN_ID={}", run["id"].as_str().unwrap()),
        &format!("APIFY_ACTOR_BUILD_ID={}", run["buildId"].as_str().unwrap()),
        &format!(
            "APIFY_ACTOR_BUILD_NUMBER={}",
            run["buildNumber"].as_str().unwrap()
        ),
    ] {
        assert!(
            log.contains(&format!(" {line}\n")),
            "{line} missing in {log}"
        );
    }
    assert!(log.contains(" APIFY_STARTED_AT=20"), "{log}");
    assert!(log.contains(" ACTOR_STANDBY_PORT="), "{log}");
    // Empty values are left out (no task, no timeout, no charge limit), and there is no events
    // websocket to point at.
    for absent in [
        "ACTOR_TASK_ID=",
        "ACTOR_TIMEOUT_AT=",
        "APIFY_TIMEOUT_AT=",
        "ACTOR_MAX_TOTAL_CHARGE_USD=",
        "ACTOR_MAX_PAID_DATASET_ITEMS=",
        "ACTOR_EVENTS_WEBSOCKET_URL=",
        "APIFY_ACTOR_EVENTS_WS_URL=",
    ] {
        assert!(!log.contains(&format!(" {absent}")), "{absent} in {log}");
    }
    // The Actor's command is not written into its log.
    assert!(!log.contains("grep -v TOKEN"), "{log}");
}

/// The binary with secrets, proxy settings and SDK variables in its own environment: a run
/// gets none of them, but PATH, and what `--pass-env` names.
#[tokio::test]
async fn a_run_does_not_inherit_the_servers_environment() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apify-local-api"))
        .args([
            "--actor",
            r#"env=env | grep -v TOKEN | sort; [ -n "$APIFY_TOKEN" ] && echo token-is-set"#,
            "--pass-env",
            "FIDELITY_PASSED",
            // A token of its own, so that the test holds whatever the binary does without one.
            "--token",
            "fidelity-test-token",
        ])
        .env("SECRET_X", "1")
        .env("HTTP_PROXY", "http://proxy.invalid:1")
        .env("https_proxy", "http://proxy.invalid:1")
        .env("CRAWLEE_DEFAULT_DATASET_ID", "from-the-parent")
        .env("ACTOR_EVENTS_WEBSOCKET_URL", "ws://127.0.0.1:1")
        .env("APIFY_ACTOR_EVENTS_WS_URL", "ws://127.0.0.1:1")
        .env("FIDELITY_PASSED", "yes")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The first word after `listening on ` is the URL, whatever follows it.
    let url = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let http = crate::common::http_client();
    let run: Value = http
        .post(format!("{url}/v2/acts/env/runs?waitForFinish=60"))
        .bearer_auth("fidelity-test-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["data"]["id"].as_str().unwrap();
    let log = http
        .get(format!("{url}/v2/actor-runs/{id}/log"))
        .bearer_auth("fidelity-test-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run["data"]["status"], "SUCCEEDED", "{log}");
    assert!(log.contains(" PATH="), "{log}");
    assert!(log.contains(" FIDELITY_PASSED=yes\n"), "{log}");
    assert!(log.contains("token-is-set"), "{log}");
    for absent in [
        "SECRET_X",
        "HTTP_PROXY",
        "https_proxy",
        "from-the-parent",
        "CRAWLEE_",
        "EVENTS_W",
        "RUST_LOG",
    ] {
        assert!(!log.contains(absent), "{absent} reached the run: {log}");
    }
}
