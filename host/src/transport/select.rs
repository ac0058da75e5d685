//! Which transport the configuration selects, and from where.
//!
//! Precedence: `--transport-plugin`, then `APIFY_TRANSPORT_PLUGIN`, then `[transport] plugin`
//! in the config file; none of them = the built-in transport.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{
    builtin::BuiltinTransport,
    plugin::{self, LoadOptions},
    HttpTransport,
};
use crate::{config::LoadedConfig, Error};

/// The selected transport with a description of what and where from.
pub struct Selection {
    /// The transport, ready to use.
    pub transport: Arc<dyn HttpTransport>,
    /// What it is, e.g. `plugin reqwest 0.1.0 (API 1.1) at /opt/...so`.
    pub description: String,
    /// Where the choice came from, e.g. `--transport-plugin` or `config file /etc/...`.
    pub source: String,
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("description", &self.description)
            .field("source", &self.source)
            .finish()
    }
}

/// Selects and loads the transport. `flag` is `--transport-plugin`.
pub fn select(flag: Option<&Path>, config: &LoadedConfig) -> Result<Selection, Error> {
    let env = std::env::var_os("APIFY_TRANSPORT_PLUGIN").filter(|v| !v.is_empty());
    let (path, source) = if let Some(p) = flag {
        (Some(p.to_path_buf()), "--transport-plugin".to_string())
    } else if let Some(p) = env {
        (Some(p.into()), "APIFY_TRANSPORT_PLUGIN".to_string())
    } else if let Some(p) = config_plugin_path(config) {
        (
            Some(p),
            format!("[transport] plugin in config file {}", config.source),
        )
    } else {
        (
            None,
            format!(
                "default (no plugin configured; config file: {})",
                config.source
            ),
        )
    };
    let Some(path) = path else {
        return Ok(Selection {
            transport: Arc::new(BuiltinTransport::new()?),
            description: "built-in transport (hyper + rustls)".into(),
            source,
        });
    };
    let t = &config.file.transport;
    let loaded = plugin::load(&path, &load_options(&path, config))?;
    let m = &loaded.metadata;
    let description = format!(
        "plugin {} {} (plugin API {}.{}) at {}",
        m.name,
        m.version,
        m.api_major,
        m.api_minor,
        loaded.path.display()
    );
    let transport = loaded.new_client(&t.options_json())?;
    Ok(Selection {
        transport: Arc::new(transport),
        description,
        source,
    })
}

/// `[transport] plugin`, resolved against the config file's folder when relative (like
/// `token_file`), so the config means the same file whatever the working directory.
pub fn config_plugin_path(config: &LoadedConfig) -> Option<PathBuf> {
    let p = config.file.transport.plugin.as_ref()?;
    Some(match config.source.path().and_then(Path::parent) {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.clone(),
    })
}

/// The load options for `path`: the config's permission setting always applies; its `sha256`
/// pin only to the file the config names (a pin is about one file, so a plugin chosen by
/// `--transport-plugin` or `APIFY_TRANSPORT_PLUGIN` is not held to another file's hash).
pub fn load_options(path: &Path, config: &LoadedConfig) -> LoadOptions {
    let t = &config.file.transport;
    let same_file = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b))
    {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let pinned = config_plugin_path(config).is_some_and(|c| same_file(&c, path));
    LoadOptions {
        sha256: if pinned { t.sha256.clone() } else { None },
        allow_insecure_permissions: t.allow_insecure_permissions,
    }
}
