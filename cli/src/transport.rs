//! `apify-host transport ...`: which transport is used, and checks of a plugin file.

use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Context};

/// Transport commands.
#[derive(Debug, Subcommand)]
pub enum TransportCommand {
    /// Show which transport the other commands use, and where that choice comes from.
    #[command(
        long_about = "Show which transport the other commands use (the built-in one or \
        a plugin, with its name, version and path) and where that choice comes from: \
        --transport-plugin, then APIFY_TRANSPORT_PLUGIN, then `[transport] plugin` in the \
        config file. Loading the plugin runs every load check; no request is sent.\n\n\
        Examples:\n  apify-host transport info\n  \
        APIFY_TRANSPORT_PLUGIN=/opt/apify/libapify_transport_reqwest.so apify-host transport info"
    )]
    Info,

    /// Check a plugin file without sending a request: each load check, then its metadata.
    #[command(
        long_about = "Check a transport plugin file without sending any request: path \
        and permissions, the sha256 pin of the config (if any), the ABI layout and interface \
        version, then the plugin's constructor with the config's `[transport.options]`. \
        Prints each check and the plugin's metadata; exits with 2 if a check fails, as any \
        command would with that plugin. The file checks run before the library is opened, but \
        the ABI checks and the constructor run the plugin's code: do not inspect files you \
        would not load.\n\n\
        Example:\n  apify-host transport inspect /opt/apify/transports/libapify_transport_reqwest.so"
    )]
    Inspect {
        /// The plugin file (.so).
        path: PathBuf,
    },
}

#[derive(Serialize)]
struct Info<'a> {
    transport: &'a str,
    source: &'a str,
    name: &'a str,
}

/// Runs a transport command.
pub async fn run(ctx: &Context, cmd: TransportCommand) -> Result<(), CliError> {
    match cmd {
        TransportCommand::Info => {
            let s = ctx.config.select_transport()?;
            let (description, source) = (super::redact(&s.description), super::redact(&s.source));
            let info = Info {
                transport: &description,
                source: &source,
                name: s.transport.name(),
            };
            ctx.out().object(&info, &["transport", "source", "name"])
        }
        TransportCommand::Inspect { path } => {
            let report = ctx.config.inspect_plugin(&path);
            // The report is text for people whatever --output says: it has no JSON form. It
            // quotes what the plugin said (about its options, a proxy URL with a password...).
            ctx.out().text(&super::redact(&report.to_string()))?;
            if report.ok() {
                Ok(())
            } else {
                Err(CliError::usage(format!(
                    "the plugin {} failed a check (see above)",
                    path.display()
                )))
            }
        }
    }
}
