//! Blocking forms of the Actor, version, env var, run, build and task clients.

use std::time::Duration;

use serde::Serialize;

use super::{
    macros::blocking_client, runtime::Rt, DatasetClient, KeyValueStoreClient, LogClient,
    RequestQueueClient, WebhookCollectionClient,
};
use crate::{
    models::{
        Actor, ActorJobStatus, ActorVersion, Build, EnvVar, ListPage, Run, RunInput, RunUpdate,
        Task, ToRunInput,
    },
    options::{
        ActorListOptions, BuildOptions, CallOptions, ChargeOptions, ListRunsOptions, PageOptions,
        ResurrectOptions, StartOptions,
    },
    Error,
};

blocking_client! {
    /// Blocking form of [`crate::clients::ActorCollectionClient`].
    ActorCollectionClient {
        call fn list(&self, opts: &ActorListOptions) -> Result<ListPage<Actor>, Error>;
        iter fn iterate(&self, opts: &ActorListOptions) -> Actor;
        call fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<Actor, Error>;
    }

    /// Blocking form of [`crate::clients::ActorClient`].
    ActorClient {
        call fn get(&self) -> Result<Option<Actor>, Error>;
        call fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<Actor, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn start(&self, input: Option<&(dyn ToRunInput + Sync)>, opts: &StartOptions) -> Result<Run, Error>;
        call fn call(&self, input: Option<&(dyn ToRunInput + Sync)>, opts: &CallOptions) -> Result<Run, Error>;
        call fn build(&self, version_number: &str, opts: &BuildOptions) -> Result<Build, Error>;
        child fn builds(&self) -> BuildCollectionClient;
        child fn runs(&self) -> RunCollectionClient;
        wrap fn default_build(&self, wait_for_finish: Option<u64>) -> BuildClient;
        child fn last_run(&self, status: Option<ActorJobStatus>, origin: Option<&str>) -> RunClient;
        child fn versions(&self) -> ActorVersionCollectionClient;
        child fn version(&self, version_number: &str) -> ActorVersionClient;
        child fn webhooks(&self) -> WebhookCollectionClient;
        call fn validate_input(&self, input: &RunInput, build: Option<&str>) -> Result<bool, Error>;
    }

    /// Blocking form of [`crate::clients::ActorVersionCollectionClient`].
    ActorVersionCollectionClient {
        call fn list(&self) -> Result<ListPage<ActorVersion>, Error>;
        iter fn iterate(&self) -> ActorVersion;
        call fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<ActorVersion, Error>;
    }

    /// Blocking form of [`crate::clients::ActorVersionClient`].
    ActorVersionClient {
        call fn get(&self) -> Result<Option<ActorVersion>, Error>;
        call fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<ActorVersion, Error>;
        call fn delete(&self) -> Result<(), Error>;
        child fn env_vars(&self) -> ActorEnvVarCollectionClient;
        child fn env_var(&self, name: &str) -> ActorEnvVarClient;
    }

    /// Blocking form of [`crate::clients::ActorEnvVarCollectionClient`].
    ActorEnvVarCollectionClient {
        call fn list(&self) -> Result<ListPage<EnvVar>, Error>;
        iter fn iterate(&self) -> EnvVar;
        call fn create(&self, var: &EnvVar) -> Result<EnvVar, Error>;
    }

    /// Blocking form of [`crate::clients::ActorEnvVarClient`].
    ActorEnvVarClient {
        call fn get(&self) -> Result<Option<EnvVar>, Error>;
        call fn update(&self, var: &EnvVar) -> Result<EnvVar, Error>;
        call fn delete(&self) -> Result<(), Error>;
    }

    /// Blocking form of [`crate::clients::RunCollectionClient`].
    RunCollectionClient {
        call fn list(&self, opts: &ListRunsOptions) -> Result<ListPage<Run>, Error>;
        iter fn iterate(&self, opts: &ListRunsOptions) -> Run;
    }

    /// Blocking form of [`crate::clients::RunClient`].
    RunClient {
        call fn get(&self) -> Result<Option<Run>, Error>;
        call fn update(&self, fields: &RunUpdate) -> Result<Run, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn abort(&self, gracefully: Option<bool>) -> Result<Run, Error>;
        call fn wait_for_finish(&self, wait: Option<Duration>) -> Result<Option<Run>, Error>;
        call fn metamorph(&self, target_actor_id: &str, build: Option<&str>, input: Option<&(dyn ToRunInput + Sync)>) -> Result<Run, Error>;
        call fn resurrect(&self, opts: &ResurrectOptions) -> Result<Run, Error>;
        call fn reboot(&self) -> Result<Run, Error>;
        child fn dataset(&self) -> DatasetClient;
        child fn key_value_store(&self) -> KeyValueStoreClient;
        child fn request_queue(&self) -> RequestQueueClient;
        child fn log(&self) -> LogClient;
        call fn charge(&self, event_name: &str, opts: &ChargeOptions) -> Result<(), Error>;
        wrap fn get_streamed_log(&self, from_start: bool) -> StreamedLog;
        wrap fn get_status_message_watcher(&self, check_period: Duration) -> StatusMessageWatcher;
    }

    /// Blocking form of [`crate::clients::BuildCollectionClient`].
    BuildCollectionClient {
        call fn list(&self, opts: &PageOptions) -> Result<ListPage<Build>, Error>;
        iter fn iterate(&self, opts: &PageOptions) -> Build;
    }

    /// Blocking form of [`crate::clients::BuildClient`].
    BuildClient {
        call fn get(&self) -> Result<Option<Build>, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn abort(&self) -> Result<Build, Error>;
        call fn wait_for_finish(&self, wait: Option<Duration>) -> Result<Option<Build>, Error>;
        child fn log(&self) -> LogClient;
        call fn get_open_api_definition(&self) -> Result<serde_json::Value, Error>;
    }

    /// Blocking form of [`crate::clients::TaskCollectionClient`].
    TaskCollectionClient {
        call fn list(&self, opts: &PageOptions) -> Result<ListPage<Task>, Error>;
        iter fn iterate(&self, opts: &PageOptions) -> Task;
        call fn create(&self, fields: &(impl Serialize + ?Sized)) -> Result<Task, Error>;
    }

    /// Blocking form of [`crate::clients::TaskClient`].
    TaskClient {
        call fn get(&self) -> Result<Option<Task>, Error>;
        call fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<Task, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn start(&self, input: Option<&(dyn ToRunInput + Sync)>, opts: &StartOptions) -> Result<Run, Error>;
        call fn call(&self, input: Option<&(dyn ToRunInput + Sync)>, opts: &StartOptions, wait: Option<Duration>) -> Result<Run, Error>;
        call fn get_input(&self) -> Result<Option<serde_json::Value>, Error>;
        call fn update_input(&self, input: &serde_json::Value) -> Result<serde_json::Value, Error>;
        call fn publish(&self) -> Result<Task, Error>;
        call fn unpublish(&self) -> Result<Task, Error>;
        child fn runs(&self) -> RunCollectionClient;
        child fn last_run(&self, status: Option<ActorJobStatus>, origin: Option<&str>) -> RunClient;
        child fn webhooks(&self) -> WebhookCollectionClient;
    }
}

/// Blocking form of [`crate::clients::StreamedLog`]: the run's log redirected into `tracing` by a task
/// on the facade's runtime.
#[derive(Debug)]
pub struct StreamedLog {
    inner: crate::clients::StreamedLog,
    rt: Rt,
}

impl super::macros::IntoBlocking for crate::clients::StreamedLog {
    type Blocking = StreamedLog;
    fn into_blocking(self, rt: Rt) -> StreamedLog {
        StreamedLog { inner: self, rt }
    }
}

impl StreamedLog {
    /// Starts redirecting (see [`crate::clients::StreamedLog::start`]).
    pub fn start(&mut self) {
        let inner = &mut self.inner;
        // The task is spawned on the facade's runtime; starting waits for nothing.
        let _ = self.rt.run_plain(|| async { inner.start() });
    }

    /// Stops redirecting and waits for the last lines (see [`crate::clients::StreamedLog::stop`]).
    pub fn stop(&mut self) -> Result<(), Error> {
        let inner = &mut self.inner;
        self.rt.run_plain(|| inner.stop())
    }
}

/// Blocking form of [`crate::clients::StatusMessageWatcher`].
#[derive(Debug)]
pub struct StatusMessageWatcher {
    inner: crate::clients::StatusMessageWatcher,
    rt: Rt,
}

impl super::macros::IntoBlocking for crate::clients::StatusMessageWatcher {
    type Blocking = StatusMessageWatcher;
    fn into_blocking(self, rt: Rt) -> StatusMessageWatcher {
        StatusMessageWatcher { inner: self, rt }
    }
}

impl StatusMessageWatcher {
    /// Starts watching (see [`crate::clients::StatusMessageWatcher::start`]).
    pub fn start(&mut self) {
        let inner = &mut self.inner;
        let _ = self.rt.run_plain(|| async { inner.start() });
    }

    /// Stops watching (see [`crate::clients::StatusMessageWatcher::stop`]).
    pub fn stop(&mut self) -> Result<(), Error> {
        let inner = &mut self.inner;
        self.rt.run_plain(|| inner.stop())
    }
}
