//! Error mapping, for every transport: `ApiError` fields and kinds, unparsable and streamed
//! error bodies, transport errors that name their transport, and a token that never appears in
//! an error's `Display`/`Debug` or in the logs.

use apify_host::{
    error::ApiErrorKind,
    pipeline::{ApiRequest, HttpSettings},
    Error, ErrorKind,
};
use apify_tests::{pipeline_support::*, transport_tests, TransportUnderTest};
use http::Method;
use serde_json::json;
use testkit::{Action, TestServer};

fn no_retries() -> HttpSettings {
    fast_settings().max_retries(0)
}

transport_tests! {
    #[tokio::test]
    api_error_carries_status_type_message_data_attempt_method_and_path,
    every_mapped_status_has_its_kind,
    an_unparsable_error_body_gives_its_text_as_the_message,
    the_error_body_of_a_streamed_call_is_read_for_its_message,
    a_transport_error_names_its_transport_and_kind,
    the_token_never_appears_in_errors_debug_output_or_logs,
}

async fn api_error_carries_status_type_message_data_attempt_method_and_path(t: TransportUnderTest) {
    let data = json!({"invalidItems": {"0": ["should have required property 'name'"]}});
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    server.script(
        "/v2/errors",
        vec![Action::json(
            400,
            json!({"error": {"type": "some_type", "message": "some_message", "data": data}}),
        )],
    );
    let req = ApiRequest::new(Method::POST, "/v2/errors").query("clean", true);
    let e = p.execute(req).await.unwrap_err();
    let api = e.api_error().unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(api.status, 400);
    assert_eq!(api.error_type.as_deref(), Some("some_type"));
    assert_eq!(api.message, "some_message");
    assert_eq!(api.data.as_ref(), Some(&data));
    assert_eq!((api.attempt, api.method.as_str()), (1, "POST"));
    // The path, never the query string.
    assert_eq!(api.path, "/v2/errors");
    assert_eq!(api.kind(), ApiErrorKind::BadRequest);
    assert_eq!(
        e.to_string(),
        "POST /v2/errors failed with status 400 (some_type) on attempt 1: some_message"
    );
}

async fn every_mapped_status_has_its_kind(t: TransportUnderTest) {
    let cases = [
        (400, ApiErrorKind::BadRequest, ErrorKind::BadRequest),
        (401, ApiErrorKind::Unauthorized, ErrorKind::Unauthorized),
        (403, ApiErrorKind::Forbidden, ErrorKind::Forbidden),
        (404, ApiErrorKind::NotFound, ErrorKind::NotFound),
        (409, ApiErrorKind::Conflict, ErrorKind::Conflict),
        (429, ApiErrorKind::RateLimited, ErrorKind::RateLimited),
        (500, ApiErrorKind::Server, ErrorKind::ServerError),
        (503, ApiErrorKind::Server, ErrorKind::ServerError),
        (418, ApiErrorKind::Other, ErrorKind::Api),
    ];
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, no_retries(), None);
    for (status, kind, error_kind) in cases {
        server.script("/v2/x", vec![Action::status(status)]);
        let e = p
            .execute(ApiRequest::new(Method::GET, "/v2/x"))
            .await
            .unwrap_err();
        let api = e.api_error().unwrap_or_else(|| panic!("{}: {e}", t.name));
        assert_eq!((api.status, api.kind()), (status, kind), "{}", t.name);
        assert_eq!(e.kind(), error_kind, "{}: {e}", t.name);
        assert!(api.error_type.is_some(), "{}", t.name);
        // No source repeating the sentence, and a Debug of fields, not of the representation.
        assert!(std::error::Error::source(&e).is_none(), "{}: {e}", t.name);
        let debug = format!("{e:?}");
        assert!(
            debug.starts_with(&format!("Error {{ kind: {error_kind:?}, message: "))
                && debug.contains(&format!("status: {status}")),
            "{}: {debug}",
            t.name
        );
    }
}

async fn an_unparsable_error_body_gives_its_text_as_the_message(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    server.script(
        "/v2/x",
        vec![Action::Respond {
            status: 418,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<not json>".to_vec(),
        }],
    );
    let e = p
        .execute(ApiRequest::new(Method::GET, "/v2/x"))
        .await
        .unwrap_err();
    let api = e.api_error().unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(api.error_type, None);
    assert_eq!(api.message, "<not json>", "{}", t.name);
    assert_eq!(api.kind(), ApiErrorKind::Other);
}

async fn the_error_body_of_a_streamed_call_is_read_for_its_message(t: TransportUnderTest) {
    let error = br#"{"error":{"type":"insufficient-permissions","message":"Insufficient permissions for the Actor run."}}"#;
    // A chunked body, one byte per chunk, like a streaming server sends it.
    let mut raw = b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/octet-stream\r\n\
                    transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        .to_vec();
    for b in error {
        raw.extend_from_slice(b"1\r\n");
        raw.push(*b);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, fast_settings(), None);
    server.script("/v2/logs/x", vec![Action::Raw(raw.clone())]);
    let e = p
        .execute(ApiRequest::new(Method::GET, "/v2/logs/x").stream())
        .await
        .unwrap_err();
    let api = e.api_error().unwrap_or_else(|| panic!("{}: {e}", t.name));
    assert_eq!(api.kind(), ApiErrorKind::Forbidden);
    assert_eq!(
        api.error_type.as_deref(),
        Some("insufficient-permissions"),
        "{}",
        t.name
    );
    assert_eq!(
        api.message, "Insufficient permissions for the Actor run.",
        "{}",
        t.name
    );
}

async fn a_transport_error_names_its_transport_and_kind(t: TransportUnderTest) {
    let url = testkit::closed_port_url();
    let p = client_at(t.transport.clone(), no_retries(), &url, None);
    let e = p
        .execute(ApiRequest::new(Method::DELETE, "/v2/datasets/x"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(e.is_transport(), "{}: {e}", t.name);
    assert_eq!(e.kind(), ErrorKind::Connect, "{}: {e}", t.name);
    assert!(std::error::Error::source(&e).is_none(), "{}: {e}", t.name);
    assert!(
        text.starts_with("DELETE /v2/datasets/x failed on attempt 1 (connect error from the "),
        "{}: {text}",
        t.name
    );
    assert!(text.contains(t.transport.name()), "{}: {text}", t.name);
}

async fn the_token_never_appears_in_errors_debug_output_or_logs(t: TransportUnderTest) {
    const TOKEN: &str = "apify_api_tOkEn-SeCrEt-4242";
    // Process-wide: the logs of every test in this binary are checked for the token too.
    let logs = LogCapture::global();
    let server = TestServer::start().await;
    let p = pipeline_for(t.transport.clone(), &server, no_retries(), Some(TOKEN));
    let mut errors: Vec<Error> = Vec::new();

    // A server that echoes the request (Authorization included) in a non-Apify error body.
    let req = ApiRequest::new(Method::GET, "/echo").query("status", 401);
    errors.push(p.execute(req).await.unwrap_err());
    // An Apify-shaped error that quotes the token in its message and data.
    server.script(
        "/v2/x",
        vec![Action::json(
            500,
            json!({"error": {"type": "x", "message": format!("bad token {TOKEN}"), "data": {"t": TOKEN}}}),
        )],
    );
    errors.push(
        p.execute(ApiRequest::new(Method::GET, "/v2/x"))
            .await
            .unwrap_err(),
    );
    // A token in the query string, and a URL a transport may refuse and quote.
    let req = ApiRequest::new(Method::GET, "/bad path").query("token", TOKEN);
    if let Err(e) = p.execute(req).await {
        errors.push(e);
    }
    // A transport failure with the token in the URL.
    let dead = client_at(
        t.transport.clone(),
        no_retries(),
        &testkit::closed_port_url(),
        Some(TOKEN),
    );
    let req = ApiRequest::new(Method::GET, "/v2/x").query("token", TOKEN);
    errors.push(dead.execute(req).await.unwrap_err());
    // Debug of the pipeline and of a response.
    let ok = p
        .execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .unwrap();
    let debug = format!("{p:?} {dead:?} {ok:?}");
    assert!(!debug.contains(TOKEN), "{}: {debug}", t.name);

    assert!(errors.len() >= 3);
    for e in &errors {
        let shown = format!("{e} | {e:?}");
        assert!(!shown.contains(TOKEN), "{}: token leaked: {shown}", t.name);
        assert!(
            !shown.contains("SeCrEt"),
            "{}: token leaked: {shown}",
            t.name
        );
    }
    // The echoed body is still useful, just without the secret.
    assert!(
        errors[0].to_string().contains("Bearer ***"),
        "{}: {}",
        t.name,
        errors[0]
    );
    let text = logs.text();
    assert!(text.contains("attempt=1"), "{text}");
    assert!(!text.contains("SeCrEt"), "token in the logs:\n{text}");
}
