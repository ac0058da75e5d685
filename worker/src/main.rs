//! `apify-transport-worker`: serves one transport plugin for an `apify-host` process that runs
//! it isolated (`[transport] isolation = "process"`). The host starts it with the plugin's
//! sealed copy and a socket; it confines itself, loads the plugin and serves calls until the
//! host closes the socket or dies. It is not meant to be run by hand.
//!
//! Everything it does is in `apify_host::transport::isolated::worker`, next to the host's side
//! of the same protocol.

/// Every allocation in the worker goes to mimalloc: ours, and, because the `override` feature
/// exports `malloc` and `free` from this executable (which the dynamic linker searches before
/// libc), the plugin's and its C libraries' too. A call through a worker allocates on both sides
/// of the plugin (frames, heads, header conversions) and glibc's `malloc`/`free` were 13 % of
/// the worker's samples at 32 in flight, `malloc_consolidate` alone 2 %. With mimalloc, side by
/// side with the servers on a CPU apart: the worker's CPU per call 17.4 -> 14.6 µs for hosted
/// hyper, 22.7-25.0 -> 20.3-22.3 µs for reqwest. The worker is our program, so this choice
/// changes no user's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    apify_host::transport::isolated::worker::main()
}
