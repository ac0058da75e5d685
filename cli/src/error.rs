//! Why a command failed, and what that means for the process: its exit code (2 for usage,
//! input and config errors, 1 for API and transport failures, 130 for Ctrl-C) and the one
//! `error: ...` line on stderr, redacted.

use std::process::ExitCode;

use apify_host::{Error, ErrorKind};

use crate::logging::redact;

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub enum CliError {
    /// Usage, input or config problem: exit 2, nothing (more) was sent.
    Usage(String),
    /// The API failed, or output could not be written: exit 1.
    Failure(String),
    /// The transport could not complete an exchange (after retries): exit 1; the message gets
    /// the API URL, since "connection refused" alone does not say where to.
    Transport(String),
    /// An Actor run or build ended other than SUCCEEDED: exit 1, one line saying how, after
    /// the last lines of its log.
    JobEnded {
        /// How it ended.
        message: String,
        /// The last lines of its log.
        tail: Vec<String>,
    },
    /// Ctrl-C: exit 130; the message says what was aborted (and, while waiting for a run, that
    /// the run goes on and how to stop it).
    Interrupted(String),
    /// stdout was closed by the reader (e.g. `| head`): not an error.
    BrokenPipe,
}

impl CliError {
    /// A usage/input/config error (exit 2).
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }

    /// An API/transport/output failure (exit 1).
    pub fn failure(msg: impl Into<String>) -> Self {
        CliError::Failure(msg.into())
    }

    /// A failed write to `what`; a closed pipe is not reported as an error.
    pub fn write(what: &str, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::failure(format!("cannot write to {what}: {e}"))
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Failure(_) | CliError::Transport(_) | CliError::JobEnded { .. } => {
                ExitCode::from(1)
            }
            CliError::Interrupted(_) => ExitCode::from(130),
            CliError::BrokenPipe => ExitCode::SUCCESS,
        }
    }
}

impl CliError {
    /// A transport error's message gets `api_url`: "connection refused" alone does not say
    /// where to. Other errors stay as they are.
    pub fn at_api_url(self, api_url: &str) -> Self {
        match self {
            CliError::Transport(m) => CliError::Transport(format!("{m} (API URL: {api_url})")),
            other => other,
        }
    }

    /// Prints the error to stderr as one redacted `error: ...` line (after the last lines of
    /// the log, for a run or build that ended badly); nothing for a closed stdout.
    pub fn print(&self) {
        let message = match self {
            CliError::Usage(m)
            | CliError::Failure(m)
            | CliError::Transport(m)
            | CliError::Interrupted(m) => m,
            CliError::JobEnded { message, tail } => {
                if !tail.is_empty() {
                    eprintln!("last lines of the log:");
                    for line in tail {
                        eprintln!("  {}", redact(line));
                    }
                }
                message
            }
            CliError::BrokenPipe => return,
        };
        let m = redact(message);
        // One line, whatever the source text contained.
        let one_line = m.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: {one_line}");
    }
}

impl From<Error> for CliError {
    /// Exit 2 for what the user can fix in the command line or config, 1 for the rest
    /// (transport failures keep their own variant for the message).
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Config | ErrorKind::PluginLoad => {
                CliError::Usage(e.to_string())
            }
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Transport => {
                CliError::Transport(e.to_string())
            }
            ErrorKind::Unauthorized | ErrorKind::Forbidden => CliError::Failure(format!(
                "{e} (check the token: APIFY_TOKEN, --token, or `token`/`token_file` in the config)"
            )),
            // Misuse is a bug of this program, not of the command line: exit 1, not 2.
            _ => CliError::Failure(e.to_string()),
        }
    }
}
