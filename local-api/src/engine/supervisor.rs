//! Runs as child processes: spawning the Actor's command with the platform's environment,
//! copying its output into the run's log, and ending it (exit, timeout, abort, replace).
//!
//! Each process leads its own process group, so that a timeout or an abort kills everything
//! the command started, not only the shell. No process outlives its supervisor: a guard kills
//! the group when the supervisor is dropped (runtime shutdown), and
//! [`Runs::kill_all_now`](crate::db::runs::Runs::kill_all_now) does when the server stops.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::db::actors::Actor;
use crate::db::runs::{Control, ProcessHandle, Run};
use crate::error::{ApiError, ApiResult};
use crate::process::kill_group;
use crate::state::AppState;
use crate::util::{format_millis, now_millis};

/// How long a graceful abort or a timeout waits after SIGTERM before SIGKILL.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// How long the output readers may drain a pipe after the process is gone.
const READER_GRACE: Duration = Duration::from_secs(1);

/// Kills the group when dropped, unless disarmed: the supervisor task may be dropped with its
/// runtime before the process ends.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0, libc::SIGKILL);
    }
}

/// How a process ended.
enum Outcome {
    Exited(i32),
    TimedOut,
    Aborted,
    Replaced,
}

/// The environment variables the platform gives an Actor, for `run` running `actor`.
fn environment(
    state: &AppState,
    run: &Run,
    actor: &Actor,
    deadline_ms: Option<i64>,
) -> Vec<(String, String)> {
    let inner = run.inner();
    let port = run.container_port.to_string();
    let container_url = format!("http://127.0.0.1:{port}");
    let mut vars = vec![
        ("APIFY_TOKEN", state.token.clone().unwrap_or_default()),
        ("APIFY_API_BASE_URL", state.identity.base_url.clone()),
        ("APIFY_API_PUBLIC_BASE_URL", state.identity.base_url.clone()),
        ("APIFY_IS_AT_HOME", "1".to_owned()),
        ("APIFY_USER_ID", state.identity.user_id.clone()),
        ("ACTOR_RUN_ID", run.id.clone()),
        ("ACTOR_ID", actor.id.clone()),
        ("ACTOR_BUILD_ID", inner.build_id.clone()),
        ("ACTOR_BUILD_NUMBER", inner.build_number.clone()),
        (
            "ACTOR_TASK_ID",
            run.actor_task_id.clone().unwrap_or_default(),
        ),
        ("ACTOR_DEFAULT_DATASET_ID", run.dataset_id.clone()),
        (
            "ACTOR_DEFAULT_KEY_VALUE_STORE_ID",
            run.key_value_store_id.clone(),
        ),
        (
            "ACTOR_DEFAULT_REQUEST_QUEUE_ID",
            run.request_queue_id.clone(),
        ),
        ("ACTOR_INPUT_KEY", inner.input_key.clone()),
        ("ACTOR_MEMORY_MBYTES", run.options.memory_mbytes.to_string()),
        ("ACTOR_STARTED_AT", format_millis(inner.started_at)),
        (
            "ACTOR_TIMEOUT_AT",
            deadline_ms.map(format_millis).unwrap_or_default(),
        ),
        ("ACTOR_WEB_SERVER_PORT", port.clone()),
        ("ACTOR_WEB_SERVER_URL", container_url.clone()),
        ("APIFY_CONTAINER_PORT", port),
        ("APIFY_CONTAINER_URL", container_url),
        (
            "ACTOR_MAX_TOTAL_CHARGE_USD",
            run.options
                .max_total_charge_usd
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
    ];
    // The SDKs of older versions read the `APIFY_` names.
    for (new, old) in [
        ("ACTOR_RUN_ID", "APIFY_ACTOR_RUN_ID"),
        ("ACTOR_ID", "APIFY_ACTOR_ID"),
        ("ACTOR_DEFAULT_DATASET_ID", "APIFY_DEFAULT_DATASET_ID"),
        (
            "ACTOR_DEFAULT_KEY_VALUE_STORE_ID",
            "APIFY_DEFAULT_KEY_VALUE_STORE_ID",
        ),
        (
            "ACTOR_DEFAULT_REQUEST_QUEUE_ID",
            "APIFY_DEFAULT_REQUEST_QUEUE_ID",
        ),
        ("ACTOR_INPUT_KEY", "APIFY_INPUT_KEY"),
        ("ACTOR_MEMORY_MBYTES", "APIFY_MEMORY_MBYTES"),
    ] {
        let value = vars.iter().find(|(k, _)| *k == new).map(|(_, v)| v.clone());
        if let Some(v) = value {
            vars.push((old, v));
        }
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Starts `actor`'s command for `run` and sets the run RUNNING. The run's timeout counts
/// from now.
pub fn start_process(state: &Arc<AppState>, run: &Arc<Run>, actor: &Actor) -> ApiResult<()> {
    let timeout = run.options.timeout_secs;
    // The options are range-checked at every entry; still, no deadline arithmetic can panic:
    // a deadline past what an Instant holds is no deadline.
    let deadline = (timeout > 0)
        .then(|| Instant::now().checked_add(Duration::from_secs(timeout)))
        .flatten();
    let deadline_ms = (timeout > 0).then(|| {
        now_millis().saturating_add(
            i64::try_from(timeout)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000),
        )
    });
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&actor.def.command)
        .envs(environment(state, run, actor, deadline_ms))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &actor.def.dir {
        command.current_dir(dir);
    }
    // The command is not named in the message (it becomes the run's log and status message):
    // a command line may hold secrets.
    let mut child = command.spawn().map_err(|e| {
        ApiError::internal(format!(
            "Cannot start the local Actor \"{}\" (sh -c with its command): {e}",
            actor.def.name
        ))
    })?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    let (control, control_rx) = mpsc::unbounded_channel();
    let (done_tx, done) = watch::channel(false);
    state.db.logs.append(
        &run.id,
        // Not the command itself: it may hold secrets, and logs are readable by URL.
        format!(
            "{} Starting local Actor \"{}\"\n",
            format_millis(now_millis()),
            actor.def.name,
        )
        .as_bytes(),
        false,
    );
    let readers = [
        child
            .stdout
            .take()
            .map(|out| copy_to_log(state.clone(), run.id.clone(), out)),
        child
            .stderr
            .take()
            .map(|err| copy_to_log(state.clone(), run.id.clone(), err)),
    ];
    {
        let mut inner = run.inner();
        inner.process = Some(ProcessHandle {
            pgid,
            control,
            done,
        });
        run.set_status(&mut inner, "RUNNING");
    }
    tokio::spawn(supervise(
        state.clone(),
        run.clone(),
        child,
        pgid,
        control_rx,
        deadline,
        readers,
        done_tx,
    ));
    Ok(())
}

/// Appends everything `pipe` delivers to the run's log, as it comes, each line prefixed with
/// the time it arrived. The platform writes an Actor's output into its log that way, and
/// clients split a streamed log into messages at those timestamps: without them a client
/// following the log sees nothing until the run ends.
fn copy_to_log(
    state: Arc<AppState>,
    run_id: String,
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        let mut at_line_start = true;
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let stamp = format_millis(now_millis());
            let text = timestamp_lines(&buf[..n], &stamp, &mut at_line_start);
            state.db.logs.append(&run_id, &text, false);
        }
    })
}

/// `chunk` with `stamp` and a space put before each line that starts in it; `at_line_start`
/// says whether the chunk starts a line, and is updated for the next chunk.
fn timestamp_lines(chunk: &[u8], stamp: &str, at_line_start: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + stamp.len() + 1);
    for line in chunk.split_inclusive(|&b| b == b'\n') {
        if *at_line_start {
            out.extend_from_slice(stamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(line);
        *at_line_start = line.ends_with(b"\n");
    }
    out
}

/// SIGTERM (when graceful) then SIGKILL after the grace period, to the whole group.
async fn terminate(child: &mut Child, pgid: i32, graceful: bool) {
    if graceful {
        kill_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(GRACE_PERIOD, child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    kill_group(pgid, libc::SIGKILL);
    let _ = child.wait().await;
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    state: Arc<AppState>,
    run: Arc<Run>,
    mut child: Child,
    pgid: i32,
    mut control: mpsc::UnboundedReceiver<Control>,
    deadline: Option<Instant>,
    readers: [Option<tokio::task::JoinHandle<()>>; 2],
    done: watch::Sender<bool>,
) {
    let guard = GroupGuard(pgid);
    let timeout = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        status = child.wait() => {
            use std::os::unix::process::ExitStatusExt;
            let code = status.map(|s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))).unwrap_or(-1);
            Outcome::Exited(code)
        }
        _ = timeout => {
            {
                let mut inner = run.inner();
                run.set_status(&mut inner, "TIMING-OUT");
            }
            terminate(&mut child, pgid, true).await;
            Outcome::TimedOut
        }
        Some(command) = control.recv() => match command {
            Control::Abort { graceful } => {
                terminate(&mut child, pgid, graceful).await;
                Outcome::Aborted
            }
            Control::Replace => {
                terminate(&mut child, pgid, false).await;
                Outcome::Replaced
            }
        },
    };
    // Whatever the command left running in its group goes with it, as a container would.
    drop(guard);
    // The readers drain what is left for a short grace, then stop: a process that left the
    // group (`setsid`) may hold the pipe open for ever, and a reader that outlived its run
    // would keep the pipe and a task alive with it. Aborting drops the read end.
    let drain_until = Instant::now() + READER_GRACE;
    for mut reader in readers.into_iter().flatten() {
        if tokio::time::timeout_at(drain_until, &mut reader)
            .await
            .is_err()
        {
            reader.abort();
            let _ = reader.await;
        }
    }
    let ending = {
        let mut inner = run.inner();
        inner.process = None;
        let status = match outcome {
            Outcome::Exited(0) => Some("SUCCEEDED"),
            Outcome::Exited(code) => {
                inner.exit_code = Some(code);
                Some("FAILED")
            }
            Outcome::TimedOut => Some("TIMED-OUT"),
            Outcome::Aborted => Some("ABORTED"),
            Outcome::Replaced => None,
        };
        if let Outcome::Exited(code) = outcome {
            inner.exit_code = Some(code);
        }
        if let Some(status) = status {
            run.set_status(&mut inner, status);
        }
        status
    };
    if let Some(status) = ending {
        state.db.logs.append(
            &run.id,
            format!("{} Run finished: {status}\n", format_millis(now_millis())).as_bytes(),
            true,
        );
        let event = format!("ACTOR.RUN.{}", status.replace('-', "_"));
        super::webhooks::fire(&state, &run, &event);
    }
    let _ = done.send(true);
}

#[cfg(test)]
mod tests {
    use super::timestamp_lines;

    #[test]
    fn each_line_gets_the_time_it_arrived_even_across_chunks() {
        let mut at_start = true;
        let got = timestamp_lines(b"a\nb", "T1", &mut at_start);
        assert_eq!(got, b"T1 a\nT1 b");
        assert!(!at_start);
        let got = timestamp_lines(b"c\n\nd\n", "T2", &mut at_start);
        assert_eq!(got, b"c\nT2 \nT2 d\n");
        assert!(at_start);
        assert!(timestamp_lines(b"", "T3", &mut at_start).is_empty());
    }
}
