//! Shared helpers for the cross-transport suites in `tests/tests/`.
//!
//! Every suite runs the same test bodies against each transport, one test per (case, transport),
//! through [`transport_tests!`] (see [`matrix`]).

#![warn(missing_docs)]
pub mod pipeline_support;

pub mod abi_fixtures;
pub mod bench_placement;
pub mod bench_server;
pub mod bench_util;
pub mod matrix;

use std::{path::PathBuf, sync::Arc, time::Duration};

use apify_host::{
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{HttpTransport, TransportRequest},
};

/// A transport under test, with a name for messages.
pub struct TransportUnderTest {
    /// `builtin`, `plugin:reqwest`, `plugin:hyper`, `custom:reqwest`.
    pub name: &'static str,
    /// The transport.
    pub transport: Arc<dyn HttpTransport>,
}

/// A plain GET of `url` at the transport level: no headers, no body, not streamed.
pub fn get_request(url: String, timeout: Option<Duration>) -> TransportRequest {
    TransportRequest {
        method: http::Method::GET,
        url,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new().into(),
        timeout,
        stream: false,
    }
}

/// The directory holding the test binary's dependencies (`target/<profile>/deps`).
pub fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir
    } else {
        dir.join("deps")
    }
}

/// Path of a cdylib built in this workspace, e.g. `plugin_path("apify_transport_reqwest")`.
///
/// # Panics
/// If the library was not built; the message says how to build it.
pub fn plugin_path(lib_name: &str) -> PathBuf {
    let file = format!("lib{lib_name}.so");
    let deps = deps_dir();
    for candidate in [deps.join(&file), deps.parent().unwrap().join(&file)] {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{file} was not found in {} or its parent: build the workspace with `cargo test --workspace` \
         so cargo builds the plugin crates",
        deps.display()
    )
}

/// Loads the reqwest plugin through the real loader.
pub fn reqwest_plugin() -> Arc<dyn HttpTransport> {
    workspace_plugin("apify_transport_reqwest")
}

/// Loads the hyper plugin (a hosted one: it runs on the caller's runtime) through the real
/// loader.
pub fn hyper_plugin() -> Arc<dyn HttpTransport> {
    workspace_plugin("apify_transport_hyper")
}

/// Loads a plugin built in this workspace through the real loader, with no options.
fn workspace_plugin(lib_name: &str) -> Arc<dyn HttpTransport> {
    let loaded = load_plugin(&plugin_path(lib_name), &PluginLoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(
        loaded
            .new_client(&serde_json::json!({}))
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

/// Fills `buf` with bytes that do not compress (xorshift), continuing from `state`.
fn fill_noise(state: &mut u64, buf: &mut [u8]) {
    for word in buf.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
    }
}

/// Writes a config file as a deployment would: whole, to a temporary file that is then renamed
/// (a reload never reads half a file), readable by its owner only (it holds the token).
pub fn install_config(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `n` bytes that do not compress, reproducibly.
pub fn noise(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fill_noise(&mut 0x9E37_79B9_7F4A_7C15, &mut buf);
    buf
}

/// A temporary file of `len` pseudo-random bytes (they do not compress, so an upload of it
/// goes as it is), and its sha256 in hex. For the upload tests and the transport bench.
///
/// # Panics
/// If the file cannot be written.
pub fn random_file(len: u64) -> (tempfile::NamedTempFile, String) {
    use sha2::Digest;
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut hasher = sha2::Sha256::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ len;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        fill_noise(&mut state, &mut buf);
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n]).expect("write temp file");
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    file.flush().expect("flush temp file");
    (file, hex::encode(hasher.finalize()))
}

/// A test server on a multi-thread runtime of its own (one worker), which keeps serving
/// whatever the callers' runtimes do; keep the runtime alive as long as the server.
pub fn server_on_own_runtime() -> (tokio::runtime::Runtime, testkit::TestServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the test server's runtime");
    let server = rt.block_on(testkit::TestServer::start());
    (rt, server)
}
