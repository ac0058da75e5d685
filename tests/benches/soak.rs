//! Soak benchmark: 100,000 API calls through the whole pipeline (`ApifyClient::execute`:
//! prepare, retry loop, body reads, resume wrapper) with the built-in transport, then with the
//! reqwest plugin (`.so` through the real loader), against a loopback keep-alive server in a
//! child process. The client's RSS is sampled every 10,000 calls; the figure to read is the
//! growth from 10k to 100k calls, after allocators and pools have warmed up: a leak per call
//! (a body, a connection, a timer, a plugin handle) shows there, at ~100k × its size.
//!
//! ```text
//! cargo bench -p apify-tests --bench soak             # 100,000 calls per transport
//! SOAK_CALLS=20000 cargo bench -p apify-tests --bench soak
//! ```
//!
//! The mix, repeated: a small JSON answer read into memory and parsed, a 4 KiB chunked body
//! streamed, a 64 KiB sized body streamed (resume wrapper and idle timer included), a 404
//! read for its error message; 8 calls in flight.

use std::{sync::Arc, time::Instant};

use apify_host::{
    pipeline::{ApiRequest, HttpSettings},
    transport::{BuiltinTransport, HttpTransport},
    ApifyClient,
};
use apify_tests::{bench_server::BenchServer, reqwest_plugin};
use futures_util::StreamExt;
use http::Method;

const SAMPLE_EVERY: u64 = 10_000;
const IN_FLIGHT: usize = 8;

fn main() {
    if BenchServer::serve_if_child() {
        return;
    }
    // `cargo test --benches` runs us too, without `--bench`: stay quick then.
    let full = std::env::args().any(|a| a == "--bench");
    let calls: u64 = std::env::var("SOAK_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2 * SAMPLE_EVERY });

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
        ]
    });

    let mut report = Vec::new();
    for (name, transport) in transports {
        let client = ApifyClient::builder()
            .transport(transport)
            .settings(HttpSettings::default().max_retries(0))
            .api_url(&base)
            .build()
            .unwrap();
        let started = Instant::now();
        let samples = rt.block_on(soak(&client, calls));
        let secs = started.elapsed().as_secs_f64();
        for (n, rss) in &samples {
            eprintln!("{name:<15} {n:>7} calls  RSS {rss:>6.1} MiB");
        }
        let at = |n: u64| samples.iter().find(|(k, _)| *k == n).map(|(_, r)| *r);
        let first = at(SAMPLE_EVERY).unwrap_or(f64::NAN);
        let last = samples.last().map_or(f64::NAN, |(_, r)| *r);
        let stats = client.statistics();
        assert_eq!(stats.calls, calls, "every call counted");
        report.push((name, first, last, calls as f64 / secs));
    }
    drop(server);

    println!(
        "\nSoak: {calls} calls per transport, {IN_FLIGHT} in flight (RSS of the client process)"
    );
    println!(
        "{:<15} {:>12} {:>14} {:>10} {:>10}",
        "transport", "RSS @10k MiB", "RSS @end MiB", "growth", "calls/s"
    );
    for (name, first, last, rate) in report {
        println!(
            "{name:<15} {first:>12.1} {last:>14.1} {:>+9.1}M {rate:>10.0}",
            last - first
        );
    }
}

/// Runs `calls` calls of the mix; answers `(calls done, RSS MiB)` every [`SAMPLE_EVERY`].
async fn soak(client: &ApifyClient, calls: u64) -> Vec<(u64, f64)> {
    let mut samples = Vec::new();
    let mut done = 0u64;
    let mut results = futures_util::stream::iter(0..calls)
        .map(|i| one_call(client, i))
        .buffer_unordered(IN_FLIGHT);
    while let Some(()) = results.next().await {
        done += 1;
        if done.is_multiple_of(SAMPLE_EVERY) || done == calls {
            samples.push((done, rss_mib()));
        }
    }
    samples
}

async fn one_call(client: &ApifyClient, i: u64) {
    match i % 4 {
        0 => {
            let v: serde_json::Value = client
                .execute(ApiRequest::new(Method::GET, "/small"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(v.get("data").is_some());
        }
        1 | 2 => {
            let (path, len) = if i % 4 == 1 {
                ("/bytes/4096?chunked=1", 4096)
            } else {
                ("/bytes/65536", 65536)
            };
            let mut body = client
                .execute(ApiRequest::new(Method::GET, path).stream())
                .await
                .unwrap()
                .into_stream();
            let mut n = 0;
            while let Some(chunk) = body.next().await {
                n += chunk.unwrap().len();
            }
            assert_eq!(n, len);
        }
        _ => {
            let e = client
                .execute(ApiRequest::new(Method::GET, "/status/404"))
                .await
                .unwrap_err();
            assert_eq!(e.status(), Some(404));
        }
    }
}

/// The current resident set size (`/proc/self/statm`, field 2, in pages).
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    pages * page / (1024.0 * 1024.0)
}
