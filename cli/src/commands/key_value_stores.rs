//! `apify-host key-value-stores ...`

use std::path::PathBuf;

use clap::Subcommand;
use futures_util::StreamExt;

use crate::{
    args::LsArgs,
    context::Context,
    error::CliError,
    input::{check_json_file, InputSource},
    output::note,
    output::{json_items, write_body, Column},
};
use apify_host::{options::ListKeysOptions, pipeline::UploadBody};

const COLUMNS: &[Column] = &[("ID", "id"), ("NAME", "name"), ("MODIFIED", "modifiedAt")];
const KEY_COLUMNS: &[Column] = &[("KEY", "key"), ("SIZE", "size")];
const INFO_FIELDS: &[&str] = &["id", "name", "createdAt", "modifiedAt"];
const DEFAULT_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Key-value store commands.
#[derive(Debug, Subcommand)]
pub enum KeyValueStoresCommand {
    /// List your key-value stores (named ones, unless --unnamed).
    Ls(LsArgs),

    /// Show a key-value store's details.
    Info {
        /// Store id, or name as `username~name`.
        store: String,
    },

    /// Create a key-value store (or get the existing one with this name) and print it.
    Create {
        /// Name of the store; omit for an unnamed store.
        name: Option<String>,
    },

    /// Give a key-value store a new name (as `apify key-value-stores rename`).
    #[command(
        long_about = "Give a key-value store a new name. The id stays; the old name is free again.\n\n\
        Example:\n  apify-host key-value-stores rename my-old-name my-new-name"
    )]
    Rename {
        /// The key-value store: id, or name as `username~name`.
        store: String,
        /// The new name (letters, digits and `-`).
        new_name: String,
    },

    /// Delete a key-value store.
    Rm {
        /// Store id, or name as `username~name`.
        store: String,
    },

    /// List the keys of a store (all pages, up to --limit).
    #[command(
        long_about = "List the keys of a store with their sizes, following the API's \
        pages until the end or --limit.\n\n\
        Examples:\n  apify-host key-value-stores keys my-store\n  \
        apify-host key-value-stores keys my-store --prefix screenshot- -o jsonl"
    )]
    Keys {
        /// Store id, or name as `username~name`.
        store: String,
        /// Only keys that start with PREFIX.
        #[arg(long)]
        prefix: Option<String>,
        /// Only keys of this collection of the store schema.
        #[arg(long)]
        collection: Option<String>,
        /// Start after this key.
        #[arg(long, value_name = "KEY")]
        exclusive_start_key: Option<String>,
        /// At most this many keys.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },

    /// Print a record's value (streamed: any size, bounded memory).
    #[command(
        long_about = "Write a record's value, byte for byte, to stdout or to --out FILE, \
        streamed in bounded memory whatever its size. A progress bar shows on stderr when it \
        is a terminal. With --out, the file appears only once complete.\n\n\
        Examples:\n  apify-host key-value-stores get-value my-store INPUT\n  \
        apify-host key-value-stores get-value my-store screenshot.png --out shot.png"
    )]
    GetValue {
        /// Store id, or name as `username~name`.
        store: String,
        /// Record key.
        key: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Store a record: JSON by default, any content with --content-type.
    #[command(
        long_about = "Store a record. The value comes inline, as @FILE, or from stdin \
        (`-`, the default). With the default content type (application/json) the value must \
        be valid JSON, checked before anything is sent; with another --content-type the bytes \
        are stored as they are.\n\n\
        Examples:\n  apify-host key-value-stores set-value my-store INPUT '{\"maxItems\": 10}'\n  \
        apify-host key-value-stores set-value my-store notes 'hello' --content-type text/plain\n  \
        apify-host key-value-stores set-value my-store shot.png @shot.png --content-type image/png"
    )]
    SetValue {
        /// Store id, or name as `username~name`.
        store: String,
        /// Record key.
        key: String,
        /// The value: text, @FILE, or - for stdin.
        #[arg(default_value = "-", value_name = "VALUE")]
        value: InputSource,
        /// Content type to store the value with.
        #[arg(long, default_value = DEFAULT_CONTENT_TYPE, value_name = "TYPE")]
        content_type: String,
    },

    /// Delete a record.
    DeleteValue {
        /// Store id, or name as `username~name`.
        store: String,
        /// Record key.
        key: String,
    },
}

/// Runs a key-value store command.
pub async fn run(ctx: &Context, cmd: KeyValueStoresCommand) -> Result<(), CliError> {
    match cmd {
        KeyValueStoresCommand::Ls(args) => {
            let client = ctx.authed_client()?;
            let page = client.key_value_stores().list(&args.options()).await?;
            let items = json_items(&page.items);
            let footer = format!("{} of {} key-value stores", page.count, page.total);
            ctx.out().page(&page, &items, COLUMNS, Some(footer))
        }
        KeyValueStoresCommand::Info { store } => {
            let client = ctx.client()?;
            match client.key_value_store(&store).get().await? {
                Some(s) => ctx.out().object(&s, INFO_FIELDS),
                None => Err(store_not_found(&store)),
            }
        }
        KeyValueStoresCommand::Create { name } => {
            let client = ctx.authed_client()?;
            let s = client
                .key_value_stores()
                .get_or_create(name.as_deref(), None)
                .await?;
            ctx.out().object(&s, INFO_FIELDS)
        }
        KeyValueStoresCommand::Rename { store, new_name } => {
            let client = ctx.authed_client()?;
            let target = client.key_value_store(&store);
            if target.get().await?.is_none() {
                return Err(store_not_found(&store));
            }
            let fields = apify_host::models::StorageUpdate {
                name: Some(new_name),
                ..Default::default()
            };
            let renamed = target.update(&fields).await?;
            ctx.out().object(&renamed, INFO_FIELDS)
        }
        KeyValueStoresCommand::Rm { store } => {
            let client = ctx.authed_client()?;
            let kvs = client.key_value_store(&store);
            if kvs.get().await?.is_none() {
                return Err(store_not_found(&store));
            }
            kvs.delete().await?;
            note(format!("deleted key-value store {store}"));
            Ok(())
        }
        KeyValueStoresCommand::Keys {
            store,
            prefix,
            collection,
            exclusive_start_key,
            limit,
        } => {
            let client = ctx.client()?;
            let mut opts = ListKeysOptions::new();
            opts.limit = limit;
            opts.exclusive_start_key = exclusive_start_key;
            opts.collection = collection;
            opts.prefix = prefix;
            let keys = client.key_value_store(&store).iterate_keys(&opts);
            // A store that does not exist shows as a 404 on the first page.
            let keys = keys.map(|r| {
                r.map_err(|e| match e.is_record_not_found() {
                    true => store_not_found(&store),
                    false => CliError::from(e),
                })
            });
            ctx.out().stream_list(keys, KEY_COLUMNS).await?;
            Ok(())
        }
        KeyValueStoresCommand::GetValue { store, key, out } => {
            let client = ctx.client()?;
            let kvs = client.key_value_store(&store);
            let missing = || {
                CliError::failure(format!(
                    "record {key:?} was not found in key-value store {store:?}"
                ))
            };
            let Some(record) = kvs.stream_record(&key).await? else {
                return Err(missing());
            };
            // A file that could not be resumed is written again from a fresh download.
            let reopen = || async {
                match kvs.stream_record(&key).await? {
                    Some(r) => Ok(Some(r.into_body())),
                    None => Err(missing()),
                }
            };
            let n = write_body(record.into_body(), out.as_deref(), reopen).await?;
            if let Some(out) = &out {
                note(format!("wrote {n} bytes to {}", out.display()));
            }
            Ok(())
        }
        KeyValueStoresCommand::SetValue {
            store,
            key,
            value,
            content_type,
        } => {
            if http::HeaderValue::from_str(&content_type).is_err() {
                return Err(CliError::usage(format!(
                    "--content-type {content_type:?} is not a valid header value"
                )));
            }
            // A file or (for non-JSON types) standard input streams: a 1 GiB value costs a few
            // MiB. JSON from a file is checked first by a streaming parse; JSON on stdin is
            // read whole to be checked, since nothing may be sent before it is.
            let json = is_json(&content_type);
            let (body, what) = match &value {
                InputSource::File(path) => {
                    if json {
                        check_json_file(path)?;
                    }
                    let body =
                        UploadBody::from_file(path).map_err(|e| CliError::usage(e.to_string()))?;
                    let what = format!("{} bytes", body.len().unwrap_or_default());
                    (body, what)
                }
                InputSource::Stdin if !json => (
                    UploadBody::from_reader(tokio::io::stdin(), None),
                    "standard input".to_string(),
                ),
                _ => {
                    let input = value.read()?;
                    let bytes = if json {
                        input.into_json()?.bytes
                    } else {
                        input.bytes
                    };
                    let what = format!("{} bytes", bytes.len());
                    (UploadBody::from_bytes(bytes), what)
                }
            };
            let client = ctx.authed_client()?;
            client
                .key_value_store(&store)
                .set_record_from(&key, body, &content_type)
                .await?;
            note(format!(
                "stored {what} under {key:?} in key-value store {store}"
            ));
            Ok(())
        }
        KeyValueStoresCommand::DeleteValue { store, key } => {
            let client = ctx.authed_client()?;
            client
                .key_value_store(&store)
                .delete_record(&key)
                .await
                .map_err(|e| match e.is_record_not_found() {
                    true => CliError::failure(format!(
                        "record {key:?} was not found in key-value store {store:?}"
                    )),
                    false => e.into(),
                })?;
            note(format!(
                "deleted record {key:?} from key-value store {store}"
            ));
            Ok(())
        }
    }
}

/// `application/json`, or any `+json` type.
fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime.ends_with("+json")
}

fn store_not_found(store: &str) -> CliError {
    CliError::failure(format!("key-value store {store:?} was not found"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_types() {
        assert!(super::is_json("application/json; charset=utf-8"));
        assert!(super::is_json("application/ld+json"));
        assert!(!super::is_json("text/plain"));
    }
}
