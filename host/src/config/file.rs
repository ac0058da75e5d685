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

use crate::{pipeline::HttpSettings, Error};

/// The config file, as written. Its `Debug` never shows the token.
#[derive(Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// API base URL, e.g. `https://api.apify.com`.
    pub api_url: Option<String>,
    /// The globally reachable API URL that public (signed) storage URLs are built on, when
    /// `api_url` is an internal one (default `https://api.apify.com`).
    pub api_public_url: Option<String>,
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
            .field("api_public_url", &self.api_public_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_file", &self.token_file)
            .field("http", &self.http)
            .field("transport", &self.transport)
            .finish()
    }
}

/// `[http]`: retries, backoff, timeouts, body limits, compression. Every value is checked
/// against its range (see [`HttpSettings`]), and an error names the key.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// Retries after the first attempt (default 4, at most 20).
    pub max_retries: Option<u32>,
    /// Backoff base in milliseconds (default 500, at most 600000).
    pub min_delay_between_retries_ms: Option<u64>,
    /// Cap of one backoff sleep in seconds (default 60, at most 3600).
    pub max_backoff_secs: Option<f64>,
    /// Short timeout tier in seconds (default 5).
    pub timeout_short_secs: Option<f64>,
    /// Medium timeout tier in seconds (default 30).
    pub timeout_medium_secs: Option<f64>,
    /// Long timeout tier in seconds (default 360).
    pub timeout_long_secs: Option<f64>,
    /// Cap of per-attempt timeouts and `Retry-After` in seconds (default 360).
    pub timeout_max_secs: Option<f64>,
    /// The longest silence between two chunks of a streamed body, in seconds (default 60, at
    /// most 3600).
    pub stream_idle_timeout_secs: Option<f64>,
    /// The largest body read into memory, in bytes (default 268435456 = 256 MiB; from 65536
    /// to 4294967296).
    pub max_body_bytes: Option<u64>,
    /// Streamed bodies announced at most this many bytes long are read whole inside the retry
    /// loop (default 1048576; at most `max_body_bytes`).
    pub read_whole_below_bytes: Option<u64>,
    /// Resumes (`Range: bytes=N-`) of one broken streamed download (default 5, at most 100).
    pub max_resumes: Option<u32>,
    /// Gzip request bodies of 1024 bytes or more (default true).
    pub compress_requests: Option<bool>,
}

/// The config key of each [`HttpSettings`] field, for errors that name what the user wrote.
const KEYS: [(&str, &str); 12] = [
    ("max_retries", "max_retries"),
    ("min_delay_between_retries", "min_delay_between_retries_ms"),
    ("max_backoff", "max_backoff_secs"),
    ("timeout_short", "timeout_short_secs"),
    ("timeout_medium", "timeout_medium_secs"),
    ("timeout_long", "timeout_long_secs"),
    ("timeout_max", "timeout_max_secs"),
    ("stream_idle_timeout", "stream_idle_timeout_secs"),
    ("max_body_bytes", "max_body_bytes"),
    ("read_whole_below", "read_whole_below_bytes"),
    ("max_resumes", "max_resumes"),
    ("compress_requests", "compress_requests"),
];

impl HttpConfig {
    /// The pipeline settings, defaults filled in, each checked against its range.
    pub(crate) fn settings(&self) -> Result<HttpSettings, Error> {
        let d = HttpSettings::default();
        let secs = |v: Option<f64>, key: &str, def: Duration| -> Result<Duration, Error> {
            match v {
                None => Ok(def),
                Some(s) if s > 0.0 && Duration::try_from_secs_f64(s).is_ok() => {
                    Ok(Duration::from_secs_f64(s))
                }
                Some(s) => Err(Error::config(format!(
                    "invalid config: [http] {key} = {s} is not a positive number of seconds"
                ))),
            }
        };
        let mut s = d.clone();
        s.max_retries = self.max_retries.unwrap_or(d.max_retries);
        s.min_delay_between_retries = self
            .min_delay_between_retries_ms
            .map_or(d.min_delay_between_retries, Duration::from_millis);
        s.max_backoff = secs(self.max_backoff_secs, "max_backoff_secs", d.max_backoff)?;
        s.timeout_short = secs(
            self.timeout_short_secs,
            "timeout_short_secs",
            d.timeout_short,
        )?;
        s.timeout_medium = secs(
            self.timeout_medium_secs,
            "timeout_medium_secs",
            d.timeout_medium,
        )?;
        s.timeout_long = secs(self.timeout_long_secs, "timeout_long_secs", d.timeout_long)?;
        s.timeout_max = secs(self.timeout_max_secs, "timeout_max_secs", d.timeout_max)?;
        s.stream_idle_timeout = secs(
            self.stream_idle_timeout_secs,
            "stream_idle_timeout_secs",
            d.stream_idle_timeout,
        )?;
        s.max_body_bytes = self.max_body_bytes.unwrap_or(d.max_body_bytes);
        // The default threshold never exceeds a smaller cap the user chose.
        s.read_whole_below = self
            .read_whole_below_bytes
            .unwrap_or(d.read_whole_below.min(s.max_body_bytes));
        s.max_resumes = self.max_resumes.unwrap_or(d.max_resumes);
        s.compress_requests = self.compress_requests.unwrap_or(d.compress_requests);
        s.check().map_err(|invalid| {
            let key = KEYS
                .iter()
                .find(|(field, _)| *field == invalid.field)
                .map_or(invalid.field, |(_, key)| key);
            Error::config(format!(
                "invalid config: [http] {key}: {} (defaults and ranges: README, Configuration)",
                invalid.reason
            ))
        })?;
        Ok(s)
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
    /// After a swap or reload, how long the old transport may finish its exchanges, in
    /// seconds (default 60, at most 3600).
    pub drain_timeout_secs: Option<f64>,
    /// Lend a plugin the host's threads (the default): a hosted plugin runs on the host's
    /// runtime, a driven one's runtime is run by the host's threads. `false` runs either on a
    /// runtime with threads of its own, as a host before interface 1.3 (hosted) or 1.5
    /// (driven) did (the canary too).
    pub hosted: Option<bool>,
    /// `[transport.canary]`: a second transport taking a share of the calls.
    pub canary: Option<CanaryConfig>,
    /// Where a plugin runs: `"in-process"` (default) or `"process"` (a confined worker; the
    /// canary too).
    pub isolation: Option<String>,
    /// The worker program for `isolation = "process"`; relative paths resolve against the
    /// config file's folder.
    pub worker: Option<PathBuf>,
}

/// `[transport.canary]`: a plugin that serves a share of the calls beside the primary, and is
/// rolled back by itself when it fails where the primary does not.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanaryConfig {
    /// Path of the canary plugin (`.so`), relative to the config file's folder.
    pub plugin: PathBuf,
    /// Optional sha256 pin (hex) of the canary plugin file.
    pub sha256: Option<String>,
    /// The share of calls it takes, 0 to 1.
    pub share: f64,
    /// How many of its latest exchanges the failure ratio is taken over.
    pub window: Option<u32>,
    /// The failure ratio above which it is rolled back.
    pub max_failure_ratio: Option<f64>,
    /// Options passed to the canary plugin's constructor as a JSON object.
    #[serde(default)]
    pub options: toml::Table,
}

impl CanaryConfig {
    /// The options as a JSON object.
    pub(crate) fn options_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_else(|_| serde_json::json!({}))
    }
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
            .with_source(e)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn http(text: &str) -> Result<HttpSettings, String> {
        let file = LoadedConfig::parse_str(&format!("[http]\n{text}\n"))?;
        file.http.settings().map_err(|e| e.to_string())
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (line, key) in [
            ("max_retries = 21", "max_retries"),
            (
                "min_delay_between_retries_ms = 600001",
                "min_delay_between_retries_ms",
            ),
            ("max_backoff_secs = 3601", "max_backoff_secs"),
            ("max_backoff_secs = 0", "max_backoff_secs"),
            ("stream_idle_timeout_secs = -1", "stream_idle_timeout_secs"),
            ("timeout_short_secs = 86401", "timeout_short_secs"),
            ("max_body_bytes = 100", "max_body_bytes"),
            ("max_body_bytes = 5000000000", "max_body_bytes"),
            (
                "read_whole_below_bytes = 300000000",
                "read_whole_below_bytes",
            ),
            ("max_resumes = 101", "max_resumes"),
        ] {
            let e = http(line).unwrap_err();
            assert!(e.contains(&format!("[http] {key}")), "{line}: {e}");
        }
        let s = http(
            "max_retries = 20\nmax_backoff_secs = 2.5\nstream_idle_timeout_secs = 10\n\
             max_body_bytes = 65536\nmax_resumes = 0",
        )
        .unwrap();
        assert_eq!(s.max_retries, 20);
        assert_eq!(s.max_backoff, Duration::from_millis(2500));
        assert_eq!(s.stream_idle_timeout, Duration::from_secs(10));
        // The default threshold shrinks to a smaller cap instead of making it invalid.
        assert_eq!((s.max_body_bytes, s.read_whole_below), (65536, 65536));
        assert_eq!(http("").unwrap(), HttpSettings::default());
    }

    proptest! {
        /// Any integer for any numeric key gives settings within range or an error naming the
        /// key; never a panic, never an out-of-range setting.
        #[test]
        fn any_value_is_in_range_or_named(
            key in proptest::sample::select(vec![
                "max_retries", "min_delay_between_retries_ms", "max_backoff_secs",
                "timeout_short_secs", "timeout_max_secs", "stream_idle_timeout_secs",
                "max_body_bytes", "read_whole_below_bytes", "max_resumes",
            ]),
            value in prop_oneof![0i64..100, 0i64..10_000_000, any::<i64>()],
        ) {
            match http(&format!("{key} = {value}")) {
                Ok(s) => prop_assert!(s.check().is_ok()),
                Err(e) => prop_assert!(e.contains(key), "{key} = {value}: {e}"),
            }
        }

        /// Arbitrary text in `[http]` is refused or accepted, never a panic, and an error never
        /// echoes a line that mentions a token.
        #[test]
        fn arbitrary_http_tables_never_panic(text in "[a-z_ =0-9.\"\n-]{0,80}") {
            let _ = http(&text);
        }
    }
}
