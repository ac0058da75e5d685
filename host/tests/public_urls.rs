//! Public storage URLs: built on `api_public_url` with the options in the query, signed with
//! the storage's `urlSigningSecretKey` (as the Python client signs), unsigned without it.
//! A canned in-process transport plays the API: it answers each `GET` of a storage with the
//! given metadata and records the requests.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use apify_host::{
    options::{ListItemsOptions, ListKeysOptions},
    pipeline::HttpSettings,
    signing::{create_hmac_signature, create_storage_content_signature},
    transport::{CallFuture, HttpTransport, TransportRequest, TransportResponse},
    ApifyClient,
};
use bytes::Bytes;
use serde_json::{json, Value};

const SECRET: &str = "K8fD2kzQ9pL1mN3xR7tV";

/// Answers every request with `{"data": body}` and records the URLs.
struct Canned {
    body: Value,
    urls: Arc<Mutex<Vec<String>>>,
}

impl HttpTransport for Canned {
    fn name(&self) -> &str {
        "canned"
    }

    fn call(&self, request: TransportRequest) -> CallFuture {
        self.urls.lock().unwrap().push(request.url.clone());
        let body = Bytes::from(serde_json::to_vec(&json!({ "data": self.body })).unwrap());
        Box::pin(async move {
            let mut headers = http::HeaderMap::new();
            headers.insert("content-type", "application/json".parse().unwrap());
            Ok(TransportResponse {
                status: http::StatusCode::OK,
                headers,
                body: Box::pin(futures_util::stream::once(async move { Ok(body) })),
            })
        })
    }
}

fn client(body: Value, public: Option<&str>) -> (ApifyClient, Arc<Mutex<Vec<String>>>) {
    let urls = Arc::new(Mutex::new(Vec::new()));
    let mut b = ApifyClient::builder()
        .token("t")
        .api_url("http://127.0.0.1:9/v2")
        .settings(HttpSettings::default().max_retries(0))
        .transport(Arc::new(Canned {
            body,
            urls: urls.clone(),
        }));
    if let Some(p) = public {
        b = b.api_public_url(p);
    }
    (b.build().unwrap(), urls)
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn record_url_is_signed_with_the_hmac_of_the_key() {
    let (c, urls) = client(
        json!({"id": "store1", "urlSigningSecretKey": SECRET}),
        Some("https://public.example/v2/"),
    );
    let url = c
        .key_value_store("me/my store")
        .get_record_public_url("a/b c")
        .await
        .unwrap();
    let sig = create_hmac_signature(SECRET, "a/b c");
    assert_eq!(
        url,
        format!("https://public.example/v2/key-value-stores/me~my%20store/records/a%2Fb%20c?signature={sig}")
    );
    // One GET of the store, on the API URL (not the public one).
    let urls = urls.lock().unwrap();
    assert_eq!(urls.len(), 1);
    assert!(
        urls[0].starts_with("http://127.0.0.1:9/v2/key-value-stores/me~my%20store"),
        "{}",
        urls[0]
    );
}

#[tokio::test]
async fn without_the_secret_the_url_is_unsigned_and_the_default_base_is_api_apify_com() {
    let (c, _) = client(json!({"id": "ds1", "urlSigningSecretKey": null}), None);
    assert_eq!(c.api_public_url(), "https://api.apify.com");
    let url = c
        .dataset("ds1")
        .create_items_public_url(
            Some("csv"),
            &ListItemsOptions::new()
                .limit(10)
                .fields(["a", "b"])
                .signature("ignored"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        url,
        "https://api.apify.com/v2/datasets/ds1/items?format=csv&limit=10&fields=a%2Cb"
    );
}

#[tokio::test]
async fn items_and_keys_urls_carry_a_storage_signature_that_can_expire() {
    let (c, _) = client(json!({"id": "ds1", "urlSigningSecretKey": SECRET}), None);
    let url = c
        .dataset("my-ds")
        .create_items_public_url(None, &ListItemsOptions::new(), None)
        .await
        .unwrap();
    // The signature is made over the id the API answered, not the name the client used.
    let never = create_storage_content_signature("ds1", SECRET, None, 0);
    assert_eq!(query(&url), [("signature".to_string(), never)]);

    let (c, _) = client(json!({"id": "kvs1", "urlSigningSecretKey": SECRET}), None);
    let url = c
        .key_value_store("kvs1")
        .create_keys_public_url(
            &ListKeysOptions::new().prefix("img-").limit(5),
            Some(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let q = query(&url);
    assert_eq!(q[0], ("limit".into(), "5".into()));
    assert_eq!(q[1], ("prefix".into(), "img-".into()));
    assert_eq!(q[2].0, "signature");
    let decoded = String::from_utf8(base64_decode(&q[2].1)).unwrap();
    let parts: Vec<&str> = decoded.split('.').collect();
    assert_eq!(parts[0], "0", "version");
    assert_ne!(parts[1], "0", "an expiring signature carries its expiry");
}

/// base64url without a crate: the test checks the structure only.
fn base64_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

#[test]
fn api_public_url_comes_from_the_config_file_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "api_url = \"http://127.0.0.1:9\"\napi_public_url = \"https://public.example/v2/\"\n",
    )
    .unwrap();
    if std::env::var_os("APIFY_API_PUBLIC_BASE_URL").is_none() {
        let c = apify_host::ApifyClientBuilder::from_config(&path)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://127.0.0.1:9");
        assert_eq!(c.api_public_url(), "https://public.example");
    }
    let e = ApifyClient::builder()
        .api_public_url("ftp://x")
        .build()
        .unwrap_err();
    assert!(
        e.is_config() && e.to_string().contains("public API URL"),
        "{e}"
    );
}
