#!/usr/bin/env bash
# The main job, offline: build, start the local Apify API on loopback with the example Actors
# (examples/actors), then run the same ops workload through the apify-host CLI three times: with
# the built-in transport, the reqwest plugin and the hyper plugin (a hosted one: it runs on the
# CLI's thread), selected by nothing but a config file: call an Actor with an input (its log followed on stderr), read its dataset and OUTPUT,
# push and read back items and a large record; then print a side-by-side table.
#
#   scripts/main-job.sh                 # 10,000 items, a 256 MiB record
#   ITEMS=100000 RECORD_MIB=1024 scripts/main-job.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ITEMS=${ITEMS:-10000}
RECORD_MIB=${RECORD_MIB:-256}
TOKEN="main-job-token-$$"

echo "==> building (release): apify-host, apify-local-api, the reqwest and hyper transport plugins"
cargo build --release --quiet -p apify-host-cli -p apify-local-api -p apify-transport-reqwest \
    -p apify-transport-hyper
BIN=$PWD/target/release

work=$(mktemp -d)
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting the local Apify API on 127.0.0.1, with the example Actors"
APIFY_LOCAL_API_TOKEN=$TOKEN "$BIN/apify-local-api" --listen 127.0.0.1:0 --request-log-limit 1000000 \
    --max-record-bytes $((RECORD_MIB * 1024 * 1024)) \
    --actors "$PWD/examples/actors" \
    >"$work/api.out" 2>"$work/api.err" &
api_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/api.out" 2>/dev/null && break; sleep 0.1; done
# The URL is the first word after `listening on ` (a "(token in FILE)" may follow; this
# script passes its own token, so there is no file to read).
API_URL=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/api.out" | head -n1)
[ -n "$API_URL" ] || { echo "error: the local API did not start:"; cat "$work/api.err"; exit 1; }
echo "    $API_URL"

# Three configs that differ only in [transport]: that is the whole switch.
printf 'api_url = "%s"\ntoken_file = "%s"\n' "$API_URL" "$work/token" >"$work/builtin.toml"
printf '%s' "$TOKEN" >"$work/token"
chmod 600 "$work/token"
# The control API needs the token too; a header file keeps it out of the process list.
(umask 077; printf 'Authorization: Bearer %s\n' "$TOKEN" >"$work/control-auth")
for plugin in reqwest hyper; do
    so=$BIN/libapify_transport_$plugin.so
    cp "$work/builtin.toml" "$work/$plugin.toml"
    cat >>"$work/$plugin.toml" <<TOML

[transport]
plugin = "$so"
sha256 = "$(sha256sum "$so" | cut -d' ' -f1)"

[transport.options]
pool_max_idle_per_host = 8
TOML
done

echo "==> preparing $ITEMS items and a $RECORD_MIB MiB record"
seq 1 "$ITEMS" | awk 'BEGIN{printf "["} {if (NR>1) printf ","; printf "{\"n\":%d,\"url\":\"https://example.com/page/%d\",\"title\":\"Item %d\"}", $1, $1, $1} END{print "]"}' >"$work/items.json"
head -c $((RECORD_MIB * 1024 * 1024)) /dev/urandom >"$work/record.bin"
ACTOR_ITEMS=$(( ITEMS < 1000 ? ITEMS : 1000 ))
jq -c --argjson n "$ACTOR_ITEMS" '{items: .[0:$n]}' "$work/items.json" >"$work/actor-input.json"
record_sha=$(sha256sum "$work/record.bin" | cut -d' ' -f1)

declare -A RESULT
for t in builtin reqwest hyper; do
    export APIFY_HOST_CONFIG="$work/$t.toml"
    echo "==> workload with the $t transport (config: $t.toml)"
    "$BIN/apify-host" -o table transport info | sed 's/^/    /'
    curl -fsS -H @"$work/control-auth" -X DELETE "$API_URL/_control/requests" >/dev/null
    now() { date +%s.%N; }
    start=$(now)
    echo "    call echo (its log follows, indented):"
    "$BIN/apify-host" -o json call echo --input "@$work/actor-input.json" >"$work/$t-run.json" \
        2> >(sed 's/^/      | /' >&2)
    [ "$(jq -r .status "$work/$t-run.json")" = SUCCEEDED ] || { echo "error: the Actor run did not succeed"; exit 1; }
    "$BIN/apify-host" datasets get-items "$(jq -r .defaultDatasetId "$work/$t-run.json")" --format jsonl \
        --out "$work/$t-run-items.jsonl"
    got=$(wc -l <"$work/$t-run-items.jsonl")
    [ "$got" -eq "$ACTOR_ITEMS" ] || { echo "error: the run's dataset has $got items, the input $ACTOR_ITEMS"; exit 1; }
    "$BIN/apify-host" -o json key-value-stores get-value "$(jq -r .defaultKeyValueStoreId "$work/$t-run.json")" OUTPUT \
        >"$work/$t-output.json"
    [ "$(jq -cS . "$work/$t-output.json")" = "$(jq -cS . "$work/actor-input.json")" ] || { echo "error: OUTPUT differs from the input"; exit 1; }
    echo "    ok: run $(jq -r .id "$work/$t-run.json") SUCCEEDED; its dataset ($got items) and OUTPUT match the input"
    t_call=$(now)
    ds=$("$BIN/apify-host" -o json datasets create "main-job-$t" | jq -r .id)
    "$BIN/apify-host" datasets push-items "$ds" "@$work/items.json" >/dev/null
    "$BIN/apify-host" datasets get-items "$ds" --format jsonl --out "$work/$t-items.jsonl"
    got=$(wc -l <"$work/$t-items.jsonl")
    [ "$got" -eq "$ITEMS" ] || { echo "error: read back $got items, pushed $ITEMS"; exit 1; }
    t_items=$(now)
    kvs=$("$BIN/apify-host" -o json key-value-stores create "main-job-$t" | jq -r .id)
    "$BIN/apify-host" key-value-stores set-value "$kvs" big "@$work/record.bin" --content-type application/octet-stream >/dev/null
    t_upload=$(now)
    "$BIN/apify-host" key-value-stores get-value "$kvs" big --out "$work/$t-record.bin"
    [ "$(sha256sum "$work/$t-record.bin" | cut -d' ' -f1)" = "$record_sha" ] || { echo "error: the record came back different"; exit 1; }
    end=$(now)
    requests=$(curl -fsS -H @"$work/control-auth" "$API_URL/_control/requests" | jq 'length')
    bytes=$(( $(stat -c %s "$work/items.json") + $(stat -c %s "$work/$t-items.jsonl") + 2 * $(stat -c %s "$work/record.bin") ))
    RESULT[$t]="$requests $bytes $(echo "$end - $start" | bc -l) $(echo "$t_call - $start" | bc -l) $(echo "$t_items - $t_call" | bc -l) $(echo "$t_upload - $t_items" | bc -l) $(echo "$end - $t_upload" | bc -l)"
    echo "    ok: $ITEMS items pushed and read back, record sha256 matches"
done

echo
echo "Same workload, transport chosen by config only (Actor input: $ACTOR_ITEMS items; items: $ITEMS;"
echo "record: $RECORD_MIB MiB):"
printf '%-10s %9s %11s %9s %8s %9s %10s %14s\n' transport requests bytes "total s" "call s" "items s" "upload s" "download MB/s"
for t in builtin reqwest hyper; do
    read -r req bytes secs call items up down <<<"${RESULT[$t]}"
    printf '%-10s %9d %11d %9.2f %8.2f %9.2f %10.2f %14.0f\n' "$t" "$req" "$bytes" "$secs" "$call" "$items" "$up" \
        "$(echo "$RECORD_MIB * 1048576 / $down / 1000000" | bc -l)"
done
echo "(requests: every request the local API received, the Actor's own included; call s: start, follow"
echo " the log, wait, read the run's dataset and OUTPUT; items s: create + push + read back the items;"
echo " upload s: the record is not gzipped, since a sample of it shows gzip would not save 10 %;"
echo " download is streamed to a file)"
