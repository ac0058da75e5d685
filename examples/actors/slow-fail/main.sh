#!/bin/sh
# Slow fail: logs slowly, says why in its status message, and exits 1.
set -eu
. ../lib.sh
input=$(read_input)
count=$(printf '%s' "$input" | jq -r '.count // 10')
interval=$(printf '%s' "$input" | jq -r '.intervalSecs // "0.2"')
i=1
while [ "$i" -le "$count" ]; do
    echo "slow-fail: line $i of $count"
    sleep "$interval"
    i=$((i + 1))
done
api PUT "/v2/actor-runs/$ACTOR_RUN_ID" -H 'Content-Type: application/json' \
    --data-binary "{\"statusMessage\":\"Failed on purpose after $count lines\",\"isStatusMessageTerminal\":true}" >/dev/null
echo "slow-fail: failing now" >&2
exit 1
