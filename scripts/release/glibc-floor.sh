#!/usr/bin/env bash
# The glibc floor of a native binding: the highest GLIBC_x.y symbol version it imports
# (`objdump -T`), the imported symbols newer than the release floor, and the absolute build paths
# (this checkout, the cargo home, the home directory, /work, /root, /home) left in the binary.
#
#   scripts/release/glibc-floor.sh [FILE] [--max X.Y] [--no-build-paths]
#   scripts/release/glibc-floor.sh [FILE] --release     (= --max RELEASE_FLOOR --no-build-paths)
#   scripts/release/glibc-floor.sh --print-release-floor
#
# FILE defaults to the platform package's .node. `--max X.Y` exits 1 when the binary needs a glibc
# newer than X.Y; `--no-build-paths` exits 1 when any build path is left in it. `pnpm
# release:dry-run` runs it with `--release` (docs/releasing.md, "glibc floor"), and
# scripts/release/build-native.sh right after building the binding.
set -euo pipefail

# The oldest glibc the published binding supports: the release build links against it
# (scripts/release/build-native.sh) and the release checks refuse anything newer.
RELEASE_FLOOR="2.28"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
file="$ROOT/packages/js-host-api-linux-x64-gnu/js-host-api.linux-x64-gnu.node"
max=""
no_paths=0
while [ $# -gt 0 ]; do
  case "$1" in
    --max)
      [ $# -ge 2 ] || { echo "glibc-floor: --max needs a version (X.Y)" >&2; exit 2; }
      max="$2"
      shift 2
      ;;
    --no-build-paths) no_paths=1; shift ;;
    --release) max="$RELEASE_FLOOR"; no_paths=1; shift ;;
    --print-release-floor) echo "$RELEASE_FLOOR"; exit 0 ;;
    -*) echo "glibc-floor: unknown option $1" >&2; exit 2 ;;
    *) file="$1"; shift ;;
  esac
done
target="${max:-$RELEASE_FLOOR}"
command -v objdump >/dev/null || { echo "glibc-floor: objdump is needed (Debian: binutils)" >&2; exit 1; }
command -v strings >/dev/null || { echo "glibc-floor: strings is needed (Debian: binutils)" >&2; exit 1; }
[ -f "$file" ] || { echo "glibc-floor: $file does not exist (pnpm run build:native builds it)" >&2; exit 1; }

dynsyms=$(objdump -T "$file") || { echo "glibc-floor: objdump -T cannot read $file" >&2; exit 1; }
symbols=$(printf '%s\n' "$dynsyms" | grep -oE '\(GLIBC_[0-9.]+\)\s+[A-Za-z_0-9]+' | tr -d '()' | awk '{print $1, $2}' | sort -u || true)
if [ -z "$symbols" ]; then
  echo "glibc-floor: $(basename "$file") imports no versioned glibc symbol: not a glibc binding?" >&2
  exit 1
fi
floor=$(printf '%s\n' "$symbols" | awk '{print $1}' | sed 's/GLIBC_//' | sort -uV | tail -1)
above=$(printf '%s\n' "$symbols" | awk -v t="$target" '{ v = $1; sub("GLIBC_", "", v); split(v, a, "."); split(t, b, ".");
  if (a[1] > b[1] || (a[1] == b[1] && a[2] + 0 > b[2] + 0)) printf "%s@%s ", $2, v }')

# Absolute paths of the build machine: the generic places, plus this checkout, the cargo home and
# the home directory wherever they are.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
path_pattern='^/(work|root|home)/|/\.cargo/(registry|git)/'
for p in "$ROOT" "$cargo_home" "$HOME"; do
  [ "${#p}" -gt 1 ] || continue
  path_pattern="$path_pattern|$(printf '%s' "$p" | sed 's/[][\.*^$+?(){}|]/\\&/g')/"
done
build_paths=$(strings -n 6 "$file" | grep -E "$path_pattern" || true)
npaths=$(printf '%s' "$build_paths" | grep -c . || true)

echo "glibc-floor: $(basename "$file") needs glibc $floor"
echo "glibc-floor: imports newer than $target: ${above:-none}"
echo "glibc-floor: absolute build paths in the binary: $npaths"
status=0
if [ -n "$max" ] && [ "$(printf '%s\n%s\n' "$floor" "$max" | sort -V | tail -1)" != "$max" ]; then
  echo "glibc-floor: FAILED: the binding needs glibc $floor, above the allowed $max (build it with pnpm run build:native, see docs/releasing.md)" >&2
  status=1
fi
if [ "$no_paths" -eq 1 ] && [ "$npaths" -gt 0 ]; then
  echo "glibc-floor: FAILED: $npaths absolute build paths in the binary, e.g.:" >&2
  printf '%s\n' "$build_paths" | head -5 | sed 's/^/  /' >&2
  status=1
fi
exit "$status"
