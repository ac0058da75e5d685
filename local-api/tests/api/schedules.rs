//! Schedules (stored, listed, with a log) and the user's usage and limits.

use serde_json::json;

use crate::common::{actors_config, data, expect_error, Ctx};

#[tokio::test]
async fn schedules_are_stored_listed_updated_and_logged() {
    let t = Ctx::start().await;
    let r = t
        .post_json(
            "/v2/schedules",
            &json!({
                "name": "nightly", "cronExpression": "0 3 * * *", "isEnabled": true,
                "actions": [{ "type": "RUN_ACTOR", "actorId": "abc" }],
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let schedule = data(r).await;
    let id = schedule["id"].as_str().unwrap();
    assert_eq!(schedule["timezone"], "UTC");
    assert_eq!(schedule["actions"][0]["id"].as_str().unwrap().len(), 17);
    assert!(schedule.get("__log").is_none());
    expect_error(
        t.post_json("/v2/schedules", &json!({ "cronExpression": "every day" }))
            .await,
        400,
        "invalid-value",
    )
    .await;
    expect_error(
        t.post_json(
            "/v2/schedules",
            &json!({ "name": "nightly", "cronExpression": "@daily" }),
        )
        .await,
        400,
        "name-not-unique",
    )
    .await;
    let updated = data(
        t.put_json(
            &format!("/v2/schedules/{id}"),
            &json!({ "isEnabled": false }),
        )
        .await,
    )
    .await;
    assert_eq!(updated["isEnabled"], false);
    assert_eq!(
        data(t.get("/v2/schedules/local-user~nightly").await).await["id"],
        id
    );
    let list = data(t.get("/v2/schedules").await).await;
    assert_eq!(
        (list["total"].as_u64(), list["count"].as_u64()),
        (Some(1), Some(1))
    );
    let log = data(t.get(&format!("/v2/schedules/{id}/log")).await).await;
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!(log[0]["level"], "INFO");
    assert_eq!(t.delete(&format!("/v2/schedules/{id}")).await.status(), 204);
    expect_error(
        t.get(&format!("/v2/schedules/{id}/log")).await,
        404,
        "record-not-found",
    )
    .await;
}

#[tokio::test]
async fn usage_counts_compute_units_and_limits_are_stored() {
    let t = Ctx::start_with(actors_config(&[])).await;
    t.start_run(
        "echo",
        "waitForFinish=60&memory=4096",
        &json!({ "sleepSecs": 1 }),
    )
    .await;
    let usage = data(t.get("/v2/users/me/usage/monthly").await).await;
    let units = usage["monthlyServiceUsage"]["ACTOR_COMPUTE_UNITS"]["quantity"]
        .as_f64()
        .unwrap();
    // 4 GB for at least a second: at least 4/3600 compute units.
    assert!(units >= 4.0 / 3600.0, "{units}");
    assert!(usage["usageCycle"]["startAt"]
        .as_str()
        .unwrap()
        .ends_with("01T00:00:00.000Z"));
    let r = t
        .put_json(
            "/v2/users/me/limits",
            &json!({ "maxMonthlyUsageUsd": 42, "dataRetentionDays": 3 }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let limits = data(t.get("/v2/users/me/limits").await).await;
    assert_eq!(limits["limits"]["maxMonthlyUsageUsd"], 42);
    assert_eq!(limits["limits"]["dataRetentionDays"], 3);
    assert_eq!(limits["current"]["actorCount"], 3);
    expect_error(
        t.put_json("/v2/users/me/limits", &json!({ "maxActorCount": 5 }))
            .await,
        400,
        "invalid-input",
    )
    .await;
    let public = data(t.get("/v2/users/local-user").await).await;
    assert_eq!(public["username"], "local-user");
    expect_error(t.get("/v2/users/someone").await, 404, "record-not-found").await;
}
