//! Bounds on what a server can make the pipeline do, end to end against a loopback server, for
//! every transport: a silent streamed body ends at the idle limit, a paginator that makes no
//! progress stops, an oversize body is refused, and a streamed download that breaks mid-body
//! resumes with `Range` (or fails saying how many bytes it delivered). Every case is bounded
//! in time by a small idle limit or by the scripted faults; none asserts a duration.

use std::time::Duration;

use apify_host::{
    options::{ListItemsOptions, ListKeysOptions},
    pipeline::{ApiRequest, HttpSettings},
};
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use futures_util::StreamExt;
use http::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use testkit::{pattern_bytes, pattern_sha256, Action, TestServer};

transport_tests! {
    #[tokio::test]
    a_silent_streamed_body_ends_at_the_idle_limit,
    a_runaway_cursor_paginator_stops,
    a_runaway_offset_paginator_stops,
    an_oversize_body_is_refused_with_the_cap_and_the_way_out,
    a_record_broken_twice_mid_body_resumes_with_range_to_the_exact_bytes,
    a_server_without_ranges_fails_with_the_delivered_byte_count,
    a_small_streamed_get_cut_mid_body_is_retried_and_whole_once,
}

const RECORD: &str = "/v2/key-value-stores/s/records/k";

fn settings() -> HttpSettings {
    fast_settings().stream_idle_timeout(Duration::from_millis(300))
}

async fn a_silent_streamed_body_ends_at_the_idle_limit(t: TransportUnderTest) {
    let server = TestServer::start().await;
    // Two silences: the first break is resumed once, the second ends the stream.
    let silent = Action::SlowBody {
        total_len: 10_000_000,
        chunk: 10,
        interval: Duration::from_secs(3600),
    };
    server.script(RECORD, vec![silent.clone(), silent]);
    let client = pipeline_for(
        t.transport.clone(),
        &server,
        settings().max_resumes(1),
        None,
    );
    let record = client
        .key_value_store("s")
        .stream_record("k")
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
        .expect("a record");
    let e = record
        .into_body()
        .into_stream()
        .collect_bytes()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{}: {e}", t.name);
    let msg = e.to_string();
    assert!(msg.contains("stream_idle_timeout"), "{}: {msg}", t.name);
    assert!(
        msg.contains("after 0 of 10000000 bytes had been delivered"),
        "{}: {msg}",
        t.name
    );
    assert_eq!(server.requests().len(), 2, "{}", t.name);
}

async fn a_runaway_cursor_paginator_stops(t: TransportUnderTest) {
    let server = TestServer::start().await;
    // "Truncated, next key a" forever (50 answers stand for forever: the test needs 2).
    let page = Action::json(
        200,
        json!({"data": {"items": [{"key": "a", "size": 1}], "count": 1, "limit": 1000,
                        "isTruncated": true, "nextExclusiveStartKey": "a"}}),
    );
    server.script("/v2/key-value-stores/s/keys", vec![page; 50]);
    let client = pipeline_for(t.transport.clone(), &server, settings(), None);
    let got: Vec<_> = client
        .key_value_store("s")
        .iterate_keys(&ListKeysOptions::new())
        .collect()
        .await;
    assert_eq!(
        got.len(),
        2,
        "{}: the first page's key, then the error",
        t.name
    );
    let e = got[1].as_ref().unwrap_err();
    assert!(
        e.is_decode() && e.to_string().contains("cursor"),
        "{}: {e}",
        t.name
    );
    assert_eq!(server.requests().len(), 2, "{}", t.name);
}

async fn a_runaway_offset_paginator_stops(t: TransportUnderTest) {
    let server = TestServer::start().await;
    // A server that ignores `offset`: the first full page, again and again.
    let page = Action::json(200, json!([{"n": 1}, {"n": 2}]))
        .with_header("x-apify-pagination-offset", "0")
        .with_header("x-apify-pagination-total", "1000000");
    server.script("/v2/datasets/d/items", vec![page; 50]);
    let client = pipeline_for(t.transport.clone(), &server, settings(), None);
    let got: Vec<_> = client
        .dataset("d")
        .iterate_items::<serde_json::Value>(&ListItemsOptions::new().chunk_size(2))
        .collect()
        .await;
    assert_eq!(got.len(), 3, "{}: one page, then the error", t.name);
    let e = got[2].as_ref().unwrap_err();
    assert!(
        e.is_decode() && e.to_string().contains("offset"),
        "{}: {e}",
        t.name
    );
    assert_eq!(server.requests().len(), 2, "{}", t.name);
}

async fn an_oversize_body_is_refused_with_the_cap_and_the_way_out(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let cap = 64 * 1024;
    let client = pipeline_for(
        t.transport.clone(),
        &server,
        settings().max_body_bytes(cap).read_whole_below(cap),
        None,
    );
    // Announced too large; unsized and too large; and an endless `users me` (1 TiB, chunked).
    server.script(
        "/v2/users/me",
        vec![Action::PatternBody {
            len: 1 << 40,
            chunked: true,
        }],
    );
    for path in ["/bytes/200000", "/bytes/200000?chunked=1", "/v2/users/me"] {
        let e = client
            .execute(ApiRequest::new(Method::GET, path))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(e.is_decode(), "{} {path}: {e}", t.name);
        assert!(
            msg.contains("max_body_bytes = 65536"),
            "{} {path}: {msg}",
            t.name
        );
        assert!(msg.contains("stream"), "{} {path}: {msg}", t.name);
    }
    // Refused, not retried: one request each.
    assert_eq!(server.requests().len(), 3, "{}", t.name);
    // The same body streamed is fine.
    let resp = client
        .execute(ApiRequest::new(Method::GET, "/bytes/200000").stream())
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().len(), 200_000, "{}", t.name);
}

/// A 206 carrying `pattern[from..to]` of a `total`-byte body, announced as `from..total`: when
/// `to < total` the server closes after `to`, a body cut mid-way.
fn partial(total: usize, from: usize, to: usize) -> Action {
    Action::Respond {
        status: 206,
        headers: vec![
            ("content-type".into(), "application/octet-stream".into()),
            ("content-length".into(), (total - from).to_string()),
            (
                "content-range".into(),
                format!("bytes {from}-{}/{total}", total - 1),
            ),
        ],
        body: pattern_bytes(total)[from..to].to_vec(),
    }
}

async fn a_record_broken_twice_mid_body_resumes_with_range_to_the_exact_bytes(
    t: TransportUnderTest,
) {
    const LEN: usize = 3_000_000; // above read_whole_below: streamed
    let server = TestServer::start().await;
    server.script(
        RECORD,
        vec![
            Action::TruncatedBody {
                total_len: LEN as u64,
                send: 1_000_000,
            },
            partial(LEN, 1_000_000, 1_800_000),
            partial(LEN, 1_800_000, LEN),
        ],
    );
    let client = pipeline_for(t.transport.clone(), &server, settings(), None);
    let record = client
        .key_value_store("s")
        .stream_record("k")
        .await
        .unwrap()
        .expect("a record");
    let mut hash = Sha256::new();
    let mut body = record.into_body().into_stream();
    while let Some(chunk) = body.next().await {
        hash.update(chunk.unwrap_or_else(|e| panic!("{}: {e}", t.name)));
    }
    assert_eq!(
        hex::encode(hash.finalize()),
        pattern_sha256(LEN as u64),
        "{}",
        t.name
    );
    let ranges: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("bytes=1000000-".to_string()),
            Some("bytes=1800000-".to_string())
        ],
        "{}",
        t.name
    );
}

async fn a_server_without_ranges_fails_with_the_delivered_byte_count(t: TransportUnderTest) {
    const LEN: u64 = 3_000_000;
    let server = TestServer::start().await;
    server.script(
        RECORD,
        vec![
            Action::TruncatedBody {
                total_len: LEN,
                send: 1_000_000,
            },
            // Range ignored: the whole body again, which cannot be spliced.
            Action::PatternBody {
                len: LEN,
                chunked: false,
            },
        ],
    );
    let client = pipeline_for(t.transport.clone(), &server, settings(), None);
    let record = client
        .key_value_store("s")
        .stream_record("k")
        .await
        .unwrap()
        .expect("a record");
    let e = record
        .into_body()
        .into_stream()
        .collect_bytes()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(e.is_transport(), "{}: {msg}", t.name);
    assert!(
        msg.contains("after 1000000 of 3000000 bytes had been delivered"),
        "{}: {msg}",
        t.name
    );
    assert!(
        msg.contains("does not support resuming"),
        "{}: {msg}",
        t.name
    );
    assert_eq!(server.requests().len(), 2, "{}", t.name);
}

async fn a_small_streamed_get_cut_mid_body_is_retried_and_whole_once(t: TransportUnderTest) {
    const LEN: usize = 100_000; // below read_whole_below: read whole in the retry loop
    let server = TestServer::start().await;
    let path = format!("/bytes/{LEN}");
    server.script(
        &path,
        vec![
            Action::TruncatedBody {
                total_len: LEN as u64,
                send: 50_000,
            },
            Action::ResetMidBody {
                total_len: LEN as u64,
                send: 30_000,
            },
        ],
    );
    let client = pipeline_for(t.transport.clone(), &server, settings(), None);
    let resp = client
        .execute(ApiRequest::new(Method::GET, &path).stream())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert!(resp.buffered_body().is_some(), "{}", t.name);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        pattern_bytes(LEN).as_slice(),
        "{}",
        t.name
    );
    assert_eq!(server.requests().len(), 3, "{}", t.name);
}
