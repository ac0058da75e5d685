//! Transport benchmark: the limit (`wrk` for small GETs, `curl` for the streamed transfers), the
//! built-in transport, the reqwest plugin (`.so` through the real loader; driven by the
//! caller's threads, interface 1.5), the hosted hyper plugin, the same reqwest code linked
//! in-process as a custom transport, and the reqwest plugin on runtime threads of its own (as
//! before 1.5, or with `hosted = false`), side by side in one run.
//!
//! ```text
//! cargo bench -p apify-tests --bench transports            # full run (1 GiB bodies)
//! BENCH_QUICK=1 cargo bench -p apify-tests --bench transports
//! BENCH_RUNTIME=current_thread cargo bench -p apify-tests --bench transports
//! ```
//!
//! Columns:
//! - small GETs through the FULL client (`ApifyClient::me().get()`: pipeline, headers,
//!   JSON decoding of `GET /v2/users/me`, ~1 KiB `{"data":{...}}`), sequential and with 32 in
//!   flight, calls/s. `wrk` hits the same URL on the same server with keep-alive: `-t1 -c1`
//!   for sequential, `-t2 -c32` for 32 in flight (its "Requests/sec").
//! - a streamed 1 GiB download (`GET /bytes/N` of the testkit server, read chunk by chunk at
//!   the transport level), MB/s, the client's peak RSS while streaming it (VmHWM, reset before
//!   each transport; for curl its maxrss) and the client CPU seconds per GiB (user + system,
//!   all threads: steadier than wall time on a shared machine). The limit row is
//!   `curl -o /dev/null`.
//! - a streamed 1 GiB upload from a file of random bytes through the full client
//!   (`set_record_from`, so the pipeline's sample-first gzip decision is included), PUT to the
//!   testkit server's `/digest/` route, which hashes the body as it arrives; MB/s and the
//!   client's peak RSS while it runs. The limit row is `curl -T FILE` to the same URL.
//! - ureq alone: ureq 3 on threads of its own (1 for sequential, 32 for 32 in flight), no host
//!   and no client around it, raw GETs of the same URL with keep-alive. It is what a blocking
//!   library makes here by itself, so the blocking plugins of `BENCH_PLUGINS` (the ureq example
//!   runs the same library on threads the plugin glue hands each call to) get a ratio against
//!   it as well as against the built-in transport.
//! - load time, ms: what it costs to get a usable transport in a FRESH process (a plugin is
//!   never unloaded, so every sample is a child process of this binary): for the plugin,
//!   `load_plugin` (checks, sealed copy, dlopen, layout and version checks) plus
//!   `new_client` (the constructor: runtime, TLS provider, reqwest client); for the others,
//!   building the transport.
//!
//! The small-request server: before the rounds, `wrk` measures the testkit server (hand-written
//! HTTP/1.1, two workers) and a minimal hyper server (`current_thread`, and two workers), all
//! answering the same body at `/v2/users/me`; the one with the highest geometric mean of
//! wrk's sequential and 32-connection figures serves the small GETs of every row, so the limit
//! is the strongest baseline (on the 2-core project machine it was always one of the hyper
//! servers, `current_thread` or two workers depending on the run, never testkit: e.g. wrk
//! 29.8k/41.4k calls/s on hyper `current_thread` against 22.6k/41.1k on testkit). The download always comes from the testkit server. Servers run in child
//! processes, so their CPU and memory never count as the client's.
//!
//! Rounds are interleaved (the row order rotates each round) and medians are reported; the
//! ratios are medians of per-round ratios, so machine noise hits every row alike.
//!
//! Variables: `BENCH_ROUNDS=N` (default 5), `BENCH_QUICK=1` (one short round, 64 MiB),
//! `BENCH_RUNTIME=current_thread|multi_thread` (the client's runtime; default
//! `current_thread`, what the CLI uses), `BENCH_LOADS=N` fresh-process loads per row per round
//! (default 4), `BENCH_WRK_SECS=N` (default 3), `BENCH_ONLY=wrk,builtin,plugin,in-process`
//! (measure only the rows whose name contains one of these, e.g. to profile one of them),
//! `BENCH_SERVER=testkit|hyper|hyper2` (skip the choice of the small-request server),
//! `BENCH_PLACEMENT=apart` (the servers on a CPU of their own for the whole run, as when the
//! server is another machine; see `bench_placement`: with free placement, sequential rounds
//! here are bimodal, 9-10k or 20-34k calls/s for the same row),
//! `BENCH_PLUGINS=name=/path/libx.so,...` (more plugin rows, e.g. the curl plugin and the guide
//! examples that `scripts/check-external-plugins.sh` builds into `target/external/release/`;
//! each gets a ratio line against the built-in transport).

use std::{
    io::Read,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use apify_host::{
    pipeline::UploadBody,
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{BuiltinTransport, HttpTransport, InProcess, TransportRequest as Request},
    ApifyClient,
};
use apify_tests::{
    bench_placement::{allowed_cpus, Placement},
    bench_server::{BenchServer, ServerKind},
    bench_util::{env_num, median, peak_rss_mib, reset_peak_rss},
    hyper_plugin, plugin_path, reqwest_plugin,
};
use apify_transport_reqwest::ReqwestTransport;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};

/// The variable that makes this binary a load-time sample (its value: the row).
const LOAD_ENV: &str = "APIFY_BENCH_LOAD";
/// The variable that makes this binary the "ureq alone" row (its value: `threads calls url`).
const ALONE_ENV: &str = "APIFY_BENCH_UREQ_ALONE";

/// Per-round figures of one row.
#[derive(Clone, Copy, Default)]
struct Figures {
    seq: f64,
    par: f64,
    stream_mbps: f64,
    rss_mib: f64,
    cpu_per_gib: f64,
    /// Client CPU (user + system, all threads) per call with 32 in flight, µs.
    par_cpu_us: f64,
    load_ms: f64,
    upload_mbps: f64,
    upload_rss_mib: f64,
}

struct Config {
    seq_n: usize,
    par_n: usize,
    body_len: u64,
    rounds: usize,
    loads: usize,
    wrk_secs: u64,
}

fn main() {
    if BenchServer::serve_if_child() {
        return;
    }
    if let Ok(row) = std::env::var(LOAD_ENV) {
        load_sample(&row);
        return;
    }
    if let Ok(spec) = std::env::var(ALONE_ENV) {
        let mut parts = spec.splitn(3, ' ');
        let mut num = || parts.next().and_then(|x| x.parse().ok()).expect(ALONE_ENV);
        let (threads, n) = (num(), num());
        let url = parts.next().expect(ALONE_ENV);
        let (rate, cpu_us) = ureq_alone(url, threads, n);
        println!("{rate} {cpu_us}");
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: stay quick then.
    let quick =
        std::env::var_os("BENCH_QUICK").is_some() || !std::env::args().any(|a| a == "--bench");
    let cfg = if quick {
        Config {
            seq_n: env_num("BENCH_SEQ_N", 500) as usize,
            par_n: env_num("BENCH_PAR_N", 2000) as usize,
            body_len: 64 << 20,
            rounds: 1,
            loads: 1,
            wrk_secs: 1,
        }
    } else {
        Config {
            seq_n: env_num("BENCH_SEQ_N", 5000) as usize,
            par_n: env_num("BENCH_PAR_N", 20000) as usize,
            body_len: 1 << 30,
            rounds: env_num("BENCH_ROUNDS", 5) as usize,
            loads: env_num("BENCH_LOADS", 4) as usize,
            wrk_secs: env_num("BENCH_WRK_SECS", 3),
        }
    };
    // The CLI's runtime by default: current-thread.
    let runtime_kind = std::env::var("BENCH_RUNTIME").unwrap_or_else(|_| "current_thread".into());
    let rt = match runtime_kind.as_str() {
        "current_thread" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "multi_thread" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        other => panic!("BENCH_RUNTIME={other:?}: use current_thread or multi_thread"),
    }
    .expect("client runtime");

    let testkit = BenchServer::spawn();
    let download_url = format!("{}/bytes/{}", testkit.base_url(), cfg.body_len);
    // The upload: a file of random bytes (gzip skips them), PUT as a record to testkit's
    // `/digest/` route, which hashes the body as it arrives and keeps none of it.
    let upload_base = format!("{}/digest", testkit.base_url());
    let (upload_file, _) = apify_tests::random_file(cfg.body_len);
    let wrk = tool_available("wrk", "-v");
    let curl = tool_available("curl", "--version");

    // The small-request server: whichever lets wrk go fastest.
    let mut candidates = vec![
        BenchServer::spawn_kind(ServerKind::Hyper(0)),
        BenchServer::spawn_kind(ServerKind::Hyper(2)),
    ];
    let forced = std::env::var("BENCH_SERVER").ok();
    let small_server = if let Some(f) = forced.as_deref() {
        match f {
            "testkit" => 0,
            "hyper" => 1,
            "hyper2" => 2,
            other => panic!("BENCH_SERVER={other:?}: use testkit, hyper or hyper2"),
        }
    } else if wrk {
        let mut best: Option<(f64, usize)> = None;
        println!("small-request server, wrk calls/s (sequential, 32 connections):");
        for (i, s) in std::iter::once(&testkit)
            .chain(candidates.iter())
            .enumerate()
        {
            let url = format!("{}/v2/users/me", s.base_url());
            let a = run_wrk(&url, 1, cfg.wrk_secs.min(2)).0;
            let b = run_wrk(&url, 32, cfg.wrk_secs.min(2)).0;
            println!("  {:<24} {a:>9.0} {b:>9.0}", s.kind().label());
            let score = (a * b).sqrt();
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        best.map_or(0, |(_, i)| i)
    } else {
        println!("wrk not found: the limit row is skipped (install it: apt-get install -y wrk); small GETs use the hyper current_thread server");
        1
    };
    let small_base = if small_server == 0 {
        candidates.clear();
        testkit.base_url().to_string()
    } else {
        let s = candidates.swap_remove(small_server - 1);
        candidates.clear();
        candidates.push(s);
        candidates[0].base_url().to_string()
    };
    let small_label = if small_server == 0 {
        ServerKind::Testkit.label()
    } else {
        candidates[0].kind().label()
    };
    let users_url = format!("{small_base}/v2/users/me");
    // `BENCH_PLACEMENT=apart`: the servers on the last CPU for the whole run, this process and
    // what it starts (plugin threads, wrk, curl, load samples) on the others.
    let placement = Placement {
        servers: std::iter::once(testkit.pid())
            .chain(candidates.iter().map(|s| s.pid()))
            .collect(),
        cpus: allowed_cpus(),
    };
    let apart = match std::env::var("BENCH_PLACEMENT").as_deref() {
        Ok("apart") => true,
        Ok("free") | Err(_) => false,
        Ok(other) => panic!("BENCH_PLACEMENT={other:?}: use free or apart"),
    };
    let _apart = apart.then(|| {
        placement
            .servers_apart(None)
            .unwrap_or_else(|e| panic!("BENCH_PLACEMENT=apart: {e}"))
    });
    if !curl {
        println!("curl not found: the limit row has no download figure");
    }

    // Plugins outside the workspace, by name and path (`BENCH_PLUGINS`).
    let extra: Vec<(String, String)> = std::env::var("BENCH_PLUGINS")
        .unwrap_or_default()
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            let (name, path) = x
                .split_once('=')
                .unwrap_or_else(|| panic!("BENCH_PLUGINS: {x:?} is not name=/path/lib.so"));
            (format!("plugin:{}", name.trim()), path.trim().to_string())
        })
        .collect();
    let mut transports: Vec<(&str, Arc<dyn HttpTransport>)> = rt.block_on(async {
        vec![
            (
                "builtin",
                Arc::new(BuiltinTransport::new().unwrap()) as Arc<dyn HttpTransport>,
            ),
            ("plugin:reqwest", reqwest_plugin()),
            ("plugin:hyper (hosted)", hyper_plugin()),
            (
                "in-process reqwest",
                Arc::new(
                    InProcess::<ReqwestTransport>::from_options(serde_json::json!({})).unwrap(),
                ),
            ),
            // The same plugin on runtime threads of its own, as before interface 1.5 (and
            // with `[transport] hosted = false`): the row above is driven by our threads.
            (
                "plugin:reqwest (own threads)",
                Arc::new(
                    load_plugin(
                        &plugin_path("apify_transport_reqwest"),
                        &PluginLoadOptions::default(),
                    )
                    .and_then(|p| p.new_client_on_own_runtime(&serde_json::json!({})))
                    .unwrap_or_else(|e| panic!("{e}")),
                ),
            ),
        ]
    });
    for (name, path) in &extra {
        let loaded = load_plugin(std::path::Path::new(path), &PluginLoadOptions::default())
            .unwrap_or_else(|e| panic!("BENCH_PLUGINS: {e}"));
        let client = rt.block_on(async { loaded.new_client(&serde_json::json!({})) });
        let client = client.unwrap_or_else(|e| panic!("BENCH_PLUGINS: {e}"));
        transports.push((name.as_str(), Arc::new(client)));
    }
    let clients: Vec<ApifyClient> = transports
        .iter()
        .map(|(_, t)| {
            ApifyClient::builder()
                .token("bench-token")
                .api_url(small_base.clone())
                .transport(t.clone())
                .build()
                .expect("client")
        })
        .collect();
    let load_rows: Vec<String> = [
        "builtin",
        "plugin",
        "plugin-hyper",
        "inprocess",
        "plugin-threads",
    ]
    .into_iter()
    .map(String::from)
    .chain(extra.iter().map(|(_, path)| format!("path:{path}")))
    .collect();

    // Row 0 is the limit (wrk + curl), rows 1.. the transports, and the last one ureq alone.
    let alone = transports.len() + 1;
    let n_rows = transports.len() + 2;
    let row_name = |row: usize| {
        if row == 0 {
            "limit (wrk / curl)"
        } else if row == alone {
            "ureq alone (threads)"
        } else {
            transports[row - 1].0
        }
    };
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| name.contains(x.trim())))
    };
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); n_rows];
    for round in 0..cfg.rounds {
        for k in 0..n_rows {
            let row = (round + k) % n_rows;
            if !wanted(row_name(row)) {
                continue;
            }
            let f = if row == 0 {
                if !wrk && !curl {
                    continue;
                }
                let mut f = Figures::default();
                if wrk {
                    (f.seq, _) = run_wrk(&users_url, 1, cfg.wrk_secs);
                    (f.par, f.par_cpu_us) = run_wrk(&users_url, 32, cfg.wrk_secs);
                }
                if curl {
                    (f.stream_mbps, f.rss_mib, f.cpu_per_gib) =
                        run_curl(&download_url, cfg.body_len, None);
                    let url = format!("{upload_base}/v2/key-value-stores/bench/records/up");
                    (f.upload_mbps, f.upload_rss_mib, _) =
                        run_curl(&url, cfg.body_len, Some(upload_file.path()));
                }
                f
            } else if row == alone {
                let mut f = Figures::default();
                (f.seq, _) = ureq_alone_in_child(&users_url, 1, cfg.seq_n);
                (f.par, f.par_cpu_us) = ureq_alone_in_child(&users_url, 32, cfg.par_n);
                f
            } else {
                let (_, t) = &transports[row - 1];
                let mut f = rt.block_on(measure(
                    &clients[row - 1],
                    &**t,
                    &download_url,
                    cfg.seq_n,
                    cfg.par_n,
                    cfg.body_len,
                ));
                (f.upload_mbps, f.upload_rss_mib) = rt.block_on(upload(
                    t.clone(),
                    &upload_base,
                    upload_file.path(),
                    cfg.body_len,
                ));
                let mut loads: Vec<f64> = (0..cfg.loads)
                    .map(|_| load_in_child(&load_rows[row - 1]))
                    .collect();
                f.load_ms = median(&mut loads);
                f
            };
            let name = row_name(row);
            eprintln!(
                "round {round} {name:<20} seq {:>8.0}  32-in-flight {:>8.0} calls/s {:>5.1} µs CPU/call  download {:>6.0} MB/s  peak RSS {:>5.1} MiB  CPU {:.2} s/GiB  upload {:>6.0} MB/s  peak RSS {:>5.1} MiB  load {:.2} ms",
                f.seq, f.par, f.par_cpu_us, f.stream_mbps, f.rss_mib, f.cpu_per_gib, f.upload_mbps, f.upload_rss_mib, f.load_ms
            );
            results[row].push(f);
        }
    }

    let med = |row: usize, g: fn(&Figures) -> f64| {
        let mut xs: Vec<f64> = results[row].iter().map(g).collect();
        median(&mut xs)
    };
    println!(
        "\nplacement: {}",
        if apart {
            "servers apart (the servers on the last CPU, the client on the others)"
        } else {
            "free"
        }
    );
    println!(
        "\n{} rounds, medians; client runtime {runtime_kind}; small GETs: full client `users/me` \
         ({} sequential, {} with 32 in flight; wrk {} s each) on the {small_label} server; \
         download {} MiB; load: {} fresh processes per round",
        cfg.rounds,
        cfg.seq_n,
        cfg.par_n,
        cfg.wrk_secs,
        cfg.body_len >> 20,
        cfg.loads
    );
    println!(
        "| row | seq calls/s | 32-in-flight calls/s | client CPU µs/call (32 in flight) | download MB/s | peak RSS MiB (download) | client CPU s/GiB (download) | upload MB/s | peak RSS MiB (upload) | load ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let cell = |v: f64, prec: usize| {
        if v > 0.0 {
            format!("{v:.prec$}")
        } else {
            "–".to_string()
        }
    };
    for (row, figures) in results.iter().enumerate() {
        let name = row_name(row);
        if figures.is_empty() {
            println!("| {name} (skipped) | – | – | – | – | – | – | – | – | – |");
            continue;
        }
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(med(row, |f| f.seq), 0),
            cell(med(row, |f| f.par), 0),
            cell(med(row, |f| f.par_cpu_us), 1),
            cell(med(row, |f| f.stream_mbps), 0),
            cell(med(row, |f| f.rss_mib), 1),
            cell(med(row, |f| f.cpu_per_gib), 2),
            cell(med(row, |f| f.upload_mbps), 0),
            cell(med(row, |f| f.upload_rss_mib), 1),
            cell(med(row, |f| f.load_ms), 2),
        );
    }

    // Medians of per-round ratios.
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
    // Rows: 0 limit, 1 builtin, 2 reqwest plugin (driven), 3 hyper plugin (hosted), 4 in-process
    // reqwest, 5 reqwest plugin on its own threads.
    println!("\nratios (medians of per-round ratios):");
    // The plugins against the built-in transport: ours (with issue 11's target), then the
    // `BENCH_PLUGINS` rows (row 5 on).
    let plugin_rows = [
        ("reqwest plugin", 2, "  (target >= 0.9x)"),
        ("hyper plugin  ", 3, "  (target >= 0.9x)"),
        ("reqwest plugin (own threads)", 5, ""),
    ]
    .into_iter()
    .map(|(label, row, note)| (label.to_string(), row, note))
    .chain(
        extra
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), 6 + i, "")),
    );
    for (label, row, note) in plugin_rows {
        println!(
            "  {label} / builtin: seq {:.3}x  32-in-flight {:.3}x  download {:.3}x  upload {:.3}x{note}",
            ratio(row, 1, |f| f.seq),
            ratio(row, 1, |f| f.par),
            ratio(row, 1, |f| f.stream_mbps),
            ratio(row, 1, |f| f.upload_mbps)
        );
    }
    if !results[alone].is_empty() {
        // What a blocking library makes on threads of its own, with no host: the rate a
        // blocking plugin's boundary (threads handing calls to each other) is judged against.
        for (name, row) in extra.iter().enumerate().map(|(i, (name, _))| (name, 6 + i)) {
            println!(
                "  {name} / ureq alone: seq {:.3}x  32-in-flight {:.3}x",
                ratio(row, alone, |f| f.seq),
                ratio(row, alone, |f| f.par)
            );
        }
        println!(
            "  builtin / ureq alone: seq {:.3}x  32-in-flight {:.3}x",
            ratio(1, alone, |f| f.seq),
            ratio(1, alone, |f| f.par)
        );
    }
    if !results[0].is_empty() {
        println!(
            "  builtin / wrk:       seq {:.3}x  32-in-flight {:.3}x  (targets >= 0.8x, >= 0.5x); builtin / curl download {:.3}x",
            ratio(1, 0, |f| f.seq),
            ratio(1, 0, |f| f.par),
            ratio(1, 0, |f| f.stream_mbps)
        );
    }
    println!(
        "  reqwest plugin / in-process: seq {:.3}x  32-in-flight {:.3}x  download {:.3}x  CPU per GiB {:.3}x",
        ratio(2, 4, |f| f.seq),
        ratio(2, 4, |f| f.par),
        ratio(2, 4, |f| f.stream_mbps),
        ratio(2, 4, |f| f.cpu_per_gib)
    );
    println!(
        "  reqwest plugin driven / own threads: seq {:.3}x  32-in-flight {:.3}x  download {:.3}x  CPU per GiB {:.3}x",
        ratio(2, 5, |f| f.seq),
        ratio(2, 5, |f| f.par),
        ratio(2, 5, |f| f.stream_mbps),
        ratio(2, 5, |f| f.cpu_per_gib)
    );
    drop(candidates);
    drop(testkit);
}

async fn measure(
    client: &ApifyClient,
    t: &dyn HttpTransport,
    download_url: &str,
    seq_n: usize,
    par_n: usize,
    body_len: u64,
) -> Figures {
    // The calls run as tasks on the client runtime's workers, as a program on a multi-thread
    // runtime runs its work (a `block_on` caller is a thread of its own: every call would then
    // wake a worker and be woken back). 32 in flight: 32 tasks, each with its share of the calls.
    let user = client.me();
    let seq = tokio::spawn(async move {
        // Warm the pool.
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

    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|k| {
            let user = client.me();
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
    let par = par_n as f64 / start.elapsed().as_secs_f64();
    let par_cpu_us = (cpu_seconds() - cpu0) / par_n as f64 * 1e6;

    reset_peak_rss("self");
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let n = download(t, download_url).await;
    let secs = start.elapsed().as_secs_f64();
    let cpu_per_gib = (cpu_seconds() - cpu0) / (body_len as f64 / (1u64 << 30) as f64);
    assert_eq!(n, body_len);
    Figures {
        seq,
        par,
        stream_mbps: body_len as f64 / secs / 1e6,
        rss_mib: peak_rss_mib("self"),
        cpu_per_gib,
        par_cpu_us,
        ..Figures::default()
    }
}

/// A 1 GiB (`len`) record from `path` through the full client (`set_record_from`): MB/s and the
/// peak RSS while it ran (target: at most 64 MiB for every transport).
async fn upload(
    t: Arc<dyn HttpTransport>,
    base: &str,
    path: &std::path::Path,
    len: u64,
) -> (f64, f64) {
    let client = ApifyClient::builder()
        .token("bench-token")
        .api_url(base)
        .transport(t)
        .build()
        .expect("client");
    reset_peak_rss("self");
    let start = Instant::now();
    client
        .key_value_store("bench")
        .set_record_from(
            "up",
            UploadBody::from_file(path).expect("the upload file"),
            "application/octet-stream",
        )
        .await
        .expect("upload");
    (
        len as f64 / start.elapsed().as_secs_f64() / 1e6,
        peak_rss_mib("self"),
    )
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
            timeout: Some(Duration::from_secs(60)),
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

// ---- load time, in fresh processes ---------------------------------------------------------

/// Runs this binary with `var` set to `value` (a child's role: see `main`) and returns the
/// numbers it printed; `what` names the child in a failure.
fn numbers_from_child(var: &str, value: &str, what: &str) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .env(var, value)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert!(!numbers.is_empty(), "{what} printed {text:?}");
    numbers
}

/// Runs this binary as a load sample for `row` and returns its time in ms.
fn load_in_child(row: &str) -> f64 {
    numbers_from_child(LOAD_ENV, row, "a load sample")
        .iter()
        .sum::<f64>()
        / 1000.0
}

/// In the child: builds the row's transport once and prints the µs of each step (for the
/// plugin: `load_plugin`, then `new_client`), then exits without tearing anything down.
fn load_sample(row: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let line = rt.block_on(async {
        match row {
            _ if row.starts_with("plugin") || row.starts_with("path:") => {
                let path = match row {
                    "plugin" | "plugin-threads" => plugin_path("apify_transport_reqwest"),
                    "plugin-hyper" => plugin_path("apify_transport_hyper"),
                    _ => row["path:".len()..].into(),
                };
                let t0 = Instant::now();
                let loaded = load_plugin(&path, &PluginLoadOptions::default())
                    .unwrap_or_else(|e| panic!("{e}"));
                let t1 = Instant::now();
                let client = if row == "plugin-threads" {
                    loaded.new_client_on_own_runtime(&serde_json::json!({}))
                } else {
                    loaded.new_client(&serde_json::json!({}))
                };
                let client = client.unwrap_or_else(|e| panic!("{e}"));
                let t2 = Instant::now();
                std::mem::forget(client);
                format!("{} {}", (t1 - t0).as_micros(), (t2 - t1).as_micros())
            }
            "builtin" => {
                let t0 = Instant::now();
                let t = BuiltinTransport::new().expect("builtin");
                let us = t0.elapsed().as_micros();
                std::mem::forget(t);
                us.to_string()
            }
            "inprocess" => {
                let t0 = Instant::now();
                let t = InProcess::<ReqwestTransport>::from_options(serde_json::json!({}))
                    .expect("in-process reqwest");
                let us = t0.elapsed().as_micros();
                std::mem::forget(t);
                us.to_string()
            }
            other => panic!("{LOAD_ENV}={other:?}"),
        }
    });
    println!("{line}");
    std::process::exit(0);
}

// ---- the limit: wrk and curl ---------------------------------------------------------------

fn tool_available(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `wrk` on `url` with `conns` keep-alive connections (1 thread for 1 connection, else 2) for
/// `secs` seconds: its "Requests/sec", and its CPU per request in µs.
fn run_wrk(url: &str, conns: usize, secs: u64) -> (f64, f64) {
    let threads = if conns == 1 { 1 } else { 2 };
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{threads}"),
        format!("-c{conns}"),
        format!("-d{secs}s"),
        url.to_string(),
    ]);
    let (text, cpu, _) = run_reaped(cmd);
    let per_sec: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output: {text}"));
    (per_sec, cpu / (per_sec * secs as f64) * 1e6)
}

/// `curl -o /dev/null` of `url` (with `upload`: `curl -T FILE`, a PUT of the file): MB/s, its
/// peak RSS in MiB, its CPU s/GiB.
fn run_curl(url: &str, len: u64, upload: Option<&std::path::Path>) -> (f64, f64, f64) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w"]);
    match upload {
        Some(path) => cmd.arg("%{size_upload} %{time_total}").arg("-T").arg(path),
        None => cmd.arg("%{size_download} %{time_total}"),
    };
    cmd.arg(url);
    let (text, cpu, maxrss_mib) = run_reaped(cmd);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert!(
        f.len() == 2 && f[0] as u64 == len,
        "curl transferred {text:?}"
    );
    (
        len as f64 / f[1] / 1e6,
        maxrss_mib,
        cpu / (len as f64 / (1u64 << 30) as f64),
    )
}

/// Runs `cmd` to its end: its standard output, its CPU seconds (user + system) and its peak
/// RSS in MiB, from the child's own rusage.
// Reaped by `libc::wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_reaped(mut cmd: Command) -> (String, f64, f64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the limit tool");
    let mut text = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut text)
        .expect("the tool's output");
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child, whose pid `Child` will not wait for again.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        text,
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss as f64 / 1024.0,
    )
}

/// [`ureq_alone`] in a child process, so that its threads and their memory never count as
/// the other rows'.
fn ureq_alone_in_child(url: &str, threads: usize, n: usize) -> (f64, f64) {
    let what = "the ureq-alone row";
    let figures = numbers_from_child(ALONE_ENV, &format!("{threads} {n} {url}"), what);
    assert_eq!(figures.len(), 2, "{what} printed {figures:?}");
    (figures[0], figures[1])
}

/// ureq on `threads` threads of its own, no host and no client around it: `n` GETs of `url`
/// with keep-alive, each body read whole; calls/s (after a warm-up) and this process's CPU per
/// call in µs. The limit of a blocking library on this machine, for the blocking plugins
/// (`BENCH_PLUGINS`), which run the same kind of library on threads the plugin glue hands calls
/// to.
fn ureq_alone(url: &str, threads: usize, n: usize) -> (f64, f64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections(64)
        .max_idle_connections_per_host(64)
        .build()
        .into();
    let get = |agent: &ureq::Agent| {
        let mut response = agent
            .get(url)
            .header("authorization", "Bearer bench-token")
            .call()
            .expect("ureq alone: GET");
        response.body_mut().read_to_vec().expect("ureq alone: body");
    };
    let each = |k: usize, total: usize| total / threads + usize::from(k < total % threads);
    let run = |total: usize| {
        std::thread::scope(|s| {
            for k in 0..threads {
                let agent = agent.clone();
                s.spawn(move || (0..each(k, total)).for_each(|_| get(&agent)));
            }
        })
    };
    run(threads * 50);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    run(n);
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, (cpu_seconds() - cpu0) / n as f64 * 1e6)
}

// ---- this process's CPU and memory -----------------------------------------------------------

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
