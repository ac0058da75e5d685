//! Downloads that must be exact, bounded and safe, run as the real `apify-host` binary with the
//! built-in transport and with the reqwest plugin:
//!
//! - a record download reset mid-body twice gives the exact bytes (sha256) through `get-value`,
//!   to stdout and to `--out` (resumed with `Range` against the local API, as a real server
//!   allows), and a small `api GET` reset mid-body is retried and printed whole, once;
//! - `--out` writes through a fresh temporary file (O_EXCL, 0600, random name): a symlink
//!   planted at the old predictable name `.NAME.part-PID` is not followed, and a failed or
//!   interrupted download leaves no file behind;
//! - `kvs keys` against a server that always answers "truncated, next key a" stops.
//!
//! The faults come from [`CuttingProxy`], a small TCP proxy in front of the local API that
//! resets a connection after N response bytes, or holds the response until the test opens a
//! gate. Every wait in it is bounded.

use std::{
    io::{Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    os::unix::{fs::PermissionsExt, io::AsRawFd},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{self, bare_cmd, ok, ok_json, run_with, stderr, Env};

const TOKEN: &str = "downloads-test-token-81d2";

/// What the proxy does to the responses it forwards.
struct ProxyState {
    upstream: SocketAddr,
    /// Connections still to reset once `cut_after` response bytes went through.
    cuts_left: AtomicUsize,
    cut_after: u64,
    /// Forward nothing until this is set.
    gate: AtomicBool,
    /// After this many response bytes, forward nothing more (until the proxy is dropped).
    stall_after: Option<u64>,
    stopped: AtomicBool,
}

/// A TCP proxy to `upstream` on 127.0.0.1 that injects faults into responses.
struct CuttingProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl CuttingProxy {
    fn start(upstream: SocketAddr, cuts: usize, cut_after: u64) -> Self {
        Self::with(upstream, cuts, cut_after, true, None)
    }

    fn with(
        upstream: SocketAddr,
        cuts: usize,
        cut_after: u64,
        open: bool,
        stall_after: Option<u64>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            upstream,
            cuts_left: AtomicUsize::new(cuts),
            cut_after,
            gate: AtomicBool::new(open),
            stall_after,
            stopped: AtomicBool::new(false),
        });
        let s = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { return };
                let s = s.clone();
                std::thread::spawn(move || serve(client, &s));
            }
        });
        CuttingProxy { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn open_gate(&self) {
        self.state.gate.store(true, Ordering::SeqCst);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Resets `s` (SO_LINGER 0: the last close sends RST instead of FIN).
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // The copier thread holds a duplicate of this socket: the RST only goes out when the last
    // descriptor closes. Shutting the read side wakes that thread, which then drops its copy.
    let _ = s.shutdown(Shutdown::Read);
    drop(s);
}

fn serve(mut client: TcpStream, s: &ProxyState) {
    let Ok(mut upstream) = TcpStream::connect(s.upstream) else {
        return;
    };
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s.gate.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut forwarded = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match upstream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(stall) = s.stall_after {
            if forwarded + n as u64 > stall {
                let keep = (stall - forwarded) as usize;
                let _ = client.write_all(&buf[..keep]);
                while !s.stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                break;
            }
        }
        if forwarded + n as u64 > s.cut_after
            && s.cuts_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1))
                .is_ok()
        {
            let keep = (s.cut_after - forwarded) as usize;
            let _ = client.write_all(&buf[..keep]);
            let _ = client.flush();
            let _ = upstream.shutdown(Shutdown::Both);
            reset(client);
            return;
        }
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
        forwarded += n as u64;
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// The transports every case runs with: the built-in one, and the reqwest plugin.
fn transports() -> Vec<(&'static str, Option<PathBuf>)> {
    vec![
        ("builtin", None),
        ("plugin:reqwest", Some(support::reqwest_plugin())),
    ]
}

/// `env`'s binary pointed at `base_url`, with `transport` and a config with fast retries.
fn cmd(env: &Env, base_url: &str, transport: &Option<PathBuf>, http: &str) -> Command {
    let mut c = bare_cmd(env.home.path());
    let config = env.file(
        "config.toml",
        format!("[http]\nmin_delay_between_retries_ms = 10\n{http}\n"),
    );
    c.env("APIFY_API_BASE_URL", base_url)
        .env("APIFY_TOKEN", TOKEN)
        .env("APIFY_HOST_CONFIG", config);
    if let Some(so) = transport {
        c.env("APIFY_TRANSPORT_PLUGIN", so);
    }
    c
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic bytes that do not repeat at any short period.
fn record_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Creates a store with `data` under key `k`; answers the store id.
fn store_with(env: &Env, data: &[u8]) -> String {
    let store = ok_json(&env.run(&["kvs", "create"]));
    let id = store["id"].as_str().unwrap().to_string();
    let file = env.file("record.bin", data);
    ok(&env.run(&[
        "kvs",
        "set-value",
        &id,
        "k",
        &format!("@{}", file.display()),
        "--content-type",
        "application/octet-stream",
    ]));
    id
}

/// The local API with the CLI in front of a [`CuttingProxy`]: the requests reach it with the
/// proxy's `Host` (127.0.0.1 and the proxy's port), which a loopback listen refuses unless
/// allowed, as a user would allow a tunnel's (`--allowed-host`).
fn env_behind_proxies() -> Env {
    let config = apify_local_api::LocalApiConfig {
        allowed_hosts: vec!["127.0.0.1".to_owned()],
        ..apify_local_api::LocalApiConfig::with_token(TOKEN)
    };
    Env::with_config(config, TOKEN)
}

fn local_addr(env: &Env) -> SocketAddr {
    env.api.addr()
}

/// Files in `dir` other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn a_record_reset_mid_body_twice_gives_the_exact_bytes_to_stdout_and_to_out() {
    let env = env_behind_proxies();
    let data = record_bytes(3_000_000);
    let id = store_with(&env, &data);
    for (name, transport) in transports() {
        for to_file in [false, true] {
            let proxy = CuttingProxy::start(local_addr(&env), 2, 1_000_000);
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("record.bin");
            let mut args = vec!["kvs", "get-value", &id, "k"];
            let out_arg = out.display().to_string();
            if to_file {
                args.extend(["--out", &out_arg]);
            }
            env.api.clear_request_log();
            let got = run_with(cmd(&env, &proxy.url(), &transport, ""), TOKEN, &args, None);
            let stdout = ok(&got);
            let bytes = if to_file {
                assert!(stdout.is_empty(), "{name}");
                std::fs::read(&out).unwrap()
            } else {
                got.stdout.clone()
            };
            assert_eq!(sha256(&bytes), sha256(&data), "{name} to_file={to_file}");
            let statuses: Vec<_> = env
                .log()
                .iter()
                .filter(|r| r.method == "GET" && r.path.ends_with("/records/k"))
                .map(|r| r.status)
                .collect();
            assert_eq!(
                statuses,
                [Some(200), Some(206), Some(206)],
                "{name} to_file={to_file}: two resumes"
            );
            if to_file {
                assert_eq!(others(dir.path(), &["record.bin"]), Vec::<String>::new());
                let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name}");
            }
        }
    }
}

#[test]
fn a_small_api_get_reset_mid_body_is_retried_and_printed_whole_once() {
    let env = env_behind_proxies();
    let data = record_bytes(200_000);
    let id = store_with(&env, &data);
    let path = format!("/v2/key-value-stores/{id}/records/k");
    for (name, transport) in transports() {
        let proxy = CuttingProxy::start(local_addr(&env), 1, 100_000);
        env.api.clear_request_log();
        let got = run_with(
            cmd(&env, &proxy.url(), &transport, ""),
            TOKEN,
            &["api", "GET", &path],
            None,
        );
        ok(&got);
        assert_eq!(got.stdout.len(), data.len(), "{name}: the body once");
        assert_eq!(sha256(&got.stdout), sha256(&data), "{name}");
        let statuses: Vec<_> = env.log().iter().map(|r| r.status).collect();
        // Retried whole (not resumed): the second answer is a full 200.
        assert_eq!(statuses, [Some(200), Some(200)], "{name}");
    }
}

#[test]
fn a_download_that_cannot_complete_leaves_no_file_and_says_how_much_was_written() {
    let env = env_behind_proxies();
    let data = record_bytes(3_000_000);
    let id = store_with(&env, &data);
    for (name, transport) in transports() {
        // Every connection is reset after 1 MB: resumes and restarts all break.
        let proxy = CuttingProxy::start(local_addr(&env), usize::MAX, 1_000_000);
        let http = "max_resumes = 1";
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("record.bin");
        let out_arg = out.display().to_string();
        let got = run_with(
            cmd(&env, &proxy.url(), &transport, http),
            TOKEN,
            &["kvs", "get-value", &id, "k", "--out", &out_arg],
            None,
        );
        assert_eq!(got.status.code(), Some(1), "{name}: {}", stderr(&got));
        assert_eq!(others(dir.path(), &[]), Vec::<String>::new(), "{name}");
        let err = stderr(&got);
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains("bytes had been written to"), "{name}: {err}");

        let got = run_with(
            cmd(&env, &proxy.url(), &transport, http),
            TOKEN,
            &["kvs", "get-value", &id, "k"],
            None,
        );
        assert_eq!(got.status.code(), Some(1), "{name}");
        let err = stderr(&got);
        let expect = format!("({} bytes had been written to stdout", got.stdout.len());
        assert!(err.contains(&expect), "{name}: {expect} in {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert_eq!(
            &data[..got.stdout.len()],
            &got.stdout[..],
            "{name}: a prefix"
        );
    }
}

#[test]
fn out_never_follows_a_symlink_planted_at_a_predictable_temp_name() {
    let env = env_behind_proxies();
    let data = record_bytes(300_000);
    let id = store_with(&env, &data);
    for (name, transport) in transports() {
        // The response is held until the traps are set, so they are in place in time.
        let proxy = CuttingProxy::with(local_addr(&env), 0, u64::MAX, false, None);
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.path().join("out.bin");
        let mut c = cmd(&env, &proxy.url(), &transport, "");
        c.args(["kvs", "get-value", &id, "k", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = c.spawn().unwrap();
        // The name the old code wrote to, and its neighbours.
        for pid in [child.id(), child.id() + 1] {
            let trap = dir.path().join(format!(".out.bin.part-{pid}"));
            std::os::unix::fs::symlink(&victim, trap).unwrap();
        }
        proxy.open_gate();
        let got = child.wait_with_output().unwrap();
        assert!(got.status.success(), "{name}: {}", stderr(&got));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious",
            "{name}"
        );
        assert_eq!(
            sha256(&std::fs::read(&out).unwrap()),
            sha256(&data),
            "{name}"
        );
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
        let mut left = others(dir.path(), &["victim.txt", "out.bin"]);
        left.sort();
        assert!(
            left.iter().all(|n| n.starts_with(".out.bin.part-")),
            "{name}: only the traps remain: {left:?}"
        );
        assert_eq!(left.len(), 2, "{name}: {left:?}");
    }
}

#[test]
fn ctrl_c_during_a_download_to_out_leaves_no_file() {
    let env = env_behind_proxies();
    let data = record_bytes(3_000_000);
    let id = store_with(&env, &data);
    for (name, transport) in transports() {
        // The body stops after 500 kB and never continues: the download is mid-way.
        let proxy = CuttingProxy::with(local_addr(&env), 0, u64::MAX, true, Some(500_000));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let mut c = cmd(
            &env,
            &proxy.url(),
            &transport,
            "stream_idle_timeout_secs = 30",
        );
        c.args(["kvs", "get-value", &id, "k", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = c.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while others(dir.path(), &[]).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let temp = others(dir.path(), &[]);
        assert_eq!(temp.len(), 1, "{name}: the temporary file exists: {temp:?}");
        assert!(temp[0].starts_with(".out.bin.") && temp[0].ends_with(".part"));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let got = child.wait_with_output().unwrap();
        assert_eq!(got.status.code(), Some(130), "{name}: {}", stderr(&got));
        assert!(
            stderr(&got).contains("interrupted"),
            "{name}: {}",
            stderr(&got)
        );
        assert_eq!(others(dir.path(), &[]), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn kvs_keys_stops_when_the_server_repeats_its_cursor() {
    let server = testkit::TestServer::start_blocking();
    let page = testkit::Action::json(
        200,
        json!({"data": {"items": [{"key": "a", "size": 1}], "count": 1, "limit": 1000,
                        "isTruncated": true, "nextExclusiveStartKey": "a"}}),
    );
    server.script("/v2/key-value-stores/s/keys", vec![page; 50]);
    let home = tempfile::tempdir().unwrap();
    for (name, transport) in transports() {
        server.clear_requests();
        let mut c = bare_cmd(home.path());
        c.env("APIFY_API_BASE_URL", server.url(""));
        if let Some(so) = &transport {
            c.env("APIFY_TRANSPORT_PLUGIN", so);
        }
        let got = run_with(c, TOKEN, &["kvs", "keys", "s", "-o", "jsonl"], None);
        assert_eq!(got.status.code(), Some(1), "{name}");
        assert!(stderr(&got).contains("cursor"), "{name}: {}", stderr(&got));
        assert_eq!(server.requests().len(), 2, "{name}");
    }
}
