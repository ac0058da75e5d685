//! A hosted plugin (interface 1.3, capability `hosted`: the hyper plugin) runs on the host's
//! threads: it starts none of its own, and does the same work on a runtime of its own when a
//! host lends it nothing (as a host before 1.3). The cross-transport suites run it through the
//! whole matrix as `plugin_hyper`; this file checks what is specific to it.

use std::time::Duration;

use apify_host::{
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{HttpTransport, TransportRequest as Request, TransportRequestBody as RequestBody},
};
use apify_tests::plugin_path;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};
use testkit::TestServer;

/// Threads of this process whose name starts with `prefix` (Linux: /proc/self/task).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Sends one request through `t` and reads its whole body: the status and the bytes.
async fn call_whole(
    t: &dyn HttpTransport,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: RequestBody,
) -> (http::StatusCode, Vec<u8>) {
    // The download (no body) is read as a stream; the upload's answer is a short JSON.
    let stream = body.is_empty();
    let resp = t
        .call(Request {
            method: method.clone(),
            url,
            headers,
            body,
            timeout: Some(Duration::from_secs(10)),
            stream,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: {method}: {e}", t.name()));
    let mut body = resp.body;
    let mut got = Vec::new();
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    (resp.status, got)
}

/// A GET of 300,000 pattern bytes, then a streamed PUT of 300,000 bytes to `/digest/`, both
/// checked byte for byte.
async fn exchange(t: &dyn HttpTransport, server: &TestServer) {
    let (status, got) = call_whole(
        t,
        Method::GET,
        server.url("/bytes/300000"),
        HeaderMap::new(),
        RequestBody::Full(Bytes::new()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, testkit::pattern_bytes(300_000), "{}", t.name());

    let data = testkit::pattern_bytes(300_000);
    let chunks: Vec<Result<Bytes, apify_host::transport::TransportError>> = data
        .chunks(32 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_LENGTH, data.len().into());
    let body = RequestBody::Stream {
        stream: Box::pin(futures_util::stream::iter(chunks)),
        length: Some(data.len() as u64),
    };
    let (status, text) = call_whole(t, Method::PUT, server.url("/digest/up"), headers, body).await;
    assert_eq!(status, 201);
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(v["data"]["bodyLength"], 300_000);
    assert_eq!(
        v["data"]["bodySha256"].as_str(),
        Some(testkit::pattern_sha256(300_000).as_str())
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_hosted_plugin_starts_no_threads_and_still_runs_on_its_own_for_an_older_host() {
    let server = TestServer::start().await;
    let loaded = load_plugin(
        &plugin_path("apify_transport_hyper"),
        &PluginLoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.metadata.capabilities.names().contains(&"hosted"),
        "{:?}",
        loaded.metadata.capabilities
    );
    // The name the plugin's own runtime gives its threads (`{name}-transport`, cut to the 15
    // bytes Linux keeps).
    let own_threads = "hyper-transport";
    let before = threads_named(own_threads);

    // On our runtime: every socket, task and timer is ours, so no thread of the plugin's.
    let hosted = loaded.new_client(&serde_json::json!({})).unwrap();
    exchange(&hosted, &server).await;
    assert_eq!(
        threads_named(own_threads),
        before,
        "the hosted client started threads"
    );

    // As a host before 1.3 sees it: the same transport on a runtime of its own.
    let own = loaded
        .new_client_on_own_runtime(&serde_json::json!({}))
        .unwrap();
    exchange(&own, &server).await;
    assert!(
        threads_named(own_threads) > before,
        "no runtime of the plugin's own was started"
    );
    drop(own);
    drop(hosted);
}

#[tokio::test(flavor = "current_thread")]
async fn a_hosted_plugin_refuses_unknown_options_by_name() {
    let loaded = load_plugin(
        &plugin_path("apify_transport_hyper"),
        &PluginLoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = loaded
        .new_client(&serde_json::json!({"pool_size": 3}))
        .map(|_| ())
        .expect_err("an unknown option");
    let text = err.to_string();
    assert!(text.contains("pool_size"), "{text}");
    assert!(text.contains("[transport.options]"), "{text}");
}
