//! Which transport the configuration selects, and from where.
//!
//! Precedence: `--transport-plugin`, then `APIFY_TRANSPORT_PLUGIN`, then `[transport] plugin`
//! in the config file; none of them = the built-in transport.

use std::{path::Path, sync::Arc};

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
    } else if let Some(p) = &config.file.transport.plugin {
        (
            Some(p.clone()),
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
    let loaded = plugin::load(
        &path,
        &LoadOptions {
            sha256: t.sha256.clone(),
            allow_insecure_permissions: t.allow_insecure_permissions,
        },
    )?;
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
