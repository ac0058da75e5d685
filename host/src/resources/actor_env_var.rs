//! One environment variable of an Actor version:
//! `/v2/actors/{actorId}/versions/{versionNumber}/env-vars/{envVarName}`.

use serde::Serialize;

use super::ResourceClient;
use crate::{pipeline::TimeoutTier, Error};

/// An environment variable of an Actor version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnvVar {
    /// The name.
    pub name: String,
    /// The value (the API leaves out the value of a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether the value is secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_secret: Option<bool>,
    /// Every other field the API sent.
    #[serde(flatten)]
    pub extra: super::Extra,
}

super::base::deserialize_with_extra! {
    EnvVar {
        required: name;
        optional: value, is_secret
    }
}

impl EnvVar {
    /// A variable to create or update.
    pub fn new(name: impl Into<String>, value: impl Into<String>, is_secret: bool) -> Self {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            is_secret: Some(is_secret),
            extra: super::Extra::new(),
        }
    }
}

/// A client for one environment variable.
#[derive(Clone, Debug)]
pub struct ActorEnvVarClient {
    pub(super) res: ResourceClient,
}

impl ActorEnvVarClient {
    pub(crate) fn from_resource(res: ResourceClient) -> Self {
        ActorEnvVarClient { res }
    }

    /// The variable; `None` if it does not exist.
    pub async fn get(&self) -> Result<Option<EnvVar>, Error> {
        self.res.get().await
    }

    /// Replaces the variable with `var`.
    pub async fn update(&self, var: &EnvVar) -> Result<EnvVar, Error> {
        self.res.update(var, TimeoutTier::Short).await
    }

    /// Deletes the variable; one that does not exist is not an error.
    pub async fn delete(&self) -> Result<(), Error> {
        self.res.delete().await
    }
}
