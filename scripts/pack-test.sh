#!/usr/bin/env bash
# Packs asyncoro as npm would publish it, installs the tarball into a fresh project with no
# compiler on PATH, and uses it there from ESM and from CommonJS. Proves that users get a working
# package from the prebuilt binary alone. Needs prebuilds/ (npm run prebuilds) first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shopt -s nullglob
prebuilt=(prebuilds/"$(node -p 'process.platform + "-" + process.arch')"/*.node)
if [ ${#prebuilt[@]} -eq 0 ]; then
  echo "pack-test: no prebuild for this platform in prebuilds/; run 'npm run prebuilds' first" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "pack-test: packed $tarball ($(du -h "$work/$tarball" | cut -f1))"
tar -tzf "$work/$tarball" > "$work/contents"
grep -q 'package/prebuilds/.*\.node$' "$work/contents" || { echo "pack-test: no prebuild in the tarball" >&2; exit 1; }
grep -q 'package/dist/index.js$' "$work/contents" || { echo "pack-test: no dist/ in the tarball" >&2; exit 1; }

# A PATH with node, npm and a shell, and no compiler, make or python.
bin="$work/bin"
mkdir -p "$bin"
for tool in node npm npx sh bash env uname cat rm mkdir ls; do
  src=$(command -v "$tool") && ln -s "$src" "$bin/$tool"
done
for tool in cc gcc g++ c++ make python3 node-gyp; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then
    echo "pack-test: $tool is still on the sandbox PATH" >&2
    exit 1
  fi
done

app="$work/app"
mkdir -p "$app"
cd "$app"
echo '{ "name": "pack-test-app", "version": "1.0.0", "private": true }' > package.json
PATH="$bin" npm install --no-audit --no-fund --prefer-offline "$work/$tarball" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  echo "pack-test: npm install of the tarball failed" >&2
  exit 1
}
if [ -d node_modules/asyncoro/build ]; then
  echo "pack-test: the install compiled the addon instead of using the prebuild" >&2
  exit 1
fi

cat > esm.mjs <<'JS'
import { backends, openPoller, native, nativeFile, EV, Scheduler, waitReadable } from 'asyncoro';
if (!nativeFile.includes('/prebuilds/')) throw new Error(`loaded ${nativeFile}, not a prebuild`);
const fds = new Int32Array(2);
for (const b of backends()) {
  if (b.kind === 'completion') {
    // io_uring: a scheduler runs on it; a coroutine waits for a pipe through the ring.
    const s = new Scheduler({ poller: b.name, mode: 'exclusive' });
    if (native.pipe(fds) !== 0) throw new Error('pipe');
    let bits = 0;
    s.spawn(function* () {
      bits = yield* waitReadable(fds[0], 1000);
    });
    native.write(fds[1], Buffer.from('x'), 0, 1);
    s.run();
    s.close();
    if ((bits & EV.READ) === 0) throw new Error(`${b.name}: got events ${bits}`);
    native.close(fds[0]);
    native.close(fds[1]);
    continue;
  }
  for (const mode of ['exclusive']) {
    const { poller, events } = openPoller({ poller: b.name, mode });
    if (native.pipe(fds) !== 0) throw new Error('pipe');
    poller.add(fds[0], EV.READ, 5);
    native.write(fds[1], Buffer.from('x'), 0, 1);
    const n = poller.wait(1000);
    if (n !== 1 || events[0] !== 5) throw new Error(`${b.name}: got ${n} events`);
    poller.close();
    native.close(fds[0]);
    native.close(fds[1]);
  }
}
console.log(`pack-test: ESM import works, backends ${backends().map((b) => b.name).join(', ')}, from ${nativeFile.replace(/.*node_modules\//, '')}`);
JS
PATH="$bin" node esm.mjs

# CommonJS users on Node >= 20.19 can require() the ESM package.
cat > cjs.cjs <<'JS'
const { backends } = require('asyncoro');
console.log(`pack-test: CommonJS require works, ${backends().length} backends`);
JS
PATH="$bin" node cjs.cjs

# The daemon command is installed as a bin.
PATH="$bin" npx --no-install asyncoro --help | grep -q 'usage: asyncoro node' || { echo "pack-test: the asyncoro command does not run" >&2; exit 1; }
echo "pack-test: npx asyncoro runs"
echo "pack-test: ok"
