//! The resolved context of one invocation, built from the parsed global options: the
//! library's configuration, the clients made from it and the output format.

use std::io::IsTerminal;

use apify_host::{
    config::{Config, ConfigOverrides, ConfigSource},
    ApifyClient,
};

use crate::{
    args::GlobalArgs,
    error::CliError,
    output::{self, OutputFormat},
};

/// The resolved settings of one run: the library's [`Config`] (flags over environment over
/// config file) and the output format.
#[derive(Debug)]
pub struct Context {
    /// The resolved configuration.
    pub config: Config,
    /// The output format for data on stdout.
    pub output: OutputFormat,
    /// The format `-o` named, if it was given. The commands whose output is a report for
    /// people (`transport inspect`, `transport check`) print text unless asked for JSON.
    pub explicit_output: Option<OutputFormat>,
}

impl Context {
    /// Resolves the configuration: the flags, then the environment, then the config file.
    pub fn new(global: &GlobalArgs) -> Result<Self, CliError> {
        let mut overrides = ConfigOverrides::default();
        overrides.config_file = global.config.clone();
        overrides.api_url = global.api_url.clone();
        overrides.token = global.token.clone();
        overrides.transport_plugin = global.transport_plugin.clone();
        let config = Config::load(&overrides)?;
        let output = global.output.unwrap_or(if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Json
        });
        Ok(Context {
            config,
            output,
            explicit_output: global.output,
        })
    }

    /// A client for calls that may go without a token (reads of storages by id, raw calls).
    pub fn client(&self) -> Result<ApifyClient, CliError> {
        Ok(self.config.client_builder()?.build()?)
    }

    /// A client for calls that need a token; without one, a usage error that says where to
    /// set it, before anything is sent.
    pub fn authed_client(&self) -> Result<ApifyClient, CliError> {
        if !self.config.has_token() {
            return Err(CliError::usage(format!(
                "no API token: set the APIFY_TOKEN environment variable, pass --token, or set \
                 `token` or `token_file` in the config file ({})",
                match self.config.source() {
                    ConfigSource::None => match Config::default_path() {
                        Some(p) => format!("none found; the default location is {}", p.display()),
                        None => "none found".to_string(),
                    },
                    s => s.to_string(),
                }
            )));
        }
        self.client()
    }

    /// For the long waits (`call`, `task run`, `runs wait`, `runs log --follow`): reloads the
    /// client's transport from the config on SIGHUP while the command runs, so ops can swap
    /// the transport of a wait that lasts hours without ending it. The handler stops with
    /// the returned guard.
    pub fn reload_on_sighup(&self, client: &ApifyClient) -> Result<SighupReload, CliError> {
        Ok(SighupReload(apify_host::reload_on_sighup(client)?))
    }

    /// The output printer for data on stdout.
    pub fn out(&self) -> output::Printer {
        output::Printer::new(self.output)
    }
}

/// Reloads a client's transport on SIGHUP until dropped.
#[must_use = "the SIGHUP reload stops when this is dropped"]
pub struct SighupReload(tokio::task::JoinHandle<()>);

impl Drop for SighupReload {
    fn drop(&mut self) {
        self.0.abort();
    }
}
