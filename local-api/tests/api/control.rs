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

    // The control API needs no token and is not logged itself.
    let log: Vec<Value> = t.get("/_control/requests").await.json().await.unwrap();
    assert_eq!(log.len(), 3, "control calls are not logged: {log:?}");
    assert_eq!(log[1]["status"], 401);
    let last = &log[2];
    assert_eq!(last["method"], "GET");
    assert_eq!(last["path"], "/v2/datasets");
    assert_eq!(last["query"], "limit=5");
    assert_eq!(last["status"], 200);
    assert_eq!(last["headers"]["authorization"], "Bearer s3cret");
    assert_eq!(last["headers"]["x-apify-workflow-key"], "wf");
    assert_eq!(t.delete("/_control/requests").await.status(), 204);
    let log: Vec<Value> = t.get("/_control/requests").await.json().await.unwrap();
    assert!(log.is_empty());

    // Reset drops the storages as well as the log.
    let r = t.http.post(t.url("/_control/reset")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let gone = auth(t.http.get(t.url("/v2/datasets/d")))
        .send()
        .await
        .unwrap();
    expect_error(gone, 404, "record-not-found").await;
    assert_eq!(t.get("/_control/health").await.text().await.unwrap(), "ok");
}
