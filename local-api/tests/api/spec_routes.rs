//! Every route the server implements exists in the official OpenAPI spec, and the router
//! really serves every route it claims.

use std::path::PathBuf;

use apify_local_api::V2_ROUTES;
use serde_json::Value;

use crate::common::Ctx;

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/apify-openapi.json")
}

#[test]
fn every_route_is_in_the_spec() {
    let path = spec_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: the OpenAPI spec is not at {}", path.display());
        return;
    };
    let spec: Value = serde_json::from_str(&text).expect("the spec is JSON");
    let paths = spec["paths"].as_object().expect("spec has paths");
    let mut missing = Vec::new();
    for (method, route) in V2_ROUTES {
        let ok = paths
            .get(*route)
            .and_then(|p| p.get(method.to_ascii_lowercase()))
            .is_some();
        if !ok {
            missing.push(format!("{method} {route}"));
        }
    }
    assert!(missing.is_empty(), "routes not in the spec: {missing:?}");
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let t = Ctx::start().await;
    for (method, route) in V2_ROUTES {
        let path = route
            .replace("{datasetId}", "x")
            .replace("{storeId}", "x")
            .replace("{queueId}", "x")
            .replace("{recordKey}", "k")
            .replace("{requestId}", "r")
            .replace("{buildOrRunId}", "x")
            .replace("{actorId}", "x")
            .replace("{runId}", "x")
            .replace("{buildId}", "x")
            .replace("{actorTaskId}", "x")
            .replace("{webhookId}", "x")
            .replace("{dispatchId}", "x")
            .replace("{scheduleId}", "x")
            .replace("{userId}", "x")
            .replace("{versionNumber}", "x");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = t
            .http
            .request(method.clone(), t.url(&path))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if method == reqwest::Method::HEAD {
            assert_ne!(status, 405, "{method} {path}");
            continue;
        }
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let kind = body["error"]["type"].as_str().unwrap_or("");
        assert!(
            kind != "page-not-found" && kind != "method-not-allowed",
            "{method} {path} is not routed: {status} {body}"
        );
    }
}
