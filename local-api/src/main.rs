//! `apify-local-api`: runs the local Apify API server until SIGINT or SIGTERM.
//!
//! Prints exactly one line to stdout, `listening on http://127.0.0.1:PORT`, once it accepts
//! connections, so scripts can read the port; everything else goes to stderr via `tracing`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use apify_local_api::{LocalApi, LocalApiConfig};
use clap::Parser;

/// A local Apify API v2 server (datasets, key-value stores, request queues, logs, and local
/// Actors that really run), with a request log and seeding under /_control.
///
/// Actors are registered here, never through the API: `--actors DIR` registers every
/// `DIR/*/actor.json` (fields `name`, `title`, `version`, `description`, `input`, and the
/// local ones `run` — the shell command, run with `sh -c` in the manifest's folder —,
/// `defaultRunOptions {memoryMbytes, timeoutSecs, build}` and `pricingPerEvent
/// {actorChargeEvents {EVENT {eventPriceUsd, eventTitle}}}`); `--actor NAME=COMMAND` registers
/// a one-off. A run is a child process with the platform's environment (APIFY_TOKEN,
/// APIFY_API_BASE_URL pointing here, ACTOR_RUN_ID, ACTOR_DEFAULT_DATASET_ID, ...).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Require this token on /v2 and /_control, /_control/health excepted (Authorization:
    /// Bearer or ?token=).
    #[arg(long, env = "APIFY_LOCAL_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Folder in which to create the temporary data folder (record bodies).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How many requests the request log keeps (0 turns it off, e.g. for benchmarks).
    #[arg(long, default_value_t = apify_local_api::config::DEFAULT_REQUEST_LOG_LIMIT)]
    request_log_limit: usize,
    /// Largest JSON payload accepted, in bytes.
    #[arg(long, default_value_t = apify_local_api::config::DEFAULT_MAX_PAYLOAD_BYTES)]
    max_payload_bytes: usize,
    /// Register every Actor of this folder (one subfolder with an actor.json per Actor). A
    /// malformed manifest stops the server with an error naming the file and the field.
    #[arg(long, value_name = "DIR")]
    actors: Option<PathBuf>,
    /// The longest a `waitForFinish` request is held, in seconds (the real API's cap is 60;
    /// a shorter one makes clients poll more often, e.g. to test their polling).
    #[arg(long, value_name = "SECS", default_value_t = apify_local_api::config::DEFAULT_MAX_WAIT_FOR_FINISH.as_secs())]
    max_wait_for_finish: u64,
    /// Register a one-off Actor that runs `sh -c COMMAND` (repeatable), e.g.
    /// --actor hello='echo hello'.
    #[arg(long = "actor", value_name = "NAME=COMMAND")]
    actor: Vec<String>,
    /// Give runs this environment variable of the server too (repeatable). Runs get only
    /// PATH, HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR, TERM and the platform's
    /// variables otherwise: the server's secrets and proxy settings stay out.
    #[arg(long = "pass-env", value_name = "NAME")]
    pass_env: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let mut config = LocalApiConfig {
        addr: args.listen,
        token: args.token.filter(|t| !t.is_empty()),
        data_dir: args.data_dir,
        request_log_limit: args.request_log_limit,
        max_payload_bytes: args.max_payload_bytes,
        max_wait_for_finish: std::time::Duration::from_secs(args.max_wait_for_finish),
        pass_env: args.pass_env,
        ..LocalApiConfig::default()
    };
    let invalid = |e: apify_local_api::config::manifest::ManifestError| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    if let Some(dir) = &args.actors {
        config.load_actors_dir(dir).map_err(invalid)?;
    }
    for actor in &args.actor {
        config.add_actor(actor).map_err(invalid)?;
    }
    if let Some(bad) = config
        .pass_env
        .iter()
        .find(|n| n.is_empty() || n.contains(['=', '\0']))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--pass-env {bad:?}: name one environment variable (no '=' in it), e.g. --pass-env HTTPS_PROXY"),
        ));
    }
    let api = LocalApi::start(config).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidInput {
            e
        } else {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", args.listen))
        }
    })?;
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt())?;
    let term = signal(SignalKind::terminate())?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", api.base_url())?;
        stdout.flush()?;
    }
    wait_for_signal(interrupt, term).await?;
    tracing::info!("shutting down");
    api.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM. The handlers are installed by the caller *before* the
/// `listening on` line is printed: a script that signals as soon as it reads the line must not
/// hit the default action (an unclean death).
async fn wait_for_signal(
    mut interrupt: tokio::signal::unix::Signal,
    mut term: tokio::signal::unix::Signal,
) -> std::io::Result<()> {
    tokio::select! {
        _ = interrupt.recv() => Ok(()),
        _ = term.recv() => Ok(()),
    }
}
