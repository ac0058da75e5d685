//! Ctrl-C (a real SIGINT to the binary) while a request is in flight, with the built-in
//! transport, the reqwest plugin, and the reqwest plugin isolated in a worker process: the
//! command exits 130 at once, says it was interrupted, the request's connection is closed, as
//! the server sees it, and no worker process is left behind.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use crate::support::{self, bare_cmd, stderr};
use testkit::{Action, TestServer};

const TOKEN: &str = "apify_api_interrupt_test_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_aborts_the_request_in_flight_and_exits_130() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    for (name, plugin, isolated) in [
        ("builtin", None, false),
        ("plugin:reqwest", Some(support::reqwest_plugin()), false),
        ("isolated:reqwest", Some(support::reqwest_plugin()), true),
    ] {
        server.clear_requests();
        // The server takes the request and never answers.
        server.script("/v2/users/me", vec![Action::Hang]);
        let mut c = bare_cmd(home.path());
        c.env("APIFY_API_BASE_URL", server.url(""))
            .env("APIFY_TOKEN", TOKEN)
            .args(["users", "me"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(so) = &plugin {
            c.env("APIFY_TRANSPORT_PLUGIN", so);
        }
        if isolated {
            c.env("APIFY_TRANSPORT_ISOLATION", "process");
        }
        let child = c.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.requests().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let conn = server.requests().first().map(|r| r.connection);
        let conn = conn.unwrap_or_else(|| panic!("{name}: the request never arrived"));
        let workers = children_named(child.id(), "apify-transport");
        assert_eq!(
            workers.len(),
            usize::from(isolated),
            "{name}: workers {workers:?}"
        );
        let sent = Instant::now();
        // SAFETY: signalling our own child.
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
            0
        );
        let got = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got.status.code(),
            Some(130),
            "{name}: stderr: {}; stdout: {}; requests the server saw: {:?}",
            stderr(&got),
            String::from_utf8_lossy(&got.stdout),
            server
                .requests()
                .iter()
                .map(|r| (
                    r.method.clone(),
                    r.path.clone(),
                    r.connection,
                    r.received_at.elapsed()
                ))
                .collect::<Vec<_>>()
        );
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "{name}: exits at once"
        );
        let err = stderr(&got);
        assert!(err.contains("interrupted"), "{name}: {err}");
        assert!(!err.contains(TOKEN), "{name}: {err}");
        assert!(
            server
                .wait_closed_by_peer(conn, Duration::from_secs(5))
                .await,
            "{name}: the request's connection was closed"
        );
        for pid in workers {
            let deadline = Instant::now() + Duration::from_secs(5);
            while running(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(!running(pid), "{name}: the worker {pid} outlived the CLI");
        }
    }
}

/// The children of `parent` whose command name starts with `name` (`/proc`'s is cut to 15
/// bytes).
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if ppid == Some(parent.to_string().as_str()) && name.starts_with(comm) {
            out.extend(entry.file_name().to_string_lossy().parse::<u32>());
        }
    }
    out
}

/// Whether process `pid` exists and has not exited (a zombie waiting for its reaper is done).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A hosted plugin that blocks the CLI's only runtime thread in a call: the first Ctrl-C cannot
/// be acted on there, the second ends the process at once with 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_ends_a_command_whose_thread_a_plugin_blocks() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    let so = support::reqwest_plugin().with_file_name("libfixture_hosted_faulty_plugin.so");
    std::fs::write(
        &config,
        format!(
            "[transport]\nplugin = {:?}\n[transport.options]\nbreak = \"block\"\n",
            so.display().to_string()
        ),
    )
    .unwrap();
    let mut c = bare_cmd(home.path());
    c.env("APIFY_API_BASE_URL", server.url(""))
        .env("APIFY_TOKEN", TOKEN)
        .env("APIFY_HOST_CONFIG", &config)
        .args(["users", "me"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    // The plugin connects, then blocks.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.connections_accepted() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.connections_accepted(),
        1,
        "the plugin never connected"
    );
    for _ in 0..2 {
        // SAFETY: signalling our own child.
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
            0
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status.code(), Some(130), "{}", stderr(&got));
    assert!(
        stderr(&got).contains("interrupted twice"),
        "{}",
        stderr(&got)
    );
}
