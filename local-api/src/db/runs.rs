//! Actor runs: their state, their JSON objects, and the list of all runs.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};

use crate::error::{ApiError, ApiResult};
use crate::identity::Identity;
use crate::params::Params;
use crate::util::{format_millis, now_millis};

/// Whether a status is final.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "FAILED" | "TIMED-OUT" | "ABORTED")
}

/// The statuses a run can have, for filter validation.
pub const STATUSES: [&str; 8] = [
    "READY",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMING-OUT",
    "TIMED-OUT",
    "ABORTING",
    "ABORTED",
];

/// The statuses of a `status` filter (comma-separated), checked against the API's list.
pub fn status_filter(p: &Params) -> ApiResult<Option<Vec<String>>> {
    let Some(statuses) = p.list("status") else {
        return Ok(None);
    };
    for s in &statuses {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid_input(format!(
                "Invalid value of the \"status\" parameter: \"{s}\" is not one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    Ok(Some(statuses))
}

/// What a run's supervisor can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop the run as ABORTED: SIGTERM then SIGKILL after a grace period when graceful,
    /// SIGKILL at once otherwise.
    Abort {
        /// Whether to give the process a grace period.
        graceful: bool,
    },
    /// Kill the process without finishing the run (reboot, metamorph): a new process follows.
    Replace,
}

/// The live process of a run.
pub struct ProcessHandle {
    /// Process group id (the child's pid: it leads its own group).
    pub pgid: i32,
    /// Commands to the supervisor.
    pub control: mpsc::UnboundedSender<Control>,
    /// Becomes `true` once the process (and its group) is gone.
    pub done: watch::Receiver<bool>,
}

/// Options of a run (`options` object).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Build tag or number.
    pub build: String,
    /// Timeout in seconds (0: none).
    pub timeout_secs: u64,
    /// Memory in megabytes.
    pub memory_mbytes: u64,
    /// Item cap for pay-per-result Actors.
    pub max_items: Option<u64>,
    /// Charge cap in USD.
    pub max_total_charge_usd: Option<f64>,
}

/// What changes during a run.
pub struct RunInner {
    /// Status.
    pub status: &'static str,
    /// `statusMessage`.
    pub status_message: Option<String>,
    /// `isStatusMessageTerminal`.
    pub is_status_message_terminal: Option<bool>,
    /// Start (epoch ms).
    pub started_at: i64,
    /// End (epoch ms).
    pub finished_at: Option<i64>,
    /// The process's exit code.
    pub exit_code: Option<i32>,
    /// The Actor whose command runs now (changes on metamorph).
    pub act_id: String,
    /// The build used.
    pub build_id: String,
    /// Its number.
    pub build_number: String,
    /// The key of the current input record (`INPUT`, then `INPUT-METAMORPH-1`, ...).
    pub input_key: String,
    /// The process, while alive.
    pub process: Option<ProcessHandle>,
    /// Charged events and counts.
    pub charged: HashMap<String, u64>,
    /// Idempotency keys of charges already counted.
    pub charge_keys: HashSet<String>,
    /// Total charged in USD.
    pub usage_total_usd: f64,
    /// Resurrections.
    pub resurrect_count: u64,
    /// Reboots.
    pub reboot_count: u64,
    /// Metamorphs: `(time, actor id, build id, input key)`.
    pub metamorphs: Vec<Value>,
    /// Milliseconds run by earlier processes of this run (before resurrect).
    pub previous_run_millis: i64,
    /// The pricing of the Actor whose command runs now (`pricingInfo` without the run's
    /// times), `None` when it has no prices; set on every process start.
    pub pricing: Option<Value>,
}

impl RunInner {
    /// `chargedEventCounts`: every event charged so far and its count.
    pub fn charged_event_counts(&self) -> Map<String, Value> {
        self.charged
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect()
    }
}

/// One run.
pub struct Run {
    /// Run id.
    pub id: String,
    /// The Actor first started (`actId` follows metamorphs; this does not).
    pub origin_act_id: String,
    /// The task, when started from one.
    pub actor_task_id: Option<String>,
    /// `meta.origin`.
    pub origin: String,
    /// `meta.userAgent`.
    pub user_agent: Option<String>,
    /// Options.
    pub options: RunOptions,
    /// Default dataset id.
    pub dataset_id: String,
    /// Default key-value store id.
    pub key_value_store_id: String,
    /// Default request queue id.
    pub request_queue_id: String,
    /// Size of the input body.
    pub input_len: usize,
    /// Port in `containerUrl` and the container port env var.
    pub container_port: u16,
    /// When the run was created (epoch ms).
    pub created_at: i64,
    inner: Mutex<RunInner>,
    status: watch::Sender<&'static str>,
}

/// Everything to make a [`Run`].
pub struct NewRun {
    /// The Actor.
    pub act_id: String,
    /// The task, if any.
    pub actor_task_id: Option<String>,
    /// `meta.origin`.
    pub origin: String,
    /// `meta.userAgent`.
    pub user_agent: Option<String>,
    /// Options.
    pub options: RunOptions,
    /// Build id and number.
    pub build: (String, String),
    /// Storage ids: dataset, key-value store, request queue.
    pub storages: (String, String, String),
    /// Size of the input body.
    pub input_len: usize,
}

impl Run {
    /// Locks the changing part.
    pub fn inner(&self) -> MutexGuard<'_, RunInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The status now.
    pub fn status(&self) -> &'static str {
        *self.status.borrow()
    }

    /// A receiver of status changes (for `waitForFinish`).
    pub fn subscribe(&self) -> watch::Receiver<&'static str> {
        self.status.subscribe()
    }

    /// Sets the status (and `finishedAt` when final), waking waiters.
    pub fn set_status(&self, inner: &mut RunInner, status: &'static str) {
        inner.status = status;
        if is_terminal(status) {
            inner.finished_at = Some(now_millis());
        } else {
            inner.finished_at = None;
        }
        self.status.send_replace(status);
    }

    /// Waits until the run is final or `limit` is over.
    pub async fn wait_for_finish(&self, limit: std::time::Duration) {
        if limit.is_zero() {
            return;
        }
        let mut rx = self.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| is_terminal(s))).await;
    }

    /// Run time in milliseconds so far.
    fn duration_millis(inner: &RunInner) -> i64 {
        let end = inner.finished_at.unwrap_or_else(now_millis);
        inner.previous_run_millis + (end - inner.started_at).max(0)
    }

    /// Compute units used: memory in GB × hours.
    pub fn compute_units(&self) -> f64 {
        let inner = self.inner();
        Self::duration_millis(&inner) as f64 / 3_600_000.0 * self.options.memory_mbytes as f64
            / 1024.0
    }

    /// The `Run` object of the API.
    pub fn to_json(&self, identity: &Identity) -> Value {
        let inner = self.inner();
        let duration = Self::duration_millis(&inner);
        let compute_units =
            duration as f64 / 3_600_000.0 * self.options.memory_mbytes as f64 / 1024.0;
        let charged = inner.charged_event_counts();
        // The Python client's `Run` model requires these fields of a pay-per-event pricing.
        let pricing_info = inner.pricing.clone().map(|mut p| {
            p["apifyMarginPercentage"] = json!(0);
            p["createdAt"] = json!(format_millis(self.created_at));
            p["startedAt"] = json!(format_millis(self.created_at));
            p
        });
        json!({
            "id": self.id,
            "actId": inner.act_id,
            "userId": identity.user_id,
            "actorTaskId": self.actor_task_id,
            "startedAt": format_millis(inner.started_at),
            "finishedAt": inner.finished_at.map(format_millis),
            "status": inner.status,
            "statusMessage": inner.status_message,
            "isStatusMessageTerminal": inner.is_status_message_terminal,
            "meta": { "origin": self.origin, "clientIp": "127.0.0.1", "userAgent": self.user_agent },
            "stats": {
                "inputBodyLen": self.input_len,
                "migrationCount": 0,
                "rebootCount": inner.reboot_count,
                "restartCount": 0,
                "resurrectCount": inner.resurrect_count,
                "durationMillis": duration,
                "runTimeSecs": duration as f64 / 1000.0,
                "metamorph": inner.metamorphs.len(),
                "computeUnits": compute_units,
            },
            "options": {
                "build": self.options.build,
                "timeoutSecs": self.options.timeout_secs,
                "memoryMbytes": self.options.memory_mbytes,
                "diskMbytes": self.options.memory_mbytes * 2,
                "maxItems": self.options.max_items,
                "maxTotalChargeUsd": self.options.max_total_charge_usd,
            },
            "buildId": inner.build_id,
            "buildNumber": inner.build_number,
            "exitCode": inner.exit_code,
            "generalAccess": "FOLLOW_USER_SETTING",
            "defaultKeyValueStoreId": self.key_value_store_id,
            "defaultDatasetId": self.dataset_id,
            "defaultRequestQueueId": self.request_queue_id,
            "containerUrl": format!("http://127.0.0.1:{}", self.container_port),
            "chargedEventCounts": charged,
            "pricingInfo": pricing_info,
            "usageTotalUsd": round_usd(inner.usage_total_usd),
            "usage": { "ACTOR_COMPUTE_UNITS": compute_units },
            "usageUsd": { "ACTOR_COMPUTE_UNITS": 0 },
            "metamorphs": inner.metamorphs,
        })
    }

    /// The `RunShort` object of lists.
    pub fn to_short_json(&self) -> Value {
        let inner = self.inner();
        json!({
            "id": self.id,
            "actId": inner.act_id,
            "actorTaskId": self.actor_task_id,
            "status": inner.status,
            "startedAt": format_millis(inner.started_at),
            "finishedAt": inner.finished_at.map(format_millis),
            "buildId": inner.build_id,
            "buildNumber": inner.build_number,
            "meta": { "origin": self.origin },
            "usageTotalUsd": round_usd(inner.usage_total_usd),
            "defaultKeyValueStoreId": self.key_value_store_id,
            "defaultDatasetId": self.dataset_id,
            "defaultRequestQueueId": self.request_queue_id,
        })
    }
}

/// USD amounts to a millionth of a cent, without float noise (0.013, not 0.0130000001).
fn round_usd(usd: f64) -> f64 {
    (usd * 1e8).round() / 1e8
}

/// Filters of a run listing.
#[derive(Default)]
pub struct RunFilter<'a> {
    /// Only runs started from this Actor (original Actor, as the API lists them).
    pub act_id: Option<&'a str>,
    /// Only runs of this task.
    pub task_id: Option<&'a str>,
    /// Only runs with one of these statuses.
    pub statuses: Option<Vec<String>>,
    /// Only runs with this origin.
    pub origin: Option<&'a str>,
}

impl RunFilter<'_> {
    fn matches(&self, run: &Run) -> bool {
        self.act_id.is_none_or(|a| run.origin_act_id == a)
            && self
                .task_id
                .is_none_or(|t| run.actor_task_id.as_deref() == Some(t))
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s == run.status()))
            && self.origin.is_none_or(|o| run.origin == o)
    }
}

/// All runs.
#[derive(Default)]
pub struct Runs {
    runs: RwLock<Vec<Arc<Run>>>,
}

/// The platform's answer to a start above the concurrent-runs limit: 402
/// `concurrent-runs-limit-exceeded` (the type is in the spec's `ErrorType`; the status and the
/// wording are what the platform answers), with how to raise the limit here.
pub fn concurrent_runs_error(max_live: usize) -> ApiError {
    ApiError::new(
        http::StatusCode::PAYMENT_REQUIRED,
        "concurrent-runs-limit-exceeded",
        format!(
            "By launching this job you will exceed your limit of {max_live} concurrent Actor runs. Wait for a run to finish or abort one, or start the local API with a higher --max-concurrent-runs (LocalApiConfig::max_concurrent_runs)."
        ),
    )
}

/// 402 when `max_live` runs (or more) are live among `runs`.
fn check_room(runs: &[Arc<Run>], max_live: usize) -> ApiResult<()> {
    let live = runs.iter().filter(|r| !is_terminal(r.status())).count();
    if live >= max_live {
        return Err(concurrent_runs_error(max_live));
    }
    Ok(())
}

impl Runs {
    /// 402 `concurrent-runs-limit-exceeded` when `max_live` runs are live now. Only a quick
    /// answer before any work: [`Runs::create`] checks again, atomically.
    pub fn check_room(&self, max_live: usize) -> ApiResult<()> {
        check_room(
            &self
                .runs
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            max_live,
        )
    }

    /// Sets a finished run READY again for a resurrect, with `reset` applied to it; 400 when
    /// it is not finished, 402 when `max_live` runs are live. Both checks and the change happen
    /// under the list's write lock and the run's lock, so that of two resurrects at once only
    /// one passes, and no start slips past the limit meanwhile.
    pub fn revive(
        &self,
        run: &Run,
        max_live: usize,
        reset: impl FnOnce(&mut RunInner),
    ) -> ApiResult<()> {
        // Lock order: the list, then a run (no code takes them the other way round).
        let runs = self
            .runs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut inner = run.inner();
        if !is_terminal(inner.status) {
            return Err(ApiError::invalid_input(format!(
                "Cannot resurrect run {}: it is {}, and only a finished run can be resurrected",
                run.id, inner.status
            )));
        }
        check_room(&runs, max_live)?;
        reset(&mut inner);
        run.set_status(&mut inner, "READY");
        Ok(())
    }

    /// Makes and stores a new run in status READY; 402 `concurrent-runs-limit-exceeded` when
    /// `max_live` runs are live (the count and the insert are one step under the write lock,
    /// so concurrent starts cannot pass the limit together).
    pub fn create(&self, new: NewRun, max_live: usize) -> ApiResult<Arc<Run>> {
        let mut runs = self
            .runs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_room(&runs, max_live)?;
        let (status, _) = watch::channel("READY");
        let run = Arc::new(Run {
            id: crate::util::new_id(17),
            origin_act_id: new.act_id.clone(),
            actor_task_id: new.actor_task_id,
            origin: new.origin,
            user_agent: new.user_agent,
            options: new.options,
            dataset_id: new.storages.0,
            key_value_store_id: new.storages.1,
            request_queue_id: new.storages.2,
            input_len: new.input_len,
            container_port: free_port(),
            created_at: now_millis(),
            inner: Mutex::new(RunInner {
                status: "READY",
                status_message: None,
                is_status_message_terminal: None,
                started_at: now_millis(),
                finished_at: None,
                exit_code: None,
                act_id: new.act_id,
                build_id: new.build.0,
                build_number: new.build.1,
                input_key: "INPUT".to_owned(),
                process: None,
                charged: HashMap::new(),
                charge_keys: HashSet::new(),
                usage_total_usd: 0.0,
                resurrect_count: 0,
                reboot_count: 0,
                metamorphs: Vec::new(),
                previous_run_millis: 0,
                pricing: None,
            }),
            status,
        });
        runs.push(run.clone());
        Ok(run)
    }

    /// A run by id.
    pub fn get(&self, id: &str) -> Option<Arc<Run>> {
        let runs = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.iter().find(|r| r.id == id).cloned()
    }

    /// Removes a run (its storages stay).
    pub fn remove(&self, id: &str) -> Option<Arc<Run>> {
        let mut runs = self
            .runs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = runs.iter().position(|r| r.id == id)?;
        Some(runs.remove(at))
    }

    /// The matching runs, oldest first.
    pub fn list(&self, filter: &RunFilter<'_>) -> Vec<Arc<Run>> {
        let runs = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.iter().filter(|r| filter.matches(r)).cloned().collect()
    }

    /// The newest matching run.
    pub fn last(&self, filter: &RunFilter<'_>) -> Option<Arc<Run>> {
        let runs = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.iter().rev().find(|r| filter.matches(r)).cloned()
    }

    /// Every run, for usage figures.
    pub fn all(&self) -> Vec<Arc<Run>> {
        self.runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Kills every live process group at once (shutdown, drop): no run outlives the server.
    pub fn kill_all_now(&self) {
        for run in self.all() {
            if let Some(p) = &run.inner().process {
                crate::process::kill_group(p.pgid, libc::SIGKILL);
            }
        }
    }
}

/// A free local TCP port for a run's container URL (its web server may use it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4321)
}
