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
//! [`ApifyClientBuilder`] and the plugin loader take.

mod file;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

pub use file::ConfigSource;
use file::LoadedConfig;

use sha2::Digest;

use crate::{
    client::reload::{LoadTransport, Reload, TransportSource},
    pipeline::HttpSettings,
    redact::Redactor,
    token::Token,
    transport::{
        inspect_plugin, load_plugin, BuiltinTransport, HttpTransport, PluginInspectReport,
        PluginLoadError, PluginLoadOptions,
    },
    ApifyClient, ApifyClientBuilder, Error,
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
}

impl std::fmt::Debug for ConfigOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigOverrides")
            .field("config_file", &self.config_file)
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("transport_plugin", &self.transport_plugin)
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
    warnings: Vec<String>,
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

/// The transport a [`Config`] selects, loaded and ready, with what it is and where the choice
/// came from.
#[non_exhaustive]
pub struct TransportSelection {
    /// The transport.
    pub transport: Arc<dyn HttpTransport>,
    /// What it is, e.g. `plugin reqwest 0.1.0 (plugin API 1.1) at /opt/...so`.
    pub description: String,
    /// Where the choice came from, e.g. `APIFY_TRANSPORT_PLUGIN`.
    pub source: String,
}

impl std::fmt::Debug for TransportSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSelection")
            .field("description", &self.description)
            .field("source", &self.source)
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
        Ok(Config {
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

    /// The load options for the plugin at `path`: the config's permission setting always
    /// applies; its `sha256` pin only to the file the config names (a pin is about one file,
    /// so a plugin chosen by `--transport-plugin` or `APIFY_TRANSPORT_PLUGIN` is not held to
    /// another file's hash).
    pub fn plugin_load_options(&self, path: &Path) -> PluginLoadOptions {
        let t = &self.loaded.file.transport;
        let same_file =
            |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => a == b,
            };
        let pinned = config_plugin_path(&self.loaded).is_some_and(|c| same_file(&c, path));
        let options =
            PluginLoadOptions::default().allow_insecure_permissions(t.allow_insecure_permissions);
        match (&t.sha256, pinned) {
            (Some(pin), true) => options.sha256(pin.clone()),
            _ => options,
        }
    }

    /// `[transport.options]`, as the JSON object the plugin's constructor takes.
    pub fn plugin_options(&self) -> serde_json::Value {
        self.loaded.file.transport.options_json()
    }

    /// Loads the selected transport: the plugin (every load check, then its constructor with
    /// `[transport.options]`), or the built-in transport.
    pub fn select_transport(&self) -> Result<TransportSelection, Error> {
        self.select_with_fingerprint()
            .map(|(selection, _)| selection)
    }

    /// [`Config::select_transport`], with the fingerprint of what it loaded (see
    /// [`Config::transport_fingerprint`]), from the sha256 the loader computed anyway.
    fn select_with_fingerprint(&self) -> Result<(TransportSelection, String), Error> {
        let source = self.transport_origin.clone();
        let Some(path) = &self.plugin else {
            let transport = BuiltinTransport::new().map_err(|e| {
                Error::config(format!(
                    "cannot set up the built-in transport: {}",
                    e.message
                ))
            })?;
            let selection = TransportSelection {
                transport: Arc::new(transport),
                description: "built-in transport (hyper + rustls)".into(),
                source,
            };
            return Ok((selection, self.fingerprint_of(None)));
        };
        let redact = |e: PluginLoadError| {
            let r = self.redactor();
            let mut e = e;
            e.reason = r.redact(&e.reason);
            e.fix = r.redact(&e.fix);
            Error::from(e)
        };
        let loaded = load_plugin(path, &self.plugin_load_options(path)).map_err(redact)?;
        let m = &loaded.metadata;
        let description = format!(
            "plugin {} {} (plugin API {}.{}) at {}",
            m.name,
            m.version,
            m.api_major,
            m.api_minor,
            loaded.path.display()
        );
        let transport = loaded.new_client(&self.plugin_options()).map_err(redact)?;
        let selection = TransportSelection {
            transport: Arc::new(transport),
            description,
            source,
        };
        Ok((selection, self.fingerprint_of(Some(&loaded.sha256))))
    }

    /// Runs every load check on `path` and the constructor with `[transport.options]`,
    /// without sending a request (`apify-host transport inspect`).
    /// The report's messages are redacted: a constructor refusing its options may quote them.
    pub fn inspect_plugin(&self, path: &Path) -> PluginInspectReport {
        let mut report = inspect_plugin(
            path,
            &self.plugin_load_options(path),
            &self.plugin_options(),
        );
        let r = self.redactor();
        let failures = report
            .checks
            .iter_mut()
            .filter_map(|c| c.result.as_mut().err())
            .chain(
                report
                    .constructor
                    .iter_mut()
                    .filter_map(|c| c.as_mut().err()),
            );
        for e in failures {
            e.reason = r.redact(&e.reason);
            e.fix = r.redact(&e.fix);
        }
        report
    }

    /// A client builder with this configuration, its transport loaded.
    pub fn client_builder(&self) -> Result<ApifyClientBuilder, Error> {
        let (selection, fingerprint) = self.select_with_fingerprint()?;
        tracing::debug!(
            transport = %selection.description,
            source = %selection.source,
            api_url = %self.redactor().redact(&self.api_url),
            token = self.token_origin,
            "client configuration"
        );
        let reload = Reload::new(
            Box::new(ConfigReload {
                overrides: self.overrides.clone(),
            }),
            fingerprint,
        );
        let mut builder = ApifyClient::builder()
            .api_url(self.api_url.clone())
            .reload_from(reload);
        if let Some(public) = &self.api_public_url {
            builder = builder.api_public_url(public.clone());
        }
        Ok(builder
            .settings(self.settings.clone())
            .token_value(self.token.clone())
            .transport(selection.transport))
    }
}

impl Config {
    /// What identifies the transport this config selects: it changes whenever the transport
    /// would (the plugin's path and the sha256 of its bytes, the pin, the load permissions,
    /// the options). Never shown: the options may hold secrets.
    ///
    /// Reads the plugin file to hash it: a reload decides from this whether to load at all.
    fn transport_fingerprint(&self) -> Result<String, Error> {
        let Some(path) = &self.plugin else {
            return Ok(self.fingerprint_of(None));
        };
        let bytes = std::fs::read(path).map_err(|e| {
            Error::config(format!(
                "cannot read the transport plugin {}: {e}; check the path ({})",
                path.display(),
                self.transport_origin
            ))
        })?;
        Ok(self.fingerprint_of(Some(&hex::encode(sha2::Sha256::digest(&bytes)))))
    }

    /// The fingerprint of this config's transport, given the plugin file's sha256 (hex).
    fn fingerprint_of(&self, sha256: Option<&str>) -> String {
        let (Some(path), Some(sha256)) = (&self.plugin, sha256) else {
            return "builtin".to_string();
        };
        let t = &self.loaded.file.transport;
        format!(
            "plugin {} sha256 {sha256} pin {:?} insecure {} options {}",
            path.display(),
            t.sha256,
            t.allow_insecure_permissions,
            self.plugin_options()
        )
    }
}

/// The config file and the environment, read again on each transport reload.
struct ConfigReload {
    overrides: ConfigOverrides,
}

impl TransportSource for ConfigReload {
    fn select(&self) -> Result<(String, LoadTransport), Error> {
        let config = Config::load(&self.overrides)?;
        let fingerprint = config.transport_fingerprint()?;
        let load: LoadTransport = Box::new(move || {
            let selection = config.select_transport()?;
            tracing::info!(
                transport = %selection.description,
                source = %selection.source,
                "transport reloaded from the config"
            );
            Ok(selection.transport)
        });
        Ok((fingerprint, load))
    }
}

impl ApifyClientBuilder {
    /// A builder configured from the environment and the config file it names
    /// (`APIFY_HOST_CONFIG`, else the default location): token, API URL, `[http]` settings and
    /// the transport, so ops can swap the transport of a deployed program by config alone.
    pub fn from_env() -> Result<Self, Error> {
        Config::load(&ConfigOverrides::default())?.client_builder()
    }

    /// Like [`ApifyClientBuilder::from_env`], reading the config file at `path`.
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self, Error> {
        let overrides = ConfigOverrides::default().config_file(path.as_ref());
        Config::load(&overrides)?.client_builder()
    }
}

impl ApifyClient {
    /// A client configured from the environment and the config file (see
    /// [`ApifyClientBuilder::from_env`]).
    pub fn from_env() -> Result<Self, Error> {
        ApifyClientBuilder::from_env()?.build()
    }
}

/// `[transport] plugin`, resolved against the config file's folder when relative (like
/// `token_file`), so the config means the same file whatever the working directory.
fn config_plugin_path(config: &LoadedConfig) -> Option<PathBuf> {
    let p = config.file.transport.plugin.as_ref()?;
    Some(relative_to_config(config, p))
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
