//! The loopback servers of the benches, in a child process (the bench binary itself, run with
//! a marker variable), so the server's buffers and threads never count in the client's RSS or
//! CPU figures.
//!
//! Two kinds: the testkit server (every route, hand-written HTTP/1.1 on a two-worker runtime)
//! and a minimal hyper HTTP/1.1 server that answers every request with the `/v2/users/me`
//! body (on a `current_thread` runtime, or a multi-thread one with N workers), so a bench can
//! check that the server is not what limits the small-request figures.

use std::{
    convert::Infallible,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use bytes::Bytes;
use http_body_util::Full;

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
}

impl ServerKind {
    fn env_value(self) -> String {
        match self {
            ServerKind::Testkit => "testkit".into(),
            ServerKind::Hyper(n) => format!("hyper{n}"),
        }
    }

    /// A short label for tables.
    pub fn label(self) -> String {
        match self {
            ServerKind::Testkit => "testkit (2 workers)".into(),
            ServerKind::Hyper(0) => "hyper (current_thread)".into(),
            ServerKind::Hyper(n) => format!("hyper ({n} workers)"),
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
            serve_hyper(n.parse().unwrap_or(0));
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
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The minimal hyper server: keep-alive HTTP/1.1, the `/v2/users/me` body for every request.
fn serve_hyper(workers: usize) {
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
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(body))
                                .expect("static response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
