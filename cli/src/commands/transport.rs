//! `apify-host transport ...`: which transport is used, and checks of a plugin file.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apify_conformance::{Outcome, Status, Subject};
use apify_host::transport::plugin::{
    thread_count, ClientRuns, PluginInfo, PluginInspectReport, PluginLoadError, PluginLoadFailure,
};
use apify_host::transport::{IsolatedTransport, Isolation};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;

mod new;

use crate::{context::Context, error::CliError, input::InputSource, output::OutputFormat};
use new::TemplateKind;

/// Transport commands.
#[derive(Debug, Subcommand)]
pub enum TransportCommand {
    /// Show which transport the other commands use, and where that choice comes from.
    #[command(
        long_about = "Show which transport the other commands use (the built-in one or \
        a plugin, with its name, version and path) and where that choice comes from: \
        --transport-plugin, then APIFY_TRANSPORT_PLUGIN, then `[transport] plugin` in the \
        config file. Also the canary of `[transport.canary]`, if any: what it is, its \
        share of the calls and when it is rolled back. Loading the plugins runs every load \
        check; no request is sent.\n\n\
        Examples:\n  apify-host transport info\n  \
        APIFY_TRANSPORT_PLUGIN=/opt/apify/libapify_transport_reqwest.so apify-host transport info"
    )]
    Info,

    /// Check a plugin file without sending a request: each load check, then its metadata.
    #[command(
        long_about = "Check a transport plugin file without sending any request: path \
        and permissions, the sha256 pin of the config (if any), the ABI layout and interface \
        version, then the plugin's constructor with the config's `[transport.options]` (or \
        --options). Prints each check and the plugin's metadata (name, version, plugin API, \
        capabilities, how it runs and the threads its constructor started, sha256, \
        diagnostics); exits with 2 if a check fails, as any command would with that plugin. \
        The file checks run before the library is opened, but the ABI checks and the \
        constructor run the plugin's code: do not inspect files you would not load.\n\n\
        The report is text for people; `-o json` prints it as one JSON document instead \
        (`-o jsonl`: on one line): `path`, `ok`, `checks` (each with `check`, `result` \
        \"ok\" and its `detail`, or \"fail\" with `reason` and `fix`; the constructor's \
        last), and `plugin` (`null` until the metadata is read): `path`, `name`, `version`, \
        `description`, `api`, `capabilities`, `runs` (\"hosted\", \"driven\" or \"own-runtime\"; `null` \
        without a client), `threads_started`, `sha256` and `diagnostics`.\n\n\
        Examples:\n  apify-host transport inspect /opt/apify/transports/libapify_transport_reqwest.so\n  \
        apify-host transport inspect ./libx.so --options '{\"http2\": true}'\n  \
        apify-host transport inspect ./libx.so -o json | jq -r .plugin.sha256"
    )]
    Inspect {
        /// The plugin file (.so).
        path: PathBuf,
        /// The plugin's options, as a JSON object, `@file` or `-` (default: the config's
        /// `[transport.options]`).
        #[arg(long, value_name = "JSON|@FILE")]
        options: Option<InputSource>,
    },

    /// Run the transport conformance suite against a plugin: every rule of the contract.
    #[command(
        long_about = "Run the transport conformance suite against a plugin file, from this \
        binary alone (no cargo, no source checkout): loopback servers are started on \
        127.0.0.1 and nothing else is contacted. The cases cover what every transport must do \
        (methods, bodies, headers and query, empty and streamed bodies, statuses as responses, \
        no redirect following, no added headers, no decompression, connect/timeout/IO/TLS \
        errors, a truncated body, a 200 MB streamed body by sha256, closing a dropped body's \
        connection) and the client's retry and error behaviour through the plugin. One line \
        per case with pass/FAIL/skip and why, then a summary. Exit status: 0 when every case \
        passes, 1 when one fails, 2 when the plugin cannot be loaded. The rules are the crate \
        docs of apify-plugin-api (\"What a transport must and must not do\").\n\n\
        Examples:\n  apify-host transport check target/release/libmy_transport.so\n  \
        apify-host transport check ./libapify_transport_curl.so --options '{\"http2\": true}'\n  \
        apify-host transport check ./libx.so --case no-redirects --case no-added-headers\n  \
        apify-host transport check ./libx.so --format json | jq '.cases[] | select(.result == \"fail\")'\n\n\
        With --format json (or `-o json`), a plugin that cannot be loaded or refuses its \
        options still gets its document: `error` says why (`stage` \"load\" or \
        \"constructor\", `message`) and no case has run."
    )]
    Check {
        /// The plugin file (.so).
        #[arg(required_unless_present = "list")]
        path: Option<PathBuf>,
        /// The plugin's options, as a JSON object, `@file` or `-` (default: the config's
        /// `[transport.options]`).
        #[arg(long, value_name = "JSON|@FILE")]
        options: Option<InputSource>,
        /// Run only these cases (repeatable; `--list` names them).
        #[arg(long = "case", value_name = "NAME")]
        cases: Vec<String>,
        /// List the cases and the rule each checks, and exit.
        #[arg(long)]
        list: bool,
        /// `text` (a line per case) or `json` (one document at the end) [default: text, or
        /// json with `-o json` or `-o jsonl`].
        #[arg(long, value_enum)]
        format: Option<CheckFormat>,
        /// The longest one case may take, in seconds; a case past it fails. A plugin that
        /// blocks the CLI's thread is stopped 2 s later by a watchdog, which ends the check.
        #[arg(long, value_name = "SECS", default_value_t = 120.0)]
        case_timeout: f64,
        /// Where the plugin runs for the check: `in-process`, or `process` (every case through
        /// a confined apify-transport-worker) [default: the config's `[transport] isolation`].
        #[arg(long, value_enum)]
        isolation: Option<IsolationArg>,
    },

    /// Start a new transport plugin: a project that builds to a plugin passing `check`.
    #[command(
        long_about = "Write a new transport plugin project into NAME/ (or --dir/NAME): a \
        Cargo.toml of its own (crate-type cdylib, its own workspace, stripped release builds), \
        src/lib.rs (the guide's example of that kind, renamed), the example's Cargo.lock (the \
        dependency versions this release was checked with; `cargo update` when you choose) \
        and a copy of the apify-plugin-api crate under vendor/, carried by this binary: no \
        checkout of our repository and no registry entry needed (the first build downloads \
        the locked dependencies). It builds as it is to a plugin that passes \
        `apify-host transport check`; then change the HTTP library to yours. An existing \
        folder is never overwritten.\n\n\
        Examples:\n  apify-host transport new my-transport\n  \
        apify-host transport new my-transport --kind async --dir ~/src\n  \
        apify-host transport new my-transport --kind hosted\n  \
        cd my-transport && cargo build --release && \
        apify-host transport check target/release/libmy_transport.so"
    )]
    New {
        /// The crate's name (letters, digits, `-`, `_`); also the folder's.
        name: String,
        /// `blocking` (a BlockingTransport on ureq), `async` (a Transport on tokio) or `hosted`
        /// (a HostedTransport on hyper, on the host's threads).
        #[arg(long, value_enum, default_value_t = TemplateKind::Blocking)]
        kind: TemplateKind,
        /// The folder to create the project in.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
}

/// `--isolation`: where the plugin runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// In the CLI's process.
    InProcess,
    /// In a confined worker process.
    Process,
}

impl From<IsolationArg> for Isolation {
    fn from(a: IsolationArg) -> Isolation {
        match a {
            IsolationArg::InProcess => Isolation::InProcess,
            IsolationArg::Process => Isolation::Process,
        }
    }
}

/// How `transport check` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// A line per case as it finishes, then a summary.
    Text,
    /// One JSON document: the plugin, every case's outcome, and the counts.
    Json,
}

#[derive(Serialize)]
struct Info<'a> {
    transport: &'a str,
    source: &'a str,
    name: &'a str,
    /// `in-process` or `process` (a confined worker).
    isolation: &'static str,
    /// The worker's pid and its confinement, for `process`.
    worker_pid: Option<u32>,
    confinement: Option<String>,
    /// The canary of `[transport.canary]`, loaded: what it is, or `none`.
    canary: String,
    /// Its share of the calls, and its rollback rule.
    canary_share: Option<f64>,
    canary_rollback: Option<String>,
}

/// Runs a transport command.
pub async fn run(ctx: &Context, cmd: TransportCommand) -> Result<(), CliError> {
    match cmd {
        TransportCommand::Info => {
            let s = ctx.config.select_transport()?;
            let (description, source) = (
                crate::logging::redact(&s.description),
                crate::logging::redact(&s.source),
            );
            // Loaded like the primary: a canary that would not load is an error here too.
            let canary = ctx.config.select_canary()?;
            let info = Info {
                transport: &description,
                source: &source,
                name: s.transport.name(),
                canary: canary.as_ref().map_or_else(
                    || "none".to_string(),
                    |(c, _)| crate::logging::redact(&c.description),
                ),
                isolation: s.isolation.as_str(),
                worker_pid: s.worker.as_ref().map(|w| w.pid),
                confinement: s.worker.as_ref().map(|w| w.confinement.clone()),
                canary_share: canary.as_ref().map(|(_, p)| p.share),
                canary_rollback: canary.as_ref().map(|(_, p)| {
                    format!(
                        "when more than {} of its last {} exchanges fail while the primary's do not",
                        p.max_failure_ratio, p.window
                    )
                }),
            };
            let mut fields = vec!["transport", "source", "name", "isolation"];
            if s.worker.is_some() {
                fields.extend(["worker_pid", "confinement"]);
            }
            fields.push("canary");
            if canary.is_some() {
                fields.extend(["canary_share", "canary_rollback"]);
            }
            ctx.out().object(&info, &fields)
        }
        TransportCommand::Inspect { path, options } => inspect(ctx, &path, options),
        TransportCommand::Check {
            path,
            options,
            cases,
            list,
            format,
            case_timeout,
            isolation,
        } => {
            // `--format` wins; else `-o` when given (as every other command reads it); else
            // text, for people, even on a pipe (a CI log).
            let format = format.unwrap_or(match ctx.explicit_output {
                Some(OutputFormat::Json | OutputFormat::Jsonl) => CheckFormat::Json,
                _ => CheckFormat::Text,
            });
            let run = CheckRun {
                path,
                options,
                only: cases,
                list,
                format,
                case_timeout,
                isolation: isolation.map(IsolationArg::into),
            };
            check(ctx, run).await
        }
        TransportCommand::New { name, kind, dir } => {
            let made = new::write_project(&dir, &name, kind)?;
            let lib = name.replace('-', "_");
            ctx.out().text(&format!(
                "wrote {}\nnext: cd {} && cargo build --release && apify-host transport check \
                 target/release/lib{lib}.so\n",
                made.display(),
                made.display()
            ))
        }
    }
}

/// The summary of a `transport check` run, for `--format json`.
#[derive(Serialize, Clone)]
struct CheckReport {
    /// The plugin checked; `null` when it could not be loaded.
    plugin: Option<PluginSummary>,
    /// Why no case ran; `null` when the cases ran.
    error: Option<CheckRefused>,
    cases: Vec<Outcome>,
    passed: usize,
    failed: usize,
    skipped: usize,
}

/// Why `transport check` ran no case: the plugin did not load, or refused its options.
#[derive(Serialize, Clone)]
struct CheckRefused {
    /// `load` (a load check failed) or `constructor` (the plugin refused its options, or
    /// panicked making its client).
    stage: &'static str,
    /// The error, as stderr shows it: the path, the reason and the fix.
    message: String,
}

/// What a plugin says of itself and how its client runs: `transport check`'s `plugin`, and the
/// start of `transport inspect`'s.
#[derive(Serialize, Clone)]
struct PluginSummary {
    path: String,
    name: String,
    version: String,
    /// The plugin API it was built against, `major.minor`.
    api: String,
    capabilities: Vec<&'static str>,
    /// `hosted` (on the host's lent services), `driven` (its runtime driven by the host's
    /// threads) or `own-runtime`; `null`: no client was made.
    runs: Option<&'static str>,
    /// Threads the process gained while the plugin's constructor ran (`null`: not known).
    threads_started: Option<usize>,
}

impl PluginSummary {
    fn of(
        path: &Path,
        m: &PluginInfo,
        runs: Option<ClientRuns>,
        threads_started: Option<usize>,
    ) -> PluginSummary {
        PluginSummary {
            path: path.display().to_string(),
            name: m.name.clone(),
            version: m.version.clone(),
            api: format!("{}.{}", m.api_major, m.api_minor),
            capabilities: m.capabilities.names(),
            runs: runs.map(ClientRuns::as_str),
            threads_started,
        }
    }
}

/// `transport inspect -o json`: what the text report says, as one document.
#[derive(Serialize)]
struct InspectReport {
    /// The path as given.
    path: String,
    /// Whether every check passed and the constructor made a client.
    ok: bool,
    /// Each check in order, up to the first failure; the constructor's is the last.
    checks: Vec<InspectedCheck>,
    /// `null` when a check failed before the plugin's metadata was read.
    plugin: Option<InspectedPlugin>,
}

#[derive(Serialize)]
struct InspectedCheck {
    check: &'static str,
    /// `ok` or `fail`.
    result: &'static str,
    /// What was found, for a check that passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Why it failed, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl InspectedCheck {
    fn of(check: &'static str, result: &Result<String, PluginLoadError>) -> InspectedCheck {
        match result {
            Ok(detail) => InspectedCheck {
                check,
                result: "ok",
                detail: Some(detail.clone()),
                reason: None,
                fix: None,
            },
            Err(e) => InspectedCheck {
                check,
                result: "fail",
                detail: None,
                reason: Some(e.reason.clone()),
                fix: Some(e.fix.clone()),
            },
        }
    }
}

#[derive(Serialize)]
struct InspectedPlugin {
    #[serde(flatten)]
    summary: PluginSummary,
    description: String,
    sha256: String,
    /// The plugin's `diagnostics()` (interface 1.1+), as the JSON it is; `null` when the plugin
    /// provides none.
    diagnostics: Value,
    /// `in-process` or `process`.
    isolation: &'static str,
    /// The worker's pid (process isolation).
    worker_pid: Option<u32>,
    /// The confinement that applied, or why none did.
    confinement: String,
}

impl InspectReport {
    fn of(report: &PluginInspectReport) -> InspectReport {
        let mut checks: Vec<InspectedCheck> = report
            .checks
            .iter()
            .map(|c| InspectedCheck::of(c.check, &c.result))
            .collect();
        if let Some(constructor) = &report.constructor {
            let made = constructor
                .as_ref()
                .map(|()| "client created with the given options".to_string())
                .map_err(Clone::clone);
            checks.push(InspectedCheck::of("constructor", &made));
        }
        let path = report
            .plugin
            .as_ref()
            .map_or(report.path.as_path(), |p| p.path.as_path());
        let plugin = report.metadata.as_ref().map(|m| InspectedPlugin {
            summary: PluginSummary::of(path, m, report.runs, report.threads_started),
            description: m.description.clone(),
            sha256: report.sha256.clone().unwrap_or_default(),
            // A plugin's diagnostics should be JSON; one that is not is kept as its text.
            diagnostics: m.diagnostics.as_deref().map_or(Value::Null, |d| {
                serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string()))
            }),
            isolation: report.isolation.isolation.as_str(),
            worker_pid: report.isolation.worker_pid,
            confinement: report.isolation.confinement.clone(),
        });
        InspectReport {
            path: report.path.display().to_string(),
            ok: report.ok(),
            checks,
            plugin,
        }
    }
}

/// Masks every secret the run knows of in each string of `value` (a plugin refusing its options
/// may quote a proxy URL with its password). Strings one by one, not the encoded document: a
/// secret with a quote or a backslash in it is escaped there, and would no longer match.
fn redact_strings(value: &mut Value) {
    match value {
        Value::String(s) => *s = crate::logging::redact(s),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(fields) => fields.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// What to fix when the plugin refuses options given on the command line.
const FIX_OPTIONS_FLAG: &str = "Fix the JSON given to --options";

/// The plugin options: `--options` when given (a JSON object), else the config's
/// `[transport.options]`; and whether they came from the flag.
fn plugin_options(ctx: &Context, options: Option<InputSource>) -> Result<(Value, bool), CliError> {
    let Some(source) = options else {
        return Ok((ctx.config.plugin_options(), false));
    };
    let json = source.read_json()?;
    if !json.value.is_object() {
        return Err(CliError::usage(format!(
            "the plugin options ({source}) must be a JSON object, like {{\"http2\": true}}"
        )));
    }
    Ok((json.value, true))
}

/// `transport inspect`: every load check and the constructor, as text or (`-o json`) JSON.
fn inspect(ctx: &Context, path: &Path, options: Option<InputSource>) -> Result<(), CliError> {
    let (options, from_flag) = plugin_options(ctx, options)?;
    let mut report = ctx.config.inspect_plugin_with_options(path, &options);
    if let (true, Some(Err(e))) = (from_flag, report.constructor.as_mut()) {
        e.fix = FIX_OPTIONS_FLAG.into();
    }
    let json = matches!(
        ctx.explicit_output,
        Some(OutputFormat::Json | OutputFormat::Jsonl)
    );
    // Text for people unless JSON was asked for: `-o table` and no `-o` at all both print the
    // text, even on a pipe. Both forms quote what the plugin said (about its options, a proxy
    // URL with a password...): redacted.
    if json {
        let mut document = serde_json::to_value(InspectReport::of(&report)).map_err(|e| {
            CliError::failure(format!("cannot encode the inspect report as JSON: {e}"))
        })?;
        redact_strings(&mut document);
        ctx.out().object(&document, &[])?;
    } else {
        ctx.out()
            .text(&crate::logging::redact(&report.to_string()))?;
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "the plugin {} failed a check (see {})",
            path.display(),
            if json {
                "`checks` in the report"
            } else {
                "above"
            }
        )))
    }
}

/// How long the watchdog waits past a case's limit before it ends the command: the time the
/// case's own timer has to report first, when the runtime's thread is free to run it.
const WATCHDOG_GRACE: Duration = Duration::from_secs(2);

/// What `transport check` has printed and found so far: the watchdog ends the run from it.
struct CheckState {
    text: bool,
    /// JSON on one line (`-o jsonl`), not pretty-printed.
    compact: bool,
    width: usize,
    plugin: PluginSummary,
    outcomes: Vec<Outcome>,
}

impl CheckState {
    /// The line (and the rule, the hint) of one outcome, for text output.
    fn line(&self, outcome: &Outcome) -> String {
        let label = match outcome.result {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Fail => "FAIL",
        };
        let width = self.width;
        let mut line = format!("{label}  {:width$}  {:>6} ms", outcome.case, outcome.millis);
        if !outcome.why.is_empty() {
            line.push_str(&format!("  {}", outcome.why));
        }
        if !outcome.ok() {
            line.push_str(&format!("\n      rule: {}", outcome.rule));
        }
        if !outcome.hint.is_empty() {
            line.push_str(&format!("\n      hint: {}", outcome.hint));
        }
        line.push('\n');
        line
    }

    /// The end of the report: the counts (text), or the whole JSON document.
    fn end(&self) -> (String, usize) {
        let count = |r: Status| self.outcomes.iter().filter(|o| o.result == r).count();
        let (passed, failed, skipped) = (
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip),
        );
        let text = if self.text {
            format!("{passed} passed, {failed} failed, {skipped} skipped\n")
        } else {
            let report = CheckReport {
                plugin: Some(self.plugin.clone()),
                error: None,
                cases: self.outcomes.clone(),
                passed,
                failed,
                skipped,
            };
            report_json(&report, self.compact)
        };
        (text, failed)
    }
}

/// A check report as JSON and a newline: pretty, or on one line when `compact`.
fn report_json(report: &CheckReport, compact: bool) -> String {
    let json = if compact {
        serde_json::to_string(report)
    } else {
        serde_json::to_string_pretty(report)
    };
    let json = json.unwrap_or_else(|e| {
        serde_json::json!({"error": {"message": format!("cannot encode the report: {e}")}})
            .to_string()
    });
    format!("{json}\n")
}

/// A thread (not a task: a hosted plugin can block the runtime's only thread) that ends the
/// command when a case outlives its limit by [`WATCHDOG_GRACE`]: it reports that case as
/// failed, prints the end of the report and exits with 1.
struct Watchdog {
    arm: std::sync::mpsc::Sender<Option<(&'static apify_conformance::Case, Instant)>>,
}

impl Watchdog {
    fn start(state: Arc<Mutex<CheckState>>) -> Watchdog {
        let (arm, armed) =
            std::sync::mpsc::channel::<Option<(&'static apify_conformance::Case, Instant)>>();
        let spawned = std::thread::Builder::new()
            .name("check-watchdog".into())
            .spawn(move || {
                let mut current: Option<(&'static apify_conformance::Case, Instant, Instant)> =
                    None;
                loop {
                    let next = match current {
                        None => armed.recv().map_err(|_| ()),
                        Some((_, _, deadline)) => {
                            match armed
                                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                            {
                                Ok(m) => Ok(m),
                                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(()),
                            }
                        }
                    };
                    match next {
                        Ok(Some((case, deadline))) => {
                            current = Some((case, Instant::now(), deadline))
                        }
                        Ok(None) => current = None,
                        Err(()) => return,
                    }
                }
                let Some((case, started, _)) = current else {
                    return;
                };
                Self::fire(&state, case, started);
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the check's watchdog thread ({e}): a plugin that blocks the runtime can freeze this check");
        }
        Watchdog { arm }
    }

    /// Reports `case` as failed, ends the report, and exits.
    fn fire(
        state: &Mutex<CheckState>,
        case: &'static apify_conformance::Case,
        started: Instant,
    ) -> ! {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        let millis = started.elapsed().as_millis() as u64;
        let outcome = Outcome {
            case: case.name,
            rule: case.rule,
            result: Status::Fail,
            why: format!(
                "the case did not end within its limit, and {} s later the CLI's runtime thread \
                 had still not come back from the plugin: a call blocks the thread it is polled \
                 on (stopped by the watchdog)",
                WATCHDOG_GRACE.as_secs()
            ),
            hint:
                "a hosted plugin runs on the host's thread: never block it (no std::thread::sleep, \
                   no blocking socket or lock, no long computation); wait on the Host services \
                   (Host::sleep, Host::connect) instead"
                    .into(),
            millis,
        };
        let mut out = String::new();
        if state.text {
            out.push_str(&state.line(&outcome));
        }
        state.outcomes.push(outcome);
        let (end, failed) = state.end();
        out.push_str(&end);
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(crate::logging::redact(&out).as_bytes());
        let _ = stdout.flush();
        eprintln!(
            "error: the plugin {} breaks {failed} rule(s) of the transport contract, and the case \
             {} blocked the CLI's thread, so the check stopped there: fix the blocking call, or run \
             the plugin on its own runtime with `hosted = false` under [transport] to see the rest",
            crate::logging::redact(&state.plugin.name),
            case.name
        );
        std::process::exit(1)
    }

    fn arm(&self, case: &'static apify_conformance::Case, deadline: Instant) {
        let _ = self.arm.send(Some((case, deadline)));
    }

    fn disarm(&self) {
        let _ = self.arm.send(None);
    }
}

/// The hint for a panic a hosted plugin gets from tokio when it uses tokio's own timer, IO or
/// spawn: none of those has a runtime on the host's thread.
const NO_REACTOR_HINT: &str =
    "the plugin used tokio's own timer, IO or spawn (tokio::time::sleep, \
     tokio::time::timeout, tokio::net, tokio::spawn, hyper-util's TokioTimer/TokioExecutor) in a \
     hosted call, where no tokio runtime runs: use the Host services instead (Host::sleep, \
     Host::connect, Host::spawn)";

/// Known mistakes in an outcome: a panic seen in an earlier case is named, not repeated; the
/// first "no reactor running" panic of a hosted plugin gets a hint.
fn recognise(outcome: &mut Outcome, panics: &mut Vec<(String, &'static str)>, hosted: bool) {
    const PANIC: &str = "the plugin panicked";
    let Some(at) = outcome.why.find(PANIC) else {
        return;
    };
    let panic = outcome.why[at..].to_string();
    if let Some((_, first)) = panics.iter().find(|(p, _)| *p == panic) {
        outcome.why = format!(
            "{}the plugin panicked again, as in {first} (the panic is shown there)",
            &outcome.why[..at]
        );
        return;
    }
    panics.push((panic.clone(), outcome.case));
    if panic.contains("there is no reactor running")
        || panic.contains("must be called from the context of a Tokio")
    {
        outcome.hint = if hosted {
            NO_REACTOR_HINT.into()
        } else {
            "the plugin's code ran outside its tokio runtime: enter it (Handle::enter) or spawn \
             onto it"
                .into()
        };
    }
}

/// `transport check`: loads the plugin like any command would (every load check), builds its
/// client with the given options, and runs the conformance suite's cases on it.
/// What `transport check` was asked to do.
struct CheckRun {
    path: Option<PathBuf>,
    options: Option<InputSource>,
    only: Vec<String>,
    list: bool,
    format: CheckFormat,
    case_timeout: f64,
    isolation: Option<Isolation>,
}

async fn check(ctx: &Context, run: CheckRun) -> Result<(), CliError> {
    let CheckRun {
        path,
        options,
        only,
        list,
        format,
        case_timeout,
        isolation,
    } = run;
    let all = apify_conformance::cases();
    if list {
        let width = all.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let text: String = all
            .iter()
            .map(|c| format!("{:width$}  {}\n", c.name, c.rule))
            .collect();
        return ctx.out().text(text.trim_end());
    }
    let mut selected = Vec::new();
    for name in &only {
        match apify_conformance::case(name) {
            Some(c) => selected.push(c),
            None => {
                return Err(CliError::usage(format!(
                    "there is no case {name:?}; `apify-host transport check --list` names them"
                )))
            }
        }
    }
    if selected.is_empty() {
        selected = all.iter().collect();
    }
    if !(case_timeout.is_finite() && case_timeout > 0.0) {
        return Err(CliError::usage(format!(
            "--case-timeout {case_timeout} is not a number of seconds above 0, like 120"
        )));
    }
    let limit = Duration::from_secs_f64(case_timeout.min(86_400.0));
    let Some(path) = path else {
        return Err(CliError::usage(
            "name the plugin file to check: transport check PATH",
        ));
    };
    let (options, from_flag) = plugin_options(ctx, options)?;
    let text = format == CheckFormat::Text;
    let compact = ctx.explicit_output == Some(OutputFormat::Jsonl);
    // Without a client no case runs; JSON output still gets its document, saying why, so that
    // a CI job reading it sees the refusal rather than nothing.
    let refused = |plugin: Option<PluginSummary>, stage, message: String| {
        let message = crate::logging::redact(&message);
        if !text {
            let report = CheckReport {
                plugin,
                error: Some(CheckRefused {
                    stage,
                    message: message.clone(),
                }),
                cases: Vec::new(),
                passed: 0,
                failed: 0,
                skipped: 0,
            };
            ctx.out().text(&report_json(&report, compact))?;
        }
        Err(CliError::usage(message))
    };
    let hosted_allowed = ctx.config.plugin_hosted();
    let isolation = isolation.unwrap_or_else(|| ctx.config.isolation());
    let load_options = ctx.config.plugin_load_options(&path).isolation(isolation);
    // Each case that needs a client of its own (https-success adds `ca_cert_file`) gets one
    // made the same way: in this process, or in a worker of its own.
    type Make = Arc<
        dyn Fn(&Value) -> Result<Arc<dyn apify_host::transport::HttpTransport>, PluginLoadError>
            + Send
            + Sync,
    >;
    let (client, make, plugin, capabilities, isolated_line): (_, Make, _, _, _) =
        if isolation == Isolation::Process {
            let start = {
                let (path, load_options) = (path.clone(), load_options.clone());
                move |options: &Value| {
                    IsolatedTransport::start(&path, &load_options, options, hosted_allowed)
                }
            };
            let client = match start(&options) {
                Ok(client) => client,
                Err(mut e) => {
                    let stage = match e.failure {
                        PluginLoadFailure::ConstructorFailed
                        | PluginLoadFailure::ConstructorPanicked => "constructor",
                        _ => "load",
                    };
                    if from_flag && stage == "constructor" {
                        e.fix = FIX_OPTIONS_FLAG.into();
                    }
                    return refused(None, stage, e.to_string());
                }
            };
            let m = client.plugin_info();
            let plugin = PluginSummary::of(
                client.path(),
                m,
                Some(client.runs()),
                client.threads_started().map(|n| n as usize),
            );
            let line = format!(
                "isolation: process (worker pid {}, {})\nconfinement: {}\n",
                client.worker_pid().unwrap_or(0),
                client.worker_program().display(),
                client.confinement()
            );
            let capabilities = m.capabilities;
            let make: Make = Arc::new(move |o: &Value| {
                start(o).map(|t| Arc::new(t) as Arc<dyn apify_host::transport::HttpTransport>)
            });
            let runs = client.runs();
            (
                (
                    Arc::new(client) as Arc<dyn apify_host::transport::HttpTransport>,
                    runs,
                ),
                make,
                plugin,
                capabilities,
                Some(line),
            )
        } else {
            let loaded = match apify_host::transport::plugin::load_plugin(&path, &load_options) {
                Ok(loaded) => loaded,
                Err(e) => return refused(None, "load", e.to_string()),
            };
            let new_client = {
                let loaded = loaded.clone();
                move |options: &Value| {
                    if hosted_allowed {
                        loaded.new_client(options)
                    } else {
                        loaded.new_client_on_own_runtime(options)
                    }
                }
            };
            let threads_before = thread_count();
            let client = match new_client(&options) {
                Ok(client) => client,
                Err(mut e) => {
                    if from_flag {
                        e.fix = FIX_OPTIONS_FLAG.into();
                    }
                    let plugin = PluginSummary::of(&loaded.path, &loaded.metadata, None, None);
                    return refused(Some(plugin), "constructor", e.to_string());
                }
            };
            let threads_started = threads_before
                .zip(thread_count())
                .map(|(before, after)| after.saturating_sub(before));
            let runs = client.runs();
            let m = &loaded.metadata;
            let plugin = PluginSummary::of(&loaded.path, m, Some(runs), threads_started);
            let make: Make = Arc::new(move |o: &Value| {
                new_client(o).map(|t| Arc::new(t) as Arc<dyn apify_host::transport::HttpTransport>)
            });
            (
                (
                    Arc::new(client) as Arc<dyn apify_host::transport::HttpTransport>,
                    runs,
                ),
                make,
                plugin,
                m.capabilities,
                None,
            )
        };
    let ((client, runs), threads_started) = (client, plugin.threads_started);
    let hosted = runs == ClientRuns::Hosted;
    // https-success builds another client with `ca_cert_file` added to these options.
    let base = options.clone();
    let constructor: apify_conformance::Constructor = Arc::new(move |extra| {
        let mut options = base.clone();
        if let Some(object) = options.as_object_mut() {
            object.extend(extra);
        }
        make(&options).map_err(|e| crate::logging::redact(&e.reason))
    });
    let subject = Subject::new(client, capabilities).with_constructor(constructor);
    let width = selected.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = ctx.out();
    if text {
        let threads = match threads_started {
            Some(n) => format!("{n} started by its constructor"),
            None => "not known (no /proc/self/task)".into(),
        };
        let head = format!(
            "checking {} {} (plugin API {}, {}) at {}\nruns: {}\nthreads: {threads}\n{}",
            plugin.name,
            plugin.version,
            plugin.api,
            plugin.capabilities.join(", "),
            plugin.path,
            runs.describe(capabilities),
            isolated_line.as_deref().unwrap_or(""),
        );
        out.text(&crate::logging::redact(&head))?;
    }
    let state = Arc::new(Mutex::new(CheckState {
        text,
        compact,
        width,
        plugin,
        outcomes: Vec::new(),
    }));
    let watchdog = Watchdog::start(state.clone());
    let mut panics = Vec::new();
    for case in selected {
        watchdog.arm(case, Instant::now() + limit + WATCHDOG_GRACE);
        let mut outcome = Outcome::within(case, subject.clone(), limit).await;
        watchdog.disarm();
        outcome.why = crate::logging::redact(&outcome.why);
        recognise(&mut outcome, &mut panics, hosted);
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        if text {
            out.text(&state.line(&outcome))?;
        }
        state.outcomes.push(outcome);
    }
    let (end, failed) = state.lock().unwrap_or_else(|p| p.into_inner()).end();
    out.text(&end)?;
    let name = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .plugin
        .name
        .clone();
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "the plugin {name} breaks {failed} rule(s) of the transport contract (see the crate \
             docs of apify-plugin-api, \"What a transport must and must not do\")"
        )))
    }
}
