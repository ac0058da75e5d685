# Shared by the example Actors: `api METHOD PATH [curl options...]` calls the Apify API the
# run was given (APIFY_API_BASE_URL), with the run's token when there is one. The token goes
# to curl on its standard input (`-H @-`), never on a command line or in the log.
api() {
    method=$1
    path=$2
    shift 2
    if [ -n "${APIFY_TOKEN:-}" ]; then
        printf 'Authorization: Bearer %s\n' "$APIFY_TOKEN" |
            curl -sS -f -X "$method" -H @- "$APIFY_API_BASE_URL$path" "$@"
    else
        curl -sS -f -X "$method" "$APIFY_API_BASE_URL$path" "$@"
    fi
}

# The run's input (the record ACTOR_INPUT_KEY of the default key-value store), or `{}`.
read_input() {
    api GET "/v2/key-value-stores/$ACTOR_DEFAULT_KEY_VALUE_STORE_ID/records/${ACTOR_INPUT_KEY:-INPUT}" 2>/dev/null || printf '{}'
}
