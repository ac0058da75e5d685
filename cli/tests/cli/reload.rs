//! Swapping the transport of a running CLI wait by SIGHUP, and `transport info` with a canary:
//! the real binary, a real SIGHUP, the reqwest plugin through the real loader.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use crate::support::{self, bare_cmd, ok_json, stderr};
use testkit::{Action, TestServer};

const TOKEN: &str = "apify_api_reload_test_token";

/// A config file at `path`: the API at `url`, and the transport plugin `plugin` if given.
fn write_config(path: &Path, url: &str, plugin: Option<&Path>, canary: Option<&str>) {
    use std::os::unix::fs::PermissionsExt;
    let mut text = format!("api_url = \"{url}\"\ntoken = \"{TOKEN}\"\n[transport]\n");
    if let Some(p) = plugin {
        text.push_str(&format!("plugin = \"{}\"\n", p.display()));
    }
    if let Some(c) = canary {
        text.push_str(&format!("[transport.canary]\n{c}\n"));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn run_json(status: &str) -> serde_json::Value {
    serde_json::json!({ "data": { "id": "r1", "actId": "a1", "status": status } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_during_runs_wait_swaps_the_transport_and_the_wait_goes_on() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    write_config(&config, &server.url(""), None, None);
    // The run answers RUNNING (each poll held 300 ms) until it has been asked 12 times.
    let mut polls: Vec<Action> = (0..11)
        .map(|_| {
            Action::DelayHeaders(
                Duration::from_millis(300),
                Box::new(Action::json(200, run_json("RUNNING"))),
            )
        })
        .collect();
    polls.push(Action::json(200, run_json("SUCCEEDED")));
    server.script("/v2/actor-runs/r1", polls);

    let mut c = bare_cmd(home.path());
    c.env("APIFY_HOST_CONFIG", &config)
        .args(["runs", "wait", "r1", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = server.requests();
    assert!(before.len() >= 2, "the wait polls");
    let first_conn = before[0].connection;

    write_config(
        &config,
        &server.url(""),
        Some(&support::reqwest_plugin()),
        None,
    );
    // SAFETY: signalling our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGHUP) },
        0
    );
    let got = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = stderr(&got);
    assert_eq!(got.status.code(), Some(0), "{err}");
    let run: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(run["status"], "SUCCEEDED");
    assert!(err.contains("transport reloaded on SIGHUP"), "{err}");
    assert!(err.contains("primary=plugin:reqwest"), "{err}");
    assert!(err.contains("transport drained after SIGHUP"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    // The polls after the reload came on the plugin's connections; the built-in transport's
    // connection was closed after its drain.
    let after = server.requests();
    assert_eq!(after.len(), 12, "every poll answered once");
    assert_ne!(after.last().unwrap().connection, first_conn);
    assert!(
        server
            .wait_closed_by_peer(first_conn, Duration::from_secs(5))
            .await,
        "the built-in transport's connection was closed"
    );
}

#[test]
fn transport_info_shows_the_canary_and_its_share() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    let plugin = support::reqwest_plugin();
    write_config(
        &config,
        "http://127.0.0.1:9",
        None,
        Some(&format!("plugin = \"{}\"\nshare = 0.05", plugin.display())),
    );
    let out = bare_cmd(home.path())
        .env("APIFY_HOST_CONFIG", &config)
        .args(["transport", "info", "-o", "json"])
        .output()
        .unwrap();
    let info = ok_json(&out);
    assert!(info["transport"].as_str().unwrap().contains("built-in"));
    let canary = info["canary"].as_str().unwrap();
    assert!(canary.contains("plugin reqwest") && canary.contains(&*plugin.to_string_lossy()));
    assert_eq!(info["canary_share"], 0.05);
    assert!(
        info["canary_rollback"]
            .as_str()
            .unwrap()
            .contains("more than 0.5 of its last 20 exchanges"),
        "{info}"
    );

    // Without a canary, `none`; a canary out of range is refused by name.
    write_config(&config, "http://127.0.0.1:9", None, None);
    let out = bare_cmd(home.path())
        .env("APIFY_HOST_CONFIG", &config)
        .args(["transport", "info", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(ok_json(&out)["canary"], "none");
    write_config(
        &config,
        "http://127.0.0.1:9",
        None,
        Some(&format!("plugin = \"{}\"\nshare = 5", plugin.display())),
    );
    let out = bare_cmd(home.path())
        .env("APIFY_HOST_CONFIG", &config)
        .args(["transport", "info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[transport.canary] share = 5"),
        "{}",
        stderr(&out)
    );
}
