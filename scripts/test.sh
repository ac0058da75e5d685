#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs Prism (npm) for the contract tests and
# the pinned Apify SDKs (scripts/sdk-env.sh, cached) for the SDK Actor tests, then builds
# everything once in release mode (plugins and bad-plugin fixtures included) and runs every
# test of the workspace, then checks the plugins that live outside it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x tools/prism/node_modules/.bin/prism ]; then
    echo "==> installing Prism (npm) for the OpenAPI contract tests"
    npm install --prefix tools/prism --no-audit --no-fund --loglevel=error
fi
# The official Apify SDKs (Python and Node.js, pinned) for cli/tests/cli/sdk_actors.rs, installed
# once into a cache folder (${APIFY_SDK_CACHE:-~/.cache/apify-host/sdk}) and validated on
# every run; required here, so those tests fail rather than skip without them.
echo "==> the Apify SDKs for the SDK Actor tests (scripts/sdk-env.sh)"
sdk_started=$SECONDS
sdk_vars="$(bash scripts/sdk-env.sh)"
eval "$sdk_vars"
export APIFY_SDK_PYTHON APIFY_SDK_NODE_MODULES
export APIFY_SDK_REQUIRED=1
echo "    SDKs ready in $((SECONDS - sdk_started))s (installing took ${APIFY_SDK_INSTALL_SECS}s; 0 = cached)"
echo "    APIFY_SDK_PYTHON=$APIFY_SDK_PYTHON"
echo "    APIFY_SDK_NODE_MODULES=$APIFY_SDK_NODE_MODULES"

echo "==> cargo test --workspace --release"
cargo test --workspace --release "$@"
# The plugins outside the workspace (the guide examples, the curl plugin, a `transport new`
# project): built as a third party would, each must pass `apify-host transport check`.
bash scripts/check-external-plugins.sh
# plugin-api 1.x stays source-compatible with 1.3.0 (plugin-api/CHANGELOG.md).
bash scripts/semver-check.sh
