//! Signed storage URLs: a valid signature grants a read without the token; a wrong or
//! expired one is refused with 403.

use apify_local_api::signing::{hmac_base62, storage_signature};
use apify_local_api::LocalApiConfig;
use serde_json::{json, Value};

use crate::common::{data, expect_error, Ctx};

#[tokio::test]
async fn signed_reads_pass_without_a_token_and_bad_signatures_are_refused() {
    let t = Ctx::start_with(LocalApiConfig::with_token("tok")).await;
    let auth = |r: reqwest::RequestBuilder| r.header("authorization", "Bearer tok");
    let dataset = data(
        auth(t.http.post(t.url("/v2/datasets?name=signed")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = dataset["id"].as_str().unwrap();
    let secret = dataset["urlSigningSecretKey"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 16);
    auth(t.http.post(t.url(&format!("/v2/datasets/{id}/items"))))
        .json(&json!([{ "a": 1 }]))
        .send()
        .await
        .unwrap();

    let valid = storage_signature(&secret, id, 0);
    let items: Value = t
        .get(&format!("/v2/datasets/{id}/items?signature={valid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items, json!([{ "a": 1 }]));
    // By name too: the signature is over the id.
    assert_eq!(
        t.get(&format!("/v2/datasets/signed/items?signature={valid}"))
            .await
            .status(),
        200
    );
    let future = storage_signature(&secret, id, chrono_now() + 60_000);
    assert_eq!(
        t.get(&format!("/v2/datasets/{id}/items?signature={future}"))
            .await
            .status(),
        200
    );

    let expired = storage_signature(&secret, id, chrono_now() - 1000);
    let body = expect_error(
        t.get(&format!("/v2/datasets/{id}/items?signature={expired}"))
            .await,
        403,
        "insufficient-permissions",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    let wrong = storage_signature("not-the-key", id, 0);
    expect_error(
        t.get(&format!("/v2/datasets/{id}/items?signature={wrong}"))
            .await,
        403,
        "insufficient-permissions",
    )
    .await;
    expect_error(
        t.get(&format!("/v2/datasets/{id}/items?signature=garbage"))
            .await,
        403,
        "insufficient-permissions",
    )
    .await;
    // The signature opens only the read it signs.
    expect_error(
        t.get(&format!("/v2/datasets/{id}?signature={valid}")).await,
        401,
        "token-not-provided",
    )
    .await;
    expect_error(
        t.get(&format!("/v2/datasets/{id}/items")).await,
        401,
        "token-not-provided",
    )
    .await;

    let store = data(
        auth(t.http.post(t.url("/v2/key-value-stores?name=signed-kv")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let store_id = store["id"].as_str().unwrap();
    let store_secret = store["urlSigningSecretKey"].as_str().unwrap().to_owned();
    auth(
        t.http
            .put(t.url(&format!("/v2/key-value-stores/{store_id}/records/my-key"))),
    )
    .body("hello")
    .send()
    .await
    .unwrap();
    let record_sig = hmac_base62(&store_secret, "my-key");
    let r = t
        .get(&format!(
            "/v2/key-value-stores/{store_id}/records/my-key?signature={record_sig}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");
    let other = hmac_base62(&store_secret, "other-key");
    expect_error(
        t.get(&format!(
            "/v2/key-value-stores/{store_id}/records/my-key?signature={other}"
        ))
        .await,
        403,
        "insufficient-permissions",
    )
    .await;
    let keys_sig = storage_signature(&store_secret, store_id, 0);
    let keys = data(
        t.get(&format!(
            "/v2/key-value-stores/{store_id}/keys?signature={keys_sig}"
        ))
        .await,
    )
    .await;
    assert_eq!(keys["items"][0]["key"], "my-key");
    // A dataset's signature does not open the store.
    expect_error(
        t.get(&format!(
            "/v2/key-value-stores/{store_id}/keys?signature={valid}"
        ))
        .await,
        403,
        "insufficient-permissions",
    )
    .await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
