//! `apify-host runs ...`: list, inspect, wait for, abort, resurrect, read the log of, and
//! delete Actor runs.

use std::time::Duration;

use clap::Subcommand;

use super::{
    actors::{actor_not_found, not_found_as},
    jobs::{self, RUN_COLUMNS, RUN_FIELDS},
};
use crate::{
    args::PageArgs,
    context::Context,
    error::CliError,
    output::note,
    output::{json_items, write_body},
};
use apify_host::{
    models::ActorJobStatus,
    options::{ListRunsOptions, ResurrectOptions},
};

/// The `runs` commands.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs: of one Actor, or all of yours.
    Ls {
        /// Only the runs of this Actor (id or `username~name`).
        actor: Option<String>,
        /// Only runs with this status (READY, RUNNING, SUCCEEDED, FAILED, TIMED-OUT, ABORTED).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a run's details.
    Info {
        /// Run id.
        run: String,
    },
    /// Wait for a run to finish; the exit status says how it ended.
    ///
    /// While it waits, SIGHUP reloads the transport from the config: the wait goes on, on
    /// the new transport.
    Wait {
        /// Run id.
        run: String,
        /// Give up waiting after this many seconds (the run goes on).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
        /// Stream the run's log to stderr while waiting.
        #[arg(long)]
        follow: bool,
    },
    /// Abort a running run (gracefully: SIGTERM, then SIGKILL after a grace period).
    Abort {
        /// Run id.
        run: String,
        /// Kill it at once instead of gracefully.
        #[arg(long, short = 'f')]
        force: bool,
    },
    /// Start a finished run again, with the same storages.
    Resurrect {
        /// Run id.
        run: String,
    },
    /// Print a run's log; with --follow, keep printing until the run ends.
    ///
    /// With --follow, SIGHUP reloads the transport from the config. The log stream already
    /// open stays on the old transport until `drain_timeout_secs` (default 60), then is cut
    /// and resumed on the new one where the API allows a range request.
    Log {
        /// Run id.
        run: String,
        /// Follow the log as it grows, until the run ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Delete a finished run.
    Rm {
        /// Run id.
        run: String,
    },
}

/// Runs a `runs` command.
pub async fn run(ctx: &Context, cmd: RunsCommand) -> Result<(), CliError> {
    match cmd {
        RunsCommand::Ls {
            actor,
            status,
            page,
        } => {
            let client = ctx.authed_client()?;
            let mut opts = ListRunsOptions::new()
                .status(status.iter().map(|s| ActorJobStatus::from(s.as_str())));
            opts.offset = page.offset;
            opts.limit = page.limit;
            opts.desc = page.desc.then_some(true);
            let page = match &actor {
                Some(a) => client
                    .actor(a)
                    .runs()
                    .list(&opts)
                    .await
                    .map_err(|e| not_found_as(e, || actor_not_found(a)))?,
                None => client.runs().list(&opts).await?,
            };
            let items = json_items(&page.items);
            let footer = format!("{} of {} runs", page.count, page.total);
            ctx.out().page(&page, &items, RUN_COLUMNS, Some(footer))
        }
        RunsCommand::Info { run } => {
            let client = ctx.client()?;
            match client.run(&run).get().await? {
                Some(r) => ctx.out().object(&r, RUN_FIELDS),
                None => Err(run_not_found(&run)),
            }
        }
        RunsCommand::Wait {
            run,
            timeout,
            follow,
        } => {
            let client = ctx.client()?;
            let _reload = ctx.reload_on_sighup(&client)?;
            let current = client
                .run(&run)
                .get()
                .await?
                .ok_or_else(|| run_not_found(&run))?;
            let finished =
                jobs::wait_for_run(&client, &current, !follow, timeout.map(Duration::from_secs))
                    .await?;
            ctx.out().object(&finished, RUN_FIELDS)?;
            if !finished.status.is_terminal() {
                return Err(CliError::failure(format!(
                    "the run {run} is still {} after {}s of waiting",
                    finished.status,
                    timeout.unwrap_or_default()
                )));
            }
            jobs::run_outcome(&client, &finished, !follow).await
        }
        RunsCommand::Abort { run, force } => {
            let client = ctx.authed_client()?;
            let aborted = client
                .run(&run)
                .abort(Some(!force))
                .await
                .map_err(|e| not_found_as(e, || run_not_found(&run)))?;
            note(format!("run {run} is {}", aborted.status));
            ctx.out().object(&aborted, RUN_FIELDS)
        }
        RunsCommand::Resurrect { run } => {
            let client = ctx.authed_client()?;
            let again = client
                .run(&run)
                .resurrect(&ResurrectOptions::new())
                .await
                .map_err(|e| not_found_as(e, || run_not_found(&run)))?;
            note(format!("run {run} is {} again", again.status));
            ctx.out().object(&again, RUN_FIELDS)
        }
        RunsCommand::Log { run, follow } => print_log(ctx, &run, follow, "run").await,
        RunsCommand::Rm { run } => {
            let client = ctx.authed_client()?;
            let target = client.run(&run);
            if target.get().await?.is_none() {
                return Err(run_not_found(&run));
            }
            target.delete().await?;
            note(format!("deleted run {run}"));
            Ok(())
        }
    }
}

/// Prints the log of a run or build to stdout; `follow` keeps it open until the job ends.
pub async fn print_log(ctx: &Context, id: &str, follow: bool, what: &str) -> Result<(), CliError> {
    let client = ctx.client()?;
    let log = client.log(id);
    let missing = || CliError::failure(format!("there is no {what} {id:?}"));
    if follow {
        let _reload = ctx.reload_on_sighup(&client)?;
        let body = log.stream(true).await?.ok_or_else(missing)?;
        write_body(body, None, || async { Ok(None) })
            .await
            .map(|_| ())
    } else {
        let bytes = log.get_as_bytes(true).await?.ok_or_else(missing)?;
        ctx.out().text(&String::from_utf8_lossy(&bytes))
    }
}

/// The error for a run that does not exist.
pub fn run_not_found(run: &str) -> CliError {
    CliError::failure(format!(
        "there is no run {run:?}: check the id (`apify-host runs ls` lists recent runs)"
    ))
}
