//! [`StatusMessageWatcher`]: polls a run and logs each change of its status or status message,
//! as the Python client's `StatusMessageWatcher` does.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};

use super::{streamed_log::TARGET, Run, RunClient};

/// Polls a run in a background task and logs `Status: {status}, Message: {message}` to
/// `tracing` (target `apify.actor`, level `INFO`, prefixed with the Actor's name and the run
/// id) whenever it changes, until the run sets a terminal status message; see
/// [`RunClient::get_status_message_watcher`]. Messages that change faster than the poll period
/// may be missed. Dropping it ends the task.
#[derive(Debug)]
pub struct StatusMessageWatcher {
    run: RunClient,
    prefix: String,
    period: Duration,
    /// The last line logged, shared with the task so `stop` logs only a change.
    last: Arc<Mutex<String>>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl StatusMessageWatcher {
    pub(crate) fn new(run: RunClient, prefix: String, period: Duration) -> Self {
        StatusMessageWatcher {
            run,
            prefix,
            period,
            last: Arc::default(),
            stop: None,
            task: None,
        }
    }

    /// Starts polling (on the current tokio runtime); does nothing if it already polls.
    pub fn start(&mut self) {
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let (tx, mut rx) = watch::channel(false);
        let (run, prefix, period, last) = (
            self.run.clone(),
            self.prefix.clone(),
            self.period,
            self.last.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            loop {
                let more = tokio::select! {
                    r = run.get() => poll_once(r, &prefix, &last),
                    _ = rx.changed() => return,
                };
                if !more {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = rx.changed() => return,
                }
            }
        }));
        self.stop = Some(tx);
    }

    /// Stops polling, after one last poll so the final status message is not missed.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
            poll_once(self.run.get().await, &self.prefix, &self.last);
        }
    }
}

impl Drop for StatusMessageWatcher {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Logs the run's status line if it changed; answers whether more messages may come.
fn poll_once(
    polled: Result<Option<Run>, crate::Error>,
    prefix: &str,
    last: &Mutex<String>,
) -> bool {
    match polled {
        Ok(Some(run)) => {
            let line = status_line(&run);
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if *last != line {
                tracing::info!(target: TARGET, "{prefix} -> {line}");
                *last = line;
            }
            !run.is_status_message_terminal.unwrap_or(false)
        }
        // Not visible yet (just started): keep polling.
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(target: TARGET, "{prefix} -> status message redirection stopped: {e}");
            false
        }
    }
}

fn status_line(run: &Run) -> String {
    format!(
        "Status: {}, Message: {}",
        run.status,
        run.status_message.as_deref().unwrap_or("")
    )
}
