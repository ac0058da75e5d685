//! The load pipeline against real `.so` files: good plugins, bad plugins, several at once, and
//! plugins built against other versions of the interface. After every failure the host is
//! still alive and serving requests.

use std::{os::unix::fs::PermissionsExt, path::Path, sync::Arc, time::Duration};

use apify_host::{
    load_plugin, ApiRequest, HttpSettings, HttpTransport, PluginLoadError, PluginLoadFailure,
    PluginLoadOptions, TimeoutTier, TransportErrorKind as ErrorKind, TransportRequest as Request,
};
use apify_tests::{
    abi_fixtures::abi_fixture, pipeline_support::client_at, plugin_path, reqwest_plugin,
};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method};
use testkit::TestServer;

fn load_err(path: &Path, options: &PluginLoadOptions) -> PluginLoadError {
    match load_plugin(path, options) {
        Ok(p) => panic!("{} loaded but must not: {:?}", path.display(), p.metadata),
        Err(e) => e,
    }
}

/// A refusal must name the path, say why and say what to do, in one short line.
fn assert_clear(e: &PluginLoadError, failure: PluginLoadFailure, reason_has: &str) {
    let text = e.to_string();
    eprintln!("{text}");
    assert_eq!(e.failure, failure, "{text}");
    assert!(
        text.contains(&e.path.display().to_string()),
        "names the path: {text}"
    );
    assert!(
        e.reason.contains(reason_has),
        "reason {:?} should mention {reason_has:?}",
        e.reason
    );
    assert!(!e.fix.is_empty(), "says what to do: {text}");
    assert!(
        text.len() < 600 && !text.contains('\n'),
        "short, one line: {text}"
    );
}

fn get(url: String) -> Request {
    Request {
        method: Method::GET,
        url,
        headers: HeaderMap::new(),
        body: Bytes::new(),
        timeout: Some(Duration::from_secs(10)),
        stream: false,
    }
}

async fn body_text(
    t: &dyn HttpTransport,
    url: String,
) -> Result<String, apify_host::TransportError> {
    let resp = t.call(get(url)).await?;
    let mut out = Vec::new();
    let mut body = resp.body;
    while let Some(c) = body.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(String::from_utf8(out).unwrap())
}

/// Proves the process survived: a fresh request through the reqwest plugin succeeds.
async fn host_is_alive(server: &TestServer) {
    let t = reqwest_plugin();
    let text = body_text(&*t, server.url("/echo"))
        .await
        .expect("host still serves requests");
    assert!(text.contains("\"method\":\"GET\""));
}

fn copy_to_temp(src: &Path, dir: &Path, mode: u32) -> std::path::PathBuf {
    let dst = dir.join(src.file_name().unwrap());
    std::fs::copy(src, &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).unwrap();
    dst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_before_loading() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = PluginLoadOptions::default();

    let missing = dir.path().join("nope.so");
    assert_clear(
        &load_err(&missing, &opts),
        PluginLoadFailure::NotFound,
        "no such file",
    );

    assert_clear(
        &load_err(dir.path(), &opts),
        PluginLoadFailure::NotAFile,
        "directory",
    );

    let text = dir.path().join("text.so");
    std::fs::write(&text, "this is not a library\n").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_clear(
        &load_err(&text, &opts),
        PluginLoadFailure::NotASharedLibrary,
        "not a shared library",
    );

    let not_plugin = plugin_path("fixture_not_a_plugin");
    assert_clear(
        &load_err(&not_plugin, &opts),
        PluginLoadFailure::NotAPlugin,
        "not an Apify transport plugin",
    );

    let writable = copy_to_temp(&plugin_path("apify_transport_reqwest"), dir.path(), 0o775);
    let e = load_err(&writable, &opts);
    assert_clear(
        &e,
        PluginLoadFailure::InsecurePermissions,
        "writable by its group",
    );
    assert!(e.fix.contains("chmod go-w") && e.fix.contains("allow_insecure_permissions"));
    // The config can relax it on purpose.
    let relaxed = PluginLoadOptions::default().allow_insecure_permissions(true);
    load_plugin(&writable, &relaxed).expect("allowed by config");

    // A safe file in a folder others can write is not safe.
    let open_dir = dir.path().join("shared");
    std::fs::create_dir(&open_dir).unwrap();
    let in_open_dir = copy_to_temp(&plugin_path("apify_transport_reqwest"), &open_dir, 0o755);
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_clear(
        &load_err(&in_open_dir, &opts),
        PluginLoadFailure::InsecurePermissions,
        "its folder",
    );

    let reqwest = plugin_path("apify_transport_reqwest");
    let pinned = PluginLoadOptions::default().sha256("00".repeat(32));
    let e = load_err(&reqwest, &pinned);
    assert_clear(&e, PluginLoadFailure::ChecksumMismatch, "sha256");
    let good = load_plugin(&reqwest, &opts).unwrap();
    let pinned = PluginLoadOptions::default().sha256(good.sha256.to_uppercase());
    load_plugin(&reqwest, &pinned).expect("a matching pin loads (case-insensitively)");

    host_is_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_mismatches_are_refused_with_the_decisive_line() {
    let server = TestServer::start().await;
    let opts = PluginLoadOptions::default();

    let changed = abi_fixture("changed-layout");
    let e = load_err(&changed, &opts);
    assert_clear(
        &e,
        PluginLoadFailure::LayoutMismatch,
        "changed plugin interface",
    );
    assert!(
        e.reason.contains("api_major") || e.reason.contains("u32"),
        "decisive: {}",
        e.reason
    );

    let major = abi_fixture("api-2.0");
    let e = load_err(&major, &opts);
    assert_clear(
        &e,
        PluginLoadFailure::IncompatibleApiVersion,
        "plugin API 2",
    );
    assert!(
        e.fix
            .contains("Rebuild the plugin against apify-plugin-api 1.x"),
        "{}",
        e.fix
    );

    host_is_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_minors_load_in_both_directions() {
    for (variant, minor, has_diagnostics) in [("api-1.0", 0, false), ("api-1.2", 2, true)] {
        let p = load_plugin(&abi_fixture(variant), &PluginLoadOptions::default())
            .unwrap_or_else(|e| panic!("{variant}: {e}"));
        assert_eq!((p.metadata.api_major, p.metadata.api_minor), (1, minor));
        assert_eq!(
            p.metadata.diagnostics.is_some(),
            has_diagnostics,
            "{variant}"
        );
        let t = p.new_client(&serde_json::json!({})).unwrap();
        let text = body_text(&t, "http://example.invalid/x?y=1".into())
            .await
            .unwrap();
        assert_eq!(
            text,
            format!(r#"{{"api":"1.{minor}","method":"GET","url":"http://example.invalid/x?y=1"}}"#)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constructor_errors_and_panics_are_errors() {
    let server = TestServer::start().await;
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let e = faulty
        .new_client(&serde_json::json!({"fail": "error"}))
        .err()
        .expect("refused");
    assert_clear(
        &e,
        PluginLoadFailure::ConstructorFailed,
        "asked the constructor to fail",
    );
    let e = faulty
        .new_client(&serde_json::json!({"fail": "panic"}))
        .err()
        .expect("panicked");
    assert_clear(&e, PluginLoadFailure::ConstructorPanicked, "panicked");

    // A real plugin refusing an unknown option names it.
    let reqwest = load_plugin(
        &plugin_path("apify_transport_reqwest"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let e = reqwest
        .new_client(&serde_json::json!({"proxxy": "http://x"}))
        .err()
        .expect("unknown option");
    assert_clear(&e, PluginLoadFailure::ConstructorFailed, "proxxy");

    host_is_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_call_fails_alone() {
    let server = TestServer::start().await;
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let t = faulty.new_client(&serde_json::json!({})).unwrap();
    let e = t
        .call(get(server.url("/__fault/panic")))
        .await
        .expect_err("panics");
    assert_eq!(e.kind, ErrorKind::PANIC, "{e}");
    assert!(e.message.contains("asked to panic in call"), "{e}");
    assert!(
        body_text(&t, server.url("/echo"))
            .await
            .unwrap()
            .contains("/echo"),
        "next call works"
    );

    let resp = t
        .call(get(server.url("/__fault/panic-body")))
        .await
        .expect("head arrives");
    let mut body = resp.body;
    let e = body.next().await.unwrap().expect_err("body panics");
    assert_eq!(e.kind, ErrorKind::PANIC, "{e}");
    assert!(body.next().await.is_none(), "a failed body ends");
    assert!(
        body_text(&t, server.url("/echo"))
            .await
            .unwrap()
            .contains("/echo"),
        "next call works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_never_answers_is_ended_by_the_host_timeout() {
    let server = TestServer::start().await;
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let t: Arc<dyn HttpTransport> = Arc::new(faulty.new_client(&serde_json::json!({})).unwrap());
    let settings = HttpSettings::default()
        .max_retries(1)
        .min_delay_between_retries(Duration::from_millis(10));
    let base = server.url("");
    let pipeline = client_at(t, settings, base.trim_end_matches('/'), None);
    let started = std::time::Instant::now();
    let req = ApiRequest::new(Method::GET, "/__fault/hang")
        .timeout(TimeoutTier::Custom(Duration::from_millis(200)));
    let err = pipeline.execute(req).await.expect_err("never answers");
    match err.transport_failure() {
        Some(f) => assert_eq!(f.kind, ErrorKind::TIMEOUT, "{err}"),
        None => panic!("expected a timeout, got {err}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the host's timeout ended it"
    );
    let ok = pipeline
        .execute(ApiRequest::new(Method::GET, "/echo"))
        .await
        .expect("next call works");
    assert!(ok.text().await.unwrap().contains("/echo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plugins_serve_requests_in_one_process() {
    let server = TestServer::start().await;
    let a = reqwest_plugin();
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let b: Arc<dyn HttpTransport> = Arc::new(faulty.new_client(&serde_json::json!({})).unwrap());
    assert_eq!(a.name(), "plugin:reqwest");
    assert_eq!(b.name(), "plugin:faulty");
    // Interleaved and concurrent, so both libraries are live at once.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let t = if i % 2 == 0 { a.clone() } else { b.clone() };
        let url = server.url(&format!("/echo?i={i}"));
        tasks.push(tokio::spawn(async move { body_text(&*t, url).await }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let text = task.await.unwrap().unwrap();
        assert!(text.contains(&format!("i={i}")), "{text}");
    }
    assert_eq!(server.requests().len(), 20);
}
