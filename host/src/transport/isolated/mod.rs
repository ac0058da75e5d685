//! Process isolation: a plugin served by a confined worker process, so that a crash in the
//! transport fails only its own calls and the transport can read none of the host's files.
//!
//! ```text
//! host process                                   apify-transport-worker
//! pipeline → IsolatedTransport ─ socketpair ─→  worker.rs → PluginTransport → plugin .so
//!            supervisor.rs (start, restart,        (no_new_privs, Landlock: read-only CA
//!            fail fast, kill when hung)             bundles, resolver and library files)
//! ```
//!
//! The host runs every load check that does not execute the plugin (path, permissions, the
//! sealed copy, sha256, ELF, root symbol), then hands the worker the sealed memfd itself: the
//! bytes it checked are the bytes that run, and the path is never opened twice. The worker
//! confines itself, runs the same checks again on the copy, and only then `dlopen`s it.
//!
//! `protocol` is the wire, `connection` the host's end of it, [`worker`] the other end,
//! `spawn` and `supervisor` the process's life, `confine` the sandbox.

mod confine;
mod connection;
mod protocol;
mod ring;
mod spawn;
mod supervisor;
mod wire;
#[doc(hidden)]
pub mod worker;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

pub use confine::landlock_available;
use connection::{death_error, CallFailure, DiedWhile};
pub use supervisor::WorkerCounts;
use supervisor::{Spec, Supervisor};

pub use super::plugin::Isolation;
use super::plugin::{loader, PluginInfo, PluginLoadError, PluginLoadFailure, PluginLoadOptions};
use crate::transport::{CallFuture, HttpTransport, TransportRequest, TransportRequestBody};

/// The worker program's file name.
pub const WORKER_NAME: &str = "apify-transport-worker";

/// The environment variable naming the worker program.
pub const WORKER_ENV: &str = "APIFY_TRANSPORT_WORKER";

/// How far past a call's head deadline the worker may go before it counts as hung and is
/// killed.
pub const HUNG_GRACE: Duration = Duration::from_secs(5);

/// A plugin served by a worker process.
pub struct IsolatedTransport {
    name: String,
    supervisor: Arc<Supervisor>,
    info: PluginInfo,
    path: PathBuf,
    sha256: String,
    confinement: String,
    runs: crate::transport::plugin::ClientRuns,
    worker: PathBuf,
    threads_started: Option<u32>,
    worker_checks: Vec<(String, String)>,
}

impl std::fmt::Debug for IsolatedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsolatedTransport")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("worker", &self.worker)
            .field("pid", &self.supervisor.pid())
            .finish_non_exhaustive()
    }
}

impl IsolatedTransport {
    /// Checks the plugin at `path` as [`super::plugin::load_plugin`] does, up to the point
    /// where its code would run, then starts a worker that loads it and makes its client with
    /// `plugin_options`. Every refusal, the worker's included, is a [`PluginLoadError`].
    pub fn start(
        path: &Path,
        load_options: &PluginLoadOptions,
        plugin_options: &serde_json::Value,
        hosted: bool,
    ) -> Result<IsolatedTransport, PluginLoadError> {
        Self::start_reporting(path, load_options, plugin_options, hosted, &mut Vec::new())
    }

    /// [`IsolatedTransport::start`], recording each check: the host's, then the worker's (for
    /// `apify-host transport inspect`).
    pub(crate) fn start_reporting(
        path: &Path,
        load_options: &PluginLoadOptions,
        plugin_options: &serde_json::Value,
        hosted: bool,
        report: &mut Vec<loader::PluginCheck>,
    ) -> Result<IsolatedTransport, PluginLoadError> {
        let file = loader::run_file_checks(path, load_options, report)?;
        let worker = find_worker(path, load_options)?;
        let spec = Spec {
            worker: worker.clone(),
            path: file.canonical.clone(),
            image: file.image.into_fd(),
            hello: protocol::Hello {
                protocol: protocol::PROTOCOL,
                path: file.canonical.display().to_string(),
                sha256: file.sha256.clone(),
                options: plugin_options.to_string(),
                hosted,
                confine: true,
                readable: confine::files_in_options(plugin_options),
                log_level: super::plugin::log::max_level().0,
                lanes: supervisor::LANES as u8,
                // Set per worker, when its rings are made.
                ring: 0,
            },
            grace: HUNG_GRACE,
        };
        let (supervisor, ready, _pid) = Supervisor::start(spec)?;
        for (check, detail) in &ready.checks {
            report.push(loader::PluginCheck {
                check: worker_check_name(check),
                result: Ok(format!("in the worker: {detail}")),
            });
        }
        let info = PluginInfo {
            name: ready.name.clone(),
            version: ready.version.clone(),
            description: ready.description.clone(),
            api_major: ready.api_major,
            api_minor: ready.api_minor,
            capabilities: apify_plugin_api::Capabilities(ready.capabilities),
            diagnostics: ready.diagnostics.clone(),
        };
        Ok(IsolatedTransport {
            name: format!("plugin:{}", info.name),
            supervisor,
            info,
            path: file.canonical,
            sha256: file.sha256,
            confinement: ready.confinement,
            runs: ready.runs,
            worker,
            threads_started: ready.threads_started,
            worker_checks: ready.checks,
        })
    }

    /// What the plugin says of itself (from the worker that loaded it).
    pub fn plugin_info(&self) -> &PluginInfo {
        &self.info
    }

    /// The plugin's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sha256 of the sealed copy the workers load.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The worker program.
    pub fn worker_program(&self) -> &Path {
        &self.worker
    }

    /// The pid of the worker serving calls now, if one runs.
    pub fn worker_pid(&self) -> Option<u32> {
        self.supervisor.pid()
    }

    /// What confinement the worker applied, in words (e.g. `no_new_privs; Landlock ABI 6:
    /// reads only ...`), or why none did.
    pub fn confinement(&self) -> &str {
        &self.confinement
    }

    /// Threads the plugin's constructor started in the worker (`None`: not known).
    pub fn threads_started(&self) -> Option<u32> {
        self.threads_started
    }

    /// The load checks the worker ran on the sealed copy, each with its detail.
    pub fn worker_checks(&self) -> &[(String, String)] {
        &self.worker_checks
    }

    /// Whether the plugin's client runs hosted on the worker's runtime.
    pub fn runs_hosted(&self) -> bool {
        self.runs == crate::transport::plugin::ClientRuns::Hosted
    }

    /// Where the plugin's client runs in the worker.
    pub fn runs(&self) -> crate::transport::plugin::ClientRuns {
        self.runs
    }

    /// Workers started, deaths, and workers killed for hanging, so far.
    pub fn worker_counts(&self) -> WorkerCounts {
        self.supervisor.counts()
    }
}

impl Drop for IsolatedTransport {
    fn drop(&mut self) {
        self.supervisor.retire();
    }
}

impl HttpTransport for IsolatedTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: TransportRequest) -> CallFuture {
        let supervisor = self.supervisor.clone();
        Box::pin(async move {
            // A whole body can be sent again; a stream cannot.
            let replay = match &request.body {
                TransportRequestBody::Full(b) => Some(TransportRequest {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers: request.headers.clone(),
                    body: TransportRequestBody::Full(b.clone()),
                    timeout: request.timeout,
                    stream: request.stream,
                }),
                TransportRequestBody::Stream { .. } => None,
            };
            let worker = supervisor.worker(None).await?;
            let death = match worker.connection().call(request).await {
                Ok(response) => return Ok(response),
                Err(CallFailure::Transport(e)) => return Err(e),
                Err(CallFailure::Overdue(death)) => {
                    return Err(death_error(&death, DiedWhile::ThisCallHung))
                }
                Err(CallFailure::WorkerDied(death)) => death,
            };
            let Some(request) = replay else {
                return Err(death_error(&death, DiedWhile::NotReplayable));
            };
            // Once, on a fresh worker, and one survivor at a time until its head: any of them
            // may be what killed the last worker.
            tracing::debug!(pid = death.pid, "retrying a call its worker died under");
            let _turn = supervisor.retry_gate.acquire().await;
            let worker = supervisor.worker(Some(death.pid)).await?;
            match worker.connection().call(request).await {
                Ok(response) => Ok(response),
                Err(CallFailure::Transport(e)) => Err(e),
                Err(CallFailure::WorkerDied(death)) => Err(death_error(&death, DiedWhile::Retry)),
                Err(CallFailure::Overdue(death)) => {
                    Err(death_error(&death, DiedWhile::ThisCallHung))
                }
            }
        })
    }
}

/// Finds the worker program: `[transport] worker`, then `APIFY_TRANSPORT_WORKER`, then next to
/// the running program (or one folder up, where `cargo test` binaries live), then `PATH`. It
/// runs with the host's rights, so it is held to the plugin's permission rule.
fn find_worker(plugin: &Path, options: &PluginLoadOptions) -> Result<PathBuf, PluginLoadError> {
    let mut tried = Vec::new();
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    if let Some(w) = &options.worker {
        candidates.push((w.clone(), "[transport] worker"));
    }
    if let Some(w) = std::env::var_os(WORKER_ENV) {
        candidates.push((PathBuf::from(w), WORKER_ENV));
    }
    let explicit = !candidates.is_empty();
    if !explicit {
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1).take(2) {
                candidates.push((dir.join(WORKER_NAME), "next to the program"));
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                candidates.push((dir.join(WORKER_NAME), "PATH"));
            }
        }
    }
    for (candidate, from) in candidates {
        if candidate.is_file() {
            loader::check_program(&candidate, options).map_err(|mut e| {
                e.reason = format!(
                    "the transport worker {} ({from}) {}",
                    candidate.display(),
                    e.reason
                );
                e
            })?;
            return Ok(candidate);
        }
        tried.push(format!("{} ({from})", candidate.display()));
        if explicit {
            break;
        }
    }
    Err(loader::fail(
        plugin,
        PluginLoadFailure::NotFound,
        format!(
            "isolation = \"process\" needs the transport worker, {WORKER_NAME}, and it is not at {}",
            tried.join(", ")
        ),
        format!(
            "Build it (`cargo build --release -p {WORKER_NAME}`) and put it next to this program, \
             or name it with `worker` under [transport] or {WORKER_ENV}"
        ),
    ))
}

/// The worker's check names are the loader's own; anything else is reported as the worker's.
fn worker_check_name(name: &str) -> &'static str {
    [
        "sealed copy",
        "sha256",
        "elf",
        "root symbol",
        "dlopen",
        "layout check",
        "abi",
        "api version",
    ]
    .into_iter()
    .find(|known| *known == name)
    .unwrap_or("worker")
}
