//! The built-in transport's options (`[transport.options]`, the standard vocabulary of
//! `apify_plugin_api::options`): a real forward proxy on 127.0.0.1 (absolute form for `http://`
//! targets, `CONNECT` for `https://` ones, with and without credentials), the same proxy behind
//! TLS (an `https://` proxy, its certificate from a CA only `ca_cert_file` names), a loopback TLS
//! server whose CA only `ca_cert_file` names, `proxy_from_env`, and options refused by name.

use std::{path::PathBuf, time::Duration};

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

/// A `ca_cert_file` trusting both the TLS proxy's CA and the TLS server's: a bundle.
fn both_cas(dir: &std::path::Path, proxy: &ForwardProxy, tls: &TlsServer) -> PathBuf {
    let path = dir.join("bundle.pem");
    let proxy_ca = proxy.ca_pem().expect("a TLS proxy");
    std::fs::write(&path, format!("{proxy_ca}{}", tls.ca_pem())).unwrap();
    path
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
async fn an_https_proxy_takes_http_targets_in_absolute_form_over_tls() {
    let server = TestServer::start().await;
    let proxy = ForwardProxy::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = proxy.write_ca(dir.path());
    let proxy_url = proxy.url(None);
    assert!(proxy_url.starts_with("https://"), "{proxy_url}");
    let t = builtin(json!({ "proxy": proxy_url, "ca_cert_file": ca }));
    let url = server.url("/echo?x=1");
    let resp = t.call(get(&url)).await.expect("the call through the proxy");
    assert_eq!(resp.status, 200);
    body(resp).await;
    // The request came over TLS to the proxy, which the client offered no h2 (it would carry
    // the absolute-form request, HTTP/1.1).
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].tls_alpn_offered, Some(vec![]), "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, url, "the absolute form: the whole URL");
    assert_eq!(seen[0].proxy_authorization, None);
    let origin = server.requests();
    assert_eq!(origin.len(), 1);
    assert_eq!(origin[0].path, "/echo");
}

#[tokio::test]
async fn an_https_proxy_tunnels_https_targets_tls_inside_tls() {
    let tls = TlsServer::start().await;
    let proxy = ForwardProxy::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = both_cas(dir.path(), &proxy, &tls);
    // HTTP/2 is offered to the target (the default), never to the proxy.
    let t = builtin(json!({ "proxy": proxy.url(None), "ca_cert_file": ca }));
    let paths = ["/a", "/b", "/c", "/d", "/e"];
    for path in paths {
        let resp = t.call(get(&tls.url(path))).await.expect("the call");
        assert_eq!(resp.status, 200);
        assert!(body(resp).await.contains(path));
    }
    // Tunnels (TLS to the proxy, then CONNECT), kept alive and reused (at most one more may
    // open while the first goes back to the pool, as the conformance kit allows); the target's
    // own TLS server saw every request, so TLS to it ran inside the tunnel.
    let seen = proxy.requests();
    assert!((1..=2).contains(&seen.len()), "{seen:?}");
    for r in &seen {
        assert_eq!(r.method, "CONNECT");
        assert_eq!(r.target, tls.addr().to_string());
        assert_eq!(r.tls_alpn_offered, Some(vec![]), "{seen:?}");
    }
    let host = tls.addr();
    let expected: Vec<_> = paths
        .iter()
        .map(|p| format!("GET {p} host={host}"))
        .collect();
    assert_eq!(tls.requests(), expected);
}

#[tokio::test]
async fn an_https_proxy_gets_the_credentials_and_they_appear_nowhere() {
    const PASSWORD: &str = "tls-proxy-pw-5150";
    let server = TestServer::start().await;
    let tls = TlsServer::start().await;
    let proxy = ForwardProxy::tls_with_credentials("alice", PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = both_cas(dir.path(), &proxy, &tls);
    let t = builtin(json!({
        "proxy": proxy.url(Some(("alice", PASSWORD))),
        "ca_cert_file": &ca,
    }));
    let debug = format!("{t:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("https://***@127.0.0.1"), "{debug}");

    let resp = t.call(get(&server.url("/echo"))).await.expect("http");
    assert_eq!(resp.status, 200);
    let resp = t.call(get(&tls.url("/x"))).await.expect("https");
    assert_eq!(resp.status, 200);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|r| r.allowed), "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[1].method, "CONNECT");
    // Basic base64("alice:tls-proxy-pw-5150").
    let basic = "Basic YWxpY2U6dGxzLXByb3h5LXB3LTUxNTA=";
    assert!(seen
        .iter()
        .all(|r| r.proxy_authorization.as_deref() == Some(basic)));
    assert_eq!(server.requests()[0].header("proxy-authorization"), None);

    // Wrong credentials: a 407 for the absolute-form request, a failed CONNECT for the tunnel,
    // neither showing a password.
    let wrong = builtin(json!({
        "proxy": proxy.url(Some(("alice", "wr0ng-tls-pw-77"))),
        "ca_cert_file": &ca,
    }));
    let resp = wrong.call(get(&server.url("/echo"))).await.expect("a 407");
    assert_eq!(resp.status, 407);
    let Err(e) = wrong.call(get(&tls.url("/x"))).await else {
        panic!("a refused CONNECT fails");
    };
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("wr0ng-tls-pw-77") && !shown.contains(PASSWORD),
        "{shown}"
    );
    assert!(shown.contains("proxy authorization required"), "{shown}");
    assert!(!e.retryable, "{shown}");
    assert_eq!(proxy.requests().len(), 4);
}

#[tokio::test]
async fn an_https_proxy_with_an_untrusted_certificate_is_a_tls_error_naming_it() {
    const PASSWORD: &str = "untrusted-pw-8086";
    let server = TestServer::start().await;
    let tls = TlsServer::start().await;
    let proxy = ForwardProxy::tls_with_credentials("alice", PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    // The target's CA only: the target would be trusted, the proxy is not.
    let target_ca = tls.write_ca(dir.path());
    let proxy_url = proxy.url(Some(("alice", PASSWORD)));
    let named = format!("the proxy https://127.0.0.1:{}", proxy.addr().port());
    for options in [
        json!({ "proxy": proxy_url, "ca_cert_file": target_ca }),
        json!({ "proxy": proxy_url }),
    ] {
        let t = builtin(options);
        for url in [tls.url("/x"), server.url("/echo")] {
            let Err(e) = t.call(get(&url)).await else {
                panic!("an untrusted proxy certificate fails ({url})");
            };
            let shown = format!("{e} {e:?}");
            assert_eq!(e.kind, TransportErrorKind::TLS, "{shown}");
            assert!(!e.retryable, "{shown}");
            assert!(e.message.contains(&named), "{shown}");
            assert!(e.message.contains("certificate"), "{shown}");
            assert!(!shown.contains(PASSWORD), "{shown}");
        }
    }
    assert!(
        proxy.requests().is_empty(),
        "nothing went past the handshake"
    );
    assert!(tls.requests().is_empty() && server.requests().is_empty());
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

    // `https://` proxies from the environment, for both kinds of target.
    let tls = TlsServer::start().await;
    let tls_proxy = ForwardProxy::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = both_cas(dir.path(), &tls_proxy, &tls);
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("https_proxy");
    std::env::set_var("HTTP_PROXY", tls_proxy.url(None));
    std::env::set_var("HTTPS_PROXY", tls_proxy.url(None));
    let from_env = builtin(json!({ "proxy_from_env": true, "ca_cert_file": ca }));
    let resp = from_env
        .call(get(&server.url("/echo")))
        .await
        .expect("http through the https proxy");
    assert_eq!(resp.status, 200);
    let resp = from_env
        .call(get(&tls.url("/env")))
        .await
        .expect("https through the https proxy");
    assert_eq!(resp.status, 200);
    let seen = tls_proxy.requests();
    let methods: Vec<_> = seen.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "CONNECT"], "{seen:?}");
    assert_eq!(proxy.requests().len(), 1, "the first proxy is out of it");
    std::env::remove_var("HTTP_PROXY");
    std::env::remove_var("HTTPS_PROXY");
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
