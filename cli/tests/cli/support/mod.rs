//! Harness for tests that run the real `apify-host` binary:
//!
//! - [`Env`] starts the local Apify API (`apify-local-api`) in-process on 127.0.0.1, on its own
//!   runtime, with a private home folder so no user config leaks in;
//! - [`bare_cmd`] is the binary with a clean environment, [`run_with`] runs it and checks that
//!   the token never shows in its output;
//! - [`ok`], [`ok_json`] and [`stderr`] read an [`Output`].
//!
//! [`prism`] is the contract test's mock server and recording proxy.

pub mod prism;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use apify_local_api::{LocalApi, LocalApiConfig, LoggedRequest};
use serde_json::Value;

/// The environment variables the binary reads, cleared so the caller's environment never
/// leaks in.
const HOST_ENV_VARS: [&str; 7] = [
    "APIFY_TOKEN",
    "APIFY_API_BASE_URL",
    "APIFY_HOST_CONFIG",
    "APIFY_TRANSPORT_PLUGIN",
    "RUST_LOG",
    "APIFY_IS_AT_HOME",
    "APIFY_WORKFLOW_KEY",
];

/// A local API on its own runtime, and a private home folder so no user config leaks in.
pub struct Env {
    pub api: LocalApi,
    pub home: tempfile::TempDir,
    token: &'static str,
    _rt: tokio::runtime::Runtime,
}

impl Env {
    /// Starts a local API that accepts `token`.
    pub fn new(token: &'static str) -> Self {
        Self::start(LocalApiConfig::with_token(token), token)
    }

    /// Starts a local API that accepts `token` and runs the example Actors of
    /// `examples/actors` plus the one-off `sleeper` (`sleep 30`).
    pub fn with_actors(token: &'static str) -> Self {
        let mut config = LocalApiConfig::with_token(token);
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/actors");
        config
            .load_actors_dir(&examples)
            .expect("the example Actors load");
        config.add_actor("sleeper=sleep 30").unwrap();
        Self::start(config, token)
    }

    /// Starts a local API with `config` (which should require `token`).
    pub fn with_config(config: LocalApiConfig, token: &'static str) -> Self {
        Self::start(config, token)
    }

    fn start(config: LocalApiConfig, token: &'static str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let api = rt
            .block_on(LocalApi::start(config))
            .expect("local API starts");
        Env {
            api,
            home: tempfile::tempdir().unwrap(),
            token,
            _rt: rt,
        }
    }

    /// The binary with a clean environment and the local API's URL, but no token.
    pub fn cmd_without_token(&self) -> Command {
        let mut c = bare_cmd(self.home.path());
        c.env("APIFY_API_BASE_URL", self.api.base_url());
        c
    }

    /// The binary with a clean environment, pointed at the local API with the token.
    pub fn cmd(&self) -> Command {
        let mut c = self.cmd_without_token();
        c.env("APIFY_TOKEN", self.token);
        c
    }

    /// Runs [`Env::cmd`] with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(self.cmd(), args, None)
    }

    /// Runs [`Env::cmd`] with `args`, feeding `stdin`.
    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run_with(self.cmd(), args, Some(stdin))
    }

    /// [`run_with`] this environment's token.
    pub fn run_with(&self, c: Command, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_with(c, self.token, args, stdin)
    }

    /// Writes `content` to `name` in the home folder; answers its path.
    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Every request the server received.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.api.request_log()
    }

    /// How many requests reached the server.
    pub fn requests(&self) -> usize {
        self.api.request_log().len()
    }
}

/// The binary with a clean environment: none of its variables set, `home` as the home and
/// config folder.
pub fn bare_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apify-host"));
    for var in HOST_ENV_VARS {
        c.env_remove(var);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    c
}

/// Runs `c` with `args` (and `stdin`, else a null input); asserts that `token` shows in
/// neither stdout nor stderr.
pub fn run_with(mut c: Command, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(token),
        "the token leaked into the output of {args:?}: {all}"
    );
    out
}

/// Asserts success and answers stdout as text.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts success and answers stdout parsed as JSON.
#[track_caller]
pub fn ok_json(out: &Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// A URL on 127.0.0.1 where nothing listens.
pub fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

/// The reqwest plugin's `.so`, built into `deps/` as a dev-dependency of this crate.
pub fn reqwest_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().join("libapify_transport_reqwest.so");
    assert!(so.is_file(), "{} is missing", so.display());
    so
}
