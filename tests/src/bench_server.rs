//! The loopback server of the benches, in a child process (the bench binary itself, run with
//! a marker variable), so the server's buffers and threads never count in the client's RSS or
//! CPU figures.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

/// The variable that makes a bench binary serve instead of measuring.
const SERVER_ENV: &str = "APIFY_BENCH_SERVER";

/// A test server in a child process; killed when dropped.
pub struct BenchServer {
    child: Child,
    base_url: String,
}

impl BenchServer {
    /// Call first in a bench's `main`: in the child process this serves until stdin closes and
    /// answers `true` (the bench then returns); in the parent it answers `false`.
    pub fn serve_if_child() -> bool {
        if std::env::var_os(SERVER_ENV).is_none() {
            return false;
        }
        let server = testkit::TestServer::start_blocking();
        println!("{}", server.url(""));
        // Serve until the parent kills us (or stdin closes).
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        drop(server);
        true
    }

    /// Starts this binary as the server process and reads its base URL.
    ///
    /// # Panics
    /// If the process cannot be started or does not print its URL.
    pub fn spawn() -> Self {
        let mut child = Command::new(std::env::current_exe().expect("current_exe"))
            .env(SERVER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server prints its URL");
        let base_url = line.trim().trim_end_matches('/').to_string();
        BenchServer { child, base_url }
    }

    /// The server's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
