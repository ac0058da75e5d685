//! Logging to stderr and the redaction of secrets: every log line, panic message and error
//! line goes through one process-wide [`Redactor`] that knows the run's token and the
//! configuration's secrets.

use std::{
    io::Write,
    sync::{LazyLock, RwLock},
};

use apify_host::redact::Redactor;

use crate::args::GlobalArgs;

/// The secrets of this run: flag and environment tokens from the start, the configuration's
/// (token, proxy password, ...) once it has loaded. Process-wide because the log writer and
/// the panic hook, which run anywhere, need it.
static REDACTOR: LazyLock<RwLock<Redactor>> = LazyLock::new(|| RwLock::new(Redactor::new()));

/// `text` with the run's secrets masked, under the read lock (no copy of the redactor per log
/// line; a poisoned lock still holds the secrets).
pub(crate) fn redact(text: &str) -> String {
    REDACTOR
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .redact(text)
}

/// Sets up what every later line on stderr relies on, before anything else runs: the flag and
/// environment tokens go into the redactor (known before the config loads, so even a config
/// error cannot echo them), panics are redacted, and log lines go to stderr at the level of
/// `-v` (see [`init_tracing`]).
pub fn init(global: &GlobalArgs) {
    learn_secrets(
        &[global.token.clone(), std::env::var("APIFY_TOKEN").ok()]
            .into_iter()
            .flatten()
            .fold(Redactor::new(), Redactor::secret),
    );
    install_panic_hook();
    init_tracing(global.verbose);
}

/// Adds `more` to the run's redactor.
pub(crate) fn learn_secrets(more: &Redactor) {
    REDACTOR
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .merge(more);
}

/// The log writer: each event is formatted whole into a buffer, then redacted and written to
/// stderr when the formatter drops it, so no log line (ours, or an HTTP library's at `-vvv`)
/// can carry a credential.
struct RedactedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine;
    fn make_writer(&'a self) -> RedactedLine {
        RedactedLine(Vec::new())
    }
}

/// One log event on its way to stderr (see [`RedactedStderr`]).
struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let clean = redact(&String::from_utf8_lossy(&self.0));
            let _ = std::io::stderr().lock().write_all(clean.as_bytes());
        }
    }
}

/// Panic messages go through the redactor too: a panic may format a value holding a secret.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = redact(&info.to_string());
        let _ = writeln!(
            std::io::stderr().lock(),
            "apify-host {message}\nThis is a bug in apify-host; please report it."
        );
    }));
}

/// Sets up stderr logging: `-v` info, `-vv` debug, `-vvv` trace for this crate; without `-v`,
/// `RUST_LOG` if set, else warnings, and what a SIGHUP reload did (ops sent it and want the
/// answer). Every line is redacted (see [`RedactedStderr`]).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,apify_host::client::signal=info")),
        1 => EnvFilter::new("warn,apify_host=info"),
        2 => EnvFilter::new("info,apify_host=debug"),
        _ => EnvFilter::new("debug,apify_host=trace"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr)
        // No colours: escape codes between a field name and its value (`token=`) would hide
        // the value from redaction.
        .with_ansi(false)
        .try_init();
}
