//! Request preparation as the server sees it, for every transport: default headers and the
//! `User-Agent`, case-insensitive header merge (the caller wins), query and path encoding, JSON
//! and raw bodies, and gzip compression (threshold, content types, caller encodings, off).

use apify_host::pipeline::ApiRequest;
use apify_tests::{noise, pipeline_support::*, transport_tests, TransportUnderTest};
use chrono::{TimeZone, Utc};
use http::Method;
use serde_json::json;
use testkit::{LoggedRequest, TestServer};

/// All values of a header, by case-insensitive name.
fn values<'a>(r: &'a LoggedRequest, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `a=1&b=x%2Cy` → `[("a","1"), ("b","x,y")]`.
fn decode_query(q: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let h = u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape");
                    out.push(h);
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).expect("utf-8")
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

transport_tests! {
    #[tokio::test]
    default_headers_are_sent,
    caller_headers_win_case_insensitively,
    query_and_path_are_encoded_as_the_api_expects,
    bodies_are_gzipped_once_above_the_threshold_for_compressible_types,
    json_bodies_are_typed_and_compressed_when_large,
    a_caller_encoding_is_kept_and_compression_can_be_turned_off,
}

async fn default_headers_are_sent(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(
        t.transport.clone(),
        &server,
        fast_settings(),
        Some("placeholder_token"),
    );
    p.execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .unwrap();

    let r = &server.requests()[0];
    assert_eq!(values(r, "accept"), ["application/json, */*"], "{}", t.name);
    assert_eq!(
        values(r, "authorization"),
        ["Bearer placeholder_token"],
        "{}",
        t.name
    );
    let ua = values(r, "user-agent");
    assert_eq!(ua.len(), 1, "{}: {ua:?}", t.name);
    let at_home =
        parse_user_agent(ua[0]).unwrap_or_else(|| panic!("{}: bad UA {:?}", t.name, ua[0]));
    assert_eq!(at_home, std::env::var_os("APIFY_IS_AT_HOME").is_some());
    if std::env::var_os("APIFY_WORKFLOW_KEY").is_none() {
        assert!(values(r, "x-apify-workflow-key").is_empty(), "{}", t.name);
    }
    // No body, no body headers.
    assert!(
        values(r, "content-encoding").is_empty() && r.body.is_empty(),
        "{}",
        t.name
    );

    // Without a token there is no Authorization header at all.
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    p.execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .unwrap();
    assert!(
        values(&server.requests()[1], "authorization").is_empty(),
        "{}",
        t.name
    );
}

async fn caller_headers_win_case_insensitively(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(
        t.transport.clone(),
        &server,
        fast_settings(),
        Some("default_token"),
    );
    let req = ApiRequest::new(Method::GET, "/echo")
        .header("ACCEPT", "text/plain")
        .header("authorization", "Bearer per-request")
        .header("User-Agent", "CustomUserAgent/1.0")
        .header("Test-Header", "blah");
    p.execute(req).await.unwrap();

    let r = &server.requests()[0];
    assert_eq!(values(r, "accept"), ["text/plain"], "{}", t.name);
    assert_eq!(
        values(r, "authorization"),
        ["Bearer per-request"],
        "{}",
        t.name
    );
    assert_eq!(
        values(r, "user-agent"),
        ["CustomUserAgent/1.0"],
        "{}",
        t.name
    );
    assert_eq!(values(r, "test-header"), ["blah"], "{}", t.name);
}

async fn query_and_path_are_encoded_as_the_api_expects(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    let dt = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 45).unwrap()
        + chrono::Duration::milliseconds(123);
    let req = ApiRequest::new(Method::GET, "/echo")
        .query("limit", 10)
        .query("flag", true)
        .query("desc", false)
        .query("skipped", None::<String>)
        .query("fields", vec!["a".to_string(), "b".to_string()])
        .query("createdAt", dt)
        .query("name", "a b&c=d/é");
    p.execute(req).await.unwrap();

    let q = server.requests()[0].query.clone().unwrap_or_default();
    let pairs = decode_query(&q);
    let expect: Vec<(String, String)> = [
        ("limit", "10"),
        ("flag", "true"),
        ("desc", "false"),
        ("fields", "a,b"),
        ("createdAt", "2024-01-15T10:30:45.123Z"),
        ("name", "a b&c=d/é"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, expect, "{}: {q}", t.name);

    // Ids turn `/` into `~`; keys stay one segment, whatever they contain.
    let req = ApiRequest::new(Method::GET, "/v2/key-value-stores")
        .id("someone/store")
        .segment("records")
        .key("a/b c?d#e");
    let _ = p.execute(req).await; // the fallback route answers 404; the path is what matters
    let path = &server.requests()[1].path;
    assert_eq!(
        path, "/v2/key-value-stores/someone~store/records/a%2Fb%20c%3Fd%23e",
        "{}",
        t.name
    );
}

async fn bodies_are_gzipped_once_above_the_threshold_for_compressible_types(t: TransportUnderTest) {
    let text = |n: usize| "x".repeat(n).into_bytes();
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    // (content type, body, expect gzip)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("text/plain", text(1023), false),
        ("text/plain", text(1024), true),
        ("text/plain; charset=utf-8", text(50_000), true),
        ("application/octet-stream", text(4096), true),
        ("image/png", text(4096), false),
        ("video/mp4", text(4096), false),
        ("application/zip", text(4096), false),
        ("image/svg+xml", text(4096), true),
        ("image/bmp", text(4096), true),
        ("application/ld+json", text(4096), true),
        // Compressible by type, but bytes that gzip cannot shrink by 10 % go as they are.
        ("application/octet-stream", noise(4096), false),
    ];
    for (ct, body, gz) in &cases {
        server.clear_requests();
        let req = ApiRequest::new(Method::PUT, "/echo").body(ct, body.clone());
        p.execute(req).await.unwrap();
        let r = &server.requests()[0];
        assert_eq!(values(r, "content-type"), [*ct], "{}", t.name);
        if *gz {
            assert_eq!(
                values(r, "content-encoding"),
                ["gzip"],
                "{} {ct} {}",
                t.name,
                body.len()
            );
            assert!(r.body.len() < body.len());
            assert_eq!(&gunzip(&r.body), body, "{} {ct}", t.name);
        } else {
            assert!(
                values(r, "content-encoding").is_empty(),
                "{} {ct} {}",
                t.name,
                body.len()
            );
            assert_eq!(&r.body[..], &body[..], "{} {ct}", t.name);
        }
    }
}

async fn json_bodies_are_typed_and_compressed_when_large(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);

    let small = json!({"key": "value", "number": 42});
    p.execute(ApiRequest::new(Method::POST, "/echo").json(&small).unwrap())
        .await
        .unwrap();
    let big = json!({"key": "x".repeat(5000)});
    p.execute(ApiRequest::new(Method::POST, "/echo").json(&big).unwrap())
        .await
        .unwrap();
    // A falsy JSON value is still a body.
    p.execute(
        ApiRequest::new(Method::POST, "/echo")
            .json(&json!(false))
            .unwrap(),
    )
    .await
    .unwrap();

    let log = server.requests();
    assert_eq!(
        values(&log[0], "content-type"),
        ["application/json"],
        "{}",
        t.name
    );
    assert!(values(&log[0], "content-encoding").is_empty());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&log[0].body).unwrap(),
        small
    );
    assert_eq!(values(&log[1], "content-encoding"), ["gzip"], "{}", t.name);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&gunzip(&log[1].body)).unwrap(),
        big
    );
    assert_eq!(&log[2].body[..], b"false");
}

async fn a_caller_encoding_is_kept_and_compression_can_be_turned_off(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    let raw = "record ".repeat(1000).into_bytes();
    let pre = gzip(&raw);
    // Already gzipped by the caller (e.g. a KV record uploaded as stored): not re-gzipped.
    let req = ApiRequest::new(Method::PUT, "/echo")
        .header("Content-Encoding", "gzip")
        .body("text/plain", pre.clone());
    p.execute(req).await.unwrap();
    // `identity` opts one request out.
    let req = ApiRequest::new(Method::PUT, "/echo")
        .header("content-encoding", "identity")
        .body("text/plain", raw.clone());
    p.execute(req).await.unwrap();

    let off = fast_settings().compress_requests(false);
    let p = pipeline_for(t.transport.clone(), &server, off, None);
    p.execute(ApiRequest::new(Method::PUT, "/echo").body("text/plain", raw.clone()))
        .await
        .unwrap();

    let log = server.requests();
    assert_eq!(values(&log[0], "content-encoding"), ["gzip"], "{}", t.name);
    assert_eq!(&log[0].body[..], &pre[..], "{}", t.name);
    assert_eq!(
        values(&log[1], "content-encoding"),
        ["identity"],
        "{}",
        t.name
    );
    assert_eq!(&log[1].body[..], &raw[..], "{}", t.name);
    assert!(values(&log[2], "content-encoding").is_empty(), "{}", t.name);
    assert_eq!(&log[2].body[..], &raw[..], "{}", t.name);
}
