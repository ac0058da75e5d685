//! Everything a request handler can reach.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use tempfile::TempDir;

use crate::actors::registry::ActorRegistry;
use crate::actors::runs::Runs;
use crate::config::LocalApiConfig;
use crate::request_log::RequestLog;
use crate::store::datasets::Dataset;
use crate::store::key_value_stores::KeyValueStore;
use crate::store::logs::Logs;
use crate::store::objects::Objects;
use crate::store::request_queues::RequestQueue;
use crate::store::Registry;
use crate::users;

/// Who the server is and where it answers, for the URLs and ids inside resource objects.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `http://127.0.0.1:PORT`, without `/v2`.
    pub base_url: String,
    /// Where `consoleUrl`s point (the real console: there is no local one).
    pub console_url: String,
    /// The single user's `username`.
    pub username: String,
    /// The single user's `id`.
    pub user_id: String,
}

/// Shared server state. Field access is lock-free; each store has its own short-lived locks.
pub struct AppState {
    /// Identity used in resource objects.
    pub identity: Identity,
    /// Required token for `/v2`, if any.
    pub token: Option<String>,
    /// Datasets.
    pub datasets: Registry<Dataset>,
    /// Key-value stores.
    pub key_value_stores: Registry<KeyValueStore>,
    /// Request queues.
    pub request_queues: Registry<RequestQueue>,
    /// Run and build logs.
    pub logs: Logs,
    /// The registered Actors and their builds.
    pub actors: ActorRegistry,
    /// Actor runs.
    pub runs: Runs,
    /// Actor tasks.
    pub tasks: Objects,
    /// Webhooks.
    pub webhooks: Objects,
    /// Webhook dispatches.
    pub webhook_dispatches: Objects,
    /// Schedules.
    pub schedules: Objects,
    /// The user's limits (`PUT /v2/users/me/limits` changes them).
    pub limits: std::sync::Mutex<serde_json::Value>,
    /// Requests received.
    pub request_log: RequestLog,
    /// Largest JSON body accepted.
    pub max_payload_bytes: usize,
    /// The longest a `waitForFinish` request is held.
    pub max_wait_for_finish: std::time::Duration,
    /// The `GET /v2/users/me` answer, serialized once: it is the benchmarks' hot path.
    pub users_me: Bytes,
    // Declared last so it is dropped after the stores whose files live in it.
    data_dir: TempDir,
}

impl AppState {
    /// Creates the state and its temporary data folder.
    pub fn new(config: &LocalApiConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("apify-local-api-");
        let data_dir = match &config.data_dir {
            Some(parent) => {
                std::fs::create_dir_all(parent)?;
                builder.tempdir_in(parent)?
            }
            None => builder.tempdir()?,
        };
        let identity = Identity {
            base_url: format!("http://{addr}"),
            console_url: "https://console.apify.com".to_owned(),
            username: config.username.clone(),
            user_id: config.user_id.clone(),
        };
        let mut names = std::collections::HashSet::new();
        for def in &config.actors {
            if !names.insert(def.name.as_str()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "two Actors are named \"{}\": Actor names must be unique",
                        def.name
                    ),
                ));
            }
        }
        let actors = ActorRegistry::new(&config.actors);
        let logs = Logs::default();
        let by_id = actors.by_id();
        for build in actors.builds(None) {
            if let Some(actor) = by_id.get(build.act_id.as_str()) {
                logs.set(
                    &build.id,
                    ActorRegistry::build_log(&build, actor).into_bytes(),
                    true,
                );
            }
        }
        drop(by_id);
        Ok(Self {
            actors,
            runs: Runs::default(),
            tasks: Objects::default(),
            webhooks: Objects::default(),
            webhook_dispatches: Objects::default(),
            schedules: Objects::default(),
            limits: std::sync::Mutex::new(serde_json::json!({
                "maxMonthlyUsageUsd": 100,
                "maxMonthlyActorComputeUnits": 1000,
                "maxMonthlyExternalDataTransferGbytes": 100,
                "maxMonthlyProxySerps": 1000,
                "maxMonthlyResidentialProxyGbytes": 10,
                "maxActorMemoryGbytes": 32,
                "maxActorCount": 100,
                "maxActorTaskCount": 1000,
                "maxConcurrentActorJobs": 25,
                "maxTeamAccountSeatCount": 1,
                "dataRetentionDays": 7,
            })),
            users_me: users::users_me_body(&identity),
            identity,
            token: config.token.clone(),
            datasets: Registry::default(),
            key_value_stores: Registry::default(),
            request_queues: Registry::default(),
            logs,
            request_log: RequestLog::new(config.request_log_limit),
            max_payload_bytes: config.max_payload_bytes,
            max_wait_for_finish: config.max_wait_for_finish,
            data_dir,
        })
    }

    /// The temporary folder holding record bodies.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Drops every storage and log (the request log is left alone).
    pub fn reset_storages(&self) {
        drop(self.datasets.clear());
        drop(self.key_value_stores.clear());
        drop(self.request_queues.clear());
        self.logs.clear();
    }
}
