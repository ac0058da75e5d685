//! The library's resource clients against the local Apify API (`apify-local-api`), in-process
//! on 127.0.0.1: pagination across pages, iterators, streaming, batches, not-found handling.

use std::time::Duration;

use apify_host::{
    models::{RecordValue, StorageUpdate},
    options::{
        BatchAddOptions, DownloadItemsOptions, ListItemsOptions, ListKeysOptions, ListOptions,
        ListRequestsOptions,
    },
    pipeline::HttpSettings,
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig, LoggedRequest};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TOKEN: &str = "resources-test-token";

async fn setup() -> (LocalApi, ApifyClient) {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .expect("local API starts");
    let client = client_for(&api.base_url());
    (api, client)
}

/// A client of the API at `url`, with 2 quick retries.
fn client_for(url: &str) -> ApifyClient {
    let settings = HttpSettings::default()
        .max_retries(2)
        .min_delay_between_retries(Duration::from_millis(10));
    ApifyClient::builder()
        .token(TOKEN)
        .api_url(url)
        .settings(settings)
        .build()
        .expect("client builds")
}

fn calls<'a>(log: &'a [LoggedRequest], method: &str, path_suffix: &str) -> Vec<&'a LoggedRequest> {
    log.iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_items_paginate_iterate_and_stream() {
    let (api, client) = setup().await;
    let ds = client
        .datasets()
        .get_or_create(Some("paging"), None)
        .await
        .unwrap();
    assert_eq!(ds.name.as_deref(), Some("paging"));
    // Same name again: the same dataset (get-or-create).
    let again = client
        .datasets()
        .get_or_create(Some("paging"), None)
        .await
        .unwrap();
    assert_eq!(again.id, ds.id);

    let dataset = client.dataset(&ds.id);
    let items: Vec<Value> = (0..2500).map(|i| json!({ "n": i, "tag": "x" })).collect();
    dataset.push_items(&items).await.unwrap();
    dataset.push_items(&json!({ "n": 2500 })).await.unwrap();

    // One page, described by the X-Apify-Pagination-* headers.
    let page = dataset
        .list_items::<Value>(&ListItemsOptions::new().offset(10).limit(5))
        .await
        .unwrap();
    assert_eq!(
        (page.offset, page.limit, page.count, page.total),
        (10, 5, 5, 2501)
    );
    assert_eq!(page.items[0]["n"], 10);

    // Iterate everything: three pages of at most 1000.
    api.clear_request_log();
    let all: Vec<Value> = dataset
        .iterate_items(&ListItemsOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2501);
    assert!(all.iter().enumerate().all(|(i, v)| v["n"] == i));
    assert_eq!(calls(&api.request_log(), "GET", "/items").len(), 3);

    // Iterate a window: offset 990, limit 20 crosses no page boundary but must stop at 20.
    let window: Vec<Value> = dataset
        .iterate_items(&ListItemsOptions::new().offset(990).limit(20).fields(["n"]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(window.len(), 20);
    assert_eq!(window[0], json!({ "n": 990 }));

    // Streamed download in another format.
    let body = dataset
        .stream_items(
            &DownloadItemsOptions::new()
                .format("jsonl")
                .items(ListItemsOptions::new().limit(3)),
        )
        .await
        .unwrap();
    let bytes = body.into_stream().collect_bytes().await.unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&bytes).unwrap().lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(serde_json::from_str::<Value>(lines[2]).unwrap()["n"], 2);

    // The StreamedBody is itself the Stream; its metadata as methods.
    let opts = DownloadItemsOptions::new()
        .format("jsonl")
        .items(ListItemsOptions::new().limit(3));
    let mut body = dataset.stream_items(&opts).await.unwrap();
    assert!(
        body.content_type().is_some_and(|t| t.contains("jsonl")),
        "{:?}",
        body.content_type()
    );
    let mut streamed = Vec::new();
    while let Some(chunk) = body.try_next().await.unwrap() {
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(&streamed[..], &bytes[..]);
    if let Some(n) = body.content_length() {
        assert_eq!(n, bytes.len() as u64);
    }
    let body = dataset.stream_items(&opts).await.unwrap();
    let mut read = Vec::new();
    tokio::io::copy(&mut body.into_async_read(), &mut read)
        .await
        .unwrap();
    assert_eq!(&read[..], &bytes[..]);

    // Metadata, update, statistics, delete.
    let got = dataset.get().await.unwrap().expect("dataset exists");
    assert_eq!(got.item_count, Some(2501));
    let renamed = dataset
        .update(&StorageUpdate {
            name: Some("paging-renamed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("paging-renamed"));
    let _ = dataset.get_statistics().await.unwrap();
    dataset.delete().await.unwrap();
    assert!(dataset.get().await.unwrap().is_none());
    dataset.delete().await.unwrap(); // deleting twice is a no-op
    assert!(dataset.get_statistics().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_list_and_iterate() {
    let (_api, client) = setup().await;
    for name in ["c-a", "c-b", "c-c"] {
        client
            .key_value_stores()
            .get_or_create(Some(name), None)
            .await
            .unwrap();
        client
            .request_queues()
            .get_or_create(Some(name))
            .await
            .unwrap();
    }
    let page = client
        .key_value_stores()
        .list(&ListOptions::new().limit(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.total >= 3, "total {}", page.total);

    let all: Vec<_> = client
        .key_value_stores()
        .iterate(&ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    for name in ["c-a", "c-b", "c-c"] {
        assert!(
            all.iter().any(|s| s.name.as_deref() == Some(name)),
            "{name} listed"
        );
    }
    let limited: Vec<_> = client
        .request_queues()
        .iterate(&ListOptions::new().limit(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_records_and_large_streamed_record() {
    let (_api, client) = setup().await;
    let store = client
        .key_value_stores()
        .get_or_create(Some("records"), None)
        .await
        .unwrap();
    let kvs = client.key_value_store(&store.id);

    kvs.set_record("json", json!({ "a": [1, 2] }), None)
        .await
        .unwrap();
    kvs.set_record("text", "hello", None).await.unwrap();
    kvs.set_record("bin", vec![0u8, 159, 146, 150], None)
        .await
        .unwrap();
    kvs.set_record("it's.(ok)!", "odd characters", None)
        .await
        .unwrap();

    let r = kvs.get_record("json").await.unwrap().unwrap();
    assert_eq!(r.value, RecordValue::Json(json!({ "a": [1, 2] })));
    assert!(r.content_type.unwrap().starts_with("application/json"));
    let r = kvs.get_record("text").await.unwrap().unwrap();
    assert_eq!(r.value, RecordValue::Text("hello".into()));
    let r = kvs.get_record_as_bytes("bin").await.unwrap().unwrap();
    assert_eq!(&r.value[..], &[0u8, 159, 146, 150]);
    let r = kvs.get_record("it's.(ok)!").await.unwrap().unwrap();
    assert_eq!(r.value, RecordValue::Text("odd characters".into()));

    assert!(kvs.record_exists("json").await.unwrap());
    assert!(!kvs.record_exists("missing").await.unwrap());
    assert!(kvs.get_record("missing").await.unwrap().is_none());
    assert!(kvs.stream_record("missing").await.unwrap().is_none());
    kvs.delete_record("text").await.unwrap();
    assert!(kvs.get_record("text").await.unwrap().is_none());

    // 16 MiB of non-repeating bytes, streamed back and hashed chunk by chunk.
    let mut data = Vec::with_capacity(16 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < 16 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let expected = hex::encode(Sha256::digest(&data));
    kvs.set_record_bytes("big", data, "application/octet-stream")
        .await
        .unwrap();
    let stream = kvs
        .stream_record("big")
        .await
        .unwrap()
        .expect("record exists");
    assert_eq!(stream.key(), "big");
    assert_eq!(stream.content_length(), Some(16 << 20));
    let mut hasher = Sha256::new();
    let mut chunks = 0usize;
    let mut body = stream.into_body().into_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        hasher.update(&chunk);
    }
    assert_eq!(hex::encode(hasher.finalize()), expected);
    assert!(
        chunks > 1,
        "the body arrived in {chunks} chunk(s): it was buffered"
    );

    // The RecordStream is itself the Stream, with the metadata as methods.
    let mut rec = kvs
        .stream_record("big")
        .await
        .unwrap()
        .expect("record exists");
    assert_eq!(rec.key(), "big");
    assert_eq!(rec.content_type(), Some("application/octet-stream"));
    assert_eq!(rec.content_length(), Some(16 << 20));
    let mut hasher = Sha256::new();
    let mut len = 0usize;
    while let Some(chunk) = rec.try_next().await.unwrap() {
        len += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(len, 16 << 20);
    assert_eq!(hex::encode(hasher.finalize()), expected);

    // into_async_read + tokio::io::copy, down to a file.
    let rec = kvs
        .stream_record("big")
        .await
        .unwrap()
        .expect("record exists");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    let copied = tokio::io::copy(&mut rec.into_async_read(), &mut file)
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::flush(&mut file).await.unwrap();
    drop(file);
    assert_eq!(copied, 16 << 20);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&on_disk)), expected);

    // A small text record: the bytes themselves, and its content type.
    kvs.set_record_bytes("small", &b"tiny value"[..], "text/plain; charset=utf-8")
        .await
        .unwrap();
    let rec = kvs
        .stream_record("small")
        .await
        .unwrap()
        .expect("record exists");
    assert_eq!(rec.key(), "small");
    assert!(
        rec.content_type().unwrap().starts_with("text/plain"),
        "{:?}",
        rec.content_type()
    );
    assert_eq!(rec.content_length(), Some(10));
    let chunks: Vec<bytes::Bytes> = rec.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), b"tiny value");
    let rec = kvs.stream_record("small").await.unwrap().unwrap();
    let mut out = Vec::new();
    tokio::io::copy(&mut rec.into_async_read(), &mut out)
        .await
        .unwrap();
    assert_eq!(out, b"tiny value");

    // Store and record not found.
    let ghost = client.key_value_store("no-such-store");
    assert!(ghost.get().await.unwrap().is_none());
    assert!(ghost.get_record("x").await.unwrap().is_none());
    ghost.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_keys_paginate() {
    let (api, client) = setup().await;
    let store = client
        .key_value_stores()
        .get_or_create(Some("keys"), None)
        .await
        .unwrap();
    let kvs = client.key_value_store(&store.id);
    futures_util::stream::iter(0..1005)
        .map(|i| {
            let kvs = kvs.clone();
            async move { kvs.set_record(&format!("k{i:05}"), json!(i), None).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();

    let page = kvs
        .list_keys(&ListKeysOptions::new().limit(3).prefix("k0000"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.is_truncated);
    assert_eq!(page.next_exclusive_start_key.as_deref(), Some("k00002"));

    api.clear_request_log();
    let keys: Vec<_> = kvs
        .iterate_keys(&ListKeysOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys.len(), 1005);
    assert!(keys.windows(2).all(|w| w[0].key < w[1].key));
    assert_eq!(calls(&api.request_log(), "GET", "/keys").len(), 2);

    let some: Vec<_> = kvs
        .iterate_keys(
            &ListKeysOptions::new()
                .limit(7)
                .exclusive_start_key("k00100"),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(some.len(), 7);
    assert_eq!(some[0].key, "k00101");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_queue_operations() {
    let (api, client) = setup().await;
    let q = client
        .request_queues()
        .get_or_create(Some("ops"))
        .await
        .unwrap();
    let rq = client.request_queue(&q.id).with_client_key("worker-1");

    let added = rq
        .add_request(
            &json!({ "url": "https://example.com/1", "userData": { "label": "A" } }),
            None,
        )
        .await
        .unwrap();
    assert!(!added.was_already_present);
    let again = rq
        .add_request(&json!({ "url": "https://example.com/1" }), None)
        .await
        .unwrap();
    assert!(again.was_already_present);
    assert_eq!(again.request_id, added.request_id);

    let got = rq
        .get_request(&added.request_id)
        .await
        .unwrap()
        .expect("request exists");
    assert_eq!(got.url, "https://example.com/1");
    assert_eq!(got.extra["userData"]["label"], "A");
    assert!(rq.get_request("no-such-request").await.unwrap().is_none());

    let mut changed = serde_json::to_value(&got).unwrap();
    changed["userData"] = json!({ "label": "B" });
    rq.update_request(&changed, None).await.unwrap();
    let got = rq.get_request(&added.request_id).await.unwrap().unwrap();
    assert_eq!(got.extra["userData"]["label"], "B");

    let head = rq.list_head(Some(10)).await.unwrap();
    assert_eq!(head.items.len(), 1);
    let locked = rq.list_and_lock_head(60, Some(10)).await.unwrap();
    assert_eq!(locked.items.len(), 1);
    let lock = rq
        .prolong_request_lock(&added.request_id, 120, None)
        .await
        .unwrap();
    assert!(lock.lock_expires_at.is_some());
    rq.delete_request_lock(&added.request_id, None)
        .await
        .unwrap();
    rq.list_and_lock_head(60, Some(10)).await.unwrap();
    let unlocked = rq.unlock_requests().await.unwrap();
    assert_eq!(unlocked.unlocked_count, 1);

    rq.delete_request(&added.request_id).await.unwrap();
    assert!(rq.get_request(&added.request_id).await.unwrap().is_none());

    // Batch add of 60: three calls of at most 25.
    api.clear_request_log();
    let many: Vec<Value> = (0..60)
        .map(|i| json!({ "url": format!("https://example.com/b/{i}"), "userData": { "i": i } }))
        .collect();
    let result = rq
        .batch_add_requests(&many, &BatchAddOptions::new())
        .await
        .unwrap();
    assert_eq!(result.processed_requests.len(), 60);
    assert!(result.unprocessed_requests.is_empty());
    assert_eq!(
        calls(&api.request_log(), "POST", "/requests/batch").len(),
        3
    );

    // List page by page, and iterate across pages.
    let first = rq
        .list_requests(&ListRequestsOptions::new().limit(25))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 25);
    let all: Vec<_> = rq
        .iterate_requests(&ListRequestsOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 60);
    assert_eq!(all[59].url, "https://example.com/b/59");
    let some: Vec<_> = rq
        .iterate_requests(&ListRequestsOptions::new().limit(30))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(some.len(), 30);

    // Batch delete by unique key.
    let del: Vec<Value> = (0..5)
        .map(|i| json!({ "uniqueKey": format!("https://example.com/b/{i}") }))
        .collect();
    let deleted = rq.batch_delete_requests(&del).await.unwrap();
    assert_eq!(deleted.processed_requests.len(), 5);
    assert_eq!(
        rq.get().await.unwrap().unwrap().total_request_count,
        Some(55)
    );

    rq.delete().await.unwrap();
    assert!(rq.get().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_add_resends_unprocessed_requests_then_reports_them() {
    let (api, client) = setup().await;
    let q = client
        .request_queues()
        .get_or_create(Some("batch"))
        .await
        .unwrap();
    let rq = client.request_queue(&q.id);
    // 30 good requests and one the API refuses (no URL): the refused one comes back as
    // unprocessed, is resent 3 times, and is reported.
    let mut reqs: Vec<Value> = (0..30)
        .map(|i| json!({ "url": format!("https://example.com/{i}") }))
        .collect();
    reqs.insert(7, json!({ "uniqueKey": "broken", "method": "GET" }));
    api.clear_request_log();
    let opts = BatchAddOptions::new()
        .min_delay_between_unprocessed_requests_retries(Duration::from_millis(5));
    let result = rq.batch_add_requests(&reqs, &opts).await.unwrap();
    assert_eq!(result.processed_requests.len(), 30);
    assert_eq!(result.unprocessed_requests.len(), 1);
    assert_eq!(
        result.unprocessed_requests[0].unique_key.as_deref(),
        Some("broken")
    );
    // 2 batches (25 + 6), plus 3 resends of the unprocessed one.
    assert_eq!(
        calls(&api.request_log(), "POST", "/requests/batch").len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_log() {
    let (api, client) = setup().await;
    let me = client.me().get().await.unwrap().expect("user");
    assert_eq!(me.username.as_deref(), Some("local-user"));
    assert!(me.extra.contains_key("plan"));

    api.set_log(
        "run-1",
        "2024-01-01T00:00:00.000Z \x1b[32mstarted\x1b[0m\n",
        true,
    );
    let log = client.log("run-1");
    assert_eq!(
        log.get(false).await.unwrap().unwrap(),
        "2024-01-01T00:00:00.000Z started\n"
    );
    assert!(log.get(true).await.unwrap().unwrap().contains("\x1b[32m"));
    let stream = log.stream(false).await.unwrap().expect("log exists");
    let text = stream.into_stream().collect_bytes().await.unwrap();
    assert_eq!(&text[..], b"2024-01-01T00:00:00.000Z started\n");
    assert!(client
        .log("no-such-run")
        .get(false)
        .await
        .unwrap()
        .is_none());
    assert!(client
        .log("no-such-run")
        .stream(false)
        .await
        .unwrap()
        .is_none());
}

/// `list_items` parses a page as its body arrives, inside the retry loop: a body that breaks
/// off is read again from the start (the failed attempt's items are not kept), and a body that
/// is not a JSON array of items is an error that says where, and is not retried.
#[tokio::test]
async fn list_items_parses_as_it_reads_and_retries_a_broken_body() {
    use testkit::{Action, TestServer};
    let server = TestServer::start().await;
    let client = client_for(server.url("").trim_end_matches('/'));
    let path = "/v2/datasets/d/items";
    let json_200 = |body: Vec<u8>| Action::Respond {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-apify-pagination-total".into(), "3000".into()),
        ],
        body,
    };
    let items: Vec<Value> = (0..3000)
        .map(|n| json!({ "n": n, "text": format!("item \"{n}\", [with] {{brackets}}") }))
        .collect();
    let body = serde_json::to_vec_pretty(&items).unwrap();
    // The first answer stops at half of its announced length (a clean close, mid-item).
    let mut broken = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    broken.extend_from_slice(&body[..body.len() / 2 + 7]);
    server.script(path, vec![Action::Raw(broken), json_200(body)]);
    let page = client
        .dataset("d")
        .list_items::<Value>(&ListItemsOptions::new())
        .await
        .unwrap();
    assert_eq!((page.count, page.total), (3000, 3000));
    assert_eq!(page.items, items, "every item once, in order");
    assert_eq!(server.requests().len(), 2, "the broken attempt was retried");

    for (body, says) in [
        (&br#"{"items": []}"#[..], "it starts with '{', not `[`"),
        (br#"[{"n": 0}, {"n": }]"#, "item 1: expected value"),
        (
            br#"[{"n": 0}, {"n": 1}"#,
            "ended before the array's closing `]` (1 complete item)",
        ),
    ] {
        let before = server.requests().len();
        server.script(path, vec![json_200(body.to_vec())]);
        let e = client
            .dataset("d")
            .list_items::<Value>(&ListItemsOptions::new())
            .await
            .unwrap_err();
        assert!(e.is_decode(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("not the expected JSON array of items"),
            "{text}"
        );
        assert!(text.contains(says), "{text}");
        assert_eq!(server.requests().len(), before + 1, "not retried: {text}");
    }
}
