#!/usr/bin/env bash
# Builds the addon with AddressSanitizer in a scratch clone and runs the native contract suite
# against it, with libasan preloaded into Node (Node itself is not instrumented; leak detection is
# off because Node does not free everything at exit: scripts/memcheck.sh covers leaks).
# With SHIMS=1 it builds the test addon with the kqueue and /dev/poll shims (test/native/shims)
# instead, and runs the suite through kqueue and devpoll.
# Usage: [SHIMS=1] scripts/asan-test.sh [mocha args...]   (default: test/native/poller.test.ts)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar -cf - ) | tar -xf - -C "$work"
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"
dir=.
if [ "${SHIMS:-0}" = 1 ]; then
  dir=test/native/shims
  export ASYNCORO_PREBUILD="$work/$dir" ASYNCORO_TEST_BACKENDS=${ASYNCORO_TEST_BACKENDS:-kqueue,devpoll}
fi
CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
  npx node-gyp rebuild --directory "$dir" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
libasan=$(g++ -print-file-name=libasan.so)
echo "asan-test: built with AddressSanitizer; preloading $libasan"
export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
if [ $# -eq 0 ]; then set -- test/native/poller.test.ts; fi
npx mocha "$@"
