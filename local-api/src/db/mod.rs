//! The data (as mini-redis's `db.rs`): plain structs behind std locks. Nothing here knows
//! axum, spawns a task or names the [`AppState`](crate::state::AppState).
//!
//! Each storage kind lives in a [`Registry`](storage::Registry) that finds a storage by id or
//! name. Handlers take the storage's `Arc` out of the registry and release the registry lock
//! before doing any work, so no lock is ever held across an `.await`.

pub mod actors;
pub mod dataset;
pub mod items;
pub mod key_value_store;
pub mod kinds;
pub mod logs;
pub mod objects;
pub mod request_queue;
pub mod runs;
pub mod seed;
pub mod storage;
pub mod user;

use std::sync::Mutex;

use crate::config::manifest::ActorDefinition;
use actors::ActorRegistry;
use dataset::Dataset;
use key_value_store::KeyValueStore;
use logs::Logs;
use objects::Objects;
use request_queue::RequestQueue;
use runs::Runs;
use storage::Registry;

/// Every piece of data the server holds. Field access is lock-free; each store has its own
/// short-lived locks.
pub struct Db {
    pub datasets: Registry<Dataset>,
    pub key_value_stores: Registry<KeyValueStore>,
    pub request_queues: Registry<RequestQueue>,
    /// Run and build logs.
    pub logs: Logs,
    /// The registered Actors and their builds.
    pub actors: ActorRegistry,
    pub runs: Runs,
    /// Actor tasks.
    pub tasks: Objects,
    pub webhooks: Objects,
    pub webhook_dispatches: Objects,
    pub schedules: Objects,
    /// The user's limits (`PUT /v2/users/me/limits` changes them).
    pub limits: Mutex<serde_json::Value>,
}

impl Db {
    /// The data at start: the registered Actors with their first builds and build logs.
    /// `max_concurrent_runs` is reported in the user's limits; `max_log_bytes` caps each log.
    pub fn new(
        definitions: &[ActorDefinition],
        max_concurrent_runs: usize,
        max_log_bytes: usize,
    ) -> Self {
        let actors = ActorRegistry::new(definitions);
        let logs = Logs::new(max_log_bytes);
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
        Self {
            datasets: Registry::default(),
            key_value_stores: Registry::default(),
            request_queues: Registry::default(),
            logs,
            actors,
            runs: Runs::default(),
            tasks: Objects::default(),
            webhooks: Objects::default(),
            webhook_dispatches: Objects::default(),
            schedules: Objects::default(),
            limits: Mutex::new(user::default_limits(max_concurrent_runs)),
        }
    }

    /// Drops every storage and log.
    pub fn reset_storages(&self) {
        drop(self.datasets.clear());
        drop(self.key_value_stores.clear());
        drop(self.request_queues.clear());
        self.logs.clear();
    }
}
