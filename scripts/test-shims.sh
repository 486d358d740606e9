#!/usr/bin/env bash
# Builds the test-only addon with the kqueue and /dev/poll shims (test/native/shims: kqueue over
# epoll, /dev/poll over poll(2), following kqueue(2) and poll(7D)) and runs through kqueue and
# devpoll, in every mode each offers: the poller contract suite, the kqueue nesting self-test and
# its fallback, the core suite on every backend, and the AsyncSocket suite.
# The shipped addon (build/, prebuilds/) is neither used nor touched.
# Usage: scripts/test-shims.sh [mocha args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "test-shims: building test/native/shims (the shipped sources plus the shims)"
npx --no-install node-gyp rebuild --directory test/native/shims >"$log" 2>&1 || {
  cat "$log"
  exit 1
}
export ASYNCORO_PREBUILD="$root/test/native/shims" ASYNCORO_TEST_BACKENDS=kqueue,devpoll
node --import tsx --input-type=module -e "
  const { nativeFile } = await import('./lib/native/binding.ts');
  if (!nativeFile.includes('/test/native/shims/')) { console.error('loaded ' + nativeFile); process.exit(1); }
  console.log('test-shims: loading ' + nativeFile);"
if [ $# -eq 0 ]; then
  set -- test/native/poller.test.ts test/native/kqueue.test.ts test/core/backends.test.ts \
    test/io/socket.test.ts
fi
npx --no-install mocha "$@"
