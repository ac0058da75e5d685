//! Configuration from a file and the environment: the same swap-by-config for any program
//! built on the library as for the `apify-host` CLI.
//!
//! Precedence, highest first: explicit overrides (the CLI's flags), then the environment
//! (`APIFY_TOKEN`, `APIFY_API_BASE_URL`, `APIFY_API_PUBLIC_BASE_URL`,
//! `APIFY_TRANSPORT_PLUGIN`), then the config file, then
//! the defaults. The file is found by [`ConfigOverrides::config_file`], then
//! `APIFY_HOST_CONFIG`, then `<config dir>/apify-host/config.toml` if it exists.
//!
//! This module sits above the client: it only turns files and variables into the values the
//! [`ApifyClientBuilder`](crate::ApifyClientBuilder) and the plugin loader take.

mod file;
mod transport;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

pub use file::ConfigSource;
use file::LoadedConfig;
use transport::config_plugin_path;
pub use transport::{TransportSelection, WorkerSummary};

use crate::{
    pipeline::{CanaryPolicy, HttpSettings},
    redact::Redactor,
    token::Token,
    transport::Isolation,
    Error,
};

/// What the caller sets explicitly, winning over the environment and the config file (the
/// CLI's `--config`, `--api-url`, `--token` and `--transport-plugin`). `Debug` hides the token.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ConfigOverrides {
    /// The config file to read instead of `APIFY_HOST_CONFIG` or the default location.
    pub config_file: Option<PathBuf>,
    /// The API base URL.
    pub api_url: Option<String>,
    /// The API token.
    pub token: Option<String>,
    /// A transport plugin (`.so`) to use.
    pub transport_plugin: Option<PathBuf>,
    /// Where the plugin runs, over `APIFY_TRANSPORT_ISOLATION` and `[transport] isolation`.
    pub isolation: Option<Isolation>,
}

impl std::fmt::Debug for ConfigOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigOverrides")
            .field("config_file", &self.config_file)
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("transport_plugin", &self.transport_plugin)
            .field("isolation", &self.isolation)
            .finish()
    }
}

impl ConfigOverrides {
    /// Reads this config file instead of `APIFY_HOST_CONFIG` or the default location.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Uses this API base URL.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Uses this API token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Runs the plugin in this process or in a confined worker process.
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// Uses the transport plugin at `path`.
    pub fn transport_plugin(mut self, path: impl Into<PathBuf>) -> Self {
        self.transport_plugin = Some(path.into());
        self
    }
}

/// The configuration resolved from overrides, environment and config file: everything needed
/// to build a client, and where each choice came from. `Debug` hides the token and every
/// credential in the API URL and the plugin options (see [`Config::redactor`]).
#[derive(Clone)]
pub struct Config {
    /// What the caller set, kept to read the same sources again on a transport reload.
    overrides: ConfigOverrides,
    loaded: LoadedConfig,
    api_url: String,
    api_public_url: Option<String>,
    token: Option<Token>,
    token_origin: &'static str,
    settings: HttpSettings,
    plugin: Option<PathBuf>,
    transport_origin: String,
    /// `[transport.canary]`, checked.
    canary: Option<CanaryChoice>,
    /// Where plugins run, and the worker program for `Process`.
    isolation: Isolation,
    worker: Option<PathBuf>,
    warnings: Vec<String>,
}

/// The canary a config names: its plugin (resolved against the config file's folder) and its
/// policy.
#[derive(Debug, Clone)]
struct CanaryChoice {
    plugin: PathBuf,
    policy: CanaryPolicy,
}

impl std::fmt::Debug for Config {
    // By hand: the derived form would print `[transport.options]` as written, proxy password
    // and all.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.redactor();
        f.debug_struct("Config")
            .field("source", &self.loaded.source)
            .field("api_url", &r.redact(&self.api_url))
            .field("api_public_url", &self.api_public_url)
            .field("token", &self.token)
            .field("token_origin", &self.token_origin)
            .field("settings", &self.settings)
            .field("plugin", &self.plugin)
            .field("transport_origin", &self.transport_origin)
            .field(
                "plugin_options",
                &r.redact(&self.plugin_options().to_string()),
            )
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Reads the config file and the environment, with `overrides` on top. Fails on an
    /// unreadable or invalid config file, an invalid `[http]` value, or an unreadable or empty
    /// token file; nothing is loaded or sent yet.
    pub fn load(overrides: &ConfigOverrides) -> Result<Self, Error> {
        let loaded = LoadedConfig::load(overrides.config_file.as_deref())?;
        let api_url = overrides
            .api_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .or_else(|| env_var("APIFY_API_BASE_URL"))
            .or_else(|| loaded.file.api_url.clone())
            .unwrap_or_else(|| crate::DEFAULT_API_URL.to_string());
        let api_public_url = env_var("APIFY_API_PUBLIC_BASE_URL")
            .or_else(|| loaded.file.api_public_url.clone())
            .filter(|u| !u.trim().is_empty());
        let (token, token_origin) = resolve_token(overrides, &loaded)?;
        let warnings = secret_file_warnings(token_origin, &loaded);
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let mut settings = loaded.file.http.settings()?;
        if let Some(secs) = loaded.file.transport.drain_timeout_secs {
            settings.drain_timeout = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(3600))
                .ok_or_else(|| {
                    Error::config(format!(
                        "invalid config: [transport] drain_timeout_secs = {secs} is not a \
                         number of seconds above 0 and at most 3600"
                    ))
                })?;
        }
        let (plugin, transport_origin) = if let Some(p) = &overrides.transport_plugin {
            (Some(p.clone()), "--transport-plugin".to_string())
        } else if let Some(p) = env_var("APIFY_TRANSPORT_PLUGIN") {
            (Some(p.into()), "APIFY_TRANSPORT_PLUGIN".to_string())
        } else if let Some(p) = config_plugin_path(&loaded) {
            let origin = format!("[transport] plugin in config file {}", loaded.source);
            (Some(p), origin)
        } else {
            let origin = format!(
                "default (no plugin configured; config file: {})",
                loaded.source
            );
            (None, origin)
        };
        let isolation = match (&overrides.isolation, env_var("APIFY_TRANSPORT_ISOLATION")) {
            (Some(i), _) => *i,
            (None, Some(v)) => v
                .trim()
                .parse()
                .map_err(|e| Error::config(format!("invalid APIFY_TRANSPORT_ISOLATION: {e}")))?,
            (None, None) => match &loaded.file.transport.isolation {
                Some(v) => v.parse().map_err(|e| {
                    Error::config(format!(
                        "invalid config: [transport] {e} (in {})",
                        loaded.source
                    ))
                })?,
                None => Isolation::default(),
            },
        };
        let worker = loaded
            .file
            .transport
            .worker
            .as_ref()
            .map(|w| relative_to_config(&loaded, w));
        let canary = match &loaded.file.transport.canary {
            None => None,
            Some(c) => {
                let mut policy = CanaryPolicy::new(c.share);
                policy.window = c.window.unwrap_or(policy.window);
                policy.max_failure_ratio = c.max_failure_ratio.unwrap_or(policy.max_failure_ratio);
                policy.check().map_err(|e| {
                    Error::config(format!(
                        "invalid config: [transport.canary] {e} (in {})",
                        loaded.source
                    ))
                })?;
                let plugin = relative_to_config(&loaded, &c.plugin);
                Some(CanaryChoice { plugin, policy })
            }
        };
        Ok(Config {
            canary,
            isolation,
            worker,
            overrides: overrides.clone(),
            api_url,
            api_public_url,
            token,
            token_origin,
            settings,
            plugin,
            transport_origin,
            loaded,
            warnings,
        })
    }

    /// Warnings about the configuration, also logged (`tracing` at warn level) when it loads:
    /// a config file holding the token, or the token file, that group or others can read (as
    /// ssh and gh warn about private keys and their hosts file).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A [`Redactor`] that knows this configuration's secrets: the token, and from
    /// `[transport.options]` the password of any URL (a proxy's) and the value of any option
    /// whose name says it is secret (`password`, `secret`, `token`). Use it on anything shown
    /// that may quote them (the CLI runs its log lines and error messages through it).
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::new().token(self.token.as_ref());
        collect_secrets(&self.plugin_options(), None, &mut r);
        collect_secrets(&self.canary_options(), None, &mut r);
        if let Some(password) = url_password(&self.api_url) {
            r.add_secret(password);
        }
        r
    }

    /// Where the config file came from.
    pub fn source(&self) -> &ConfigSource {
        &self.loaded.source
    }

    /// The default config file location, `<config dir>/apify-host/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        file::default_config_path()
    }

    /// The API base URL as configured (the builder drops a trailing `/` or `/v2`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The API URL public storage URLs are built on, if configured (`api_public_url` in the
    /// file, or `APIFY_API_PUBLIC_BASE_URL`); the client's default is `https://api.apify.com`.
    pub fn api_public_url(&self) -> Option<&str> {
        self.api_public_url.as_deref()
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Where the token came from (`--token`, `APIFY_TOKEN`, `config token`,
    /// `config token_file`, or `none`), never the token itself.
    pub fn token_origin(&self) -> &'static str {
        self.token_origin
    }

    /// The retry, timeout and compression settings from `[http]`.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The plugin the configuration selects, if any, and where that choice came from.
    pub fn transport_plugin(&self) -> (Option<&Path>, &str) {
        (self.plugin.as_deref(), &self.transport_origin)
    }
}

fn relative_to_config(config: &LoadedConfig, p: &Path) -> PathBuf {
    match config.source.path().and_then(Path::parent) {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

/// Override > `APIFY_TOKEN` > config `token` > config `token_file` (relative to the config
/// file's folder).
fn resolve_token(
    overrides: &ConfigOverrides,
    config: &LoadedConfig,
) -> Result<(Option<Token>, &'static str), Error> {
    if let Some(t) = overrides.token.clone().and_then(Token::non_empty) {
        return Ok((Some(t), "--token"));
    }
    if let Some(t) = env_var("APIFY_TOKEN").and_then(Token::non_empty) {
        return Ok((Some(t), "APIFY_TOKEN"));
    }
    if let Some(t) = config.file.token.clone().and_then(Token::non_empty) {
        return Ok((Some(t), "config token"));
    }
    let Some(file) = &config.file.token_file else {
        return Ok((None, "none"));
    };
    let path = relative_to_config(config, file);
    // Never echo the file's content: only its path and the OS error.
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::config(format!(
            "cannot read the token file {} (token_file in {}): {e}",
            path.display(),
            config.source
        ))
        .with_source(e)
    })?;
    match Token::non_empty(text) {
        Some(t) => Ok((Some(t), "config token_file")),
        None => Err(Error::config(format!(
            "the token file {} (token_file in {}) is empty",
            path.display(),
            config.source
        ))),
    }
}

/// The password of a URL (`http://user:pass@proxy:3128` → `pass`), as written and decoded.
fn url_password(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let password = url.password()?;
    Some(
        percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned(),
    )
    .filter(|p| !p.is_empty())
}

/// Adds the secrets of a plugin options value to `r`: URL passwords anywhere, and the whole
/// value of an option whose name says it is secret.
fn collect_secrets(value: &serde_json::Value, name: Option<&str>, r: &mut Redactor) {
    const SECRET_NAMES: [&str; 3] = ["password", "secret", "token"];
    match value {
        serde_json::Value::String(s) => {
            let secret_name = name.is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                SECRET_NAMES.iter().any(|s| n.contains(s))
            });
            if secret_name {
                r.add_secret(s);
            }
            if let Some(p) = url_password(s) {
                r.add_secret(p);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_secrets(v, name, r);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                collect_secrets(v, Some(k), r);
            }
        }
        _ => {}
    }
}

/// The warnings `ssh` and `gh` would give: a token in a file that group or others can read.
fn secret_file_warnings(token_origin: &str, config: &LoadedConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.file.token.is_some() {
        if let Some(path) = config.source.path() {
            warnings.extend(readable_by_others(
                path,
                "the config file, which holds a token,",
            ));
        }
    }
    if token_origin == "config token_file" {
        if let Some(file) = &config.file.token_file {
            let path = relative_to_config(config, file);
            warnings.extend(readable_by_others(&path, "the token file"));
        }
    }
    warnings
}

/// A warning if group or others may read `path` (`what` names it in the sentence).
#[cfg(unix)]
fn readable_by_others(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then(|| {
        format!(
            "{what} {} is readable by group or others (mode {mode:03o}): anyone on this machine \
             may read the token; run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path, _: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_secrets_are_collected() {
        let mut r = Redactor::new();
        let options = serde_json::json!({
            "proxy": "http://user:p%40ss@127.0.0.1:3128",
            "nested": {"api_token": "tok-1", "list": ["https://u:pw2@h"]},
            "pool_max_idle_per_host": 8,
            "ca_cert_file": "/etc/ca.pem",
        });
        collect_secrets(&options, None, &mut r);
        let out = r.redact("p@ss p%40ss tok-1 pw2 /etc/ca.pem 8");
        assert_eq!(out, "*** *** *** *** /etc/ca.pem 8");
    }

    #[test]
    fn the_drain_timeout_comes_from_the_transport_table_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let path = dir.path().join("config.toml");
            std::fs::write(&path, text).unwrap();
            Config::load(&ConfigOverrides::default().config_file(&path).token("t"))
        };
        let d = load("").unwrap().settings().drain_timeout;
        assert_eq!(d, Duration::from_secs(60));
        let c = load("[transport]\ndrain_timeout_secs = 2.5\n").unwrap();
        assert_eq!(c.settings().drain_timeout, Duration::from_millis(2500));
        for bad in ["0", "-1", "3601"] {
            let e = load(&format!("[transport]\ndrain_timeout_secs = {bad}\n")).unwrap_err();
            assert!(e.is_config(), "{e}");
            assert!(
                e.to_string().contains("[transport] drain_timeout_secs"),
                "{e}"
            );
        }
    }
}
