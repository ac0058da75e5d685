//! The engine: what happens over time. Local Actors really run: registered at server start
//! (`--actors DIR`, `--actor NAME=COMMAND`, see [`crate::config::manifest`]), each run a child
//! process of the Actor's command with the platform's environment variables, so an Actor
//! script can call this server with any Apify client.
//!
//! - this module: the run operations the api calls. [`start_run`] is the one place that
//!   starts a run (Actor and task starts, run-sync); abort, resurrect, reboot, metamorph and
//!   charge act on a run that exists;
//! - [`supervisor`]: the child processes (log, timeout, abort);
//! - [`webhooks`]: webhook objects and their dispatch on run events;
//! - [`webhook_post`]: the loopback HTTP POST of a dispatch.

pub mod supervisor;
pub mod webhook_post;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::json;

use crate::db::actors::Actor;
use crate::db::dataset::Dataset;
use crate::db::key_value_store::KeyValueStore;
use crate::db::kinds::StorageKind;
use crate::db::request_queue::RequestQueue;
use crate::db::runs::{Control, NewRun, Run, RunOptions};
use crate::db::storage::Storage;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::util::{format_millis, now_millis};

/// A run's input: the body and its `Content-Type`.
pub type Input = (Bytes, HeaderValue);

/// What a start asks for, beyond the Actor.
pub struct StartRequest {
    /// The input, stored under `INPUT` (nothing stored when absent).
    pub input: Option<Input>,
    /// Options, already merged with the Actor's defaults.
    pub options: RunOptions,
    /// `meta.origin`.
    pub origin: String,
    /// `meta.userAgent`.
    pub user_agent: Option<String>,
    /// The task started, if any.
    pub actor_task_id: Option<String>,
    /// Ad-hoc webhooks of this run (`webhooks` parameter), already checked; their condition
    /// is set to this run.
    pub webhooks: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A new unnamed storage of kind `T`; its id.
fn new_storage<T: StorageKind>(state: &AppState) -> ApiResult<Arc<T>> {
    Ok(T::registry(&state.db)
        .get_or_create(None, |meta| T::create(meta, state.data_dir()))?
        .0)
}

/// Stores an input record in the run's default key-value store.
fn store_input(state: &AppState, run: &Run, key: &str, input: Input) -> ApiResult<()> {
    let store = state
        .db
        .key_value_stores
        .resolve(&run.key_value_store_id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found("The run's default key-value store was deleted"))?;
    store.put_bytes(key, input.1, input.0)?;
    Ok(())
}

/// Starts a run of `actor`: creates its default storages, stores the input under `INPUT`,
/// and spawns the process.
pub fn start_run(
    state: &Arc<AppState>,
    actor: &Arc<Actor>,
    start: StartRequest,
) -> ApiResult<Arc<Run>> {
    let build = state
        .db.actors
        .resolve_build(&actor.id, &start.options.build)
        .ok_or_else(|| {
            ApiError::invalid_input(format!(
                "Build \"{}\" of Actor \"{}\" was not found: use its build tag \"{}\", a build number or a build id",
                start.options.build, actor.def.name, actor.def.build_tag
            ))
        })?;
    // Refused at once when the limit is reached, before any storage is made; `create` checks
    // again with the insert, atomically.
    state.db.runs.check_room(state.max_concurrent_runs)?;
    let dataset = new_storage::<Dataset>(state)?;
    let store = new_storage::<KeyValueStore>(state)?;
    let queue = new_storage::<RequestQueue>(state)?;
    let created = state.db.runs.create(
        NewRun {
            act_id: actor.id.clone(),
            actor_task_id: start.actor_task_id,
            origin: start.origin,
            user_agent: start.user_agent,
            options: start.options,
            build: (build.id.clone(), build.number.clone()),
            storages: (
                dataset.meta().id.clone(),
                store.meta().id.clone(),
                queue.meta().id.clone(),
            ),
            input_len: start.input.as_ref().map_or(0, |i| i.0.len()),
        },
        state.max_concurrent_runs,
    );
    let run = match created {
        Ok(run) => run,
        Err(e) => {
            // Another start took the last slot meanwhile: its storages are nobody's.
            state.db.datasets.remove(&dataset.meta().id);
            state.db.key_value_stores.remove(&store.meta().id);
            state.db.request_queues.remove(&queue.meta().id);
            return Err(e);
        }
    };
    if let Some(input) = start.input {
        store_input(state, &run, "INPUT", input)?;
    }
    for mut hook in start.webhooks {
        hook.insert("condition".to_owned(), json!({ "actorRunId": run.id }));
        webhooks::create_webhook(state, &hook, true)?;
    }
    webhooks::fire(state, &run, "ACTOR.RUN.CREATED");
    start_or_fail(state, &run, actor);
    Ok(run)
}

/// Starts the run's process; when it cannot start, the run is FAILED with the reason (the
/// caller gets the run, as the platform answers a start whose container fails).
fn start_or_fail(state: &Arc<AppState>, run: &Arc<Run>, actor: &Arc<Actor>) {
    if let Err(e) = supervisor::start_process(state, run, actor) {
        let mut inner = run.inner();
        inner.status_message = Some(e.message.to_string());
        run.set_status(&mut inner, "FAILED");
        drop(inner);
        state
            .db
            .logs
            .append(&run.id, format!("{}\n", e.message).as_bytes(), true);
    }
}

/// Waits (bounded) for the run's process to be gone.
async fn process_gone(run: &Run, limit: Duration) {
    let done = run.inner().process.as_ref().map(|p| p.done.clone());
    if let Some(mut done) = done {
        let _ = tokio::time::timeout(limit, done.wait_for(|d| *d)).await;
    }
}

/// Aborts a running run (nothing happens to a finished one). Graceful: SIGTERM, then SIGKILL
/// after [`supervisor::GRACE_PERIOD`], returning at once with the run ABORTING, as the API
/// does; else SIGKILL, returning once the process is gone (the run is then ABORTED).
pub async fn abort(run: &Run, graceful: bool) {
    {
        let mut inner = run.inner();
        let Some(process) = &inner.process else {
            return;
        };
        let _ = process.control.send(Control::Abort { graceful });
        if graceful {
            // As the API: a graceful abort answers at once with ABORTING; the run becomes
            // ABORTED when its process is gone (SIGTERM, then SIGKILL after the grace period).
            run.set_status(&mut inner, "ABORTING");
            return;
        }
    }
    process_gone(run, Duration::from_secs(2)).await;
}

/// Kills the live process of a run without finishing it (reboot, metamorph); 400 when the run
/// is not running.
async fn replace_process(run: &Run, what: &str) -> ApiResult<()> {
    {
        let inner = run.inner();
        let Some(process) = &inner.process else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-input",
                format!(
                    "Cannot {what} run {}: it is {}, and only a RUNNING run can be {what}ed",
                    run.id, inner.status
                ),
            ));
        };
        let _ = process.control.send(Control::Replace);
    }
    process_gone(run, Duration::from_secs(10)).await;
    Ok(())
}

/// The Actor whose command the run runs now.
fn current_actor(state: &AppState, run: &Run) -> ApiResult<Arc<Actor>> {
    let act_id = run.inner().act_id.clone();
    state
        .db
        .actors
        .resolve(&act_id, &state.identity.username)
        .ok_or_else(|| ApiError::not_found("The run's Actor is no longer registered"))
}

/// Runs `work` in a task of its own and waits for it. Reboot and metamorph kill the run's
/// process, and an Actor often asks for them itself: its connection dies with it, and axum
/// drops the handler's future with the connection. In a task of its own the kill and the new
/// start happen even when nobody is left to read the answer.
async fn detached(
    work: impl std::future::Future<Output = ApiResult<()>> + Send + 'static,
) -> ApiResult<()> {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("The run operation failed: {e}"))))
}

/// Restarts a running run's process with the same Actor, input and storages.
pub async fn reboot(state: &Arc<AppState>, run: &Arc<Run>) -> ApiResult<()> {
    let (state, run) = (state.clone(), run.clone());
    detached(async move { reboot_now(&state, &run).await }).await
}

async fn reboot_now(state: &Arc<AppState>, run: &Arc<Run>) -> ApiResult<()> {
    let actor = current_actor(state, run)?;
    replace_process(run, "reboot").await?;
    run.inner().reboot_count += 1;
    state.db.logs.append(
        &run.id,
        format!("{} Rebooting the run\n", format_millis(now_millis())).as_bytes(),
        false,
    );
    supervisor::start_process(state, run, &actor)
}

/// Replaces a running run's process with `target`'s, keeping the run's id and storages; the
/// new input is stored under `INPUT-METAMORPH-N` and given as `ACTOR_INPUT_KEY`.
pub async fn metamorph(
    state: &Arc<AppState>,
    run: &Arc<Run>,
    target: &Arc<Actor>,
    build: Option<&str>,
    input: Option<Input>,
) -> ApiResult<()> {
    let (state, run, target) = (state.clone(), run.clone(), target.clone());
    let build = build.map(str::to_owned);
    detached(async move { metamorph_now(&state, &run, &target, build.as_deref(), input).await })
        .await
}

async fn metamorph_now(
    state: &Arc<AppState>,
    run: &Arc<Run>,
    target: &Arc<Actor>,
    build: Option<&str>,
    input: Option<Input>,
) -> ApiResult<()> {
    let build = state
        .db
        .actors
        .resolve_build(&target.id, build.unwrap_or(&target.def.build_tag))
        .ok_or_else(|| {
            ApiError::invalid_input(format!(
                "Build of Actor \"{}\" was not found",
                target.def.name
            ))
        })?;
    replace_process(run, "metamorph").await?;
    let key = format!("INPUT-METAMORPH-{}", run.inner().metamorphs.len() + 1);
    if let Some(input) = input {
        store_input(state, run, &key, input)?;
    }
    {
        let mut inner = run.inner();
        inner.metamorphs.push(json!({
            "createdAt": format_millis(now_millis()),
            "actorId": target.id,
            "buildId": build.id,
            "inputKey": key,
        }));
        inner.act_id = target.id.clone();
        inner.build_id = build.id.clone();
        inner.build_number = build.number.clone();
        inner.input_key = key;
    }
    state.db.logs.append(
        &run.id,
        format!(
            "{} Metamorphing into Actor \"{}\"\n",
            format_millis(now_millis()),
            target.def.name
        )
        .as_bytes(),
        false,
    );
    supervisor::start_process(state, run, target)
}

/// Starts a finished run again, with the same storages; its log continues.
pub fn resurrect(state: &Arc<AppState>, run: &Arc<Run>) -> ApiResult<()> {
    let actor = current_actor(state, run)?;
    // Check-and-set: the run leaves its final status (to READY) in the same step that finds it
    // final, so a second resurrect at the same time is refused and only one process starts.
    state
        .db
        .runs
        .revive(run, state.max_concurrent_runs, |inner| {
            let previous = inner
                .finished_at
                .unwrap_or_else(now_millis)
                .saturating_sub(inner.started_at);
            inner.previous_run_millis = inner.previous_run_millis.saturating_add(previous.max(0));
            inner.started_at = now_millis();
            inner.exit_code = None;
            inner.resurrect_count += 1;
        })?;
    state.db.logs.reopen(&run.id);
    webhooks::fire(state, run, "ACTOR.RUN.RESURRECTED");
    state.db.logs.append(
        &run.id,
        format!("{} Resurrecting the run\n", format_millis(now_millis())).as_bytes(),
        false,
    );
    start_or_fail(state, run, &actor);
    Ok(())
}

/// Records `count` events `event_name`, once per idempotency key.
pub fn charge(
    state: &AppState,
    run: &Run,
    event_name: &str,
    count: u64,
    idempotency_key: Option<&str>,
) -> ApiResult<()> {
    let actor = current_actor(state, run)?;
    let price = if actor.def.charge_events.is_empty() {
        0.0
    } else {
        let Some(event) = actor
            .def
            .charge_events
            .iter()
            .find(|e| e.name == event_name)
        else {
            let known: Vec<&str> = actor
                .def
                .charge_events
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(ApiError::invalid_input(format!(
                "Event \"{event_name}\" is not in the pricing of Actor \"{}\": charge one of {}",
                actor.def.name,
                known.join(", ")
            )));
        };
        event.price_usd
    };
    let mut inner = run.inner();
    if let Some(key) = idempotency_key {
        // A retried charge with the same key counts once, as on the platform.
        if !inner.charge_keys.insert(key.to_owned()) {
            return Ok(());
        }
    }
    *inner.charged.entry(event_name.to_owned()).or_default() += count;
    inner.usage_total_usd += price * count as f64;
    Ok(())
}
