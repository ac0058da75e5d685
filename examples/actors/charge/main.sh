#!/bin/sh
# Charge: pay-per-event charges, one of them retried with the same idempotency key.
set -eu
. ../lib.sh
charge() { # EVENT COUNT IDEMPOTENCY_KEY
    api POST "/v2/actor-runs/$ACTOR_RUN_ID/charge" -H 'Content-Type: application/json' \
        -H "idempotency-key: $3" --data-binary "{\"eventName\":\"$1\",\"count\":$2}" >/dev/null
    echo "charge: charged $2 x $1"
}
charge actor-start 1 "$ACTOR_RUN_ID-start"
charge item-processed 3 "$ACTOR_RUN_ID-items"
# A retry of the same charge (same key): the platform counts it once.
charge item-processed 3 "$ACTOR_RUN_ID-items"
echo "charge: done"
