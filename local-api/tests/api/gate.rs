//! The gate (hardening A): DNS rebinding (Host), cross-origin requests (Origin,
//! Sec-Fetch-Site), the JSON media type of JSON routes, the binary's generated token and its
//! file, no open listen on a non-loopback address, token checks.

use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::Value;

use crate::common::{actors_config, data, expect_error, raw_http, Binary, Ctx};

/// A GET of `/v2/users/me` with these extra header lines, over raw TCP.
async fn get_with(t: &Ctx, headers: &str) -> (u16, String) {
    raw_http(
        t.api.addr(),
        &format!("GET /v2/users/me HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"),
    )
    .await
}

fn error_type(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap_or_else(|e| panic!("{e}: {body}"))["error"]["type"]
        .clone()
}

#[tokio::test]
async fn a_foreign_host_is_refused_on_a_loopback_listen() {
    let t = Ctx::start().await;
    let port = t.api.addr().port();
    let (status, body) = get_with(&t, &format!("Host: evil.example:{port}\r\n")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_type(&body), "invalid-host-header");
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&format!("\"evil.example:{port}\""))
            && message.contains(&format!("127.0.0.1:{port} or localhost:{port}"))
            && message.contains("DNS rebinding"),
        "{message}"
    );
    // The right name on another port, and the bare name, are foreign too.
    for host in [
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "localhost".to_owned(),
    ] {
        let (status, body) = get_with(&t, &format!("Host: {host}\r\n")).await;
        assert_eq!(status, 403, "{host}: {body}");
    }
    // The health probe and the control API are behind the same check.
    let (status, _) = raw_http(
        t.api.addr(),
        "GET /_control/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403);

    for host in [
        format!("127.0.0.1:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = get_with(&t, &format!("Host: {host}\r\n")).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // HTTP/1.0 without a Host header is a program, not a browser.
    let (status, body) = raw_http(t.api.addr(), "GET /v2/users/me HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
}

/// `allowed_hosts` (`--allowed-host`) lets a tunnel or a proxy in front through: `NAME:PORT`
/// exactly, or `NAME` on any port; everything else stays refused.
#[tokio::test]
async fn allowed_hosts_let_a_tunnel_or_a_proxy_through() {
    let t = Ctx::start_with(LocalApiConfig {
        allowed_hosts: vec!["localhost:9000".to_owned(), "tunnel.internal".to_owned()],
        ..LocalApiConfig::default()
    })
    .await;
    for host in [
        "localhost:9000",
        "LOCALHOST:9000",
        "tunnel.internal:1234",
        "tunnel.internal",
    ] {
        let (status, body) = get_with(&t, &format!("Host: {host}\r\n")).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    for host in [
        "localhost:9001",
        "evil.example:9000",
        "tunnel.internal.evil.example:80",
        "tunnel.internal:80x",
    ] {
        let (status, body) = get_with(&t, &format!("Host: {host}\r\n")).await;
        assert_eq!(status, 403, "{host}: {body}");
        assert_eq!(error_type(&body), "invalid-host-header");
    }
}

#[tokio::test]
async fn another_loopback_address_answers_to_its_own_ip() {
    let Ok(t) = LocalApi::start(LocalApiConfig {
        addr: "127.0.0.2:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    else {
        panic!("127.0.0.2 is a loopback address on Linux");
    };
    let addr = t.addr();
    let (status, body) = raw_http(
        addr,
        &format!("GET /v2/users/me HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = raw_http(
        addr,
        "GET /v2/users/me HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn no_host_check_on_a_non_loopback_listen() {
    let api = LocalApi::start(LocalApiConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..LocalApiConfig::with_token("t0ken")
    })
    .await
    .expect("a token allows any address");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], api.addr().port()));
    let (status, body) = raw_http(
        addr,
        "GET /v2/users/me HTTP/1.1\r\nHost: my-laptop.lan:1234\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The Origin check still applies.
    let (status, body) = raw_http(
        addr,
        "GET /v2/users/me HTTP/1.1\r\nHost: my-laptop.lan:1234\r\nOrigin: http://evil.example\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_type(&body), "cross-origin-request");
}

#[tokio::test]
async fn a_foreign_origin_is_refused_whatever_the_method() {
    let t = Ctx::start().await;
    let port = t.api.addr().port();
    for origin in ["http://evil.example", "null", "http://localhost:3000"] {
        let (status, body) = get_with(&t, &format!("Origin: {origin}\r\n")).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(error_type(&body), "cross-origin-request");
        assert!(body.contains(origin), "{body}");
    }
    // A "simple" cross-site POST (no preflight) that would create a dataset.
    let (status, body) = raw_http(
        t.api.addr(),
        &format!(
            "POST /v2/datasets?name=planted HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    expect_error(t.get("/v2/datasets/planted").await, 404, "record-not-found").await;

    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        t.api.base_url(),
    ] {
        let (status, body) = get_with(&t, &format!("Origin: {origin}\r\n")).await;
        assert_eq!(status, 200, "{origin}: {body}");
    }
}

#[tokio::test]
async fn sec_fetch_site_cross_and_same_site_are_refused() {
    let t = Ctx::start().await;
    for site in ["cross-site", "same-site"] {
        let (status, body) = get_with(&t, &format!("Sec-Fetch-Site: {site}\r\n")).await;
        assert_eq!(status, 403, "{site}: {body}");
        assert_eq!(error_type(&body), "cross-origin-request");
    }
    for site in ["same-origin", "none"] {
        let (status, body) = get_with(&t, &format!("Sec-Fetch-Site: {site}\r\n")).await;
        assert_eq!(status, 200, "{site}: {body}");
    }
}

#[tokio::test]
async fn json_routes_need_a_json_content_type() {
    let t = Ctx::start_with(actors_config(&["hi=echo hi"])).await;
    let ds = t.create("datasets", "ct").await;
    let rq = t.create("request-queues", "ct").await;
    let run = t.start_run("hi", "", &Value::Null).await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    let routes = [
        ("POST", format!("/v2/datasets/{ds}/items")),
        ("PUT", format!("/v2/datasets/{ds}")),
        ("POST", format!("/v2/request-queues/{rq}/requests")),
        ("POST", format!("/v2/request-queues/{rq}/requests/batch")),
        ("DELETE", format!("/v2/request-queues/{rq}/requests/batch")),
        ("PUT", format!("/v2/request-queues/{rq}/requests/someId")),
        ("POST", "/v2/webhooks".to_owned()),
        ("PUT", "/v2/webhooks/someId".to_owned()),
        ("POST", "/v2/actor-tasks".to_owned()),
        ("PUT", "/v2/actor-tasks/someId".to_owned()),
        ("PUT", "/v2/actor-tasks/someId/input".to_owned()),
        ("POST", "/v2/schedules".to_owned()),
        ("PUT", "/v2/schedules/someId".to_owned()),
        ("PUT", format!("/v2/actor-runs/{run_id}")),
        ("POST", format!("/v2/actor-runs/{run_id}/charge")),
        ("PUT", "/v2/users/me/limits".to_owned()),
    ];
    for (method, path) in &routes {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut req = t
                .http
                .request(method.parse().unwrap(), t.url(path))
                .body("{}");
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let r = req.send().await.unwrap();
            let body = expect_error(r, 415, "unsupported-media-type").await;
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("Content-Type: application/json"),
                "{method} {path}: {message}"
            );
        }
    }

    // What the clients send passes: `application/json` (this project's client and the
    // Python one), `application/json; charset=utf-8` (the JS one), any `+json`.
    let items = format!("/v2/datasets/{ds}/items");
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/vnd.example+json",
    ] {
        let r = t
            .http
            .post(t.url(&items))
            .header("content-type", ct)
            .body(r#"{"a":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{ct}");
    }
    // An empty body needs no type (a rename with nothing to change).
    let r = t
        .http
        .put(t.url(&format!("/v2/datasets/{ds}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Data routes take any type: a record, and a run's input.
    let kvs = t.create("key-value-stores", "ct").await;
    let r = t
        .http
        .put(t.url(&format!("/v2/key-value-stores/{kvs}/records/note")))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t
        .http
        .post(t.url("/v2/acts/hi/runs"))
        .header("content-type", "text/plain")
        .body("plain input")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let run = data(r).await;
    t.finished_run(run["id"].as_str().unwrap()).await;
}

#[tokio::test]
async fn the_binary_generates_a_token_into_a_private_file_removed_at_exit() {
    use std::os::unix::fs::PermissionsExt;
    let bin = Binary::start(&["--listen", "127.0.0.1:0"], &[]);
    let file = bin.token_file.clone().expect("(token in FILE) on the line");
    let token = bin.token();
    assert_eq!(token.len(), 64, "32 random bytes in hex");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    let folder = file.parent().unwrap().to_owned();
    assert_eq!(mode(&folder), 0o700);

    let http = crate::common::http_client();
    let url = format!("{}/v2/users/me", bin.url);
    let r = http.get(&url).send().await.unwrap();
    expect_error(r, 401, "token-not-provided").await;
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    assert!(bin.terminate(), "clean exit");
    assert!(!file.exists(), "token file removed at exit");
    assert!(!folder.exists(), "its folder too");
}

#[tokio::test]
async fn token_file_puts_the_token_where_asked() {
    let dir = tempfile_dir();
    let path = dir.join("my-token");
    // A stale file there (e.g. from a killed server) is replaced.
    std::fs::write(&path, "stale").unwrap();
    let bin = Binary::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(bin.token_file.as_deref(), Some(path.as_path()));
    let token = bin.token();
    assert_ne!(token, "stale");
    let http = crate::common::http_client();
    let r = http
        .get(format!("{}/v2/users/me", bin.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(bin.terminate());
    assert!(!path.exists(), "removed at exit");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A fresh folder of the system temp folder for one test.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "apify-local-api-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[tokio::test]
async fn no_listen_on_a_non_loopback_address_without_a_token() {
    let err = LocalApi::start(LocalApiConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(
        message.contains("refusing to listen on 0.0.0.0:0 without a token")
            && message.contains("--token"),
        "{message}"
    );
    // The binary always has a token, so it may listen anywhere.
    let bin = Binary::start(&["--listen", "0.0.0.0:0"], &[]);
    assert!(bin.url.starts_with("http://0.0.0.0:"), "{}", bin.url);
    assert!(bin.token_file.is_some());
    assert!(bin.terminate());
}

#[tokio::test]
async fn only_the_exact_token_passes() {
    let t = Ctx::start_with(LocalApiConfig::with_token("s3cret-token")).await;
    for wrong in [
        "s3cret-tokeX",
        "s3cret-toke",
        "s3cret-token2",
        "S3CRET-TOKEN",
    ] {
        let r = t
            .http
            .get(t.url("/v2/users/me"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        expect_error(r, 401, "user-or-token-not-found").await;
        let r = t.get(&format!("/v2/users/me?token={wrong}")).await;
        expect_error(r, 401, "user-or-token-not-found").await;
    }
    let r = t.get("/v2/users/me?token=s3cret-token").await;
    assert_eq!(r.status(), 200);
}
