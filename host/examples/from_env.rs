//! A deployed program built on the library: it gets its token, API URL, retry settings and
//! HTTP transport from the environment and the config file, exactly as `apify-host` does. Ops
//! can then swap its transport without recompiling it:
//!
//! ```sh
//! APIFY_TOKEN=... cargo run --example from_env                       # built-in transport
//! APIFY_TRANSPORT_PLUGIN=/opt/apify/libapify_transport_reqwest.so \
//!     APIFY_TOKEN=... cargo run --example from_env                   # the reqwest plugin
//! ```
//!
//! (or `[transport] plugin = "..."` in the config file named by `APIFY_HOST_CONFIG`).

use apify_host::{options::ListItemsOptions, ApifyClient};
use futures_util::TryStreamExt;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), apify_host::Error> {
    let client = ApifyClient::from_env()?;
    eprintln!("transport: {}", client.transport_name());

    let me = client.me().get().await?;
    let username = me.and_then(|u| u.username).unwrap_or_default();
    eprintln!("user: {username}");

    let dataset = client
        .datasets()
        .get_or_create(Some("from-env-example"), None)
        .await?;
    let items: Vec<_> = (0..3).map(|i| json!({ "n": i })).collect();
    client.dataset(&dataset.id).push_items(&items).await?;
    let read: Vec<serde_json::Value> = client
        .dataset(&dataset.id)
        .iterate_items(&ListItemsOptions::new())
        .try_collect()
        .await?;

    // One line for scripts: which transport did the work, and what came back.
    println!(
        "{}",
        json!({
            "transport": client.transport_name(),
            "items": read.len(),
            "calls": client.statistics().calls,
        })
    );
    Ok(())
}
