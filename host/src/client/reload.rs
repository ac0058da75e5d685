//! Reloading a client's transport from the sources it was built from.
//!
//! The client knows nothing of config files: the layer that built it (`config`, for
//! `from_env`/`from_config`) hands it a [`TransportSource`] that re-reads those sources and
//! says, by a fingerprint, whether the transport they name has changed.

use std::sync::{Arc, Mutex};

use crate::{
    pipeline::{Pipeline, TransportSwap},
    transport::HttpTransport,
    Error,
};

/// Loads the transport the sources name now.
pub(crate) type LoadTransport = Box<dyn FnOnce() -> Result<Arc<dyn HttpTransport>, Error> + Send>;

/// Where a client's transport came from, read again on each reload.
pub(crate) trait TransportSource: Send + Sync {
    /// What the sources name now: a fingerprint that changes whenever the transport would
    /// (the plugin's path and the sha256 of its bytes, the pin, the options), and how to load it.
    fn select(&self) -> Result<(String, LoadTransport), Error>;
}

/// A client's reload state: its sources, and the fingerprint of the transport in service.
pub(crate) struct Reload {
    source: Box<dyn TransportSource>,
    /// Held through a reload, so two reloads at once do not both swap.
    current: Mutex<String>,
}

impl Reload {
    pub(crate) fn new(source: Box<dyn TransportSource>, fingerprint: String) -> Self {
        Reload {
            source,
            current: Mutex::new(fingerprint),
        }
    }

    /// Forgets which transport the sources named last: after a swap by hand, the next reload
    /// puts the sources' transport back in service, whatever it is.
    pub(crate) fn forget(&self) {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Reads the sources; swaps when they name another transport. A failure changes nothing.
    pub(crate) fn run(&self, pipeline: &Pipeline) -> Result<Option<TransportSwap>, Error> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let (fingerprint, load) = self.source.select()?;
        if fingerprint == *current {
            tracing::debug!("transport reload: the sources name the transport in service");
            return Ok(None);
        }
        let transport = load()?;
        *current = fingerprint;
        Ok(Some(pipeline.swap_transport(transport)))
    }
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload").finish_non_exhaustive()
    }
}
