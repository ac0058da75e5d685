//! Request bodies (hardening B): gzip (multi-member), deflate (zlib and raw) and br decoded,
//! the decoded size checked in bounded steps, records capped by `max_record_bytes`, and a
//! server's memory flat under a gzip bomb.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::{json, Value};

use crate::common::{data, expect_error, parse_answer, Binary, Ctx};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 6, 22);
        w.write_all(data).unwrap();
    }
    out
}

async fn post_encoded(t: &Ctx, path: &str, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    t.http
        .post(t.url(path))
        .header("content-type", "application/json; charset=utf-8")
        .header("content-encoding", encoding)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn gzip_members_deflate_both_ways_and_br_are_decoded() {
    let t = Ctx::start().await;
    let id = t.create("datasets", "encodings").await;
    let path = format!("/v2/datasets/{id}/items");

    // Two gzip members make one body.
    let mut two = gzip(br#"[{"n": 1},"#);
    two.extend(gzip(br#"{"n": 2}]"#));
    assert_eq!(post_encoded(&t, &path, "gzip", two).await.status(), 201);

    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(br#"{"n": 3}"#).unwrap();
    assert_eq!(
        post_encoded(&t, &path, "deflate", zlib.finish().unwrap())
            .await
            .status(),
        201
    );
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(br#"{"n": 4}"#).unwrap();
    assert_eq!(
        post_encoded(&t, &path, "deflate", raw.finish().unwrap())
            .await
            .status(),
        201
    );
    assert_eq!(
        post_encoded(&t, &path, "br", brotli(br#"{"n": 5}"#))
            .await
            .status(),
        201
    );
    let items: Vec<Value> = t.get(&path).await.json().await.unwrap();
    let ns: Vec<i64> = items.iter().map(|i| i["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5]);

    // A record sent as br (the JS client brotli's every body of 1 KiB or more) is stored
    // decoded, byte for byte.
    let kvs = t.create("key-value-stores", "br").await;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let record = format!("/v2/key-value-stores/{kvs}/records/big");
    let r = t
        .http
        .put(t.url(&record))
        .header("content-type", "application/octet-stream")
        .header("content-encoding", "br")
        .body(brotli(&bytes))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let back = t.get(&record).await.bytes().await.unwrap();
    assert!(
        back == bytes,
        "record came back different ({} bytes)",
        back.len()
    );

    // Bad compressed data and unknown encodings.
    let r = post_encoded(&t, &path, "gzip", b"not gzip at all".to_vec()).await;
    let body = expect_error(r, 400, "invalid-request").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be decompressed"),
        "{body}"
    );
    let r = post_encoded(&t, &path, "br", b"\xff\xff\xff".to_vec()).await;
    expect_error(r, 400, "invalid-request").await;
    let r = post_encoded(&t, &path, "compress", b"x".to_vec()).await;
    expect_error(r, 415, "unsupported-content-encoding").await;
}

#[tokio::test]
async fn json_limit_counts_decoded_bytes() {
    let t = Ctx::start_with(LocalApiConfig {
        max_payload_bytes: 1000,
        ..Default::default()
    })
    .await;
    let id = t.create("datasets", "limit").await;
    let path = format!("/v2/datasets/{id}/items");
    let big = serde_json::to_vec(&json!([{ "text": "x".repeat(2000) }])).unwrap();
    let small_enough = gzip(&big);
    assert!(small_enough.len() < 1000);
    for (encoding, body) in [("gzip", small_enough), ("br", brotli(&big))] {
        let r = post_encoded(&t, &path, encoding, body).await;
        let body = expect_error(r, 413, "request-too-large").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("limit: 1000 bytes"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn records_are_capped_by_max_record_bytes() {
    let t = Ctx::start_with(LocalApiConfig {
        max_record_bytes: 1000,
        ..Default::default()
    })
    .await;
    let kvs = t.create("key-value-stores", "capped").await;
    let url = |key: &str| t.url(&format!("/v2/key-value-stores/{kvs}/records/{key}"));
    let files = || std::fs::read_dir(t.api.data_dir()).unwrap().count();

    let r = t
        .http
        .put(url("fits"))
        .body(vec![b'a'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let before = files();

    // Over the limit: announced by Content-Length, streamed without one, or decoded from gzip.
    let too_big = vec![b'b'; 1001];
    let streamed = futures_util::stream::iter(
        too_big
            .chunks(100)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let attempts = [
        t.http.put(url("over")).body(too_big.clone()),
        t.http
            .put(url("over"))
            .body(reqwest::Body::wrap_stream(streamed)),
        t.http
            .put(url("over"))
            .header("content-encoding", "gzip")
            .body(gzip(&vec![b'c'; 50_000])),
    ];
    for attempt in attempts {
        let r = attempt.send().await.unwrap();
        let body = expect_error(r, 413, "request-too-large").await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("at most 1000 bytes") && message.contains("--max-record-bytes"),
            "{message}"
        );
    }
    expect_error(
        t.get(&format!("/v2/key-value-stores/{kvs}/records/over"))
            .await,
        404,
        "record-not-found",
    )
    .await;
    assert_eq!(files(), before, "no partial file left behind");
    let kept = t
        .get(&format!("/v2/key-value-stores/{kvs}/records/fits"))
        .await;
    assert_eq!(kept.bytes().await.unwrap().len(), 1000);
}

/// Gzip of `total` zero bytes, made a piece at a time (never held whole).
struct ZeroGzip {
    encoder: Option<flate2::write::GzEncoder<Vec<u8>>>,
    left: u64,
}

impl ZeroGzip {
    fn new(total: u64) -> Self {
        ZeroGzip {
            encoder: Some(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            )),
            left: total,
        }
    }

    /// The next non-empty piece of compressed bytes; `None` at the end.
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        static ZEROS: [u8; 1 << 20] = [0; 1 << 20];
        loop {
            let encoder = self.encoder.as_mut()?;
            if self.left == 0 {
                return Some(self.encoder.take().unwrap().finish().unwrap());
            }
            let n = self.left.min(ZEROS.len() as u64) as usize;
            encoder.write_all(&ZEROS[..n]).unwrap();
            self.left -= n as u64;
            let out = std::mem::take(encoder.get_mut());
            if !out.is_empty() {
                return Some(out);
            }
        }
    }
}

/// Sends `head` (request line and headers, ending with the blank line, announcing
/// `Transfer-Encoding: chunked`) and then `body` as chunks from a thread, while this thread
/// reads the answer; sending stops as soon as the answer is in. The status and body.
fn send_streamed(addr: std::net::SocketAddr, head: String, mut body: ZeroGzip) -> (u16, String) {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let answered = Arc::new(AtomicBool::new(false));
    let stop = answered.clone();
    let sender = std::thread::spawn(move || -> u64 {
        let mut sent = 0u64;
        if writer.write_all(head.as_bytes()).is_err() {
            return sent;
        }
        while !stop.load(Ordering::Relaxed) {
            let Some(piece) = body.next_piece() else {
                let _ = writer.write_all(b"0\r\n\r\n");
                break;
            };
            let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), &piece, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                break;
            }
            sent += piece.len() as u64;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut reader = &stream;
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        if answer_complete(&answer) {
            break;
        }
    }
    answered.store(true, Ordering::Relaxed);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap();
    eprintln!("sent {sent} compressed bytes before the answer");
    parse_answer(&answer)
}

/// Whether `answer` holds a whole response with a `Content-Length` body.
fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .is_some_and(|len| body.len() >= len)
}

/// The process's peak resident memory (`VmHWM`) in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// A 2 GiB-of-zeros gzip record against a server capped at 100 MB: 413, and the server's
/// peak memory stays far below the body's size.
#[test]
fn a_gzip_bomb_record_is_refused_with_flat_memory() {
    let bin = Binary::start(
        &["--listen", "127.0.0.1:0", "--max-record-bytes", "100000000"],
        &[],
    );
    let token = bin.token();
    let addr: std::net::SocketAddr = bin.url.trim_start_matches("http://").parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = crate::common::http_client_with_token(&token);
    let kvs = rt.block_on(async {
        let r = http
            .post(format!("{}/v2/key-value-stores?name=bomb", bin.url))
            .send()
            .await
            .unwrap();
        data(r).await["id"].as_str().unwrap().to_owned()
    });
    let head = format!(
        "PUT /v2/key-value-stores/{kvs}/records/bomb HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (status, body) = send_streamed(addr, head, ZeroGzip::new(2 << 30));
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "request-too-large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100000000 bytes"),
        "{body}"
    );
    let hwm = vm_hwm_kib(bin.child.id());
    eprintln!(
        "server VmHWM after the bomb: {} KiB ({} MiB)",
        hwm,
        hwm / 1024
    );
    assert!(hwm < 256 * 1024, "server VmHWM {hwm} KiB");
    let missing = rt.block_on(async {
        http.get(format!(
            "{}/v2/key-value-stores/{kvs}/records/bomb",
            bin.url
        ))
        .send()
        .await
        .unwrap()
        .status()
    });
    assert_eq!(missing, 404);
    assert!(bin.terminate());
}

/// A dataset push of a gzip bomb (1 GiB of zeros) against the 9 MiB JSON limit: 413.
#[test]
fn a_gzip_bomb_push_is_refused() {
    let api = LocalApi::start_on_own_thread(LocalApiConfig::default(), 1).unwrap();
    let addr = api.addr();
    let id = api.generate_dataset_items("bomb", 0).unwrap();
    let head = format!(
        "POST /v2/datasets/{id}/items HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (status, body) = send_streamed(addr, head, ZeroGzip::new(1 << 30));
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "request-too-large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit: 9437184 bytes"),
        "{body}"
    );
}
