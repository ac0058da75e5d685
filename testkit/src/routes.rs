//! Default routes, used when no scripted action is queued for a path.
//!
//! Routes ignore the method (a `POST /status/503` is as useful to a retry test as a
//! `GET`); `HEAD` gets the same head without a body.

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Action, LoggedRequest};

/// Picks the default action for a request. `encoded_len` is the body length as sent
/// (de-chunked, not content-decoded), which the log does not keep.
pub(crate) fn default_action(req: &LoggedRequest, encoded_len: u64) -> Action {
    let path = req.path.as_str();
    if is_digest_path(path) {
        return Action::json(
            201,
            json!({"data": {
                "bodyLength": req.body_len,
                "bodySha256": req.body_sha256,
                "encodedLength": encoded_len,
            }}),
        );
    }
    if path == "/echo" {
        return echo(req);
    }
    if path == "/small" {
        return Action::Respond {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: small_body().to_vec(),
        };
    }
    if path == "/v2/users/me" {
        return Action::Respond {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: user_me_body().to_vec(),
        };
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        return match n.parse::<u64>() {
            Ok(len) => Action::PatternBody {
                len,
                chunked: query_pairs(req.query.as_deref())
                    .any(|(k, v)| k == "chunked" && matches!(v.as_str(), "1" | "true")),
            },
            Err(_) => apify_error(400, "invalid-input", &format!("invalid byte count: {n:?}")),
        };
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return match code.parse::<u16>() {
            // 1xx are interim responses: a client would wait for a final one forever.
            Ok(code @ 200..=999) => status_response(code),
            _ => apify_error(400, "invalid-input", &format!("invalid status: {code:?}")),
        };
    }
    apify_error(
        404,
        "record-not-found",
        &format!("No route for {} {}", req.method, req.path),
    )
}

/// Whether request bodies on this path are digested instead of kept (see the crate
/// docs).
pub(crate) fn is_digest_path(path: &str) -> bool {
    path.starts_with("/digest/")
}

/// `Action::status`: an Apify-shaped error body for 4xx/5xx, empty otherwise.
pub(crate) fn status_response(status: u16) -> Action {
    if (400..600).contains(&status) {
        let kind = match status {
            400 => "invalid-input",
            401 => "token-not-provided",
            403 => "insufficient-permissions",
            404 => "record-not-found",
            405 => "method-not-allowed",
            408 => "request-timeout",
            409 => "conflict",
            413 => "request-too-large",
            429 => "rate-limit-exceeded",
            500 => "internal-server-error",
            502 => "bad-gateway",
            503 => "service-unavailable",
            504 => "gateway-timeout",
            s if s < 500 => "client-error",
            _ => "server-error",
        };
        apify_error(status, kind, &format!("Test server answered {status}"))
    } else {
        Action::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A response with an Apify-shaped error body.
pub(crate) fn apify_error(status: u16, kind: &str, message: &str) -> Action {
    Action::json(status, json!({"error": {"type": kind, "message": message}}))
}

/// ~1 KiB, shaped like an Apify "get run" response. Built once: `/small` is the
/// requests-per-second benchmark route and should cost nothing but the copy.
fn small_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| {
        let v = json!({"data": {
            "id": "HG7ML7M8z78YcAPEB",
            "actId": "HDSasDasz78YcAPEB",
            "userId": "7sT5jcggjjA9fNcxF",
            "actorTaskId": "KJHSKHausidyaJKHs",
            "startedAt": "2019-11-30T07:34:24.202Z",
            "finishedAt": "2019-12-12T09:30:12.202Z",
            "status": "SUCCEEDED",
            "statusMessage": "Actor has finished",
            "isStatusMessageTerminal": true,
            "meta": {"origin": "API", "clientIp": "172.234.12.34",
                     "userAgent": "Mozilla/5.0 (iPad)"},
            "stats": {"inputBodyLen": 240, "migrationCount": 0, "restartCount": 0,
                      "resurrectCount": 2, "memAvgBytes": 267_874_071_i64,
                      "memMaxBytes": 404_713_472_i64, "memCurrentBytes": 0,
                      "cpuAvgUsage": 33.7532101107538, "cpuMaxUsage": 169.650735534941,
                      "cpuCurrentUsage": 0, "netRxBytes": 103_508_042_i64,
                      "netTxBytes": 4_854_600, "durationMillis": 248_472,
                      "runTimeSecs": 248.472, "metamorph": 0, "computeUnits": 0.13804},
            "options": {"build": "latest", "timeoutSecs": 300, "memoryMbytes": 1024,
                        "diskMbytes": 2048},
            "buildId": "7sT5jcggjjA9fNcxF",
            "exitCode": 0,
            "defaultKeyValueStoreId": "eJNzqsbPiopwJcgGQ",
            "defaultDatasetId": "wmKPijuyDnPZAPRMk",
            "defaultRequestQueueId": "FL35cSF7jrxr3BY39",
            "buildNumber": "0.0.36",
            "containerUrl": "https://g8kd8kbc5ge8.runs.apify.net",
            "usageTotalUsd": 0.2654,
            "generalAccess": "RESTRICTED"
        }});
        serde_json::to_vec(&v).expect("static JSON")
    })
}

/// ~1 KiB, shaped like the Apify "get user" (`/v2/users/me`) response: the benches' full-client
/// route (`client.me().get()`), also served by their dedicated minimal server.
pub fn user_me_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| {
        let v = json!({"data": {
            "id": "YiKoxjkaS9gjGTqhF",
            "username": "bench-user",
            "profile": {"bio": "A user for benchmarks", "name": "Bench User",
                        "pictureUrl": "https://apify.com/img/anonymous.png",
                        "githubUsername": "bench", "websiteUrl": "https://example.com",
                        "twitterUsername": "@bench"},
            "email": "bench@example.com",
            "proxy": {"password": "ad78knd9Jkjd86", "groups": [
                {"name": "Group1", "description": "Group1 description", "availableCount": 10},
                {"name": "Group2", "description": "Group2 description", "availableCount": 5}]},
            "plan": {"id": "Personal", "description": "Cost-effective plan for freelancers",
                     "isEnabled": true, "monthlyBasePriceUsd": 49,
                     "monthlyUsageCreditsUsd": 49, "usageDiscountPercent": 0,
                     "enabledPlatformFeatures": ["ACTORS", "STORAGE", "PROXY_SERPS",
                                                 "SCHEDULER", "WEBHOOKS"],
                     "maxMonthlyUsageUsd": 9999, "maxActorMemoryGbytes": 32,
                     "maxMonthlyActorComputeUnits": 1000, "maxMonthlyResidentialProxyGbytes": 10,
                     "maxMonthlyProxySerps": 30000, "maxMonthlyExternalDataTransferGbytes": 1000,
                     "maxActorCount": 100, "maxActorTaskCount": 1000,
                     "dataRetentionDays": 14, "availableProxyGroups": {"SUPER": 10},
                     "teamAccountSeatCount": 1, "supportLevel": "COMMUNITY",
                     "availableAddOns": []},
            "effectivePlatformFeatures": {"ACTORS": {"isEnabled": true,
                "disabledReason": null, "disabledReasonType": null, "isTrial": false,
                "trialExpirationAt": null}},
            "createdAt": "2022-11-29T14:48:29.381Z",
            "isPaying": true
        }});
        serde_json::to_vec(&v).expect("static JSON")
    })
}

/// `ANY /echo`: describes the request as JSON. Query `status=NNN` sets the status,
/// repeatable `header=Name:Value` adds response headers, `content_type=` overrides
/// the content type.
fn echo(req: &LoggedRequest) -> Action {
    let mut status = 200;
    let mut content_type = "application/json".to_owned();
    let mut extra = Vec::new();
    for (k, v) in query_pairs(req.query.as_deref()) {
        match k.as_str() {
            "status" => match v.parse::<u16>() {
                Ok(s @ 200..=999) => status = s,
                _ => return apify_error(400, "invalid-input", &format!("invalid status {v:?}")),
            },
            "content_type" => content_type = v,
            "header" => match v.split_once(':') {
                Some((name, value)) => {
                    extra.push((name.trim().to_owned(), value.trim().to_owned()))
                }
                None => return apify_error(400, "invalid-input", &format!("invalid header {v:?}")),
            },
            _ => {}
        }
    }
    let body = &req.body;
    let doc = json!({
        "method": req.method,
        "path": req.path,
        "query": req.query,
        // Already lowercased when the request was parsed.
        "headers": req.headers.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
        "body_len": body.len(),
        "body_sha256": crate::pattern::to_hex(&Sha256::digest(body)),
        "body_utf8": std::str::from_utf8(body).ok(),
        "body_base64": base64::engine::general_purpose::STANDARD.encode(body),
    });
    let mut headers = vec![("content-type".to_owned(), content_type)];
    headers.extend(extra);
    Action::Respond {
        status,
        headers,
        body: serde_json::to_vec(&doc).expect("JSON"),
    }
}

/// `application/x-www-form-urlencoded` pairs of a query string, percent-decoded.
pub(crate) fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                // Not an escape: keep the '%' literally, like browsers do.
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(form_decode("a+b%20c%3A"), "a b c:");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
        let pairs: Vec<_> = query_pairs(Some("header=X-A%3A1&header=X-B:2&flag")).collect();
        assert_eq!(
            pairs,
            vec![
                ("header".into(), "X-A:1".into()),
                ("header".into(), "X-B:2".into()),
                ("flag".into(), "".into())
            ]
        );
    }

    #[test]
    fn small_body_is_about_a_kib() {
        let n = small_body().len();
        assert!((900..1400).contains(&n), "{n}");
    }
}
