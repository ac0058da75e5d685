//! Webhooks: dispatched to a loopback listener on run events, recorded as dispatches;
//! any other URL refused.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::common::{actors_config, data, expect_error, Ctx};

/// A loopback listener that answers 200 `thanks` and sends each request's head and body.
async fn listener() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", socket.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = socket.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = conn.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nthanks").await.unwrap();
                            let _ = tx.send((
                                head.to_owned(),
                                serde_json::from_str(body).unwrap_or(Value::Null),
                            ));
                            break;
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn run_events_are_posted_to_a_loopback_webhook_and_recorded() {
    let t = Ctx::start_with(actors_config(&["fail=exit 2"])).await;
    let (url, mut received) = listener().await;
    let echo = data(t.get("/v2/acts/echo").await).await;
    let r = t
        .post_json(
            "/v2/webhooks",
            &json!({
                "eventTypes": ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
                "condition": { "actorId": echo["id"] },
                "requestUrl": url,
                "headersTemplate": "{\"X-Event\": {{eventType}}}",
                "description": "local test",
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let hook = data(r).await;
    let hook_id = hook["id"].as_str().unwrap();
    assert_eq!(hook["isAdHoc"], false);
    let run = t
        .start_run("echo", "waitForFinish=60", &json!({ "x": 1 }))
        .await;
    let (head, payload) = received.recv().await.unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    assert!(head.contains("X-Event: ACTOR.RUN.SUCCEEDED"), "{head}");
    assert_eq!(payload["eventType"], "ACTOR.RUN.SUCCEEDED");
    assert_eq!(payload["eventData"]["actorRunId"], run["id"]);
    assert_eq!(payload["eventData"]["actorId"], echo["id"]);
    assert_eq!(payload["resource"]["id"], run["id"]);
    assert_eq!(payload["resource"]["status"], "SUCCEEDED");
    assert_eq!(payload["userId"], "LocalUserId000001");

    // The dispatch is recorded, with the call's answer (it may still be being recorded).
    let mut dispatch = Value::Null;
    for _ in 0..250 {
        let list = data(t.get(&format!("/v2/webhooks/{hook_id}/dispatches")).await).await;
        dispatch = list["items"][0].clone();
        if dispatch["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(dispatch["status"], "SUCCEEDED", "{dispatch}");
    assert_eq!(dispatch["eventType"], "ACTOR.RUN.SUCCEEDED");
    assert_eq!(dispatch["calls"][0]["responseStatus"], 200);
    assert_eq!(dispatch["calls"][0]["responseBody"], "thanks");
    let one = data(
        t.get(&format!(
            "/v2/webhook-dispatches/{}",
            dispatch["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(one["webhookId"], hook_id);
    assert_eq!(
        data(t.get("/v2/webhook-dispatches").await).await["total"],
        1
    );
    assert_eq!(
        data(t.get("/v2/acts/echo/webhooks").await).await["total"],
        1
    );

    // A test dispatch, an update with a custom payload template, a delete.
    let r = t
        .http
        .post(t.url(&format!("/v2/webhooks/{hook_id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(data(r).await["eventType"], "TEST");
    let (_, payload) = received.recv().await.unwrap();
    assert_eq!(payload["eventType"], "TEST");
    let updated = data(
        t.put_json(
            &format!("/v2/webhooks/{hook_id}"),
            &json!({ "payloadTemplate": "{\"run\": {{resource}}, \"type\": {{eventType}}}" }),
        )
        .await,
    )
    .await;
    assert!(updated["payloadTemplate"]
        .as_str()
        .unwrap()
        .contains("{{resource}}"));
    t.start_run("echo", "waitForFinish=60", &Value::Null).await;
    let (_, payload) = received.recv().await.unwrap();
    assert_eq!(payload["type"], "ACTOR.RUN.SUCCEEDED");
    assert_eq!(payload["run"]["status"], "SUCCEEDED");
    assert_eq!(
        t.delete(&format!("/v2/webhooks/{hook_id}")).await.status(),
        204
    );
    expect_error(
        t.get(&format!("/v2/webhooks/{hook_id}")).await,
        404,
        "record-not-found",
    )
    .await;
}

#[tokio::test]
async fn ad_hoc_webhooks_of_a_start_follow_that_run() {
    use base64::Engine;
    let t = Ctx::start_with(actors_config(&["fail=exit 2"])).await;
    let (url, mut received) = listener().await;
    let hooks =
        json!([{ "eventTypes": ["ACTOR.RUN.CREATED", "ACTOR.RUN.FAILED"], "requestUrl": url }]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(hooks.to_string());
    let run = t
        .start_run(
            "fail",
            &format!("webhooks={encoded}&waitForFinish=60"),
            &Value::Null,
        )
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let (_, payload) = received.recv().await.unwrap();
        assert_eq!(payload["eventData"]["actorRunId"], run["id"]);
        seen.lock()
            .unwrap()
            .push(payload["eventType"].as_str().unwrap().to_owned());
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["ACTOR.RUN.CREATED", "ACTOR.RUN.FAILED"]);
    let all = data(t.get("/v2/webhooks").await).await;
    assert_eq!(all["items"][0]["isAdHoc"], true);
    assert_eq!(all["items"][0]["condition"]["actorRunId"], run["id"]);
}

#[tokio::test]
async fn a_webhook_to_a_non_loopback_url_is_refused() {
    use base64::Engine;
    let t = Ctx::start_with(actors_config(&[])).await;
    let echo = data(t.get("/v2/acts/echo").await).await;
    for url in [
        "http://example.com/",
        "https://127.0.0.1/",
        "http://10.0.0.1/",
        "not a url",
    ] {
        let body = expect_error(t.post_json("/v2/webhooks", &json!({
            "eventTypes": ["ACTOR.RUN.SUCCEEDED"], "condition": { "actorId": echo["id"] }, "requestUrl": url,
        })).await, 400, "invalid-input").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only calls loopback URLs"),
            "{body}"
        );
    }
    for url in [
        "http://localhost:9/x",
        "http://[::1]:9/",
        "http://127.1.2.3/",
    ] {
        let r = t.post_json("/v2/webhooks", &json!({
            "eventTypes": ["ACTOR.RUN.SUCCEEDED"], "condition": { "actorId": echo["id"] }, "requestUrl": url,
        })).await;
        assert_eq!(r.status(), 201, "{url}");
    }
    let id = data(t.get("/v2/webhooks").await).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        t.put_json(
            &format!("/v2/webhooks/{id}"),
            &json!({ "requestUrl": "http://example.com/" }),
        )
        .await,
        400,
        "invalid-input",
    )
    .await;
    // Ad hoc: refused before any run starts.
    let hooks =
        json!([{ "eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://example.com/" }]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(hooks.to_string());
    let r = t
        .http
        .post(t.url(&format!("/v2/acts/echo/runs?webhooks={encoded}")))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid-input").await;
    assert_eq!(data(t.get("/v2/actor-runs").await).await["total"], 0);
}
