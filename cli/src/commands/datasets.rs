//! `apify-host datasets ...`

use std::path::PathBuf;

use crate::{
    args::LsArgs,
    context::Context,
    error::CliError,
    input::{check_jsonl_file, is_jsonl, jsonl_lines, require_objects, InputSource},
    output::note,
    output::{json_items, write_body, Column},
};
use apify_host::{
    clients::MAX_PUSH_PAYLOAD_BYTES,
    options::{DownloadItemsOptions, ListItemsOptions, PushItemsOptions},
};
use clap::{Args, Subcommand};

const COLUMNS: &[Column] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("ITEMS", "itemCount"),
    ("MODIFIED", "modifiedAt"),
];
const INFO_FIELDS: &[&str] = &[
    "id",
    "name",
    "itemCount",
    "cleanItemCount",
    "createdAt",
    "modifiedAt",
];

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// List your datasets (named ones, unless --unnamed).
    #[command(long_about = "List your datasets: named ones, unless --unnamed.\n\n\
        Examples:\n  apify-host datasets ls\n  apify-host datasets ls --unnamed --desc --limit 20 -o jsonl")]
    Ls(LsArgs),

    /// Show a dataset's details.
    Info {
        /// Dataset id, or name as `username~name`.
        dataset: String,
    },

    /// Create a dataset (or get the existing one with this name) and print it.
    #[command(
        long_about = "Create a dataset and print it. With a NAME that exists already, \
        print that dataset instead (get-or-create); without a NAME, create an unnamed dataset.\n\n\
        Example:\n  apify-host datasets create my-results"
    )]
    Create {
        /// Name of the dataset (letters, digits and `-`); omit for an unnamed dataset.
        name: Option<String>,
    },

    /// Give a dataset a new name (as `apify datasets rename`).
    #[command(
        long_about = "Give a dataset a new name. The id stays; the old name is free again.\n\n\
        Example:\n  apify-host datasets rename my-old-name my-new-name"
    )]
    Rename {
        /// The dataset: id, or name as `username~name`.
        dataset: String,
        /// The new name (letters, digits and `-`).
        new_name: String,
    },

    /// Delete a dataset.
    Rm {
        /// Dataset id, or name as `username~name`.
        dataset: String,
    },

    /// Download items to stdout or a file, streamed (any size, bounded memory).
    #[command(
        long_about = "Download a dataset's items in any format the API offers, streamed \
        to stdout or to --out FILE in bounded memory, whatever the size. A progress bar shows \
        on stderr when it is a terminal. With --out, the file appears only once complete.\n\n\
        Examples:\n  apify-host datasets get-items my-ds > items.json\n  \
        apify-host datasets get-items my-ds --format csv --fields url,title --out items.csv\n  \
        apify-host datasets get-items my-ds --format jsonl --offset 1000 --limit 500"
    )]
    GetItems(Box<GetItemsArgs>),

    /// Append items (a JSON object or array of objects) to a dataset.
    #[command(
        long_about = "Append items to a dataset: a JSON object or an array of objects, \
        given inline, as @FILE, or on stdin (`-`, the default). The JSON is checked before \
        anything is sent and then sent as given.\n\n\
        Examples:\n  apify-host datasets push-items my-ds '{\"url\": \"https://example.com\"}'\n  \
        apify-host datasets push-items my-ds @items.json\n  \
        apify-host datasets push-items my-ds @items.jsonl      # streamed, any size\n  \
        producer | apify-host datasets push-items my-ds -"
    )]
    PushItems {
        /// Dataset id, or name as `username~name`.
        dataset: String,
        /// The items: JSON text, @FILE, or - for stdin.
        #[arg(default_value = "-", value_name = "ITEMS")]
        items: InputSource,
        /// The input is JSON Lines, one object per line (implied by a .jsonl or .ndjson
        /// file). It is streamed: sent in requests of at most 9 MB as it is read.
        #[arg(long)]
        jsonl: bool,
    },
}

/// Options of `datasets get-items`.
#[derive(Debug, Args)]
pub struct GetItemsArgs {
    /// Dataset id, or name as `username~name`.
    pub dataset: String,
    /// Format of the download.
    #[arg(long, default_value = "json", value_parser = ["json", "jsonl", "csv", "html", "xlsx", "xml", "rss"])]
    pub format: String,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Skip this many items.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// At most this many items.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Only these fields, in this order (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub fields: Option<Vec<String>>,
    /// Leave out these fields (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub omit: Option<Vec<String>>,
    /// Unwind these array/object fields into separate items (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub unwind: Option<Vec<String>>,
    /// Flatten these nested fields (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub flatten: Option<Vec<String>>,
    /// Only non-empty items, without hidden (#) fields.
    #[arg(long)]
    pub clean: bool,
    /// Newest first.
    #[arg(long)]
    pub desc: bool,
    /// Skip empty items.
    #[arg(long)]
    pub skip_empty: bool,
    /// Leave out hidden (#) fields.
    #[arg(long)]
    pub skip_hidden: bool,
    /// A view of the dataset schema.
    #[arg(long)]
    pub view: Option<String>,
    /// Start with a UTF-8 byte order mark (CSV has one by default; --bom=false drops it).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub bom: Option<bool>,
    /// CSV delimiter.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// CSV without the header row.
    #[arg(long)]
    pub skip_header_row: bool,
    /// XML root element name.
    #[arg(long, value_name = "NAME")]
    pub xml_root: Option<String>,
    /// XML element name of each item.
    #[arg(long, value_name = "NAME")]
    pub xml_row: Option<String>,
}

impl GetItemsArgs {
    fn options(&self) -> DownloadItemsOptions {
        // The flags and optional arguments pass through as they are: an absent one stays
        // unset (not sent), so the fields are assigned rather than set with the builder.
        let flag = |b: bool| b.then_some(true);
        let mut items = ListItemsOptions::new();
        items.offset = self.offset;
        items.limit = self.limit;
        items.clean = flag(self.clean);
        items.desc = flag(self.desc);
        items.fields = self.fields.clone();
        items.omit = self.omit.clone();
        items.unwind = self.unwind.clone();
        items.skip_empty = flag(self.skip_empty);
        items.skip_hidden = flag(self.skip_hidden);
        items.flatten = self.flatten.clone();
        items.view = self.view.clone();
        let mut opts = DownloadItemsOptions::new()
            .format(self.format.clone())
            .items(items);
        opts.bom = self.bom;
        opts.delimiter = self.delimiter.clone();
        opts.skip_header_row = flag(self.skip_header_row);
        opts.xml_root = self.xml_root.clone();
        opts.xml_row = self.xml_row.clone();
        opts
    }
}

/// Runs a dataset command.
pub async fn run(ctx: &Context, cmd: DatasetsCommand) -> Result<(), CliError> {
    match cmd {
        DatasetsCommand::Ls(args) => {
            let client = ctx.authed_client()?;
            let page = client.datasets().list(&args.options()).await?;
            let items = json_items(&page.items);
            let footer = format!("{} of {} datasets", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        DatasetsCommand::Info { dataset } => {
            let client = ctx.client()?;
            match client.dataset(&dataset).get().await? {
                Some(d) => ctx.out().object(&d, INFO_FIELDS),
                None => Err(not_found(&dataset)),
            }
        }
        DatasetsCommand::Create { name } => {
            let client = ctx.authed_client()?;
            let d = client
                .datasets()
                .get_or_create(name.as_deref(), None)
                .await?;
            ctx.out().object(&d, INFO_FIELDS)
        }
        DatasetsCommand::Rename { dataset, new_name } => {
            let client = ctx.authed_client()?;
            let target = client.dataset(&dataset);
            if target.get().await?.is_none() {
                return Err(not_found(&dataset));
            }
            let fields = apify_host::models::StorageUpdate {
                name: Some(new_name),
                ..Default::default()
            };
            let renamed = target.update(&fields).await?;
            ctx.out().object(&renamed, INFO_FIELDS)
        }
        DatasetsCommand::Rm { dataset } => {
            let client = ctx.authed_client()?;
            let ds = client.dataset(&dataset);
            // Look first, so a typo is reported instead of silently "deleting" nothing.
            if ds.get().await?.is_none() {
                return Err(not_found(&dataset));
            }
            ds.delete().await?;
            note(format!("deleted dataset {dataset}"));
            Ok(())
        }
        DatasetsCommand::GetItems(args) => {
            let client = ctx.client()?;
            let ds = client.dataset(&args.dataset);
            let options = args.options();
            let open = || async {
                ds.stream_items(&options)
                    .await
                    .map_err(|e| match e.is_record_not_found() {
                        true => not_found(&args.dataset),
                        false => e.into(),
                    })
            };
            let body = open().await?;
            // A file that could not be resumed is written again from a fresh download.
            let reopen = || async { open().await.map(Some) };
            let n = write_body(body, args.out.as_deref(), reopen).await?;
            if let Some(out) = &args.out {
                note(format!("wrote {n} bytes to {}", out.display()));
            }
            Ok(())
        }
        DatasetsCommand::PushItems {
            dataset,
            items,
            jsonl,
        } => {
            let opts = PushItemsOptions::new();
            if is_jsonl(&items, jsonl) {
                // A file is checked whole first (streaming, so any size), so a bad line sends
                // nothing; standard input is checked as it streams, and an error says how
                // many items were stored before it.
                if let InputSource::File(path) = &items {
                    check_jsonl_file(path)?;
                }
                let lines = jsonl_lines(&items)?;
                let client = ctx.authed_client()?;
                let done = client
                    .dataset(&dataset)
                    .push_items_stream(lines, &opts)
                    .await?;
                note(format!(
                    "pushed {} item(s) to dataset {dataset} in {} request(s)",
                    done.items, done.requests
                ));
                return Ok(());
            }
            // Parse before building the client: bad input must never cause a request.
            let input = items.read_json()?;
            let count = require_objects(&input, "dataset items")?;
            let client = ctx.authed_client()?;
            let ds = client.dataset(&dataset);
            if input.bytes.len() <= MAX_PUSH_PAYLOAD_BYTES {
                ds.push_items_json(input.bytes).await?;
            } else {
                // Too large for one request: the array's items, in requests under the limit.
                let serde_json::Value::Array(values) = input.value else {
                    return Err(CliError::usage(format!(
                        "{} is one object of {} bytes, more than one request may carry ({} \
                         bytes)",
                        input.source,
                        input.bytes.len(),
                        MAX_PUSH_PAYLOAD_BYTES
                    )));
                };
                let items = futures_util::stream::iter(
                    values
                        .into_iter()
                        .map(|v| serde_json::to_vec(&v).map(bytes::Bytes::from)),
                );
                ds.push_items_stream(items, &opts).await?;
            }
            note(format!("pushed {count} item(s) to dataset {dataset}"));
            Ok(())
        }
    }
}

fn not_found(dataset: &str) -> CliError {
    CliError::failure(format!("dataset {dataset:?} was not found"))
}
