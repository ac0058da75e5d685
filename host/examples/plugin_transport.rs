//! A program that loads a transport plugin itself (instead of from the config, as `from_env`
//! does) and calls the API through it: the same loader checks, the same pipeline.
//!
//! ```sh
//! cargo build --release -p apify-transport-reqwest
//! APIFY_TOKEN=... cargo run -p apify-host --example plugin_transport -- \
//!     target/release/libapify_transport_reqwest.so '{"connect_timeout_ms": 5000}'
//! ```

use std::{path::PathBuf, sync::Arc};

use apify_host::{
    transport::plugin::{load_plugin, PluginLoadOptions},
    ApifyClient,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .ok_or("usage: plugin_transport PLUGIN.so [OPTIONS]")?,
    );
    let options = serde_json::from_str(&args.next().unwrap_or_else(|| "{}".into()))?;

    // Every load check runs here (permissions, sealed copy, ELF, ABI layout, version); pin the
    // file's sha256 too when you know it: `PluginLoadOptions::default().sha256("9f2c...")`.
    let plugin = load_plugin(&path, &PluginLoadOptions::default())?;
    let m = &plugin.metadata;
    eprintln!(
        "{} {} (plugin API {}.{})",
        m.name, m.version, m.api_major, m.api_minor
    );
    // The constructor gets `options` (the config's [transport.options]); unknown ones fail.
    let transport = plugin.new_client(&options)?;

    let client = ApifyClient::builder()
        .token(std::env::var("APIFY_TOKEN")?)
        .api_url(std::env::var("APIFY_API_BASE_URL").unwrap_or("https://api.apify.com".into()))
        .transport(Arc::new(transport))
        .build()?;
    // Retries, timeouts, errors and statistics are the pipeline's, whatever the transport.
    let me = client.me().get().await?;
    println!("{}", me.and_then(|u| u.username).unwrap_or_default());
    Ok(())
}
