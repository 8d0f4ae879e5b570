#!/usr/bin/env bash
# Zig and cargo-zigbuild, the tools that build the published Node binding against an older glibc
# (docs/releasing.md, "glibc floor"), pinned with hashes in scripts/release/zig-tools.txt.
#
#   scripts/release/zig-tools.sh install   install them (idempotent: quick when already there)
#   scripts/release/zig-tools.sh bin       print the directory to put first on PATH; exit 1 with
#                                           what to do when they are not installed
#
# They go into a Python virtualenv under ${XDG_CACHE_HOME:-~/.cache}/hyperlight-js/, named after
# the hash of zig-tools.txt: a change of pins installs into a new one, and every checkout of the
# same pins (worktrees, CI clones) shares it. `HYPERLIGHT_ZIG_TOOLS_DIR` names another directory.
# Needs python3 (3.8 or later) with its `venv` module (Debian: python3-venv) and PyPI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PINS="$ROOT/scripts/release/zig-tools.txt"

fail() {
  printf 'zig-tools: %s\n' "$*" >&2
  exit 1
}

pin_of() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$PINS"; }

tools_dir() {
  if [ -n "${HYPERLIGHT_ZIG_TOOLS_DIR:-}" ]; then
    printf '%s\n' "$HYPERLIGHT_ZIG_TOOLS_DIR"
    return
  fi
  local hash
  hash=$(sha256sum "$PINS" | cut -c1-12)
  printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/hyperlight-js/zig-tools-$hash"
}

# Prints nothing and fails unless DIR holds exactly the pinned versions.
installed_ok() {
  local dir=$1 zig zigbuild
  [ -x "$dir/bin/zig" ] && [ -x "$dir/bin/cargo-zigbuild" ] || return 1
  zig=$("$dir/bin/zig" version 2>/dev/null) || return 1
  zigbuild=$("$dir/bin/cargo-zigbuild" --version 2>/dev/null) || return 1
  [ "$zig" = "$(pin_of ziglang)" ] && [ "$zigbuild" = "cargo-zigbuild $(pin_of cargo-zigbuild)" ]
}

install() {
  local dir
  dir=$(tools_dir)
  if installed_ok "$dir"; then
    echo "zig-tools: Zig $(pin_of ziglang) and cargo-zigbuild $(pin_of cargo-zigbuild) in $dir"
    return 0
  fi
  command -v python3 >/dev/null 2>&1 ||
    fail "python3 is needed to install Zig and cargo-zigbuild from PyPI (Debian: apt-get install python3 python3-venv)."
  echo "zig-tools: installing Zig $(pin_of ziglang) and cargo-zigbuild $(pin_of cargo-zigbuild) from PyPI into $dir"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir" </dev/null ||
    fail "could not create a Python virtualenv in $dir (\`python3 -m venv\`; Debian: apt-get install python3-venv)."
  "$dir/bin/python3" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary=:all: -r "$PINS" </dev/null ||
    fail "could not install the pinned ziglang and cargo-zigbuild wheels from PyPI (scripts/release/zig-tools.txt): is PyPI reachable, and is this Linux x86-64?"
  # The wheel's own zig executable, as `zig` first on PATH: cargo-zigbuild and napi-rs look for
  # `zig` there before anything else, so another Zig installed on the machine is never used.
  local zig_exe
  zig_exe=$("$dir/bin/python3" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))') ||
    fail "the ziglang package in $dir has no zig executable."
  ln -sf "$zig_exe" "$dir/bin/zig"
  installed_ok "$dir" ||
    fail "installed, but $dir does not report the pinned versions (python3 -m ziglang version; cargo-zigbuild --version)."
  echo "zig-tools: installed in $dir"
}

bin() {
  local dir
  dir=$(tools_dir)
  installed_ok "$dir" ||
    fail "Zig $(pin_of ziglang) and cargo-zigbuild $(pin_of cargo-zigbuild) are not installed in $dir; run ./scripts/setup.sh (or: bash scripts/release/zig-tools.sh install)."
  printf '%s\n' "$dir/bin"
}

case "${1:-}" in
  install) install ;;
  bin) bin ;;
  *)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
