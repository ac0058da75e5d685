//! The command line's arguments: the global options, the command groups (each group's own
//! arguments live beside its code in [`crate::commands`]) and the options several commands
//! share. Parsing only: nothing here reads the environment or the config.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{commands, output::OutputFormat};

/// Parses the process's arguments. An `Err` is clap's: help and version (printed to stdout,
/// exit 0) as well as usage errors (stderr, exit 2); [`clap::Error::print`] tells them apart.
pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}

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
    ///
    /// While it waits, SIGHUP reloads the transport from the config (`kill -HUP <pid>` after
    /// editing it): the wait goes on, on the new transport. A hangup therefore does not end
    /// it: use Ctrl-C or SIGTERM.
    Call(commands::actors::CallArgs),
    /// Actors: list, inspect, start, call, build, delete.
    #[command(subcommand)]
    Actors(commands::actors::ActorsCommand),
    /// Actor runs: list, inspect, wait, abort, resurrect, log, delete.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// Actor builds: list, inspect, create, log, wait, delete.
    #[command(subcommand)]
    Builds(commands::builds::BuildsCommand),
    /// Saved Actor tasks: run, list, inspect.
    #[command(subcommand, visible_alias = "tasks")]
    Task(commands::tasks::TaskCommand),
    /// Webhooks: list, inspect, test, and their dispatches.
    #[command(subcommand)]
    Webhooks(commands::webhooks::WebhooksCommand),
    /// Schedules: list, inspect (with their log).
    #[command(subcommand)]
    Schedules(commands::schedules::SchedulesCommand),
    /// Datasets: list, inspect, create, delete, read and append items.
    #[command(subcommand, visible_alias = "ds")]
    Datasets(commands::datasets::DatasetsCommand),
    /// Key-value stores: list, inspect, create, delete, read and write records.
    #[command(subcommand, name = "key-value-stores", visible_alias = "kvs")]
    KeyValueStores(commands::key_value_stores::KeyValueStoresCommand),
    /// Request queues: list, inspect, create, delete, add and read requests.
    #[command(subcommand, name = "request-queues", visible_alias = "rq")]
    RequestQueues(commands::request_queues::RequestQueuesCommand),
    /// Users: the account that owns the token.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
    /// Call any API endpoint through the client's pipeline (retries, timeouts, transport).
    #[command(long_about = commands::api::LONG_ABOUT)]
    Api(commands::api::ApiArgs),
    /// The HTTP transport: which one is used, and checks of a plugin file.
    #[command(subcommand)]
    Transport(commands::transport::TransportCommand),
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
    pub fn options(&self) -> apify_host::options::PageOptions {
        let mut opts = apify_host::options::PageOptions::new();
        opts.offset = self.offset;
        opts.limit = self.limit;
        opts.desc = self.desc.then_some(true);
        opts
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
    pub fn options(&self) -> apify_host::options::ListOptions {
        let mut opts = apify_host::options::ListOptions::new();
        opts.unnamed = self.unnamed.then_some(true);
        opts.limit = self.page.limit;
        opts.offset = self.page.offset;
        opts.desc = self.page.desc.then_some(true);
        opts
    }
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
