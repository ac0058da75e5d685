//! `apify-host task ...`: run, list and inspect saved Actor tasks, as `apify task`.

use clap::Subcommand;

use super::{
    actors::{not_found_as, print_finished},
    jobs::{self, RunArgs},
};
use crate::{args::PageArgs, context::Context, error::CliError, output::json_items, output::note};

const FIELDS: &[&str] = &["id", "name", "actId", "username", "createdAt", "modifiedAt"];
const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("ACTOR", "actId"),
    ("MODIFIED", "modifiedAt"),
];

/// The `task` commands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Run a task and wait for it: its stored input, merged with --input. Exit status as `call`.
    ///
    /// While it waits, SIGHUP reloads the transport from the config.
    Run {
        /// Task id, or `username~name`.
        task: String,
        #[command(flatten)]
        run: RunArgs,
        /// Print the items of the run's default dataset instead of the run.
        #[arg(long)]
        output_dataset: bool,
        /// Do not stream the run's log to stderr.
        #[arg(long, short = 's')]
        silent: bool,
    },
    /// List your tasks.
    Ls {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a task's details.
    Info {
        /// Task id, or `username~name`.
        task: String,
    },
}

/// Runs a `task` command.
pub async fn run(ctx: &Context, cmd: TaskCommand) -> Result<(), CliError> {
    match cmd {
        TaskCommand::Run {
            task,
            run,
            output_dataset,
            silent,
        } => {
            let (input, opts) = run.read()?;
            let input = match input {
                Some(apify_host::models::RunInput::Json(v)) => Some(v),
                _ => None,
            };
            let client = ctx.authed_client()?;
            let _reload = ctx.reload_on_sighup(&client)?;
            let started = client
                .task(&task)
                .start(input.as_ref().map(|v| v as _), &opts)
                .await
                .map_err(|e| not_found_as(e, || task_not_found(&task)))?;
            if !silent {
                note(format!("run {} of task {task} started", started.id));
            }
            let finished = jobs::wait_for_run(&client, &started, silent, None).await?;
            print_finished(ctx, &client, &finished, output_dataset).await?;
            jobs::run_outcome(&client, &finished, silent).await
        }
        TaskCommand::Ls { page } => {
            let client = ctx.authed_client()?;
            let opts = page.options();
            let page = client.tasks().list(&opts).await?;
            let items = json_items(&page.items);
            let footer = format!("{} of {} tasks", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        TaskCommand::Info { task } => {
            let client = ctx.client()?;
            match client.task(&task).get().await? {
                Some(t) => ctx.out().object(&t, FIELDS),
                None => Err(task_not_found(&task)),
            }
        }
    }
}

fn task_not_found(task: &str) -> CliError {
    CliError::failure(format!(
        "there is no task {task:?}: check the id or `username~name` (`apify-host task ls` lists \
         yours)"
    ))
}
