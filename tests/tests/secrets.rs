//! Credentials never reach an error, and `.`/`..` never reach the wire, for every transport.
//!
//! Each case runs once per transport (`transport_tests!`): the token, a proxy password and a
//! record signature must be absent from the `Display`, `Debug` and `{:#?}` of every error
//! (one quoted back by the server, a transport failure through a closed proxy, an API URL with
//! a password), and ids, keys and names that URL parsers resolve (`.`, `..`, `%2e`...) are
//! refused as invalid input before any request is sent.

use std::sync::Arc;

use apify_host::{
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{HttpTransport, InProcess},
};
use apify_tests::{
    pipeline_support::{client_at, fast_settings, pipeline_for},
    plugin_path, transport_tests, TransportUnderTest,
};
use apify_transport_reqwest::ReqwestTransport;
use http::Method;
use serde_json::json;
use testkit::{Action, TestServer};

const TOKEN: &str = "lib-secrets-TOK-4242";
const PROXY_PASSWORD: &str = "secretpw";
const SIGNATURE: &str = "SIG-a1b2c3";

transport_tests! {
    #[tokio::test]
    errors_never_show_a_credential,
    dot_segments_are_refused_before_sending,
}

#[track_caller]
fn assert_clean(what: &str, e: &apify_host::Error) {
    for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
        // Also as a reader of a URL would see it: percent-decoded.
        let decoded = percent_encoding::percent_decode_str(&shown).decode_utf8_lossy();
        for secret in [TOKEN, PROXY_PASSWORD, SIGNATURE] {
            assert!(!shown.contains(secret), "{what}: {secret} in {shown}");
            assert!(!decoded.contains(secret), "{what}: {secret} in {decoded}");
        }
    }
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The same kind of transport as `t`, behind a proxy with a password on a closed port; `None`
/// for transports that take no proxy option.
fn proxied(t: &TransportUnderTest) -> Option<Arc<dyn HttpTransport>> {
    let options = json!({
        "proxy": format!("http://user:{PROXY_PASSWORD}@127.0.0.1:{}", closed_port())
    });
    match t.name {
        "plugin:reqwest" => {
            let loaded = load_plugin(
                &plugin_path("apify_transport_reqwest"),
                &PluginLoadOptions::default(),
            )
            .unwrap();
            Some(Arc::new(loaded.new_client(&options).unwrap()))
        }
        "custom:reqwest" => Some(Arc::new(
            InProcess::<ReqwestTransport>::from_options(options).unwrap(),
        )),
        _ => None,
    }
}

async fn errors_never_show_a_credential(t: TransportUnderTest) {
    // 1. The server quotes every credential back in its error message, the token also right
    // after escapes that end in a letter or digit (`%3D`, a `Debug` newline `\n`, `Bearer%20`)
    // and percent-encoded.
    let server = TestServer::start().await;
    let path = "/v2/key-value-stores/x/records/y";
    let echo = format!(
        "got Authorization: Bearer {TOKEN} for {path}?signature={SIGNATURE} via \
         http://user:{PROXY_PASSWORD}@proxy:3128 (token {TOKEN}) q=%3D{TOKEN} \"\\n{TOKEN}\" \
         Bearer%20{TOKEN} next=%2F{} x{TOKEN}",
        TOKEN.replace('-', "%2D")
    );
    server.script(
        path,
        vec![Action::Respond {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json!({"error": {"type": "x", "message": echo, "data": {"sent": TOKEN}}})
                .to_string()
                .into_bytes(),
        }],
    );
    let client = pipeline_for(t.transport.clone(), &server, fast_settings(), Some(TOKEN));
    let e = client
        .request(Method::GET, path)
        .query("signature", SIGNATURE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{}", t.name);
    assert_clean(t.name, &e);
    assert!(e.to_string().contains("Bearer ***"), "{}: {e}", t.name);

    // 2. A transport failure, with a password in the API URL.
    let url = format!("http://user:{PROXY_PASSWORD}@127.0.0.1:{}", closed_port());
    let client = client_at(
        t.transport.clone(),
        fast_settings().max_retries(1),
        &url,
        Some(TOKEN),
    );
    let e = client
        .request(Method::GET, path)
        .query("signature", SIGNATURE)
        .query("token", TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(e.is_transport() || e.is_config(), "{}: {e}", t.name);
    assert_clean(t.name, &e);

    // 3. Through a proxy with a password that refuses connections.
    if let Some(proxied) = proxied(&t) {
        let client = pipeline_for(
            proxied,
            &server,
            fast_settings().max_retries(1),
            Some(TOKEN),
        );
        let e = client
            .request(Method::GET, path)
            .query("signature", SIGNATURE)
            .send()
            .await
            .unwrap_err();
        assert!(e.is_transport(), "{}: {e}", t.name);
        assert_clean(t.name, &e);
    }
}

async fn dot_segments_are_refused_before_sending(t: TransportUnderTest) {
    let server = TestServer::start().await;
    let client = pipeline_for(t.transport.clone(), &server, fast_settings(), Some(TOKEN));
    let kvs = client.key_value_store("S");
    for key in [".", "..", "%2e", "%2E", ".%2e", "%2e%2E", "%252e"] {
        let refused = [
            kvs.set_record(key, json!({}), None).await.err(),
            kvs.delete_record(key).await.err(),
            kvs.get_record(key).await.err(),
            client.key_value_store(key).delete().await.err(),
            client.dataset(key).get().await.err(),
            client.request_queue("Q").get_request(key).await.err(),
            client
                .request(Method::PUT, "/v2/key-value-stores/S/records")
                .key(key)
                .send()
                .await
                .err(),
        ];
        for (i, e) in refused.into_iter().enumerate() {
            let e = e.unwrap_or_else(|| panic!("{}: call {i} with {key:?} succeeded", t.name));
            assert!(
                e.is_invalid_input(),
                "{}: call {i} with {key:?}: {e}",
                t.name
            );
        }
    }
    assert!(
        server.requests().is_empty(),
        "{}: {:?}",
        t.name,
        server.requests()
    );
}
