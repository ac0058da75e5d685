//! The `apify-local-api` binary: one stdout line with the URL (and the token file), token
//! from the environment, clean exit on SIGTERM.

use crate::common::Binary;

#[tokio::test]
async fn prints_url_and_stops_on_sigterm() {
    let bin = Binary::start(
        &["--listen", "127.0.0.1:0"],
        &[("APIFY_LOCAL_API_TOKEN", "from-env")],
    );
    let url = bin.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // A token of the caller's own is not written anywhere.
    assert_eq!(bin.token_file, None);

    let http = crate::common::http_client();
    let r = http.get(format!("{url}/v2/users/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{url}/v2/users/me"))
        .bearer_auth("from-env")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(http);
    assert!(bin.terminate(), "clean exit on SIGTERM");
}

/// The server on its own thread serves a client that has no runtime of its own.
#[test]
fn own_thread_serves_without_a_caller_runtime() {
    let api = apify_local_api::LocalApi::start_on_own_thread(Default::default(), 1).unwrap();
    let url = format!("{}/v2/users/me", api.base_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async { reqwest::get(&url).await.unwrap().status() });
    assert_eq!(status, 200);
    drop(api);
    // Once dropped, the port stops accepting.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let gone = rt.block_on(async { reqwest::get(&url).await });
    assert!(gone.is_err(), "server stopped");
}

/// `--actors DIR` and `--actor NAME=COMMAND` together; SIGTERM ends a live run with the server.
#[tokio::test]
async fn the_binary_registers_and_runs_actors_and_stops_them_on_sigterm() {
    let examples = crate::common::examples_dir();
    let bin = Binary::start(
        &[
            "--actors",
            examples.to_str().unwrap(),
            "--actor",
            "hi=echo hi from a one-off",
            "--actor",
            "sleeper=echo pid=$$; sleep 30",
        ],
        &[],
    );
    let url = bin.url.clone();
    let token = bin.token();
    let http = crate::common::http_client_with_token(&token);
    let list: serde_json::Value = http
        .get(format!("{url}/v2/acts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"]["total"], 5);
    let run: serde_json::Value = http
        .post(format!("{url}/v2/acts/hi/runs?waitForFinish=60"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["data"]["status"], "SUCCEEDED");
    let log = http
        .get(format!(
            "{url}/v2/actor-runs/{}/log",
            run["data"]["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains("hi from a one-off"), "{log}");

    let run: serde_json::Value = http
        .post(format!("{url}/v2/acts/sleeper/runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["data"]["id"].as_str().unwrap().to_owned();
    let mut log = String::new();
    for _ in 0..500 {
        log = http
            .get(format!("{url}/v2/actor-runs/{id}/log"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if log.contains("\npid=") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pgid = crate::common::pid_in(&log);
    assert!(bin.terminate());
    assert!(
        crate::common::group_gone(pgid).await,
        "the run died with the server"
    );
}
