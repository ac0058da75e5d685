//! Logging through the host (added in 1.4).
//!
//! A plugin is a library with its own copy of the standard library: what it prints with
//! `eprintln!` bypasses the host's log, its filters (`-v`) and its redaction of secrets. What it
//! logs here becomes one of the host's own log events (in `apify-host`: target
//! `apify_host::plugin`, with a `plugin` field naming it), shown at the host's level:
//!
//! ```
//! use apify_plugin_api::log;
//!
//! let name = "ca_file";
//! log::warn!("option `{name}` is deprecated: write `ca_cert_file` instead");
//! log::debug!("pool: {} idle connections", 3); // formatted only if the host shows debug
//! ```
//!
//! - **Levels:** [`error!`](crate::log::error), [`warn!`](crate::log::warn) (what an operator
//!   should act on, shown by default), [`info!`](crate::log::info) (`-v`),
//!   [`debug!`](crate::log::debug) (`-vv`) and [`trace!`](crate::log::trace). The macros take
//!   `format!` arguments and format nothing the host would not show ([`enabled`]).
//! - **Bounds:** the host shows at most [`abi::log::RateLimit::BURST`] messages at once and
//!   [`abi::log::RateLimit::PER_SECOND`] a second, each cut at
//!   [`abi::log::MAX_MESSAGE_BYTES`]; it says how many it dropped. Log what an operator needs,
//!   not every call.
//! - **Secrets:** the host redacts what it knows (its token, configured passwords), but never
//!   log a credential: use [`crate::redact_userinfo`] for proxy URLs.
//! - **Before a host channel exists** (a host before 1.4, which has none, or a program that
//!   uses your crate as a plain library), errors and warnings go to standard error as
//!   `warning: the NAME transport: MESSAGE`, under the same bounds; the other levels are
//!   dropped.
//! - **Panics** of your own threads (not those of a call, which come back to the host as the
//!   call's error) are logged here as errors, with where they happened.
//!
//! Why not the `log` crate's macros: the channel must work in every plugin without setup, and
//! `log`'s logger is one global per plugin that an author may want for themselves (a test
//! logger), and every dependency of this crate is one of every plugin and of every vendored
//! copy. A library inside your plugin that logs through `log` reaches the host with a few lines
//! of yours:
//!
//! ```ignore
//! struct ToHost;
//! impl log::Log for ToHost {
//!     fn enabled(&self, m: &log::Metadata<'_>) -> bool {
//!         apify_plugin_api::log::enabled(level(m.level()))
//!     }
//!     fn log(&self, r: &log::Record<'_>) {
//!         if self.enabled(r.metadata()) {
//!             apify_plugin_api::log::log(level(r.level()), &format!("{}: {}", r.target(), r.args()));
//!         }
//!     }
//!     fn flush(&self) {}
//! }
//! // In `new`: `let _ = log::set_logger(&ToHost); log::set_max_level(log::LevelFilter::Info);`
//! ```
//!
//! [`abi::log::RateLimit::BURST`]: crate::abi::log::RateLimit::BURST
//! [`abi::log::RateLimit::PER_SECOND`]: crate::abi::log::RateLimit::PER_SECOND
//! [`abi::log::MAX_MESSAGE_BYTES`]: crate::abi::log::MAX_MESSAGE_BYTES

use std::{
    sync::{Mutex, OnceLock, RwLock},
    time::Instant,
};

use abi_stable::std_types::RSlice;

use crate::channel::{clean_message, RateLimit};
use crate::ffi::{HostLogBox, LogLevel};

/// How much a message matters, from the most to the least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something an operator should change, or a failure that was handled.
    Warn,
    /// What the plugin does, in broad steps.
    Info,
    /// Detail for diagnosing a problem.
    Debug,
    /// Every detail.
    Trace,
}

impl Level {
    /// The level as it crosses the boundary.
    fn to_ffi(self) -> LogLevel {
        match self {
            Level::Error => LogLevel::ERROR,
            Level::Warn => LogLevel::WARN,
            Level::Info => LogLevel::INFO,
            Level::Debug => LogLevel::DEBUG,
            Level::Trace => LogLevel::TRACE,
        }
    }

    /// The word standard error shows it with, when there is no host channel.
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// The host's channel, once a host of interface 1.4 or later has handed it over.
static HOST: RwLock<Option<HostLogBox>> = RwLock::new(None);
/// The plugin's name (its metadata's), for what is printed without a host channel.
static NAME: OnceLock<String> = OnceLock::new();
/// Bounds what is printed on standard error without a host channel.
static FALLBACK: Mutex<RateLimit> = Mutex::new(RateLimit::new());

/// Whether a message at `level` would be shown: by the host's filter when there is a host
/// channel, else errors and warnings only. The macros ask before they format.
pub fn enabled(level: Level) -> bool {
    let host = HOST.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    match host.as_ref() {
        Some(host) => level.to_ffi() <= host.max_level(),
        None => level <= Level::Warn,
    }
}

/// Logs `message` at `level` through the host (see the [module docs](self)). The macros
/// ([`warn!`](crate::log::warn) and the others) format only what is shown; this function is
/// for a message that is already text.
pub fn log(level: Level, message: &str) {
    emit(level, message, None);
}

/// Logs `message`; without a host channel, a warning or an error is printed as coming from
/// `transport` (else from the plugin's own name).
pub(crate) fn emit(level: Level, message: &str, transport: Option<&str>) {
    {
        let host = HOST.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(host) = host.as_ref() {
            host.log(level.to_ffi(), RSlice::from_slice(message.as_bytes()));
            return;
        }
    }
    if level > Level::Warn {
        return;
    }
    let shown = FALLBACK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .admit(Instant::now());
    let Some(dropped) = shown else { return };
    let name = transport
        .or_else(|| NAME.get().map(String::as_str))
        .unwrap_or("plugin");
    if dropped > 0 {
        eprintln!(
            "warning: the {name} transport: {dropped} more messages were dropped (more than {} a second)",
            RateLimit::PER_SECOND
        );
    }
    eprintln!(
        "{}: the {name} transport: {}",
        level.word(),
        clean_message(message.as_bytes())
    );
}

/// Whether a host channel is there (panics of the plugin's own threads then go to it instead
/// of the previous panic hook).
pub(crate) fn host_connected() -> bool {
    HOST.read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .is_some()
}

/// The root module's `set_host_log`: keeps the host's channel (a host that loads the same
/// library again hands a new one, which replaces the first).
pub(crate) extern "C" fn set_host_log(log: HostLogBox) {
    // Nothing here can panic but a poisoned lock, which is taken over; `catch_unwind` all the
    // same, as an unwinding `extern "C"` function would abort the host.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut host = HOST
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *host = Some(log);
    }));
}

/// Keeps the plugin's name for the messages printed without a host channel.
pub(crate) fn set_plugin_name(name: String) {
    let _ = NAME.set(name);
}

/// Formats and logs at `$level` if the host shows that level; the macros below expand to it.
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_log {
    ($level:expr, $($arg:tt)+) => {{
        let level = $level;
        if $crate::log::enabled(level) {
            $crate::log::log(level, &::std::format!($($arg)+));
        }
    }};
}

/// Logs an error through the host, with `format!` arguments: `log::error!("...: {e}")`.
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_error {
    ($($arg:tt)+) => { $crate::__apify_plugin_log!($crate::log::Level::Error, $($arg)+) };
}

/// Logs a warning through the host, with `format!` arguments; shown by default (deprecated
/// options, a setting the transport ignored).
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_warn {
    ($($arg:tt)+) => { $crate::__apify_plugin_log!($crate::log::Level::Warn, $($arg)+) };
}

/// Logs an informational message through the host, with `format!` arguments (`-v`).
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_info {
    ($($arg:tt)+) => { $crate::__apify_plugin_log!($crate::log::Level::Info, $($arg)+) };
}

/// Logs a debugging message through the host, with `format!` arguments (`-vv`).
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_debug {
    ($($arg:tt)+) => { $crate::__apify_plugin_log!($crate::log::Level::Debug, $($arg)+) };
}

/// Logs a tracing message through the host, with `format!` arguments (`-vvv`).
#[doc(hidden)]
#[macro_export]
macro_rules! __apify_plugin_trace {
    ($($arg:tt)+) => { $crate::__apify_plugin_log!($crate::log::Level::Trace, $($arg)+) };
}

// The macros are exported under names of their own at the crate root (where `#[macro_export]`
// puts them) and re-exported here under the usual ones: a `use apify_plugin_api::*` of an
// existing plugin must not bring a macro named `warn` next to the `#[warn]` attribute.
#[doc(inline)]
pub use crate::__apify_plugin_debug as debug;
#[doc(inline)]
pub use crate::__apify_plugin_error as error;
#[doc(inline)]
pub use crate::__apify_plugin_info as info;
#[doc(inline)]
pub use crate::__apify_plugin_trace as trace;
#[doc(inline)]
pub use crate::__apify_plugin_warn as warn;
