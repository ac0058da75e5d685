#!/usr/bin/env bash
# Peak memory of the apify-host CLI while it streams a 1,000,000-item dataset (get-items) and a
# 1 GiB record (get-value) from the local API, with the built-in transport and with the reqwest
# plugin. Target: peak RSS <= 64 MiB whatever the size.
#
#   scripts/bench-cli-rss.sh            # ITEMS=1000000 RECORD_MIB=1024
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${ITEMS:-1000000}
RECORD_MIB=${RECORD_MIB:-1024}

cargo build --release --quiet -p apify-host-cli -p apify-local-api -p apify-transport-reqwest
BIN=$PWD/target/release
work=$(mktemp -d)
api_pid=
cleanup() { [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$BIN/apify-local-api" --listen 127.0.0.1:0 --request-log-limit 0 >"$work/api.out" 2>/dev/null &
api_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/api.out" 2>/dev/null && break; sleep 0.1; done
# `listening on URL (token in FILE)`: the server made a token and wrote it to FILE.
API=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/api.out" | head -n1)
token_file=$(sed -n 's/^listening on .* (token in \(.*\))$/\1/p' "$work/api.out" | head -n1)
[ -n "$API" ] && [ -r "$token_file" ] || { echo "error: the local API did not start"; exit 1; }
APIFY_TOKEN=$(cat "$token_file")
export APIFY_API_BASE_URL=$API APIFY_TOKEN
# The control API needs the token too; a header file keeps it out of the process list.
(umask 077; printf 'Authorization: Bearer %s\n' "$APIFY_TOKEN" >"$work/control-auth")

ds=$("$BIN/apify-host" -o json datasets create rss-bench | jq -r .id)
curl -fsS -H @"$work/control-auth" -X POST "$API/_control/datasets/$ds/generate?count=$ITEMS" >/dev/null
kvs=$("$BIN/apify-host" -o json key-value-stores create rss-bench | jq -r .id)
curl -fsS -H @"$work/control-auth" -X POST "$API/_control/key-value-stores/$kvs/records/big/generate?bytes=$((RECORD_MIB * 1048576))" >/dev/null

# peak RSS (KiB) and wall seconds of one command
measure() { /usr/bin/time -f '%M %e' -o "$work/time" "$@" >/dev/null 2>&1; cat "$work/time"; }

printf '%-9s %-34s %14s %10s %10s\n' transport command "peak RSS MiB" seconds "out MB"
for t in builtin reqwest; do
    if [ $t = reqwest ]; then export APIFY_TRANSPORT_PLUGIN=$BIN/libapify_transport_reqwest.so; fi
    read -r kib secs <<<"$(measure "$BIN/apify-host" datasets get-items "$ds" --format jsonl --out "$work/items.jsonl")"
    lines=$(wc -l <"$work/items.jsonl")
    [ "$lines" -eq "$ITEMS" ] || { echo "error: got $lines items"; exit 1; }
    printf '%-9s %-34s %14.1f %10s %10.0f\n' $t "get-items ($ITEMS items, jsonl)" "$(echo "$kib/1024" | bc -l)" "$secs" "$(echo "$(stat -c %s "$work/items.jsonl")/1000000" | bc -l)"
    read -r kib secs <<<"$(measure "$BIN/apify-host" key-value-stores get-value "$kvs" big --out "$work/big.bin")"
    printf '%-9s %-34s %14.1f %10s %10.0f\n' $t "get-value ($RECORD_MIB MiB record)" "$(echo "$kib/1024" | bc -l)" "$secs" "$(echo "$(stat -c %s "$work/big.bin")/1000000" | bc -l)"
    rm -f "$work/items.jsonl" "$work/big.bin"
done
