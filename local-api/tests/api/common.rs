//! Test helpers: start a server, build URLs, read the API's JSON.

use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::Value;

/// A running server and a client for it.
pub struct Ctx {
    pub api: LocalApi,
    pub http: reqwest::Client,
}

impl Ctx {
    /// A server without a token.
    pub async fn start() -> Ctx {
        Self::start_with(LocalApiConfig::default()).await
    }

    /// A server with this configuration.
    pub async fn start_with(config: LocalApiConfig) -> Ctx {
        let api = LocalApi::start(config).await.expect("server starts");
        Ctx {
            api,
            http: http_client(),
        }
    }

    /// `base_url + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api.base_url(), path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST sent")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("PUT sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE sent")
    }

    /// `POST /v2/{collection}?name=` and returns the new storage's id.
    pub async fn create(&self, collection: &str, name: &str) -> String {
        let r = self
            .http
            .post(self.url(&format!("/v2/{collection}?name={name}")))
            .send()
            .await
            .expect("POST sent");
        assert_eq!(r.status(), 201, "creating {collection} {name}");
        data(r).await["id"].as_str().expect("id").to_owned()
    }
}

/// The `data` of a successful answer.
pub async fn data(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.expect("JSON body");
    assert!(status.is_success(), "status {status}: {body}");
    body["data"].clone()
}

/// Checks an error answer's status and `error.type`, and that it has a message.
pub async fn expect_error(r: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    body
}

/// A response header as a string.
pub fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
        .to_str()
        .unwrap()
}

/// A plain-HTTP client. The workspace build unifies reqwest's features, and the transport
/// plugin enables `rustls-no-provider`, so a crypto provider must be installed before any
/// reqwest client is built, even one that never speaks TLS.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
