#!/usr/bin/env bash
# apify-plugin-api 1.x is source-stable from 1.3.0 on (plugin-api/CHANGELOG.md): every change
# to it is checked with cargo-semver-checks against the 1.3.0 baseline, the last commit that
# changed the crate before the promise. A change a 1.3.0 plugin would not compile against
# fails here (a breaking change is 2.0).
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE=8663cca  # plugin-api 1.3.0

if ! command -v cargo-semver-checks >/dev/null; then
    echo "error: cargo-semver-checks is not installed: cargo install cargo-semver-checks --locked" >&2
    exit 1
fi
if ! git cat-file -e "$BASELINE^{commit}" 2>/dev/null; then
    echo "error: the baseline commit $BASELINE (plugin-api 1.3.0) is not in this clone; fetch the full history (git fetch --unshallow)" >&2
    exit 1
fi
echo "==> cargo semver-checks: apify-plugin-api against its 1.3.0 baseline ($BASELINE)"
# The baseline's crate folder alone (the repository also holds older copies of the crate, as
# ABI fixtures, which --baseline-rev would find too).
baseline=$(mktemp -d)
trap 'rm -rf "$baseline"' EXIT
git archive "$BASELINE" plugin-api | tar -x -C "$baseline"
# Its own target folder: the baseline and the current crate are documented side by side.
CARGO_TARGET_DIR=${SEMVER_TARGET_DIR:-target/semver-checks} \
    cargo semver-checks check-release --manifest-path plugin-api/Cargo.toml \
    --baseline-root "$baseline/plugin-api"
