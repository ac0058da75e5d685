//! Token checking and the API's error shapes for unknown paths and methods.

use apify_local_api::LocalApiConfig;

use crate::common::{data, expect_error, header, Ctx};

#[tokio::test]
async fn token_is_required_when_configured() {
    let t = Ctx::start_with(LocalApiConfig::with_token("s3cret")).await;
    expect_error(t.get("/v2/users/me").await, 401, "token-not-provided").await;
    expect_error(t.get("/v2/datasets").await, 401, "token-not-provided").await;
    let r = t
        .http
        .get(t.url("/v2/users/me"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "user-or-token-not-found").await;

    let r = t
        .http
        .get(t.url("/v2/users/me"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    let me = data(r).await;
    assert_eq!(me["username"], "local-user");
    for field in [
        "id",
        "username",
        "profile",
        "email",
        "plan",
        "effectivePlatformFeatures",
        "isPaying",
        "createdAt",
    ] {
        assert!(me.get(field).is_some(), "user has {field}");
    }
    assert_eq!(t.get("/v2/users/me?token=s3cret").await.status(), 200);
    expect_error(
        t.get("/v2/users/me?token=nope").await,
        401,
        "user-or-token-not-found",
    )
    .await;
}

#[tokio::test]
async fn no_token_configured_means_open() {
    let t = Ctx::start().await;
    assert_eq!(t.get("/v2/users/me").await.status(), 200);
    let r = t
        .http
        .get(t.url("/v2/users/me"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type"),
        "application/json; charset=utf-8"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let t = Ctx::start().await;
    expect_error(t.get("/v2/nothing-here").await, 404, "page-not-found").await;
    expect_error(t.get("/").await, 404, "page-not-found").await;
    let r = t.http.patch(t.url("/v2/datasets")).send().await.unwrap();
    assert_eq!(header(&r, "allow"), "GET,HEAD,POST");
    let body = expect_error(r, 405, "method-not-allowed").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("GET"),
        "{body}"
    );
    expect_error(
        t.get("/v2/key-value-stores/missing").await,
        404,
        "record-not-found",
    )
    .await;
    expect_error(
        t.get("/v2/request-queues/missing/head").await,
        404,
        "record-not-found",
    )
    .await;
}
