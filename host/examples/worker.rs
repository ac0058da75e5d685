//! A long-running program built on the library: a worker that processes a request queue, as a
//! scraper orchestrator or a service would. Ops change its transport without restarting it:
//!
//! ```sh
//! APIFY_HOST_CONFIG=/etc/apify/worker.toml cargo run --release --example worker -- my-queue &
//! kill -USR1 %1     # per-transport statistics, one JSON line on stdout
//! $EDITOR /etc/apify/worker.toml   # e.g. [transport] plugin = ".../libapify_transport_reqwest.so"
//! kill -HUP %1      # reload: new calls on the new transport, calls in flight finish on the old
//! kill -USR1 %1     # the new transport is primary; the old one drains, then disappears
//! kill -TERM %1     # finishes the requests in hand, prints its totals, exits
//! ```
//!
//! Each request of the queue (`[QUEUE]`, default `worker-queue`) is locked, recorded in the
//! dataset `<QUEUE>-results` (its URL and the transport that carried the work) and marked
//! handled. `WORKER_CONCURRENCY` (default 8) requests are worked on at once;
//! `WORKER_EXIT_WHEN_EMPTY=1` makes it exit once the queue is done (a batch job) instead of
//! waiting for more; `WORKER_DELAY_MS=N` makes each request take N ms more (a demo's pace).
//! Logs (`tracing`, info level) go to stderr.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use apify_host::{
    clients::RequestQueueClient, models::QueueRequest, pipeline::TransportStatistics, ApifyClient,
};
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

/// How long a worker holds the requests it took before another may take them.
const LOCK_SECS: u64 = 60;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let queue_name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "worker-queue".into());
    let concurrency: usize = match std::env::var("WORKER_CONCURRENCY") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("WORKER_CONCURRENCY={v:?} is not a number of workers"))?,
        Err(_) => 8,
    };
    let exit_when_empty = std::env::var("WORKER_EXIT_WHEN_EMPTY").is_ok_and(|v| v == "1");
    let delay = match std::env::var("WORKER_DELAY_MS") {
        Ok(v) => Duration::from_millis(
            v.parse()
                .map_err(|_| format!("WORKER_DELAY_MS={v:?} is not a number of milliseconds"))?,
        ),
        Err(_) => Duration::ZERO,
    };

    let client = ApifyClient::from_env()?;
    // The one line that makes the transport swappable by `kill -HUP`.
    apify_host::reload_on_sighup(&client)?;

    let queue = client
        .request_queues()
        .get_or_create(Some(&queue_name))
        .await?;
    let results = client
        .datasets()
        .get_or_create(Some(&format!("{queue_name}-results")), None)
        .await?;
    tracing::info!(queue = %queue.id, transport = %client.transport_name(), concurrency, "worker started");

    let stop = Arc::new(AtomicBool::new(false));
    let processed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|n| {
            let client = client.clone();
            // One client key per worker: each holds its own locks.
            let queue = client
                .request_queue(&queue.id)
                .with_client_key(format!("worker-{}-{n}", std::process::id()));
            let results = client.dataset(&results.id);
            let (stop, processed, failed) = (stop.clone(), processed.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match next_requests(&queue).await {
                        Ok(batch) if batch.is_empty() => {
                            if exit_when_empty {
                                break;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Ok(batch) => {
                            for request in batch {
                                if !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                match process(&client, &queue, &results, &request).await {
                                    Ok(()) => processed.fetch_add(1, Ordering::Relaxed),
                                    Err(e) => {
                                        // Its lock expires and it is taken again later.
                                        tracing::error!(url = %request.url, error = %e, "request failed");
                                        failed.fetch_add(1, Ordering::Relaxed)
                                    }
                                };
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the queue's head; trying again");
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect();

    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut all_done = tokio::spawn(futures_util::future::join_all(workers));
    loop {
        tokio::select! {
            _ = usr1.recv() => print_statistics("statistics", &client, &processed, &failed),
            _ = term.recv() => {
                tracing::info!("SIGTERM: finishing the requests in hand");
                stop.store(true, Ordering::Relaxed);
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted: finishing the requests in hand");
                stop.store(true, Ordering::Relaxed);
            }
            _ = &mut all_done => break,
        }
    }
    print_statistics("done", &client, &processed, &failed);
    Ok(())
}

/// The next requests of the queue for this worker, locked: none when the queue is done.
async fn next_requests(queue: &RequestQueueClient) -> apify_host::Result<Vec<QueueRequest>> {
    Ok(queue.list_and_lock_head(LOCK_SECS, Some(5)).await?.items)
}

/// The work on one request: record it in the results, then mark it handled.
async fn process(
    client: &ApifyClient,
    queue: &RequestQueueClient,
    results: &apify_host::clients::DatasetClient,
    request: &QueueRequest,
) -> apify_host::Result<()> {
    results
        .push_items(&json!({ "url": request.url, "transport": client.transport_name() }))
        .await?;
    let mut handled = serde_json::to_value(request).expect("a request serializes");
    handled["handledAt"] = json!(chrono::Utc::now().to_rfc3339());
    queue.update_request(&handled, None).await?;
    Ok(())
}

/// One JSON line on stdout: the work done and each transport's statistics.
fn print_statistics(event: &str, client: &ApifyClient, processed: &AtomicU64, failed: &AtomicU64) {
    let transports: Vec<_> = client
        .transport_statistics()
        .iter()
        .map(transport_json)
        .collect();
    println!(
        "{}",
        json!({
            "event": event,
            "processed": processed.load(Ordering::Relaxed),
            "failed": failed.load(Ordering::Relaxed),
            "calls": client.statistics().calls,
            "transports": transports,
        })
    );
}

fn transport_json(t: &TransportStatistics) -> serde_json::Value {
    // Milliseconds, to the microsecond.
    let ms = |d: Option<Duration>| d.map(|d| d.as_micros() as f64 / 1000.0);
    json!({
        "name": t.name,
        "role": t.role,
        "calls": t.calls,
        "failed_calls": t.failed_calls,
        "in_flight": t.in_flight,
        "latency_p50_ms": ms(t.latency_p50),
        "latency_p99_ms": ms(t.latency_p99),
        "rolled_back": t.rolled_back,
    })
}
