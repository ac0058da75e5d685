//! Isolation benchmark: each workspace plugin in process (`dlopen` here) and the same plugin
//! in a confined worker process (`isolation = "process"`), with the built-in transport for
//! scale, side by side in one run.
//!
//! ```text
//! cargo build --release -p apify-transport-worker    # the worker the isolated rows need
//! cargo bench -p apify-tests --bench isolation         # 5 rounds, 200 MB bodies
//! BENCH_QUICK=1 cargo bench -p apify-tests --bench isolation
//! ```
//!
//! Columns, per row:
//! - small GETs through the FULL client (`ApifyClient::me().get()`, ~1 KiB JSON), sequential
//!   and with 32 in flight, calls/s, and the CPU per call with 32 in flight, in µs: the
//!   client's (this process, all threads, the plugin's and the transport I/O thread included)
//!   plus, for an isolated row, the worker's.
//! - a streamed download (`GET /bytes/N` of the testkit server, read chunk by chunk at the
//!   transport level), MB/s, and the peak RSS (VmHWM, reset before) of the client and of the
//!   worker while it ran.
//!
//! Every row is measured twice a round, in two placements (the order alternates by round):
//! - free: every process may run on every CPU;
//! - servers apart: the server processes on the last CPU, this process and the worker on the
//!   others, as when the server is another machine. On a 2-core machine three busy processes
//!   (server, worker, client) share two CPUs, and with free placement an isolated download ran
//!   at 2.2-2.5 GB/s whenever the scheduler put the server beside the worker or the client and
//!   at 3.6-4.2 when the server had a core of its own, while the in-process row (two processes)
//!   ran at 3.3-3.6 either way (10-round runs, each placement pinned by hand). Sequential small
//!   calls are bimodal with free placement too (an in-process row made 8-10k or 29-34k calls/s
//!   from one round to the next): a call that wakes a process on an idle virtual CPU waits for
//!   that CPU to wake. On a single CPU only the free placement is measured.
//!
//! The small GETs go to the minimal hyper server (`current_thread`), the transfers to the
//! testkit server; both run in child processes. The client runs on a `current_thread` runtime
//! (the CLI's). Rounds are interleaved (the row order rotates each round), the table shows
//! medians, and the ratios isolated / in-process are medians of per-round ratios.
//!
//! Variables: `BENCH_ROUNDS=N` (default 5), `BENCH_SEQ_N`, `BENCH_PAR_N` (calls, default 5000
//! and 20000), `BENCH_BODY_MB` (download and upload size, default 200), `BENCH_ONLY=a,b` (only
//! the rows whose name contains one of these), `BENCH_QUICK=1` (one short round, 16 MB),
//! `BENCH_NO_UPLOAD=1` (no upload column, to profile the download alone).
//! `cargo test --benches` runs it quick too. Nothing here is a timed assertion.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use apify_host::{
    pipeline::UploadBody,
    transport::plugin::PluginLoadOptions,
    transport::{
        BuiltinTransport, HttpTransport, IsolatedTransport, Isolation, TransportRequest as Request,
    },
    ApifyClient,
};
use apify_tests::{
    bench_placement::{allowed_cpus, Placement},
    bench_server::{BenchServer, ServerKind},
    bench_util::{self, env_num, median},
    hyper_plugin, plugin_path, reqwest_plugin,
};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};

/// Per-round figures of one row.
#[derive(Clone, Copy, Default)]
struct Figures {
    seq: f64,
    par: f64,
    /// CPU per call with 32 in flight, µs: client plus worker.
    par_cpu_us: f64,
    download_mbps: f64,
    download_rss: f64,
    download_worker_rss: f64,
    upload_mbps: f64,
    upload_rss: f64,
    upload_worker_rss: f64,
}

struct Row {
    name: &'static str,
    transport: Arc<dyn HttpTransport>,
    /// The isolated transport itself, for its worker's pid.
    isolated: Option<Arc<IsolatedTransport>>,
}

impl Row {
    fn worker_pid(&self) -> Option<u32> {
        self.isolated.as_ref().and_then(|t| t.worker_pid())
    }
}

fn isolated(lib: &str) -> Arc<IsolatedTransport> {
    Arc::new(
        IsolatedTransport::start(
            &plugin_path(lib),
            &PluginLoadOptions::default().isolation(Isolation::Process),
            &serde_json::json!({}),
            true,
        )
        .unwrap_or_else(|e| {
            panic!("{e}\n(build the worker first: cargo build --release -p apify-transport-worker)")
        }),
    )
}

fn main() {
    if BenchServer::serve_if_child() {
        return;
    }
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || !std::env::args().any(|a| a == "--bench");
    let (seq_n, par_n, body_len, rounds) = if quick {
        (
            env_num("BENCH_SEQ_N", 500) as usize,
            env_num("BENCH_PAR_N", 2000) as usize,
            env_num("BENCH_BODY_MB", 16) * 1_000_000,
            1,
        )
    } else {
        (
            env_num("BENCH_SEQ_N", 5000) as usize,
            env_num("BENCH_PAR_N", 20000) as usize,
            env_num("BENCH_BODY_MB", 200) * 1_000_000,
            env_num("BENCH_ROUNDS", 5) as usize,
        )
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let testkit = BenchServer::spawn();
    let small = BenchServer::spawn_kind(ServerKind::Hyper(0));
    let placement = Placement {
        servers: vec![testkit.pid(), small.pid()],
        cpus: allowed_cpus(),
    };
    let download_url = format!("{}/bytes/{body_len}", testkit.base_url());
    let upload_base = format!("{}/digest", testkit.base_url());
    let no_upload = std::env::var_os("BENCH_NO_UPLOAD").is_some();
    let (upload_file, _) = apify_tests::random_file(if no_upload { 0 } else { body_len });

    let iso_reqwest = isolated("apify_transport_reqwest");
    let iso_hyper = isolated("apify_transport_hyper");
    let mut rows: Vec<Row> = rt.block_on(async {
        let row = |name, transport| Row {
            name,
            transport,
            isolated: None,
        };
        vec![
            row("builtin", Arc::new(BuiltinTransport::new().unwrap())),
            row("plugin:reqwest", reqwest_plugin()),
            row("plugin:hyper (hosted)", hyper_plugin()),
        ]
    });
    rows.push(Row {
        name: "isolated:reqwest",
        transport: iso_reqwest.clone(),
        isolated: Some(iso_reqwest),
    });
    rows.push(Row {
        name: "isolated:hyper (hosted)",
        transport: iso_hyper.clone(),
        isolated: Some(iso_hyper),
    });
    // isolated / in-process pairs, by row index.
    let pairs = [("reqwest", 3, 1), ("hyper  ", 4, 2)];

    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| name.contains(x.trim())))
    };
    // Each row is measured twice a round: with free placement, then (order alternating by
    // round) with the servers apart.
    let placements: Vec<bool> = if let Err(e) = placement.servers_apart(None) {
        println!(
            "cannot place the processes on CPUs ({e}): the \"servers apart\" rows are skipped"
        );
        vec![false]
    } else {
        vec![false, true]
    };
    let mut results: Vec<Vec<Vec<Figures>>> = vec![vec![Vec::new(); rows.len()]; 2];
    for round in 0..rounds {
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            let row = &rows[i];
            if !wanted(row.name) {
                continue;
            }
            for p in 0..placements.len() {
                let apart = placements[(p + round) % placements.len()];
                let guard = apart.then(|| {
                    placement
                        .servers_apart(row.worker_pid())
                        .unwrap_or_else(|e| panic!("placing the processes on CPUs: {e}"))
                });
                let f = rt.block_on(measure(
                    row,
                    small.base_url(),
                    &download_url,
                    &upload_base,
                    upload_file.path(),
                    seq_n,
                    par_n,
                    body_len,
                ));
                drop(guard);
                let name = format!("{}{}", row.name, if apart { " (apart)" } else { "" });
                eprintln!(
                    "round {round} {name:<32} seq {:>7.0}  32-in-flight {:>7.0} calls/s  {:>5.1} µs CPU/call  download {:>5.0} MB/s  RSS {:>5.1} + {:>5.1} MiB  upload {:>5.0} MB/s  RSS {:>5.1} + {:>5.1} MiB",
                    f.seq, f.par, f.par_cpu_us, f.download_mbps, f.download_rss,
                    f.download_worker_rss, f.upload_mbps, f.upload_rss, f.upload_worker_rss
                );
                results[usize::from(apart)][i].push(f);
            }
        }
    }

    println!(
        "\n{rounds} rounds, medians; client runtime current_thread; small GETs: full client \
         `users/me` ({seq_n} sequential, {par_n} with 32 in flight) on the hyper \
         (current_thread) server; download and upload {} MB from the testkit server",
        body_len / 1_000_000
    );
    // What a hop costs here: a sequential isolated call makes one more round trip than the
    // same call in process (host -> worker -> host), so its extra time per call is set against
    // a bare socketpair round trip between two threads, measured now, on this machine.
    let floor = socketpair_round_trip_us(20_000);
    for &apart in &placements {
        report(&rows, &results[usize::from(apart)], &pairs, apart, floor);
    }
    drop(rows);
    drop(small);
    drop(testkit);
}

/// Prints the table and the ratios of one placement.
fn report(
    rows: &[Row],
    results: &[Vec<Figures>],
    pairs: &[(&str, usize, usize)],
    apart: bool,
    floor: f64,
) {
    if apart {
        println!(
            "\nservers apart: each server process on the last CPU, this process and the worker \
             on the others (as when the server is another machine)"
        );
    } else {
        println!("\nfree placement: every process may run on every CPU");
    }
    println!(
        "| row | seq calls/s | 32-in-flight calls/s | CPU µs/call (32 in flight, client + worker) | download MB/s | peak RSS MiB client / worker (download) | upload MB/s | peak RSS MiB client / worker (upload) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let cell = |v: f64, prec: usize| {
        if v > 0.0 {
            format!("{v:.prec$}")
        } else {
            "–".to_string()
        }
    };
    for (row, figures) in rows.iter().zip(results) {
        if figures.is_empty() {
            println!("| {} (skipped) | – | – | – | – | – | – | – |", row.name);
            continue;
        }
        let med = |g: fn(&Figures) -> f64| median(&mut figures.iter().map(g).collect::<Vec<_>>());
        println!(
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} / {} |",
            row.name,
            cell(med(|f| f.seq), 0),
            cell(med(|f| f.par), 0),
            cell(med(|f| f.par_cpu_us), 1),
            cell(med(|f| f.download_mbps), 0),
            cell(med(|f| f.download_rss), 1),
            cell(med(|f| f.download_worker_rss), 1),
            cell(med(|f| f.upload_mbps), 0),
            cell(med(|f| f.upload_rss), 1),
            cell(med(|f| f.upload_worker_rss), 1),
        );
    }

    let ratio = |a: usize, b: usize, g: fn(&Figures) -> f64| {
        let mut xs: Vec<f64> = results[a]
            .iter()
            .zip(&results[b])
            .map(|(x, y)| g(x) / g(y))
            .filter(|r| r.is_finite())
            .collect();
        if xs.is_empty() {
            f64::NAN
        } else {
            median(&mut xs)
        }
    };
    println!("ratios isolated / in-process (medians of per-round ratios; targets >= 0.8x):");
    for &(label, iso, inproc) in pairs {
        println!(
            "  {label}: seq {:.3}x  32-in-flight {:.3}x  download {:.3}x  upload {:.3}x  CPU/call {:.3}x",
            ratio(iso, inproc, |f| f.seq),
            ratio(iso, inproc, |f| f.par),
            ratio(iso, inproc, |f| f.download_mbps),
            ratio(iso, inproc, |f| f.upload_mbps),
            ratio(iso, inproc, |f| f.par_cpu_us),
        );
    }
    println!(
        "sequential extra time per call, isolated minus in-process (medians of per-round differences), \
         against a bare socketpair round trip between two threads ({floor:.1} µs here):"
    );
    for &(label, iso, inproc) in pairs {
        let mut extra: Vec<f64> = results[iso]
            .iter()
            .zip(&results[inproc])
            .map(|(x, y)| 1e6 / x.seq - 1e6 / y.seq)
            .filter(|d| d.is_finite())
            .collect();
        if !extra.is_empty() {
            let extra = median(&mut extra);
            println!(
                "  {label}: {extra:.1} µs per call, {:.2} round trips",
                extra / floor
            );
        }
    }
}

/// The median time of a 64-byte ping-pong over a socketpair between this thread and another,
/// in µs: both blocked in `read` between messages, as a host and its worker are between calls.
fn socketpair_round_trip_us(n: usize) -> f64 {
    use std::io::{Read, Write};
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while b.read_exact(&mut buf).is_ok() {
            if b.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut buf = [0u8; 64];
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n / 5 {
            a.write_all(&buf).expect("ping");
            a.read_exact(&mut buf).expect("pong");
        }
        rounds.push(start.elapsed().as_secs_f64() * 1e6 / (n / 5) as f64);
    }
    drop(a);
    let _ = echo.join();
    median(&mut rounds)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    row: &Row,
    small_base: &str,
    download_url: &str,
    upload_base: &str,
    upload_path: &std::path::Path,
    seq_n: usize,
    par_n: usize,
    body_len: u64,
) -> Figures {
    let client = |base: &str| {
        ApifyClient::builder()
            .token("bench-token")
            .api_url(base)
            .transport(row.transport.clone())
            .build()
            .expect("client")
    };
    let small = client(small_base);
    let worker = row.worker_pid();
    let mut f = Figures::default();

    // Sequential, as a task of the client runtime (see transports.rs).
    let user = small.me();
    f.seq = tokio::spawn(async move {
        for _ in 0..50 {
            user.get().await.expect("users/me").expect("a user");
        }
        let start = Instant::now();
        for _ in 0..seq_n {
            user.get().await.expect("users/me").expect("a user");
        }
        seq_n as f64 / start.elapsed().as_secs_f64()
    })
    .await
    .expect("the sequential task");

    // 32 in flight: 32 tasks, each with its share of the calls.
    let cpu0 = cpu_seconds("self") + worker.map_or(0.0, |p| cpu_seconds(&p.to_string()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|k| {
            let user = small.me();
            let n = par_n / 32 + usize::from(k < par_n % 32);
            tokio::spawn(async move {
                for _ in 0..n {
                    user.get().await.expect("users/me").expect("a user");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a 32-in-flight task");
    }
    f.par = par_n as f64 / start.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds("self") + worker.map_or(0.0, |p| cpu_seconds(&p.to_string()));
    f.par_cpu_us = (cpu1 - cpu0) / par_n as f64 * 1e6;

    // The download, at the transport level.
    reset_peak_rss(worker);
    let start = Instant::now();
    let n = download(&*row.transport, download_url).await;
    f.download_mbps = body_len as f64 / start.elapsed().as_secs_f64() / 1e6;
    assert_eq!(n, body_len);
    (f.download_rss, f.download_worker_rss) = peak_rss_mib(worker);

    // The upload, through the full client.
    if std::env::var_os("BENCH_NO_UPLOAD").is_some() {
        return f;
    }
    let uploads = client(upload_base);
    reset_peak_rss(worker);
    let start = Instant::now();
    uploads
        .key_value_store("bench")
        .set_record_from(
            "up",
            UploadBody::from_file(upload_path).expect("the upload file"),
            "application/octet-stream",
        )
        .await
        .expect("upload");
    f.upload_mbps = body_len as f64 / start.elapsed().as_secs_f64() / 1e6;
    (f.upload_rss, f.upload_worker_rss) = peak_rss_mib(worker);
    f
}

/// One streamed GET at the transport level; returns the body length, read chunk by chunk and
/// dropped.
async fn download(t: &dyn HttpTransport, url: &str) -> u64 {
    let resp = t
        .call(Request {
            method: Method::GET,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new().into(),
            timeout: Some(Duration::from_secs(120)),
            stream: true,
        })
        .await
        .expect("request");
    assert!(resp.status.is_success());
    let mut body = resp.body;
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        n += chunk.expect("chunk").len() as u64;
    }
    n
}

/// User + system CPU seconds of process `pid` (`"self"` for this one), all threads.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime (fields 14 and 15) are at 11 and 12 after the ")"; ticks of 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Resets VmHWM to the current RSS, here and in the worker.
fn reset_peak_rss(worker: Option<u32>) {
    bench_util::reset_peak_rss("self");
    if let Some(pid) = worker {
        bench_util::reset_peak_rss(&pid.to_string());
    }
}

/// Peak RSS in MiB of this process and of the worker (0 when there is none).
fn peak_rss_mib(worker: Option<u32>) -> (f64, f64) {
    (
        bench_util::peak_rss_mib("self"),
        worker.map_or(0.0, |p| bench_util::peak_rss_mib(&p.to_string())),
    )
}
