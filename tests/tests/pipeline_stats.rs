//! Statistics and per-attempt logs, for every transport: calls, attempts and 429s per attempt
//! agree with what the server saw; each attempt leaves one `tracing` event with its fields.

use std::sync::Arc;

use apify_host::{pipeline::ApiRequest, ApifyClient};
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use http::Method;
use testkit::{Action, TestServer};

fn echo() -> ApiRequest {
    ApiRequest::new(Method::GET, "/echo")
}

transport_tests! {
    #[tokio::test]
    statistics_match_the_server_log,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    statistics_count_concurrent_calls,
    #[tokio::test]
    each_attempt_is_logged_with_its_fields,
}

async fn statistics_match_the_server_log(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let settings = fast_settings().max_retries(2);
    let p = pipeline_for(t.transport.clone(), &server, settings, None);
    let s0 = p.statistics();
    assert_eq!(
        (s0.calls, s0.requests, s0.rate_limit_errors.len()),
        (0, 0, 0)
    );

    // 429, 429, 200
    server.script("/echo", vec![Action::status(429), Action::status(429)]);
    p.execute(echo()).await.unwrap();
    // 500, 200
    server.script("/echo", vec![Action::status(500)]);
    p.execute(echo()).await.unwrap();
    // 200
    p.execute(echo()).await.unwrap();
    // 400: not retried
    server.script("/echo", vec![Action::status(400)]);
    p.execute(echo()).await.unwrap_err();
    // 429 on every attempt: gives up after 3
    server.script("/echo", vec![Action::status(429); 3]);
    p.execute(echo()).await.unwrap_err();

    let s = p.statistics();
    assert_eq!(s.calls, 5, "{}", t.name);
    assert_eq!(s.requests as usize, server.requests().len(), "{}", t.name);
    assert_eq!(s.requests, 10, "{}", t.name);
    assert_eq!(s.rate_limit_errors, vec![2, 2, 1], "{}", t.name);
}

async fn statistics_count_concurrent_calls(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = Arc::new(pipeline_for(
        t.transport.clone(),
        &server,
        fast_settings(),
        None,
    ));
    // Eight 429s spread over eight concurrent calls: each costs one extra attempt, whichever
    // call it lands on.
    server.script("/echo", vec![Action::status(429); 8]);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.execute(echo()).await.map(|_| ()) })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let s = p.statistics();
    assert_eq!(s.calls, 8, "{}", t.name);
    assert_eq!(s.requests, 16, "{}", t.name);
    assert_eq!(s.requests as usize, server.requests().len(), "{}", t.name);
    assert_eq!(s.rate_limit_errors.iter().sum::<u64>(), 8, "{}", t.name);
}

async fn each_attempt_is_logged_with_its_fields(t: TransportUnderTest) {
    let logs = LogCapture::global();
    let server = TestServer::start().await;
    let p: ApifyClient = pipeline_for(t.transport.clone(), &server, fast_settings(), Some("tok"));
    // A path of its own: the capture also holds the other tests' logs.
    let path = format!("/v2/logged-{}", t.name.replace(':', "-"));
    server.script(
        &path,
        vec![
            Action::status(429),
            Action::json(200, serde_json::json!({"data": 1})),
        ],
    );
    p.execute(ApiRequest::new(Method::GET, &path))
        .await
        .unwrap();
    let ours: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains(&format!("path={path} ")))
        .map(str::to_string)
        .collect();
    let name = t.transport.name();
    let transport = format!("transport=\"{name}\"");
    let has = |needles: &[&str]| ours.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        has(&[
            "method=GET",
            "attempt=1",
            "status=429",
            "duration_ms=",
            &transport
        ]),
        "{}: {ours:#?}",
        t.name
    );
    assert!(
        has(&["attempt=1", "delay_ms=", "retrying", &transport]),
        "{}: {ours:#?}",
        t.name
    );
    assert!(
        has(&[
            "method=GET",
            "attempt=2",
            "status=200",
            "duration_ms=",
            &transport
        ]),
        "{}: {ours:#?}",
        t.name
    );
    assert!(ours
        .iter()
        .all(|l| !l.contains("tok\"") && !l.contains("Bearer")));
}
