//! Request queues: dedup, head order, handling, listing, batches, locks.

use serde_json::{json, Value};

use crate::common::{data, expect_error, Ctx};

async fn add(t: &Ctx, q: &str, body: Value, query: &str) -> Value {
    let r = t
        .post_json(&format!("/v2/request-queues/{q}/requests{query}"), &body)
        .await;
    assert_eq!(r.status(), 201);
    data(r).await
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn add_dedup_order_and_handle() {
    let t = Ctx::start().await;
    let q = t.create("request-queues", "queue").await;
    let a = add(
        &t,
        &q,
        json!({"url": "https://a.example", "uniqueKey": "a", "userData": {"x": 1}}),
        "",
    )
    .await;
    assert_eq!(a["wasAlreadyPresent"], false);
    assert_eq!(a["wasAlreadyHandled"], false);
    let a_id = a["requestId"].as_str().unwrap().to_owned();
    let b = add(&t, &q, json!({"url": "https://b.example"}), "").await;
    let c = add(
        &t,
        &q,
        json!({"url": "https://c.example", "uniqueKey": "c"}),
        "?forefront=true",
    )
    .await;
    let dup = add(
        &t,
        &q,
        json!({"url": "https://other.example", "uniqueKey": "a"}),
        "",
    )
    .await;
    assert_eq!(dup["requestId"], a_id.as_str());
    assert_eq!(dup["wasAlreadyPresent"], true);

    let head = data(
        t.get(&format!("/v2/request-queues/{q}/head?limit=10"))
            .await,
    )
    .await;
    assert_eq!(
        ids(&head["items"]),
        [
            c["requestId"].as_str().unwrap(),
            &a_id,
            b["requestId"].as_str().unwrap()
        ]
    );
    assert_eq!(head["limit"], 10);
    assert!(head["queueModifiedAt"].is_string());
    assert_eq!(
        head["items"][1],
        json!({"id": a_id, "uniqueKey": "a", "url": "https://a.example", "method": "GET", "retryCount": 0})
    );

    let req = data(
        t.get(&format!("/v2/request-queues/{q}/requests/{a_id}"))
            .await,
    )
    .await;
    assert_eq!(req["userData"], json!({"x": 1}));
    assert_eq!(req["id"], a_id.as_str());

    // Mark handled.
    let mut handled = req.clone();
    handled["handledAt"] = json!("2026-01-01T00:00:00.000Z");
    let r = data(
        t.put_json(&format!("/v2/request-queues/{q}/requests/{a_id}"), &handled)
            .await,
    )
    .await;
    assert_eq!(
        r,
        json!({"requestId": a_id, "wasAlreadyPresent": true, "wasAlreadyHandled": false})
    );
    let again = add(
        &t,
        &q,
        json!({"url": "https://a.example", "uniqueKey": "a"}),
        "",
    )
    .await;
    assert_eq!(again["wasAlreadyHandled"], true);
    let head = data(t.get(&format!("/v2/request-queues/{q}/head")).await).await;
    assert_eq!(head["items"].as_array().unwrap().len(), 2);
    let queue = data(t.get(&format!("/v2/request-queues/{q}")).await).await;
    assert_eq!(queue["totalRequestCount"], 3);
    assert_eq!(queue["handledRequestCount"], 1);
    assert_eq!(queue["pendingRequestCount"], 2);

    // Wrong id in the body; unknown request.
    expect_error(
        t.put_json(
            &format!("/v2/request-queues/{q}/requests/{a_id}"),
            &json!({"id": "other", "url": "u"}),
        )
        .await,
        400,
        "id-does-not-match",
    )
    .await;
    expect_error(
        t.get(&format!("/v2/request-queues/{q}/requests/nope"))
            .await,
        404,
        "record-not-found",
    )
    .await;
    expect_error(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests"),
            &json!({"uniqueKey": "no-url"}),
        )
        .await,
        400,
        "invalid-value",
    )
    .await;

    assert_eq!(
        t.delete(&format!("/v2/request-queues/{q}/requests/{a_id}"))
            .await
            .status(),
        204
    );
    let queue = data(t.get(&format!("/v2/request-queues/{q}")).await).await;
    assert_eq!(queue["totalRequestCount"], 2);
    assert_eq!(queue["handledRequestCount"], 0);
}

#[tokio::test]
async fn list_with_cursor_and_filter() {
    let t = Ctx::start().await;
    let q = t.create("request-queues", "listing").await;
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(
            add(&t, &q, json!({"url": format!("https://x.example/{i}")}), "").await["requestId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".to_owned(),
        };
        let page = data(
            t.get(&format!("/v2/request-queues/{q}/requests{query}"))
                .await,
        )
        .await;
        assert_eq!(page["limit"], 3);
        seen.extend(ids(&page["items"]));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let page = data(
        t.get(&format!(
            "/v2/request-queues/{q}/requests?exclusiveStartId={}",
            all[4]
        ))
        .await,
    )
    .await;
    assert_eq!(ids(&page["items"]), &all[5..]);

    t.http
        .post(t.url(&format!(
            "/v2/request-queues/{q}/head/lock?lockSecs=60&limit=2"
        )))
        .send()
        .await
        .unwrap();
    let locked = data(
        t.get(&format!("/v2/request-queues/{q}/requests?filter=locked"))
            .await,
    )
    .await;
    assert_eq!(ids(&locked["items"]), &all[..2]);
}

#[tokio::test]
async fn batches() {
    let t = Ctx::start().await;
    let q = t.create("request-queues", "batches").await;
    let batch = json!([
        {"url": "https://1.example", "uniqueKey": "1"},
        {"url": "https://2.example", "uniqueKey": "2"},
        {"uniqueKey": "no-url"},
        {"url": "https://1.example", "uniqueKey": "1"},
    ]);
    let r = t
        .post_json(&format!("/v2/request-queues/{q}/requests/batch"), &batch)
        .await;
    assert_eq!(r.status(), 201);
    let result = data(r).await;
    let processed = result["processedRequests"].as_array().unwrap();
    assert_eq!(processed.len(), 3);
    assert_eq!(processed[0]["uniqueKey"], "1");
    assert_eq!(processed[2]["wasAlreadyPresent"], true);
    assert_eq!(processed[2]["requestId"], processed[0]["requestId"]);
    assert_eq!(
        result["unprocessedRequests"],
        json!([{"uniqueKey": "no-url"}])
    );

    let too_many: Vec<Value> = (0..26)
        .map(|i| json!({"url": format!("https://{i}.example")}))
        .collect();
    expect_error(
        t.post_json(
            &format!("/v2/request-queues/{q}/requests/batch"),
            &Value::Array(too_many),
        )
        .await,
        400,
        "invalid-value",
    )
    .await;

    let id1 = processed[0]["requestId"].as_str().unwrap();
    let r = t
        .http
        .delete(t.url(&format!("/v2/request-queues/{q}/requests/batch")))
        .json(&json!([{"id": id1}, {"uniqueKey": "2"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let result = data(r).await;
    assert_eq!(result["processedRequests"].as_array().unwrap().len(), 2);
    assert_eq!(
        result["processedRequests"][0],
        json!({"id": id1, "uniqueKey": "1"})
    );
    let queue = data(t.get(&format!("/v2/request-queues/{q}")).await).await;
    assert_eq!(queue["totalRequestCount"], 0);
}

#[tokio::test]
async fn locks_by_client_and_expiry() {
    let t = Ctx::start().await;
    let q = t.create("request-queues", "locks").await;
    let r1 = add(&t, &q, json!({"url": "https://1.example"}), "?clientKey=c1").await["requestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r2 = add(&t, &q, json!({"url": "https://2.example"}), "?clientKey=c1").await["requestId"]
        .as_str()
        .unwrap()
        .to_owned();

    expect_error(
        t.http
            .post(t.url(&format!("/v2/request-queues/{q}/head/lock")))
            .send()
            .await
            .unwrap(),
        400,
        "invalid-input",
    )
    .await;
    let r = t
        .http
        .post(t.url(&format!(
            "/v2/request-queues/{q}/head/lock?lockSecs=60&limit=1&clientKey=c1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let locked = data(r).await;
    assert_eq!(ids(&locked["items"]), [r1.as_str()]);
    assert_eq!(locked["lockSecs"], 60);
    assert_eq!(locked["queueHasLockedRequests"], true);
    assert_eq!(locked["hadMultipleClients"], false);
    assert!(locked["items"][0]["lockExpiresAt"].is_string());

    // The locked request is not in the head.
    let head = data(
        t.get(&format!("/v2/request-queues/{q}/head?clientKey=c1"))
            .await,
    )
    .await;
    assert_eq!(ids(&head["items"]), [r2.as_str()]);

    // Only the owner may prolong or delete the lock.
    let lock_url = |client: &str| {
        t.url(&format!(
            "/v2/request-queues/{q}/requests/{r1}/lock?lockSecs=120&clientKey={client}"
        ))
    };
    expect_error(
        t.http.put(lock_url("c2")).send().await.unwrap(),
        403,
        "insufficient-permissions",
    )
    .await;
    let prolonged = data(t.http.put(lock_url("c1")).send().await.unwrap()).await;
    assert!(
        prolonged["lockExpiresAt"].as_str().unwrap()
            > locked["items"][0]["lockExpiresAt"].as_str().unwrap()
    );
    assert_eq!(
        t.http.delete(lock_url("c1")).send().await.unwrap().status(),
        204
    );
    expect_error(
        t.http.delete(lock_url("c1")).send().await.unwrap(),
        400,
        "invalid-value",
    )
    .await;

    // Unlock everything a client holds.
    t.http
        .post(t.url(&format!(
            "/v2/request-queues/{q}/head/lock?lockSecs=60&clientKey=c1"
        )))
        .send()
        .await
        .unwrap();
    let unlocked = data(
        t.http
            .post(t.url(&format!(
                "/v2/request-queues/{q}/requests/unlock?clientKey=c1"
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unlocked["unlockedCount"], 2);

    // Locks expire by themselves.
    let locked = data(
        t.http
            .post(t.url(&format!(
                "/v2/request-queues/{q}/head/lock?lockSecs=1&clientKey=c3"
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(locked["items"].as_array().unwrap().len(), 2);
    assert_eq!(locked["hadMultipleClients"], true);
    let head = data(t.get(&format!("/v2/request-queues/{q}/head")).await).await;
    assert!(head["items"].as_array().unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let head = data(t.get(&format!("/v2/request-queues/{q}/head")).await).await;
    assert_eq!(head["items"].as_array().unwrap().len(), 2);

    // Handling a locked request unlocks it and takes it out of the head.
    data(
        t.http
            .post(t.url(&format!(
                "/v2/request-queues/{q}/head/lock?lockSecs=60&limit=1"
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let r = t
        .put_json(
            &format!("/v2/request-queues/{q}/requests/{r1}"),
            &json!({"url": "https://1.example", "handledAt": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = data(
        t.get(&format!("/v2/request-queues/{q}/requests?filter=locked"))
            .await,
    )
    .await;
    assert!(page["items"].as_array().unwrap().is_empty());
}
