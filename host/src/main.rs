//! The `apify-host` binary: an ops command line over the `apify_host` library. The commands
//! live in `cli/`, one file per command group; run `apify-host --help` for the tour.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
