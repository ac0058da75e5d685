//! Contract test: every request the storage clients and the `apify-host` CLI send is valid per
//! the official Apify OpenAPI spec, as Prism (`prism mock --errors`) validates it.
//!
//! One Prism serves the whole test binary (it takes ~10 s to load the spec), so everything
//! runs in one test function: the library operations through a recording transport, then each
//! CLI command through a recording reverse proxy. Prism answers with the spec's examples and
//! keeps no state, so a client-side decode error is tolerated (and listed); a request Prism
//! rejects never is.
//!
//! Run: `cargo test -p apify-host --release --test prism_contract -- --nocapture` (needs
//! `npm install --prefix tools/prism`; skipped without it unless `CI` is set).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/prism.rs"]
mod prism;

use std::{
    collections::BTreeSet,
    path::Path,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

use apify_host::{
    ApifyClient, BatchAddOptions, DownloadItemsOptions, Error, HttpSettings, ListItemsOptions,
    ListKeysOptions, ListOptions, ListRequestsOptions, StorageUpdate,
};
use prism::{Exchange, Log, Prism, Recorder, RecordingProxy, Verdict};

/// Ids shaped like real ones (the spec's own examples).
const ID: &str = "WkzbQMuFYuamGv3YF";
const REQ_ID: &str = "xpsmkDlspokDSmklS";
const RUN_ID: &str = "HG7ML7M8z78YcAPE";
const TOKEN: &str = "prism-contract-token";

/// Path templates of the spec.
const DATASETS: &str = "/v2/datasets";
const DATASET: &str = "/v2/datasets/{datasetId}";
const DATASET_ITEMS: &str = "/v2/datasets/{datasetId}/items";
const DATASET_STATS: &str = "/v2/datasets/{datasetId}/statistics";
const STORES: &str = "/v2/key-value-stores";
const STORE: &str = "/v2/key-value-stores/{storeId}";
const STORE_KEYS: &str = "/v2/key-value-stores/{storeId}/keys";
const RECORD: &str = "/v2/key-value-stores/{storeId}/records/{recordKey}";
const QUEUES: &str = "/v2/request-queues";
const QUEUE: &str = "/v2/request-queues/{queueId}";
const QUEUE_HEAD: &str = "/v2/request-queues/{queueId}/head";
const QUEUE_HEAD_LOCK: &str = "/v2/request-queues/{queueId}/head/lock";
const QUEUE_REQUESTS: &str = "/v2/request-queues/{queueId}/requests";
const QUEUE_REQUEST: &str = "/v2/request-queues/{queueId}/requests/{requestId}";
const QUEUE_REQUEST_LOCK: &str = "/v2/request-queues/{queueId}/requests/{requestId}/lock";
const QUEUE_BATCH: &str = "/v2/request-queues/{queueId}/requests/batch";
const QUEUE_UNLOCK: &str = "/v2/request-queues/{queueId}/requests/unlock";
const USERS_ME: &str = "/v2/users/me";
const LOG: &str = "/v2/logs/{buildOrRunId}";

type Endpoint = (&'static str, &'static str);

/// What the client side made of an operation.
enum Outcome {
    /// Succeeded; a short summary of what it got.
    Ok(String),
    /// The response (a spec example) did not decode into the client's model.
    Decode(String),
    /// An error status (tolerated only when Prism could not mock a response).
    Api(String),
    /// A CLI command exited non-zero (judged by what Prism said about its requests).
    Exit(String),
    /// Anything else: the test's own failure (transport, invalid input...).
    Failed(String),
}

/// One operation, its expected endpoints, what went over the wire, and how it ended.
struct Row {
    area: &'static str,
    name: String,
    expected: Vec<Endpoint>,
    exchanges: Vec<Exchange>,
    outcome: Outcome,
}

struct Report {
    spec: Value,
    rows: Vec<Row>,
}

impl Report {
    fn push(
        &mut self,
        area: &'static str,
        name: &str,
        expected: &[Endpoint],
        exchanges: Vec<Exchange>,
        outcome: Outcome,
    ) {
        self.rows.push(Row {
            area,
            name: name.to_string(),
            expected: expected.to_vec(),
            exchanges,
            outcome,
        });
    }

    /// Runs one library operation and records it.
    async fn lib<F>(&mut self, log: &Log, name: &str, expected: &[Endpoint], fut: F)
    where
        F: std::future::Future<Output = Result<String, Error>>,
    {
        prism::take(log);
        let result = fut.await;
        let outcome = match result {
            Ok(s) => Outcome::Ok(s),
            Err(e) if e.is_decode() => Outcome::Decode(e.to_string()),
            Err(e) if e.is_api() => Outcome::Api(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        self.push("lib", name, expected, prism::take(log), outcome);
    }

    /// The spec's operationId of `METHOD template`, if the spec has that operation.
    fn operation_id(&self, (method, template): Endpoint) -> Option<String> {
        let op = &self.spec["paths"][template][method.to_ascii_lowercase()];
        op.is_object()
            .then(|| op["operationId"].as_str().unwrap_or("?").to_string())
    }

    /// Every problem found: rejected requests, requests to unexpected endpoints, endpoints
    /// the spec does not have, operations that sent nothing or failed for other reasons.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.rows {
            let who = format!("[{}] {}", r.area, r.name);
            for e in &r.exchanges {
                match &e.verdict {
                    Verdict::Rejected(v) => out.push(format!(
                        "{who}: Prism REJECTED {} {} (status {}): {v}",
                        e.method, e.target, e.status
                    )),
                    Verdict::NoResponse(m) => out.push(format!(
                        "{who}: no response to {} {}: {m}",
                        e.method, e.target
                    )),
                    _ => {}
                }
                if !r.expected.iter().any(|x| matches(*x, e)) {
                    out.push(format!(
                        "{who}: unexpected request {} {} (expected one of {:?})",
                        e.method, e.target, r.expected
                    ));
                }
            }
            for x in &r.expected {
                if self.operation_id(*x).is_none() {
                    out.push(format!(
                        "{who}: {} {} is not an operation of the spec",
                        x.0, x.1
                    ));
                }
                if !r.exchanges.iter().any(|e| matches(*x, e)) {
                    out.push(format!("{who}: no request to {} {}", x.0, x.1));
                }
            }
            let mocked = r
                .exchanges
                .iter()
                .any(|e| matches!(e.verdict, Verdict::MockLimitation(_)));
            match &r.outcome {
                Outcome::Failed(m) => out.push(format!("{who}: failed: {m}")),
                Outcome::Api(m) if !mocked => {
                    out.push(format!("{who}: error status although Prism accepted: {m}"))
                }
                _ => {}
            }
        }
        out
    }

    fn print(&self) {
        println!();
        println!(
            "{:<4} {:<50} {:<38} {:<7} {:<56} {:<10} CLIENT",
            "AREA", "OPERATION", "SPEC OPERATION", "METHOD", "PATH", "PRISM"
        );
        for r in &self.rows {
            let prism = if r.exchanges.iter().any(|e| e.verdict.is_failure()) {
                "REJECTED".to_string()
            } else if r.exchanges.is_empty() {
                "-".to_string()
            } else {
                format!("accepted×{}", r.exchanges.len())
            };
            let client = match &r.outcome {
                Outcome::Ok(s) => format!("ok ({s})"),
                Outcome::Decode(m) => format!("DECODE ERROR: {}", short(m, 110)),
                Outcome::Api(m) => format!("error status: {}", short(m, 110)),
                Outcome::Exit(m) => format!("CLI ERROR: {}", short(m, 110)),
                Outcome::Failed(m) => format!("FAILED: {}", short(m, 110)),
            };
            let endpoints: Vec<Endpoint> = if r.expected.is_empty() {
                vec![("-", "(no API request)")]
            } else {
                r.expected.clone()
            };
            for (i, ep) in endpoints.iter().enumerate() {
                let op_id = self.operation_id(*ep).unwrap_or_else(|| "-".into());
                let (name, prism, client) = if i == 0 {
                    (r.name.as_str(), prism.as_str(), client.as_str())
                } else {
                    ("", "", "")
                };
                println!(
                    "{:<4} {:<50} {:<38} {:<7} {:<56} {:<10} {}",
                    if i == 0 { r.area } else { "" },
                    name,
                    op_id,
                    ep.0,
                    ep.1,
                    prism,
                    client
                );
            }
            for e in &r.exchanges {
                match &e.verdict {
                    Verdict::MockLimitation(m) => println!(
                        "       note: Prism could not mock {} {}: {}",
                        e.method,
                        e.target,
                        short(m, 120)
                    ),
                    Verdict::Rejected(m) | Verdict::NoResponse(m) => {
                        println!("       {} {} -> {}: {m}", e.method, e.target, e.status)
                    }
                    Verdict::Accepted => {}
                }
                for w in &e.warnings {
                    println!("       warning on {} {}: {w}", e.method, e.target);
                }
            }
        }
        let ops: BTreeSet<String> = self
            .rows
            .iter()
            .flat_map(|r| r.expected.iter().filter_map(|x| self.operation_id(*x)))
            .collect();
        let decode: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Decode(_) | Outcome::Exit(_)))
            .map(|r| r.name.as_str())
            .collect();
        println!(
            "\n{} operations checked, {} requests, {} distinct spec operations: {}",
            self.rows.len(),
            self.rows.iter().map(|r| r.exchanges.len()).sum::<usize>(),
            ops.len(),
            ops.into_iter().collect::<Vec<_>>().join(", ")
        );
        if decode.is_empty() {
            println!("client-side errors on Prism's example responses: none");
        } else {
            println!(
                "client-side errors on Prism's example responses (decode / CLI exit, tolerated): {}",
                decode.join(", ")
            );
        }
    }
}

/// Whether the exchange is a request to `METHOD template`.
fn matches((method, template): Endpoint, e: &Exchange) -> bool {
    if e.method != method {
        return false;
    }
    let got: Vec<&str> = e.path().split('/').collect();
    let want: Vec<&str> = template.split('/').collect();
    got.len() == want.len()
        && got.iter().zip(&want).all(|(g, w)| {
            if w.starts_with('{') {
                !g.is_empty()
            } else {
                g == w
            }
        })
}

fn short(s: &str, n: usize) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n).collect::<String>())
    } else {
        one
    }
}

#[test]
fn every_request_matches_the_openapi_spec() {
    let started = Instant::now();
    let Some(prism) = Prism::start() else {
        return;
    };
    println!(
        "prism listening on {} after {:.1?}",
        prism.base_url(),
        started.elapsed()
    );
    let spec: Value = serde_json::from_slice(&std::fs::read(prism::SPEC).expect("read the spec"))
        .expect("the spec is JSON");
    let mut report = Report {
        spec,
        rows: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    rt.block_on(library_operations(&mut report, &prism.base_url()));

    let proxy = rt.block_on(RecordingProxy::start(prism.port));
    cli_commands(&mut report, &proxy);
    drop(proxy);

    report.print();
    println!("\nruntime: {:.1?}", started.elapsed());
    let problems = report.problems();
    if !problems.is_empty() {
        println!("\nprism log tail:\n{}", prism.log_tail(30));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) against the spec:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every operation of the storage clients, users and logs, through the recording transport.
async fn library_operations(report: &mut Report, base_url: &str) {
    let log: Log = Arc::default();
    let client = ApifyClient::builder()
        .api_url(base_url)
        .token(TOKEN)
        .settings(HttpSettings::default().// Prism does not decode gzip request bodies; and a rejection must surface at once.
            compress_requests(false).max_retries(0).min_delay_between_retries(Duration::from_millis(10)))
        .transport(Arc::new(Recorder::new(log.clone())))
        .build()
        .expect("client");
    let c = &client;
    let r = report;
    let list_opts = ListOptions {
        unnamed: Some(true),
        limit: Some(10),
        offset: Some(0),
        desc: Some(true),
        ownership: Some("ownedByMe".into()),
        ..Default::default()
    };
    let update = StorageUpdate {
        name: Some("renamed-storage".into()),
        general_access: Some("RESTRICTED".into()),
    };
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());

    // ---- datasets
    r.lib(&log, "datasets.list", &[("GET", DATASETS)], async {
        let p = c.datasets().list(&list_opts).await?;
        Ok(format!("{} datasets", p.items.len()))
    })
    .await;
    r.lib(&log, "datasets.iterate", &[("GET", DATASETS)], async {
        let all: Vec<_> = c
            .datasets()
            .iterate(ListOptions {
                limit: Some(3),
                ..ListOptions::default()
            })
            .try_collect()
            .await?;
        Ok(format!("{} datasets", all.len()))
    })
    .await;
    r.lib(
        &log,
        "datasets.get_or_create",
        &[("POST", DATASETS)],
        async {
            let d = c.datasets().get_or_create(Some("my-results"), None).await?;
            Ok(d.id)
        },
    )
    .await;
    // Not checked: `get_or_create(name, Some(schema))` sends `{"schema": ...}` as the Python
    // client does, but the spec gives POST /v2/datasets no request body (Prism: 415).
    let ds = c.dataset(ID);
    r.lib(&log, "dataset.get", &[("GET", DATASET)], async {
        Ok(format!("{:?}", ds.get().await?.map(|d| d.id)))
    })
    .await;
    r.lib(
        &log,
        "dataset.get (username~name)",
        &[("GET", DATASET)],
        async {
            Ok(format!(
                "{:?}",
                c.dataset("john-doe/my-results").get().await?.map(|d| d.id)
            ))
        },
    )
    .await;
    r.lib(&log, "dataset.update", &[("PUT", DATASET)], async {
        Ok(ds.update(&update).await?.id)
    })
    .await;
    r.lib(&log, "dataset.delete", &[("DELETE", DATASET)], async {
        ds.delete().await?;
        Ok("deleted".into())
    })
    .await;
    let all_item_opts = ListItemsOptions {
        offset: Some(0),
        limit: Some(100),
        clean: Some(false),
        desc: Some(true),
        fields: strings(&["url", "title"]),
        omit: strings(&["html"]),
        unwind: strings(&["offers"]),
        skip_empty: Some(true),
        skip_hidden: Some(true),
        flatten: strings(&["meta"]),
        view: Some("overview".into()),
        ..Default::default()
    };
    r.lib(
        &log,
        "dataset.list_items (every param)",
        &[("GET", DATASET_ITEMS)],
        async {
            let p = ds.list_items::<Value>(&all_item_opts).await?;
            Ok(format!("{} items, total {}", p.items.len(), p.total))
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.iterate_items",
        &[("GET", DATASET_ITEMS)],
        async {
            let items: Vec<Value> = ds
                .iterate_items(ListItemsOptions {
                    offset: Some(10),
                    limit: Some(5),
                    clean: Some(true),
                    ..ListItemsOptions::default()
                })
                .try_collect()
                .await?;
            Ok(format!("{} items", items.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.stream_items (csv, every param)",
        &[("GET", DATASET_ITEMS)],
        async {
            let body = ds
                .stream_items(&DownloadItemsOptions {
                    format: "csv".into(),
                    items: all_item_opts.clone(),
                    bom: Some(false),
                    delimiter: Some(";".into()),
                    skip_header_row: Some(true),
                    xml_root: None,
                    xml_row: None,
                })
                .await?;
            let bytes = body.into_stream().collect_bytes().await?;
            Ok(format!("{} bytes", bytes.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.get_items_as_bytes (xml)",
        &[("GET", DATASET_ITEMS)],
        async {
            let bytes = ds
                .get_items_as_bytes(&DownloadItemsOptions {
                    format: "xml".into(),
                    xml_root: Some("items".into()),
                    xml_row: Some("item".into()),
                    ..DownloadItemsOptions::default()
                })
                .await?;
            Ok(format!("{} bytes", bytes.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.push_items (array)",
        &[("POST", DATASET_ITEMS)],
        async {
            ds.push_items(
                &json!([{"url": "https://example.com", "n": 1}, {"url": "https://example.org"}]),
            )
            .await?;
            Ok("pushed".into())
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.push_items (object)",
        &[("POST", DATASET_ITEMS)],
        async {
            ds.push_items(&json!({"url": "https://example.com"}))
                .await?;
            Ok("pushed".into())
        },
    )
    .await;
    r.lib(
        &log,
        "dataset.get_statistics",
        &[("GET", DATASET_STATS)],
        async {
            let s = ds.get_statistics().await?;
            Ok(format!(
                "fieldStatistics: {}",
                s.is_some_and(|s| s.field_statistics.is_some())
            ))
        },
    )
    .await;

    // ---- key-value stores
    r.lib(&log, "key_value_stores.list", &[("GET", STORES)], async {
        let p = c.key_value_stores().list(&list_opts).await?;
        Ok(format!("{} stores", p.items.len()))
    })
    .await;
    r.lib(
        &log,
        "key_value_stores.iterate",
        &[("GET", STORES)],
        async {
            let all: Vec<_> = c
                .key_value_stores()
                .iterate(ListOptions {
                    limit: Some(3),
                    ..ListOptions::default()
                })
                .try_collect()
                .await?;
            Ok(format!("{} stores", all.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_stores.get_or_create",
        &[("POST", STORES)],
        async {
            Ok(c.key_value_stores()
                .get_or_create(Some("my-store"), None)
                .await?
                .id)
        },
    )
    .await;
    let kvs = c.key_value_store(ID);
    r.lib(&log, "key_value_store.get", &[("GET", STORE)], async {
        Ok(format!("{:?}", kvs.get().await?.map(|s| s.id)))
    })
    .await;
    r.lib(&log, "key_value_store.update", &[("PUT", STORE)], async {
        Ok(kvs.update(&update).await?.id)
    })
    .await;
    r.lib(
        &log,
        "key_value_store.delete",
        &[("DELETE", STORE)],
        async {
            kvs.delete().await?;
            Ok("deleted".into())
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.list_keys (every param)",
        &[("GET", STORE_KEYS)],
        async {
            let k = kvs
                .list_keys(&ListKeysOptions {
                    limit: Some(100),
                    exclusive_start_key: Some("Ihnsp8YrvJ8102Kj".into()),
                    collection: Some("postImages".into()),
                    prefix: Some("post-images-".into()),
                    signature: Some("2wTI46Bg8qWQrV7tavlPI".into()),
                    ..Default::default()
                })
                .await?;
            Ok(format!("{} keys", k.items.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.iterate_keys",
        &[("GET", STORE_KEYS)],
        async {
            let keys: Vec<_> = kvs
                .iterate_keys(ListKeysOptions {
                    limit: Some(5),
                    prefix: Some("post-".into()),
                    ..ListKeysOptions::default()
                })
                .try_collect()
                .await?;
            Ok(format!("{} keys", keys.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.get_record",
        &[("GET", RECORD)],
        async {
            let rec = kvs.get_record("INPUT").await?;
            Ok(format!("{:?}", rec.map(|r| r.content_type)))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.get_record_as_bytes",
        &[("GET", RECORD)],
        async {
            let rec = kvs.get_record_as_bytes("screenshot.png").await?;
            Ok(format!("{:?} bytes", rec.map(|r| r.value.len())))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.record_exists",
        &[("HEAD", RECORD)],
        async { Ok(format!("exists: {}", kvs.record_exists("INPUT").await?)) },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.stream_record",
        &[("GET", RECORD)],
        async {
            let Some(rec) = kvs.stream_record("OUTPUT").await? else {
                return Ok("none".into());
            };
            let bytes = rec.value.into_stream().collect_bytes().await?;
            Ok(format!("{} bytes", bytes.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.set_record (json)",
        &[("PUT", RECORD)],
        async {
            kvs.set_record("INPUT", json!({"maxItems": 10, "startUrls": []}), None)
                .await?;
            Ok("stored".into())
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.set_record (text)",
        &[("PUT", RECORD)],
        async {
            kvs.set_record("notes.txt", "hello", None).await?;
            Ok("stored".into())
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.set_record (bytes)",
        &[("PUT", RECORD)],
        async {
            kvs.set_record("blob", vec![0u8, 1, 2, 255], None).await?;
            Ok("stored".into())
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.set_record_bytes (image/png)",
        &[("PUT", RECORD)],
        async {
            kvs.set_record_bytes("screenshot.png", &b"\x89PNG\r\n\x1a\n"[..], "image/png")
                .await?;
            Ok("stored".into())
        },
    )
    .await;
    r.lib(
        &log,
        "key_value_store.delete_record",
        &[("DELETE", RECORD)],
        async {
            kvs.delete_record("INPUT").await?;
            Ok("deleted".into())
        },
    )
    .await;

    // ---- request queues
    r.lib(&log, "request_queues.list", &[("GET", QUEUES)], async {
        let p = c.request_queues().list(&list_opts).await?;
        Ok(format!("{} queues", p.items.len()))
    })
    .await;
    r.lib(&log, "request_queues.iterate", &[("GET", QUEUES)], async {
        let all: Vec<_> = c
            .request_queues()
            .iterate(ListOptions {
                limit: Some(3),
                ..ListOptions::default()
            })
            .try_collect()
            .await?;
        Ok(format!("{} queues", all.len()))
    })
    .await;
    r.lib(
        &log,
        "request_queues.get_or_create",
        &[("POST", QUEUES)],
        async { Ok(c.request_queues().get_or_create(Some("my-queue")).await?.id) },
    )
    .await;
    let rq = c.request_queue(ID);
    let locked = c.request_queue(ID).with_client_key("client-abc");
    r.lib(&log, "request_queue.get", &[("GET", QUEUE)], async {
        Ok(format!("{:?}", rq.get().await?.map(|q| q.id)))
    })
    .await;
    r.lib(&log, "request_queue.update", &[("PUT", QUEUE)], async {
        Ok(rq.update(&update).await?.id)
    })
    .await;
    r.lib(&log, "request_queue.delete", &[("DELETE", QUEUE)], async {
        rq.delete().await?;
        Ok("deleted".into())
    })
    .await;
    r.lib(
        &log,
        "request_queue.list_head",
        &[("GET", QUEUE_HEAD)],
        async {
            Ok(format!(
                "{} requests",
                rq.list_head(Some(10)).await?.items.len()
            ))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.list_and_lock_head",
        &[("POST", QUEUE_HEAD_LOCK)],
        async {
            let h = locked.list_and_lock_head(60, Some(5)).await?;
            Ok(format!("{} locked", h.items.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.add_request",
        &[("POST", QUEUE_REQUESTS)],
        async {
            let info = rq
                .add_request(
                    &json!({"url": "https://example.com/a", "uniqueKey": "a", "method": "GET",
                            "userData": {"label": "START"}}),
                    Some(true),
                )
                .await?;
            Ok(info.request_id)
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.add_request (url only)",
        &[("POST", QUEUE_REQUESTS)],
        async {
            let info = rq
                .add_request(&json!({"url": "https://example.com/b"}), None)
                .await?;
            Ok(info.request_id)
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.get_request",
        &[("GET", QUEUE_REQUEST)],
        async {
            Ok(format!(
                "{:?}",
                rq.get_request(REQ_ID).await?.map(|q| q.url)
            ))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.update_request",
        &[("PUT", QUEUE_REQUEST)],
        async {
            let info = locked
                .update_request(
                    &json!({"id": REQ_ID, "url": "https://example.com/a", "uniqueKey": "a",
                            "method": "GET", "handledAt": "2024-01-15T10:30:45.123Z"}),
                    Some(false),
                )
                .await?;
            Ok(info.request_id)
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.delete_request",
        &[("DELETE", QUEUE_REQUEST)],
        async {
            locked.delete_request(REQ_ID).await?;
            Ok("deleted".into())
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.prolong_request_lock",
        &[("PUT", QUEUE_REQUEST_LOCK)],
        async {
            let l = locked.prolong_request_lock(REQ_ID, 60, Some(true)).await?;
            Ok(format!("{:?}", l.lock_expires_at))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.delete_request_lock",
        &[("DELETE", QUEUE_REQUEST_LOCK)],
        async {
            locked.delete_request_lock(REQ_ID, Some(false)).await?;
            Ok("unlocked".into())
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.batch_add_requests",
        &[("POST", QUEUE_BATCH)],
        async {
            let reqs = vec![
                json!({"url": "https://example.com/1", "uniqueKey": "1"}),
                json!({"url": "https://example.com/2", "method": "POST", "payload": "x=1"}),
            ];
            let res = rq
                .batch_add_requests(
                    &reqs,
                    &BatchAddOptions {
                        forefront: true,
                        max_parallel: 1,
                        // Prism's example lists unprocessed requests: one quick resend only.
                        max_unprocessed_requests_retries: 1,
                        min_delay_between_unprocessed_requests_retries: Duration::from_millis(10),
                    },
                )
                .await?;
            Ok(format!(
                "{} processed, {} unprocessed",
                res.processed_requests.len(),
                res.unprocessed_requests.len()
            ))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.batch_delete_requests",
        &[("DELETE", QUEUE_BATCH)],
        async {
            let res = rq
                .batch_delete_requests(&[json!({"id": REQ_ID}), json!({"uniqueKey": "a"})])
                .await?;
            Ok(format!("{} processed", res.processed_requests.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.list_requests (cursor, filter)",
        &[("GET", QUEUE_REQUESTS)],
        async {
            let p = locked
                .list_requests(&ListRequestsOptions {
                    limit: Some(100),
                    exclusive_start_id: None,
                    cursor: Some("eyJyZXF1ZXN0SWQiOiI2OFRqQ2RaTDNvM2hiUU0ifQ".into()),
                    filter: strings(&["locked", "pending"]),
                    ..Default::default()
                })
                .await?;
            Ok(format!("{} requests", p.items.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.list_requests (exclusiveStartId)",
        &[("GET", QUEUE_REQUESTS)],
        async {
            let p = rq
                .list_requests(&ListRequestsOptions {
                    limit: Some(10),
                    exclusive_start_id: Some(REQ_ID.into()),
                    ..ListRequestsOptions::default()
                })
                .await?;
            Ok(format!("{} requests", p.items.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.iterate_requests",
        &[("GET", QUEUE_REQUESTS)],
        async {
            let all: Vec<_> = rq
                .iterate_requests(ListRequestsOptions {
                    limit: Some(5),
                    ..ListRequestsOptions::default()
                })
                .try_collect()
                .await?;
            Ok(format!("{} requests", all.len()))
        },
    )
    .await;
    r.lib(
        &log,
        "request_queue.unlock_requests",
        &[("POST", QUEUE_UNLOCK)],
        async {
            Ok(format!(
                "{} unlocked",
                locked.unlock_requests().await?.unlocked_count
            ))
        },
    )
    .await;

    // ---- users, logs
    r.lib(&log, "user(me).get", &[("GET", USERS_ME)], async {
        Ok(format!(
            "{:?}",
            c.user(None).get().await?.and_then(|u| u.username)
        ))
    })
    .await;
    r.lib(&log, "log.get", &[("GET", LOG)], async {
        Ok(format!(
            "{:?} chars",
            c.log(RUN_ID).get(false).await?.map(|s| s.len())
        ))
    })
    .await;
    r.lib(&log, "log.get (raw)", &[("GET", LOG)], async {
        Ok(format!(
            "{:?} bytes",
            c.log(RUN_ID).get_as_bytes(true).await?.map(|b| b.len())
        ))
    })
    .await;
    r.lib(&log, "log.stream", &[("GET", LOG)], async {
        let Some(body) = c.log(RUN_ID).stream(false).await? else {
            return Ok("none".into());
        };
        let chunks: Vec<_> = body.into_stream().collect().await;
        let n: usize = chunks
            .into_iter()
            .map(|c| c.map(|b| b.len()))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .sum();
        Ok(format!("{n} bytes"))
    })
    .await;
}

/// Each CLI command once, as the real binary, through the recording proxy.
fn cli_commands(report: &mut Report, proxy: &RecordingProxy) {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[http]\ncompress_requests = false\nmax_retries = 0\nmin_delay_between_retries_ms = 10\n",
    )
    .unwrap();
    let out_file = home.path().join("items.xml");
    let out_file = out_file.to_str().unwrap();
    let api_url = proxy.base_url();
    let config = config.to_str().unwrap();
    let home_path = home.path();

    let mut cli = |name: &str, args: &[&str], expected: &[Endpoint]| {
        prism::take(&proxy.log);
        let outcome = run_cli(home_path, &api_url, config, args);
        // The proxy records an exchange before it answers, so all are in by now.
        report.push("cli", name, expected, prism::take(&proxy.log), outcome);
    };

    cli("users me", &["users", "me"], &[("GET", USERS_ME)]);
    cli(
        "datasets ls",
        &[
            "datasets",
            "ls",
            "--limit",
            "5",
            "--offset",
            "0",
            "--desc",
            "--unnamed",
        ],
        &[("GET", DATASETS)],
    );
    cli(
        "datasets info",
        &["datasets", "info", ID],
        &[("GET", DATASET)],
    );
    cli(
        "datasets create",
        &["datasets", "create", "my-results"],
        &[("POST", DATASETS)],
    );
    cli(
        "datasets rm",
        &["datasets", "rm", ID],
        &[("GET", DATASET), ("DELETE", DATASET)],
    );
    cli(
        "datasets get-items (csv, every option)",
        &[
            "datasets",
            "get-items",
            ID,
            "--format",
            "csv",
            "--offset",
            "0",
            "--limit",
            "10",
            "--fields",
            "url,title",
            "--omit",
            "html",
            "--unwind",
            "offers",
            "--flatten",
            "meta",
            "--clean",
            "--desc",
            "--skip-empty",
            "--skip-hidden",
            "--view",
            "overview",
            "--bom=false",
            "--delimiter",
            ";",
            "--skip-header-row",
        ],
        &[("GET", DATASET_ITEMS)],
    );
    cli(
        "datasets get-items (xml, --out)",
        &[
            "datasets",
            "get-items",
            ID,
            "--format",
            "xml",
            "--xml-root",
            "items",
            "--xml-row",
            "item",
            "--out",
            out_file,
        ],
        &[("GET", DATASET_ITEMS)],
    );
    cli(
        "datasets push-items",
        &[
            "datasets",
            "push-items",
            ID,
            r#"[{"url": "https://example.com"}, {"n": 2}]"#,
        ],
        &[("POST", DATASET_ITEMS)],
    );

    cli(
        "key-value-stores ls",
        &["kvs", "ls", "--limit", "5"],
        &[("GET", STORES)],
    );
    cli(
        "key-value-stores info",
        &["kvs", "info", ID],
        &[("GET", STORE)],
    );
    cli(
        "key-value-stores create",
        &["kvs", "create", "my-store"],
        &[("POST", STORES)],
    );
    cli(
        "key-value-stores rm",
        &["kvs", "rm", ID],
        &[("GET", STORE), ("DELETE", STORE)],
    );
    cli(
        "key-value-stores keys",
        &[
            "kvs",
            "keys",
            ID,
            "--prefix",
            "post-",
            "--collection",
            "postImages",
            "--exclusive-start-key",
            "Ihnsp8YrvJ8102Kj",
            "--limit",
            "5",
        ],
        &[("GET", STORE_KEYS)],
    );
    cli(
        "key-value-stores get-value",
        &["kvs", "get-value", ID, "INPUT"],
        &[("GET", RECORD)],
    );
    cli(
        "key-value-stores set-value (json)",
        &["kvs", "set-value", ID, "INPUT", r#"{"maxItems": 10}"#],
        &[("PUT", RECORD)],
    );
    cli(
        "key-value-stores set-value (text/plain)",
        &[
            "kvs",
            "set-value",
            ID,
            "notes",
            "hello",
            "--content-type",
            "text/plain",
        ],
        &[("PUT", RECORD)],
    );
    cli(
        "key-value-stores delete-value",
        &["kvs", "delete-value", ID, "INPUT"],
        &[("DELETE", RECORD)],
    );

    cli(
        "request-queues ls",
        &["rq", "ls", "--limit", "5"],
        &[("GET", QUEUES)],
    );
    cli(
        "request-queues info",
        &["rq", "info", ID],
        &[("GET", QUEUE)],
    );
    cli(
        "request-queues create",
        &["rq", "create", "my-queue"],
        &[("POST", QUEUES)],
    );
    cli(
        "request-queues rm",
        &["rq", "rm", ID],
        &[("GET", QUEUE), ("DELETE", QUEUE)],
    );
    cli(
        "request-queues add (one, url only)",
        &["rq", "add", ID, r#"{"url": "https://example.com"}"#],
        &[("POST", QUEUE_REQUESTS)],
    );
    cli(
        "request-queues add (array, --forefront)",
        &[
            "rq",
            "add",
            ID,
            "--forefront",
            r#"[{"url": "https://example.com/1"}, {"url": "https://example.com/2", "uniqueKey": "two"}]"#,
        ],
        &[("POST", QUEUE_BATCH)],
    );
    cli(
        "request-queues get",
        &["rq", "get", ID, REQ_ID],
        &[("GET", QUEUE_REQUEST)],
    );
    cli(
        "request-queues head",
        &["rq", "head", ID, "--limit", "10"],
        &[("GET", QUEUE_HEAD)],
    );

    cli(
        "api GET users/me",
        &["api", "GET", "/v2/users/me"],
        &[("GET", USERS_ME)],
    );
    cli(
        "api GET datasets --param",
        &[
            "api",
            "GET",
            "datasets?offset=0",
            "--param",
            "limit=5",
            "--param",
            "desc=true",
        ],
        &[("GET", DATASETS)],
    );
    let items_path = format!("/v2/datasets/{ID}/items");
    cli(
        "api POST (json body)",
        &["api", "POST", &items_path, "--body", r#"[{"a": 1}]"#],
        &[("POST", DATASET_ITEMS)],
    );
    let record_path = format!("key-value-stores/{ID}/records/notes");
    cli(
        "api PUT (text body)",
        &[
            "api",
            "PUT",
            &record_path,
            "--body",
            "hello",
            "--content-type",
            "text/plain",
        ],
        &[("PUT", RECORD)],
    );
    cli("transport info", &["transport", "info"], &[]);
}

/// Runs the binary with a clean environment against `api_url`.
fn run_cli(home: &Path, api_url: &str, config: &str, args: &[&str]) -> Outcome {
    let mut c = cli::bare_cmd(home);
    c.args([
        "--api-url",
        api_url,
        "--token",
        TOKEN,
        "--config",
        config,
        "-o",
        "json",
    ])
    .args(args)
    .stdin(Stdio::null());
    let out = match c.output() {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(format!("cannot run the binary: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Outcome::Ok(format!("exit 0, {} bytes out", stdout.len()))
    } else {
        // A failed command is judged by what Prism said about its requests; the exit status
        // and message only explain it.
        Outcome::Exit(format!("exit {:?}: {}", out.status.code(), stderr.trim()))
    }
}
