//! `apify-local-api`: runs the local Apify API server until SIGINT or SIGTERM.
//!
//! Prints exactly one line to stdout once it accepts connections,
//! `listening on http://127.0.0.1:PORT (token in /tmp/apify-local-api-XXXX/token)` (without
//! the parenthesis when the token came from `--token` and no `--token-file` was given), so
//! scripts can read the URL (the first word after `listening on `) and the token (from the
//! file); everything else goes to stderr via `tracing`. The token itself is never printed.

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
///
/// The server always has a token. Without --token (or APIFY_LOCAL_API_TOKEN) it makes a
/// random one (32 bytes from the OS, hex) and writes it to a file of mode 0600 in a new
/// private folder (mode 0700) of the system temp folder, or to --token-file PATH; the stdout
/// line names that file, never the token: `listening on http://127.0.0.1:PORT (token in
/// FILE)`. Read the URL as the first word after `listening on `, and the token from FILE.
/// The file is removed when the server stops.
///
/// Requests from web browsers are refused: a Host header other than this server's own
/// address (on loopback listens), an Origin other than its own, Sec-Fetch-Site cross-site or
/// same-site; JSON endpoints need Content-Type: application/json for a non-empty body.
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
    /// Register every Actor of this folder (one subfolder with an actor.json per Actor, or an
    /// apify-cli project with a .actor/actor.json, started with `npm start` or `python -m src`
    /// unless its manifest has a `run`). A malformed manifest stops the server with an error
    /// naming the file and the field.
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
    /// Write the token (the generated one, or --token's) to this file, created with mode
    /// 0600 (an existing file there is replaced) and removed when the server stops. Without
    /// it, a generated token goes to a new private temp folder.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Largest key-value store record accepted, in bytes after decompression; larger uploads
    /// are answered 413. The platform documents no record limit; the default is 1 GiB.
    #[arg(long, value_name = "BYTES", default_value_t = apify_local_api::config::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: u64,
    /// How many runs may be live (READY or RUNNING) at once; a start above it is refused
    /// with 402 concurrent-runs-limit-exceeded (the platform's default limit is 25).
    #[arg(long, value_name = "N", default_value_t = apify_local_api::config::DEFAULT_MAX_CONCURRENT_RUNS)]
    max_concurrent_runs: usize,
    /// The most bytes one run or build log keeps (its tail; a marker line says how many
    /// bytes were dropped).
    #[arg(long, value_name = "BYTES", default_value_t = apify_local_api::config::DEFAULT_MAX_LOG_BYTES)]
    max_log_bytes: usize,
    /// Give runs this environment variable of the server too (repeatable). Runs get only
    /// PATH, HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR, TERM and the platform's
    /// variables otherwise: the server's secrets and proxy settings stay out.
    #[arg(long = "pass-env", value_name = "NAME")]
    pass_env: Vec<String>,
    /// Also accept this Host header on a loopback listen (repeatable): HOST:PORT, or HOST for
    /// any port, e.g. --allowed-host localhost:9000 behind `ssh -L 9000:127.0.0.1:PORT`.
    /// Other Host values are refused, which is what stops DNS rebinding.
    #[arg(long = "allowed-host", value_name = "HOST[:PORT]")]
    allowed_host: Vec<String>,
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
    let given = args.token.filter(|t| !t.is_empty());
    let token = match &given {
        Some(token) => token.clone(),
        None => generate_token()?,
    };
    // Kept until the end of `run`: dropping it removes the file (and its private folder).
    let token_file = match (&args.token_file, &given) {
        (Some(path), _) => Some(TokenFile::at(path, &token)?),
        (None, None) => Some(TokenFile::in_private_folder(&token)?),
        (None, Some(_)) => None,
    };
    let mut config = LocalApiConfig {
        addr: args.listen,
        token: Some(token),
        data_dir: args.data_dir,
        request_log_limit: args.request_log_limit,
        max_payload_bytes: args.max_payload_bytes,
        max_wait_for_finish: std::time::Duration::from_secs(args.max_wait_for_finish),
        max_record_bytes: args.max_record_bytes,
        max_concurrent_runs: args.max_concurrent_runs,
        max_log_bytes: args.max_log_bytes,
        allowed_hosts: args.allowed_host.clone(),
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
        match &token_file {
            Some(file) => writeln!(
                stdout,
                "listening on {} (token in {})",
                api.base_url(),
                file.path.display()
            )?,
            None => writeln!(stdout, "listening on {}", api.base_url())?,
        }
        stdout.flush()?;
    }
    wait_for_signal(interrupt, term).await?;
    tracing::info!("shutting down");
    api.shutdown().await;
    drop(token_file);
    Ok(())
}

/// A new random token: 32 bytes from the operating system's RNG, as 64 hex digits.
fn generate_token() -> std::io::Result<String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        std::io::Error::other(format!("cannot get random bytes for the token: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The file holding the token; removed (with its private folder, if it made one) on drop.
struct TokenFile {
    path: PathBuf,
    /// The private folder the file is in, when the server made it.
    _folder: Option<tempfile::TempDir>,
}

impl TokenFile {
    /// Writes the token to `token` in a new folder of the system temp folder, mode 0700.
    fn in_private_folder(token: &str) -> std::io::Result<TokenFile> {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::Builder::new()
            .prefix("apify-local-api-token-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot make a folder for the token: {e}"))
            })?;
        let path = folder.path().join("token");
        write_secret(&path, token)?;
        Ok(TokenFile {
            path,
            _folder: Some(folder),
        })
    }

    /// Writes the token to `path` (replacing a file there), mode 0600.
    fn at(path: &std::path::Path, token: &str) -> std::io::Result<TokenFile> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot replace the token file {}: {e}", path.display()),
                ))
            }
        }
        write_secret(path, token)?;
        Ok(TokenFile {
            path: path.to_owned(),
            _folder: None,
        })
    }
}

/// Creates `path` (it must not exist: no symlink is followed) with mode 0600 and the token.
fn write_secret(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot write the token file {}: {e}", path.display()),
            )
        })?;
    file.write_all(token.as_bytes())?;
    file.sync_all()
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
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
