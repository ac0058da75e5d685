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
/// the worker's samples at 32 in flight, `malloc_consolidate` alone 2 %. Side by side with the
/// servers on a CPU apart, the worker's CPU per call went from 25.3-27.0 to 22.0-22.7 µs for
/// reqwest and from 19.3-20.7 to 17.0-17.3 µs for hosted hyper. `no_thp`: with transparent
/// huge pages (mimalloc asks for them where the kernel leaves it to `madvise`) an idle worker
/// held 18 MiB instead of 8 and a download's peak was 28-35 MiB instead of 13-16; without
/// them, 8.7 MiB and 15-19 MiB, for 0.3-0.7 µs more per call. The worker is our program, so
/// this choice changes no user's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    apify_host::transport::isolated::worker::main()
}
