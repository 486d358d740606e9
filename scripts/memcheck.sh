#!/usr/bin/env bash
# Runs scripts/native-stress.cjs under valgrind memcheck and reports the errors and leaks whose
# stacks go through the addon (Node's own allocations at exit are not ours to judge).
# Usage: scripts/memcheck.sh [script.cjs]   (default scripts/native-stress.cjs; needs valgrind;
# takes a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite --num-callers=30 --log-file="$log" \
  node --expose-gc --jitless "${1:-scripts/native-stress.cjs}"
echo "valgrind log: $log"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$log" || true
# A record is ours if any frame names the addon's code.
ours=$(awk '/^==[0-9]+== $/ { if (rec ~ /asyncoro/) print rec; rec=""; next } { rec = rec "\n" $0 }' "$log" | grep -c 'asyncoro' || true)
if [ "$ours" != "0" ]; then
  echo "memcheck: records through the addon:"
  awk '/^==[0-9]+== $/ { if (rec ~ /asyncoro/) print rec; rec=""; next } { rec = rec "\n" $0 }' "$log"
  exit 1
fi
echo "memcheck: no error or leak through the addon"
