//! `apify-host transport ...`: which transport is used, and checks of a plugin file.

use std::path::PathBuf;

use apify_conformance::{Outcome, Status, Subject};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

mod new;

use crate::{context::Context, error::CliError, input::InputSource};
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
        version, then the plugin's constructor with the config's `[transport.options]`. \
        Prints each check and the plugin's metadata; exits with 2 if a check fails, as any \
        command would with that plugin. The file checks run before the library is opened, but \
        the ABI checks and the constructor run the plugin's code: do not inspect files you \
        would not load.\n\n\
        Example:\n  apify-host transport inspect /opt/apify/transports/libapify_transport_reqwest.so"
    )]
    Inspect {
        /// The plugin file (.so).
        path: PathBuf,
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
        apify-host transport check ./libx.so --format json | jq '.cases[] | select(.result == \"fail\")'"
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
        /// `text` (a line per case) or `json` (one document at the end).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },

    /// Start a new transport plugin: a project that builds to a plugin passing `check`.
    #[command(
        long_about = "Write a new transport plugin project into NAME/ (or --dir/NAME): a \
        Cargo.toml of its own (crate-type cdylib, its own workspace, stripped release builds), \
        src/lib.rs (the guide's example of that kind, renamed) and a copy of the \
        apify-plugin-api crate under vendor/, carried by this binary: no checkout of our \
        repository and no registry entry needed. It builds as it is to a plugin that passes \
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
                canary_share: canary.as_ref().map(|(_, p)| p.share),
                canary_rollback: canary.as_ref().map(|(_, p)| {
                    format!(
                        "when more than {} of its last {} exchanges fail while the primary's do not",
                        p.max_failure_ratio, p.window
                    )
                }),
            };
            let mut fields = vec!["transport", "source", "name", "canary"];
            if canary.is_some() {
                fields.extend(["canary_share", "canary_rollback"]);
            }
            ctx.out().object(&info, &fields)
        }
        TransportCommand::Inspect { path } => {
            let report = ctx.config.inspect_plugin(&path);
            // The report is text for people whatever --output says: it has no JSON form. It
            // quotes what the plugin said (about its options, a proxy URL with a password...).
            ctx.out()
                .text(&crate::logging::redact(&report.to_string()))?;
            if report.ok() {
                Ok(())
            } else {
                Err(CliError::usage(format!(
                    "the plugin {} failed a check (see above)",
                    path.display()
                )))
            }
        }
        TransportCommand::Check {
            path,
            options,
            cases,
            list,
            format,
        } => check(ctx, path, options, cases, list, format).await,
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
#[derive(Serialize)]
struct CheckReport {
    plugin: PluginSummary,
    cases: Vec<Outcome>,
    passed: usize,
    failed: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct PluginSummary {
    path: String,
    name: String,
    version: String,
    api: String,
    capabilities: Vec<&'static str>,
}

/// `transport check`: loads the plugin like any command would (every load check), builds its
/// client with the given options, and runs the conformance suite's cases on it.
async fn check(
    ctx: &Context,
    path: Option<PathBuf>,
    options: Option<InputSource>,
    only: Vec<String>,
    list: bool,
    format: CheckFormat,
) -> Result<(), CliError> {
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
    let Some(path) = path else {
        return Err(CliError::usage(
            "name the plugin file to check: transport check PATH",
        ));
    };
    let from_flag = options.is_some();
    let options = match options {
        Some(source) => {
            let json = source.read_json()?;
            if !json.value.is_object() {
                return Err(CliError::usage(format!(
                    "the plugin options ({source}) must be a JSON object, like {{\"http2\": true}}"
                )));
            }
            json.value
        }
        None => ctx.config.plugin_options(),
    };
    let loaded =
        apify_host::transport::plugin::load_plugin(&path, &ctx.config.plugin_load_options(&path))
            .map_err(|e| CliError::usage(crate::logging::redact(&e.to_string())))?;
    let client = loaded.new_client(&options).map_err(|mut e| {
        if from_flag {
            e.fix = "Fix the JSON given to --options".into();
        }
        CliError::usage(crate::logging::redact(&e.to_string()))
    })?;
    let m = &loaded.metadata;
    let plugin = PluginSummary {
        path: loaded.path.display().to_string(),
        name: m.name.clone(),
        version: m.version.clone(),
        api: format!("{}.{}", m.api_major, m.api_minor),
        capabilities: m.capabilities.names(),
    };
    let subject = Subject {
        transport: std::sync::Arc::new(client),
        capabilities: m.capabilities,
    };
    let text = format == CheckFormat::Text;
    let width = selected.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = ctx.out();
    if text {
        let head = format!(
            "checking {} {} (plugin API {}, {}) at {}\n",
            plugin.name,
            plugin.version,
            plugin.api,
            plugin.capabilities.join(", "),
            plugin.path
        );
        out.text(&crate::logging::redact(&head))?;
    }
    let mut outcomes = Vec::new();
    for case in selected {
        let mut outcome = Outcome::of(case, subject.clone()).await;
        outcome.why = crate::logging::redact(&outcome.why);
        if text {
            let label = match outcome.result {
                Status::Pass => "pass",
                Status::Skip => "skip",
                Status::Fail => "FAIL",
            };
            let mut line = format!("{label}  {:width$}  {:>6} ms", outcome.case, outcome.millis);
            if !outcome.why.is_empty() {
                line.push_str(&format!("  {}", outcome.why));
            }
            if !outcome.ok() {
                line.push_str(&format!("\n      rule: {}", outcome.rule));
            }
            out.text(&format!("{line}\n"))?;
        }
        outcomes.push(outcome);
    }
    let count = |r: Status| outcomes.iter().filter(|o| o.result == r).count();
    let (passed, failed, skipped) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
    );
    let name = plugin.name.clone();
    if text {
        out.text(&format!(
            "{passed} passed, {failed} failed, {skipped} skipped\n"
        ))?;
    } else {
        let report = CheckReport {
            plugin,
            cases: outcomes,
            passed,
            failed,
            skipped,
        };
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::failure(format!("cannot encode the report: {e}")))?;
        out.text(&format!("{json}\n"))?;
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "the plugin {name} breaks {failed} rule(s) of the transport contract (see the crate \
             docs of apify-plugin-api, \"What a transport must and must not do\")"
        )))
    }
}
