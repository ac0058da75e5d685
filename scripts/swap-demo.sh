#!/usr/bin/env bash
# Swap the transport of a running program without a restart, on this machine, offline: the
# steps of docs/guides/deploy-a-transport.md, section "Swap without a restart".
#
# Starts the local API on 127.0.0.1, fills a request queue, and starts the example worker
# (host/examples/worker.rs) on the built-in transport. Then, as ops would: statistics (SIGUSR1),
# an edit of its config to the reqwest plugin and SIGHUP, statistics again; then a canary whose
# proxy points at a closed port, SIGHUP, and its automatic rollback. Prints what it sees.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-60000}
TOKEN="swap-demo-token-$$"

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "==> building (release): apify-host, apify-local-api, the reqwest plugin, the worker example (SKIP_BUILD=1 skips)"
    cargo build --release -p apify-host-cli -p apify-local-api -p apify-transport-reqwest
    cargo build --release -p apify-host --example worker
fi
BIN=$PWD/target/release
PLUGIN=$BIN/libapify_transport_reqwest.so

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting the local Apify API on 127.0.0.1"
APIFY_LOCAL_API_TOKEN=$TOKEN "$BIN/apify-local-api" --listen 127.0.0.1:0 >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$work/api.out" 2>/dev/null && break; sleep 0.1; done
API_URL=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/api.out" | head -n1)
[ -n "$API_URL" ] || { echo "error: the local API did not start:"; cat "$work/api.err"; exit 1; }

config=$work/worker.toml
printf '%s' "$TOKEN" >"$work/token"
chmod 600 "$work/token"
builtin_config() { printf 'api_url = "%s"\ntoken_file = "%s"\n' "$API_URL" "$work/token"; }
builtin_config >"$config"
export APIFY_HOST_CONFIG=$config

echo "==> filling the request queue 'jobs' with $REQUESTS requests"
python3 -c "import json,sys; json.dump([{'url': f'https://example.com/{n}'} for n in range($REQUESTS)], sys.stdout)" >"$work/requests.json"
"$BIN/apify-host" request-queues create jobs -o json >/dev/null
"$BIN/apify-host" request-queues add jobs "@$work/requests.json" -o json >/dev/null

echo "==> starting the worker on the built-in transport (2 requests at a time)"
WORKER_CONCURRENCY=2 WORKER_EXIT_WHEN_EMPTY=1 "$BIN/examples/worker" jobs >"$work/worker.out" 2>"$work/worker.err" &
worker=$!
pids+=("$worker")
sleep 1

stats() { # $1: what is shown
    local before
    before=$(wc -l <"$work/worker.out")
    kill -USR1 "$worker"
    for _ in $(seq 50); do [ "$(wc -l <"$work/worker.out")" -gt "$before" ] && break; sleep 0.05; done
    echo "    $1: $(tail -n1 "$work/worker.out")"
}

echo "==> kill -USR1: statistics before"
stats "before"

echo "==> editing the config: [transport] plugin = reqwest, pinned; then kill -HUP"
{
    builtin_config
    printf '\n[transport]\nplugin = "%s"\nsha256 = "%s"\n' "$PLUGIN" "$(sha256sum "$PLUGIN" | cut -d' ' -f1)"
} >"$config.new" && mv "$config.new" "$config"
kill -HUP "$worker"
sleep 0.5
stats "after"

echo "==> a canary: 10 % of the calls to a reqwest client whose proxy is a closed port; kill -HUP"
{
    cat "$config"
    printf '\n[transport.canary]\nplugin = "%s"\nshare = 0.1\n\n[transport.canary.options]\nproxy = "http://127.0.0.1:9"\n' "$PLUGIN"
} >"$config.new" && mv "$config.new" "$config"
"$BIN/apify-host" transport info | sed 's/^/    /'
kill -HUP "$worker"
sleep 0.5
stats "with the canary"

echo "==> waiting for the worker to finish the queue"
wait "$worker" || { echo "error: the worker failed:"; cat "$work/worker.err"; exit 1; }
echo "    done: $(tail -n1 "$work/worker.out")"

echo "==> what the worker logged"
grep -E 'SIGHUP|rolled back|drained|reload' "$work/worker.err" | sed 's/^/    /'
failed=$(tail -n1 "$work/worker.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])')
[ "$failed" = 0 ] || { echo "error: $failed requests failed"; exit 1; }
echo "==> every request processed, none failed, across a swap and a rolled-back canary"
