//! The registered Actors and their builds. Actors are registered when the server starts and
//! never through the API; their ids are derived from their names, so they stay the same from
//! one server start to the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::manifest::{pricing_info, ActorDefinition};
use crate::identity::Identity;
use crate::util::{format_millis, now_millis};

/// A stable 17-character alphanumeric id derived from `seed`.
pub fn stable_id(seed: &str) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(17)
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect()
}

/// One registered Actor.
pub struct Actor {
    /// The Actor's id.
    pub id: String,
    /// How its owner described it.
    pub def: ActorDefinition,
    /// Registration time (server start), epoch milliseconds.
    pub created_at: i64,
}

impl Actor {
    /// The `Actor` object of the API.
    pub fn to_json(&self, identity: &Identity, default_build: Option<&Build>) -> Value {
        let created = format_millis(self.created_at);
        let def = &self.def;
        let tagged = default_build.map(|b| {
            json!({ def.build_tag.clone(): {
                "buildId": b.id, "buildNumber": b.number, "finishedAt": b.finished_at.map(format_millis)
            }})
        });
        json!({
            "id": self.id,
            "userId": identity.user_id,
            "name": def.name,
            "username": identity.username,
            "title": def.title,
            "description": def.description,
            "restartOnError": false,
            "isPublic": false,
            "actorPermissionLevel": "LIMITED_PERMISSIONS",
            "createdAt": created,
            "modifiedAt": created,
            "stats": { "totalBuilds": 1, "totalRuns": 0, "totalUsers": 1, "totalUsers7Days": 1,
                       "totalUsers30Days": 1, "totalUsers90Days": 1, "totalMetamorphs": 0,
                       "lastRunStartedAt": null },
            "versions": [{
                "versionNumber": def.version,
                "sourceType": "SOURCE_FILES",
                "envVars": [],
                "applyEnvVarsToBuild": false,
                "buildTag": def.build_tag,
                "sourceFiles": [],
            }],
            "pricingInfos": pricing_info(def).into_iter().collect::<Vec<_>>(),
            "defaultRunOptions": {
                "build": def.build_tag,
                "timeoutSecs": def.timeout_secs,
                "memoryMbytes": def.memory_mbytes,
                "restartOnError": false,
            },
            "exampleRunInput": { "body": "{}", "contentType": "application/json; charset=utf-8" },
            "isDeprecated": false,
            "taggedBuilds": tagged,
            "categories": [],
            "isGeneric": false,
            "isSourceCodeHidden": false,
            "hasNoDataset": false,
        })
    }

    /// The `ActorShort` object of lists.
    pub fn to_short_json(&self, identity: &Identity) -> Value {
        let created = format_millis(self.created_at);
        json!({
            "id": self.id,
            "createdAt": created,
            "modifiedAt": created,
            "name": self.def.name,
            "username": identity.username,
            "title": self.def.title,
        })
    }

    /// The store listing object (`StoreListActor`).
    pub fn to_store_json(&self, identity: &Identity) -> Value {
        json!({
            "id": self.id,
            "title": self.def.title.clone().unwrap_or_else(|| self.def.name.clone()),
            "name": self.def.name,
            "username": identity.username,
            "userFullName": "Local User",
            "description": self.def.description,
            "categories": [],
            "notice": "NONE",
            "pictureUrl": null,
            "userPictureUrl": null,
            "url": format!("{}/v2/acts/{}", identity.base_url, self.id),
            "stats": { "totalBuilds": 1, "totalRuns": 0, "totalUsers": 1, "totalUsers7Days": 1,
                       "totalUsers30Days": 1, "totalUsers90Days": 1 },
            "currentPricingInfo": pricing_info(&self.def)
                .unwrap_or_else(|| json!({ "pricingModel": "FREE" })),
            "isWhiteLabelCustomerOnly": false,
        })
    }
}

/// A build of an Actor. Local Actors have nothing to build: a build goes READY → RUNNING →
/// SUCCEEDED at once, with a short log.
pub struct Build {
    /// Build id.
    pub id: String,
    /// The Actor's id.
    pub act_id: String,
    /// `MAJOR.MINOR.N`.
    pub number: String,
    /// Start, epoch milliseconds.
    pub started_at: i64,
    /// End, epoch milliseconds.
    pub finished_at: Option<i64>,
    /// Status (`SUCCEEDED`, or `ABORTED` never: builds finish before an abort could come).
    pub status: &'static str,
    /// `meta.origin`.
    pub origin: String,
}

impl Build {
    /// The `Build` object of the API.
    pub fn to_json(&self, identity: &Identity, actor: &Actor) -> Value {
        json!({
            "id": self.id,
            "actId": self.act_id,
            "userId": identity.user_id,
            "startedAt": format_millis(self.started_at),
            "finishedAt": self.finished_at.map(format_millis),
            "status": self.status,
            "meta": { "origin": self.origin, "clientIp": "127.0.0.1", "userAgent": null },
            "stats": { "durationMillis": self.finished_at.map(|f| f - self.started_at),
                       "runTimeSecs": 0, "computeUnits": 0 },
            "options": { "useCache": true, "betaPackages": false, "memoryMbytes": 1024, "diskMbytes": 2048 },
            "usageTotalUsd": 0,
            "buildNumber": self.number,
            "actVersion": actor.def.version,
            "inputSchema": actor.def.input_schema.as_ref().map(|s| s.to_string()),
            "actorDefinition": {
                "actorSpecification": 1,
                "name": actor.def.name,
                "version": actor.def.version,
                "buildTag": actor.def.build_tag,
                "input": actor.def.input_schema,
            },
        })
    }

    /// The `BuildShort` object of lists.
    pub fn to_short_json(&self) -> Value {
        json!({
            "id": self.id,
            "actId": self.act_id,
            "status": self.status,
            "startedAt": format_millis(self.started_at),
            "finishedAt": self.finished_at.map(format_millis),
            "usageTotalUsd": 0,
            "meta": { "origin": self.origin },
        })
    }
}

/// All registered Actors, by id and name, and their builds.
pub struct ActorRegistry {
    actors: Vec<Arc<Actor>>,
    builds: Mutex<Vec<Arc<Build>>>,
}

impl ActorRegistry {
    /// Registers the Actors (each gets a default build).
    pub fn new(defs: &[ActorDefinition]) -> Self {
        let now = now_millis();
        let actors: Vec<Arc<Actor>> = defs
            .iter()
            .map(|def| {
                Arc::new(Actor {
                    id: stable_id(&format!("actor:{}", def.name)),
                    def: def.clone(),
                    created_at: now,
                })
            })
            .collect();
        let registry = Self {
            actors,
            builds: Mutex::new(Vec::new()),
        };
        for actor in &registry.actors {
            registry.new_build(actor, "DEVELOPMENT");
        }
        registry
    }

    /// Every Actor, in registration order.
    pub fn all(&self) -> &[Arc<Actor>] {
        &self.actors
    }

    /// Finds an Actor by id, `username~name`, `username/name` or bare name.
    pub fn resolve(&self, id_or_name: &str, username: &str) -> Option<Arc<Actor>> {
        if let Some(a) = self.actors.iter().find(|a| a.id == id_or_name) {
            return Some(a.clone());
        }
        let name = match id_or_name.split_once(['~', '/']) {
            Some((user, name)) if user.is_empty() || user == username => name,
            Some(_) => return None,
            None => id_or_name,
        };
        self.actors.iter().find(|a| a.def.name == name).cloned()
    }

    /// A new build of `actor`, finished at once.
    pub fn new_build(&self, actor: &Actor, origin: &str) -> Arc<Build> {
        let mut builds = self
            .builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = builds.iter().filter(|b| b.act_id == actor.id).count() + 1;
        let now = now_millis();
        let build = Arc::new(Build {
            // The first build's id is stable, like the Actor's.
            id: if n == 1 {
                stable_id(&format!("build:{}", actor.def.name))
            } else {
                crate::util::new_id(17)
            },
            act_id: actor.id.clone(),
            number: format!("{}.{n}", actor.def.version),
            started_at: now,
            finished_at: Some(now),
            status: "SUCCEEDED",
            origin: origin.to_owned(),
        });
        builds.push(build.clone());
        build
    }

    /// A build by id.
    pub fn build(&self, id: &str) -> Option<Arc<Build>> {
        let builds = self
            .builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        builds.iter().find(|b| b.id == id).cloned()
    }

    /// The newest build of an Actor (the one its build tag points at).
    pub fn default_build(&self, act_id: &str) -> Option<Arc<Build>> {
        let builds = self
            .builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        builds.iter().rev().find(|b| b.act_id == act_id).cloned()
    }

    /// The build that `tag_or_number` names for an Actor: its build tag (or `latest`) is the
    /// newest build; else a build number or a build id.
    pub fn resolve_build(&self, act_id: &str, tag_or_number: &str) -> Option<Arc<Build>> {
        let actor = self.actors.iter().find(|a| a.id == act_id)?;
        if tag_or_number.is_empty()
            || tag_or_number == actor.def.build_tag
            || tag_or_number == "latest"
        {
            return self.default_build(act_id);
        }
        let builds = self
            .builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        builds
            .iter()
            .rev()
            .find(|b| b.act_id == act_id && (b.number == tag_or_number || b.id == tag_or_number))
            .cloned()
    }

    /// Builds, of one Actor or all, in creation order.
    pub fn builds(&self, act_id: Option<&str>) -> Vec<Arc<Build>> {
        let builds = self
            .builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        builds
            .iter()
            .filter(|b| act_id.is_none_or(|id| b.act_id == id))
            .cloned()
            .collect()
    }

    /// Forgets a build.
    pub fn remove_build(&self, id: &str) {
        self.builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|b| b.id != id);
    }

    /// The log text of a build. It does not show the Actor's command: a command line may hold
    /// secrets, and logs are readable by anyone with the run or build id.
    pub fn build_log(build: &Build, actor: &Actor) -> String {
        format!(
            // Not the command: it may hold secrets, and logs are readable by URL.
            "{} Building local Actor \"{}\" version {} (nothing to build: it runs its command)\n{} Build {} succeeded\n",
            format_millis(build.started_at),
            actor.def.name,
            actor.def.version,
            format_millis(build.finished_at.unwrap_or(build.started_at)),
            build.number
        )
    }

    /// Builds as a `HashMap` id → Actor, for lookups from builds.
    pub fn by_id(&self) -> HashMap<&str, &Arc<Actor>> {
        self.actors.iter().map(|a| (a.id.as_str(), a)).collect()
    }
}
