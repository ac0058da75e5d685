//! Waiting for Actor runs and builds, shared by `call`, `actors`, `runs`, `builds` and `task`:
//! the log followed on stderr, a spinner with the status and status message on a terminal
//! (nothing extra when piped), Ctrl-C that leaves the run running and says how to abort it,
//! and the exit status that follows from how the job ended.

use std::{io::IsTerminal, io::Write, time::Duration};

use futures_util::StreamExt;

use crate::{error::CliError, input::InputSource};
use apify_host::{
    models::{ActorJobStatus, Build, Run, RunInput},
    options::StartOptions,
    ApifyClient,
};

/// Fields shown first for a run.
pub const RUN_FIELDS: &[&str] = &[
    "id",
    "actId",
    "actorTaskId",
    "status",
    "statusMessage",
    "exitCode",
    "startedAt",
    "finishedAt",
    "buildNumber",
    "defaultDatasetId",
    "defaultKeyValueStoreId",
    "defaultRequestQueueId",
];

/// Columns of run listings.
pub const RUN_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("STATUS", "status"),
    ("STARTED", "startedAt"),
    ("FINISHED", "finishedAt"),
    ("ACTOR", "actId"),
];

/// Fields shown first for a build.
pub const BUILD_FIELDS: &[&str] = &[
    "id",
    "actId",
    "status",
    "buildNumber",
    "startedAt",
    "finishedAt",
];

/// Options that start a run (`call`, `actors start`, `task run`), named as in apify-cli.
#[derive(Debug, clap::Args, Clone)]
pub struct RunArgs {
    /// Input: JSON text, @FILE, or - for stdin (checked before anything is sent).
    #[arg(long, short = 'i', value_name = "JSON|@FILE|-")]
    pub input: Option<InputSource>,
    /// Build tag or number to run (default: the Actor's default build).
    #[arg(long, short = 'b', value_name = "TAG")]
    pub build: Option<String>,
    /// Memory in megabytes (a power of 2).
    #[arg(long, short = 'm', value_name = "MB")]
    pub memory: Option<u64>,
    /// Run timeout in seconds (the run is stopped as TIMED-OUT after it).
    #[arg(long, short = 't', value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl RunArgs {
    /// The input (parsed as JSON, so a typo fails here and nothing is sent) and the start
    /// options.
    pub fn read(&self) -> Result<(Option<RunInput>, StartOptions), CliError> {
        let input = match &self.input {
            Some(source) => Some(RunInput::Json(source.read_json()?.value)),
            None => None,
        };
        let mut opts = StartOptions::new();
        opts.build = self.build.clone();
        opts.memory_mbytes = self.memory;
        opts.run_timeout = self.timeout.map(Duration::from_secs);
        Ok((input, opts))
    }
}

/// Waits for the run to end: follows its log on stderr unless `silent`, shows a spinner with
/// its status on a terminal, and on Ctrl-C exits (130) leaving the run running. Answers the
/// finished run.
pub async fn wait_for_run(
    client: &ApifyClient,
    run: &Run,
    silent: bool,
    wait: Option<Duration>,
) -> Result<Run, CliError> {
    let run_client = client.run(&run.id);
    let interrupted = format!(
        "interrupted; the run {id} is still running. Abort it with: apify-host runs abort {id}",
        id = run.id
    );
    let job = Job {
        kind: "run",
        id: &run.id,
        follow: !silent,
        show_status: true,
    };
    wait_for_job(client, job, run_client.wait_for_finish(wait), interrupted).await
}

/// Waits for a build as [`wait_for_run`] waits for a run.
pub async fn wait_for_build(
    client: &ApifyClient,
    build: &Build,
    follow: bool,
) -> Result<Build, CliError> {
    let build_client = client.build(&build.id);
    let interrupted = format!("interrupted; the build {} goes on", build.id);
    let job = Job {
        kind: "build",
        id: &build.id,
        follow,
        show_status: false,
    };
    wait_for_job(client, job, build_client.wait_for_finish(None), interrupted).await
}

/// What Ctrl-C should say while a job is being waited for (the job goes on, and how to stop
/// it). `main`'s own Ctrl-C handler reads it, so the message does not depend on which of the two
/// handlers sees the signal first.
static WAITING_FOR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The message for Ctrl-C now: the waited-for job's, if any.
pub fn interrupted_while_waiting() -> Option<String> {
    WAITING_FOR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Sets [`WAITING_FOR`] for as long as it lives, and clears the spinner when it goes (also when
/// the wait is dropped by `main`'s Ctrl-C handler).
struct Waiting(Spinner);

impl Waiting {
    fn start(message: &str, spinner: Spinner) -> Self {
        *WAITING_FOR.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.to_string());
        Waiting(spinner)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        *WAITING_FOR.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.0.finish();
    }
}

/// What [`wait_for_job`] waits for, and what it shows meanwhile.
struct Job<'a> {
    /// `run` or `build`, for messages.
    kind: &'static str,
    id: &'a str,
    /// Copy the job's log to stderr as it grows.
    follow: bool,
    /// Poll the run's status and status message into the spinner (terminal only).
    show_status: bool,
}

/// Waits for `finished` (a run's or a build's `wait_for_finish`) with the spinner, the log
/// follower and the status poller around it; Ctrl-C ends the wait (in `main`) with
/// `interrupted`.
async fn wait_for_job<T>(
    client: &ApifyClient,
    job: Job<'_>,
    finished: impl std::future::Future<Output = Result<Option<T>, apify_host::Error>>,
    interrupted: String,
) -> Result<T, CliError> {
    let spinner = Spinner::start(format!("{} {}", job.kind, job.id));
    let _waiting = Waiting::start(&interrupted, spinner.clone());
    let (c, id, s) = (client.clone(), job.id.to_string(), spinner.clone());
    let log = job
        .follow
        .then(|| tokio::spawn(async move { follow_log(&c, &id, &s).await }));
    let (c, id, s) = (client.clone(), job.id.to_string(), spinner.clone());
    let status = (job.show_status && spinner.visible())
        .then(|| tokio::spawn(async move { show_status(&c, &id, &s).await }));
    // Ctrl-C is `main`'s one handler: it drops this wait and says `interrupted` (set above).
    let waited = finished.await;
    if let Some(task) = status {
        task.abort();
    }
    if let Some(task) = log {
        // The log stream ends with the job; give its last bytes a moment to arrive.
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }
    spinner.finish();
    waited?.ok_or_else(|| CliError::failure(format!("the {} {} does not exist", job.kind, job.id)))
}

/// Copies the job's log to stderr as it grows, until the job ends. A log that cannot be read
/// is reported once and does not fail the wait.
pub async fn follow_log(client: &ApifyClient, id: &str, spinner: &Spinner) {
    let body = match client.log(id).stream(true).await {
        Ok(Some(body)) => body,
        Ok(None) => return,
        Err(e) => {
            spinner.println(&format!("(cannot follow the log: {e})"));
            return;
        }
    };
    let mut body = body.into_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => spinner.write_stderr(&bytes),
            Err(e) => {
                spinner.println(&format!("(the log stream broke: {e})"));
                return;
            }
        }
    }
}

/// Keeps the spinner's message at the run's status and status message.
async fn show_status(client: &ApifyClient, id: &str, spinner: &Spinner) {
    loop {
        if let Ok(Some(run)) = client.run(id).get().await {
            let message = run.status_message.as_deref().unwrap_or("");
            spinner.set_message(format!("{} {message}", run.status));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The exit status of a finished run: `Ok` when it SUCCEEDED; otherwise one line naming the
/// run and how it ended, after the last lines of its log when `with_tail` (the caller did not
/// stream the log already).
pub async fn run_outcome(client: &ApifyClient, run: &Run, with_tail: bool) -> Result<(), CliError> {
    if run.status == ActorJobStatus::Succeeded {
        return Ok(());
    }
    let exit = run
        .exit_code
        .map(|c| format!(" with exit code {c}"))
        .unwrap_or_default();
    let message = run
        .status_message
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let tail = match with_tail {
        true => match client.log(&run.id).get(true).await {
            Ok(Some(log)) => last_lines(&log, 10),
            _ => Vec::new(),
        },
        false => Vec::new(),
    };
    Err(CliError::JobEnded {
        message: format!("the run {} ended {}{exit}{message}", run.id, run.status),
        tail,
    })
}

/// The exit status of a finished build, as [`run_outcome`].
pub fn build_outcome(build: &Build) -> Result<(), CliError> {
    if build.status == ActorJobStatus::Succeeded {
        return Ok(());
    }
    Err(CliError::JobEnded {
        message: format!("the build {} ended {}", build.id, build.status),
        tail: Vec::new(),
    })
}

fn last_lines(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// A spinner on stderr when it is a terminal; otherwise nothing, and log bytes pass straight
/// through.
#[derive(Clone)]
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(prefix: String) -> Self {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner().with_prefix(prefix);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }

    fn visible(&self) -> bool {
        self.0.is_some()
    }

    fn set_message(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }

    fn write_stderr(&self, bytes: &[u8]) {
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ =
                err.write_all(crate::logging::redact(&String::from_utf8_lossy(bytes)).as_bytes());
            let _ = err.flush();
        };
        match &self.0 {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn println(&self, line: &str) {
        self.write_stderr(format!("{line}\n").as_bytes());
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_skip_blank_ones() {
        let log = "a\n\nb\nc\n\n";
        assert_eq!(last_lines(log, 2), ["b", "c"]);
        assert_eq!(last_lines(log, 10), ["a", "b", "c"]);
        assert!(last_lines("", 3).is_empty());
    }
}
