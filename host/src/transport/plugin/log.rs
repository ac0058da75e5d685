//! The log channel the host hands every plugin it loads (plugin interface 1.4): a plugin's log
//! messages, its deprecation warnings and the panics of its own threads become `tracing`
//! events of this process, with target [`PLUGIN_LOG_TARGET`] and a `plugin` field naming the
//! plugin, so the program's subscriber filters them (the CLI's `-v`) and the CLI redacts them
//! like every other line.
//!
//! Everything a plugin sends is untrusted: the bytes are decoded lossily, cut at
//! [`MAX_MESSAGE_BYTES`](apify_plugin_api::abi::log::MAX_MESSAGE_BYTES) and escaped
//! ([`clean_message`]), and a [`RateLimit`] per plugin drops what comes faster than anyone
//! reads, with one event saying how many were dropped.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Mutex,
    time::Instant,
};

use abi_stable::{sabi_trait::TD_Opaque, std_types::RSlice};
use apify_plugin_api::abi::{
    ffi::{HostLog, HostLogBox, HostLog_TO, LogLevel},
    log::{clean_message, RateLimit},
};

/// The `tracing` target of every event a plugin logs (`RUST_LOG=apify_host::plugin=debug`
/// shows a plugin's debug messages, and the CLI's `-v` covers it as part of `apify_host`).
pub const PLUGIN_LOG_TARGET: &str = "apify_host::plugin";

/// Where plugin messages go instead of this process's `tracing`: set in a transport worker,
/// which hands them to its host (whose filters and redaction apply), showing up to a level.
type Forward = (LogLevel, Box<dyn Fn(LogLevel, &str, &str) + Send + Sync>);
static FORWARD: std::sync::OnceLock<Forward> = std::sync::OnceLock::new();

/// Sends every plugin message up to `max` to `to` (level, plugin name, cleaned text) instead of
/// this process's `tracing`. Set once, before any plugin loads (a transport worker).
pub(crate) fn forward_to(max: LogLevel, to: impl Fn(LogLevel, &str, &str) + Send + Sync + 'static) {
    let _ = FORWARD.set((max, Box::new(to)));
}

/// The most detailed level this process shows plugin messages at (for a worker to forward
/// up to).
pub(crate) fn max_level() -> LogLevel {
    [
        LogLevel::TRACE,
        LogLevel::DEBUG,
        LogLevel::INFO,
        LogLevel::WARN,
        LogLevel::ERROR,
    ]
    .into_iter()
    .find(|&level| enabled(level))
    .unwrap_or(LogLevel::OFF)
}

/// Emits a message a worker forwarded, as its plugin would have here.
pub(crate) fn emit_forwarded(level: LogLevel, plugin: &str, text: &str, worker: u32) {
    let text = clean_message(text.as_bytes());
    let plugin: String = clean_message(plugin.as_bytes())
        .replace('\n', " ")
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    let plugin = plugin.as_str();
    match level {
        LogLevel::OFF | LogLevel::ERROR => {
            tracing::error!(target: PLUGIN_LOG_TARGET, plugin, worker, "{text}")
        }
        LogLevel::WARN => tracing::warn!(target: PLUGIN_LOG_TARGET, plugin, worker, "{text}"),
        LogLevel::INFO => tracing::info!(target: PLUGIN_LOG_TARGET, plugin, worker, "{text}"),
        LogLevel::DEBUG => tracing::debug!(target: PLUGIN_LOG_TARGET, plugin, worker, "{text}"),
        _ => tracing::trace!(target: PLUGIN_LOG_TARGET, plugin, worker, "{text}"),
    }
}

/// The most characters of a plugin's name shown in its events (the name is the plugin's to
/// choose, so it is bounded like a message).
const MAX_NAME_CHARS: usize = 64;

/// The channel for the plugin named `plugin` (its metadata's name).
pub(super) fn channel_for(plugin: &str) -> HostLogBox {
    let name: String = clean_message(plugin.as_bytes())
        .replace('\n', " ")
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    HostLog_TO::from_value(
        PluginLog {
            plugin: name,
            limit: Mutex::new(RateLimit::new()),
        },
        TD_Opaque,
    )
}

/// One plugin's channel: its name and its rate limit.
struct PluginLog {
    plugin: String,
    limit: Mutex<RateLimit>,
}

impl PluginLog {
    fn emit(&self, level: LogLevel, message: &[u8]) {
        // What the subscriber would not show costs no token: a plugin's debug messages must not
        // use up the budget of its warnings.
        if !enabled(level) {
            return;
        }
        let admitted = self
            .limit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .admit(Instant::now());
        let Some(dropped) = admitted else { return };
        let plugin = self.plugin.as_str();
        let text = clean_message(message);
        if let Some((_, to)) = FORWARD.get() {
            if dropped > 0 {
                to(
                    LogLevel::WARN,
                    plugin,
                    &format!(
                        "the plugin logged more than {} messages a second: {dropped} of them were dropped",
                        RateLimit::PER_SECOND
                    ),
                );
            }
            to(level, plugin, &text);
            return;
        }
        if dropped > 0 {
            tracing::warn!(
                target: PLUGIN_LOG_TARGET,
                plugin,
                dropped,
                "the plugin logged more than {} messages a second: {dropped} of them were dropped",
                RateLimit::PER_SECOND
            );
        }
        match level {
            LogLevel::OFF | LogLevel::ERROR => {
                tracing::error!(target: PLUGIN_LOG_TARGET, plugin, "{text}")
            }
            LogLevel::WARN => tracing::warn!(target: PLUGIN_LOG_TARGET, plugin, "{text}"),
            LogLevel::INFO => tracing::info!(target: PLUGIN_LOG_TARGET, plugin, "{text}"),
            LogLevel::DEBUG => tracing::debug!(target: PLUGIN_LOG_TARGET, plugin, "{text}"),
            _ => tracing::trace!(target: PLUGIN_LOG_TARGET, plugin, "{text}"),
        }
    }
}

/// Whether the subscriber shows plugin events at `level` (0 counts as an error, a level above
/// `TRACE` as `TRACE`, the levels `emit` gives them).
fn enabled(level: LogLevel) -> bool {
    if let Some((max, _)) = FORWARD.get() {
        return level.0.max(1) <= max.0;
    }
    match level {
        LogLevel::OFF | LogLevel::ERROR => {
            tracing::enabled!(target: PLUGIN_LOG_TARGET, tracing::Level::ERROR)
        }
        LogLevel::WARN => tracing::enabled!(target: PLUGIN_LOG_TARGET, tracing::Level::WARN),
        LogLevel::INFO => tracing::enabled!(target: PLUGIN_LOG_TARGET, tracing::Level::INFO),
        LogLevel::DEBUG => tracing::enabled!(target: PLUGIN_LOG_TARGET, tracing::Level::DEBUG),
        _ => tracing::enabled!(target: PLUGIN_LOG_TARGET, tracing::Level::TRACE),
    }
}

impl HostLog for PluginLog {
    fn log(&self, level: LogLevel, message: RSlice<'_, u8>) {
        // Called by the plugin through the FFI: a panic here (a subscriber's) must not unwind
        // into it, which would abort the process.
        let _ = catch_unwind(AssertUnwindSafe(|| self.emit(level, message.as_slice())));
    }

    fn max_level(&self) -> LogLevel {
        catch_unwind(max_level).unwrap_or(LogLevel::OFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    /// Every line the subscriber writes, for the test to read.
    #[derive(Clone, Default)]
    struct Lines(Arc<StdMutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(filter: tracing::Level, f: impl FnOnce()) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn messages_become_events_named_after_the_plugin_at_their_level() {
        let channel = channel_for("my\nplugin");
        let out = logged(tracing::Level::INFO, || {
            assert_eq!(channel.max_level(), LogLevel::INFO);
            channel.log(
                LogLevel::WARN,
                RSlice::from_slice(b"deprecated \xff option\n"),
            );
            channel.log(LogLevel::DEBUG, RSlice::from_slice(b"not shown at info"));
            channel.log(
                LogLevel(200),
                RSlice::from_slice(b"an unknown level is trace"),
            );
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(
            lines[0].contains(" WARN apify_host::plugin: deprecated \u{fffd} option"),
            "{out}"
        );
        assert!(lines[0].contains("plugin=\"my     plugin\""), "{out}");
    }

    #[test]
    fn a_plugin_that_logs_in_a_loop_is_cut_to_the_rate_with_a_count() {
        let channel = channel_for("chatty");
        let out = logged(tracing::Level::WARN, || {
            for i in 0..10_000 {
                channel.log(
                    LogLevel::ERROR,
                    RSlice::from_slice(format!("loop {i}").as_bytes()),
                );
            }
            // The debug messages the subscriber drops take none of the budget.
            for _ in 0..1000 {
                channel.log(LogLevel::DEBUG, RSlice::from_slice(b"quiet"));
            }
        });
        let shown = out.lines().filter(|l| l.contains(": loop ")).count();
        // The burst, and what refills while the loop runs (well under a second here).
        assert!(
            (RateLimit::BURST as usize..RateLimit::BURST as usize + 20).contains(&shown),
            "{shown} shown:\n{out}"
        );
        let later = logged(tracing::Level::WARN, || {
            std::thread::sleep(std::time::Duration::from_millis(
                1000 / RateLimit::PER_SECOND as u64 + 50,
            ));
            channel.log(LogLevel::WARN, RSlice::from_slice(b"after a pause"));
        });
        assert!(later.contains("of them were dropped"), "{later}");
        assert!(later.contains("after a pause"), "{later}");
    }
}
