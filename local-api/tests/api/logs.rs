//! `GET /v2/logs/{id}`: seeded and demo logs, ANSI stripping, streaming.

use std::time::Duration;

use futures_util::StreamExt;

use crate::common::{expect_error, header, Ctx};

#[tokio::test]
async fn seeded_log_whole_and_raw() {
    let t = Ctx::start().await;
    let r = t
        .http
        .put(t.url("/_control/logs/run1"))
        .body("line 1 \x1b[31mred\x1b[0m\nline 2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = t.get("/v2/logs/run1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(r.text().await.unwrap(), "line 1 red\nline 2\n");
    let raw = t.get("/v2/logs/run1?raw=1").await.text().await.unwrap();
    assert!(raw.contains("\x1b[31m"));
    expect_error(t.get("/v2/logs/unknown").await, 404, "record-not-found").await;

    let demo = t.get("/v2/logs/demo-run").await.text().await.unwrap();
    assert_eq!(demo.lines().count(), 100);
}

#[tokio::test]
async fn stream_follows_appends_until_finished() {
    let t = Ctx::start().await;
    t.api.set_log("run2", "first\n", false);
    let r = t.get("/v2/logs/run2?stream=1").await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.as_ref(), b"first\n");

    t.api.append_log("run2", b"second\n", false);
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(second.as_ref(), b"second\n");

    // Appending over the control API, finishing the log, ends the stream.
    let r = t
        .http
        .post(t.url("/_control/logs/run2?finish=1"))
        .body("third\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut rest = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            rest.extend_from_slice(&chunk.unwrap());
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ends once the log is finished");
    assert_eq!(rest, b"third\n");
}
