//! A user: `/v2/users/{userId}`, or `/v2/users/me` for the owner of the token.

use serde::{Deserialize, Serialize};

use super::ResourceClient;
use std::sync::Arc;

use crate::{http::Pipeline, Error};

/// A user account. `GET /v2/users/me` tells more (email, plan, proxy) than the public data of
/// another user; fields the model does not name are in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The user id.
    #[serde(default)]
    pub id: Option<String>,
    /// The username.
    #[serde(default)]
    pub username: Option<String>,
    /// The email (own account only).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the account pays (own account only).
    #[serde(default)]
    pub is_paying: Option<bool>,
    /// When the account was created (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Every other field the API sent (`profile`, `plan`, `proxy`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A client for one user.
#[derive(Clone, Debug)]
pub struct UserClient {
    pub(super) res: ResourceClient,
}

impl UserClient {
    pub(crate) fn new(pipeline: &Arc<Pipeline>, id: Option<&str>) -> Self {
        UserClient {
            res: ResourceClient::item(pipeline, "users", id.unwrap_or("me")),
        }
    }

    /// The user, or `None` if there is no such user.
    pub async fn get(&self) -> Result<Option<User>, Error> {
        self.res.get().await
    }
}
