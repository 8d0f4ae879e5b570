#!/usr/bin/env bash
# Prints the glibc floor of a native binding: the highest GLIBC_x.y symbol version it imports
# (`objdump -T`), the imported symbols newer than the target floor, and how many absolute build
# paths (the checkout, the cargo registry) the binary contains. Run by `pnpm release:dry-run`.
#
#   scripts/release/glibc-floor.sh [FILE] [--max X.Y]
#
# FILE defaults to the platform package's .node. With --max, exits 1 when the floor is above X.Y
# (the release target is 2.28, see docs/releasing.md; today's build needs 2.34, so CI prints it
# without --max until the release build targets the older floor).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
file="$ROOT/packages/js-host-api-linux-x64-gnu/js-host-api.linux-x64-gnu.node"
max=""
target="2.28"
while [ $# -gt 0 ]; do
  case "$1" in
    --max) max="$2"; shift 2 ;;
    *) file="$1"; shift ;;
  esac
done
command -v objdump >/dev/null || { echo "glibc-floor: objdump is needed (Debian: binutils)" >&2; exit 1; }
[ -f "$file" ] || { echo "glibc-floor: $file does not exist (pnpm run build:native builds it)" >&2; exit 1; }

symbols=$(objdump -T "$file" | grep -oE '\(GLIBC_[0-9.]+\)\s+[A-Za-z_0-9]+' | tr -d '()' | awk '{print $1, $2}' | sort -u)
floor=$(printf '%s\n' "$symbols" | awk '{print $1}' | sed 's/GLIBC_//' | sort -uV | tail -1)
above=$(printf '%s\n' "$symbols" | awk -v t="$target" '{ v = $1; sub("GLIBC_", "", v); split(v, a, "."); split(t, b, ".");
  if (a[1] > b[1] || (a[1] == b[1] && a[2] + 0 > b[2] + 0)) printf "%s@%s ", $2, v }')
paths=$(strings "$file" | grep -cE '^/(work|root|home)/|/\.cargo/registry/' || true)
echo "glibc-floor: $(basename "$file") needs glibc $floor"
echo "glibc-floor: imports newer than $target: ${above:-none}"
echo "glibc-floor: absolute build paths in the binary: $paths"
if [ -n "$max" ] && [ "$(printf '%s\n%s\n' "$floor" "$max" | sort -V | tail -1)" != "$max" ]; then
  echo "glibc-floor: the floor $floor is above the allowed $max" >&2
  exit 1
fi
