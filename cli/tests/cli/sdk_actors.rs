//! Real Actors written with the official SDKs (`examples/sdk-actors`: Python `apify` +
//! `crawlee[parsel]`, Node.js `apify` + `crawlee`), run offline by the local API as apify-cli
//! project folders, each called through `apify-host call` and through the library
//! (`ApifyClient::actor(name).call`):
//!
//! - the crawlers crawl a static site served here on 127.0.0.1 ([`PAGES`] pages linked to each
//!   other) and must end SUCCEEDED with exactly one dataset item per page;
//! - the storage Actors use every storage API of their SDK, check what they read back (and
//!   fail on a mismatch); the test checks the same storages, the status message and the
//!   pay-per-event charges counted on the run (`chargedEventCounts`).
//!
//! Every run's log must be free of warnings, errors and tracebacks.
//!
//! The SDKs come from `scripts/sdk-env.sh` (a pinned, cached venv and node_modules), named by
//! `APIFY_SDK_PYTHON` (the venv's python) and `APIFY_SDK_NODE_MODULES`. Without them a test
//! is skipped with a message, or fails when `APIFY_SDK_REQUIRED=1` (as `scripts/test.sh` sets).
//! A run is stopped (TIMED-OUT) after [`RUN_TIMEOUT`], and a call that outlives
//! [`CALL_DEADLINE`] fails the test, so a hung crawl never hangs CI.
//!
//! Nothing reaches beyond 127.0.0.1: the site and the API are local, the crawlers follow
//! same-host links only, the Actors create no proxy configuration, crawlee's public suffix
//! list is never needed for an IP host, and `npm start` runs with `update-notifier=false`
//! (the projects' `.npmrc`).

use std::{
    collections::{BTreeSet, HashMap},
    convert::Infallible,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apify_host::{
    options::{CallOptions, ListItemsOptions, StartOptions},
    ApifyClient,
};
use apify_local_api::LocalApiConfig;
use serde_json::{json, Value};

use crate::support::Env;

const TOKEN: &str = "sdk-actors-token-7f3a";
/// Pages of the static site.
const PAGES: usize = 60;
/// The run timeout every call asks for: the local API stops a run (TIMED-OUT) after it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest a call may take before the test gives up on it (the run timeout and a margin).
const CALL_DEADLINE: Duration = Duration::from_secs(180);
/// The binary record the storage Actors write: bytes 0..=255, 16 times.
fn blob() -> Vec<u8> {
    (0..4096).map(|i| (i % 256) as u8).collect()
}

// ---------------------------------------------------------------------------------------
// The SDKs

/// Which SDK an Actor project needs, linked into its copy.
#[derive(Clone, Copy, Debug)]
enum Sdk {
    Python,
    Node,
}

impl Sdk {
    /// The variable naming this SDK's install.
    fn var(self) -> &'static str {
        match self {
            Sdk::Python => "APIFY_SDK_PYTHON",
            Sdk::Node => "APIFY_SDK_NODE_MODULES",
        }
    }

    /// The install to link: the venv folder (two levels above its python) or the
    /// node_modules folder. `None` (with a printed reason) when the variable is unset and
    /// `APIFY_SDK_REQUIRED` is not `1`; a panic when it is, or when the path is wrong.
    fn install(self) -> Option<PathBuf> {
        let required = std::env::var("APIFY_SDK_REQUIRED").is_ok_and(|v| v == "1");
        let Some(value) = std::env::var_os(self.var()).filter(|v| !v.is_empty()) else {
            let reason = format!(
                "{} is not set: run `eval \"$(scripts/sdk-env.sh)\"` to install the pinned \
                 SDKs (scripts/test.sh does)",
                self.var()
            );
            assert!(!required, "APIFY_SDK_REQUIRED=1 but {reason}");
            // Straight to stderr, past the test harness's capture, so the skip shows.
            let _ = writeln!(std::io::stderr(), "skipped: {reason}");
            return None;
        };
        let path = PathBuf::from(value);
        let install = match self {
            Sdk::Python => {
                assert!(
                    path.is_file(),
                    "{}={} is not a file",
                    self.var(),
                    path.display()
                );
                path.parent()
                    .and_then(Path::parent)
                    .expect("APIFY_SDK_PYTHON is VENV/bin/python")
                    .to_owned()
            }
            Sdk::Node => {
                assert!(
                    path.join("apify/package.json").is_file(),
                    "{}={} has no apify package",
                    self.var(),
                    path.display()
                );
                path
            }
        };
        Some(install)
    }
}

// ---------------------------------------------------------------------------------------
// The static site

/// A site of [`PAGES`] pages on 127.0.0.1: `/` and `/pages/1` … `/pages/{PAGES-1}`, each
/// titled `Page N` and linking to three others and home (one link with a fragment, which
/// names the same page). Counts the requests per path.
struct Site {
    url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    _rt: tokio::runtime::Runtime,
}

fn page_path(i: usize) -> String {
    if i == 0 {
        "/".to_owned()
    } else {
        format!("/pages/{i}")
    }
}

fn page_html(i: usize) -> String {
    let links: String = [(i + 1) % PAGES, (i * 7 + 3) % PAGES, 0]
        .iter()
        .map(|&j| format!("<li><a href=\"{}\">Page {j}</a></li>", page_path(j)))
        .collect();
    format!(
        "<!DOCTYPE html><html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>\
         <ul>{links}<li><a href=\"{}#top\">Two on</a></li></ul></body></html>",
        page_path((i + 2) % PAGES)
    )
}

impl Site {
    fn start() -> Site {
        use http_body_util::Full;
        use hyper::{body::Bytes, service::service_fn, Request, Response};

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = hits.clone();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let hits = counted.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let path = req.uri().path().to_owned();
                        *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                        let page = if path == "/" {
                            Some(0)
                        } else {
                            path.strip_prefix("/pages/")
                                .and_then(|n| n.parse::<usize>().ok())
                                .filter(|n| (1..PAGES).contains(n))
                        };
                        let response = match page {
                            Some(i) => Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(Full::new(Bytes::from(page_html(i)))),
                            None => Response::builder()
                                .status(404)
                                .header("content-type", "text/plain")
                                .body(Full::new(Bytes::from_static(b"not found"))),
                        };
                        async move { Ok::<_, Infallible>(response.unwrap()) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Site { url, hits, _rt: rt }
    }

    /// The URLs of every page, as a crawler finds them.
    fn page_urls(&self) -> BTreeSet<String> {
        (0..PAGES)
            .map(|i| format!("{}{}", self.url, page_path(i)))
            .collect()
    }

    /// Requests served since the last call, by path.
    fn take_hits(&self) -> HashMap<String, usize> {
        std::mem::take(&mut *self.hits.lock().unwrap())
    }
}

// ---------------------------------------------------------------------------------------
// Actors, the local API, and the two ways to call

/// A local API running one Actor project of `examples/sdk-actors`, copied into a temporary
/// folder with the SDK install linked in, as a user's project would have it: `node_modules`
/// for Node.js (ESM ignores NODE_PATH), `.venv` for Python (the local API then runs
/// `.venv/bin/python -m src`, as `apify run` does).
struct Harness {
    env: Env,
    client: ApifyClient,
    rt: tokio::runtime::Runtime,
    actor: String,
    _projects: tempfile::TempDir,
}

impl Harness {
    /// `None` when the SDK is not installed and not required (the test is skipped).
    fn start(project: &str, sdk: Sdk) -> Option<Harness> {
        let install = sdk.install()?;
        let projects = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/sdk-actors")
            .join(project);
        let copy = projects.path().join(project);
        copy_dir(&source, &copy);
        let link = match sdk {
            Sdk::Python => copy.join(".venv"),
            Sdk::Node => copy.join("node_modules"),
        };
        std::os::unix::fs::symlink(&install, &link).unwrap();

        let mut config = LocalApiConfig::with_token(TOKEN);
        config
            .load_actors_dir(projects.path())
            .expect("the SDK Actor projects load");
        assert_eq!(config.actors.len(), 1, "{:?}", config.actors);
        let actor = config.actors[0].name.clone();
        let env = Env::with_config(config, TOKEN);
        let client = ApifyClient::builder()
            .token(TOKEN)
            .api_url(env.api.base_url())
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Some(Harness {
            env,
            client,
            rt,
            actor,
            _projects: projects,
        })
    }

    /// `apify-host call ACTOR --input JSON --timeout 120 -o json`: the finished run, as the
    /// API has it. Panics (with the CLI's stderr) when the CLI fails or outlives the deadline.
    fn call_cli(&self, input: &Value) -> Value {
        let started = Instant::now();
        let mut cmd = self.env.cmd();
        cmd.args(["call", &self.actor, "--input", &input.to_string()])
            .args([
                "--timeout",
                &RUN_TIMEOUT.as_secs().to_string(),
                "-o",
                "json",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("apify-host runs");
        let out = read_to_end_in_thread(child.stdout.take().unwrap());
        let err = read_to_end_in_thread(child.stderr.take().unwrap());
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > CALL_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        assert!(
            !out.contains(TOKEN) && !err.contains(TOKEN),
            "the token leaked into the CLI's output"
        );
        let Some(status) = status else {
            panic!(
                "apify-host call {} did not end within {CALL_DEADLINE:?}\nstderr: {err}",
                self.actor
            );
        };
        eprintln!(
            "{}: apify-host call took {:.1?} ({status})",
            self.actor,
            started.elapsed()
        );
        // The run, whatever the exit status: its state and log say more than the exit code.
        let run = match serde_json::from_str::<Value>(&out) {
            Ok(run) if run["id"].is_string() => self.get_run(run["id"].as_str().unwrap()),
            _ => self.last_run().unwrap_or_else(|| {
                panic!("apify-host call failed with {status} and no run exists\nstderr: {err}")
            }),
        };
        self.assert_succeeded(&run);
        assert!(
            status.success(),
            "the run succeeded but apify-host call failed ({status})\nstderr: {err}"
        );
        run
    }

    /// `ApifyClient::actor(name).call(input, timeout 120 s)`: the finished run.
    fn call_library(&self, input: &Value) -> Value {
        let started = Instant::now();
        let opts = CallOptions::new()
            .start(StartOptions::new().run_timeout(RUN_TIMEOUT))
            .wait(CALL_DEADLINE - Duration::from_secs(10));
        let actor = self.client.actor(&self.actor);
        let result = self.rt.block_on(async {
            tokio::time::timeout(CALL_DEADLINE, actor.call(Some(input), &opts)).await
        });
        eprintln!(
            "{}: ApifyClient::actor().call took {:.1?}",
            self.actor,
            started.elapsed()
        );
        let run = match result {
            Err(_) => panic!(
                "actor({}).call did not end within {CALL_DEADLINE:?}",
                self.actor
            ),
            Ok(Err(e)) => panic!("actor({}).call failed: {e}", self.actor),
            Ok(Ok(run)) => run,
        };
        let run = self.get_run(&run.id);
        self.assert_succeeded(&run);
        run
    }

    fn get_run(&self, id: &str) -> Value {
        let run = self
            .rt
            .block_on(self.client.run(id).get())
            .unwrap()
            .expect("the run exists");
        serde_json::to_value(&run).unwrap()
    }

    fn last_run(&self) -> Option<Value> {
        let run = self
            .rt
            .block_on(self.client.actor(&self.actor).last_run(None, None).get())
            .ok()??;
        Some(serde_json::to_value(&run).unwrap())
    }

    fn log(&self, run: &Value) -> String {
        self.rt
            .block_on(self.client.log(run["id"].as_str().unwrap()).get(false))
            .unwrap()
            .unwrap_or_default()
    }

    /// The run SUCCEEDED with exit code 0, else a panic with its status and log.
    fn assert_succeeded(&self, run: &Value) {
        if run["status"] == "SUCCEEDED" && run["exitCode"] == 0 {
            return;
        }
        let log = self.log(run);
        panic!(
            "run {} of {} ended {} (exit code {}, status message {})\n--- its log:\n{}",
            run["id"],
            self.actor,
            run["status"],
            run["exitCode"],
            run["statusMessage"],
            tail(&log, 80)
        );
    }

    /// The run's log has no warning, error or traceback line.
    fn assert_clean_log(&self, run: &Value) {
        let log = self.log(run);
        assert!(!log.is_empty(), "run {} has no log", run["id"]);
        let bad: Vec<&str> = log.lines().filter(|l| is_warning_or_error(l)).collect();
        assert!(
            bad.is_empty(),
            "run {} of {}: {} warning/error lines in its log:\n{}\n--- the whole log:\n{}",
            run["id"],
            self.actor,
            bad.len(),
            bad.iter().take(20).copied().collect::<Vec<_>>().join("\n"),
            tail(&log, 80)
        );
    }

    fn items(&self, dataset: &str) -> Vec<Value> {
        let opts = ListItemsOptions::new();
        self.rt
            .block_on(self.client.dataset(dataset).list_items::<Value>(&opts))
            .unwrap_or_else(|e| panic!("items of dataset {dataset}: {e}"))
            .items
    }
}

/// Lines that a clean run must not log: none at all. (The Python SDK 4.x warns at every start
/// at home that it turned the browser sandbox off, unless `APIFY_DISABLE_BROWSER_SANDBOX` is
/// set; the local API sets it, as a container platform would, so that warning is one too.)
fn is_warning_or_error(line: &str) -> bool {
    line.contains("WARN")
        || line.contains("ERROR")
        || line.contains("Traceback")
        || line.to_lowercase().contains("warning")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn read_to_end_in_thread(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Copies a project folder, leaving out what a user's copy would not carry (installed
/// dependencies, local storage, caches).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["node_modules", ".venv", "storage", "__pycache__"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The crawls

fn crawl(project: &str, sdk: Sdk) {
    let Some(h) = Harness::start(project, sdk) else {
        return;
    };
    let site = Site::start();
    let input = json!({
        "startUrls": [{"url": format!("{}/", site.url)}],
        "maxRequestsPerCrawl": PAGES * 2,
    });
    let run = h.call_cli(&input);
    check_crawl(&h, &site, &run, "apify-host call");
    let run = h.call_library(&input);
    check_crawl(&h, &site, &run, "the library");
}

/// Exactly one item per page (URL without fragment, and its title), and a clean log.
fn check_crawl(h: &Harness, site: &Site, run: &Value, how: &str) {
    let items = h.items(run["defaultDatasetId"].as_str().unwrap());
    let mut seen = BTreeSet::new();
    for item in &items {
        let url = item["url"]
            .as_str()
            .unwrap_or_else(|| panic!("an item without url: {item}"));
        // The page's URL: without a fragment, and `/` for the bare origin (the same page).
        let mut url = url.split('#').next().unwrap().to_owned();
        if url == site.url {
            url.push('/');
        }
        let path = url.strip_prefix(&site.url).unwrap_or(&url);
        let expected_title = (0..PAGES)
            .find(|&i| page_path(i) == path)
            .map(|i| format!("Page {i}"));
        assert_eq!(
            item["title"].as_str(),
            expected_title.as_deref(),
            "{how}: item {item} is not a page of the site"
        );
        assert!(seen.insert(url), "{how}: two items for one page: {item}");
    }
    assert_eq!(
        seen,
        site.page_urls(),
        "{how}: the items must be the {PAGES} pages, one each ({} items)",
        items.len()
    );
    let hits = site.take_hits();
    assert!(
        hits.values().sum::<usize>() >= PAGES,
        "{how}: the site served fewer requests than pages: {hits:?}"
    );
    h.assert_clean_log(run);
}

#[test]
fn python_crawlee_parsel_crawler_crawls_every_page_once() {
    crawl("python-crawler", Sdk::Python);
}

#[test]
fn js_crawlee_cheerio_crawler_crawls_every_page_once() {
    crawl("js-crawler", Sdk::Node);
}

// ---------------------------------------------------------------------------------------
// The storages

fn storages(project: &str, sdk: Sdk) {
    let Some(h) = Harness::start(project, sdk) else {
        return;
    };
    for how in ["cli", "library"] {
        let nonce = format!("{project}-{how}-{}", std::process::id());
        let named = format!("sdk-{project}-{how}");
        let input = json!({"nonce": nonce, "count": 3, "namedDataset": named});
        let run = match how {
            "cli" => h.call_cli(&input),
            _ => h.call_library(&input),
        };
        check_storages(&h, &run, &nonce, &named, how);
    }
}

/// What the storage Actor wrote, read back through the API, and its charges and status.
fn check_storages(h: &Harness, run: &Value, nonce: &str, named: &str, how: &str) {
    assert_eq!(
        run["statusMessage"],
        format!("Checked every storage ({nonce})"),
        "{how}: the status message"
    );
    assert_eq!(
        run["chargedEventCounts"],
        json!({"item-processed": 3, "task-done": 1}),
        "{how}: the charges counted on the run {}",
        run["id"]
    );
    let items: Vec<Value> = (0..3)
        .map(|i| json!({"index": i, "nonce": nonce}))
        .collect();
    assert_eq!(
        h.items(run["defaultDatasetId"].as_str().unwrap()),
        items,
        "{how}: the default dataset"
    );
    assert_eq!(
        h.items(&format!("~{named}")),
        vec![json!({"named": named, "nonce": nonce})],
        "{how}: the named dataset {named}"
    );

    let store = h
        .client
        .key_value_store(run["defaultKeyValueStoreId"].as_str().unwrap());
    let record = |key: &str| {
        h.rt.block_on(store.get_record_as_bytes(key))
            .unwrap()
            .unwrap_or_else(|| panic!("{how}: no record {key}"))
    };
    let json_record: Value = serde_json::from_slice(&record("json-record").value).unwrap();
    assert_eq!(
        json_record,
        json!({"nonce": nonce, "list": [1, 2.5, null, "x"], "nested": {"ok": true}}),
        "{how}: json-record"
    );
    let binary = record("binary-record");
    assert!(
        binary.value.as_ref() == blob().as_slice(),
        "{how}: binary-record differs ({} bytes, {:?})",
        binary.value.len(),
        binary.content_type
    );
    let output: Value = serde_json::from_slice(&record("OUTPUT").value).unwrap();
    assert_eq!(
        output,
        json!({"nonce": nonce, "items": 3, "namedDataset": named}),
        "{how}: OUTPUT"
    );

    let queue =
        h.rt.block_on(
            h.client
                .request_queue(run["defaultRequestQueueId"].as_str().unwrap())
                .get(),
        )
        .unwrap()
        .expect("the run's request queue");
    assert_eq!(
        (
            queue.total_request_count,
            queue.handled_request_count,
            queue.pending_request_count
        ),
        (Some(3), Some(3), Some(0)),
        "{how}: the request queue (total, handled, pending)"
    );
    h.assert_clean_log(run);
}

#[test]
fn python_sdk_actor_uses_every_storage_and_charges() {
    storages("python-storage", Sdk::Python);
}

#[test]
fn js_sdk_actor_uses_every_storage_and_charges() {
    storages("js-storage", Sdk::Node);
}

#[test]
fn the_static_site_links_every_page() {
    // The crawls' premise: every page is reachable from `/` by the links alone.
    let mut seen = BTreeSet::from([0]);
    let mut todo = vec![0];
    while let Some(i) = todo.pop() {
        let html = page_html(i);
        for j in 0..PAGES {
            let href = format!("href=\"{}\"", page_path(j));
            let href_fragment = format!("href=\"{}#top\"", page_path(j));
            if (html.contains(&href) || html.contains(&href_fragment)) && seen.insert(j) {
                todo.push(j);
            }
        }
    }
    assert_eq!(seen.len(), PAGES);
}
