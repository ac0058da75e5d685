//! `apify-transport-worker`: serves one transport plugin for an `apify-host` process that runs
//! it isolated (`[transport] isolation = "process"`). The host starts it with the plugin's
//! sealed copy and a socket; it confines itself, loads the plugin and serves calls until the
//! host closes the socket or dies. It is not meant to be run by hand.
//!
//! Everything it does is in `apify_host::transport::isolated::worker`, next to the host's side
//! of the same protocol.

fn main() -> std::process::ExitCode {
    apify_host::transport::isolated::worker::main()
}
