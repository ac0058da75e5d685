//! `apify-host builds ...`: list, inspect, create, wait for, read the log of, and delete
//! Actor builds.

use clap::Subcommand;

use super::{
    actors::{self, actor_not_found, not_found_as, BuildArgs},
    jobs::{self, BUILD_FIELDS},
    runs::print_log,
};
use crate::{args::PageArgs, context::Context, error::CliError, output::json_items, output::note};

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("STATUS", "status"),
    ("NUMBER", "buildNumber"),
    ("STARTED", "startedAt"),
    ("FINISHED", "finishedAt"),
];

/// The `builds` commands.
#[derive(Debug, Subcommand)]
pub enum BuildsCommand {
    /// List builds: of one Actor, or all of yours.
    Ls {
        /// Only the builds of this Actor (id or `username~name`).
        actor: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a build's details.
    Info {
        /// Build id.
        build: String,
    },
    /// Build an Actor version and wait for the build (same as `actors build`).
    Create(BuildArgs),
    /// Print a build's log; with --follow, keep printing until the build ends.
    Log {
        /// Build id.
        build: String,
        /// Follow the log as it grows, until the build ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Wait for a build to finish; the exit status says how it ended.
    Wait {
        /// Build id.
        build: String,
    },
    /// Delete a build.
    Rm {
        /// Build id.
        build: String,
    },
}

/// Runs a `builds` command.
pub async fn run(ctx: &Context, cmd: BuildsCommand) -> Result<(), CliError> {
    match cmd {
        BuildsCommand::Ls { actor, page } => {
            let client = ctx.authed_client()?;
            let opts = page.options();
            let page = match &actor {
                Some(a) => client
                    .actor(a)
                    .builds()
                    .list(&opts)
                    .await
                    .map_err(|e| not_found_as(e, || actor_not_found(a)))?,
                None => client.builds().list(&opts).await?,
            };
            let items = json_items(&page.items);
            let footer = format!("{} of {} builds", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        BuildsCommand::Info { build } => {
            let client = ctx.client()?;
            match client.build(&build).get().await? {
                Some(b) => ctx.out().object(&b, BUILD_FIELDS),
                None => Err(build_not_found(&build)),
            }
        }
        BuildsCommand::Create(args) => actors::build(ctx, args).await,
        BuildsCommand::Log { build, follow } => print_log(ctx, &build, follow, "build").await,
        BuildsCommand::Wait { build } => {
            let client = ctx.client()?;
            let current = client
                .build(&build)
                .get()
                .await?
                .ok_or_else(|| build_not_found(&build))?;
            let finished = jobs::wait_for_build(&client, &current, false).await?;
            ctx.out().object(&finished, BUILD_FIELDS)?;
            jobs::build_outcome(&finished)
        }
        BuildsCommand::Rm { build } => {
            let client = ctx.authed_client()?;
            let target = client.build(&build);
            if target.get().await?.is_none() {
                return Err(build_not_found(&build));
            }
            target.delete().await?;
            note(format!("deleted build {build}"));
            Ok(())
        }
    }
}

fn build_not_found(build: &str) -> CliError {
    CliError::failure(format!(
        "there is no build {build:?}: check the id (`apify-host builds ls ACTOR` lists them)"
    ))
}
