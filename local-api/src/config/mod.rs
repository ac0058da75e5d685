//! Configuration of a [`LocalApi`](crate::LocalApi) server, and the Actor manifests it
//! registers ([`manifest`]).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub mod limits;
pub mod manifest;

use manifest::{ActorDefinition, ManifestError};

/// The API's own limit for JSON payloads (datasets, request queues): 9 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 9 * 1024 * 1024;

/// The longest the API holds an answer for `waitForFinish` (the real API's cap: 60 s).
pub const DEFAULT_MAX_WAIT_FOR_FINISH: Duration = Duration::from_secs(60);

/// The largest key-value store record accepted by default, after decompression: 1 GiB.
///
/// The platform documents no record size limit (the API spec's `PUT …/records/{key}` lists
/// only 413 and 415, and neither official client caps records), so this is our choice: far
/// above anything an Actor stores in practice and above the project's main job's 256 MiB
/// record (`scripts/main-job.sh`, `RECORD_MIB` up to 1024), while a runaway or hostile upload
/// still cannot fill the disk (or a RAM-backed temp folder) without bound.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1024 * 1024 * 1024;

/// How many requests the request log keeps by default (oldest dropped first).
pub const DEFAULT_REQUEST_LOG_LIMIT: usize = 10_000;

/// How many runs may be READY or RUNNING at once by default: 25, as the platform's default
/// limit the user limits report (`maxConcurrentActorJobs`).
pub const DEFAULT_MAX_CONCURRENT_RUNS: usize = 25;

/// The most a run's (or build's) log keeps by default: 10 MiB, the tail.
pub const DEFAULT_MAX_LOG_BYTES: usize = 10 * 1024 * 1024;

/// How to start a [`LocalApi`](crate::LocalApi).
#[derive(Clone)]
pub struct LocalApiConfig {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// When set, every `/v2` and `/_control` request (but `/_control/health`) must carry this
    /// token (`Authorization: Bearer` or `?token=`). The request log never holds it.
    pub token: Option<String>,
    /// Folder in which the server creates its temporary data folder (record bodies). The data
    /// folder is always a fresh temporary one, removed when the server is dropped; this only
    /// chooses where it lives (default: the system temp folder, which may be RAM-backed).
    pub data_dir: Option<PathBuf>,
    /// `username` of the single user (used in `username~store-name` ids). Default `local-user`.
    pub username: String,
    /// `id` of the single user. Default `LocalUser0000001`-like fixed id.
    pub user_id: String,
    /// Largest JSON body accepted (dataset items, requests), after decompression.
    pub max_payload_bytes: usize,
    /// How many requests [`LocalApi::request_log`](crate::LocalApi::request_log) keeps; 0 turns
    /// the log off (benchmarks).
    pub request_log_limit: usize,
    /// The Actors this server can run (see [`manifest`]); registered only here, never
    /// through the API.
    pub actors: Vec<ActorDefinition>,
    /// The longest a `waitForFinish` request is held (default
    /// [`DEFAULT_MAX_WAIT_FOR_FINISH`], the real API's cap). A shorter cap lets a test see a
    /// client poll several times for a run of a few seconds.
    pub max_wait_for_finish: Duration,
    /// Largest key-value store record accepted, after decompression (default
    /// [`DEFAULT_MAX_RECORD_BYTES`]); a larger upload is answered 413 `request-too-large` and
    /// its partial file removed.
    pub max_record_bytes: u64,
    /// How many runs may be live (READY, RUNNING, TIMING-OUT, ABORTING) at once (default
    /// [`DEFAULT_MAX_CONCURRENT_RUNS`]); a start above it is refused with 402
    /// `concurrent-runs-limit-exceeded` and starts no process. The user limits report it.
    pub max_concurrent_runs: usize,
    /// The most bytes a log keeps (default [`DEFAULT_MAX_LOG_BYTES`]): beyond it the head is
    /// dropped and one marker line says how many bytes were.
    pub max_log_bytes: usize,
    /// Names of the server's environment variables a run also gets, beyond the allow-list of
    /// [`RUN_ENV_ALLOW_LIST`] and the platform's variables (`--pass-env NAME`). A run's
    /// environment is built, not inherited: the server's secrets and proxy settings stay out.
    pub pass_env: Vec<String>,
    /// More `Host` values a loopback listen accepts besides its own address: `HOST:PORT`, or
    /// `HOST` for any port of it. For a tunnel or a proxy in front of the server (`ssh -L
    /// 9000:127.0.0.1:PORT` sends `Host: localhost:9000`). Names only: the check they relax
    /// is what stops DNS rebinding, so list only names that resolve to this machine.
    pub allowed_hosts: Vec<String>,
}

/// The server's environment variables every run gets (when set): what a shell and its
/// programs need to work, nothing that could hold a secret.
pub const RUN_ENV_ALLOW_LIST: [&str; 10] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
];

impl Default for LocalApiConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: None,
            data_dir: None,
            username: "local-user".to_owned(),
            user_id: "LocalUserId000001".to_owned(),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            request_log_limit: DEFAULT_REQUEST_LOG_LIMIT,
            actors: Vec::new(),
            max_wait_for_finish: DEFAULT_MAX_WAIT_FOR_FINISH,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_concurrent_runs: DEFAULT_MAX_CONCURRENT_RUNS,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            pass_env: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl LocalApiConfig {
    /// Adds the Actors of every `*/actor.json` under `dir`; a malformed manifest is an error
    /// naming the file and the field.
    pub fn load_actors_dir(&mut self, dir: &std::path::Path) -> Result<(), ManifestError> {
        self.actors.extend(manifest::load_dir(dir)?);
        Ok(())
    }

    /// Adds a one-off Actor from `NAME=COMMAND`.
    pub fn add_actor(&mut self, arg: &str) -> Result<(), ManifestError> {
        self.actors.push(ActorDefinition::parse_one_off(arg)?);
        Ok(())
    }

    /// The default configuration with a token required on `/v2`.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..Self::default()
        }
    }
}

// Written by hand so that the token never reaches a log line or a test failure message.
impl fmt::Debug for LocalApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalApiConfig")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("request_log_limit", &self.request_log_limit)
            .field("max_wait_for_finish", &self.max_wait_for_finish)
            .field("max_record_bytes", &self.max_record_bytes)
            .field("max_concurrent_runs", &self.max_concurrent_runs)
            .field("max_log_bytes", &self.max_log_bytes)
            .field("pass_env", &self.pass_env)
            .field("allowed_hosts", &self.allowed_hosts)
            .field(
                "actors",
                &self.actors.iter().map(|a| &a.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}
