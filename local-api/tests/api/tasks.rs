//! Actor tasks: CRUD, input, runs with the task's input merged with the body, last run.

use serde_json::{json, Value};

use crate::common::{actors_config, data, expect_error, Ctx};

#[tokio::test]
async fn a_task_runs_its_actor_with_merged_input_and_options() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let r = t
        .post_json(
            "/v2/actor-tasks",
            &json!({
                "actId": "echo", "name": "my-echo",
                "options": { "memoryMbytes": 512 },
                "input": { "items": [{ "from": "task" }], "keep": 1 },
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let task = data(r).await;
    let id = task["id"].as_str().unwrap();
    let echo = data(t.get("/v2/acts/echo").await).await;
    assert_eq!(task["actId"], echo["id"]);
    assert_eq!(task["options"]["memoryMbytes"], 512);
    assert_eq!(
        data(t.get("/v2/actor-tasks/local-user~my-echo").await).await["id"],
        id
    );
    expect_error(
        t.post_json(
            "/v2/actor-tasks",
            &json!({ "actId": "echo", "name": "my-echo" }),
        )
        .await,
        400,
        "name-not-unique",
    )
    .await;
    expect_error(
        t.post_json("/v2/actor-tasks", &json!({ "actId": "nope", "name": "x" }))
            .await,
        404,
        "record-not-found",
    )
    .await;

    let input: Value = t
        .get(&format!("/v2/actor-tasks/{id}/input"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(input["keep"], 1);
    let r = t
        .put_json(
            &format!("/v2/actor-tasks/{id}/input"),
            &json!({ "items": [{ "from": "task" }], "keep": 2 }),
        )
        .await;
    assert_eq!(r.status(), 200);

    // The body's fields override the task's input; the task's options apply.
    let r = t
        .post_json(
            &format!("/v2/actor-tasks/{id}/runs?waitForFinish=60"),
            &json!({ "items": [{ "from": "body" }] }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let run = data(r).await;
    assert_eq!(run["status"], "SUCCEEDED");
    assert_eq!(run["actorTaskId"], id);
    assert_eq!(run["options"]["memoryMbytes"], 512);
    let run_id = run["id"].as_str().unwrap();
    let stored: Value = t
        .get(&format!(
            "/v2/actor-runs/{run_id}/key-value-store/records/INPUT"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored, json!({ "items": [{ "from": "body" }], "keep": 2 }));
    // Without a body, the task's input as it is; `memory` in the query wins.
    let run = data(
        t.http
            .post(t.url(&format!(
                "/v2/actor-tasks/{id}/runs?waitForFinish=60&memory=1024"
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(run["options"]["memoryMbytes"], 1024);
    let items: Value = t
        .get(&format!("/v2/actor-tasks/{id}/runs/last/dataset/items"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items, json!([{ "from": "task" }]));
    assert_eq!(
        data(t.get(&format!("/v2/actor-tasks/{id}/runs/last")).await).await["id"],
        run["id"]
    );
    let runs = data(t.get(&format!("/v2/actor-tasks/{id}/runs")).await).await;
    assert_eq!(runs["total"], 2);
    assert_eq!(
        data(t.get(&format!("/v2/actor-tasks/{id}")).await).await["stats"]["totalRuns"],
        2
    );

    let updated = data(
        t.put_json(
            &format!("/v2/actor-tasks/{id}"),
            &json!({ "name": "renamed", "options": { "timeoutSecs": 9 } }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            updated["name"].as_str(),
            updated["options"]["timeoutSecs"].as_u64()
        ),
        (Some("renamed"), Some(9))
    );
    assert_eq!(data(t.get("/v2/actor-tasks").await).await["total"], 1);
    assert_eq!(
        t.delete(&format!("/v2/actor-tasks/{id}")).await.status(),
        204
    );
    expect_error(
        t.get(&format!("/v2/actor-tasks/{id}")).await,
        404,
        "record-not-found",
    )
    .await;
}
