//! The pipeline's retry policy, end to end against a loopback server, for every transport:
//! what is retried (429, 5xx, transient transport errors, a body cut mid-way), what is not
//! (other 4xx, 3xx, permanent transport errors), how long it waits, and `Retry-After`.

use std::time::{Duration, Instant};

use apify_host::{
    error::ApiErrorKind,
    pipeline::ApiRequest,
    transport::{TransportError, TransportErrorKind as ErrorKind},
};
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use http::Method;
use serde_json::json;
use testkit::{pattern_bytes, Action, TestServer};

fn get(path: &str) -> ApiRequest {
    ApiRequest::new(Method::GET, path)
}

transport_tests! {
    #[tokio::test]
    rate_limited_twice_then_ok_succeeds_on_attempt_three_after_backoff,
    server_errors_exhaust_the_retries_and_report_the_last_attempt,
    client_errors_and_redirects_are_not_retried,
    record_not_found_on_a_get_is_none,
    a_body_cut_mid_way_is_retried_and_the_caller_sees_whole_data,
    a_streamed_call_gets_the_stream_and_its_mid_body_error,
    retry_after_seconds_on_429_and_503_is_waited_for,
    retry_after_is_capped_at_timeout_max_and_ignored_on_500,
    transport_errors_are_retried_by_kind_and_hint,
    a_refused_connection_is_retried_then_reported_as_connect,
    a_retried_upload_resends_the_same_compressed_bytes,
}

async fn rate_limited_twice_then_ok_succeeds_on_attempt_three_after_backoff(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let settings = fast_settings();
    let min = settings.min_delay_between_retries;
    let p = pipeline_for(t.transport.clone(), &server, settings, Some("tok"));
    server.script(
        "/v2/acts",
        vec![
            Action::status(429),
            Action::status(429),
            Action::json(200, json!({"data": {"ok": true}})),
        ],
    );

    let data: serde_json::Value = p
        .execute(get("/v2/acts"))
        .await
        .unwrap()
        .data()
        .await
        .unwrap();
    assert_eq!(data, json!({"ok": true}), "{}", t.name);

    let log = server.requests();
    assert_eq!(log.len(), 3, "{}", t.name);
    // Sleep k (after failed attempt k) is uniform(1,2)·min·2^(k-1): at least min·2^(k-1).
    // Upper bounds are generous: they only catch a runaway wait, not scheduling noise.
    let (g1, g2) = (gap(&log[0], &log[1]), gap(&log[1], &log[2]));
    assert!(
        g1 >= min && g1 < Duration::from_secs(2),
        "{}: {g1:?}",
        t.name
    );
    assert!(
        g2 >= min * 2 && g2 < Duration::from_secs(2),
        "{}: {g2:?}",
        t.name
    );

    let s = p.statistics();
    assert_eq!((s.calls, s.requests), (1, 3), "{}", t.name);
    assert_eq!(s.rate_limit_errors, vec![1, 1], "{}", t.name);
}

async fn server_errors_exhaust_the_retries_and_report_the_last_attempt(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    server.script("/v2/x", vec![Action::status(503); 5]);

    let e = p.execute(get("/v2/x")).await.unwrap_err();
    let api = e.api_error().unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(api.status, 503, "{}", t.name);
    assert_eq!(api.attempt, 5, "{}", t.name);
    assert_eq!(api.kind(), ApiErrorKind::Server);
    assert_eq!(api.error_type.as_deref(), Some("service-unavailable"));
    assert_eq!(server.requests().len(), 5, "{}", t.name);
    assert_eq!(p.statistics().requests, 5, "{}", t.name);
}

async fn client_errors_and_redirects_are_not_retried(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    for status in [400, 401, 403, 404, 409, 418, 301, 304] {
        server.clear_requests();
        server.script("/v2/x", vec![Action::status(status), Action::status(200)]);
        let e = p.execute(get("/v2/x")).await.unwrap_err();
        assert_eq!(e.status(), Some(status), "{}: {e}", t.name);
        assert_eq!(e.attempt(), Some(1), "{}", t.name);
        assert_eq!(
            server.requests().len(),
            1,
            "{}: {status} was retried",
            t.name
        );
        server.clear_scripts();
    }
}

async fn record_not_found_on_a_get_is_none(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    // The server's fallback route answers 404 record-not-found.
    // `get`-like calls turn exactly this error into `None`.
    let r = p.execute(get("/v2/datasets/missing")).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_record_not_found()),
        "{}: {r:?}",
        t.name
    );
    assert_eq!(server.requests().len(), 1, "{}", t.name);

    // Any other 404 type stays an error.
    server.script(
        "/v2/other",
        vec![Action::json(
            404,
            json!({"error": {"type": "page-not-found", "message": "x"}}),
        )],
    );
    let r = p.execute(get("/v2/other")).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_not_found() && !e.is_record_not_found()),
        "{}: {r:?}",
        t.name
    );
}

async fn a_body_cut_mid_way_is_retried_and_the_caller_sees_whole_data(t: TransportUnderTest) {
    const LEN: usize = 200_000;
    let faults = [
        Action::ResetMidBody {
            total_len: LEN as u64,
            send: 50_000,
        },
        Action::TruncatedBody {
            total_len: LEN as u64,
            send: 50_000,
        },
        Action::ResetBeforeResponse,
        Action::CloseBeforeResponse,
    ];
    for fault in &faults {
        let server = TestServer::start().await;
        let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
        let path = format!("/bytes/{LEN}");
        server.script(&path, vec![fault.clone()]);

        let resp = p
            .execute(get(&path))
            .await
            .unwrap_or_else(|e| panic!("{} {fault:?}: {e}", t.name));
        // A buffered call hands over the whole body, read inside the retry loop.
        assert_eq!(
            resp.buffered_body().map(|b| b.len()),
            Some(LEN),
            "{} {fault:?}",
            t.name
        );
        let body = resp.bytes().await.unwrap();
        assert!(
            body == pattern_bytes(LEN),
            "{} {fault:?}: wrong data",
            t.name
        );
        assert_eq!(server.requests().len(), 2, "{} {fault:?}", t.name);
    }
}

async fn a_streamed_call_gets_the_stream_and_its_mid_body_error(t: TransportUnderTest) {
    const LEN: u64 = 200_000;
    let server = TestServer::start().await;
    // Without the pipeline's own help for streamed bodies (reading small ones whole, resuming
    // with Range: see pipeline_bounds.rs), the mid-body error reaches the caller.
    let settings = fast_settings().read_whole_below(0).max_resumes(0);
    let p = pipeline_for(t.transport.clone(), &server, settings, None);
    server.script(
        "/bytes/200000",
        vec![Action::ResetMidBody {
            total_len: LEN,
            send: 50_000,
        }],
    );

    let resp = p.execute(get("/bytes/200000").stream()).await.unwrap();
    assert!(resp.buffered_body().is_none(), "{}", t.name);
    let e = resp.bytes().await.unwrap_err();
    let f = e
        .transport_failure()
        .unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert!(f.is_transient(), "{}: {f}", t.name);
    assert_eq!(f.transport, t.transport.name());
    // Once the head is in, the stream is the caller's: no second request.
    assert_eq!(server.requests().len(), 1, "{}", t.name);
}

async fn retry_after_seconds_on_429_and_503_is_waited_for(t: TransportUnderTest) {
    for status in [429, 503] {
        let server = TestServer::start().await;
        let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
        server.script(
            "/v2/x",
            vec![Action::status(status).with_header("Retry-After", "1")],
        );
        server.script("/v2/x", vec![Action::json(200, json!({"data": 1}))]);

        p.execute(get("/v2/x")).await.unwrap();
        let log = server.requests();
        assert_eq!(log.len(), 2);
        let g = gap(&log[0], &log[1]);
        assert!(g >= Duration::from_secs(1), "{} {status}: {g:?}", t.name);
        assert!(g < Duration::from_secs(5), "{} {status}: {g:?}", t.name);
    }
}

async fn retry_after_is_capped_at_timeout_max_and_ignored_on_500(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let settings = fast_settings().timeout_max(Duration::from_millis(300));
    let p = pipeline_for(t.transport.clone(), &server, settings, None);
    server.script(
        "/v2/x",
        vec![
            Action::status(429).with_header("Retry-After", "3600"),
            Action::status(500).with_header("Retry-After", "3600"),
            Action::json(200, json!({"data": 1})),
        ],
    );
    let started = Instant::now();
    p.execute(get("/v2/x")).await.unwrap();
    let log = server.requests();
    assert_eq!(log.len(), 3, "{}", t.name);
    assert!(
        gap(&log[0], &log[1]) >= Duration::from_millis(300),
        "{}",
        t.name
    );
    // A 500's Retry-After is not a retry hint: the plain backoff applies.
    assert!(gap(&log[1], &log[2]) < Duration::from_secs(2), "{}", t.name);
    assert!(started.elapsed() < Duration::from_secs(5), "{}", t.name);
}

async fn transport_errors_are_retried_by_kind_and_hint(t: TransportUnderTest) {
    let transient = || {
        vec![
            TransportError::new(ErrorKind::CONNECT, "refused"),
            TransportError::new(ErrorKind::TIMEOUT, "slow"),
            TransportError::new(ErrorKind::IO, "reset"),
            TransportError::new(ErrorKind::OTHER, "flaky").retryable(true),
        ]
    };
    let server = TestServer::start().await;
    let rec = Recording::failing_first(t.transport.clone(), transient());
    let p = pipeline_for(rec.clone(), &server, fast_settings(), None);
    let resp = p
        .execute(get("/echo"))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(resp.status, 200);
    assert_eq!(rec.seen().len(), 5, "{}", t.name);
    assert_eq!(server.requests().len(), 1, "{}", t.name);

    let permanent = [
        TransportError::new(ErrorKind::TLS, "bad certificate"),
        TransportError::new(ErrorKind::PROTOCOL, "garbage"),
        TransportError::new(ErrorKind::INVALID_REQUEST, "bad url"),
        TransportError::new(ErrorKind::PANIC, "plugin panicked"),
        TransportError::new(ErrorKind::OTHER, "unknown").retryable(false),
        // A kind from a newer interface: this host does not know it, the hint decides.
        TransportError::new(ErrorKind(77), "newer kind").retryable(false),
    ];
    for err in permanent {
        let rec = Recording::failing_first(t.transport.clone(), vec![err.clone()]);
        let p = pipeline_for(rec.clone(), &server, fast_settings(), None);
        let e = p.execute(get("/echo")).await.unwrap_err();
        let f = e
            .transport_failure()
            .unwrap_or_else(|| panic!("{}: {e}", t.name));
        assert_eq!((f.kind, f.attempt), (err.kind, 1), "{}", t.name);
        assert_eq!(f.message, err.message);
        assert_eq!(rec.seen().len(), 1, "{}: {} was retried", t.name, err.kind);
        let text = e.to_string();
        assert!(
            text.contains(t.transport.name()) && text.contains(&err.message),
            "{text}"
        );
    }

    let unknown_retryable = vec![TransportError::new(ErrorKind(77), "newer").retryable(true)];
    let rec = Recording::failing_first(t.transport.clone(), unknown_retryable);
    let p = pipeline_for(rec.clone(), &server, fast_settings(), None);
    p.execute(get("/echo")).await.unwrap();
    assert_eq!(rec.seen().len(), 2, "{}", t.name);
}

async fn a_refused_connection_is_retried_then_reported_as_connect(t: TransportUnderTest) {
    let url = testkit::closed_port_url();
    let settings = fast_settings().max_retries(2);
    let p = client_at(t.transport.clone(), settings, &url, None);
    let e = p.execute(get("/v2/x")).await.unwrap_err();
    let Some(f) = e.transport_failure() else {
        panic!("{}: {e}", t.name)
    };
    assert_eq!(
        (f.kind, f.attempt),
        (ErrorKind::CONNECT, 3),
        "{}: {e}",
        t.name
    );
    assert_eq!(f.transport, t.transport.name());
    assert_eq!((f.method.as_str(), f.path.as_str()), ("GET", "/v2/x"));
    assert_eq!(p.statistics().requests, 3);
}

async fn a_retried_upload_resends_the_same_compressed_bytes(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let rec = Recording::new(t.transport.clone());
    let p = pipeline_for(rec.clone(), &server, fast_settings(), None);
    server.script("/echo", vec![Action::status(500), Action::status(502)]);
    let doc =
        json!({"items": (0..200).map(|i| json!({"i": i, "name": "item"})).collect::<Vec<_>>()});

    let req = ApiRequest::new(Method::POST, "/echo").json(&doc).unwrap();
    p.execute(req).await.unwrap();

    let log = server.requests();
    assert_eq!(log.len(), 3, "{}", t.name);
    for r in &log {
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{}", t.name);
        assert_eq!(r.body, log[0].body, "{}", t.name);
        let back: serde_json::Value = serde_json::from_slice(&gunzip(&r.body)).unwrap();
        assert_eq!(back, doc);
    }
    // Compressed once: every attempt handed the transport the very same buffer.
    let seen = rec.seen();
    assert!(
        seen.iter()
            .all(|s| s.body.as_ref().map(|b| b.as_ptr())
                == seen[0].body.as_ref().map(|b| b.as_ptr())),
        "{}",
        t.name
    );
}
