#!/bin/sh
# npm-setup.sh — installs the Node packages the tests use (playwright-core
# for the Chromium tests, ws for the Node integration tests), exactly as
# tests/browser/package-lock.json pins them, into DIR/node_modules with
# `npm ci` on a copy of package.json and package-lock.json: node_modules
# never lands in the source tree (make distcheck has a read-only srcdir).
# Uses the machine's node and npm; never downloads a browser (Chromium comes
# from Debian: apt-get install -y chromium).
#
# usage: npm-setup.sh [DIR]     (default: $PG_BUILDDIR/node_modules-root)
# then:  export NODE_PATH=DIR/node_modules
# Does nothing when DIR already holds this lock file's packages.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-}
if [ -z "$dest" ]; then
    if [ -z "${PG_BUILDDIR:-}" ]; then
        echo "usage: npm-setup.sh DIR (or set PG_BUILDDIR)" >&2
        exit 2
    fi
    dest=$PG_BUILDDIR/node_modules-root
fi
command -v npm >/dev/null 2>&1 || { echo "npm-setup.sh: npm not found (apt-get install -y npm, or Node.js 20)" >&2; exit 1; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if cmp -s "$here/package-lock.json" "$dest/package-lock.json" &&
   [ -f "$dest/node_modules/playwright-core/package.json" ] && [ -f "$dest/node_modules/ws/package.json" ]; then
    echo "npm-setup.sh: $dest/node_modules is up to date"
    exit 0
fi
# Copies may come from a read-only srcdir: replace, then make them ours.
rm -f "$dest/package.json" "$dest/package-lock.json"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
chmod u+w "$dest/package.json" "$dest/package-lock.json"
cd "$dest"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
echo "npm-setup.sh: installed into $dest/node_modules (NODE_PATH=$dest/node_modules)"
