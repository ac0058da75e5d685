#!/usr/bin/env bash
# Builds the transport plugins that live outside the root workspace, each from its own folder
# with its own Cargo.lock, as a third party would, and runs `apify-host transport check` on
# each: the three guide examples (blocking, async, hosted), the libcurl plugin, and a project
# fresh from `apify-host transport new` of each kind. Any failing case fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
host=$root/target/release/apify-host
[ -x "$host" ] || cargo build --release -p apify-host-cli
# One target folder for all of them: they share most dependencies (abi_stable, tokio, rustls).
export CARGO_TARGET_DIR=$root/target/external

check() { # DIR LIBNAME [OPTIONS]
    # --locked everywhere: a fresh `transport new` project has its example's lock, renamed,
    # and must build with it as it is.
    echo "==> $1: cargo build --release --locked, then transport check"
    (cd "$1" && cargo build --release --locked --quiet)
    local so=$CARGO_TARGET_DIR/release/$2
    echo "    $(stat -c %s "$so") bytes (stripped): $so"
    "$host" transport check "$so" --options "${3:-{\}}"
}

# The interface crate is a package of its own: nothing inherited from our workspace.
echo "==> plugin-api: cargo package --list (it must package on its own)"
(cd plugin-api && cargo package --list --allow-dirty --quiet >/dev/null)

check examples/transport-blocking libtransport_blocking_example.so
check examples/transport-async libtransport_async_example.so
check examples/transport-hosted libtransport_hosted_example.so
check plugins/curl libapify_transport_curl.so '{"http2": true}'

template=$(mktemp -d)
trap 'rm -rf "$template"' EXIT
for kind in blocking async hosted; do
    "$host" transport new "demo-$kind" --kind "$kind" --dir "$template"
    check "$template/demo-$kind" "libdemo_$kind.so"
done
