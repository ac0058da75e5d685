//! The built-in transport's options (`[transport.options]`, the standard vocabulary of
//! `apify_plugin_api::options`): a real forward proxy on 127.0.0.1 (absolute form for `http://`
//! targets, `CONNECT` for `https://` ones, with and without credentials), a loopback TLS server
//! whose CA only `ca_cert_file` names, `proxy_from_env`, and options refused by name.

use std::time::Duration;

use apify_host::transport::{
    BuiltinTransport, HttpTransport, TransportErrorKind, TransportRequest, TransportRequestBody,
    TransportResponse,
};
use futures_util::StreamExt;
use http::{HeaderMap, Method};
use serde_json::json;
use testkit::{proxy::ForwardProxy, tls::TlsServer, TestServer};

fn get(url: &str) -> TransportRequest {
    TransportRequest {
        method: Method::GET,
        url: url.to_string(),
        headers: HeaderMap::new(),
        body: TransportRequestBody::Full(Default::default()),
        timeout: Some(Duration::from_secs(30)),
        stream: false,
    }
}

async fn body(response: TransportResponse) -> String {
    let mut body = response.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("body chunk"));
    }
    String::from_utf8(out).unwrap()
}

fn builtin(options: serde_json::Value) -> BuiltinTransport {
    BuiltinTransport::with_options(&options).expect("the options are accepted")
}

#[tokio::test]
async fn http_targets_go_through_the_proxy_in_absolute_form() {
    let server = TestServer::start().await;
    let proxy = ForwardProxy::start().await;
    let t = builtin(json!({ "proxy": proxy.url(None) }));
    let url = server.url("/echo?x=1");
    let resp = t.call(get(&url)).await.expect("the call through the proxy");
    assert_eq!(resp.status, 200);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, url, "the absolute form: the whole URL");
    assert_eq!(seen[0].proxy_authorization, None);
    let origin = server.requests();
    assert_eq!(origin.len(), 1);
    assert_eq!(origin[0].path, "/echo");
}

#[tokio::test]
async fn https_targets_go_through_a_connect_tunnel_then_tls_to_the_target() {
    let tls = TlsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = tls.write_ca(dir.path());
    let proxy = ForwardProxy::start().await;
    let t = builtin(json!({ "proxy": proxy.url(None), "ca_cert_file": ca }));
    let resp = t.call(get(&tls.url("/hello"))).await.expect("the call");
    assert_eq!(resp.status, 200);
    assert!(body(resp).await.contains("/hello"));
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, tls.addr().to_string());
    // The request itself went inside the tunnel, in origin form, to the target.
    assert_eq!(tls.requests(), [format!("GET /hello host={}", tls.addr())]);
}

#[tokio::test]
async fn proxy_credentials_go_as_proxy_authorization_and_appear_nowhere() {
    const PASSWORD: &str = "s3cr3t-proxy-pw";
    let server = TestServer::start().await;
    let tls = TlsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = tls.write_ca(dir.path());
    let proxy = ForwardProxy::with_credentials("alice", PASSWORD).await;
    let t = builtin(json!({
        "proxy": proxy.url(Some(("alice", PASSWORD))),
        "ca_cert_file": ca,
    }));
    let debug = format!("{t:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("***@127.0.0.1"), "{debug}");

    let resp = t.call(get(&server.url("/echo"))).await.expect("http");
    assert_eq!(resp.status, 200);
    let resp = t.call(get(&tls.url("/x"))).await.expect("https");
    assert_eq!(resp.status, 200);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|r| r.allowed), "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[1].method, "CONNECT");
    // Basic base64("alice:s3cr3t-proxy-pw").
    let basic = "Basic YWxpY2U6czNjcjN0LXByb3h5LXB3";
    assert!(seen
        .iter()
        .all(|r| r.proxy_authorization.as_deref() == Some(basic)));
    // The origin never sees the proxy's credentials.
    assert_eq!(server.requests()[0].header("proxy-authorization"), None);

    // Wrong credentials: refused by the proxy, for both kinds of target, and the error holds
    // no password.
    let wrong = builtin(json!({ "proxy": proxy.url(Some(("alice", "wr0ng-pw-123"))) }));
    let resp = wrong.call(get(&server.url("/echo"))).await.expect("a 407");
    assert_eq!(
        resp.status, 407,
        "the proxy's answer to an absolute-form request"
    );
    let Err(e) = wrong.call(get(&tls.url("/x"))).await else {
        panic!("a refused CONNECT fails");
    };
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("wr0ng-pw-123") && !shown.contains(PASSWORD),
        "{shown}"
    );
    assert!(shown.contains("proxy"), "{shown}");
    assert!(!e.retryable, "{shown}");
}

#[tokio::test]
async fn a_custom_ca_is_needed_and_enough() {
    let tls = TlsServer::start().await;
    let without = builtin(json!({}));
    let Err(e) = without.call(get(&tls.url("/"))).await else {
        panic!("an unknown CA fails");
    };
    assert_eq!(e.kind, TransportErrorKind::TLS, "{e}");

    let dir = tempfile::tempdir().unwrap();
    let ca = tls.write_ca(dir.path());
    let with = builtin(json!({ "ca_cert_file": ca }));
    let resp = with.call(get(&tls.url("/ok"))).await.expect("trusted now");
    assert_eq!(resp.status, 200);
    assert!(body(resp).await.contains("/ok"));

    // A file that is no certificate is refused when the transport is built.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = BuiltinTransport::with_options(&json!({ "ca_cert_file": junk })).unwrap_err();
    assert!(e.message.contains("`ca_cert_file`"), "{e}");
}

#[tokio::test]
async fn the_other_standard_options_are_taken() {
    let server = TestServer::start().await;
    let t = builtin(json!({
        "connect_timeout_ms": 5000,
        "pool_max_idle_per_host": 0,
        "http2": false,
    }));
    for _ in 0..2 {
        let resp = t.call(get(&server.url("/echo"))).await.expect("call");
        assert_eq!(resp.status, 200);
        body(resp).await;
    }
    // No idle connection is kept: each call opened its own.
    assert_eq!(server.connections_accepted(), 2);
}

#[test]
fn unknown_and_bad_options_are_refused_by_name() {
    for (options, name) in [
        (json!({ "proxi": "http://127.0.0.1:1" }), "`proxi`"),
        (json!({ "tls_roots": "system" }), "`tls_roots`"),
        (json!({ "http2": "yes" }), "`http2`"),
        (json!({ "proxy": "ftp://u:pw-777@127.0.0.1:1" }), "`proxy`"),
        (json!({ "connect_timeout_ms": 0 }), "`connect_timeout_ms`"),
    ] {
        let e = BuiltinTransport::with_options(&options).expect_err(&options.to_string());
        assert_eq!(e.kind, TransportErrorKind::INVALID_REQUEST, "{e}");
        assert!(e.message.contains(name), "{e}");
        assert!(!e.message.contains("pw-777"), "{e}");
    }
}

/// The one test that touches the environment (read only when a transport is built).
#[tokio::test]
async fn the_environment_is_read_only_with_proxy_from_env() {
    let server = TestServer::start().await;
    let proxy = ForwardProxy::start().await;
    // SAFETY (edition 2021: safe): no other test in this binary reads these variables.
    std::env::set_var("HTTP_PROXY", proxy.url(None));
    std::env::remove_var("http_proxy");
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let ignored = builtin(json!({}));
    ignored
        .call(get(&server.url("/echo")))
        .await
        .expect("direct");
    assert!(
        proxy.requests().is_empty(),
        "the default ignores HTTP_PROXY"
    );

    let from_env = builtin(json!({ "proxy_from_env": true }));
    from_env
        .call(get(&server.url("/echo")))
        .await
        .expect("proxied");
    assert_eq!(proxy.requests().len(), 1);

    std::env::set_var("NO_PROXY", "127.0.0.1");
    let bypass = builtin(json!({ "proxy_from_env": true }));
    bypass
        .call(get(&server.url("/echo")))
        .await
        .expect("direct");
    assert_eq!(proxy.requests().len(), 1, "NO_PROXY names the host");
    std::env::remove_var("HTTP_PROXY");
    std::env::remove_var("NO_PROXY");
}

/// `[transport.options]` reaches the built-in transport when no plugin is configured, and an
/// unknown option there is a config error naming it.
#[tokio::test]
async fn the_config_passes_transport_options_to_the_builtin_transport() {
    if std::env::var_os("APIFY_TRANSPORT_PLUGIN").is_some() {
        return; // the environment chose a plugin: not the case under test
    }
    let server = TestServer::start().await;
    let proxy = ForwardProxy::with_credentials("bob", "cfg-pw-4242").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "api_url = {:?}\ntoken = \"tok-123456\"\n[transport.options]\nproxy = {:?}\n",
            server.url(""),
            proxy.url(Some(("bob", "cfg-pw-4242")))
        ),
    )
    .unwrap();
    let client = apify_host::ApifyClientBuilder::from_config(&path)
        .unwrap()
        .build()
        .unwrap();
    let user = client
        .user(None)
        .get()
        .await
        .expect("the user, through the proxy");
    assert!(user.is_some());
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].target.ends_with("/v2/users/me"), "{seen:?}");
    assert!(seen[0].allowed);

    std::fs::write(
        &path,
        "[transport.options]\nproxy = \"http://bob:cfg-pw-4242@127.0.0.1:1\"\ntls_root = \"x\"\n",
    )
    .unwrap();
    let e = apify_host::ApifyClientBuilder::from_config(&path).unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("`tls_root`"), "{shown}");
    assert!(!shown.contains("cfg-pw-4242"), "{shown}");
}
