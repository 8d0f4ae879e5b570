#!/usr/bin/env bash
# Sets up this machine to build and test hyperlight-js, then builds everything.
#
#   ./scripts/setup.sh
#
# Idempotent, and quick when everything is already there. Works on a fresh Debian 12 machine as
# root (or with sudo), without a TTY: installs the Debian packages the guest build needs, pnpm at
# the version pinned in package.json, the npm dependencies from pnpm-lock.yaml, Zig and
# cargo-zigbuild from PyPI (pinned, into a virtualenv in ~/.cache/hyperlight-js), then builds the
# Rust workspace (debug profile, the one `cargo test` uses), the Node binding (release, with
# napi-rs, against the glibc release floor) and the TypeScript packages.
#
# scripts/dev.sh sources this file and calls setup_main; run on its own it does the same.

# Debian packages the build needs: the guest links against musl's libc (musl-dev), built with
# musl-gcc (musl-tools); the crash-dump test opens a guest core file with gdb.
DEBIAN_PACKAGES=(musl-dev musl-tools gdb)

HL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PHASE_REPORT=()
FAILED_PHASES=()

log() { printf '[hyperlight] %s\n' "$*"; }
die() {
  printf '[hyperlight] ERROR: %s\n' "$*" >&2
  exit 1
}

now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# phase NAME CMD...: runs CMD, prints its time, records failure; never exits by itself.
# CMD runs with errexit off (it is the left side of ||), so phase functions check each step.
phase() {
  local name=$1 start status rc=0
  shift
  log "-- $name: $*"
  start=$(now)
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then status=ok; else status="FAILED (exit $rc)"; FAILED_PHASES+=("$name"); fi
  local took
  took=$(elapsed_since "$start")
  PHASE_REPORT+=("$(printf '%-14s %8ss  %s' "$name" "$took" "$status")")
  log "-- $name: $status in ${took}s"
  return "$rc"
}

# must NAME CMD...: a phase whose failure stops everything.
must() {
  phase "$@" || die "$1 failed; stopping."
}

print_phase_report() {
  log "phase timings:"
  local line
  for line in "${PHASE_REPORT[@]}"; do printf '[hyperlight]   %s\n' "$line"; done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}

check_toolchain() {
  command -v node >/dev/null 2>&1 || die "Node.js 20 or later is needed (node not found)."
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js 20 or later is needed (found $(node --version))."
  command -v npm >/dev/null 2>&1 || die "npm is needed (it comes with Node.js)."
  command -v cargo >/dev/null 2>&1 || die "Rust stable with cargo is needed (cargo not found; see https://rustup.rs)."
  command -v cc >/dev/null 2>&1 || die "a C compiler (gcc) is needed."
  [ -r /dev/kvm ] || log "note: /dev/kvm is not readable here; the test command's KVM preflight will say what to do."
}

install_debian_packages() {
  local missing=() pkg
  if ! command -v dpkg-query >/dev/null 2>&1; then
    command -v musl-gcc >/dev/null 2>&1 ||
      die "not a Debian system: install musl's libc and musl-gcc (Debian: ${DEBIAN_PACKAGES[*]}) yourself."
    return 0
  fi
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages present: ${DEBIAN_PACKAGES[*]}"
    return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  # Phases run with errexit off (see phase), so each step checks its own result.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null || return
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null || return
}

pinned_pnpm_version() {
  node -p 'const pm = require(process.argv[1]).packageManager; /^pnpm@\d+\.\d+\.\d+$/.test(pm) ? pm.slice(5) : ""' \
    "$HL_ROOT/package.json"
}

install_pnpm() {
  local want have
  # A corepack shim must never stop to ask before downloading.
  export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
  want=$(pinned_pnpm_version)
  [ -n "$want" ] || die "package.json must pin pnpm exactly in packageManager (pnpm@X.Y.Z)."
  have=$(pnpm --version 2>/dev/null </dev/null || true)
  if [ "$have" != "$want" ]; then
    log "installing pnpm $want with npm (found: ${have:-none})"
    npm install --global --no-fund --no-audit --loglevel=error "pnpm@$want" </dev/null ||
      die "could not install pnpm $want with npm."
    hash -r
    # npm's global bin first, in case another pnpm comes earlier on PATH.
    PATH="$(npm prefix --global)/bin:$PATH"
    export PATH
    have=$(pnpm --version 2>/dev/null </dev/null || true)
    [ "$have" = "$want" ] || die "pnpm $want was installed but \`pnpm --version\` says '${have:-nothing}'."
  fi
  log "pnpm $have"
}

install_node_modules() {
  (cd "$HL_ROOT" && pnpm install --frozen-lockfile --reporter=append-only </dev/null)
}

build_rust() {
  (cd "$HL_ROOT" && cargo build --workspace)
}

# Zig and cargo-zigbuild (pinned with hashes in scripts/release/zig-tools.txt, from PyPI), which
# build the Node binding against the glibc release floor (docs/releasing.md, "glibc floor").
install_zig_tools() {
  bash "$HL_ROOT/scripts/release/zig-tools.sh" install
}

# The Node binding (crates/js-host-api), built by napi-rs into its platform package.
NATIVE_BINDING="packages/js-host-api-linux-x64-gnu/js-host-api.linux-x64-gnu.node"

# Builds the Node binding as it is published (`pnpm run build:native` =
# scripts/release/build-native.sh: release, against the glibc release floor with cargo-zigbuild,
# build paths remapped; the .node file into packages/js-host-api-linux-x64-gnu, the generated
# index.js/index.d.ts into crates/js-host-api), unless it is newer than every Rust source,
# manifest, the lock file and the build scripts, and passes the release floor check.
build_native() {
  local out="$HL_ROOT/$NATIVE_BINDING" newer
  if [ -f "$out" ] && [ -f "$HL_ROOT/crates/js-host-api/index.d.ts" ]; then
    newer=$(find "$HL_ROOT/crates" "$HL_ROOT/Cargo.toml" "$HL_ROOT/Cargo.lock" \
      "$HL_ROOT/scripts/release/build-native.sh" "$HL_ROOT/scripts/release/zig-tools.txt" \
      \( -name target -o -name node_modules \) -prune -o \
      -type f ! -path "$HL_ROOT/crates/js-host-api/index.*" -newer "$out" -print -quit)
    if [ -z "$newer" ] && bash "$HL_ROOT/scripts/release/glibc-floor.sh" --release "$out" >/dev/null 2>&1; then
      log "Node binding is up to date ($NATIVE_BINDING)"
      return 0
    fi
  fi
  (cd "$HL_ROOT" && pnpm run build:native)
}

# Builds the TypeScript packages unless every dist/ is newer than its inputs.
build_typescript() {
  local stale=0 pkg
  for pkg in "$HL_ROOT"/packages/*/; do
    [ -f "$pkg/tsup.config.ts" ] || continue
    if [ ! -f "$pkg/dist/index.js" ] ||
      [ -n "$(find "$pkg/src" "$pkg/package.json" "$pkg/tsup.config.ts" "$HL_ROOT/tooling" \
        "$HL_ROOT/tsconfig.base.json" "$HL_ROOT/pnpm-lock.yaml" -newer "$pkg/dist/index.js" -print -quit)" ]; then
      stale=1
    fi
  done
  if [ "$stale" -eq 0 ]; then
    log "TypeScript packages are up to date"
    return 0
  fi
  (cd "$HL_ROOT" && pnpm run build)
}

# Links the workspace packages' bins (e.g. examples' `hyperlight-bundle`): the first install
# cannot, their dist/ did not exist yet. ~2 s, offline, changes nothing else.
link_bins() {
  (cd "$HL_ROOT" && pnpm install --frozen-lockfile --offline --reporter=append-only </dev/null)
}

setup_main() {
  must toolchain check_toolchain
  must apt install_debian_packages
  must pnpm install_pnpm
  must npm-deps install_node_modules
  must zig-tools install_zig_tools
  must rust-build build_rust
  must native-build build_native
  must ts-build build_typescript
  must link-bins link_bins
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  setup_main
  print_phase_report
fi
