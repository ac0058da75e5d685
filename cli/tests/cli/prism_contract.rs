//! Contract test: every request the `apify-host` CLI sends is valid per the official Apify
//! OpenAPI spec, as Prism (`prism mock --errors`) validates it. (Every library method is checked
//! the same way by `host/tests/spec_coverage.rs`.)
//!
//! One Prism serves the whole test binary (it takes ~10 s to load the spec), so everything
//! runs in one test function: each CLI command through a recording reverse proxy. Prism answers with the spec's examples and
//! keeps no state, so a client-side decode error is tolerated (and listed); a request Prism
//! rejects never is.
//!
//! Run: `cargo test -p apify-host-cli --release --test cli prism_contract -- --nocapture` (needs
//! `npm install --prefix tools/prism`; skipped without it unless `CI` is set).

use std::{collections::BTreeSet, path::Path, process::Stdio, time::Instant};

use serde_json::Value;

use crate::support::{
    self,
    prism::{self, Exchange, Prism, RecordingProxy, Verdict},
};

/// Ids shaped like real ones (the spec's own examples).
const ID: &str = "WkzbQMuFYuamGv3YF";
const REQ_ID: &str = "xpsmkDlspokDSmklS";
const TOKEN: &str = "prism-contract-token";

/// Path templates of the spec.
const DATASETS: &str = "/v2/datasets";
const DATASET: &str = "/v2/datasets/{datasetId}";
const DATASET_ITEMS: &str = "/v2/datasets/{datasetId}/items";
const STORES: &str = "/v2/key-value-stores";
const STORE: &str = "/v2/key-value-stores/{storeId}";
const STORE_KEYS: &str = "/v2/key-value-stores/{storeId}/keys";
const RECORD: &str = "/v2/key-value-stores/{storeId}/records/{recordKey}";
const QUEUES: &str = "/v2/request-queues";
const QUEUE: &str = "/v2/request-queues/{queueId}";
const QUEUE_HEAD: &str = "/v2/request-queues/{queueId}/head";
const QUEUE_REQUESTS: &str = "/v2/request-queues/{queueId}/requests";
const QUEUE_REQUEST: &str = "/v2/request-queues/{queueId}/requests/{requestId}";
const QUEUE_BATCH: &str = "/v2/request-queues/{queueId}/requests/batch";
const USERS_ME: &str = "/v2/users/me";

type Endpoint = (&'static str, &'static str);

/// What the client side made of an operation.
enum Outcome {
    /// Succeeded; a short summary of what it got.
    Ok(String),
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
            if let Outcome::Failed(m) = &r.outcome {
                out.push(format!("{who}: failed: {m}"));
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
            .filter(|r| matches!(r.outcome, Outcome::Exit(_)))
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
    let mut c = support::bare_cmd(home);
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
