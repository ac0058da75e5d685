//! Cancellation through every transport: dropping a call or its body closes the connection it
//! used (as the server sees it; a plugin's exchange ends too), and an [`AbortHandle`] ends a
//! call, and a streamed body, from another task.

use std::time::{Duration, Instant};

use apify_host::{
    pipeline::{AbortHandle, HttpSettings},
    transport::TransportRequest as Request,
};
use apify_tests::{pipeline_support::client_at, transport_tests, TransportUnderTest};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};
use testkit::{Action, TestServer};

transport_tests! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    dropping_a_call_closes_its_connection,
    dropping_a_body_closes_its_connection,
    an_abort_handle_ends_a_call_and_its_connection,
    an_abort_handle_ends_a_streamed_body,
}

/// Asserts that the server saw the client close connection `conn` within 5 s.
async fn assert_closed_by_client(
    server: &TestServer,
    conn: usize,
    t: &TransportUnderTest,
    what: &str,
) {
    assert!(
        server
            .wait_closed_by_peer(conn, Duration::from_secs(5))
            .await,
        "{}: {what}",
        t.name
    );
}

fn get(url: String, stream: bool) -> Request {
    Request {
        method: Method::GET,
        url,
        headers: HeaderMap::new(),
        body: Bytes::new().into(),
        timeout: None,
        stream,
    }
}

async fn dropping_a_call_closes_its_connection(t: TransportUnderTest) {
    let server = TestServer::start().await;
    server.script("/hang", vec![Action::Hang]);
    let call = t.transport.call(get(server.url("/hang"), false));
    // The server has the request and never answers; the caller gives up and drops the call.
    assert!(tokio::time::timeout(Duration::from_millis(300), call)
        .await
        .is_err());
    let conn = server.requests()[0].connection;
    assert_closed_by_client(&server, conn, &t, "the dropped call's connection is closed").await;
}

async fn dropping_a_body_closes_its_connection(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let resp = t
        .transport
        .call(get(server.url("/bytes/104857600"), true))
        .await
        .unwrap();
    let mut body = resp.body;
    let first = body.next().await.expect("a chunk").expect("data");
    assert!(!first.is_empty());
    drop(body);
    let conn = server.requests()[0].connection;
    assert_closed_by_client(
        &server,
        conn,
        &t,
        "the dropped body's connection is closed, not pooled mid-body",
    )
    .await;
}

async fn an_abort_handle_ends_a_call_and_its_connection(t: TransportUnderTest) {
    let server = TestServer::start().await;
    server.script("/v2/datasets/d", vec![Action::Hang]);
    let client = client_at(
        t.transport.clone(),
        HttpSettings::default(),
        &server.url(""),
        None,
    );
    let abort = AbortHandle::new();
    let ds = client.dataset("d").with_abort(&abort);
    let call = tokio::spawn(async move { ds.get().await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.requests().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let conn = server.requests()[0].connection;
    abort.abort();
    let e = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call ends at once")
        .unwrap()
        .expect_err("aborted");
    assert!(e.is_aborted(), "{}: {e}", t.name);
    assert!(e.to_string().contains("abort handle"), "{}: {e}", t.name);
    assert_closed_by_client(&server, conn, &t, "the aborted call's connection is closed").await;
    // Later calls through the aborted handle are not sent.
    let before = server.requests().len();
    let e = client
        .dataset("d")
        .with_abort(&abort)
        .get()
        .await
        .unwrap_err();
    assert!(e.is_aborted(), "{}: {e}", t.name);
    assert_eq!(server.requests().len(), before, "{}", t.name);
}

async fn an_abort_handle_ends_a_streamed_body(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let client = client_at(
        t.transport.clone(),
        HttpSettings::default(),
        &server.url(""),
        None,
    );
    let abort = AbortHandle::new();
    let resp = client
        .request(Method::GET, "/bytes/1073741824")
        .stream()
        .abort_handle(&abort)
        .send()
        .await
        .unwrap();
    let mut body = resp.into_stream();
    assert!(body.next().await.expect("a chunk").is_ok());
    abort.abort();
    let mut ended = None;
    while let Some(chunk) = body.next().await {
        if let Err(e) = chunk {
            ended = Some(e);
            break;
        }
    }
    let e = ended.expect("the body ends with an error, not a clean end");
    assert!(e.is_aborted(), "{}: {e}", t.name);
    let conn = server.requests()[0].connection;
    assert_closed_by_client(&server, conn, &t, "the aborted body's connection is closed").await;
}
