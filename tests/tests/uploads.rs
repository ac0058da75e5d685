//! Streamed request bodies through every transport (interface 1.2): a 1 GiB file upload hashed
//! by the server as it arrives, a JSONL push split into several requests, and a reset
//! mid-upload replayed from a file and refused for a one-time stream.

use std::time::Duration;

use apify_host::{
    options::{ListItemsOptions, PushItemsOptions},
    pipeline::{HttpSettings, UploadBody},
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig};
use apify_tests::{pipeline_support::client_at, random_file, transport_tests, TransportUnderTest};
use bytes::Bytes;
use futures_util::StreamExt;
use testkit::{Action, TestServer};

transport_tests! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_1_gib_file_upload_arrives_intact,
    a_reset_mid_upload_of_a_file_is_replayed,
    a_reset_mid_upload_of_a_one_time_stream_is_one_clear_error,
    a_jsonl_push_is_split_and_every_item_arrives_once,
}

const RECORD: &str = "/digest/v2/key-value-stores/s/records/k";

fn settings() -> HttpSettings {
    HttpSettings::default()
        .max_retries(2)
        .min_delay_between_retries(Duration::from_millis(10))
}

fn digest_client(t: &TransportUnderTest, server: &TestServer) -> ApifyClient {
    client_at(
        t.transport.clone(),
        settings(),
        &server.url("/digest"),
        Some("tok"),
    )
}

async fn a_1_gib_file_upload_arrives_intact(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let (file, sha) = random_file(1 << 30);
    let client = digest_client(&t, &server);
    client
        .key_value_store("s")
        .set_record_from(
            "k",
            UploadBody::from_file(file.path()).unwrap(),
            "application/octet-stream",
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    let log = server.requests();
    assert_eq!(log.len(), 1, "{}: one request", t.name);
    assert_eq!(log[0].body_len, 1 << 30, "{}", t.name);
    assert_eq!(
        log[0].body_sha256.as_deref(),
        Some(sha.as_str()),
        "{}",
        t.name
    );
    // Random bytes do not shrink: sent as they are, framed by their length.
    assert_eq!(log[0].header("content-encoding"), None, "{}", t.name);
    assert_eq!(
        log[0].header("content-length"),
        Some("1073741824"),
        "{}",
        t.name
    );
}

async fn a_reset_mid_upload_of_a_file_is_replayed(t: TransportUnderTest) {
    let server = TestServer::start().await;
    server.script(
        RECORD,
        vec![Action::ResetDuringRequestBody { after: 1 << 20 }],
    );
    let (file, sha) = random_file(8 << 20);
    digest_client(&t, &server)
        .key_value_store("s")
        .set_record_from(
            "k",
            UploadBody::from_file(file.path()).unwrap(),
            "application/octet-stream",
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    let log = server.requests();
    assert_eq!(
        log.len(),
        2,
        "{}: the reset attempt, then the replay",
        t.name
    );
    assert!(!log[0].complete, "{}", t.name);
    assert!(log[1].complete, "{}", t.name);
    assert_eq!(log[1].body_len, 8 << 20, "{}", t.name);
    assert_eq!(
        log[1].body_sha256.as_deref(),
        Some(sha.as_str()),
        "{}",
        t.name
    );
}

async fn a_reset_mid_upload_of_a_one_time_stream_is_one_clear_error(t: TransportUnderTest) {
    let server = TestServer::start().await;
    server.script(
        RECORD,
        vec![Action::ResetDuringRequestBody { after: 1 << 20 }],
    );
    // What standard input looks like to the library: chunks that can be read once.
    // Random bytes, so they go uncompressed and the cut lands mid-body.
    let (file, _) = random_file(8 << 20);
    let data = std::fs::read(file.path()).unwrap();
    let chunks: Vec<_> = data
        .chunks(128 * 1024)
        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
        .collect();
    let body = UploadBody::from_stream(futures_util::stream::iter(chunks), None);
    assert!(!body.is_replayable());
    let e = digest_client(&t, &server)
        .key_value_store("s")
        .set_record_from("k", body, "application/octet-stream")
        .await
        .expect_err("a one-time body cut mid-upload cannot succeed");
    let text = e.to_string();
    assert!(e.is_transport(), "{}: {text}", t.name);
    assert!(
        text.contains("one-time stream") && text.contains("not retried"),
        "{}: {text}",
        t.name
    );
    assert!(!text.contains("tok"), "{}: no token in {text}", t.name);
    let log = server.requests();
    assert_eq!(log.len(), 1, "{}: never sent again: {log:?}", t.name);
    assert!(!log[0].complete, "{}", t.name);
}

async fn a_jsonl_push_is_split_and_every_item_arrives_once(t: TransportUnderTest) {
    let api = LocalApi::start(LocalApiConfig::with_token("tok"))
        .await
        .expect("local API starts");
    let client = client_at(
        t.transport.clone(),
        settings(),
        &api.base_url(),
        Some("tok"),
    );
    let ds = client
        .datasets()
        .get_or_create(Some("pushed"), None)
        .await
        .unwrap();
    // 2,000 lines of ~100 bytes, at most 16 KiB per request: about a dozen requests.
    let lines = (0..2000).map(|n| {
        Ok::<_, std::io::Error>(Bytes::from(format!(
            r#"{{"n":{n},"url":"https://example.com/{n}","pad":"{}"}}"#,
            "x".repeat(50)
        )))
    });
    let opts = PushItemsOptions::new().max_payload_bytes(16 * 1024);
    let done = client
        .dataset(&ds.id)
        .push_items_stream(futures_util::stream::iter(lines), &opts)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(done.items, 2000, "{}", t.name);
    assert!(done.requests >= 10, "{}: {done:?}", t.name);
    let posts: Vec<_> = api
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/items"))
        .collect();
    assert_eq!(posts.len() as u64, done.requests, "{}", t.name);
    let items: Vec<serde_json::Value> = client
        .dataset(&ds.id)
        .iterate_items(&ListItemsOptions::new())
        .map(|r| r.unwrap())
        .collect()
        .await;
    let ns: Vec<u64> = items.iter().map(|i| i["n"].as_u64().unwrap()).collect();
    assert_eq!(
        ns,
        (0..2000).collect::<Vec<_>>(),
        "{}: each once, in order",
        t.name
    );

    // A bad item stops the push before its request, and the error says what was stored.
    let lines = vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"{\"n\":1}")),
        Ok(Bytes::from_static(b"[1,2]")),
    ];
    let e = client
        .dataset(&ds.id)
        .push_items_stream(futures_util::stream::iter(lines), &opts)
        .await
        .expect_err("item 2 is not an object");
    assert!(
        e.to_string().contains("item 2 is not a JSON object"),
        "{}: {e}",
        t.name
    );
}
