//! `apify-host actors ...` and `apify-host call`: list, inspect, start, call, build and delete
//! Actors, with apify-cli's names and flags.

use clap::{Args, Subcommand};

use super::jobs::{self, RunArgs, BUILD_FIELDS, RUN_FIELDS};
use crate::{args::PageArgs, context::Context, error::CliError, output::json_items, output::note};
use apify_host::{
    options::{ActorListOptions, BuildOptions, ListItemsOptions},
    ApifyClient, Error,
};

const FIELDS: &[&str] = &[
    "id",
    "name",
    "username",
    "title",
    "description",
    "createdAt",
    "modifiedAt",
];
const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("TITLE", "title"),
    ("MODIFIED", "modifiedAt"),
];

/// The `actors` commands.
#[derive(Debug, Subcommand)]
pub enum ActorsCommand {
    /// List Actors.
    Ls {
        /// Only the Actors you own (not the ones you used).
        #[arg(long)]
        my: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an Actor's details.
    Info {
        /// Actor id, or `username~name` (`username/name` works too).
        actor: String,
    },
    /// Start a run and print it, without waiting.
    Start {
        /// Actor id, or `username~name`.
        actor: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run an Actor and wait for it (same as `apify-host call`).
    Call(CallArgs),
    /// Build an Actor version and wait for the build.
    Build(BuildArgs),
    /// Delete an Actor.
    Rm {
        /// Actor id, or `username~name`.
        actor: String,
    },
}

/// Options of `call` (and `actors call`).
#[derive(Debug, Args)]
#[command(
    long_about = "Start an Actor run, stream its log to stderr, wait for it to finish, and print \
    the run (or, with --output-dataset, the items of its default dataset) to stdout.\n\n\
    Exit status: 0 when the run SUCCEEDED; 1 when it FAILED, TIMED-OUT or was ABORTED (with the \
    last lines of its log); 130 on Ctrl-C, which leaves the run running and prints how to abort it.\n\n\
    Examples:\n  apify-host call echo --input '{\"items\": [{\"n\": 1}]}'\n  \
    apify-host call local-user~echo --input @input.json --output-dataset\n  \
    echo '{}' | apify-host call echo --input - --silent"
)]
pub struct CallArgs {
    /// Actor id, or `username~name` (`username/name` works too).
    pub actor: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the items of the run's default dataset instead of the run.
    #[arg(long)]
    pub output_dataset: bool,
    /// Do not stream the run's log to stderr.
    #[arg(long, short = 's')]
    pub silent: bool,
}

/// Options of `actors build` (and `builds create`).
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Actor id, or `username~name`.
    pub actor: String,
    /// The version to build.
    #[arg(long = "version-number", value_name = "X.Y", default_value = "0.0")]
    pub version: String,
    /// Tag the build gets (default `latest`).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Do not wait for the build to finish (print it as started).
    #[arg(long)]
    pub no_wait: bool,
    /// Do not stream the build's log to stderr.
    #[arg(long, short = 's')]
    pub silent: bool,
}

/// Runs an `actors` command.
pub async fn run(ctx: &Context, cmd: ActorsCommand) -> Result<(), CliError> {
    match cmd {
        ActorsCommand::Ls { my, page } => {
            let client = ctx.authed_client()?;
            let mut opts = ActorListOptions::new();
            opts.my = my.then_some(true);
            opts.offset = page.offset;
            opts.limit = page.limit;
            opts.desc = page.desc.then_some(true);
            let page = client.actors().list(&opts).await?;
            let items = json_items(&page.items);
            let footer = format!("{} of {} Actors", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        ActorsCommand::Info { actor } => {
            let client = ctx.client()?;
            match client.actor(&actor).get().await? {
                Some(a) => ctx.out().object(&a, FIELDS),
                None => Err(actor_not_found(&actor)),
            }
        }
        ActorsCommand::Start { actor, run } => {
            let (input, opts) = run.read()?;
            let client = ctx.authed_client()?;
            let started = client
                .actor(&actor)
                .start(input.as_ref().map(|i| i as _), &opts)
                .await
                .map_err(|e| not_found_as(e, || actor_not_found(&actor)))?;
            note(format!(
                "started run {} (follow it: apify-host runs log {} --follow)",
                started.id, started.id
            ));
            ctx.out().object(&started, RUN_FIELDS)
        }
        ActorsCommand::Call(args) => call(ctx, args).await,
        ActorsCommand::Build(args) => build(ctx, args).await,
        ActorsCommand::Rm { actor } => {
            let client = ctx.authed_client()?;
            let target = client.actor(&actor);
            if target.get().await?.is_none() {
                return Err(actor_not_found(&actor));
            }
            target.delete().await?;
            note(format!("deleted Actor {actor}"));
            Ok(())
        }
    }
}

/// `apify-host call`: start, follow the log, wait, print the run or its dataset.
pub async fn call(ctx: &Context, args: CallArgs) -> Result<(), CliError> {
    // The input is read and checked first: invalid JSON never starts a run.
    let (input, opts) = args.run.read()?;
    let client = ctx.authed_client()?;
    let _reload = ctx.reload_on_sighup(&client)?;
    let started = client
        .actor(&args.actor)
        .start(input.as_ref().map(|i| i as _), &opts)
        .await
        .map_err(|e| not_found_as(e, || actor_not_found(&args.actor)))?;
    if !args.silent {
        note(format!("run {} of {} started", started.id, args.actor));
    }
    let finished = jobs::wait_for_run(&client, &started, args.silent, None).await?;
    print_finished(ctx, &client, &finished, args.output_dataset).await?;
    jobs::run_outcome(&client, &finished, args.silent).await
}

/// Prints a finished run, or its default dataset's items.
pub async fn print_finished(
    ctx: &Context,
    client: &ApifyClient,
    run: &apify_host::models::Run,
    output_dataset: bool,
) -> Result<(), CliError> {
    if !output_dataset {
        return ctx.out().object(run, RUN_FIELDS);
    }
    let items = client
        .run(&run.id)
        .dataset()
        .iterate_items::<serde_json::Value>(&ListItemsOptions::new());
    ctx.out().stream_list(items, &[]).await.map(|_| ())
}

/// `actors build` / `builds create`.
pub async fn build(ctx: &Context, args: BuildArgs) -> Result<(), CliError> {
    let client = ctx.authed_client()?;
    let mut opts = BuildOptions::new();
    opts.tag = args.tag.clone();
    let started = client
        .actor(&args.actor)
        .build(&args.version, &opts)
        .await
        .map_err(|e| not_found_as(e, || actor_not_found(&args.actor)))?;
    if args.no_wait {
        return ctx.out().object(&started, BUILD_FIELDS);
    }
    let finished = jobs::wait_for_build(&client, &started, !args.silent).await?;
    ctx.out().object(&finished, BUILD_FIELDS)?;
    jobs::build_outcome(&finished)
}

/// The error for an Actor that does not exist, with where to look.
pub fn actor_not_found(actor: &str) -> CliError {
    CliError::failure(format!(
        "there is no Actor {actor:?}: check the id or `username~name` (`apify-host actors ls` \
         lists yours)"
    ))
}

/// `e`, unless it is a 404 `record-not-found`, which becomes `not_found()`.
pub fn not_found_as(e: Error, not_found: impl FnOnce() -> CliError) -> CliError {
    if e.is_record_not_found() {
        not_found()
    } else {
        e.into()
    }
}
