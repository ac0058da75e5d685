//! The single local user, as `GET /v2/users/me` describes it, and the limits it starts with.

use bytes::Bytes;
use serde_json::json;

use crate::identity::Identity;

/// The serialized `{"data": UserPrivateInfo}` answer, with every field the spec requires;
/// `max_concurrent_runs` is the server's configured limit.
pub fn users_me_body(identity: &Identity, max_concurrent_runs: usize) -> Bytes {
    let feature = json!({
        "isEnabled": true,
        "disabledReason": null,
        "disabledReasonType": null,
        "isTrial": false,
        "trialExpirationAt": null,
    });
    let features: serde_json::Map<String, serde_json::Value> = [
        "ACTORS",
        "STORAGE",
        "SCHEDULER",
        "PROXY",
        "PROXY_EXTERNAL_ACCESS",
        "PROXY_RESIDENTIAL",
        "PROXY_SERPS",
        "WEBHOOKS",
        "ACTORS_PUBLIC_ALL",
        "ACTORS_PUBLIC_DEVELOPER",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), feature.clone()))
    .collect();
    let body = json!({
        "data": {
            "id": identity.user_id,
            "username": identity.username,
            "profile": {
                "bio": null,
                "name": "Local User",
                "pictureUrl": null,
                "githubUsername": null,
                "websiteUrl": null,
                "twitterUsername": null,
            },
            "email": format!("{}@localhost", identity.username),
            "proxy": {
                "password": "local-proxy-password",
                "groups": [{ "name": "AUTO", "description": "Local placeholder", "availableCount": 0 }],
            },
            "plan": {
                "id": "LOCAL",
                "isEnabled": true,
                "monthlyBasePriceUsd": 0,
                "monthlyUsageCreditsUsd": 0,
                "usageDiscountPercent": 0,
                "enabledPlatformFeatures": ["ACTORS", "STORAGE", "PROXY", "SCHEDULER", "WEBHOOKS"],
                "maxMonthlyUsageUsd": 0,
                "maxActorMemoryGbytes": 32,
                "maxMonthlyActorComputeUnits": 0,
                "maxMonthlyResidentialProxyGbytes": 0,
                "maxMonthlyProxySerps": 0,
                "maxMonthlyExternalDataTransferGbytes": 0,
                "maxActorCount": 100,
                "maxActorTaskCount": 1000,
                "dataRetentionDays": 7,
                "availableProxyGroups": { "AUTO": 0 },
                "teamAccountSeatCount": 1,
                "supportLevel": "COMMUNITY",
                "availableAddOns": [],
                "tier": "FREE",
                "apiRateLimitBoosts": 0,
                "maxScheduleCount": 100,
                "maxConcurrentActorRuns": max_concurrent_runs,
                "planPricing": {},
            },
            "effectivePlatformFeatures": features,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "isPaying": false,
        }
    });
    serde_json::to_vec(&body)
        .expect("serializing JSON cannot fail")
        .into()
}

/// The user's limits at start (`PUT /v2/users/me/limits` changes them);
/// `max_concurrent_runs` is the server's configured limit.
pub fn default_limits(max_concurrent_runs: usize) -> serde_json::Value {
    json!({
        "maxMonthlyUsageUsd": 100,
        "maxMonthlyActorComputeUnits": 1000,
        "maxMonthlyExternalDataTransferGbytes": 100,
        "maxMonthlyProxySerps": 1000,
        "maxMonthlyResidentialProxyGbytes": 10,
        "maxActorMemoryGbytes": 32,
        "maxActorCount": 100,
        "maxActorTaskCount": 1000,
        "maxConcurrentActorJobs": max_concurrent_runs,
        "maxTeamAccountSeatCount": 1,
        "dataRetentionDays": 7,
    })
}
