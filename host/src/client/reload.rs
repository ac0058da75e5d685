//! Reloading a client's transports from the sources it was built from.
//!
//! The client knows nothing of config files: the layer that built it (`config`, for
//! `from_env`/`from_config`) hands it a [`TransportSource`] that re-reads those sources and
//! says, by fingerprints, whether the primary or the canary they name has changed.

use std::sync::{Arc, Mutex};

use crate::{
    pipeline::{CanaryTransport, LineupChange, Pipeline, TransportSwap},
    transport::HttpTransport,
    Error,
};

/// What identifies the transports the sources name: each changes whenever its transport would
/// (the plugin's path and the sha256 of its bytes, the pin, the options; the canary's policy).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Fingerprints {
    pub(crate) primary: String,
    pub(crate) canary: Option<String>,
}

impl std::fmt::Debug for Fingerprints {
    // They hold the plugins' options, which may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprints(..)")
    }
}

/// Loads the transports the sources name now.
pub(crate) trait LoadTransports: Send {
    /// The primary.
    fn primary(&self) -> Result<Arc<dyn HttpTransport>, Error>;
    /// The canary and its policy, or none.
    fn canary(&self) -> Result<Option<CanaryTransport>, Error>;
}

/// Where a client's transports came from, read again on each reload.
pub(crate) trait TransportSource: Send + Sync {
    /// What the sources name now, and how to load it.
    fn read(&self) -> Result<(Fingerprints, Box<dyn LoadTransports>), Error>;
}

/// A client's reload state: its sources, and the fingerprints of the transports in service.
pub(crate) struct Reload {
    source: Box<dyn TransportSource>,
    /// Held through a reload, so two reloads at once do not both swap.
    current: Mutex<Fingerprints>,
}

/// A fingerprint no source gives: what a change by hand leaves, so the next reload puts the
/// sources' transport back.
const CHANGED_BY_HAND: &str = "changed by hand";

impl Reload {
    pub(crate) fn new(source: Box<dyn TransportSource>, fingerprints: Fingerprints) -> Self {
        Reload {
            source,
            current: Mutex::new(fingerprints),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Fingerprints> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `change`, a change of the primary and/or the canary by hand, and forgets which of
    /// them the sources named last, so the next reload puts the sources' lineup back. Under
    /// the reload's lock: a reload running meanwhile finishes first.
    pub(crate) fn by_hand<T>(&self, primary: bool, canary: bool, change: impl FnOnce() -> T) -> T {
        let mut current = self.current();
        if primary {
            current.primary = CHANGED_BY_HAND.into();
        }
        if canary {
            current.canary = Some(CHANGED_BY_HAND.into());
        }
        change()
    }

    /// Reads the sources; swaps what they name differently, in one step. A failure changes
    /// nothing.
    pub(crate) fn run(&self, pipeline: &Pipeline) -> Result<Option<TransportSwap>, Error> {
        let mut current = self.current();
        let (now, load) = self.source.read()?;
        if now == *current {
            tracing::debug!("transport reload: the sources name the transports in service");
            return Ok(None);
        }
        let primary = match now.primary != current.primary {
            true => Some(load.primary()?),
            false => None,
        };
        let canary = match now.canary != current.canary {
            true => Some(load.canary()?),
            false => None,
        };
        *current = now;
        Ok(Some(pipeline.change_transports(LineupChange {
            primary,
            canary,
            promote: false,
        })))
    }
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload").finish_non_exhaustive()
    }
}
