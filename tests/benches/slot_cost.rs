//! The per-call cost of the client's own path (pipeline, transport slot, canary pick, counters)
//! over a transport that does no I/O: it answers every exchange at once with a small JSON
//! body. With the network gone, the host's share of a call is as large as it can be, so a
//! change on the per-call path (such as the swappable slot) shows here at its largest.
//!
//! ```sh
//! cargo bench -p apify-tests --bench slot_cost
//! ```
//!
//! Prints, per round, nanoseconds per call sequentially and with 32 calls in flight on a
//! two-thread runtime, then the medians. `BENCH_ROUNDS=N` (default 7), `BENCH_CALLS=N`
//! (default 200000 per measurement), `BENCH_WAIT=1` (each exchange yields to the runtime once
//! before it answers, as one that waits on the network does). Built unchanged at an older commit, it measures the
//! same thing there (see the README, Benchmarks).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use apify_host::{
    transport::{CallFuture, HttpTransport, TransportRequest, TransportResponse},
    ApifyClient,
};
use apify_tests::bench_util::{env_num, median};
use bytes::Bytes;

/// Answers `200 {"data":{}}` without I/O: at once, or (`BENCH_WAIT=1`) after yielding to
/// the runtime once, as an exchange that waits on the network does.
struct Instant200 {
    wait: bool,
}

impl HttpTransport for Instant200 {
    fn name(&self) -> &str {
        "instant"
    }
    fn call(&self, _request: TransportRequest) -> CallFuture {
        let wait = self.wait;
        Box::pin(async move {
            if wait {
                tokio::task::yield_now().await;
            }
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                "application/json".parse().unwrap(),
            );
            headers.insert(http::header::CONTENT_LENGTH, "11".parse().unwrap());
            let body: apify_host::transport::TransportBody =
                Box::pin(futures_util::stream::once(async {
                    Ok(Bytes::from_static(b"{\"data\":{}}"))
                }));
            Ok(TransportResponse {
                status: http::StatusCode::OK,
                headers,
                body,
            })
        })
    }
}

fn main() {
    let rounds = env_num("BENCH_ROUNDS", 7) as usize;
    let calls = env_num("BENCH_CALLS", 200_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = ApifyClient::builder()
        .transport(Arc::new(Instant200 {
            wait: env_num("BENCH_WAIT", 0) == 1,
        }))
        .api_url("http://127.0.0.1:9")
        .token("bench-token")
        .build()
        .unwrap();
    let one = |client: ApifyClient| async move {
        client
            .request(http::Method::GET, "/v2/users/me")
            .send()
            .await
            .unwrap();
    };
    // Warm-up.
    rt.block_on(async {
        for _ in 0..10_000 {
            one(client.clone()).await;
        }
    });
    let mut seq = Vec::new();
    let mut par = Vec::new();
    for round in 1..=rounds {
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..calls {
                one(client.clone()).await;
            }
        });
        seq.push(per_call(started.elapsed(), calls));
        let started = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for _ in 0..calls / 32 {
                            one(client.clone()).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        par.push(per_call(started.elapsed(), calls / 32 * 32));
        println!(
            "round {round}: sequential {:.0} ns/call, 32 in flight {:.0} ns/call",
            seq[round - 1],
            par[round - 1]
        );
    }
    println!(
        "median: sequential {:.0} ns/call, 32 in flight {:.0} ns/call",
        median(&mut seq),
        median(&mut par)
    );
}

fn per_call(elapsed: Duration, calls: u64) -> f64 {
    elapsed.as_nanos() as f64 / calls as f64
}
