//! The request log (Rust API and `/_control/requests`) and the rest of the control API.

use apify_local_api::LocalApiConfig;
use serde_json::Value;

use crate::common::{expect_error, Ctx};

#[tokio::test]
async fn request_log_in_rust() {
    let t = Ctx::start().await;
    let created = t.http.post(t.url("/v2/datasets")).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(t.get("/v2/users/me").await.status(), 200);
    expect_error(
        t.get("/v2/datasets/nope?x=1").await,
        404,
        "record-not-found",
    )
    .await;

    let log = t.api.request_log();
    let statuses: Vec<Option<u16>> = log.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(201), Some(200), Some(404)]);
    assert_eq!(log[2].method, "GET");
    assert_eq!(log[2].path, "/v2/datasets/nope");
    assert_eq!(log[2].query.as_deref(), Some("x=1"));
    t.api.clear_request_log();
    assert!(t.api.request_log().is_empty());
}

#[tokio::test]
async fn control_api_over_http() {
    let t = Ctx::start_with(LocalApiConfig::with_token("s3cret")).await;
    let auth = |rb: reqwest::RequestBuilder| rb.bearer_auth("s3cret");
    let r = auth(t.http.post(t.url("/v2/datasets?name=d")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A refused token is logged too, with the status it got.
    assert_eq!(t.get("/v2/datasets").await.status(), 401);
    let r = auth(t.http.get(t.url("/v2/datasets?limit=5")))
        .header("x-apify-workflow-key", "wf")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The control API needs the token too (its health probe excepted), and is not logged.
    for (method, path) in [
        ("GET", "/_control/requests"),
        ("DELETE", "/_control/requests"),
        ("POST", "/_control/reset"),
        ("POST", "/_control/datasets/d/generate?count=1"),
        (
            "POST",
            "/_control/key-value-stores/s/records/k/generate?bytes=1",
        ),
        ("PUT", "/_control/logs/l"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = t.http.request(method.clone(), t.url(path)).send().await;
        assert_eq!(
            r.unwrap().status(),
            401,
            "{method} {path} without the token"
        );
        let r = t
            .http
            .request(method.clone(), t.url(path))
            .bearer_auth("wrong")
            .send()
            .await;
        assert_eq!(
            r.unwrap().status(),
            401,
            "{method} {path} with a wrong token"
        );
    }
    let log: Vec<Value> = auth(t.http.get(t.url("/_control/requests")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 3, "control calls are not logged: {log:?}");
    assert_eq!(log[1]["status"], 401);
    let last = &log[2];
    assert_eq!(last["method"], "GET");
    assert_eq!(last["path"], "/v2/datasets");
    assert_eq!(last["query"], "limit=5");
    assert_eq!(last["status"], 200);
    // How the client authenticated, never the credential.
    assert_eq!(last["headers"]["authorization"], "Bearer ***");
    assert_eq!(last["headers"]["x-apify-workflow-key"], "wf");
    let r = auth(t.http.delete(t.url("/_control/requests")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = t
        .http
        .get(t.url("/_control/requests?token=s3cret"))
        .send()
        .await
        .unwrap();
    let log: Vec<Value> = r.json().await.unwrap();
    assert!(log.is_empty());

    // Reset drops the storages as well as the log.
    let r = auth(t.http.post(t.url("/_control/reset")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let gone = auth(t.http.get(t.url("/v2/datasets/d")))
        .send()
        .await
        .unwrap();
    expect_error(gone, 404, "record-not-found").await;
    assert_eq!(t.get("/_control/health").await.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_request_log_never_holds_a_credential() {
    let t = Ctx::start_with(LocalApiConfig::with_token("s3cret-T0K")).await;
    let sent = [
        t.http
            .get(t.url("/v2/users/me"))
            .bearer_auth("s3cret-T0K")
            .send()
            .await,
        t.http
            .get(t.url("/v2/datasets?token=s3cret-T0K&limit=1"))
            .send()
            .await,
        t.http
            .get(t.url("/v2/key-value-stores/s/records/k?signature=S1GN4TURE"))
            .header("proxy-authorization", "Basic cHJveHk6cHc=")
            .send()
            .await,
        t.http
            .get(t.url("/v2/datasets"))
            .bearer_auth("wrong-guess")
            .send()
            .await,
    ];
    assert!(sent.iter().all(Result::is_ok));
    let served = t
        .http
        .get(t.url("/_control/requests"))
        .bearer_auth("s3cret-T0K")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let in_rust = format!("{:?}", t.api.request_log());
    for text in [&served, &in_rust] {
        for secret in ["s3cret-T0K", "S1GN4TURE", "cHJveHk6cHc=", "wrong-guess"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let log: Vec<Value> = serde_json::from_str(&served).unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0]["headers"]["authorization"], "Bearer ***");
    assert_eq!(log[1]["query"], "token=***&limit=1");
    assert_eq!(log[2]["query"], "signature=***");
    assert_eq!(log[2]["headers"]["proxy-authorization"], "Basic ***");
    // The health probe stays open for scripts that wait for the server.
    assert_eq!(t.get("/_control/health").await.status(), 200);
}
