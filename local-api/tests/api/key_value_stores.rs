//! Key-value stores: CRUD, keys pagination, records (content types, gzip, streaming).

use std::io::Write;

use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::{data, expect_error, header, Ctx};

#[tokio::test]
async fn store_crud() {
    let t = Ctx::start().await;
    let id = t.create("key-value-stores", "store-a").await;
    let store = data(t.get("/v2/key-value-stores/~store-a").await).await;
    assert_eq!(store["id"], id.as_str());
    for field in [
        "id",
        "name",
        "userId",
        "createdAt",
        "modifiedAt",
        "accessedAt",
        "keysPublicUrl",
        "recordsPublicUrl",
    ] {
        assert!(store.get(field).is_some(), "store has {field}: {store}");
    }
    let r = t
        .http
        .post(t.url("/v2/key-value-stores?name=store-a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = data(t.get("/v2/key-value-stores").await).await;
    assert_eq!(list["total"], 1);
    let updated = data(
        t.put_json(
            &format!("/v2/key-value-stores/{id}"),
            &json!({"name": "store-b", "generalAccess": "RESTRICTED"}),
        )
        .await,
    )
    .await;
    assert_eq!(updated["name"], "store-b");
    assert_eq!(updated["generalAccess"], "RESTRICTED");
    assert_eq!(
        t.delete(&format!("/v2/key-value-stores/{id}"))
            .await
            .status(),
        204
    );
    expect_error(
        t.get(&format!("/v2/key-value-stores/{id}")).await,
        404,
        "record-not-found",
    )
    .await;
}

#[tokio::test]
async fn records_keep_content_type_and_accept_gzip() {
    let t = Ctx::start().await;
    let id = t.create("key-value-stores", "records").await;
    let rec = |key: &str| t.url(&format!("/v2/key-value-stores/{id}/records/{key}"));

    let r = t
        .http
        .put(rec("INPUT"))
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "location"), rec("INPUT"));
    let r = t
        .http
        .put(rec("page.html"))
        .header("content-type", "text/html; charset=utf-8")
        .body("<p>hi</p>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // POST stores too.
    let r = t
        .http
        .post(rec("bin"))
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = t.http.get(rec("INPUT")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"hello": "world"}));
    let r = t.http.get(rec("page.html")).send().await.unwrap();
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "content-length"), "9");
    assert_eq!(r.text().await.unwrap(), "<p>hi</p>");
    let r = t.http.get(rec("bin")).send().await.unwrap();
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0u8, 1, 2, 255]);

    let r = t.http.head(rec("page.html")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), "9");

    // A gzip-encoded upload is stored decoded.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&b"compressible ".repeat(1000)).unwrap();
    let r = t
        .http
        .put(rec("zipped"))
        .header("content-type", "text/plain")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t.http.get(rec("zipped")).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.bytes().await.unwrap(), b"compressible ".repeat(1000));

    // Overwrite, delete, missing.
    t.http.put(rec("bin")).body("new").send().await.unwrap();
    assert_eq!(
        t.http
            .get(rec("bin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "new"
    );
    assert_eq!(
        t.http.delete(rec("bin")).send().await.unwrap().status(),
        204
    );
    expect_error(
        t.http.get(rec("bin")).send().await.unwrap(),
        404,
        "record-not-found",
    )
    .await;
    let r = t.http.head(rec("bin")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    expect_error(
        t.http.put(rec("bad%20key")).body("x").send().await.unwrap(),
        400,
        "invalid-record-key",
    )
    .await;
    expect_error(
        t.http
            .get(t.url("/v2/key-value-stores/nope/records/x"))
            .send()
            .await
            .unwrap(),
        404,
        "record-not-found",
    )
    .await;
}

#[tokio::test]
async fn keys_pagination() {
    let t = Ctx::start().await;
    let id = t.create("key-value-stores", "keys").await;
    for key in ["b", "a", "c-1", "c-2", "d"] {
        let url = t.url(&format!("/v2/key-value-stores/{id}/records/{key}"));
        assert_eq!(
            t.http
                .put(url)
                .body(key.repeat(3))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let page = data(
        t.get(&format!("/v2/key-value-stores/{id}/keys?limit=2"))
            .await,
    )
    .await;
    assert_eq!(
        page["items"],
        json!([
            {"key": "a", "size": 3, "recordPublicUrl": t.url(&format!("/v2/key-value-stores/{id}/records/a"))},
            {"key": "b", "size": 3, "recordPublicUrl": t.url(&format!("/v2/key-value-stores/{id}/records/b"))},
        ])
    );
    assert_eq!(page["count"], 2);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["isTruncated"], true);
    assert_eq!(page["exclusiveStartKey"], Value::Null);
    assert_eq!(page["nextExclusiveStartKey"], "b");

    let page = data(
        t.get(&format!(
            "/v2/key-value-stores/{id}/keys?exclusiveStartKey=b&limit=10"
        ))
        .await,
    )
    .await;
    let keys: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["c-1", "c-2", "d"]);
    assert_eq!(page["isTruncated"], false);
    assert_eq!(page["exclusiveStartKey"], "b");
    assert_eq!(page["nextExclusiveStartKey"], Value::Null);

    let page = data(
        t.get(&format!("/v2/key-value-stores/{id}/keys?prefix=c-"))
            .await,
    )
    .await;
    assert_eq!(page["count"], 2);
}

/// A 64 MiB record goes up as a stream and comes back as a stream with the same sha256, and
/// it lives in a file under the server's data folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_record_streams_both_ways() {
    const SIZE: usize = 64 * 1024 * 1024;
    const CHUNK: usize = 256 * 1024;
    let t = Ctx::start().await;
    let id = t.create("key-value-stores", "big").await;
    let url = t.url(&format!("/v2/key-value-stores/{id}/records/blob"));

    let mut hasher = Sha256::new();
    let chunks: Vec<bytes::Bytes> = (0..SIZE / CHUNK)
        .map(|i| {
            let chunk: Vec<u8> = (0..CHUNK).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
            hasher.update(&chunk);
            chunk.into()
        })
        .collect();
    let expected = hasher.finalize();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ));
    let r = t
        .http
        .put(&url)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let files: Vec<u64> = walk(&t.api.data_dir());
    assert!(
        files.contains(&(SIZE as u64)),
        "record file on disk: {files:?}"
    );

    let r = t.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), SIZE.to_string());
    let mut stream = r.bytes_stream();
    let mut hasher = Sha256::new();
    let mut len = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        len += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(len, SIZE);
    assert_eq!(hasher.finalize(), expected);
}

fn walk(dir: &std::path::Path) -> Vec<u64> {
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            sizes.extend(walk(&entry.path()));
        } else {
            sizes.push(entry.metadata().unwrap().len());
        }
    }
    sizes
}

#[tokio::test]
async fn generated_record_for_benchmarks() {
    let t = Ctx::start().await;
    let r = t
        .http
        .post(t.url("/_control/key-value-stores/bench/records/payload/generate?bytes=1000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t.get("/v2/key-value-stores/~bench/records/payload").await;
    assert_eq!(header(&r, "content-length"), "1000000");
    assert_eq!(r.bytes().await.unwrap().len(), 1_000_000);
}

#[tokio::test]
async fn data_dir_removed_on_drop() {
    let parent = tempfile_parent();
    let t = Ctx::start_with(apify_local_api::LocalApiConfig {
        data_dir: Some(parent.clone()),
        ..Default::default()
    })
    .await;
    let dir = t.api.data_dir();
    assert!(dir.starts_with(&parent));
    let id = t.create("key-value-stores", "tmp").await;
    t.http
        .put(t.url(&format!("/v2/key-value-stores/{id}/records/k")))
        .body("v")
        .send()
        .await
        .unwrap();
    assert!(dir.exists());
    drop(t);
    // Connections close asynchronously; the folder goes with the last reference.
    for _ in 0..100 {
        if !dir.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!dir.exists(), "{} removed", dir.display());
    let _ = std::fs::remove_dir(&parent);
}

fn tempfile_parent() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("apify-local-api-test-{}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}
