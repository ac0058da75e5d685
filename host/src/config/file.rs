//! The config file: its TOML model, where it is found, and how it is parsed.
//!
//! The file is found by an explicit path (`--config`), then `APIFY_HOST_CONFIG`, then
//! `<platform config dir>/apify-host/config.toml` if it exists. Unknown keys are errors that
//! name the key and line: a typo must never silently fall back to a default.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::{http::HttpSettings, Error};

/// The config file, as written. Its `Debug` never shows the token.
#[derive(Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// API base URL, e.g. `https://api.apify.com`.
    pub api_url: Option<String>,
    /// The API token. Prefer `APIFY_TOKEN` or `token_file` over writing it here.
    pub token: Option<String>,
    /// A file whose content is the API token.
    pub token_file: Option<PathBuf>,
    /// Pipeline settings.
    #[serde(default)]
    pub http: HttpConfig,
    /// Transport selection.
    #[serde(default)]
    pub transport: TransportConfig,
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_file", &self.token_file)
            .field("http", &self.http)
            .field("transport", &self.transport)
            .finish()
    }
}

/// `[http]`: retries, timeouts, compression.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// Retries after the first attempt (default 4).
    pub max_retries: Option<u32>,
    /// Backoff base in milliseconds (default 500).
    pub min_delay_between_retries_ms: Option<u64>,
    /// Short timeout tier in seconds (default 5).
    pub timeout_short_secs: Option<f64>,
    /// Medium timeout tier in seconds (default 30).
    pub timeout_medium_secs: Option<f64>,
    /// Long timeout tier in seconds (default 360).
    pub timeout_long_secs: Option<f64>,
    /// Cap of per-attempt timeouts and `Retry-After` in seconds (default 360).
    pub timeout_max_secs: Option<f64>,
    /// Gzip request bodies of 1024 bytes or more (default true).
    pub compress_requests: Option<bool>,
}

impl HttpConfig {
    /// The pipeline settings, defaults filled in.
    pub(crate) fn settings(&self) -> Result<HttpSettings, Error> {
        let d = HttpSettings::default();
        let secs = |v: Option<f64>, key: &str, def: Duration| -> Result<Duration, Error> {
            match v {
                None => Ok(def),
                Some(s) if s > 0.0 && Duration::try_from_secs_f64(s).is_ok() => {
                    Ok(Duration::from_secs_f64(s))
                }
                Some(s) => Err(Error::config(format!(
                    "invalid config: [http] {key} = {s} is not a positive number of seconds \
                     (at most about 10^19)"
                ))),
            }
        };
        Ok(HttpSettings {
            max_retries: self.max_retries.unwrap_or(d.max_retries),
            min_delay_between_retries: match self.min_delay_between_retries_ms {
                None => d.min_delay_between_retries,
                // The backoff doubles per attempt: beyond 10 minutes a run would wait for hours.
                Some(ms) if ms > 600_000 => {
                    return Err(Error::config(format!(
                        "invalid config: [http] min_delay_between_retries_ms = {ms} is more \
                         than 600000 (10 minutes)"
                    )))
                }
                Some(ms) => Duration::from_millis(ms),
            },
            timeout_short: secs(
                self.timeout_short_secs,
                "timeout_short_secs",
                d.timeout_short,
            )?,
            timeout_medium: secs(
                self.timeout_medium_secs,
                "timeout_medium_secs",
                d.timeout_medium,
            )?,
            timeout_long: secs(self.timeout_long_secs, "timeout_long_secs", d.timeout_long)?,
            timeout_max: secs(self.timeout_max_secs, "timeout_max_secs", d.timeout_max)?,
            compress_requests: self.compress_requests.unwrap_or(d.compress_requests),
        })
    }
}

/// `[transport]`: which transport performs the HTTP exchanges.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransportConfig {
    /// Path of a transport plugin (`.so`); absent = the built-in transport.
    pub plugin: Option<PathBuf>,
    /// Optional sha256 pin (hex) of the plugin file, checked before loading it.
    pub sha256: Option<String>,
    /// Load a plugin even if group/others can write it or a stranger owns it.
    #[serde(default)]
    pub allow_insecure_permissions: bool,
    /// Options passed to the plugin's constructor as a JSON object.
    #[serde(default)]
    pub options: toml::Table,
}

impl TransportConfig {
    /// The options as a JSON object.
    pub(crate) fn options_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// Where the config file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// `--config PATH`.
    Flag(PathBuf),
    /// `APIFY_HOST_CONFIG`.
    Env(PathBuf),
    /// The platform config directory.
    Default(PathBuf),
    /// No file: defaults only.
    None,
}

impl ConfigSource {
    /// The file path, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Flag(p) | ConfigSource::Env(p) | ConfigSource::Default(p) => Some(p),
            ConfigSource::None => None,
        }
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Flag(p) => write!(f, "{} (from --config)", p.display()),
            ConfigSource::Env(p) => write!(f, "{} (from APIFY_HOST_CONFIG)", p.display()),
            ConfigSource::Default(p) => write!(f, "{} (default location)", p.display()),
            ConfigSource::None => f.write_str("none (defaults)"),
        }
    }
}

/// A parsed config file with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LoadedConfig {
    /// The file's content (defaults when there is no file).
    pub file: ConfigFile,
    /// Where it came from.
    pub source: ConfigSource,
}

/// The default config file location, `<config dir>/apify-host/config.toml`.
pub(crate) fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("apify-host").join("config.toml"))
}

impl LoadedConfig {
    /// Finds and parses the config file: `explicit` (from `--config`), then
    /// `APIFY_HOST_CONFIG`, then the default location if it exists.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Self, Error> {
        let source = if let Some(p) = explicit {
            ConfigSource::Flag(p.to_path_buf())
        } else if let Some(p) = std::env::var_os("APIFY_HOST_CONFIG").filter(|p| !p.is_empty()) {
            ConfigSource::Env(PathBuf::from(p))
        } else {
            match default_config_path() {
                Some(p) if p.is_file() => ConfigSource::Default(p),
                _ => ConfigSource::None,
            }
        };
        let file = match source.path() {
            Some(path) => Self::parse_file(path)?,
            None => ConfigFile::default(),
        };
        Ok(LoadedConfig { file, source })
    }

    /// Parses one file.
    fn parse_file(path: &Path) -> Result<ConfigFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        Self::parse_str(&text).map_err(|message| {
            Error::config(format!(
                "the config file {} is invalid: {message}",
                path.display()
            ))
        })
    }

    /// Parses config text; the error message names the key and the line.
    fn parse_str(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e| {
            let mut msg = e.message().to_string();
            if let Some(span) = e.span() {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                // The key, never the value: a misspelled key may sit next to a token.
                let line_text = text.lines().nth(line - 1).unwrap_or("");
                let (shown, message) = crate::redact::config_line(line_text, &msg);
                msg = format!("line {line} (`{shown}`): {message}");
            }
            msg
        })
    }
}
