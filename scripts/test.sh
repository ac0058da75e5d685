#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs Prism (npm) for the contract tests, then
# builds everything once in release mode (plugins and bad-plugin fixtures included) and runs
# every test of the workspace, then checks the plugins that live outside it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x tools/prism/node_modules/.bin/prism ]; then
    echo "==> installing Prism (npm) for the OpenAPI contract tests"
    npm install --prefix tools/prism --no-audit --no-fund --loglevel=error
fi
echo "==> cargo test --workspace --release"
cargo test --workspace --release "$@"
# The plugins outside the workspace (the guide examples, the curl plugin, a `transport new`
# project): built as a third party would, each must pass `apify-host transport check`.
bash scripts/check-external-plugins.sh
