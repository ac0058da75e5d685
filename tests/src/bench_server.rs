//! The loopback servers of the benches, in a child process (the bench binary itself, run with
//! a marker variable), so the server's buffers and threads never count in the client's RSS or
//! CPU figures.
//!
//! Three kinds: the testkit server (every route, hand-written HTTP/1.1 on a two-worker runtime),
//! a minimal hyper HTTP/1.1 server that answers every request with the `/v2/users/me` body (on
//! a `current_thread` runtime, or a multi-thread one with N workers), so a bench can check
//! that the server is not what limits the small-request figures, and the same hyper server
//! answering a large dataset's items (`/v2/datasets/{id}/items`, with `offset` and `limit`
//! and the API's pagination headers) from memory, for the `list_items` figures.

use std::{
    convert::Infallible,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use bytes::Bytes;

/// The variable that makes a bench binary serve instead of measuring; its value is the kind.
const SERVER_ENV: &str = "APIFY_BENCH_SERVER";

/// Which server a [`BenchServer`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `testkit::TestServer` (two workers): every route, `/bytes/{n}` included.
    Testkit,
    /// Minimal hyper HTTP/1.1 server answering the `/v2/users/me` body to any request, on a
    /// `current_thread` runtime (`Hyper(0)`) or a multi-thread one with that many workers.
    Hyper(usize),
    /// The hyper server (`current_thread`) answering the items of a dataset of about this
    /// many MB (see [`ItemsDataset`]) at every `.../items` path.
    Items(u64),
}

impl ServerKind {
    fn env_value(self) -> String {
        match self {
            ServerKind::Testkit => "testkit".into(),
            ServerKind::Hyper(n) => format!("hyper{n}"),
            ServerKind::Items(mb) => format!("items{mb}"),
        }
    }

    /// A short label for tables.
    pub fn label(self) -> String {
        match self {
            ServerKind::Testkit => "testkit (2 workers)".into(),
            ServerKind::Hyper(0) => "hyper (current_thread)".into(),
            ServerKind::Hyper(n) => format!("hyper ({n} workers)"),
            ServerKind::Items(mb) => format!("dataset items ({mb} MB, hyper current_thread)"),
        }
    }
}

/// A test server in a child process; killed when dropped.
pub struct BenchServer {
    child: Child,
    base_url: String,
    kind: ServerKind,
}

impl BenchServer {
    /// Call first in a bench's `main`: in the child process this serves until stdin closes and
    /// answers `true` (the bench then returns); in the parent it answers `false`.
    pub fn serve_if_child() -> bool {
        let Some(kind) = std::env::var_os(SERVER_ENV) else {
            return false;
        };
        let kind = kind.to_string_lossy().into_owned();
        if let Some(n) = kind.strip_prefix("hyper") {
            serve_hyper(n.parse().unwrap_or(0), None);
            return true;
        }
        if let Some(mb) = kind.strip_prefix("items") {
            serve_hyper(
                0,
                Some(ItemsDataset::new(mb.parse().unwrap_or(1) * 1_000_000)),
            );
            return true;
        }
        let server = testkit::TestServer::start_blocking();
        println!("{}", server.url(""));
        // Serve until the parent kills us (or stdin closes).
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        drop(server);
        true
    }

    /// Starts this binary as the testkit server process and reads its base URL.
    ///
    /// # Panics
    /// If the process cannot be started or does not print its URL.
    pub fn spawn() -> Self {
        Self::spawn_kind(ServerKind::Testkit)
    }

    /// Starts this binary as a server of `kind` and reads its base URL.
    ///
    /// # Panics
    /// If the process cannot be started or does not print its URL.
    pub fn spawn_kind(kind: ServerKind) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("current_exe"))
            .env(SERVER_ENV, kind.env_value())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server prints its URL");
        let base_url = line.trim().trim_end_matches('/').to_string();
        BenchServer {
            child,
            base_url,
            kind,
        }
    }

    /// The server's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// What this server is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The server process's id (to place it on CPUs, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dataset of small product records, held as one JSON array and the byte range of each item
/// in it, so that any page is a slice of it: `[`, the items, `]`.
pub struct ItemsDataset {
    json: Bytes,
    /// Where each item starts in `json`; the last entry is where the closing `]` is.
    starts: Vec<usize>,
}

impl ItemsDataset {
    /// About `bytes` of items (the last one may pass it), each ~470 bytes like a scraped
    /// product: strings, numbers, a bool, a list and a nested object.
    pub fn new(bytes: u64) -> Self {
        let mut json = Vec::with_capacity(bytes as usize + 1024);
        let mut starts = Vec::new();
        json.push(b'[');
        let mut i = 0u64;
        while (json.len() as u64) < bytes {
            if i > 0 {
                json.push(b',');
            }
            starts.push(json.len());
            let item = serde_json::json!({
                "url": format!("https://shop.example.com/products/{i:08}"),
                "title": format!("Product {i}: stainless steel water bottle, 750 ml"),
                "price": (i % 10_000) as f64 / 100.0 + 1.0,
                "currency": "EUR",
                "inStock": !i.is_multiple_of(3),
                "rating": (i % 50) as f64 / 10.0,
                "reviews": i % 977,
                "tags": ["kitchen", "outdoor", format!("batch-{}", i % 97)],
                "seller": {"id": format!("s{:05}", i % 5000), "name": "Example Trading GmbH"},
                "description": "Double-walled vacuum insulation keeps drinks cold for 24 hours \
                    and hot for 12. Leak-proof lid, powder-coated finish, fits cup holders.",
                "scrapedAt": "2026-12-06T10:00:00.000Z",
            });
            serde_json::to_writer(&mut json, &item).expect("an item");
            i += 1;
        }
        starts.push(json.len());
        json.push(b']');
        ItemsDataset {
            json: Bytes::from(json),
            starts,
        }
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole array, as the API answers it without `offset` and `limit`.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The page at `offset` of at most `limit` items (all of them without a limit), as the
    /// API answers it: a JSON array, and the pagination headers.
    fn page(
        &self,
        offset: usize,
        limit: Option<usize>,
    ) -> (Vec<Bytes>, [(&'static str, String); 4]) {
        let total = self.len();
        let from = offset.min(total);
        let to = limit.map_or(total, |l| from.saturating_add(l).min(total));
        let parts = if from == to {
            vec![Bytes::from_static(b"[]")]
        } else {
            // An item's range ends before the comma that follows it.
            let end = if to == total {
                self.starts[to]
            } else {
                self.starts[to] - 1
            };
            vec![
                Bytes::from_static(b"["),
                self.json.slice(self.starts[from]..end),
                Bytes::from_static(b"]"),
            ]
        };
        let headers = [
            ("x-apify-pagination-offset", from.to_string()),
            (
                "x-apify-pagination-limit",
                limit.unwrap_or(total).to_string(),
            ),
            ("x-apify-pagination-count", (to - from).to_string()),
            ("x-apify-pagination-total", total.to_string()),
        ];
        (parts, headers)
    }
}

/// `offset` and `limit` from a query string.
fn offset_limit(query: Option<&str>) -> (usize, Option<usize>) {
    let (mut offset, mut limit) = (0, None);
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("offset", v)) => offset = v.parse().unwrap_or(0),
            Some(("limit", v)) => limit = v.parse().ok(),
            _ => {}
        }
    }
    (offset, limit)
}

/// The body of one answer of the hyper server.
type Body = http_body_util::StreamBody<
    futures_util::stream::Iter<std::vec::IntoIter<Result<hyper::body::Frame<Bytes>, Infallible>>>,
>;

fn body_of(parts: Vec<Bytes>) -> Body {
    let frames: Vec<_> = parts
        .into_iter()
        .map(|b| Ok(hyper::body::Frame::data(b)))
        .collect();
    http_body_util::StreamBody::new(futures_util::stream::iter(frames))
}

/// The minimal hyper server: keep-alive HTTP/1.1, the `/v2/users/me` body for every request,
/// or with `items`, that dataset's pages for every path ending in `/items`.
fn serve_hyper(workers: usize, items: Option<ItemsDataset>) {
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
    .expect("build the server runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    println!("http://{}", listener.local_addr().expect("local addr"));
    let body = Bytes::from_static(testkit::user_me_body());
    let items = std::sync::Arc::new(items);
    // Serve until the parent kills us (or stdin closes); a `current_thread` runtime only runs
    // inside `block_on`, so the main thread serves and another one watches stdin.
    std::thread::spawn(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        std::process::exit(0);
    });
    rt.block_on(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let items = items.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let mut response = http::Response::builder()
                        .header("content-type", "application/json; charset=utf-8");
                    let parts = match &*items {
                        Some(items) if req.uri().path().ends_with("/items") => {
                            let (offset, limit) = offset_limit(req.uri().query());
                            let (parts, headers) = items.page(offset, limit);
                            for (name, value) in headers {
                                response = response.header(name, value);
                            }
                            parts
                        }
                        _ => vec![body.clone()],
                    };
                    let response = response.body(body_of(parts)).expect("a response");
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
