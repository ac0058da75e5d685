//! Per-attempt timeouts, for every transport: the tier's timeout doubles per attempt up to
//! `timeout_max`, reaches the transport in `Request::timeout`, and is enforced by the host too
//! (head and, for buffered calls, each body chunk). A timeout is a transient error.

use std::time::{Duration, Instant};

use apify_host::{
    pipeline::{ApiRequest, HttpSettings, TimeoutTier},
    transport::{TransportError, TransportErrorKind as ErrorKind},
};
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use http::Method;
use serde_json::json;
use testkit::{Action, TestServer};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settings(short: u64, max: u64, retries: u32) -> HttpSettings {
    fast_settings()
        .max_retries(retries)
        .timeout_short(ms(short))
        .timeout_max(ms(max))
}

fn get(path: &str, tier: TimeoutTier) -> ApiRequest {
    ApiRequest::new(Method::GET, path).timeout(tier)
}

transport_tests! {
    #[tokio::test]
    slow_headers_time_out_and_the_next_attempt_waits_twice_as_long,
    a_server_that_never_answers_gives_a_timeout_error_after_the_last_attempt,
    the_host_enforces_the_timeout_when_a_transport_ignores_it,
    a_stalled_body_of_a_buffered_call_times_out_and_is_retried,
    a_slow_but_flowing_body_is_not_cut_short,
    no_timeout_passes_none_and_waits,
    timeouts_grow_per_attempt_and_stop_at_timeout_max,
}

async fn slow_headers_time_out_and_the_next_attempt_waits_twice_as_long(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let rec = Recording::new(t.transport.clone());
    let p = pipeline_for(rec.clone(), &server, settings(200, 10_000, 4), None);
    // Both answers take 300 ms: beyond the 200 ms first attempt, within the 400 ms second.
    server.script(
        "/v2/slow",
        vec![
            Action::json(200, json!({"data": 1})).delayed(ms(300)),
            Action::json(200, json!({"data": 2})).delayed(ms(300)),
        ],
    );

    let resp = p.execute(get("/v2/slow", TimeoutTier::Short)).await;
    let done = Instant::now();
    let data: i64 = resp
        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
        .data()
        .await
        .unwrap();
    assert_eq!(data, 2, "{}", t.name);

    let seen = rec.seen();
    let timeouts: Vec<_> = seen.iter().map(|s| s.timeout).collect();
    assert_eq!(timeouts, [Some(ms(200)), Some(ms(400))], "{}", t.name);
    // Attempt 2 waited longer than the first tier allows.
    let waited = done.duration_since(seen[1].at);
    assert!(waited >= ms(300), "{}: {waited:?}", t.name);
    assert_eq!(server.requests().len(), 2, "{}", t.name);
    let s = p.statistics();
    assert_eq!((s.calls, s.requests), (1, 2));
}

async fn a_server_that_never_answers_gives_a_timeout_error_after_the_last_attempt(
    t: TransportUnderTest,
) {
    let server = TestServer::start().await;
    let rec = Recording::new(t.transport.clone());
    let p = pipeline_for(rec.clone(), &server, settings(100, 10_000, 2), None);
    server.script("/v2/hang", vec![Action::Hang, Action::Hang, Action::Hang]);

    let started = Instant::now();
    let e = p
        .execute(get("/v2/hang", TimeoutTier::Short))
        .await
        .unwrap_err();
    let f = e
        .transport_failure()
        .unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(
        (f.kind, f.attempt),
        (ErrorKind::TIMEOUT, 3),
        "{}: {e}",
        t.name
    );
    assert!(f.is_transient());
    let timeouts: Vec<_> = rec.seen().iter().map(|s| s.timeout).collect();
    assert_eq!(
        timeouts,
        [Some(ms(100)), Some(ms(200)), Some(ms(400))],
        "{}",
        t.name
    );
    assert!(started.elapsed() >= ms(700), "{}", t.name);
}

async fn the_host_enforces_the_timeout_when_a_transport_ignores_it(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let rec = Recording::ignoring_timeouts(t.transport.clone());
    let p = pipeline_for(rec, &server, settings(150, 10_000, 0), None);
    server.script("/v2/hang", vec![Action::Hang]);

    let started = Instant::now();
    let e = p
        .execute(get("/v2/hang", TimeoutTier::Short))
        .await
        .unwrap_err();
    let f = e
        .transport_failure()
        .unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(f.kind, ErrorKind::TIMEOUT, "{}: {e}", t.name);
    assert!(f.message.contains("host"), "{}: {}", t.name, f.message);
    let took = started.elapsed();
    assert!(
        took >= ms(150) && took < Duration::from_secs(5),
        "{}: {took:?}",
        t.name
    );
}

async fn a_stalled_body_of_a_buffered_call_times_out_and_is_retried(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, settings(150, 10_000, 4), None);
    // The head arrives at once, then the body stalls longer than the attempt's timeout.
    server.script(
        "/bytes/1000",
        vec![Action::SlowBody {
            total_len: 1000,
            chunk: 100,
            interval: ms(1000),
        }],
    );

    let body = p
        .execute(get("/bytes/1000", TimeoutTier::Short))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, testkit::pattern_bytes(1000), "{}", t.name);
    assert_eq!(server.requests().len(), 2, "{}", t.name);
}

async fn a_slow_but_flowing_body_is_not_cut_short(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, settings(300, 10_000, 0), None);
    // 8 chunks 100 ms apart: 800 ms in total, longer than the 300 ms timeout, but never
    // idle for that long. The limit is on silence, not on the transfer.
    server.script(
        "/bytes/800",
        vec![Action::SlowBody {
            total_len: 800,
            chunk: 100,
            interval: ms(100),
        }],
    );
    let body = p
        .execute(get("/bytes/800", TimeoutTier::Short))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 800, "{}", t.name);
}

async fn no_timeout_passes_none_and_waits(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let rec = Recording::new(t.transport.clone());
    // Even a tiny timeout_max does not apply to a call that waits on purpose.
    let p = pipeline_for(rec.clone(), &server, settings(50, 50, 0), None);
    server.script(
        "/v2/wait",
        vec![Action::json(200, json!({"data": 1})).delayed(ms(300))],
    );

    p.execute(get("/v2/wait", TimeoutTier::NoTimeout))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(rec.seen()[0].timeout, None, "{}", t.name);
}

async fn timeouts_grow_per_attempt_and_stop_at_timeout_max(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let timeouts = vec![TransportError::new(ErrorKind::TIMEOUT, "slow"); 3];
    let rec = Recording::failing_first(t.transport.clone(), timeouts);
    let p = pipeline_for(rec.clone(), &server, settings(100, 500, 4), None);

    let resp = p.execute(get("/echo", TimeoutTier::Short)).await.unwrap();
    assert_eq!(resp.status, 200);
    let seen: Vec<_> = rec.seen().iter().map(|s| s.timeout).collect();
    let expect = [100, 200, 400, 500].map(|n| Some(ms(n)));
    assert_eq!(seen, expect, "{}", t.name);

    // Tiers: the default is medium; custom and long tiers come from the settings.
    let rec = Recording::new(t.transport.clone());
    let s = fast_settings()
        .timeout_medium(ms(1500))
        .timeout_long(ms(2500));
    let p = pipeline_for(rec.clone(), &server, s, None);
    p.execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .unwrap();
    p.execute(get("/echo", TimeoutTier::Long)).await.unwrap();
    p.execute(get("/echo", TimeoutTier::Custom(ms(700))))
        .await
        .unwrap();
    let seen: Vec<_> = rec.seen().iter().map(|s| s.timeout).collect();
    assert_eq!(
        seen,
        [Some(ms(1500)), Some(ms(2500)), Some(ms(700))],
        "{}",
        t.name
    );
}
