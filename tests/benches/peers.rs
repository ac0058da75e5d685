//! Peer benchmark: this client (built-in transport) against the official Rust crate
//! (`apify-client` 0.15, its default reqwest backend, rustls), side by side in one run, on the
//! workloads a program runs: small calls sequentially and 32 in flight, on a `current_thread`
//! and on a multi-thread runtime, and a whole dataset's items (`list_items`) and the same
//! dataset page by page (`iterate_items`, 1000 items a page for both).
//!
//! ```text
//! cargo bench -p apify-tests --bench peers              # 5 rounds, a 200 MB dataset
//! BENCH_QUICK=1 cargo bench -p apify-tests --bench peers
//! ```
//!
//! Each case runs in a fresh process (this binary again), so its peak RSS (VmHWM) is the
//! case's alone and nothing warm carries over; rounds are interleaved (the case order rotates
//! each round), the table shows medians and the ratios are medians of per-round ratios.
//!
//! - small calls: `GET /v2/users/me` (~1 KiB `{"data":{...}}`, decoded into each client's user
//!   type) from the minimal hyper server (`current_thread`); 50 warm-up calls, then
//!   `BENCH_SEQ_N` (5000) sequentially or `BENCH_PAR_N` (20000) from 32 tasks.
//! - `list_items`: the whole dataset in one call, items decoded as `serde_json::Value`, from the
//!   hyper server holding the dataset in memory (`ServerKind::Items`), on a multi-thread runtime
//!   (the official crate's `#[tokio::main]`). Seconds and peak RSS.
//! - `iterate_items`: the same items, pages of 1000 (`chunk_size` / `with_chunk_size`), each
//!   item dropped once seen. Seconds and peak RSS.
//!
//! The server: nginx (one worker, static files, the pagination headers added) when it is
//! installed, as the issue that asked for this bench measured with, for the small calls and
//! `list_items`; `iterate_items` needs `offset` and `limit`, so its pages always come from
//! the hyper server. `BENCH_SERVER=hyper` uses the hyper servers for everything.
//!
//! Variables: `BENCH_ROUNDS` (5), `BENCH_SEQ_N`, `BENCH_PAR_N`, `BENCH_ITEMS_MB` (200),
//! `BENCH_ONLY=a,b` (only the cases whose name contains one of these), `BENCH_QUICK=1` (one
//! round, 500 / 2000 calls, 20 MB). Nothing here is a timed assertion.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use apify_tests::{
    bench_server::{BenchServer, ServerKind},
    bench_util::{env_num, median, peak_rss_mib},
};

/// The variable that makes this binary run one case and print its figures.
const CASE_ENV: &str = "APIFY_PEER_CASE";

/// Which client a case measures.
#[derive(Clone, Copy, PartialEq)]
enum Client {
    Ours,
    Official,
}

/// What a case does.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Sequential,
    InFlight32,
    ListItems,
    IterateItems,
}

/// One case: a client, a workload, a runtime.
#[derive(Clone, Copy)]
struct Case {
    client: Client,
    workload: Workload,
    multi_thread: bool,
}

impl Case {
    fn all() -> Vec<Case> {
        let mut cases = Vec::new();
        for workload in [
            Workload::Sequential,
            Workload::InFlight32,
            Workload::ListItems,
            Workload::IterateItems,
        ] {
            let runtimes: &[bool] = match workload {
                Workload::Sequential | Workload::InFlight32 => &[false, true],
                Workload::ListItems | Workload::IterateItems => &[true],
            };
            for &multi_thread in runtimes {
                for client in [Client::Ours, Client::Official] {
                    cases.push(Case {
                        client,
                        workload,
                        multi_thread,
                    });
                }
            }
        }
        cases
    }

    fn name(self) -> String {
        format!(
            "{} {}",
            match self.client {
                Client::Ours => "ours",
                Client::Official => "official",
            },
            self.workload_name()
        )
    }

    fn workload_name(self) -> String {
        let runtime = if self.multi_thread {
            "multi-thread"
        } else {
            "current-thread"
        };
        match self.workload {
            Workload::Sequential => format!("sequential, {runtime}"),
            Workload::InFlight32 => format!("32 in flight, {runtime}"),
            Workload::ListItems => "list_items".into(),
            Workload::IterateItems => "iterate_items".into(),
        }
    }

    fn encode(self) -> String {
        format!(
            "{}:{}:{}",
            self.client as u8, self.workload as u8, self.multi_thread as u8
        )
    }

    fn decode(s: &str) -> Case {
        let v: Vec<u8> = s.split(':').map(|x| x.parse().expect("a case")).collect();
        Case {
            client: [Client::Ours, Client::Official][v[0] as usize],
            workload: [
                Workload::Sequential,
                Workload::InFlight32,
                Workload::ListItems,
                Workload::IterateItems,
            ][v[1] as usize],
            multi_thread: v[2] == 1,
        }
    }

    /// Higher is better for calls/s, lower for seconds.
    fn is_rate(self) -> bool {
        matches!(self.workload, Workload::Sequential | Workload::InFlight32)
    }
}

/// What one case measured: calls/s or seconds, and the process's peak RSS.
#[derive(Clone, Copy)]
struct Figures {
    value: f64,
    rss_mib: f64,
}

fn main() {
    if BenchServer::serve_if_child() {
        return;
    }
    if let Ok(case) = std::env::var(CASE_ENV) {
        run_case(Case::decode(&case));
        return;
    }
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || !std::env::args().any(|a| a == "--bench");
    let (seq_n, par_n, items_mb, rounds) = if quick {
        (
            env_num("BENCH_SEQ_N", 500),
            env_num("BENCH_PAR_N", 2000),
            env_num("BENCH_ITEMS_MB", 20),
            1,
        )
    } else {
        (
            env_num("BENCH_SEQ_N", 5000),
            env_num("BENCH_PAR_N", 20000),
            env_num("BENCH_ITEMS_MB", 200),
            env_num("BENCH_ROUNDS", 5) as usize,
        )
    };
    let small = BenchServer::spawn_kind(ServerKind::Hyper(0));
    let items = BenchServer::spawn_kind(ServerKind::Items(items_mb));
    let nginx = match std::env::var("BENCH_SERVER").as_deref() {
        Ok("hyper") => None,
        _ => Nginx::start(items_mb),
    };
    let (small_base, list_base, server_label) = match &nginx {
        Some(n) => (n.base_url.clone(), n.base_url.clone(), "nginx (1 worker)"),
        None => (
            small.base_url().to_string(),
            items.base_url().to_string(),
            "the hyper (current_thread) server",
        ),
    };
    let only = std::env::var("BENCH_ONLY").ok();
    let cases: Vec<Case> = Case::all()
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| c.name().contains(x.trim())))
        })
        .collect();

    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let case = cases[i];
            let base = match case.workload {
                Workload::IterateItems => items.base_url(),
                Workload::ListItems => &list_base,
                _ => &small_base,
            };
            let f = measure_in_child(case, base, seq_n, par_n);
            eprintln!(
                "round {round} {:<40} {:>10.3} {}  peak RSS {:>7.1} MiB",
                case.name(),
                f.value,
                if case.is_rate() { "calls/s" } else { "s" },
                f.rss_mib
            );
            results[i].push(f);
        }
    }

    println!(
        "\n{rounds} rounds, medians, each case a fresh process; small calls: `users/me` \
         ({seq_n} sequential, {par_n} with 32 in flight) and `list_items` from {server_label}; \
         `iterate_items` from the hyper server; a {items_mb} MB dataset, items decoded as \
         serde_json::Value"
    );
    println!("| workload | ours (built-in) | official `apify-client` 0.15 | ours / official |");
    println!("|---|---|---|---|");
    // Cases come in (ours, official) pairs.
    for pair in (0..cases.len()).collect::<Vec<_>>().chunks(2) {
        let [o, p] = pair else { continue };
        let (ours, official) = (cases[*o], cases[*p]);
        if ours.client != Client::Ours || official.client != Client::Official {
            continue;
        }
        let cell = |i: usize| {
            let mut v: Vec<f64> = results[i].iter().map(|f| f.value).collect();
            let mut r: Vec<f64> = results[i].iter().map(|f| f.rss_mib).collect();
            if cases[i].is_rate() {
                format!("{:.0} calls/s", median(&mut v))
            } else {
                format!("{:.2} s, {:.0} MiB", median(&mut v), median(&mut r))
            }
        };
        // Per-round ratios: speed (higher is better) and, for the items, memory.
        let mut speed: Vec<f64> = results[*o]
            .iter()
            .zip(&results[*p])
            .map(|(a, b)| {
                if ours.is_rate() {
                    a.value / b.value
                } else {
                    b.value / a.value
                }
            })
            .collect();
        let mut memory: Vec<f64> = results[*o]
            .iter()
            .zip(&results[*p])
            .map(|(a, b)| a.rss_mib / b.rss_mib)
            .collect();
        let ratio = if ours.is_rate() {
            format!("{:.2}x the rate", median(&mut speed))
        } else {
            format!(
                "{:.2}x the speed, {:.2}x the memory",
                median(&mut speed),
                median(&mut memory)
            )
        };
        println!(
            "| {} | {} | {} | {} |",
            ours.workload_name(),
            cell(*o),
            cell(*p),
            ratio
        );
    }
}

/// nginx serving `users/me` and the whole dataset as static files, with one worker and the
/// API's pagination headers; stopped when dropped.
struct Nginx {
    child: std::process::Child,
    base_url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// `None` (and why, on stderr) when nginx is not installed or does not start.
    fn start(items_mb: u64) -> Option<Nginx> {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(bin) = bin else {
            eprintln!("nginx is not installed: the hyper servers serve every case");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("v2/users")).expect("users dir");
        std::fs::create_dir_all(root.join("v2/datasets/bench")).expect("dataset dir");
        std::fs::write(root.join("v2/users/me"), testkit::user_me_body()).expect("users/me");
        let dataset = apify_tests::bench_server::ItemsDataset::new(items_mb * 1_000_000);
        std::fs::write(root.join("v2/datasets/bench/items"), dataset.json()).expect("items");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let n = dataset.len();
        let conf = format!(
            "{user}worker_processes 1;\n\
             error_log {dir}/error.log;\n\
             pid {dir}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {dir}/body;\n\
               proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n\
               uwsgi_temp_path {dir}/uwsgi;\n\
               scgi_temp_path {dir}/scgi;\n\
               sendfile on;\n\
               keepalive_requests 1000000;\n\
               default_type application/json;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 root {root};\n\
                 location ~ /items$ {{\n\
                   add_header x-apify-pagination-offset 0;\n\
                   add_header x-apify-pagination-limit {n};\n\
                   add_header x-apify-pagination-count {n};\n\
                   add_header x-apify-pagination-total {n};\n\
                 }}\n\
               }}\n\
             }}\n",
            // As root, the worker would otherwise drop to `nobody`, which cannot read the
            // temp dir. SAFETY: geteuid has no preconditions.
            user = if unsafe { libc::geteuid() } == 0 {
                "user root root;\n"
            } else {
                ""
            },
            dir = dir.path().display(),
            root = root.display(),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("nginx did not start: the hyper servers serve every case");
            return None;
        };
        let nginx = Nginx {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                eprintln!("nginx did not listen within 5 s: the hyper servers serve every case");
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker too (SIGKILL would leave the worker behind).
        // SAFETY: kill(2) on our own child's pid, which `wait` has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Runs `case` in a fresh process of this binary and reads the line it prints.
fn measure_in_child(case: Case, base: &str, seq_n: u64, par_n: u64) -> Figures {
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .env(CASE_ENV, case.encode())
        .env("APIFY_PEER_BASE", base)
        .env("APIFY_PEER_SEQ_N", seq_n.to_string())
        .env("APIFY_PEER_PAR_N", par_n.to_string())
        .output()
        .expect("run a case");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("FIGURES "));
    let Some(line) = line else {
        panic!(
            "case {} printed no figures (exit {}):\n{}",
            case.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut it = line
        .split_whitespace()
        .map(|x| x.parse::<f64>().expect("a number"));
    Figures {
        value: it.next().expect("a value"),
        rss_mib: it.next().expect("an RSS"),
    }
}

/// In the child: runs one case and prints `FIGURES value rss_mib`.
fn run_case(case: Case) {
    let base = std::env::var("APIFY_PEER_BASE").expect("a base URL");
    let seq_n = env_num("APIFY_PEER_SEQ_N", 5000) as usize;
    let par_n = env_num("APIFY_PEER_PAR_N", 20000) as usize;
    let rt = if case.multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("a runtime");
    let value = rt.block_on(async move {
        match case.client {
            Client::Ours => ours::run(case.workload, &base, seq_n, par_n).await,
            Client::Official => official::run(case.workload, &base, seq_n, par_n).await,
        }
    });
    println!("FIGURES {value} {}", peak_rss_mib("self"));
}

/// `call` sequentially `seq_n` times, or `par_n` times with 32 in flight; calls/s.
async fn small_calls<F, Fut>(workload: Workload, seq_n: usize, par_n: usize, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    match workload {
        Workload::Sequential => calls_per_second(call, 1, seq_n).await,
        _ => calls_per_second(call, 32, par_n).await,
    }
}

/// Calls `call` `n` times in all, shared by `tasks` tasks spawned on the current runtime (as a
/// program's work runs: a `block_on` caller is a thread of its own), after 50 warm-up calls;
/// calls/s.
async fn calls_per_second<F, Fut>(call: F, tasks: usize, n: usize) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let warm = call.clone();
    tokio::spawn(async move {
        for _ in 0..50 {
            warm().await;
        }
    })
    .await
    .expect("warm-up");
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|k| {
            let call = call.clone();
            let share = n / tasks + usize::from(k < n % tasks);
            tokio::spawn(async move {
                for _ in 0..share {
                    call().await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("a task");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

mod ours {
    use super::*;
    use apify_host::{options::ListItemsOptions, ApifyClient};
    use futures_util::StreamExt;

    pub async fn run(workload: Workload, base: &str, seq_n: usize, par_n: usize) -> f64 {
        let client = ApifyClient::builder()
            .token("bench-token")
            .api_url(base)
            .build()
            .expect("a client");
        match workload {
            Workload::Sequential | Workload::InFlight32 => {
                let call = move || {
                    let user = client.me();
                    async move {
                        user.get().await.expect("users/me").expect("a user");
                    }
                };
                small_calls(workload, seq_n, par_n, call).await
            }
            Workload::ListItems => {
                let start = Instant::now();
                let page = client
                    .dataset("bench")
                    .list_items::<serde_json::Value>(&ListItemsOptions::default())
                    .await
                    .expect("list_items");
                assert!(!page.items.is_empty());
                start.elapsed().as_secs_f64()
            }
            Workload::IterateItems => {
                let start = Instant::now();
                let options = ListItemsOptions::new().chunk_size(1000);
                let mut items = client
                    .dataset("bench")
                    .iterate_items::<serde_json::Value>(&options);
                let mut n = 0u64;
                while let Some(item) = items.next().await {
                    item.expect("an item");
                    n += 1;
                }
                assert!(n > 0);
                start.elapsed().as_secs_f64()
            }
        }
    }
}

mod official {
    use super::*;
    use apify_client::{ApifyClient, DatasetListItemsOptions};

    pub async fn run(workload: Workload, base: &str, seq_n: usize, par_n: usize) -> f64 {
        let client = ApifyClient::builder()
            .token("bench-token")
            .base_url(base)
            .timeout(Duration::from_secs(300))
            .build();
        match workload {
            Workload::Sequential | Workload::InFlight32 => {
                let call = move || {
                    let user = client.me();
                    async move {
                        user.get().await.expect("users/me").expect("a user");
                    }
                };
                small_calls(workload, seq_n, par_n, call).await
            }
            Workload::ListItems => {
                let start = Instant::now();
                let page = client
                    .dataset("bench")
                    .list_items::<serde_json::Value>(DatasetListItemsOptions::default())
                    .await
                    .expect("list_items");
                assert!(!page.items.is_empty());
                start.elapsed().as_secs_f64()
            }
            Workload::IterateItems => {
                let start = Instant::now();
                let mut items = client
                    .dataset("bench")
                    .iterate_items::<serde_json::Value>(DatasetListItemsOptions::default())
                    .with_chunk_size(1000);
                let mut n = 0u64;
                while let Some(_item) = items.next().await.expect("an item") {
                    n += 1;
                }
                assert!(n > 0);
                start.elapsed().as_secs_f64()
            }
        }
    }
}
