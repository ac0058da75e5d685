//! The CLI's integration tests, as one test binary: each runs the real `apify-host` binary
//! (against the local Apify API in-process, a test server, Prism, or a plugin file), so one
//! binary links the heavy test dependencies once instead of once per file.
//!
//! The tests share this process and run on parallel threads: none may change process-wide
//! state (environment variables, the current folder, signal handlers, a global logger).
//! Settings go to the child process instead (`Command::env`, `Command::current_dir`).
//!
//! Run one group with `cargo test -p apify-host-cli --test cli -- downloads::`.

mod actors;
mod commands;
mod downloads;
mod errors;
mod interrupt;
mod plugin_log;
mod prism_contract;
mod reload;
mod sdk_actors;
mod secrets;
mod support;
mod transport_check;
