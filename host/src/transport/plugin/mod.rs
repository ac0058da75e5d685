//! Plugin transports: the safe loader and the adapter from the FFI client.

mod adapter;
mod driver;
mod elf;
// The sealed copy needs memfd_create and file seals, which only Linux has; elsewhere the loader
// refuses to load plugins (see `loader::check_copy`).
#[cfg(target_os = "linux")]
pub(crate) mod image;
#[cfg(not(target_os = "linux"))]
#[path = "image_unsupported.rs"]
mod image;
pub(crate) mod loader;
pub(crate) mod log;

use std::{fmt, path::Path};

pub use adapter::PluginTransport;
pub use loader::{
    load_plugin, Isolation, LoadedPlugin, PluginCheck, PluginInfo, PluginLoadError,
    PluginLoadFailure, PluginLoadOptions,
};
pub use log::PLUGIN_LOG_TARGET;

/// What `apify-host transport inspect PATH` prints: each check, then the metadata.
#[derive(Debug)]
#[non_exhaustive]
pub struct PluginInspectReport {
    /// The path inspected.
    pub path: std::path::PathBuf,
    /// Each check in order, up to the first failure.
    pub checks: Vec<PluginCheck>,
    /// The metadata, if the checks passed.
    pub plugin: Option<LoadedPlugin>,
    /// The constructor's result with the options it was given, if the checks passed.
    pub constructor: Option<Result<(), PluginLoadError>>,
    /// Where the client the constructor made runs; `None` if no client was made.
    pub runs: Option<ClientRuns>,
    /// How many threads the process gained while the constructor ran (the plugin's runtime
    /// and pools); `None` if no client was made or the count cannot be read (no `/proc`).
    pub threads_started: Option<usize>,
    /// What the plugin says of itself, once a check read it (in this process or the worker).
    pub metadata: Option<PluginInfo>,
    /// The sha256 of the sealed copy, once it was made.
    pub sha256: Option<String>,
    /// Where the plugin ran, and what confined it.
    pub isolation: IsolationReport,
}

/// Where an inspected plugin ran, and what confined it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IsolationReport {
    /// In this process, or in a worker process.
    pub isolation: Isolation,
    /// The worker's pid, when one was started.
    pub worker_pid: Option<u32>,
    /// The confinement that applied, or why none did, in words.
    pub confinement: String,
}

impl IsolationReport {
    fn in_process() -> IsolationReport {
        #[cfg(target_os = "linux")]
        let available = match crate::transport::isolated::landlock_available() {
            Ok(abi) => format!("`isolation = \"process\"` would run it in a worker confined by no_new_privs and Landlock ABI {abi}"),
            Err(why) => format!("`isolation = \"process\"` would run it in a worker with no_new_privs only: {why}"),
        };
        #[cfg(not(target_os = "linux"))]
        let available = "process isolation needs Linux".to_string();
        IsolationReport {
            isolation: Isolation::InProcess,
            worker_pid: None,
            confinement: format!("none: it runs in this process with its rights; {available}"),
        }
    }
}

impl PluginInspectReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.result.is_ok()) && matches!(self.constructor, Some(Ok(())))
    }
}

/// Runs every load check on `path`, then the constructor with `plugin_options` (the
/// `[transport.options]` table as JSON), without sending a request.
pub fn inspect_plugin(
    path: &Path,
    options: &PluginLoadOptions,
    plugin_options: &serde_json::Value,
) -> PluginInspectReport {
    inspect_plugin_lending(path, options, plugin_options, true)
}

/// [`inspect_plugin`], with a hosted plugin's client made on its own runtime when `lend` is
/// false (`[transport] hosted = false`).
pub(crate) fn inspect_plugin_lending(
    path: &Path,
    options: &PluginLoadOptions,
    plugin_options: &serde_json::Value,
    lend: bool,
) -> PluginInspectReport {
    #[cfg(target_os = "linux")]
    if options.isolation == Isolation::Process {
        return inspect_isolated(path, options, plugin_options, lend);
    }
    let (checks, plugin) = loader::run_all_checks(path, options);
    let (mut runs, mut threads_started) = (None, None);
    let constructor = plugin.as_ref().map(|p| {
        let before = thread_count();
        let client = if lend {
            p.new_client(plugin_options)
        } else {
            p.new_client_on_own_runtime(plugin_options)
        };
        threads_started = before
            .zip(thread_count())
            .map(|(before, after)| after.saturating_sub(before));
        client.map(|c| runs = Some(c.runs()))
    });
    if !matches!(constructor, Some(Ok(()))) {
        threads_started = None;
    }
    PluginInspectReport {
        path: path.to_path_buf(),
        checks,
        metadata: plugin.as_ref().map(|p| p.metadata.clone()),
        sha256: plugin.as_ref().map(|p| p.sha256.clone()),
        plugin,
        constructor,
        runs,
        threads_started,
        isolation: IsolationReport::in_process(),
    }
}

/// [`inspect_plugin_lending`] for `isolation = "process"`: the host's checks here, the rest
/// and the constructor in a worker, whose checks are reported after the host's.
#[cfg(target_os = "linux")]
fn inspect_isolated(
    path: &Path,
    options: &PluginLoadOptions,
    plugin_options: &serde_json::Value,
    lend: bool,
) -> PluginInspectReport {
    let mut checks = Vec::new();
    let started = crate::transport::IsolatedTransport::start_reporting(
        path,
        options,
        plugin_options,
        lend,
        &mut checks,
    );
    let mut report = PluginInspectReport {
        path: path.to_path_buf(),
        checks,
        plugin: None,
        constructor: None,
        runs: None,
        threads_started: None,
        metadata: None,
        sha256: None,
        isolation: IsolationReport {
            isolation: Isolation::Process,
            worker_pid: None,
            confinement: "none: no worker was started".into(),
        },
    };
    match started {
        Ok(t) => {
            report.constructor = Some(Ok(()));
            report.runs = Some(t.runs());
            report.threads_started = t.threads_started().map(|n| n as usize);
            report.metadata = Some(t.plugin_info().clone());
            report.sha256 = Some(t.sha256().to_string());
            report.isolation.worker_pid = t.worker_pid();
            report.isolation.confinement = t.confinement().to_string();
        }
        // A constructor's refusal comes after every check passed; any other is a check's.
        Err(e)
            if matches!(
                e.failure,
                PluginLoadFailure::ConstructorFailed | PluginLoadFailure::ConstructorPanicked
            ) =>
        {
            report.constructor = Some(Err(e));
        }
        Err(e) => {
            if report.checks.iter().all(|c| c.result.is_ok()) {
                report.checks.push(PluginCheck {
                    check: "worker",
                    result: Err(e),
                });
            }
        }
    }
    report
}

/// The threads of this process now (`/proc/self/task`); `None` where that cannot be read.
pub fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(|tasks| tasks.count())
}

/// Where a plugin's client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ClientRuns {
    /// On the host's runtime, through the sockets, tasks and timers it lends (a hosted
    /// plugin, interface 1.3).
    Hosted,
    /// On the plugin's own runtime, which has no threads: the host's threads poll its
    /// exchanges and drive it (interface 1.5).
    Driven,
    /// On the plugin's own runtime and threads: a plugin older than 1.5, a blocking one, or
    /// any with `[transport] hosted = false`.
    OwnThreads,
}

impl ClientRuns {
    /// A short name, for JSON output: `hosted`, `driven` or `own-runtime`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientRuns::Hosted => "hosted",
            ClientRuns::Driven => "driven",
            ClientRuns::OwnThreads => "own-runtime",
        }
    }

    /// In words, for `transport inspect` and `transport check`, for a plugin with
    /// `capabilities` (`hosted` or `driven`: it could have run on the host's threads).
    pub fn describe(self, capabilities: apify_plugin_api::Capabilities) -> &'static str {
        use apify_plugin_api::Capabilities;
        let lendable = capabilities.contains(Capabilities::HOSTED)
            || capabilities.contains(Capabilities::DRIVEN);
        match (self, lendable) {
            (ClientRuns::Hosted, _) => {
                "hosted: on the host's runtime, through the sockets, tasks and timers it lends"
            }
            (ClientRuns::Driven, _) => {
                "driven: on its own runtime, which has no threads; the host's threads poll its \
                 calls and drive it"
            }
            (ClientRuns::OwnThreads, true) => {
                "on its own runtime and threads (it could run on the host's: [transport] \
                 hosted = false)"
            }
            (ClientRuns::OwnThreads, false) => {
                "on its own runtime and threads (the host lends it nothing)"
            }
        }
    }
}

impl fmt::Display for PluginInspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plugin: {}", self.path.display())?;
        for c in &self.checks {
            match &c.result {
                Ok(detail) => writeln!(f, "  ok    {:<12} {detail}", c.check)?,
                Err(e) => writeln!(f, "  FAIL  {:<12} {}. {}", c.check, e.reason, e.fix)?,
            }
        }
        if let Some(ctor) = &self.constructor {
            match ctor {
                Ok(()) => writeln!(
                    f,
                    "  ok    {:<12} client created with the given options",
                    "constructor"
                )?,
                Err(e) => writeln!(f, "  FAIL  {:<12} {}. {}", "constructor", e.reason, e.fix)?,
            }
        }
        if let Some(m) = &self.metadata {
            writeln!(f, "name:         {}", m.name)?;
            writeln!(f, "version:      {}", m.version)?;
            writeln!(f, "description:  {}", m.description)?;
            writeln!(f, "plugin API:   {}.{}", m.api_major, m.api_minor)?;
            writeln!(f, "capabilities: {}", m.capabilities.names().join(", "))?;
            if let Some(runs) = self.runs {
                writeln!(f, "runs:         {}", runs.describe(m.capabilities))?;
            }
            if let Some(n) = self.threads_started {
                writeln!(f, "threads:      {n} started by its constructor")?;
            }
            if let Some(sha256) = &self.sha256 {
                writeln!(f, "sha256:       {sha256}")?;
            }
            let iso = &self.isolation;
            match iso.worker_pid {
                Some(pid) => writeln!(f, "isolation:    process (worker pid {pid})")?,
                None => writeln!(f, "isolation:    {}", iso.isolation.as_str())?,
            }
            writeln!(f, "confinement:  {}", iso.confinement)?;
            match &m.diagnostics {
                Some(d) => writeln!(f, "diagnostics:  {d}")?,
                None => writeln!(
                    f,
                    "diagnostics:  not provided (plugin built against API {}.{})",
                    m.api_major, m.api_minor
                )?,
            }
        }
        Ok(())
    }
}
