//! Datasets: CRUD, items, pagination headers, transforms and formats.

use std::io::Write;

use serde_json::{json, Value};

use crate::common::{data, expect_error, header, Ctx};

#[tokio::test]
async fn crud_and_lookup_by_name() {
    let t = Ctx::start().await;
    let r = t
        .http
        .post(t.url("/v2/datasets?name=products"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = header(&r, "location").to_owned();
    let ds = data(r).await;
    let id = ds["id"].as_str().unwrap().to_owned();
    assert_eq!(location, t.url(&format!("/v2/datasets/{id}")));
    for field in [
        "id",
        "name",
        "userId",
        "createdAt",
        "modifiedAt",
        "accessedAt",
        "itemCount",
        "cleanItemCount",
        "consoleUrl",
    ] {
        assert!(ds.get(field).is_some(), "dataset has {field}: {ds}");
    }
    assert_eq!(ds["name"], "products");
    assert_eq!(ds["itemCount"], 0);
    assert!(ds["createdAt"].as_str().unwrap().ends_with('Z'));

    // Get-or-create: the same name answers 200 with the same dataset.
    let r = t
        .http
        .post(t.url("/v2/datasets?name=products"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(data(r).await["id"], id.as_str());

    for handle in [id.clone(), "~products".into(), "local-user~products".into()] {
        let got = data(t.get(&format!("/v2/datasets/{handle}")).await).await;
        assert_eq!(got["id"], id.as_str(), "lookup by {handle}");
    }
    expect_error(
        t.get("/v2/datasets/someone-else~products").await,
        404,
        "record-not-found",
    )
    .await;

    // An unnamed one is listed only with `unnamed=1`.
    let unnamed = data(t.http.post(t.url("/v2/datasets")).send().await.unwrap()).await;
    assert_eq!(unnamed["name"], Value::Null);
    let list = data(t.get("/v2/datasets").await).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["count"], 1);
    assert_eq!(list["offset"], 0);
    assert_eq!(list["limit"], 1000);
    assert_eq!(list["desc"], false);
    let list = data(t.get("/v2/datasets?unnamed=1&desc=1&limit=1").await).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["id"], unnamed["id"]);

    let renamed = data(
        t.put_json(&format!("/v2/datasets/{id}"), &json!({"name": "renamed"}))
            .await,
    )
    .await;
    assert_eq!(renamed["name"], "renamed");
    expect_error(
        t.get("/v2/datasets/~products").await,
        404,
        "record-not-found",
    )
    .await;
    expect_error(
        t.put_json(&format!("/v2/datasets/{id}"), &json!({"name": "bad name!"}))
            .await,
        400,
        "invalid-value",
    )
    .await;

    assert_eq!(t.delete(&format!("/v2/datasets/{id}")).await.status(), 204);
    expect_error(
        t.get(&format!("/v2/datasets/{id}")).await,
        404,
        "record-not-found",
    )
    .await;
    expect_error(
        t.delete(&format!("/v2/datasets/{id}")).await,
        404,
        "record-not-found",
    )
    .await;
}

async fn seeded(t: &Ctx) -> String {
    let id = t.create("datasets", "items").await;
    let items: Vec<Value> = (0..25)
        .map(|i| json!({"n": i, "#debug": i * 10, "tag": format!("t{i}")}))
        .collect();
    let r = t
        .post_json(&format!("/v2/datasets/{id}/items"), &Value::Array(items))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        t.url(&format!("/v2/datasets/{id}/items"))
    );
    // A single object, and an item that is empty once hidden fields are dropped.
    assert_eq!(
        t.post_json(&format!("/v2/datasets/{id}/items"), &json!({"n": 25}))
            .await
            .status(),
        201
    );
    assert_eq!(
        t.post_json(
            &format!("/v2/datasets/{id}/items"),
            &json!({"#only": "hidden"})
        )
        .await
        .status(),
        201
    );
    id
}

#[tokio::test]
async fn items_pagination_headers_and_order() {
    let t = Ctx::start().await;
    let id = seeded(&t).await;
    let ds = data(t.get(&format!("/v2/datasets/{id}")).await).await;
    assert_eq!(ds["itemCount"], 27);
    assert_eq!(ds["cleanItemCount"], 26);

    let r = t
        .get(&format!("/v2/datasets/{id}/items?offset=5&limit=10"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(header(&r, "x-apify-pagination-offset"), "5");
    assert_eq!(header(&r, "x-apify-pagination-limit"), "10");
    assert_eq!(header(&r, "x-apify-pagination-count"), "10");
    assert_eq!(header(&r, "x-apify-pagination-total"), "27");
    let items: Vec<Value> = r.json().await.unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(items[0], json!({"n": 5, "#debug": 50, "tag": "t5"}));

    // No limit: the API reports 999999999999.
    let r = t.get(&format!("/v2/datasets/{id}/items?offset=20")).await;
    assert_eq!(header(&r, "x-apify-pagination-limit"), "999999999999");
    assert_eq!(header(&r, "x-apify-pagination-count"), "7");
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 7);

    // desc: offsets count from the newest item.
    let items: Vec<Value> = t
        .get(&format!("/v2/datasets/{id}/items?desc=1&offset=1&limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        items,
        vec![
            json!({"n": 25}),
            json!({"n": 24, "#debug": 240, "tag": "t24"})
        ]
    );

    // Past the end.
    let r = t.get(&format!("/v2/datasets/{id}/items?offset=100")).await;
    assert_eq!(header(&r, "x-apify-pagination-count"), "0");
    assert_eq!(r.text().await.unwrap(), "[]");

    // HEAD: the same headers, no body.
    let r = t
        .http
        .head(t.url(&format!("/v2/datasets/{id}/items?limit=3")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-apify-pagination-count"), "3");
    assert!(r.bytes().await.unwrap().is_empty());

    expect_error(
        t.get(&format!("/v2/datasets/{id}/items?limit=abc")).await,
        400,
        "invalid-input",
    )
    .await;
}

#[tokio::test]
async fn item_transforms() {
    let t = Ctx::start().await;
    let id = seeded(&t).await;
    let get = |q: &'static str| {
        let url = t.url(&format!("/v2/datasets/{id}/items?{q}"));
        let http = t.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Vec<Value>>()
                .await
                .unwrap()
        }
    };
    // `fields` picks and orders.
    assert_eq!(
        get("fields=tag,n&limit=1").await,
        vec![json!({"tag": "t0", "n": 0})]
    );
    let first = t
        .get(&format!("/v2/datasets/{id}/items?fields=tag,n&limit=1"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(first, r#"[{"tag":"t0","n":0}]"#);
    assert_eq!(
        get("omit=tag,%23debug&limit=1").await,
        vec![json!({"n": 0})]
    );
    assert_eq!(
        get("skipHidden=1&limit=1").await,
        vec![json!({"n": 0, "tag": "t0"})]
    );
    // clean = skipHidden + skipEmpty: the hidden-only item disappears.
    let clean = get("clean=1&offset=25").await;
    assert_eq!(clean, vec![json!({"n": 25})]);
    let all = get("offset=25").await;
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn formats_jsonl_and_csv() {
    let t = Ctx::start().await;
    let id = t.create("datasets", "fmt").await;
    let items = json!([{"a": 1, "b": {"c": "x,y"}}, {"a": 2, "d": [true, null]}, {"a": 3, "q": "say \"hi\""}]);
    assert_eq!(
        t.post_json(&format!("/v2/datasets/{id}/items"), &items)
            .await
            .status(),
        201
    );

    let r = t
        .get(&format!("/v2/datasets/{id}/items?format=jsonl"))
        .await;
    assert_eq!(
        header(&r, "content-type"),
        "application/jsonl; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(Value::Array(lines), items);
    assert!(text.ends_with('\n'));

    let r = t.get(&format!("/v2/datasets/{id}/items?format=csv")).await;
    assert_eq!(header(&r, "content-type"), "text/csv; charset=utf-8");
    assert_eq!(header(&r, "x-apify-pagination-total"), "3");
    let text = r.text().await.unwrap();
    assert_eq!(
        text,
        "\u{feff}a,b/c,d/0,d/1,q\n1,\"x,y\",,,\n2,,true,,\n3,,,,\"say \"\"hi\"\"\"\n"
    );
    let text = t
        .get(&format!("/v2/datasets/{id}/items?format=csv&bom=0&skipHeaderRow=1&delimiter=%3B&fields=a&limit=2"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, "1\n2\n");

    expect_error(
        t.get(&format!("/v2/datasets/{id}/items?format=xlsx")).await,
        400,
        "invalid-input",
    )
    .await;
}

#[tokio::test]
async fn invalid_bodies_and_gzip() {
    let t = Ctx::start().await;
    let id = t.create("datasets", "bodies").await;
    let path = format!("/v2/datasets/{id}/items");
    let r = t
        .http
        .post(t.url(&path))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid-request").await;
    expect_error(
        t.post_json(&path, &json!([1, 2])).await,
        400,
        "invalid-value",
    )
    .await;
    expect_error(
        t.post_json(&path, &json!("text")).await,
        400,
        "invalid-value",
    )
    .await;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"[{"zipped": true}, {"zipped": 2}]"#)
        .unwrap();
    let r = t
        .http
        .post(t.url(&path))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let items: Vec<Value> = t.get(&path).await.json().await.unwrap();
    assert_eq!(items, vec![json!({"zipped": true}), json!({"zipped": 2})]);

    let r = t
        .http
        .post(t.url(&path))
        .header("content-encoding", "zstd")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported-content-encoding").await;

    let small = Ctx::start_with(apify_local_api::LocalApiConfig {
        max_payload_bytes: 100,
        ..Default::default()
    })
    .await;
    let id = small.create("datasets", "small").await;
    let big = json!([{"text": "x".repeat(200)}]);
    expect_error(
        small
            .post_json(&format!("/v2/datasets/{id}/items"), &big)
            .await,
        413,
        "request-too-large",
    )
    .await;
}

#[tokio::test]
async fn big_dataset_streams_in_batches() {
    let t = Ctx::start().await;
    let id = t.api.generate_dataset_items("big", 5_000).unwrap();
    // Seeding over the control API appends to the same dataset (by name).
    let r = t
        .http
        .post(t.url("/_control/datasets/big/generate?count=2500"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(data(r).await["itemCount"], 7_500);

    let r = t.get(&format!("/v2/datasets/{id}/items?desc=1")).await;
    assert_eq!(header(&r, "x-apify-pagination-total"), "7500");
    assert!(
        r.headers().get("content-length").is_none(),
        "large answers are streamed"
    );
    let items: Vec<Value> = r.json().await.unwrap();
    assert_eq!(items.len(), 7_500);
    assert_eq!(items[0]["id"], 7_499);
    assert_eq!(items[7_499]["id"], 0);

    let text = t
        .get(&format!(
            "/v2/datasets/{id}/items?format=jsonl&offset=10&limit=3500&fields=id"
        ))
        .await
        .text()
        .await
        .unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (10..3510).collect::<Vec<_>>());

    let stats = data(t.get(&format!("/v2/datasets/{id}/statistics")).await).await;
    assert!(stats.get("fieldStatistics").is_some());
}
