//! One version of an Actor: `/v2/actors/{actorId}/versions/{versionNumber}`.

use serde::Serialize;

use super::{ActorEnvVarClient, ActorEnvVarCollectionClient, ResourceClient};
use crate::{pipeline::TimeoutTier, Error};

/// A version of an Actor: where its source is and how it builds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorVersion {
    /// The version number (`0.1`).
    pub version_number: String,
    /// `SOURCE_FILES`, `GIT_REPO`, `TARBALL` or `GITHUB_GIST`.
    pub source_type: Option<String>,
    /// The tag its builds get.
    pub build_tag: Option<String>,
    /// Whether the environment variables apply to the build too.
    pub apply_env_vars_to_build: Option<bool>,
    /// Every other field the API sent (`sourceFiles`, `gitRepoUrl`, `envVars`, ...).
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    ActorVersion {
        required: version_number;
        optional: source_type, build_tag, apply_env_vars_to_build
    }
}

/// A client for one Actor version.
#[derive(Clone, Debug)]
pub struct ActorVersionClient {
    pub(super) res: ResourceClient,
}

impl ActorVersionClient {
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        ActorVersionClient { res }
    }

    /// The version; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<ActorVersion>, Error> {
        self.res.get().await
    }

    /// Changes the fields in `fields` (the API's names: `buildTag`, `sourceFiles`, ...).
    pub async fn update(&self, fields: &(impl Serialize + ?Sized)) -> Result<ActorVersion, Error> {
        self.res.update(fields, TimeoutTier::Short).await
    }

    /// Deletes the version; a version that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }

    /// The version's environment variables.
    pub fn env_vars(&self) -> ActorEnvVarCollectionClient {
        ActorEnvVarCollectionClient::from_resource(self.res.child(&["env-vars"]))
    }

    /// One environment variable of the version.
    pub fn env_var(&self, name: &str) -> ActorEnvVarClient {
        ActorEnvVarClient::from_resource(self.res.child(&["env-vars", name]))
    }
}
