//! Webhooks within limits: never to the server itself, a bounded read of the answer, and no
//! framing or hop-by-hop header from a template.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{actors_config, data, expect_error, Ctx};

fn encoded(hooks: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hooks.to_string())
}

#[tokio::test]
async fn a_webhook_to_the_server_itself_is_refused_so_runs_cannot_start_runs_without_end() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let echo = data(t.get("/v2/acts/echo").await).await;
    let port = t.api.base_url().rsplit(':').next().unwrap().to_owned();
    let own = [
        t.url("/v2/acts/echo/runs"),
        format!("http://localhost:{port}/v2/acts/echo/runs"),
        format!("http://127.0.0.2:{port}/v2/acts/echo/runs"),
        format!("http://[::1]:{port}/v2/acts/echo/runs"),
    ];
    for url in &own {
        let r = t
            .post_json(
                "/v2/webhooks",
                &json!({
                    "eventTypes": ["ACTOR.RUN.CREATED"],
                    "condition": { "actorId": echo["id"] },
                    "requestUrl": url,
                }),
            )
            .await;
        let body = expect_error(r, 400, "invalid-input").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("own address"),
            "{body}"
        );
        // As an ad-hoc webhook of a start: refused before any run starts.
        let hooks = json!([{ "eventTypes": ["ACTOR.RUN.CREATED"], "requestUrl": url }]);
        let r = t
            .http
            .post(t.url(&format!("/v2/acts/echo/runs?webhooks={}", encoded(&hooks))))
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid-input").await;
    }
    assert_eq!(data(t.get("/v2/webhooks").await).await["total"], 0);
    assert_eq!(data(t.get("/v2/actor-runs").await).await["total"], 0);

    // Nor can an existing webhook be pointed at it.
    let hook = data(
        t.post_json(
            "/v2/webhooks",
            &json!({
                "eventTypes": ["ACTOR.RUN.CREATED"],
                "condition": { "actorId": echo["id"] },
                "requestUrl": "http://127.0.0.1:9/elsewhere",
            }),
        )
        .await,
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let r = t
        .put_json(
            &format!("/v2/webhooks/{hook_id}"),
            &json!({ "requestUrl": own[0] }),
        )
        .await;
    expect_error(r, 400, "invalid-input").await;
    // A run fires the webhook (at port 9, where nothing answers) and starts nothing else.
    let run = t.start_run("echo", "waitForFinish=60", &json!({})).await;
    t.finished_run(run["id"].as_str().unwrap()).await;
    assert_eq!(data(t.get("/v2/actor-runs").await).await["total"], 1);
}

/// A loopback listener that answers 200 and then bytes without end, until the connection is
/// closed; sends whether its writes ended with an error (the peer closed) and how much it wrote.
async fn endless_listener() -> (String, tokio::sync::oneshot::Receiver<(bool, usize)>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", socket.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut conn, _) = socket.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = conn.read(&mut head).await;
        let mut written = 0usize;
        let mut closed = false;
        if conn.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.is_ok() {
            let chunk = vec![b'a'; 16 * 1024];
            // At most 1 GiB: the test fails rather than writing for ever.
            while written < 1 << 30 {
                if conn.write_all(&chunk).await.is_err() {
                    closed = true;
                    break;
                }
                written += chunk.len();
            }
        }
        let _ = tx.send((closed, written));
    });
    (url, rx)
}

#[tokio::test]
async fn a_webhook_answer_is_read_to_64_kib_and_the_connection_closed() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let echo = data(t.get("/v2/acts/echo").await).await;
    let (url, outcome) = endless_listener().await;
    let hook = data(
        t.post_json(
            "/v2/webhooks",
            &json!({
                "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
                "condition": { "actorId": echo["id"] },
                "requestUrl": url,
            }),
        )
        .await,
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let sent = data(
        t.http
            .post(t.url(&format!("/v2/webhooks/{hook_id}/test")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (closed, written) = outcome.await.unwrap();
    assert!(closed, "the server kept reading: {written} bytes written");
    let dispatch_id = sent["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let dispatch = loop {
        let d = data(
            t.get(&format!("/v2/webhook-dispatches/{dispatch_id}"))
                .await,
        )
        .await;
        if d["status"] != "ACTIVE" {
            break d;
        }
        assert!(Instant::now() < deadline, "the dispatch never ended: {d}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dispatch["status"], "SUCCEEDED", "{dispatch}");
    let call = &dispatch["calls"][0];
    assert_eq!(call["responseStatus"], 200);
    let body = call["responseBody"].as_str().unwrap();
    // What was read is recorded: the body part of the first 64 KiB.
    assert_eq!(body.len(), 64 * 1024 - "HTTP/1.1 200 OK\r\n\r\n".len());
    assert!(body.bytes().all(|b| b == b'a'));
}

#[tokio::test]
async fn a_headers_template_cannot_set_framing_or_hop_by_hop_headers() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let echo = data(t.get("/v2/acts/echo").await).await;
    let make = |headers: &str| {
        json!({
            "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
            "condition": { "actorId": echo["id"] },
            "requestUrl": "http://127.0.0.1:9/hook",
            "headersTemplate": headers,
        })
    };
    for name in [
        "Content-Length",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "Keep-Alive",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Upgrade",
        "Expect",
        "content-length",
    ] {
        let template = format!("{{\"X-Ok\": \"1\", \"{name}\": {{{{eventType}}}}}}");
        let r = t.post_json("/v2/webhooks", &make(&template)).await;
        let body = expect_error(r, 400, "invalid-input").await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("\"{name}\"")),
            "{name}: {message}"
        );
        // Ad-hoc webhooks too.
        let hooks = json!([{ "eventTypes": ["ACTOR.RUN.CREATED"], "requestUrl": "http://127.0.0.1:9/", "headersTemplate": template }]);
        let r = t
            .http
            .post(t.url(&format!("/v2/acts/echo/runs?webhooks={}", encoded(&hooks))))
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid-input").await;
    }
    assert_eq!(data(t.get("/v2/actor-runs").await).await["total"], 0);
    let hook = data(
        t.post_json(
            "/v2/webhooks",
            &make("{\"X-Event\": {{eventType}}, \"Authorization\": \"Bearer x\"}"),
        )
        .await,
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let r = t
        .put_json(
            &format!("/v2/webhooks/{hook_id}"),
            &json!({ "headersTemplate": "{\"Transfer-Encoding\": \"chunked\"}" }),
        )
        .await;
    expect_error(r, 400, "invalid-input").await;
}
