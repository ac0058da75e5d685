//! `apify-host request-queues ...`

use clap::Subcommand;
use serde_json::Value;

use crate::{
    args::LsArgs,
    context::Context,
    error::CliError,
    input::{require_objects, InputSource},
    output::note,
    output::{json_items, Column},
};
use apify_host::options::BatchAddOptions;

const COLUMNS: &[Column] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("PENDING", "pendingRequestCount"),
    ("HANDLED", "handledRequestCount"),
    ("MODIFIED", "modifiedAt"),
];
const REQUEST_COLUMNS: &[Column] = &[
    ("ID", "id"),
    ("METHOD", "method"),
    ("URL", "url"),
    ("UNIQUE KEY", "uniqueKey"),
];
const INFO_FIELDS: &[&str] = &[
    "id",
    "name",
    "totalRequestCount",
    "pendingRequestCount",
    "handledRequestCount",
    "createdAt",
    "modifiedAt",
];

/// Request queue commands.
#[derive(Debug, Subcommand)]
pub enum RequestQueuesCommand {
    /// List your request queues (named ones, unless --unnamed).
    Ls(LsArgs),

    /// Show a request queue's details.
    Info {
        /// Queue id, or name as `username~name`.
        queue: String,
    },

    /// Create a request queue (or get the existing one with this name) and print it.
    Create {
        /// Name of the queue; omit for an unnamed queue.
        name: Option<String>,
    },

    /// Delete a request queue.
    Rm {
        /// Queue id, or name as `username~name`.
        queue: String,
    },

    /// Add requests: one JSON object, or an array of them (sent in batches of 25).
    #[command(
        long_about = "Add requests to a queue. A JSON object adds one request; an array \
        adds many, in batches of at most 25, resending the ones the API reports as \
        unprocessed a few times with a growing delay. Each request needs a `url`; `uniqueKey` \
        defaults to the URL. The input comes inline, as @FILE, or from stdin (`-`, the \
        default) and is checked before anything is sent. Exits with 1 if some requests stay \
        unprocessed.\n\n\
        Examples:\n  apify-host request-queues add my-queue '{\"url\": \"https://example.com\"}'\n  \
        apify-host request-queues add my-queue @requests.json --forefront"
    )]
    Add {
        /// Queue id, or name as `username~name`.
        queue: String,
        /// The request(s): JSON text, @FILE, or - for stdin.
        #[arg(default_value = "-", value_name = "REQUESTS")]
        requests: InputSource,
        /// Add to the head of the queue instead of the end.
        #[arg(long)]
        forefront: bool,
    },

    /// Show one request.
    Get {
        /// Queue id, or name as `username~name`.
        queue: String,
        /// Request id.
        request_id: String,
    },

    /// Show the first requests of the queue (without locking them).
    Head {
        /// Queue id, or name as `username~name`.
        queue: String,
        /// At most this many requests.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

/// Runs a request queue command.
pub async fn run(ctx: &Context, cmd: RequestQueuesCommand) -> Result<(), CliError> {
    match cmd {
        RequestQueuesCommand::Ls(args) => {
            let client = ctx.authed_client()?;
            let page = client.request_queues().list(&args.options()).await?;
            let items = json_items(&page.items);
            let footer = format!("{} of {} request queues", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        RequestQueuesCommand::Info { queue } => {
            let client = ctx.client()?;
            match client.request_queue(&queue).get().await? {
                Some(q) => ctx.out().object(&q, INFO_FIELDS),
                None => Err(queue_not_found(&queue)),
            }
        }
        RequestQueuesCommand::Create { name } => {
            let client = ctx.authed_client()?;
            let q = client
                .request_queues()
                .get_or_create(name.as_deref())
                .await?;
            ctx.out().object(&q, INFO_FIELDS)
        }
        RequestQueuesCommand::Rm { queue } => {
            let client = ctx.authed_client()?;
            let rq = client.request_queue(&queue);
            if rq.get().await?.is_none() {
                return Err(queue_not_found(&queue));
            }
            rq.delete().await?;
            note(format!("deleted request queue {queue}"));
            Ok(())
        }
        RequestQueuesCommand::Add {
            queue,
            requests,
            forefront,
        } => {
            let input = requests.read_json()?;
            require_objects(&input, "requests")?;
            check_urls(&input.value, &input.source)?;
            let client = ctx.authed_client()?;
            let rq = client.request_queue(&queue);
            match input.value {
                Value::Array(list) => {
                    let opts = BatchAddOptions::new().forefront(forefront);
                    let result = rq.batch_add_requests(&list, &opts).await?;
                    ctx.out().object(&result, &[])?;
                    let (ok, failed) = (
                        result.processed_requests.len(),
                        result.unprocessed_requests.len(),
                    );
                    if failed > 0 {
                        return Err(CliError::failure(format!(
                            "{failed} of {} request(s) could not be added to request queue {queue} \
                             (listed under unprocessedRequests)",
                            ok + failed
                        )));
                    }
                    note(format!("added {ok} request(s) to request queue {queue}"));
                    Ok(())
                }
                request => {
                    let info = rq.add_request(&request, forefront.then_some(true)).await?;
                    ctx.out().object(&info, &["requestId"])
                }
            }
        }
        RequestQueuesCommand::Get { queue, request_id } => {
            let client = ctx.client()?;
            match client
                .request_queue(&queue)
                .get_request(&request_id)
                .await?
            {
                Some(r) => ctx.out().object(&r, &["id", "url", "method", "uniqueKey"]),
                None => Err(CliError::failure(format!(
                    "request {request_id:?} was not found in request queue {queue:?}"
                ))),
            }
        }
        RequestQueuesCommand::Head { queue, limit } => {
            let client = ctx.client()?;
            let head = client
                .request_queue(&queue)
                .list_head(limit)
                .await
                .map_err(|e| match e.is_record_not_found() {
                    true => queue_not_found(&queue),
                    false => e.into(),
                })?;
            let items = json_items(&head.items);
            ctx.out().page(&head, &items, REQUEST_COLUMNS, None)
        }
    }
}

/// Every request needs a string `url`: refuse early rather than send a batch the API rejects.
fn check_urls(value: &Value, source: &InputSource) -> Result<(), CliError> {
    let requests: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for (i, r) in requests.iter().enumerate() {
        if !r.get("url").is_some_and(Value::is_string) {
            let which = match value {
                Value::Array(_) => format!("request {i}"),
                _ => "the request".to_string(),
            };
            return Err(CliError::usage(format!(
                "{source}: {which} has no \"url\" string (nothing was sent)"
            )));
        }
    }
    Ok(())
}

fn queue_not_found(queue: &str) -> CliError {
    CliError::failure(format!("request queue {queue:?} was not found"))
}
