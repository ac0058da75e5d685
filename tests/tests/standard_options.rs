//! The standard transport options (`apify_plugin_api::options`) through the real loader: the
//! reqwest plugin takes the standard names (a real proxy and a CA made for the run, on
//! 127.0.0.1), refuses unknown ones by name, and still takes its deprecated
//! `http2_prior_knowledge`, with a warning in the host's log.

use std::time::Duration;

use apify_host::transport::{
    plugin::{load_plugin, PluginLoadOptions},
    HttpTransport, TransportErrorKind, TransportRequest, TransportRequestBody,
};
use apify_tests::{pipeline_support::LogCapture, plugin_path};
use http::{HeaderMap, Method};
use serde_json::{json, Value};
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

fn reqwest_with(options: &Value) -> Result<impl HttpTransport, String> {
    let loaded = load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &PluginLoadOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    loaded.new_client(options).map_err(|e| e.to_string())
}

#[tokio::test]
async fn reqwest_plugin_takes_the_standard_names() {
    let server = TestServer::start().await;
    let tls = TlsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = tls.write_ca(dir.path());
    let proxy = ForwardProxy::with_credentials("carol", "std-pw-9191").await;
    let t = reqwest_with(&json!({
        "proxy": proxy.url(Some(("carol", "std-pw-9191"))),
        "proxy_from_env": false,
        "ca_cert_file": ca,
        "connect_timeout_ms": 5000,
        "pool_max_idle_per_host": 2,
        "http2": true,
        "tls_roots": "webpki",
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let resp = t.call(get(&server.url("/echo"))).await.expect("http");
    assert_eq!(resp.status, 200);
    let resp = t.call(get(&tls.url("/secure"))).await.expect("https");
    assert_eq!(resp.status, 200);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[1].method, "CONNECT");
    assert!(seen.iter().all(|r| r.allowed), "{seen:?}");
    assert_eq!(tls.requests().len(), 1);

    // Without `ca_cert_file` the same server is a TLS failure.
    let plain = reqwest_with(&json!({})).unwrap();
    let Err(e) = plain.call(get(&tls.url("/"))).await else {
        panic!("an unknown CA fails");
    };
    assert_eq!(e.kind, TransportErrorKind::TLS, "{e}");
}

#[test]
fn reqwest_plugin_refuses_unknown_options_by_name() {
    for (options, name) in [
        (json!({"proxi": "http://127.0.0.1:1"}), "`proxi`"),
        (json!({"connect_timeout_ms": "5s"}), "`connect_timeout_ms`"),
        (json!({"ca_cert_file": "/no/such/ca.pem"}), "`ca_cert_file`"),
        (json!({"proxy": "socks9://u:pw-5150@h:1"}), "`proxy`"),
    ] {
        let e = reqwest_with(&options).err().expect("refused");
        assert!(e.contains(name), "{options}: {e}");
        assert!(!e.contains("pw-5150"), "{e}");
    }
}

/// The plugin's warning goes through the host's log channel (interface 1.4): one `tracing`
/// event of this process, a warning with target `apify_host::plugin` naming the plugin. (A
/// host before 1.4 gets it on standard error: tests/plugin_log.rs.)
#[test]
fn reqwest_plugin_takes_the_old_name_with_a_deprecation_warning() {
    let capture = LogCapture::global();
    reqwest_with(&json!({"http2_prior_knowledge": true, "pool_max_idle_per_host": 1}))
        .unwrap_or_else(|e| panic!("{e}"));
    let log = capture.text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("http2_prior_knowledge"))
        .collect();
    assert_eq!(warnings.len(), 1, "once: {log}");
    assert!(
        warnings[0].contains(
            " WARN apify_host::plugin: option `http2_prior_knowledge` is deprecated: write \
             `http2 = true`"
        ),
        "{log}"
    );
    assert!(warnings[0].contains(r#"plugin="reqwest""#), "{log}");

    // The new name gives no warning, and the two together must not contradict each other.
    let e = reqwest_with(&json!({"http2": false, "http2_prior_knowledge": true}))
        .err()
        .expect("refused");
    assert!(e.contains("contradict"), "{e}");
    assert_eq!(
        capture.text().matches("is deprecated").count(),
        1,
        "{}",
        capture.text()
    );
}

fn hyper_with(options: &Value) -> Result<impl HttpTransport, String> {
    let loaded = load_plugin(
        &plugin_path("apify_transport_hyper"),
        &PluginLoadOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    loaded.new_client(options).map_err(|e| e.to_string())
}

/// The hyper plugin (hosted) takes the standard names it can honour, and refuses a proxy by
/// name, saying which transports have one.
#[tokio::test]
async fn hyper_plugin_takes_the_standard_names_it_can_honour() {
    let tls = TlsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = tls.write_ca(dir.path());
    let t = hyper_with(&json!({
        "ca_cert_file": ca,
        "connect_timeout_ms": 5000,
        "pool_max_idle_per_host": 1,
        "http2": false,
        "pool_idle_timeout_secs": 30,
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let resp = t
        .call(get(&tls.url("/h")))
        .await
        .expect("https with the CA");
    assert_eq!(resp.status, 200);

    let e = hyper_with(&json!({"proxy": "http://u:hp-pw-31@127.0.0.1:1"}))
        .err()
        .expect("refused");
    assert!(e.contains("`proxy`") && e.contains("reqwest"), "{e}");
    assert!(!e.contains("hp-pw-31"), "{e}");
    let e = hyper_with(&json!({"pool_idle_timeout": 3}))
        .err()
        .expect("refused");
    assert!(e.contains("`pool_idle_timeout`"), "{e}");
}
