//! The `apify-host` command line: thin commands over the `apify_host` library, one file per
//! command group; run `apify-host --help` for the tour.
//!
//! Conventions: data goes to stdout (JSON, JSON lines or a table), messages and progress to
//! stderr; an error is one `error: ...` line on stderr with exit code 2 for usage, input and
//! config errors and 1 for API and transport failures. No credential appears in any of it:
//! error lines, log lines and panic messages go through one [`Redactor`] that knows the
//! token and the configuration's secrets (see [`redactor`]).

mod actors;
mod api;
mod builds;
mod datasets;
mod input;
mod jobs;
mod key_value_stores;
mod output;
mod request_queues;
mod runs;
mod schedules;
mod tasks;
mod transport;
mod transport_new;
mod users;
mod webhooks;

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
    sync::{LazyLock, RwLock},
};

use clap::{Args, Parser, Subcommand};

use apify_host::{ApifyClient, Config, ConfigOverrides, ConfigSource, Error, ErrorKind, Redactor};
use output::OutputFormat;

const AFTER_HELP: &str = "\
Configuration is read from --config FILE, else $APIFY_HOST_CONFIG, else
<config dir>/apify-host/config.toml. Flags win over environment variables, which win over
the config file, which wins over the defaults.

Exit status: 0 on success (for call, task run and runs wait: the run SUCCEEDED), 1 when the
API or the transport failed or the run FAILED, TIMED-OUT or was ABORTED, 2 for usage, input
and configuration errors, 130 on Ctrl-C (requests in flight are aborted, partial output files
removed; a run being waited for goes on).";

const LONG_ABOUT: &str = "\
apify-host is an ops tool for the Apify API (Actors, runs, builds, tasks, webhooks, schedules,
datasets, key-value stores, request queues, users, raw API calls) whose HTTP transport can be
swapped at run time: point `[transport]
plugin` in the config (or APIFY_TRANSPORT_PLUGIN) at a transport plugin (.so) and every call
goes through it, with the same retries, timeouts and error handling as the built-in one.

Examples:
  export APIFY_TOKEN=...                     # or `token_file = \"...\"` in the config
  apify-host users me
  apify-host call apify/hello-world --input '{\"message\": \"hi\"}'
  apify-host runs ls --status FAILED --desc --limit 5
  apify-host datasets ls --limit 10
  apify-host datasets get-items my-dataset --format csv --out items.csv
  echo '[{\"a\":1},{\"a\":2}]' | apify-host datasets push-items my-dataset -
  apify-host key-value-stores set-value my-store INPUT @input.json
  apify-host api GET /v2/users/me
  apify-host transport info";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "apify-host",
    version,
    about = "Apify API ops tool with a pluggable HTTP transport",
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes. Its `Debug` never shows the token.
#[derive(Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Read the config from FILE (default: $APIFY_HOST_CONFIG, else
    /// <config dir>/apify-host/config.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// API base URL, e.g. http://127.0.0.1:8080 for a local API (default: $APIFY_API_BASE_URL,
    /// else `api_url` in the config, else https://api.apify.com). A trailing /v2 is ignored.
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// API token (default: $APIFY_TOKEN, else `token` or `token_file` in the config). Prefer
    /// the variable or the token file: a flag is visible to other users in the process list.
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Use the transport plugin (.so) at PATH (default: $APIFY_TRANSPORT_PLUGIN, else
    /// `[transport] plugin` in the config, else the built-in transport).
    // No clap `env` on these flags: the library reads the variables itself (the same rules for
    // every program built on it), and can then report where each choice came from.
    #[arg(long, global = true, value_name = "PATH")]
    pub transport_plugin: Option<PathBuf>,

    /// Output format of data on stdout (default: table on a terminal, json otherwise).
    #[arg(long, short = 'o', global = true, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// Log what happens to stderr: -v info, -vv debug, -vvv trace (RUST_LOG works too).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("config", &self.config)
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("transport_plugin", &self.transport_plugin)
            .field("output", &self.output)
            .field("verbose", &self.verbose)
            .finish()
    }
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an Actor and wait for it: log on stderr, the run (or its dataset) on stdout.
    Call(actors::CallArgs),
    /// Actors: list, inspect, start, call, build, delete.
    #[command(subcommand)]
    Actors(actors::ActorsCommand),
    /// Actor runs: list, inspect, wait, abort, resurrect, log, delete.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Actor builds: list, inspect, create, log, wait, delete.
    #[command(subcommand)]
    Builds(builds::BuildsCommand),
    /// Saved Actor tasks: run, list, inspect.
    #[command(subcommand, visible_alias = "tasks")]
    Task(tasks::TaskCommand),
    /// Webhooks: list, inspect, test, and their dispatches.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Schedules: list, inspect (with their log).
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// Datasets: list, inspect, create, delete, read and append items.
    #[command(subcommand, visible_alias = "ds")]
    Datasets(datasets::DatasetsCommand),
    /// Key-value stores: list, inspect, create, delete, read and write records.
    #[command(subcommand, name = "key-value-stores", visible_alias = "kvs")]
    KeyValueStores(key_value_stores::KeyValueStoresCommand),
    /// Request queues: list, inspect, create, delete, add and read requests.
    #[command(subcommand, name = "request-queues", visible_alias = "rq")]
    RequestQueues(request_queues::RequestQueuesCommand),
    /// Users: the account that owns the token.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Call any API endpoint through the client's pipeline (retries, timeouts, transport).
    #[command(long_about = api::LONG_ABOUT)]
    Api(api::ApiArgs),
    /// The HTTP transport: which one is used, and checks of a plugin file.
    #[command(subcommand)]
    Transport(transport::TransportCommand),
}

/// The paging options of every `ls`-like command.
#[derive(Debug, Args, Clone)]
pub struct PageArgs {
    /// Skip this many items.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// List at most this many items (the API caps a page at 1000).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Newest first.
    #[arg(long)]
    pub desc: bool,
}

impl PageArgs {
    /// The library's paging options.
    pub fn options(&self) -> apify_host::PageOptions {
        apify_host::PageOptions {
            offset: self.offset,
            limit: self.limit,
            desc: self.desc.then_some(true),
            ..Default::default()
        }
    }
}

/// Options of the `ls` commands of the three storage collections.
#[derive(Debug, Args, Clone)]
pub struct LsArgs {
    #[command(flatten)]
    pub page: PageArgs,
    /// Include unnamed storages (by default only named ones are listed).
    #[arg(long)]
    pub unnamed: bool,
}

impl LsArgs {
    /// The library's listing options.
    pub fn options(&self) -> apify_host::ListOptions {
        apify_host::ListOptions {
            unnamed: self.unnamed.then_some(true),
            limit: self.page.limit,
            offset: self.page.offset,
            desc: self.page.desc.then_some(true),
            ..Default::default()
        }
    }
}

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub enum CliError {
    /// Usage, input or config problem: exit 2, nothing (more) was sent.
    Usage(String),
    /// The API failed, or output could not be written: exit 1.
    Failure(String),
    /// The transport could not complete an exchange (after retries): exit 1; the message gets
    /// the API URL, since "connection refused" alone does not say where to.
    Transport(String),
    /// An Actor run or build ended other than SUCCEEDED: exit 1, one line saying how, after
    /// the last lines of its log.
    JobEnded {
        /// How it ended.
        message: String,
        /// The last lines of its log.
        tail: Vec<String>,
    },
    /// Ctrl-C: exit 130; the message says what was aborted (and, while waiting for a run, that
    /// the run goes on and how to stop it).
    Interrupted(String),
    /// stdout was closed by the reader (e.g. `| head`): not an error.
    BrokenPipe,
}

impl CliError {
    /// A usage/input/config error (exit 2).
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }

    /// An API/transport/output failure (exit 1).
    pub fn failure(msg: impl Into<String>) -> Self {
        CliError::Failure(msg.into())
    }

    /// A failed write to `what`; a closed pipe is not reported as an error.
    pub fn write(what: &str, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::failure(format!("cannot write to {what}: {e}"))
        }
    }

    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Failure(_) | CliError::Transport(_) | CliError::JobEnded { .. } => {
                ExitCode::from(1)
            }
            CliError::Interrupted(_) => ExitCode::from(130),
            CliError::BrokenPipe => ExitCode::SUCCESS,
        }
    }
}

impl From<Error> for CliError {
    /// Exit 2 for what the user can fix in the command line or config, 1 for the rest
    /// (transport failures keep their own variant for the message).
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Config | ErrorKind::PluginLoad => {
                CliError::Usage(e.to_string())
            }
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Transport => {
                CliError::Transport(e.to_string())
            }
            ErrorKind::Unauthorized | ErrorKind::Forbidden => CliError::Failure(format!(
                "{e} (check the token: APIFY_TOKEN, --token, or `token`/`token_file` in the config)"
            )),
            // Misuse is a bug of this program, not of the command line: exit 1, not 2.
            _ => CliError::Failure(e.to_string()),
        }
    }
}

/// The resolved settings of one run: the library's [`Config`] (flags over environment over
/// config file) and the output format.
#[derive(Debug)]
pub struct Context {
    /// The global flags as given.
    pub global: GlobalArgs,
    /// The resolved configuration.
    pub config: Config,
    /// The output format for data on stdout.
    pub output: OutputFormat,
}

impl Context {
    /// Resolves the configuration: the flags, then the environment, then the config file.
    pub fn new(global: GlobalArgs) -> Result<Self, CliError> {
        let mut overrides = ConfigOverrides::default();
        overrides.config_file = global.config.clone();
        overrides.api_url = global.api_url.clone();
        overrides.token = global.token.clone();
        overrides.transport_plugin = global.transport_plugin.clone();
        let config = Config::load(&overrides)?;
        let output = global.output.unwrap_or(if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Json
        });
        Ok(Context {
            global,
            config,
            output,
        })
    }

    /// A client for calls that may go without a token (reads of storages by id, raw calls).
    pub fn client(&self) -> Result<ApifyClient, CliError> {
        Ok(self.config.client_builder()?.build()?)
    }

    /// A client for calls that need a token; without one, a usage error that says where to
    /// set it, before anything is sent.
    pub fn authed_client(&self) -> Result<ApifyClient, CliError> {
        if !self.config.has_token() {
            return Err(CliError::usage(format!(
                "no API token: set the APIFY_TOKEN environment variable, pass --token, or set \
                 `token` or `token_file` in the config file ({})",
                match self.config.source() {
                    ConfigSource::None => match Config::default_path() {
                        Some(p) => format!("none found; the default location is {}", p.display()),
                        None => "none found".to_string(),
                    },
                    s => s.to_string(),
                }
            )));
        }
        self.client()
    }

    /// The output printer for data on stdout.
    pub fn out(&self) -> output::Printer {
        output::Printer::new(self.output)
    }
}

/// The secrets of this run: flag and environment tokens from the start, the configuration's
/// (token, proxy password, ...) once it has loaded. Process-wide because the log writer and
/// the panic hook, which run anywhere, need it.
static REDACTOR: LazyLock<RwLock<Redactor>> = LazyLock::new(|| RwLock::new(Redactor::new()));

/// `text` with the run's secrets masked, under the read lock (no copy of the redactor per log
/// line; a poisoned lock still holds the secrets).
pub(crate) fn redact(text: &str) -> String {
    REDACTOR
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .redact(text)
}

/// Adds `more` to the run's redactor.
fn learn_secrets(more: &Redactor) {
    REDACTOR
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .merge(more);
}

/// The log writer: each event is formatted whole into a buffer, then redacted and written to
/// stderr when the formatter drops it, so no log line (ours, or an HTTP library's at `-vvv`)
/// can carry a credential.
struct RedactedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine;
    fn make_writer(&'a self) -> RedactedLine {
        RedactedLine(Vec::new())
    }
}

/// One log event on its way to stderr (see [`RedactedStderr`]).
struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let clean = redact(&String::from_utf8_lossy(&self.0));
            let _ = std::io::stderr().lock().write_all(clean.as_bytes());
        }
    }
}

/// Panic messages go through the redactor too: a panic may format a value holding a secret.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = redact(&info.to_string());
        let _ = writeln!(
            std::io::stderr().lock(),
            "apify-host {message}\nThis is a bug in apify-host; please report it."
        );
    }));
}

/// Sets up stderr logging: `-v` info, `-vv` debug, `-vvv` trace for this crate; without `-v`,
/// `RUST_LOG` if set, else warnings only. Every line is redacted (see [`RedactedStderr`]).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        1 => EnvFilter::new("warn,apify_host=info"),
        2 => EnvFilter::new("info,apify_host=debug"),
        _ => EnvFilter::new("debug,apify_host=trace"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr)
        // No colours: escape codes between a field name and its value (`token=`) would hide
        // the value from redaction.
        .with_ansi(false)
        .try_init();
}

/// Runs the command line and returns the process exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // Known before the config loads, so even a config error cannot echo a flag/env token.
    learn_secrets(
        &[cli.global.token.clone(), std::env::var("APIFY_TOKEN").ok()]
            .into_iter()
            .flatten()
            .fold(Redactor::new(), Redactor::secret),
    );
    install_panic_hook();
    init_tracing(cli.global.verbose);
    // One thread: a command is a chain of requests, and on one thread the connection task and
    // the call that waits for it never wake each other across threads. The transports bench
    // measured the built-in transport at 49 µs of CPU per call on a current-thread runtime
    // against 70 µs on two workers (32 calls in flight, 2-core machine), and faster sequential
    // calls too. Gzip and file sampling go to the blocking pool; a plugin has its own threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut api_url = String::new();
    let result = runtime.block_on(async {
        let ctx = Context::new(cli.global)?;
        learn_secrets(&ctx.config.redactor());
        api_url = ctx.config.api_url().to_string();
        // Ctrl-C anywhere ends the command: the future is dropped, which aborts the requests in
        // flight (their connections close, a plugin's too) and deletes a partial output file.
        // While a run or build is waited for, the message says that it goes on and how to stop
        // it, whichever handler sees the signal first.
        // The message is read when the signal arrives, before `select!` drops the command
        // (whose drop clears it).
        let interrupted = async {
            let _ = tokio::signal::ctrl_c().await;
            jobs::interrupted_while_waiting()
        };
        tokio::select! {
            biased;
            r = run(&ctx, cli.command) => r,
            waiting = interrupted => Err(CliError::Interrupted(waiting.unwrap_or_else(|| {
                "interrupted (Ctrl-C): the request in flight was aborted and nothing partial \
                 was left behind"
                    .into()
            }))),
        }
    });
    // Do not wait for transport tasks (idle pooled connections) to wind down.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = match &e {
                CliError::Usage(m) | CliError::Failure(m) | CliError::Interrupted(m) => {
                    Some(m.clone())
                }
                CliError::JobEnded { message, tail } => {
                    if !tail.is_empty() {
                        eprintln!("last lines of the log:");
                        for line in tail {
                            eprintln!("  {}", redact(line));
                        }
                    }
                    Some(message.clone())
                }
                CliError::Transport(m) => Some(format!("{m} (API URL: {api_url})")),
                CliError::BrokenPipe => None,
            };
            if let Some(m) = message {
                let m = redact(&m);
                // One line, whatever the source text contained.
                let one_line = m.split_whitespace().collect::<Vec<_>>().join(" ");
                eprintln!("error: {one_line}");
            }
            e.exit_code()
        }
    }
}

async fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Call(a) => actors::call(ctx, a).await,
        Command::Actors(c) => actors::run(ctx, c).await,
        Command::Runs(c) => runs::run(ctx, c).await,
        Command::Builds(c) => builds::run(ctx, c).await,
        Command::Task(c) => tasks::run(ctx, c).await,
        Command::Webhooks(c) => webhooks::run(ctx, c).await,
        Command::Schedules(c) => schedules::run(ctx, c).await,
        Command::Datasets(c) => datasets::run(ctx, c).await,
        Command::KeyValueStores(c) => key_value_stores::run(ctx, c).await,
        Command::RequestQueues(c) => request_queues::run(ctx, c).await,
        Command::Users(c) => users::run(ctx, c).await,
        Command::Api(a) => api::run(ctx, a).await,
        Command::Transport(c) => transport::run(ctx, c).await,
    }
}

/// Prints a confirmation to stderr (data stays alone on stdout).
pub(crate) fn note(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
