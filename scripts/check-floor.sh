#!/usr/bin/env bash
# Checks that a built addon needs no newer GLIBC, GLIBCXX or CXXABI symbol version than the Node
# binary that runs it, so a prebuild loads wherever that Node loads. Prints the floor it found.
# Usage: scripts/check-floor.sh <addon.node> [node-binary]
# OBJDUMP names the objdump for another architecture (aarch64-linux-gnu-objdump for arm64).
set -euo pipefail
objdump=${OBJDUMP:-objdump}
addon=${1:?usage: check-floor.sh <addon.node> [node-binary]}
node_bin=${2:-$(command -v node)}
node_bin=$(readlink -f "$node_bin")

highest() { # highest version of symbol family $2 that file $1 needs
  "$objdump" -T "$1" | grep -oE "\\b$2_[0-9][0-9.]*" | sort -Vu | tail -n 1
}
status=0
for family in GLIBC GLIBCXX CXXABI; do
  ours=$(highest "$addon" "$family" || true)
  theirs=$(highest "$node_bin" "$family" || true)
  if [ -z "$ours" ]; then
    printf '%-8s addon needs none           (node: %s)\n' "$family" "${theirs:-none}"
    continue
  fi
  if [ -z "$theirs" ]; then
    echo "$family: the addon needs $ours but $node_bin needs no $family at all" >&2
    status=1
    continue
  fi
  newest=$(printf '%s\n%s\n' "$ours" "$theirs" | sort -V | tail -n 1)
  if [ "$newest" != "$theirs" ]; then
    echo "$family: the addon needs $ours, newer than $theirs that $node_bin needs:" >&2
    "$objdump" -T "$addon" | grep -E "\\(${family}_" | grep -F "$ours" >&2 || true
    status=1
  else
    printf '%-8s addon needs %-16s node needs %s\n' "$family" "$ours" "$theirs"
  fi
done
exit $status
