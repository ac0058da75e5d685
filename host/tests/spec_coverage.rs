//! Spec coverage: every method of every resource client, called once with realistic
//! arguments through a recording transport in front of Prism (`prism mock --errors` on the
//! official OpenAPI spec), must send only requests Prism accepts. The test prints which spec
//! operations (method + path template) the library exercises, `N of M`, and the
//! non-deprecated ones it does not.
//!
//! Adding a method is one line in [`table`]: `("client.method", op!(|c| { ... })),`.
//!
//! Run: `cargo test -p apify-host --release --test spec_coverage -- --nocapture` (needs
//! Prism: `scripts/test.sh` installs it into `tools/prism`; as in the CLI's contract test, the
//! test is skipped without it unless `CI` is set, where a missing Prism fails it).

#[path = "../../cli/tests/cli/support/prism.rs"]
mod prism;
#[macro_use]
#[path = "support/spec_coverage.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use serde_json::{json, Value};

use apify_host::{
    models::{
        ActorJobStatus, AdHocWebhook, EnvVar, LimitsUpdate, RunInput, RunUpdate, ScheduleFields,
        StorageUpdate, WebhookFields,
    },
    options::{
        ActorListOptions, BatchAddOptions, BuildOptions, CallOptions, ChargeOptions,
        DownloadItemsOptions, ListItemsOptions, ListKeysOptions, ListOptions, ListRequestsOptions,
        ListRunsOptions, LogRedirect, PageOptions, ResurrectOptions, StartOptions,
        StoreListOptions,
    },
};
use prism::Prism;
use support::{judge, run_table, spec_operations, Op, SpecGap};

/// Ids shaped like real ones (the spec's own examples).
const ID: &str = "WkzbQMuFYuamGv3YF";
const REQ_ID: &str = "xpsmkDlspokDSmklS";
const RUN_ID: &str = "HG7ML7M8z78YcAPE";
const TOKEN: &str = "spec-coverage-token";

fn items() -> ListItemsOptions {
    ListItemsOptions::new()
        .offset(0)
        .limit(100)
        .clean(false)
        .desc(true)
        .fields(["url", "title"])
        .omit(["html"])
        .unwind(["offers"])
        .skip_empty(true)
        .skip_hidden(true)
        .flatten(["meta"])
        .view("overview")
}

fn storage_list() -> ListOptions {
    ListOptions::new()
        .unnamed(true)
        .limit(10)
        .offset(0)
        .desc(true)
        .ownership("ownedByMe")
}

fn update() -> StorageUpdate {
    StorageUpdate {
        name: Some("renamed-storage".into()),
        general_access: Some("RESTRICTED".into()),
    }
}

fn page() -> PageOptions {
    PageOptions::new().limit(10).offset(0).desc(true)
}

fn webhook_fields() -> WebhookFields {
    WebhookFields {
        event_types: Some(vec![
            "ACTOR.RUN.SUCCEEDED".into(),
            "ACTOR.RUN.FAILED".into(),
        ]),
        request_url: Some("https://example.com/run-finished".into()),
        payload_template: Some(r#"{"runId": {{resource.id}}}"#.into()),
        actor_id: Some(ID.into()),
        ignore_ssl_errors: Some(false),
        do_not_retry: Some(false),
        description: Some("Notify the backend".into()),
        idempotency_key: Some("notify-backend-1".into()),
        ..Default::default()
    }
}

/// The rows of every storage method that the spec also offers under a run (`run.dataset()`,
/// `…/runs/last/key-value-store`, ...): `$scope` is the label prefix, `$run` the run client.
macro_rules! storage_alias_rows {
    ($scope:literal, |$c:ident| $run:expr) => {
        vec![
            // ---- the run's default dataset
            (concat!($scope, ".dataset().get"), op!(|$c| { $run.dataset().get().await?; })),
            (
                concat!($scope, ".dataset().update"),
                op!(|$c| { $run.dataset().update(&update()).await?; }),
            ),
            (concat!($scope, ".dataset().delete"), op!(|$c| { $run.dataset().delete().await?; })),
            (
                concat!($scope, ".dataset().list_items"),
                op!(|$c| { $run.dataset().list_items::<Value>(&items()).await?; }),
            ),
            (
                concat!($scope, ".dataset().push_items"),
                op!(|$c| {
                    $run.dataset().push_items(&json!([{"url": "https://example.com"}])).await?;
                }),
            ),
            (
                concat!($scope, ".dataset().get_statistics"),
                op!(|$c| { $run.dataset().get_statistics().await?; }),
            ),
            // ---- the run's default key-value store
            (
                concat!($scope, ".key_value_store().get"),
                op!(|$c| { $run.key_value_store().get().await?; }),
            ),
            (
                concat!($scope, ".key_value_store().update"),
                op!(|$c| { $run.key_value_store().update(&update()).await?; }),
            ),
            (
                concat!($scope, ".key_value_store().delete"),
                op!(|$c| { $run.key_value_store().delete().await?; }),
            ),
            (
                concat!($scope, ".key_value_store().list_keys"),
                op!(|$c| {
                    $run.key_value_store()
                        .list_keys(&ListKeysOptions::new().limit(10).prefix("post-"))
                        .await?;
                }),
            ),
            (
                concat!($scope, ".key_value_store().get_record"),
                op!(|$c| { $run.key_value_store().get_record("OUTPUT").await?; }),
            ),
            // `record_exists` (a `HEAD` of the record) is in `SPEC_GAPS`: the spec has no `HEAD`
            // under a run.
            (
                concat!($scope, ".key_value_store().set_record"),
                op!(|$c| {
                    $run.key_value_store()
                        .set_record("OUTPUT", json!({"done": true}), None)
                        .await?;
                }),
            ),
            (
                concat!($scope, ".key_value_store().delete_record"),
                op!(|$c| { $run.key_value_store().delete_record("OUTPUT").await?; }),
            ),
            // ---- the run's default request queue
            (
                concat!($scope, ".request_queue().get"),
                op!(|$c| { $run.request_queue().get().await?; }),
            ),
            (
                concat!($scope, ".request_queue().update"),
                op!(|$c| { $run.request_queue().update(&update()).await?; }),
            ),
            (
                concat!($scope, ".request_queue().delete"),
                op!(|$c| { $run.request_queue().delete().await?; }),
            ),
            (
                concat!($scope, ".request_queue().list_head"),
                op!(|$c| { $run.request_queue().list_head(Some(10)).await?; }),
            ),
            (
                concat!($scope, ".request_queue().list_and_lock_head"),
                op!(|$c| {
                    $run.request_queue()
                        .with_client_key("client-abc")
                        .list_and_lock_head(60, Some(5))
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().add_request"),
                op!(|$c| {
                    $run.request_queue()
                        .add_request(
                            &json!({"url": "https://example.com/a", "uniqueKey": "a"}),
                            Some(false),
                        )
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().get_request"),
                op!(|$c| { $run.request_queue().get_request(REQ_ID).await?; }),
            ),
            (
                concat!($scope, ".request_queue().update_request"),
                op!(|$c| {
                    $run.request_queue()
                        .update_request(
                            &json!({"id": REQ_ID, "url": "https://example.com/a", "uniqueKey": "a"}),
                            Some(true),
                        )
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().delete_request"),
                op!(|$c| { $run.request_queue().delete_request(REQ_ID).await?; }),
            ),
            (
                concat!($scope, ".request_queue().prolong_request_lock"),
                op!(|$c| {
                    $run.request_queue()
                        .with_client_key("client-abc")
                        .prolong_request_lock(REQ_ID, 60, Some(false))
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().delete_request_lock"),
                op!(|$c| {
                    $run.request_queue()
                        .with_client_key("client-abc")
                        .delete_request_lock(REQ_ID, Some(true))
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().batch_add_requests"),
                op!(|$c| {
                    $run.request_queue()
                        .batch_add_requests(
                            &[json!({"url": "https://example.com/1", "uniqueKey": "1"})],
                            &BatchAddOptions::new().forefront(false).max_parallel(1).max_unprocessed_requests_retries(1).min_delay_between_unprocessed_requests_retries(Duration::from_millis(10)),
                        )
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().batch_delete_requests"),
                op!(|$c| {
                    $run.request_queue()
                        .batch_delete_requests(&[json!({"uniqueKey": "1"})])
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().list_requests"),
                op!(|$c| {
                    $run.request_queue()
                        .list_requests(&ListRequestsOptions::new().limit(10))
                        .await?;
                }),
            ),
            (
                concat!($scope, ".request_queue().unlock_requests"),
                op!(|$c| {
                    $run.request_queue()
                        .with_client_key("client-abc")
                        .unlock_requests()
                        .await?;
                }),
            ),
            // ---- the run's log
            (concat!($scope, ".log().get"), op!(|$c| { $run.log().get(false).await?; })),
        ]
    };
}

/// The rows of the run methods the spec also offers under `…/runs/last` (of an Actor or a
/// task): read, wait, abort, metamorph, reboot.
macro_rules! last_run_rows {
    ($scope:literal, |$c:ident| $run:expr) => {
        vec![
            (
                concat!($scope, ".get"),
                op!(|$c| {
                    $run.get().await?;
                }),
            ),
            (
                concat!($scope, ".wait_for_finish"),
                op!(|$c| {
                    $run.wait_for_finish(Some(Duration::from_secs(1))).await?;
                }),
            ),
            (
                concat!($scope, ".abort"),
                op!(|$c| {
                    $run.abort(Some(false)).await?;
                }),
            ),
            (
                concat!($scope, ".metamorph"),
                // Without input: see `run.metamorph`.
                op!(|$c| {
                    $run.metamorph("apify/web-scraper", None, None).await?;
                }),
            ),
            (
                concat!($scope, ".reboot"),
                op!(|$c| {
                    $run.reboot().await?;
                }),
            ),
        ]
    };
}

/// Every library method, once: the storages, users, logs, schedules, webhooks and the Store
/// here; the Actor family in the functions and macros it chains.
fn table() -> Vec<(&'static str, Op)> {
    vec![
        // ---- datasets
        (
            "datasets.list",
            op!(|c| {
                c.datasets().list(&storage_list()).await?;
            }),
        ),
        (
            "datasets.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .datasets()
                    .iterate(&ListOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "datasets.get_or_create",
            op!(|c| {
                c.datasets().get_or_create(Some("my-results"), None).await?;
            }),
        ),
        (
            "dataset.get",
            op!(|c| {
                c.dataset(ID).get().await?;
            }),
        ),
        (
            "dataset.update",
            op!(|c| {
                c.dataset(ID).update(&update()).await?;
            }),
        ),
        (
            "dataset.delete",
            op!(|c| {
                c.dataset(ID).delete().await?;
            }),
        ),
        (
            "dataset.list_items",
            op!(|c| {
                c.dataset(ID).list_items::<Value>(&items()).await?;
            }),
        ),
        (
            "dataset.list_items (signature)",
            op!(|c| {
                c.dataset(ID)
                    .list_items::<Value>(&ListItemsOptions::new().signature("MC4wLjE2ZE4xdFRic2ZUMnJJWURyZVRQaw"))
                    .await?;
            }),
        ),
        (
            "dataset.iterate_items",
            op!(|c| {
                let _: Vec<Value> = c
                    .dataset(ID)
                    .iterate_items(&ListItemsOptions::new().limit(5).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "dataset.stream_items",
            op!(|c| {
                let body = c
                    .dataset(ID)
                    .stream_items(&DownloadItemsOptions::new().format("csv").items(items()).bom(false).delimiter(";").skip_header_row(true))
                    .await?;
                body.into_stream().collect_bytes().await?;
            }),
        ),
        (
            "dataset.get_items_as_bytes",
            op!(|c| {
                c.dataset(ID)
                    .get_items_as_bytes(&DownloadItemsOptions::new().format("xml").xml_root("items").xml_row("item"))
                    .await?;
            }),
        ),
        (
            "dataset.push_items",
            op!(|c| {
                c.dataset(ID)
                    .push_items(&json!([{"url": "https://example.com"}]))
                    .await?;
            }),
        ),
        (
            "dataset.push_items_json",
            op!(|c| {
                c.dataset(ID)
                    .push_items_json(r#"{"url":"https://example.org"}"#)
                    .await?;
            }),
        ),
        (
            "dataset.get_statistics",
            op!(|c| {
                c.dataset(ID).get_statistics().await?;
            }),
        ),
        (
            "dataset.create_items_public_url",
            op!(|c| {
                c.dataset(ID)
                    .create_items_public_url(
                        Some("json"),
                        &items(),
                        Some(Duration::from_secs(3600)),
                    )
                    .await?;
            }),
        ),
        // ---- key-value stores
        (
            "key_value_stores.list",
            op!(|c| {
                c.key_value_stores().list(&storage_list()).await?;
            }),
        ),
        (
            "key_value_stores.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .key_value_stores()
                    .iterate(&ListOptions::new().limit(3))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "key_value_stores.get_or_create",
            op!(|c| {
                c.key_value_stores()
                    .get_or_create(Some("my-store"), None)
                    .await?;
            }),
        ),
        (
            "key_value_store.get",
            op!(|c| {
                c.key_value_store(ID).get().await?;
            }),
        ),
        (
            "key_value_store.update",
            op!(|c| {
                c.key_value_store(ID).update(&update()).await?;
            }),
        ),
        (
            "key_value_store.delete",
            op!(|c| {
                c.key_value_store(ID).delete().await?;
            }),
        ),
        (
            "key_value_store.list_keys",
            op!(|c| {
                c.key_value_store(ID)
                    .list_keys(&ListKeysOptions::new().limit(100).exclusive_start_key("Ihnsp8YrvJ8102Kj").collection("postImages").prefix("post-images-").signature("2wTI46Bg8qWQrV7tavlPI"))
                    .await?;
            }),
        ),
        (
            "key_value_store.iterate_keys",
            op!(|c| {
                let _: Vec<_> = c
                    .key_value_store(ID)
                    .iterate_keys(&ListKeysOptions::new().limit(5).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "key_value_store.get_record",
            op!(|c| {
                c.key_value_store(ID).get_record("INPUT").await?;
            }),
        ),
        (
            "key_value_store.get_record_signed",
            op!(|c| {
                c.key_value_store(ID)
                    .get_record_signed("INPUT", "2wTI46Bg8qWQrV7tavlPI")
                    .await?;
            }),
        ),
        (
            "key_value_store.get_record_as_bytes",
            op!(|c| {
                c.key_value_store(ID)
                    .get_record_as_bytes("screenshot.png")
                    .await?;
            }),
        ),
        (
            "key_value_store.get_record_as_bytes_signed",
            op!(|c| {
                c.key_value_store(ID)
                    .get_record_as_bytes_signed("screenshot.png", "2wTI46Bg8qWQrV7tavlPI")
                    .await?;
            }),
        ),
        (
            "key_value_store.stream_record",
            op!(|c| {
                if let Some(r) = c.key_value_store(ID).stream_record("OUTPUT").await? {
                    r.into_body().into_stream().collect_bytes().await?;
                }
            }),
        ),
        (
            "key_value_store.stream_record_signed",
            op!(|c| {
                if let Some(r) = c
                    .key_value_store(ID)
                    .stream_record_signed("OUTPUT", "2wTI46Bg8qWQrV7tavlPI")
                    .await?
                {
                    r.into_body().into_stream().collect_bytes().await?;
                }
            }),
        ),
        (
            "key_value_store.record_exists",
            op!(|c| {
                c.key_value_store(ID).record_exists("INPUT").await?;
            }),
        ),
        (
            "key_value_store.set_record",
            op!(|c| {
                c.key_value_store(ID)
                    .set_record("INPUT", json!({"maxItems": 10}), None)
                    .await?;
            }),
        ),
        (
            "key_value_store.set_record_bytes",
            op!(|c| {
                c.key_value_store(ID)
                    .set_record_bytes("screenshot.png", &b"\x89PNG\r\n\x1a\n"[..], "image/png")
                    .await?;
            }),
        ),
        // Not run: `set_record_encoded` (a gzip body with `Content-Encoding: gzip`) — Prism
        // cannot decode a content-encoded request body and never answers it; the request is
        // the same `PUT` as `set_record_bytes` plus that header.
        (
            "key_value_store.delete_record",
            op!(|c| {
                c.key_value_store(ID).delete_record("INPUT").await?;
            }),
        ),
        (
            "key_value_store.get_record_public_url",
            op!(|c| {
                c.key_value_store(ID)
                    .get_record_public_url("OUTPUT")
                    .await?;
            }),
        ),
        (
            "key_value_store.create_keys_public_url",
            op!(|c| {
                c.key_value_store(ID)
                    .create_keys_public_url(
                        &ListKeysOptions::new().prefix("img-").limit(10),
                        None,
                    )
                    .await?;
            }),
        ),
        // ---- request queues
        (
            "request_queues.list",
            op!(|c| {
                c.request_queues().list(&storage_list()).await?;
            }),
        ),
        (
            "request_queues.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .request_queues()
                    .iterate(&ListOptions::new().limit(3))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "request_queues.get_or_create",
            op!(|c| {
                c.request_queues().get_or_create(Some("my-queue")).await?;
            }),
        ),
        (
            "request_queue.get",
            op!(|c| {
                c.request_queue(ID).get().await?;
            }),
        ),
        (
            "request_queue.update",
            op!(|c| {
                c.request_queue(ID).update(&update()).await?;
            }),
        ),
        (
            "request_queue.delete",
            op!(|c| {
                c.request_queue(ID).delete().await?;
            }),
        ),
        (
            "request_queue.list_head",
            op!(|c| {
                c.request_queue(ID).list_head(Some(10)).await?;
            }),
        ),
        (
            "request_queue.list_and_lock_head",
            op!(|c| {
                c.request_queue(ID)
                    .with_client_key("client-abc")
                    .list_and_lock_head(60, Some(5))
                    .await?;
            }),
        ),
        (
            "request_queue.add_request",
            op!(|c| {
                c.request_queue(ID)
                    .add_request(
                        &json!({"url": "https://example.com/a", "uniqueKey": "a", "method": "GET"}),
                        Some(true),
                    )
                    .await?;
            }),
        ),
        (
            "request_queue.get_request",
            op!(|c| {
                c.request_queue(ID).get_request(REQ_ID).await?;
            }),
        ),
        (
            "request_queue.update_request",
            op!(|c| {
                c.request_queue(ID).with_client_key("client-abc").update_request(
                &json!({"id": REQ_ID, "url": "https://example.com/a", "uniqueKey": "a", "method": "GET"}), Some(false)).await?;
            }),
        ),
        (
            "request_queue.delete_request",
            op!(|c| {
                c.request_queue(ID)
                    .with_client_key("client-abc")
                    .delete_request(REQ_ID)
                    .await?;
            }),
        ),
        (
            "request_queue.prolong_request_lock",
            op!(|c| {
                c.request_queue(ID)
                    .with_client_key("client-abc")
                    .prolong_request_lock(REQ_ID, 60, Some(true))
                    .await?;
            }),
        ),
        (
            "request_queue.delete_request_lock",
            op!(|c| {
                c.request_queue(ID)
                    .with_client_key("client-abc")
                    .delete_request_lock(REQ_ID, Some(false))
                    .await?;
            }),
        ),
        (
            "request_queue.batch_add_requests",
            op!(|c| {
                c.request_queue(ID)
                    .batch_add_requests(
                        &[json!({"url": "https://example.com/1", "uniqueKey": "1"})],
                        &BatchAddOptions::new().forefront(true).max_parallel(1).max_unprocessed_requests_retries(1).min_delay_between_unprocessed_requests_retries(Duration::from_millis(
                                10,
                            )),
                    )
                    .await?;
            }),
        ),
        (
            "request_queue.batch_delete_requests",
            op!(|c| {
                c.request_queue(ID)
                    .batch_delete_requests(&[json!({"id": REQ_ID})])
                    .await?;
            }),
        ),
        (
            "request_queue.list_requests",
            op!(|c| {
                c.request_queue(ID)
                    .list_requests(&ListRequestsOptions::new().limit(100).exclusive_start_id(REQ_ID))
                    .await?;
            }),
        ),
        (
            "request_queue.list_requests (cursor, filter)",
            op!(|c| {
                c.request_queue(ID)
                    .list_requests(&ListRequestsOptions::new().limit(100).cursor("eyJyZXF1ZXN0SWQiOiJ4cHNta0RsIn0").filter(["pending", "locked"]))
                    .await?;
            }),
        ),
        (
            "request_queue.iterate_requests",
            op!(|c| {
                let _: Vec<_> = c
                    .request_queue(ID)
                    .iterate_requests(&ListRequestsOptions::new().limit(5).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "request_queue.unlock_requests",
            op!(|c| {
                c.request_queue(ID)
                    .with_client_key("client-abc")
                    .unlock_requests()
                    .await?;
            }),
        ),
        // ---- users
        (
            "user.get (me)",
            op!(|c| {
                c.me().get().await?;
            }),
        ),
        (
            "user.get (id)",
            op!(|c| {
                c.user(Some(ID)).get().await?;
            }),
        ),
        (
            "user.monthly_usage",
            op!(|c| {
                c.me().monthly_usage().await?;
            }),
        ),
        (
            "user.limits",
            op!(|c| {
                c.me().limits().await?;
            }),
        ),
        (
            "user.update_limits",
            op!(|c| {
                c.me()
                    .update_limits(&LimitsUpdate {
                        max_monthly_usage_usd: Some(300.0),
                        data_retention_days: Some(90),
                    })
                    .await?;
            }),
        ),
        // ---- logs
        (
            "log.get",
            op!(|c| {
                c.log(RUN_ID).get(false).await?;
            }),
        ),
        (
            "log.get_as_bytes",
            op!(|c| {
                c.log(RUN_ID).get_as_bytes(true).await?;
            }),
        ),
        (
            "log.stream",
            op!(|c| {
                if let Some(b) = c.log(RUN_ID).stream(false).await? {
                    b.into_stream().collect_bytes().await?;
                }
            }),
        ),
        // ---- schedules
        (
            "schedules.list",
            op!(|c| {
                c.schedules().list(&page()).await?;
            }),
        ),
        (
            "schedules.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .schedules()
                    .iterate(&PageOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "schedules.create",
            op!(|c| {
                c.schedules()
                    .create(&ScheduleFields {
                        name: Some("daily-crawl".into()),
                        title: Some("Daily crawl".into()),
                        cron_expression: Some("0 6 * * *".into()),
                        timezone: Some("Europe/Prague".into()),
                        is_enabled: Some(true),
                        is_exclusive: Some(true),
                        description: Some("Every morning".into()),
                        actions: Some(vec![json!({"type": "RUN_ACTOR", "actorId": ID})]),
                        ..Default::default()
                    })
                    .await?;
            }),
        ),
        (
            "schedule.get",
            op!(|c| {
                c.schedule(ID).get().await?;
            }),
        ),
        (
            "schedule.update",
            op!(|c| {
                c.schedule(ID)
                    .update(&ScheduleFields {
                        is_enabled: Some(false),
                        cron_expression: Some("@hourly".into()),
                        ..Default::default()
                    })
                    .await?;
            }),
        ),
        (
            "schedule.delete",
            op!(|c| {
                c.schedule(ID).delete().await?;
            }),
        ),
        (
            "schedule.get_log",
            op!(|c| {
                c.schedule(ID).get_log().await?;
            }),
        ),
        // ---- webhooks
        (
            "webhooks.list",
            op!(|c| {
                c.webhooks().list(&page()).await?;
            }),
        ),
        (
            "webhooks.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .webhooks()
                    .iterate(&PageOptions::new().limit(3))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "webhooks.create",
            op!(|c| {
                c.webhooks().create(&webhook_fields()).await?;
            }),
        ),
        (
            "webhook.get",
            op!(|c| {
                c.webhook(ID).get().await?;
            }),
        ),
        (
            "webhook.update",
            op!(|c| {
                c.webhook(ID)
                    .update(&WebhookFields {
                        request_url: Some("https://example.com/v2-hook".into()),
                        do_not_retry: Some(true),
                        ..Default::default()
                    })
                    .await?;
            }),
        ),
        (
            "webhook.delete",
            op!(|c| {
                c.webhook(ID).delete().await?;
            }),
        ),
        (
            "webhook.test",
            op!(|c| {
                c.webhook(ID).test().await?;
            }),
        ),
        (
            "webhook.dispatches.list",
            op!(|c| {
                c.webhook(ID)
                    .dispatches()
                    .list(&PageOptions::new())
                    .await?;
            }),
        ),
        (
            "webhook_dispatches.list",
            op!(|c| {
                c.webhook_dispatches().list(&page()).await?;
            }),
        ),
        (
            "webhook_dispatches.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .webhook_dispatches()
                    .iterate(&PageOptions::new().limit(3))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "webhook_dispatch.get",
            op!(|c| {
                c.webhook_dispatch(ID).get().await?;
            }),
        ),
        // ---- store
        (
            "store.list",
            op!(|c| {
                c.store()
                    .list(&StoreListOptions::new().limit(10).offset(0).search("web scraper").sort_by("popularity").category("AI").username("apify").pricing_model("FREE"))
                    .await?;
            }),
        ),
        (
            "store.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .store()
                    .iterate(&StoreListOptions::new().limit(3).search("crawler"))
                    .try_collect()
                    .await?;
            }),
        ),
    ]
    .into_iter()
    .chain(actor_rows())
    .chain(version_rows())
    .chain(build_rows())
    .chain(run_rows())
    .chain(task_rows())
    .chain(spec_gap_rows())
    .chain(storage_alias_rows!("run", |c| c.run(RUN_ID)))
    .chain(storage_alias_rows!("actor.last_run", |c| c
        .actor(ID)
        .last_run(Some(ActorJobStatus::Succeeded), Some("API"))))
    .chain(storage_alias_rows!("task.last_run", |c| c
        .task(ID)
        .last_run(Some(ActorJobStatus::Failed), Some("WEB"))))
    .chain(last_run_rows!("actor.last_run", |c| c
        .actor(ID)
        .last_run(Some(ActorJobStatus::Succeeded), None)))
    .chain(last_run_rows!("task.last_run", |c| c
        .task(ID)
        .last_run(None, Some("SCHEDULER"))))
    .collect()
}

#[test]
fn every_library_operation_is_valid_per_the_spec() {
    let started = Instant::now();
    let Some(prism) = Prism::start() else {
        return;
    };
    let spec: Value = serde_json::from_slice(&std::fs::read(prism::SPEC).expect("read the spec"))
        .expect("the spec is JSON");
    let ops = spec_operations(&spec);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let table = table();
    let rows = rt.block_on(run_table(&prism.base_url(), TOKEN, &table));
    let cov = judge(&ops, &rows, SPEC_GAPS);

    let live: Vec<_> = ops.iter().filter(|o| !o.deprecated).collect();
    let covered_live = live
        .iter()
        .filter(|o| {
            cov.hit
                .contains_key(&(o.method.clone(), o.template.clone()))
        })
        .count();
    println!("\nspec operations exercised by the library:");
    for ((method, template), labels) in &cov.hit {
        let id = ops
            .iter()
            .find(|o| &o.method == method && &o.template == template)
            .map_or("?", |o| o.id.as_str());
        println!(
            "  {method:<6} {template:<62} {id:<40} <- {}",
            labels.iter().copied().collect::<Vec<_>>().join(", ")
        );
    }
    println!("\nnot exercised (non-deprecated):");
    for o in live.iter().filter(|o| {
        !cov.hit
            .contains_key(&(o.method.clone(), o.template.clone()))
    }) {
        println!("  {:<6} {:<62} {}", o.method, o.template, o.id);
    }
    if !cov.spec_gaps.is_empty() {
        println!(
            "\nrequests the spec rejects though the API and the Python client make them (listed):\n  {}",
            cov.spec_gaps.join("\n  ")
        );
    }
    if !cov.warnings.is_empty() {
        println!(
            "\nPrism's warnings (violations below the error severity):\n  {}",
            cov.warnings.join("\n  ")
        );
    }
    if !cov.decode_errors.is_empty() {
        println!(
            "\nclient-side decode errors on Prism's example responses (tolerated):\n  {}",
            cov.decode_errors.join("\n  ")
        );
    }
    println!(
        "\ncoverage: {} of {} operations ({} of {} non-deprecated), {} library calls, {} requests, in {:.1?}",
        cov.hit.len(),
        ops.len(),
        covered_live,
        live.len(),
        rows.len(),
        rows.iter().map(|r| r.exchanges.len()).sum::<usize>(),
        started.elapsed()
    );
    if !cov.problems.is_empty() {
        println!("\nprism log tail:\n{}", prism.log_tail(30));
    }
    assert!(
        cov.problems.is_empty(),
        "{} problem(s) against the spec:\n{}",
        cov.problems.len(),
        cov.problems.join("\n")
    );
}

/// Start options with every field set, including an ad-hoc webhook.
fn start_options() -> StartOptions {
    let mut webhook = AdHocWebhook::new(
        ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
        "https://example.com/run-finished",
    );
    webhook.payload_template = Some(r#"{"runId": {{resource.id}}}"#.into());
    webhook.headers_template = Some(r#"{"X-Source": "apify"}"#.into());
    webhook.should_interpolate_strings = Some(true);
    webhook.idempotency_key = Some("run-finished-1".into());
    webhook.ignore_ssl_errors = Some(false);
    webhook.do_not_retry = Some(true);
    StartOptions::new()
        .build("latest")
        .max_items(100)
        .max_total_charge_usd(5.0)
        .restart_on_error(false)
        .memory_mbytes(1024)
        .run_timeout(Duration::from_secs(300))
        .force_permission_level("LIMITED_PERMISSIONS")
        .wait_for_finish(0)
        .webhook(webhook)
}

fn runs_list() -> ListRunsOptions {
    ListRunsOptions::new()
        .status([ActorJobStatus::Succeeded, ActorJobStatus::Failed])
        .started_after("2025-01-01T00:00:00Z".parse().unwrap())
        .started_before("2026-01-01T00:00:00Z".parse().unwrap())
        .limit(10)
        .offset(0)
        .desc(true)
}

fn input() -> RunInput {
    json!({"startUrls": [{"url": "https://example.com"}], "maxPages": 5}).into()
}

/// Where the spec and the API (with the Python client) part: these rows make the request as
/// the Python client does, and Prism must reject it.
const SPEC_GAPS: &[SpecGap] = &[
    (
        "actor.start (no input)",
        "the spec marks the body of `POST …/runs` required; the API starts with the Actor's default \
         input without one, and the Python client sends none for `run_input=None`",
    ),
    (
        "task.start (no input)",
        "the spec marks the body of `POST …/runs` required; the Python client sends none for \
         `task_input=None` and the task's saved input is used",
    ),
    (
        "run.metamorph (input)",
        "the spec declares no body for metamorph; the API reads the new input from it and the \
         Python client sends `run_input` there",
    ),
    (
        "run.key_value_store().record_exists",
        "the spec has `HEAD` of a record only under `/v2/key-value-stores/{storeId}`, not under a \
         run; the Python client's `record_exists` of a run's store sends it there",
    ),
];

/// The rows of [`SPEC_GAPS`].
fn spec_gap_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "actor.start (no input)",
            op!(|c| {
                c.actor(ID).start(None, &StartOptions::new()).await?;
            }),
        ),
        (
            "task.start (no input)",
            op!(|c| {
                c.task(ID).start(None, &StartOptions::new()).await?;
            }),
        ),
        (
            "run.metamorph (input)",
            op!(|c| {
                c.run(RUN_ID)
                    .metamorph("apify/web-scraper", None, Some(&input()))
                    .await?;
            }),
        ),
        (
            "run.key_value_store().record_exists",
            op!(|c| {
                c.run(RUN_ID)
                    .key_value_store()
                    .record_exists("OUTPUT")
                    .await?;
            }),
        ),
    ]
}

/// The Actor collection and one Actor.
fn actor_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "actors.list",
            op!(|c| {
                c.actors()
                    .list(
                        &ActorListOptions::new()
                            .my(true)
                            .limit(10)
                            .offset(0)
                            .desc(true)
                            .sort_by("stats.lastRunStartedAt"),
                    )
                    .await?;
            }),
        ),
        (
            "actors.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .actors()
                    .iterate(&ActorListOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "actors.create",
            op!(|c| {
                c.actors()
                    .create(&json!({
                        "name": "my-actor",
                        "title": "My Actor",
                        "description": "Scrapes things",
                        "isPublic": false,
                        "versions": [{
                            "versionNumber": "0.0",
                            "sourceType": "SOURCE_FILES",
                            "buildTag": "latest",
                            "sourceFiles": [{"format": "TEXT", "name": "main.js", "content": "console.log(1)"}]
                        }],
                        "defaultRunOptions": {"build": "latest", "timeoutSecs": 3600, "memoryMbytes": 2048}
                    }))
                    .await?;
            }),
        ),
        (
            "actor.get",
            op!(|c| {
                c.actor(ID).get().await?;
            }),
        ),
        (
            "actor.get (username/name)",
            op!(|c| {
                c.actor("apify/hello-world").get().await?;
            }),
        ),
        (
            "actor.update",
            op!(|c| {
                c.actor(ID)
                    .update(&json!({"title": "Renamed", "isPublic": false}))
                    .await?;
            }),
        ),
        (
            "actor.delete",
            op!(|c| {
                c.actor(ID).delete().await?;
            }),
        ),
        (
            "actor.start",
            op!(|c| {
                c.actor(ID).start(Some(&input()), &start_options()).await?;
            }),
        ),
        (
            "actor.start (raw input, no options)",
            op!(|c| {
                c.actor(ID)
                    .start(
                        Some(&RunInput::raw("text/plain", "hello")),
                        &StartOptions::new(),
                    )
                    .await?;
            }),
        ),
        // A waiting call: Prism answers the example run at once, whatever its status, so the
        // row bounds the wait; the log redirect reads the run, the Actor and the log stream.
        (
            "actor.call",
            op!(|c| {
                c.actor(ID)
                    .call(
                        Some(&input()),
                        &CallOptions::new()
                            .start(StartOptions::new().memory_mbytes(512))
                            .wait(Duration::from_secs(1)),
                    )
                    .await?;
            }),
        ),
        // Every start sends an input: the spec marks the body of `POST …/runs` required (see
        // `SPEC_GAPS`).
        (
            "actor.call (log off)",
            op!(|c| {
                c.actor(ID)
                    .call(
                        Some(&json!({})),
                        &CallOptions::new()
                            .wait(Duration::from_secs(1))
                            .log(LogRedirect::Off),
                    )
                    .await?;
            }),
        ),
        (
            "actor.build",
            op!(|c| {
                c.actor(ID)
                    .build(
                        "0.1",
                        &BuildOptions::new()
                            .beta_packages(false)
                            .tag("beta")
                            .use_cache(true)
                            .wait_for_finish(0),
                    )
                    .await?;
            }),
        ),
        (
            "actor.builds.list",
            op!(|c| {
                c.actor(ID).builds().list(&page()).await?;
            }),
        ),
        (
            "actor.builds.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .actor(ID)
                    .builds()
                    .iterate(&PageOptions::new().limit(3))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "actor.runs.list",
            op!(|c| {
                c.actor(ID).runs().list(&runs_list()).await?;
            }),
        ),
        (
            "actor.runs.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .actor(ID)
                    .runs()
                    .iterate(&ListRunsOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "actor.default_build",
            op!(|c| {
                c.actor(ID).default_build(Some(0)).await?;
            }),
        ),
        (
            "actor.default_build().get",
            op!(|c| {
                c.actor(ID).default_build(None).await?.get().await?;
            }),
        ),
        (
            "actor.validate_input",
            op!(|c| {
                c.actor(ID).validate_input(&input(), Some("latest")).await?;
            }),
        ),
        (
            "actor.webhooks.list",
            op!(|c| {
                c.actor(ID).webhooks().list(&page()).await?;
            }),
        ),
    ]
}

/// Actor versions and their environment variables.
fn version_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "actor.versions.list",
            op!(|c| {
                c.actor(ID).versions().list().await?;
            }),
        ),
        (
            "actor.versions.iterate",
            op!(|c| {
                use futures_util::TryStreamExt;
                let _: Vec<_> = c.actor(ID).versions().iterate().try_collect().await?;
            }),
        ),
        (
            "actor.version.env_vars.iterate",
            op!(|c| {
                use futures_util::TryStreamExt;
                let _: Vec<_> = c
                    .actor(ID)
                    .version("0.1")
                    .env_vars()
                    .iterate()
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "actor.versions.create",
            op!(|c| {
                c.actor(ID)
                    .versions()
                    .create(&json!({
                        "versionNumber": "0.1",
                        "sourceType": "GIT_REPO",
                        "gitRepoUrl": "https://github.com/apify/actor-example",
                        "buildTag": "latest",
                        "envVars": [{"name": "MY_VAR", "value": "x", "isSecret": false}]
                    }))
                    .await?;
            }),
        ),
        (
            "actor.version.get",
            op!(|c| {
                c.actor(ID).version("0.1").get().await?;
            }),
        ),
        (
            "actor.version.update",
            op!(|c| {
                c.actor(ID)
                    .version("0.1")
                    .update(&json!({"buildTag": "beta", "sourceType": "SOURCE_FILES"}))
                    .await?;
            }),
        ),
        (
            "actor.version.delete",
            op!(|c| {
                c.actor(ID).version("0.1").delete().await?;
            }),
        ),
        (
            "actor.version.env_vars.list",
            op!(|c| {
                c.actor(ID).version("0.1").env_vars().list().await?;
            }),
        ),
        (
            "actor.version.env_vars.create",
            op!(|c| {
                c.actor(ID)
                    .version("0.1")
                    .env_vars()
                    .create(&EnvVar::new("MY_ENV_VAR", "my-value", false))
                    .await?;
            }),
        ),
        (
            "actor.version.env_var.get",
            op!(|c| {
                c.actor(ID)
                    .version("0.1")
                    .env_var("MY_ENV_VAR")
                    .get()
                    .await?;
            }),
        ),
        (
            "actor.version.env_var.update",
            op!(|c| {
                c.actor(ID)
                    .version("0.1")
                    .env_var("MY_ENV_VAR")
                    .update(&EnvVar::new("MY_ENV_VAR", "new-value", true))
                    .await?;
            }),
        ),
        (
            "actor.version.env_var.delete",
            op!(|c| {
                c.actor(ID)
                    .version("0.1")
                    .env_var("MY_ENV_VAR")
                    .delete()
                    .await?;
            }),
        ),
    ]
}

/// Builds: the user's list and one build.
fn build_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "builds.list",
            op!(|c| {
                c.builds().list(&page()).await?;
            }),
        ),
        (
            "builds.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .builds()
                    .iterate(&PageOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "build.get",
            op!(|c| {
                c.build(ID).get().await?;
            }),
        ),
        (
            "build.delete",
            op!(|c| {
                c.build(ID).delete().await?;
            }),
        ),
        (
            "build.abort",
            op!(|c| {
                c.build(ID).abort().await?;
            }),
        ),
        (
            "build.wait_for_finish",
            op!(|c| {
                c.build(ID)
                    .wait_for_finish(Some(Duration::from_secs(1)))
                    .await?;
            }),
        ),
        (
            "build.log.get",
            op!(|c| {
                c.build(ID).log().get(true).await?;
            }),
        ),
        (
            "build.log.stream",
            op!(|c| {
                if let Some(b) = c.build(ID).log().stream(false).await? {
                    b.into_stream().collect_bytes().await?;
                }
            }),
        ),
        (
            "build.get_open_api_definition",
            op!(|c| {
                c.build(ID).get_open_api_definition().await?;
            }),
        ),
    ]
}

/// Runs: the user's list and one run (its storages are in `storage_alias_rows!`).
fn run_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "runs.list",
            op!(|c| {
                c.runs().list(&runs_list()).await?;
            }),
        ),
        (
            "runs.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .runs()
                    .iterate(
                        &ListRunsOptions::new()
                            .status([ActorJobStatus::Running])
                            .limit(3)
                            .chunk_size(2),
                    )
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "run.get",
            op!(|c| {
                c.run(RUN_ID).get().await?;
            }),
        ),
        (
            "run.update",
            op!(|c| {
                c.run(RUN_ID)
                    .update(&RunUpdate {
                        status_message: Some("Crawled 10 of 100 pages".into()),
                        is_status_message_terminal: Some(false),
                        general_access: Some("RESTRICTED".into()),
                    })
                    .await?;
            }),
        ),
        (
            "run.delete",
            op!(|c| {
                c.run(RUN_ID).delete().await?;
            }),
        ),
        (
            "run.abort",
            op!(|c| {
                c.run(RUN_ID).abort(Some(true)).await?;
            }),
        ),
        (
            "run.wait_for_finish",
            op!(|c| {
                c.run(RUN_ID)
                    .wait_for_finish(Some(Duration::from_secs(1)))
                    .await?;
            }),
        ),
        // Without input: the spec declares no request body for metamorph (see `SPEC_GAPS`).
        (
            "run.metamorph",
            op!(|c| {
                c.run(RUN_ID)
                    .metamorph("apify/web-scraper", Some("latest"), None)
                    .await?;
            }),
        ),
        (
            "run.resurrect",
            op!(|c| {
                c.run(RUN_ID)
                    .resurrect(
                        &ResurrectOptions::new()
                            .build("latest")
                            .memory_mbytes(2048)
                            .run_timeout(Duration::from_secs(600))
                            .max_items(1000)
                            .max_total_charge_usd(10.0)
                            .restart_on_error(true),
                    )
                    .await?;
            }),
        ),
        (
            "run.reboot",
            op!(|c| {
                c.run(RUN_ID).reboot().await?;
            }),
        ),
        (
            "run.charge",
            op!(|c| {
                let charge = ChargeOptions::new().count(2);
                c.run(RUN_ID).charge("page-scraped", &charge).await?;
            }),
        ),
        (
            "run.log.stream",
            op!(|c| {
                if let Some(b) = c.run(RUN_ID).log().stream(true).await? {
                    b.into_stream().collect_bytes().await?;
                }
            }),
        ),
        // A streamed log follows the log until stopped; Prism answers the example text and
        // ends the stream, so the row checks the requests (run, Actor, log) and stops.
        (
            "run.get_streamed_log",
            op!(|c| {
                let mut log = c.run(RUN_ID).get_streamed_log(true).await?;
                log.start();
                log.stop().await;
            }),
        ),
        (
            "run.get_status_message_watcher",
            op!(|c| {
                let mut watcher = c
                    .run(RUN_ID)
                    .get_status_message_watcher(Duration::from_millis(100))
                    .await?;
                watcher.start();
                tokio::time::sleep(Duration::from_millis(250)).await;
                watcher.stop().await;
            }),
        ),
    ]
}

/// Tasks: the user's list and one task.
fn task_rows() -> Vec<(&'static str, Op)> {
    vec![
        (
            "tasks.list",
            op!(|c| {
                c.tasks().list(&page()).await?;
            }),
        ),
        (
            "tasks.iterate",
            op!(|c| {
                let _: Vec<_> = c
                    .tasks()
                    .iterate(&PageOptions::new().limit(3).chunk_size(2))
                    .try_collect()
                    .await?;
            }),
        ),
        (
            "tasks.create",
            op!(|c| {
                c.tasks()
                    .create(&json!({
                        "actId": ID,
                        "name": "my-task",
                        "title": "My task",
                        "options": {"build": "latest", "timeoutSecs": 300, "memoryMbytes": 1024},
                        "input": {"hello": "world"}
                    }))
                    .await?;
            }),
        ),
        (
            "task.get",
            op!(|c| {
                c.task(ID).get().await?;
            }),
        ),
        (
            "task.update",
            op!(|c| {
                c.task(ID)
                    .update(&json!({"title": "Renamed task", "input": {"hello": "there"}}))
                    .await?;
            }),
        ),
        (
            "task.publish",
            op!(|c| {
                c.task(ID).publish().await?;
            }),
        ),
        (
            "task.unpublish",
            op!(|c| {
                c.task(ID).unpublish().await?;
            }),
        ),
        (
            "task.delete",
            op!(|c| {
                c.task(ID).delete().await?;
            }),
        ),
        (
            "task.start",
            op!(|c| {
                c.task(ID)
                    .start(Some(&json!({"hello": "override"})), &start_options())
                    .await?;
            }),
        ),
        (
            "task.call",
            op!(|c| {
                c.task(ID)
                    .call(
                        Some(&json!({})),
                        &StartOptions::new().build("beta"),
                        Some(Duration::from_secs(1)),
                    )
                    .await?;
            }),
        ),
        (
            "task.get_input",
            op!(|c| {
                c.task(ID).get_input().await?;
            }),
        ),
        (
            "task.update_input",
            op!(|c| {
                c.task(ID)
                    .update_input(&json!({"hello": "new input"}))
                    .await?;
            }),
        ),
        (
            "task.webhooks.list",
            op!(|c| {
                c.task(ID).webhooks().list(&page()).await?;
            }),
        ),
        (
            "task.runs.list",
            op!(|c| {
                c.task(ID).runs().list(&runs_list()).await?;
            }),
        ),
    ]
}
