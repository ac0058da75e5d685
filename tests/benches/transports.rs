//! Transport benchmark: the built-in transport, the reqwest plugin (`.so` through the real
//! loader) and the same reqwest code linked in-process as a custom transport, side by side in
//! one run, against a loopback keep-alive server in a child process.
//!
//! ```text
//! cargo bench -p apify-tests --bench transports            # full run (1 GiB bodies)
//! BENCH_QUICK=1 cargo bench -p apify-tests --bench transports
//! ```
//!
//! Figures: requests/s for 1 KiB GETs (sequential and 32 in flight), MB/s for a streamed 1 GiB
//! body, and the client process's peak RSS while streaming it (VmHWM, reset before each
//! transport), plus the client CPU seconds per GiB streamed (user + system, all threads: a
//! steadier figure than wall time on a shared machine). Rounds are interleaved and the median
//! is reported, so machine noise hits every transport alike; compare the ratios, not the
//! absolute numbers. `BENCH_ROUNDS=N` sets the number of rounds (default 5).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use apify_host::{BuiltinTransport, HttpTransport, InProcess, TransportRequest as Request};
use apify_tests::{bench_server::BenchServer, reqwest_plugin};
use apify_transport_reqwest::ReqwestTransport;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{HeaderMap, Method};

fn main() {
    if BenchServer::serve_if_child() {
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: stay quick then.
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || !std::env::args().any(|a| a == "--bench");
    let (seq_n, par_n, body_len, rounds) = if quick {
        (500, 2000, 64u64 << 20, 1)
    } else {
        let rounds = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(5);
        (5000, 20000, 1u64 << 30, rounds)
    };

    let server = BenchServer::spawn();
    let base = server.base_url().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let transports: Vec<(&str, Arc<dyn HttpTransport>)> = rt.block_on(async {
        vec![
            (
                "builtin",
                Arc::new(BuiltinTransport::new().unwrap()) as Arc<dyn HttpTransport>,
            ),
            ("plugin:reqwest", reqwest_plugin()),
            (
                "in-process reqwest",
                Arc::new(
                    InProcess::<ReqwestTransport>::from_options(serde_json::json!({})).unwrap(),
                ),
            ),
        ]
    });

    let mut results: Vec<Vec<[f64; 5]>> = vec![Vec::new(); transports.len()];
    for round in 0..rounds {
        for (i, (name, t)) in transports.iter().enumerate() {
            let r = rt.block_on(measure(&**t, &base, seq_n, par_n, body_len));
            eprintln!(
                "round {round} {name:<20} seq {:>8.0} req/s  32-in-flight {:>8.0} req/s  stream {:>7.0} MB/s  peak RSS {:>5.1} MiB  client CPU {:.2} s/GiB",
                r[0], r[1], r[2], r[3], r[4]
            );
            results[i].push(r);
        }
    }
    let med = |v: &Vec<[f64; 5]>, k: usize| {
        let mut xs: Vec<f64> = v.iter().map(|r| r[k]).collect();
        xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        xs[xs.len() / 2]
    };
    println!(
        "\n{} rounds, medians; 1 KiB GETs: {seq_n} sequential, {par_n} with 32 in flight; streamed body: {} MiB",
        rounds,
        body_len >> 20
    );
    println!(
        "| transport | seq req/s | 32-in-flight req/s | stream MB/s | peak RSS MiB (stream) | client CPU s/GiB (stream) |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (name, _)) in transports.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1} | {:.2} |",
            med(&results[i], 0),
            med(&results[i], 1),
            med(&results[i], 2),
            med(&results[i], 3),
            med(&results[i], 4)
        );
    }
    let ratio = |k: usize| med(&results[1], k) / med(&results[2], k);
    println!(
        "\nplugin / in-process reqwest: seq {:.3}x, 32-in-flight {:.3}x, stream {:.3}x (client CPU per GiB {:.3}x)",
        ratio(0),
        ratio(1),
        ratio(2),
        ratio(4)
    );
    drop(server);
}

async fn measure(
    t: &dyn HttpTransport,
    base: &str,
    seq_n: usize,
    par_n: usize,
    body_len: u64,
) -> [f64; 5] {
    let small = format!("{base}/small");
    // Warm the pool.
    for _ in 0..50 {
        get(t, &small, false).await;
    }
    let start = Instant::now();
    for _ in 0..seq_n {
        get(t, &small, false).await;
    }
    let seq = seq_n as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    stream::iter(0..par_n)
        .for_each_concurrent(32, |_| async {
            get(t, &small, false).await;
        })
        .await;
    let par = par_n as f64 / start.elapsed().as_secs_f64();

    reset_peak_rss();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let n = get(t, &format!("{base}/bytes/{body_len}"), true).await;
    let secs = start.elapsed().as_secs_f64();
    let cpu_per_gib = (cpu_seconds() - cpu0) / (body_len as f64 / (1u64 << 30) as f64);
    assert_eq!(n, body_len);
    let mbps = body_len as f64 / secs / 1e6;
    [seq, par, mbps, peak_rss_mib(), cpu_per_gib]
}

/// One GET; returns the body length, read chunk by chunk and dropped.
async fn get(t: &dyn HttpTransport, url: &str, stream: bool) -> u64 {
    let resp = t
        .call(Request {
            method: Method::GET,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new().into(),
            timeout: Some(Duration::from_secs(60)),
            stream,
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

/// User + system CPU seconds of this process (all threads, the plugin's included).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the ")"; clock ticks of 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn reset_peak_rss() {
    // Linux: writing 5 resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
