//! The `apify-host` command line: thin commands over the `apify_host` library, one file per
//! command group; run `apify-host --help` for the tour.
//!
//! Conventions: data goes to stdout (JSON, JSON lines or a table), messages and progress to
//! stderr; an error is one `error: ...` line on stderr with exit code 2 for usage, input and
//! config errors and 1 for API and transport failures. No credential appears in any of it:
//! error lines, log lines and panic messages go through one redactor that knows the token and
//! the configuration's secrets (see [`logging`]).
//!
//! The modules: [`args`] (the command line, parsed), [`context`] (config, clients and output
//! format resolved from it), [`error`] (failures and exit codes), [`logging`] (stderr logging
//! and redaction), [`commands`] (one module per command group), and the shared [`input`] and
//! [`output`] helpers.

mod args;
mod commands;
mod context;
mod error;
mod input;
mod logging;
mod output;

use std::process::ExitCode;

use crate::{args::Cli, context::Context, error::CliError};

fn main() -> ExitCode {
    match run(args::parse()) {
        Ok(code) => code,
        Err(err) => {
            err.print();
            err.exit_code()
        }
    }
}

/// Makes a second Ctrl-C end the process at once, with exit status 130, whatever the command is
/// doing. The first one ends the command the orderly way (see [`run`]); that needs the
/// runtime's thread, which a plugin may be blocking: the second needs nothing. Nothing is
/// cleaned up then (a partial `--out` file stays).
fn exit_on_second_ctrl_c() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: the action does only what a signal handler may: an atomic add, write(2) and
    // _exit(2). tokio's own Ctrl-C handler is registered beside it, not replaced.
    let registered = unsafe {
        signal_hook_registry::register(libc::SIGINT, || {
            if PRESSES.fetch_add(1, Ordering::SeqCst) >= 1 {
                const MSG: &[u8] =
                    b"error: interrupted twice (Ctrl-C): exited at once, without cleaning up\n";
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(130);
            }
        })
    };
    if let Err(e) = registered {
        tracing::debug!("cannot watch for a second Ctrl-C: {e}");
    }
}

/// Runs the parsed command line on an async runtime, with Ctrl-C ending it; answers the exit
/// code of a command that did not fail (0, or clap's for help, version and usage errors).
fn run(parsed: Result<Cli, clap::Error>) -> Result<ExitCode, CliError> {
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8));
        }
    };
    logging::init(&cli.global);
    exit_on_second_ctrl_c();
    // One thread: a command is a chain of requests, and on one thread the connection task and
    // the call that waits for it never wake each other across threads. The transports bench
    // measured the built-in transport at 49 µs of CPU per call on a current-thread runtime
    // against 70 µs on two workers (32 calls in flight, 2-core machine), and faster sequential
    // calls too. Gzip and file sampling go to the blocking pool; a plugin has its own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}")))?;
    let mut api_url = String::new();
    let result = runtime.block_on(async {
        let ctx = Context::new(&cli.global)?;
        logging::learn_secrets(&ctx.config.redactor());
        api_url = ctx.config.api_url().to_string();
        // Ctrl-C anywhere ends the command: the future is dropped, which aborts the requests in
        // flight (their connections close, a plugin's too) and deletes a partial output file.
        // While a run or build is waited for, the message says that it goes on and how to stop
        // it, whichever handler sees the signal first.
        // The message is read when the signal arrives, before `select!` drops the command
        // (whose drop clears it).
        let interrupted = async {
            let _ = tokio::signal::ctrl_c().await;
            commands::jobs::interrupted_while_waiting()
        };
        tokio::select! {
            biased;
            r = commands::run(&ctx, cli.command) => r,
            waiting = interrupted => Err(CliError::Interrupted(waiting.unwrap_or_else(|| {
                "interrupted (Ctrl-C): the request in flight was aborted and nothing partial \
                 was left behind"
                    .into()
            }))),
        }
    });
    // Do not wait for transport tasks (idle pooled connections) to wind down.
    runtime.shutdown_background();
    result
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| e.at_api_url(&api_url))
}
