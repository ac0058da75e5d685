//! `apify-host schedules ...`: list and inspect schedules (with their invocation log).

use clap::Subcommand;

use crate::{args::PageArgs, context::Context, error::CliError, output::json_items};

const FIELDS: &[&str] = &[
    "id",
    "name",
    "cronExpression",
    "timezone",
    "isEnabled",
    "isExclusive",
    "nextRunAt",
    "lastRunAt",
    "actions",
];
const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("CRON", "cronExpression"),
    ("ENABLED", "isEnabled"),
    ("NEXT RUN", "nextRunAt"),
];

/// The `schedules` commands.
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// List your schedules.
    Ls {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a schedule's details; with --log, its invocation log instead.
    Info {
        /// Schedule id, or `username~name`.
        schedule: String,
        /// Print the schedule's log (its recent invocations) instead.
        #[arg(long)]
        log: bool,
    },
}

/// Runs a `schedules` command.
pub async fn run(ctx: &Context, cmd: SchedulesCommand) -> Result<(), CliError> {
    match cmd {
        SchedulesCommand::Ls { page } => {
            let client = ctx.authed_client()?;
            let list = client.schedules().list(&page.options()).await?;
            let items = json_items(&list.items);
            let footer = format!("{} of {} schedules", list.count, list.total);
            ctx.out().page(&list, &items, COLUMNS, Some(footer))
        }
        SchedulesCommand::Info { schedule, log } => {
            let client = ctx.authed_client()?;
            let target = client.schedule(&schedule);
            if log {
                let invocations = target
                    .get_log()
                    .await?
                    .ok_or_else(|| schedule_not_found(&schedule))?;
                let items = json_items(&invocations);
                return ctx.out().page(
                    &invocations,
                    &items,
                    &[("MESSAGE", "message"), ("CREATED", "createdAt")],
                    None,
                );
            }
            match target.get().await? {
                Some(s) => ctx.out().object(&s, FIELDS),
                None => Err(schedule_not_found(&schedule)),
            }
        }
    }
}

fn schedule_not_found(schedule: &str) -> CliError {
    CliError::failure(format!(
        "there is no schedule {schedule:?}: check the id (`apify-host schedules ls` lists yours)"
    ))
}
