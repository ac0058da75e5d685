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

use serde_json::Value;

use crate::config::manifest::pricing_info;
use crate::config::RUN_ENV_ALLOW_LIST;
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

/// The environment variables the platform gives an Actor, for `run` running `actor` (§4 of
/// the SDK notes: what the SDKs' configuration models read). Empty values are left out: the
/// SDKs read an empty variable as a bad value (JSON, dates), never as "unset".
fn environment(
    state: &AppState,
    run: &Run,
    actor: &Actor,
    deadline_ms: Option<i64>,
) -> Vec<(String, String)> {
    let inner = run.inner();
    let port = run.container_port.to_string();
    let container_url = format!("http://127.0.0.1:{port}");
    let opt = |v: Option<String>| v.unwrap_or_default();
    // `{}` is what the platform sets for an Actor without pricing; the counts so far let a
    // budget survive reboots and metamorphs.
    let pricing = inner
        .pricing
        .as_ref()
        .map_or_else(|| "{}".to_owned(), Value::to_string);
    let charged = Value::Object(inner.charged_event_counts()).to_string();
    let memory = run.options.memory_mbytes;
    let vars = [
        ("APIFY_TOKEN", state.run_token.clone()),
        ("APIFY_API_BASE_URL", state.identity.base_url.clone()),
        ("APIFY_API_PUBLIC_BASE_URL", state.identity.base_url.clone()),
        ("APIFY_IS_AT_HOME", "1".to_owned()),
        ("APIFY_USER_ID", state.identity.user_id.clone()),
        ("APIFY_META_ORIGIN", run.origin.clone()),
        ("ACTOR_RUN_ID", run.id.clone()),
        ("ACTOR_ID", actor.id.clone()),
        (
            "ACTOR_FULL_NAME",
            format!("{}/{}", state.identity.username, actor.def.name),
        ),
        ("ACTOR_BUILD_ID", inner.build_id.clone()),
        ("ACTOR_BUILD_NUMBER", inner.build_number.clone()),
        ("ACTOR_BUILD_TAGS", actor.def.build_tag.clone()),
        ("ACTOR_TASK_ID", opt(run.actor_task_id.clone())),
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
        ("ACTOR_MEMORY_MBYTES", memory.to_string()),
        // The platform gives one CPU per 4 GB of memory.
        ("APIFY_DEDICATED_CPUS", (memory as f64 / 4096.0).to_string()),
        ("ACTOR_STARTED_AT", format_millis(inner.started_at)),
        ("ACTOR_TIMEOUT_AT", opt(deadline_ms.map(format_millis))),
        ("ACTOR_WEB_SERVER_PORT", port.clone()),
        ("ACTOR_WEB_SERVER_URL", container_url.clone()),
        ("ACTOR_STANDBY_PORT", port.clone()),
        ("APIFY_CONTAINER_PORT", port),
        ("APIFY_CONTAINER_URL", container_url),
        (
            "ACTOR_MAX_TOTAL_CHARGE_USD",
            opt(run.options.max_total_charge_usd.map(|c| c.to_string())),
        ),
        (
            "ACTOR_MAX_PAID_DATASET_ITEMS",
            opt(run.options.max_items.map(|c| c.to_string())),
        ),
        ("APIFY_ACTOR_PRICING_INFO", pricing),
        ("APIFY_CHARGED_ACTOR_EVENT_COUNTS", charged),
        ("APIFY_HEADLESS", "1".to_owned()),
        // Runs are not in a container here, but the Python SDK warns at every start unless
        // this is set (it forces the browser sandbox off at home anyway).
        ("APIFY_DISABLE_BROWSER_SANDBOX", "1".to_owned()),
    ];
    drop(inner);
    let mut out: Vec<(String, String)> = Vec::with_capacity(vars.len() + 12);
    for (name, value) in vars {
        if !value.is_empty() {
            out.push((name.to_owned(), value));
        }
    }
    // The SDKs of older versions read the `APIFY_` names.
    for (new, old) in [
        ("ACTOR_RUN_ID", "APIFY_ACTOR_RUN_ID"),
        ("ACTOR_ID", "APIFY_ACTOR_ID"),
        ("ACTOR_BUILD_ID", "APIFY_ACTOR_BUILD_ID"),
        ("ACTOR_BUILD_NUMBER", "APIFY_ACTOR_BUILD_NUMBER"),
        ("ACTOR_TASK_ID", "APIFY_ACTOR_TASK_ID"),
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
        ("ACTOR_STARTED_AT", "APIFY_STARTED_AT"),
        ("ACTOR_TIMEOUT_AT", "APIFY_TIMEOUT_AT"),
    ] {
        let value = out.iter().find(|(k, _)| k == new).map(|(_, v)| v.clone());
        if let Some(v) = value {
            out.push((old.to_owned(), v));
        }
    }
    out
}

/// The server's own variables a run gets: those of [`RUN_ENV_ALLOW_LIST`] and `pass_env`
/// that are set. Everything else (tokens, proxies, a parent's `APIFY_*`/`CRAWLEE_*`) stays
/// out, so a run sees the platform's environment and not the server's.
fn inherited(state: &AppState) -> Vec<(String, std::ffi::OsString)> {
    RUN_ENV_ALLOW_LIST
        .iter()
        .copied()
        .chain(state.pass_env.iter().map(String::as_str))
        .filter_map(|name| std::env::var_os(name).map(|v| (name.to_owned(), v)))
        .collect()
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
    run.inner().pricing = pricing_info(&actor.def);
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&actor.def.command)
        .env_clear()
        .envs(inherited(state))
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
