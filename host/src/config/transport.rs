//! The transports a config selects: the primary and the canary, loaded with the config's
//! checks, and read again on a reload (the sources behind `ApifyClient::reload_transport`).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use sha2::Digest;

use super::{relative_to_config, Config, ConfigOverrides, LoadedConfig};
use crate::{
    client::reload::{Fingerprints, LoadTransports, Reload, TransportSource},
    pipeline::{CanaryPolicy, CanaryTransport},
    transport::Isolation,
    transport::{
        inspect_plugin_lending, load_plugin, BuiltinTransport, HttpTransport, PluginInspectReport,
        PluginLoadError, PluginLoadOptions,
    },
    ApifyClient, ApifyClientBuilder, Error,
};

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
    /// Where the plugin runs: `in-process` (the built-in transport too) or `process`.
    pub isolation: Isolation,
    /// The worker serving an isolated plugin: its pid when loaded, and its confinement.
    pub worker: Option<WorkerSummary>,
}

/// The worker process of an isolated plugin, as `apify-host transport info` shows it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerSummary {
    /// Its pid when the transport was loaded (a restart gives a new one).
    pub pid: u32,
    /// What confinement applied, or why none did.
    pub confinement: String,
    /// The worker program.
    pub program: PathBuf,
}

impl std::fmt::Debug for TransportSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSelection")
            .field("description", &self.description)
            .field("source", &self.source)
            .finish()
    }
}

impl Config {
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
        let options = self.isolated(
            PluginLoadOptions::default().allow_insecure_permissions(t.allow_insecure_permissions),
        );
        match (&t.sha256, pinned) {
            (Some(pin), true) => options.sha256(pin.clone()),
            _ => options,
        }
    }

    /// `options` with the config's isolation and worker program.
    fn isolated(&self, options: PluginLoadOptions) -> PluginLoadOptions {
        let options = options.isolation(self.isolation);
        match &self.worker {
            Some(w) => options.worker(w.clone()),
            None => options,
        }
    }

    /// Where plugins run: `[transport] isolation`, `APIFY_TRANSPORT_ISOLATION`, or the
    /// override.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// `[transport.options]`, as the JSON object the plugin's constructor takes (or the
    /// built-in transport's, when no plugin is configured).
    pub fn plugin_options(&self) -> serde_json::Value {
        self.loaded.file.transport.options_json()
    }

    /// `[transport] hosted`: whether a plugin is lent the host's threads (default `true`: a
    /// hosted plugin runs on the host's runtime, a driven one's runtime is run by the host's
    /// threads), or runs on a runtime with threads of its own (`false`; for diagnosis, or for a
    /// plugin that misbehaves on the host's thread).
    pub fn plugin_hosted(&self) -> bool {
        self.loaded.file.transport.hosted.unwrap_or(true)
    }

    /// Makes `loaded`'s client with `options`, hosted or not as `[transport] hosted` says.
    pub fn new_plugin_client(
        &self,
        loaded: &crate::transport::plugin::LoadedPlugin,
        options: &serde_json::Value,
    ) -> Result<crate::transport::plugin::PluginTransport, PluginLoadError> {
        if self.plugin_hosted() {
            loaded.new_client(options)
        } else {
            loaded.new_client_on_own_runtime(options)
        }
    }

    /// Loads the selected transport: the plugin (every load check, then its constructor with
    /// `[transport.options]`), or the built-in transport.
    pub fn select_transport(&self) -> Result<TransportSelection, Error> {
        self.select_with_fingerprint()
            .map(|(selection, _)| selection)
    }

    /// [`Config::select_transport`], with the fingerprint of what it loaded (see
    /// [`Config::fingerprints`]), from the sha256 the loader computed anyway.
    fn select_with_fingerprint(&self) -> Result<(TransportSelection, String), Error> {
        let source = self.transport_origin.clone();
        let Some(path) = &self.plugin else {
            let transport =
                BuiltinTransport::with_options(&self.plugin_options()).map_err(|e| {
                    Error::config(format!(
                        "cannot set up the built-in transport from [transport.options]: {}; fix \
                     that option (the built-in transport takes the standard options: proxy, \
                     proxy_from_env, ca_cert_file, connect_timeout_ms, pool_max_idle_per_host, \
                     http2)",
                        self.redactor().redact(&e.message)
                    ))
                })?;
            let selection = TransportSelection {
                transport: Arc::new(transport),
                description: "built-in transport (hyper + rustls)".into(),
                source,
                isolation: Isolation::InProcess,
                worker: None,
            };
            return Ok((selection, self.primary_fingerprint(None)));
        };
        let load_options = self.plugin_load_options(path);
        let (selection, sha256) =
            self.load_selection(path, &load_options, &self.plugin_options(), source)?;
        Ok((selection, self.primary_fingerprint(Some(&sha256))))
    }

    /// The canary of `[transport.canary]`, if any: its plugin and its policy.
    pub fn canary(&self) -> Option<(&Path, &CanaryPolicy)> {
        self.canary
            .as_ref()
            .map(|c| (c.plugin.as_path(), &c.policy))
    }

    /// Loads the canary of `[transport.canary]`, if any (every load check, its `sha256` pin,
    /// then its constructor with `[transport.canary.options]`).
    pub fn select_canary(&self) -> Result<Option<(TransportSelection, CanaryPolicy)>, Error> {
        Ok(self
            .select_canary_with_fingerprint()?
            .map(|(selection, policy, _)| (selection, policy)))
    }

    fn select_canary_with_fingerprint(
        &self,
    ) -> Result<Option<(TransportSelection, CanaryPolicy, String)>, Error> {
        let Some(canary) = &self.canary else {
            return Ok(None);
        };
        let source = format!("[transport.canary] in config file {}", self.loaded.source);
        let (selection, sha256) = self
            .load_selection(
                &canary.plugin,
                &self.canary_load_options(),
                &self.canary_options(),
                source,
            )
            .map_err(|e| {
                e.with_context(
                    "this is the canary of [transport.canary]: fix it, or remove that table to \
                     run without a canary",
                )
            })?;
        let fingerprint = self.canary_fingerprint_of(&sha256);
        Ok(Some((selection, canary.policy.clone(), fingerprint)))
    }

    /// Loads the plugin at `path` and makes its client with `options`; also the sha256 the
    /// loader computed.
    fn load_selection(
        &self,
        path: &Path,
        load_options: &PluginLoadOptions,
        options: &serde_json::Value,
        source: String,
    ) -> Result<(TransportSelection, String), Error> {
        let redact = |e: PluginLoadError| {
            let r = self.redactor();
            let mut e = e;
            e.reason = r.redact(&e.reason);
            e.fix = r.redact(&e.fix);
            Error::from(e)
        };
        #[cfg(target_os = "linux")]
        if load_options.isolation == Isolation::Process {
            let isolated = crate::transport::IsolatedTransport::start(
                path,
                load_options,
                options,
                self.plugin_hosted(),
            )
            .map_err(redact)?;
            let m = isolated.plugin_info();
            let description = format!(
                "plugin {} {} (plugin API {}.{}) at {}, in a worker process",
                m.name,
                m.version,
                m.api_major,
                m.api_minor,
                isolated.path().display(),
            );
            let sha256 = isolated.sha256().to_string();
            let worker = WorkerSummary {
                pid: isolated.worker_pid().unwrap_or(0),
                confinement: isolated.confinement().to_string(),
                program: isolated.worker_program().to_path_buf(),
            };
            let selection = TransportSelection {
                transport: Arc::new(isolated),
                description,
                source,
                isolation: Isolation::Process,
                worker: Some(worker),
            };
            return Ok((selection, sha256));
        }
        let loaded = load_plugin(path, load_options).map_err(redact)?;
        let m = &loaded.metadata;
        let description = format!(
            "plugin {} {} (plugin API {}.{}) at {}",
            m.name,
            m.version,
            m.api_major,
            m.api_minor,
            loaded.path.display()
        );
        let transport = self.new_plugin_client(&loaded, options).map_err(redact)?;
        let selection = TransportSelection {
            transport: Arc::new(transport),
            description,
            source,
            isolation: Isolation::InProcess,
            worker: None,
        };
        Ok((selection, loaded.sha256.clone()))
    }

    /// The canary's load options: the config's permission setting, and its own pin.
    fn canary_load_options(&self) -> PluginLoadOptions {
        let t = &self.loaded.file.transport;
        let options = self.isolated(
            PluginLoadOptions::default().allow_insecure_permissions(t.allow_insecure_permissions),
        );
        match t.canary.as_ref().and_then(|c| c.sha256.clone()) {
            Some(pin) => options.sha256(pin),
            None => options,
        }
    }

    /// `[transport.canary.options]`, as the JSON object the canary's constructor takes.
    pub(crate) fn canary_options(&self) -> serde_json::Value {
        self.loaded
            .file
            .transport
            .canary
            .as_ref()
            .map_or_else(|| serde_json::json!({}), |c| c.options_json())
    }

    /// Runs every load check on `path` and the constructor with `[transport.options]`,
    /// without sending a request (`apify-host transport inspect`).
    /// The report's messages are redacted: a constructor refusing its options may quote them.
    pub fn inspect_plugin(&self, path: &Path) -> PluginInspectReport {
        self.inspect_plugin_with_options(path, &self.plugin_options())
    }

    /// [`Config::inspect_plugin`] with the constructor given `options` (a JSON object) instead
    /// of `[transport.options]` (`apify-host transport inspect --options`): the load checks,
    /// the pin and `[transport] hosted` are still the config's.
    pub fn inspect_plugin_with_options(
        &self,
        path: &Path,
        options: &serde_json::Value,
    ) -> PluginInspectReport {
        let mut report = inspect_plugin_lending(
            path,
            &self.plugin_load_options(path),
            options,
            self.plugin_hosted(),
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
        let (selection, primary) = self.select_with_fingerprint()?;
        let canary = self.select_canary_with_fingerprint()?;
        tracing::debug!(
            transport = %selection.description,
            source = %selection.source,
            api_url = %self.redactor().redact(&self.api_url),
            token = self.token_origin,
            "client configuration"
        );
        let fingerprints = Fingerprints {
            primary,
            canary: canary.as_ref().map(|(_, _, f)| f.clone()),
        };
        let reload = Reload::new(
            Box::new(ConfigReload {
                overrides: self.overrides.clone(),
            }),
            fingerprints,
        );
        let mut builder = ApifyClient::builder()
            .api_url(self.api_url.clone())
            .reload_from(reload);
        if let Some(public) = &self.api_public_url {
            builder = builder.api_public_url(public.clone());
        }
        if let Some((canary, policy, _)) = canary {
            tracing::debug!(
                canary = %canary.description,
                share = policy.share,
                "canary transport"
            );
            builder = builder.canary(canary.transport, policy);
        }
        Ok(builder
            .settings(self.settings.clone())
            .token_value(self.token.clone())
            .transport(selection.transport))
    }
}

impl Config {
    /// What identifies the transports this config selects: each changes whenever its
    /// transport would (the plugin's path and the sha256 of its bytes, the pin, the load
    /// permissions, the options; for the canary, its policy too). Never shown: the options
    /// may hold secrets.
    ///
    /// Reads the plugin files to hash them: a reload decides from this whether to load at all.
    fn fingerprints(&self) -> Result<Fingerprints, Error> {
        let primary = match &self.plugin {
            None => self.primary_fingerprint(None),
            Some(path) => {
                self.primary_fingerprint(Some(&file_sha256(path, &self.transport_origin)?))
            }
        };
        let canary = match &self.canary {
            None => None,
            Some(c) => {
                let origin = format!("[transport.canary] in config file {}", self.loaded.source);
                Some(self.canary_fingerprint_of(&file_sha256(&c.plugin, &origin)?))
            }
        };
        Ok(Fingerprints { primary, canary })
    }

    /// The fingerprint of the primary, given the plugin file's sha256 (hex).
    fn primary_fingerprint(&self, sha256: Option<&str>) -> String {
        let (Some(path), Some(sha256)) = (&self.plugin, sha256) else {
            return format!("builtin options {}", self.plugin_options());
        };
        let t = &self.loaded.file.transport;
        format!(
            "plugin {} sha256 {sha256} pin {:?} insecure {} hosted {} isolation {} worker {:?} \
             options {}",
            path.display(),
            t.sha256,
            t.allow_insecure_permissions,
            self.plugin_hosted(),
            self.isolation.as_str(),
            self.worker,
            self.plugin_options()
        )
    }

    /// The fingerprint of the canary, given its plugin file's sha256 (hex).
    fn canary_fingerprint_of(&self, sha256: &str) -> String {
        let t = &self.loaded.file.transport;
        let (Some(c), Some(file)) = (&self.canary, &t.canary) else {
            return String::new();
        };
        format!(
            "canary {} sha256 {sha256} pin {:?} insecure {} hosted {} isolation {} worker {:?} \
             options {} policy {:?}",
            c.plugin.display(),
            file.sha256,
            t.allow_insecure_permissions,
            self.plugin_hosted(),
            self.isolation.as_str(),
            self.worker,
            self.canary_options(),
            c.policy
        )
    }
}

/// The sha256 (hex) of the plugin file at `path`, chosen by `origin`.
fn file_sha256(path: &Path, origin: &str) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::config(format!(
            "cannot read the transport plugin {}: {e}; check the path ({origin})",
            path.display(),
        ))
    })?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// The config file and the environment, read again on each transport reload.
struct ConfigReload {
    overrides: ConfigOverrides,
}

impl TransportSource for ConfigReload {
    fn read(&self) -> Result<(Fingerprints, Box<dyn LoadTransports>), Error> {
        let config = Config::load(&self.overrides)?;
        let fingerprints = config.fingerprints()?;
        Ok((fingerprints, Box::new(config)))
    }
}

impl LoadTransports for Config {
    fn primary(&self) -> Result<Arc<dyn HttpTransport>, Error> {
        let selection = self.select_transport()?;
        tracing::info!(
            transport = %selection.description,
            source = %selection.source,
            "transport reloaded from the config"
        );
        Ok(selection.transport)
    }

    fn canary(&self) -> Result<Option<CanaryTransport>, Error> {
        let canary = self.select_canary()?;
        if let Some((selection, policy)) = &canary {
            tracing::info!(
                canary = %selection.description,
                share = policy.share,
                "canary transport reloaded from the config"
            );
        }
        Ok(canary.map(|(s, policy)| (s.transport, policy)))
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
pub(super) fn config_plugin_path(config: &LoadedConfig) -> Option<PathBuf> {
    let p = config.file.transport.plugin.as_ref()?;
    Some(relative_to_config(config, p))
}
