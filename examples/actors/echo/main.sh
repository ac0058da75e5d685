#!/bin/sh
# Echo: the input goes to the default dataset (its `items`, or itself) and to OUTPUT.
set -eu
. ../lib.sh
input=$(read_input)
echo "echo: run $ACTOR_RUN_ID got ${#input} bytes of input"
sleep_secs=$(printf '%s' "$input" | jq -r '.sleepSecs // 0')
if [ "$sleep_secs" != 0 ]; then
    echo "echo: sleeping ${sleep_secs}s"
    sleep "$sleep_secs"
fi
items=$(printf '%s' "$input" | jq -c 'if (.items | type) == "array" then .items else . end')
api POST "/v2/datasets/$ACTOR_DEFAULT_DATASET_ID/items" \
    -H 'Content-Type: application/json' --data-binary "$items" >/dev/null
api PUT "/v2/key-value-stores/$ACTOR_DEFAULT_KEY_VALUE_STORE_ID/records/OUTPUT" \
    -H 'Content-Type: application/json' --data-binary "$input" >/dev/null
echo "echo: done"
