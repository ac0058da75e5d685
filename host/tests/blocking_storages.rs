//! The blocking facade against the local Apify API: the storage scenarios of
//! `resources_storages.rs` through `apify_host::blocking`, and the facade's behaviour inside
//! async code (no panic, a clear error where waiting would stall the caller's runtime).

use std::io::Read;
use std::time::Duration;

use apify_host::{
    blocking,
    models::RecordValue,
    options::{BatchAddOptions, DownloadItemsOptions, ListItemsOptions, ListKeysOptions},
    pipeline::HttpSettings,
    ApifyClient,
};
use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::{json, Value};

const TOKEN: &str = "blocking-test-token";

fn setup() -> (LocalApi, blocking::ApifyClient) {
    let api = LocalApi::start_on_own_thread(LocalApiConfig::with_token(TOKEN), 1)
        .expect("local API starts");
    let client = ApifyClient::builder()
        .token(TOKEN)
        .api_url(api.base_url())
        .settings(
            HttpSettings::default()
                .max_retries(2)
                .min_delay_between_retries(Duration::from_millis(10)),
        )
        .build()
        .expect("client builds");
    (api, blocking::ApifyClient::from_async(client).unwrap())
}

#[test]
fn dataset_items_push_list_iterate_and_stream() {
    let (_api, client) = setup();
    let ds = client
        .datasets()
        .get_or_create(Some("blocking"), None)
        .unwrap();
    let dataset = client.dataset(&ds.id);
    let items: Vec<Value> = (0..2100).map(|i| json!({ "n": i })).collect();
    dataset.push_items(&items).unwrap();

    let page = dataset
        .list_items::<Value>(&ListItemsOptions::new().offset(10).limit(5))
        .unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.items[0]["n"], 10);

    // Three pages of at most 1000, fetched as the iterator advances.
    let all: Vec<Value> = dataset
        .iterate_items::<Value>(&ListItemsOptions::new())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all.len(), 2100);
    assert_eq!(all[2099]["n"], 2099);

    let mut reader = dataset
        .stream_items(&DownloadItemsOptions::new().format("jsonl"))
        .unwrap();
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    assert_eq!(text.lines().count(), 2100);

    dataset.delete().unwrap();
    assert!(dataset.get().unwrap().is_none(), "deleted dataset is gone");
}

#[test]
fn key_value_records_and_keys() {
    let (_api, client) = setup();
    let store = client
        .key_value_stores()
        .get_or_create(Some("blocking-kv"), None)
        .unwrap();
    let kv = client.key_value_store(&store.id);
    kv.set_record("config", RecordValue::Json(json!({"a": 1})), None)
        .unwrap();
    let big = vec![7u8; 3 << 20];
    kv.set_record_bytes("blob", big.clone(), "application/octet-stream")
        .unwrap();

    let rec = kv.get_record("config").unwrap().expect("record exists");
    assert_eq!(rec.value, RecordValue::Json(json!({"a": 1})));
    assert!(kv.record_exists("blob").unwrap());
    assert!(!kv.record_exists("missing").unwrap());

    let mut stream = kv.stream_record("blob").unwrap().expect("record exists");
    assert_eq!(stream.content_length(), Some(big.len() as u64));
    let mut read = Vec::new();
    stream.read_to_end(&mut read).unwrap();
    assert!(read == big, "the streamed record equals what was stored");

    let keys: Vec<String> = kv
        .iterate_keys(&ListKeysOptions::new())
        .map(|k| k.map(|k| k.key))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, ["blob", "config"]);
    kv.delete_record("blob").unwrap();
    assert!(kv.get_record("blob").unwrap().is_none());
}

#[test]
fn request_queue_batches_and_head() {
    let (_api, client) = setup();
    let queue = client
        .request_queues()
        .get_or_create(Some("blocking-rq"))
        .unwrap();
    let rq = client
        .request_queue(&queue.id)
        .with_client_key("blocking-client");
    let requests: Vec<Value> = (0..60)
        .map(|i| json!({"url": format!("https://example.com/{i}"), "uniqueKey": format!("k{i}")}))
        .collect();
    let result = rq
        .batch_add_requests(&requests, &BatchAddOptions::new())
        .unwrap();
    assert_eq!(result.processed_requests.len(), 60);
    let head = rq.list_head(Some(10)).unwrap();
    assert_eq!(head.items.len(), 10);
    let locked = rq.list_and_lock_head(60, Some(3)).unwrap();
    assert_eq!(locked.items.len(), 3);
}

#[test]
fn from_a_multi_thread_runtime_it_works_and_drops_cleanly() {
    let (_api, client) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let name = rt.block_on(async move {
        // Inside an async task of a multi-thread runtime: block_in_place, no panic.
        let ds = client
            .datasets()
            .get_or_create(Some("from-async"), None)
            .unwrap();
        drop(client); // dropping the facade (and its runtime) inside async code must not panic
        ds.name
    });
    assert_eq!(name.as_deref(), Some("from-async"));
}

#[test]
fn inside_a_current_thread_runtime_it_refuses_with_advice() {
    let (_api, client) = setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { client.datasets().get_or_create(Some("refused"), None) })
        .expect_err("waiting inside a current-thread runtime is refused");
    let msg = err.to_string();
    // Misuse, not a configuration problem: the calling code must change.
    assert_eq!(err.kind(), apify_host::ErrorKind::Misuse, "{msg}");
    assert!(err.is_misuse() && !err.is_config(), "{msg}");
    assert!(msg.contains("current-thread tokio runtime"), "{msg}");
    assert!(msg.contains("async `apify_host::ApifyClient`"), "{msg}");
    // Nothing was sent: the refusal happens before the call.
    assert_eq!(client.statistics().calls, 0);
    // The same client still works outside the runtime.
    assert!(client
        .datasets()
        .get_or_create(Some("refused"), None)
        .is_ok());
}
