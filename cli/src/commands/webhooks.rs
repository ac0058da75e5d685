//! `apify-host webhooks ...`: list, inspect and test webhooks, and list their dispatches.

use clap::Subcommand;

use super::actors::{actor_not_found, not_found_as};
use crate::{args::PageArgs, context::Context, error::CliError, output::json_items};

const FIELDS: &[&str] = &[
    "id",
    "eventTypes",
    "requestUrl",
    "condition",
    "isAdHoc",
    "createdAt",
    "modifiedAt",
];
const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("EVENTS", "eventTypes"),
    ("URL", "requestUrl"),
    ("MODIFIED", "modifiedAt"),
];
const DISPATCH_FIELDS: &[&str] = &[
    "id",
    "webhookId",
    "eventType",
    "status",
    "createdAt",
    "calls",
];
const DISPATCH_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("EVENT", "eventType"),
    ("STATUS", "status"),
    ("CREATED", "createdAt"),
];

/// The `webhooks` commands.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List webhooks: all of yours, or those of one Actor (--actor) or task (--task).
    Ls {
        /// Only the webhooks of this Actor.
        #[arg(long, value_name = "ACTOR", conflicts_with = "task")]
        actor: Option<String>,
        /// Only the webhooks of this task.
        #[arg(long, value_name = "TASK")]
        task: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a webhook's details.
    Info {
        /// Webhook id.
        webhook: String,
    },
    /// Send a test dispatch of a webhook now, and print the dispatch.
    Test {
        /// Webhook id.
        webhook: String,
    },
    /// List the dispatches of one webhook, or all of yours.
    Dispatches {
        /// Only the dispatches of this webhook.
        webhook: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

/// Runs a `webhooks` command.
pub async fn run(ctx: &Context, cmd: WebhooksCommand) -> Result<(), CliError> {
    match cmd {
        WebhooksCommand::Ls { actor, task, page } => {
            let client = ctx.authed_client()?;
            let opts = page.options();
            let list = match (&actor, &task) {
                (Some(a), _) => client
                    .actor(a)
                    .webhooks()
                    .list(&opts)
                    .await
                    .map_err(|e| not_found_as(e, || actor_not_found(a)))?,
                (None, Some(t)) => client.task(t).webhooks().list(&opts).await?,
                (None, None) => client.webhooks().list(&opts).await?,
            };
            let items = json_items(&list.items);
            let footer = format!("{} of {} webhooks", list.count, list.total);
            ctx.out().page(&list, &items, COLUMNS, Some(footer))
        }
        WebhooksCommand::Info { webhook } => {
            let client = ctx.authed_client()?;
            match client.webhook(&webhook).get().await? {
                Some(w) => ctx.out().object(&w, FIELDS),
                None => Err(webhook_not_found(&webhook)),
            }
        }
        WebhooksCommand::Test { webhook } => {
            let client = ctx.authed_client()?;
            match client.webhook(&webhook).test().await? {
                Some(d) => ctx.out().object(&d, DISPATCH_FIELDS),
                None => Err(webhook_not_found(&webhook)),
            }
        }
        WebhooksCommand::Dispatches { webhook, page } => {
            let client = ctx.authed_client()?;
            let opts = page.options();
            let list = match &webhook {
                Some(w) => client
                    .webhook(w)
                    .dispatches()
                    .list(&opts)
                    .await
                    .map_err(|e| not_found_as(e, || webhook_not_found(w)))?,
                None => client.webhook_dispatches().list(&opts).await?,
            };
            let items = json_items(&list.items);
            let footer = format!("{} of {} dispatches", list.count, list.total);
            ctx.out()
                .page(&list, &items, DISPATCH_COLUMNS, Some(footer))
        }
    }
}

fn webhook_not_found(webhook: &str) -> CliError {
    CliError::failure(format!(
        "there is no webhook {webhook:?}: check the id (`apify-host webhooks ls` lists yours)"
    ))
}
