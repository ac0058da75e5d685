#!/usr/bin/env bash
# The official Apify SDKs for the SDK Actor tests (cli/tests/cli/sdk_actors.rs), pinned and cached:
#
#   ${APIFY_SDK_CACHE:-$HOME/.cache/apify-host/sdk}/<key>/python   a venv: apify, crawlee[parsel]
#   ${APIFY_SDK_CACHE:-$HOME/.cache/apify-host/sdk}/<key>/node     node_modules: apify, crawlee, cheerio
#
# <key> is a short hash of the pins (scripts/sdk-env/: requirements.txt, constraints.txt,
# package.json, package-lock.json) and of the Python and Node.js major.minor versions, so a
# change of any of them installs anew beside the old one. A cached install is validated
# (imports and versions) and rebuilt if broken.
#
# Idempotent, and safe when interrupted or run twice at once: one install per key at a time
# (flock), built in a folder of its own (.build-<key>-XXXX), and published at the end by
# renaming a symlink <key> -> .build-<key>-XXXX over the old one (the venv keeps the path it was
# built at, so it is never moved). Leftovers of interrupted builds are removed by the next run.
#
# Prints, on stdout only, the variables the tests read, for `eval "$(scripts/sdk-env.sh)"`:
#   export APIFY_SDK_PYTHON=/…/python/bin/python
#   export APIFY_SDK_NODE_MODULES=/…/node/node_modules
#   export APIFY_SDK_INSTALL_SECS=N       (0 when the cache was valid)
# Progress goes to stderr. Needs python3 (with venv), node and npm, and PyPI and the npm
# registry when the cache is cold.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pins="$here/sdk-env"
python_bin="${APIFY_SDK_BASE_PYTHON:-$(command -v python3.11 || command -v python3)}"
cache="${APIFY_SDK_CACHE:-$HOME/.cache/apify-host/sdk}"

say() { echo "sdk-env: $*" >&2; }

py_version="$("$python_bin" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
node_version="$(node -p 'process.versions.node.split(".").slice(0, 2).join(".")')"
key="$(
    {
        for f in requirements.txt constraints.txt package.json package-lock.json; do
            [ -f "$pins/$f" ] && { echo "== $f"; cat "$pins/$f"; }
        done
        echo "python $py_version"
        echo "node $node_version"
    } | sha256sum | cut -c1-12
)"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
link="$cache/$key"

# Checks an install folder: the pinned versions import and report themselves.
validate() {
    local dir="$1"
    [ -f "$dir/.complete" ] || return 1
    "$dir/python/bin/python" - "$pins/requirements.txt" >/dev/null 2>&1 <<'PY' || return 1
import re, sys
from importlib.metadata import version
import apify, crawlee, parsel  # noqa: F401  (imports must work, not only the metadata)
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
        assert version(name) == want, (name, version(name), want)
PY
    (cd "$dir/node" && node --input-type=module -e '
        import { readFileSync } from "node:fs";
        const want = JSON.parse(readFileSync("package.json", "utf8")).dependencies;
        for (const [name, v] of Object.entries(want)) {
            const got = JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")).version;
            if (got !== v) throw new Error(`${name} ${got} != ${v}`);
        }
        await import("apify"); await import("crawlee"); await import("cheerio");
    ') >/dev/null 2>&1 || return 1
}

print_vars() {
    echo "export APIFY_SDK_PYTHON='$link/python/bin/python'"
    echo "export APIFY_SDK_NODE_MODULES='$link/node/node_modules'"
    echo "export APIFY_SDK_INSTALL_SECS=$1"
}

# Fast path, no lock: a valid install.
if [ -L "$link" ] && validate "$link"; then
    say "cached and valid: $link -> $(readlink "$link")"
    print_vars 0
    exit 0
fi

exec 9>"$cache/.lock-$key"
flock 9
# Another run may have installed it while this one waited for the lock.
if [ -L "$link" ] && validate "$link"; then
    say "cached and valid: $link -> $(readlink "$link")"
    print_vars 0
    exit 0
fi

started=$SECONDS
# Leftovers of interrupted or replaced builds of this key (none is in use: the lock is ours).
current="$(readlink "$link" 2>/dev/null || true)"
for old in "$cache"/.build-"$key"-*; do
    [ -e "$old" ] || continue
    [ "$(basename "$old")" = "$current" ] && continue
    say "removing the leftover $old"
    rm -rf "$old"
done
[ -e "$link" ] && [ ! -L "$link" ] && rm -rf "$link"

build="$(mktemp -d "$cache/.build-$key-XXXXXX")"
chmod 755 "$build"
say "installing into $build (key $key: python $py_version, node $node_version)"

say "python: venv + pip install -r requirements.txt"
"$python_bin" -m venv "$build/python"
constraints=()
[ -f "$pins/constraints.txt" ] && constraints=(-c "$pins/constraints.txt")
"$build/python/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$pins/requirements.txt" "${constraints[@]}" >&2

say "node: npm ci (npm install when there is no lock)"
mkdir -p "$build/node"
cp "$pins/package.json" "$build/node/"
if [ -f "$pins/package-lock.json" ]; then
    cp "$pins/package-lock.json" "$build/node/"
    (cd "$build/node" && npm ci --no-audit --no-fund --loglevel=error >&2)
else
    (cd "$build/node" && npm install --no-audit --no-fund --loglevel=error >&2)
fi

touch "$build/.complete"
validate "$build" || { say "the new install does not validate: $build"; exit 1; }
# Publish: a new symlink renamed over the old one (atomic), then the old build removed.
ln -sfn "$(basename "$build")" "$cache/.link-$key.tmp"
mv -Tf "$cache/.link-$key.tmp" "$link"
[ -n "$current" ] && [ "$current" != "$(basename "$build")" ] && rm -rf "${cache:?}/$current"
secs=$((SECONDS - started))
say "installed in ${secs}s: $link"
print_vars "$secs"
