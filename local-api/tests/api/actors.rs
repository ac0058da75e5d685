//! Actor registration (manifests, one-offs), Actor and build objects, the store listing.

use apify_local_api::LocalApiConfig;
use serde_json::{json, Value};

use crate::common::{actors_config, data, expect_error, Ctx};

#[test]
fn a_malformed_manifest_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bad")).unwrap();
    let manifest = dir.path().join("bad/actor.json");
    std::fs::write(
        &manifest,
        r#"{"name": "bad", "run": "./x.sh", "defaultRunOptions": {"memoryMbytes": "lots"}}"#,
    )
    .unwrap();
    let err = LocalApiConfig::default()
        .load_actors_dir(dir.path())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&manifest.display().to_string()), "{text}");
    assert!(text.contains("defaultRunOptions.memoryMbytes"), "{text}");

    std::fs::write(&manifest, r#"{"name": "bad"}"#).unwrap();
    let err = LocalApiConfig::default()
        .load_actors_dir(dir.path())
        .unwrap_err();
    assert_eq!(err.field, "run");
    std::fs::write(&manifest, "{not json").unwrap();
    let err = LocalApiConfig::default()
        .load_actors_dir(dir.path())
        .unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn the_binary_refuses_a_malformed_manifest_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bad")).unwrap();
    std::fs::write(
        dir.path().join("bad/actor.json"),
        r#"{"name": "no spaces allowed", "run": "x"}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apify-local-api"))
        .arg("--actors")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad/actor.json") && stderr.contains("\"name\""),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
}

#[test]
fn one_off_actors_parse_as_name_equals_command() {
    let mut config = LocalApiConfig::default();
    config.add_actor("fail=sh -c 'exit 3'").unwrap();
    assert_eq!(config.actors[0].name, "fail");
    assert_eq!(config.actors[0].command, "sh -c 'exit 3'");
    for bad in ["no-command", "=exit 0", "two words=exit 0", "empty= "] {
        let err = config.add_actor(bad).unwrap_err().to_string();
        assert!(err.contains("--actor"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn actors_are_listed_found_by_name_and_have_a_default_build() {
    let t = Ctx::start_with(actors_config(&["hello=echo hello"])).await;
    let list = data(t.get("/v2/acts").await).await;
    assert_eq!(list["total"], 4);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["charge", "echo", "slow-fail", "hello"]);
    let echo = data(t.get("/v2/acts/local-user~echo").await).await;
    assert_eq!(echo["id"].as_str().unwrap().len(), 17);
    assert_eq!(echo["title"], "Echo");
    assert_eq!(echo["defaultRunOptions"]["memoryMbytes"], 256);
    assert_eq!(echo["defaultRunOptions"]["timeoutSecs"], 300);
    let id = echo["id"].as_str().unwrap();
    // The same id through the spec's spelling, and again after a restart: ids are stable.
    assert_eq!(
        data(t.get(&format!("/v2/actors/{id}")).await).await["name"],
        "echo"
    );
    let again = Ctx::start_with(actors_config(&[])).await;
    assert_eq!(data(again.get("/v2/acts/echo").await).await["id"], id);
    expect_error(t.get("/v2/acts/nobody").await, 404, "record-not-found").await;
    expect_error(
        t.get("/v2/acts/someone-else~echo").await,
        404,
        "record-not-found",
    )
    .await;

    // Registration is at startup only: the API says so.
    let body = expect_error(
        t.post_json("/v2/acts", &json!({ "name": "x" })).await,
        400,
        "invalid-input",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--actors DIR"),
        "{body}"
    );
    expect_error(
        t.delete(&format!("/v2/acts/{id}")).await,
        400,
        "invalid-input",
    )
    .await;
    let versions = data(t.get(&format!("/v2/acts/{id}/versions")).await).await;
    assert_eq!(versions["items"][0]["versionNumber"], "0.1");
    assert_eq!(
        data(t.get(&format!("/v2/acts/{id}/versions/0.1")).await).await["buildTag"],
        "latest"
    );
    expect_error(
        t.get(&format!("/v2/acts/{id}/versions/9.9")).await,
        404,
        "record-not-found",
    )
    .await;

    let build = data(t.get(&format!("/v2/acts/{id}/builds/default")).await).await;
    assert_eq!(build["status"], "SUCCEEDED");
    assert_eq!(build["buildNumber"], "0.1.1");
    assert_eq!(build["actId"], id);
    let build_id = build["id"].as_str().unwrap();
    let log = t
        .get(&format!("/v2/actor-builds/{build_id}/log"))
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("succeeded"), "{log}");
    let r = t
        .http
        .post(t.url(&format!("/v2/acts/{id}/builds")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let second = data(r).await;
    assert_eq!(second["buildNumber"], "0.1.2");
    let builds = data(t.get(&format!("/v2/acts/{id}/builds?desc=1")).await).await;
    assert_eq!(builds["total"], 2);
    assert_eq!(builds["items"][0]["id"], second["id"]);
    let got = data(
        t.get(&format!(
            "/v2/actor-builds/{}?waitForFinish=5",
            second["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(got["status"], "SUCCEEDED");
    // The tag points at the newest build, which cannot be deleted; the older one can.
    expect_error(
        t.delete(&format!(
            "/v2/actor-builds/{}",
            second["id"].as_str().unwrap()
        ))
        .await,
        400,
        "invalid-input",
    )
    .await;
    assert_eq!(
        t.delete(&format!("/v2/actor-builds/{build_id}"))
            .await
            .status(),
        204
    );
    let openapi: Value = t
        .get(&format!(
            "/v2/actor-builds/{}/openapi.json",
            second["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        openapi["components"]["schemas"]["inputSchema"]["properties"]["sleepSecs"]["type"],
        "integer"
    );
}

#[tokio::test]
async fn the_store_lists_the_registered_actors() {
    let t = Ctx::start_with(actors_config(&[])).await;
    let all = data(t.get("/v2/store").await).await;
    assert_eq!(all["total"], 3);
    let found = data(t.get("/v2/store?search=idempotency").await).await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["items"][0]["name"], "charge");
    assert_eq!(
        found["items"][0]["currentPricingInfo"]["pricingModel"],
        "PAY_PER_EVENT"
    );
    let free = data(t.get("/v2/store?pricingModel=FREE&limit=1&offset=1").await).await;
    assert_eq!(
        (free["total"].as_u64(), free["count"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(free["items"][0]["name"], "slow-fail");
    assert_eq!(
        data(t.get("/v2/store?username=other").await).await["total"],
        0
    );
}
