//! Everything a request handler can reach: values derived from the configuration, the
//! [`Db`], and the `find_*` lookups that answer 404 (mini-redis's "`Db` answers, the command
//! decides").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tempfile::TempDir;

use crate::config::LocalApiConfig;
use crate::db::actors::Actor;
use crate::db::kinds::StorageKind;
use crate::db::runs::{status_filter, Run, RunFilter};
use crate::db::{user, Db};
use crate::error::{ApiError, ApiResult};
use crate::identity::Identity;
use crate::params::Params;
use crate::request_log::RequestLog;

/// Shared server state. Field access is lock-free; each store has its own short-lived locks.
pub struct AppState {
    /// Identity used in resource objects.
    pub identity: Identity,
    /// Required token for `/v2`, if any.
    pub token: Option<String>,
    /// The data.
    pub db: Db,
    /// Requests received.
    pub request_log: RequestLog,
    /// Largest JSON body accepted.
    pub max_payload_bytes: usize,
    /// The longest a `waitForFinish` request is held.
    pub max_wait_for_finish: std::time::Duration,
    /// Largest record accepted, decoded.
    pub max_record_bytes: u64,
    /// The `Host` values this server answers when it listens on a loopback address (lower
    /// case); `None` on other addresses, where there is no Host check.
    pub own_hosts: Option<Vec<String>>,
    /// The browser origins that count as this server's own (lower case).
    pub own_origins: Vec<String>,
    /// The `GET /v2/users/me` answer, serialized once: it is the benchmarks' hot path.
    pub users_me: Bytes,
    /// The address the server listens on: webhooks may not call it.
    pub addr: SocketAddr,
    /// How many runs may be live at once.
    pub max_concurrent_runs: usize,
    /// `APIFY_TOKEN` of runs: the server's token, or a random one made for this server when it
    /// has none (the gate then ignores tokens). Never empty: the Python SDK refuses to open a
    /// storage without a token.
    pub run_token: String,
    /// The server's environment variables runs get besides the allow-list
    /// ([`LocalApiConfig::pass_env`]).
    pub pass_env: Vec<String>,
    // Declared last so it is dropped after the stores whose files live in it.
    data_dir: TempDir,
}

/// `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` and the bound address itself (another
/// 127.x, or `0.0.0.0:PORT`), lower case; for port 80 also the same without the port, as
/// clients and browsers leave the default port out.
fn own_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let bound = addr.to_string().to_ascii_lowercase();
    if !hosts.contains(&bound) {
        hosts.push(bound);
    }
    if port == 80 {
        let bare: Vec<String> = hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(str::to_owned))
            .collect();
        hosts.extend(bare);
    }
    hosts
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
        Ok(Self {
            db: Db::new(
                &config.actors,
                config.max_concurrent_runs,
                config.max_log_bytes,
            ),
            users_me: user::users_me_body(&identity, config.max_concurrent_runs),
            addr,
            max_concurrent_runs: config.max_concurrent_runs,
            identity,
            token: config.token.clone().filter(|t| !t.is_empty()),
            run_token: config
                .token
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| crate::util::new_id(32)),
            pass_env: config.pass_env.clone(),
            request_log: RequestLog::new(config.request_log_limit),
            max_payload_bytes: config.max_payload_bytes,
            max_record_bytes: config.max_record_bytes,
            own_hosts: addr.ip().is_loopback().then(|| {
                let mut hosts = own_hosts(addr);
                hosts.extend(
                    config
                        .allowed_hosts
                        .iter()
                        .map(|h| h.trim().to_ascii_lowercase()),
                );
                hosts
            }),
            own_origins: own_hosts(addr)
                .into_iter()
                .map(|host| format!("http://{host}"))
                .collect(),
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
        self.db.reset_storages();
    }

    /// Finds a storage by id or name, or answers 404 `record-not-found`.
    pub fn find_storage<T: StorageKind>(&self, id: &str) -> ApiResult<Arc<T>> {
        T::registry(&self.db)
            .resolve(id, &self.identity.username)
            .ok_or_else(|| ApiError::not_found(format!("{} was not found", T::LABEL)))
    }

    /// Finds a registered Actor, or answers 404 `record-not-found`.
    pub fn find_actor(&self, id: &str) -> ApiResult<Arc<Actor>> {
        self.db
            .actors
            .resolve(id, &self.identity.username)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Actor \"{id}\" was not found: this local API runs only the Actors registered when it started (--actors DIR, --actor NAME=COMMAND)"
                ))
            })
    }

    /// A task by id or `username~name`, or 404.
    pub fn find_task(&self, id: &str) -> ApiResult<Value> {
        self.db
            .tasks
            .get(id, &self.identity.username)
            .ok_or_else(|| ApiError::not_found(format!("Actor task \"{id}\" was not found")))
    }

    /// Finds the run a path names: `{runId}`, or the last run of `{actorId}` (or of
    /// `{actorTaskId}`) with the `status` and `origin` filters.
    pub fn find_run(&self, path: &HashMap<String, String>, p: &Params) -> ApiResult<Arc<Run>> {
        if let Some(run_id) = path.get("runId") {
            let run = self.db.runs.get(run_id).ok_or_else(|| {
                ApiError::not_found(format!("Actor run \"{run_id}\" was not found"))
            })?;
            if let Some(actor_id) = path.get("actorId") {
                let actor = self.find_actor(actor_id)?;
                if run.origin_act_id != actor.id {
                    return Err(ApiError::not_found(format!(
                        "Actor run \"{run_id}\" was not found among the runs of Actor \"{actor_id}\""
                    )));
                }
            }
            return Ok(run);
        }
        let actor = path
            .get("actorId")
            .map(|id| self.find_actor(id))
            .transpose()?;
        let task_id = match path.get("actorTaskId") {
            Some(id) => self.find_task(id)?["id"].as_str().map(str::to_owned),
            None => None,
        };
        let filter = RunFilter {
            act_id: actor.as_ref().map(|a| a.id.as_str()),
            task_id: task_id.as_deref(),
            statuses: status_filter(p)?,
            origin: p.string("origin"),
        };
        self.db.runs.last(&filter).ok_or_else(|| {
            ApiError::not_found("No run matches: the Actor has no run with this status and origin")
        })
    }
}
