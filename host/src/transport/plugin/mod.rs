//! Plugin transports: the safe loader and the adapter from the FFI client.

mod adapter;
mod elf;
// The sealed copy needs memfd_create and file seals, which only Linux has; elsewhere the loader
// refuses to load plugins (see `loader::check_copy`).
#[cfg(target_os = "linux")]
mod image;
#[cfg(not(target_os = "linux"))]
#[path = "image_unsupported.rs"]
mod image;
mod loader;

use std::{fmt, path::Path};

pub use adapter::PluginTransport;
pub use loader::{
    load_plugin, LoadedPlugin, PluginCheck, PluginInfo, PluginLoadError, PluginLoadFailure,
    PluginLoadOptions,
};

/// What `apify-host transport inspect PATH` prints: each check, then the metadata.
#[derive(Debug)]
#[non_exhaustive]
pub struct PluginInspectReport {
    /// The path inspected.
    pub path: std::path::PathBuf,
    /// Each check in order, up to the first failure.
    pub checks: Vec<PluginCheck>,
    /// The metadata, if the checks passed.
    pub plugin: Option<LoadedPlugin>,
    /// The constructor's result with the configured options, if the checks passed.
    pub constructor: Option<Result<(), PluginLoadError>>,
}

impl PluginInspectReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.result.is_ok()) && matches!(self.constructor, Some(Ok(())))
    }
}

/// Runs every load check on `path`, then the constructor with `plugin_options` (the
/// `[transport.options]` table as JSON), without sending a request.
pub fn inspect_plugin(
    path: &Path,
    options: &PluginLoadOptions,
    plugin_options: &serde_json::Value,
) -> PluginInspectReport {
    let (checks, plugin) = loader::run_all_checks(path, options);
    let constructor = plugin
        .as_ref()
        .map(|p| p.new_client(plugin_options).map(|_| ()));
    PluginInspectReport {
        path: path.to_path_buf(),
        checks,
        plugin,
        constructor,
    }
}

impl fmt::Display for PluginInspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plugin: {}", self.path.display())?;
        for c in &self.checks {
            match &c.result {
                Ok(detail) => writeln!(f, "  ok    {:<12} {detail}", c.check)?,
                Err(e) => writeln!(f, "  FAIL  {:<12} {}. {}", c.check, e.reason, e.fix)?,
            }
        }
        if let Some(ctor) = &self.constructor {
            match ctor {
                Ok(()) => writeln!(
                    f,
                    "  ok    {:<12} client created with the configured options",
                    "constructor"
                )?,
                Err(e) => writeln!(f, "  FAIL  {:<12} {}. {}", "constructor", e.reason, e.fix)?,
            }
        }
        if let Some(p) = &self.plugin {
            let m = &p.metadata;
            writeln!(f, "name:         {}", m.name)?;
            writeln!(f, "version:      {}", m.version)?;
            writeln!(f, "description:  {}", m.description)?;
            writeln!(f, "plugin API:   {}.{}", m.api_major, m.api_minor)?;
            writeln!(f, "capabilities: {}", m.capabilities.names().join(", "))?;
            writeln!(f, "sha256:       {}", p.sha256)?;
            match &m.diagnostics {
                Some(d) => writeln!(f, "diagnostics:  {d}")?,
                None => writeln!(
                    f,
                    "diagnostics:  not provided (plugin built against API {}.{})",
                    m.api_major, m.api_minor
                )?,
            }
        }
        Ok(())
    }
}
