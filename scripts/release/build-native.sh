#!/usr/bin/env bash
# Builds the Node binding (crates/js-host-api) the way it is published, into its platform package
# (packages/js-host-api-linux-x64-gnu/js-host-api.linux-x64-gnu.node; napi-rs also regenerates
# crates/js-host-api/index.js and index.d.ts). `pnpm run build:native` runs it, and so does
# scripts/setup.sh, so the binding every test loads is the one that ships:
#
#   - release profile, stripped;
#   - linked against the glibc release floor (`scripts/release/glibc-floor.sh
#     --print-release-floor`, 2.28) instead of the build machine's glibc: napi-rs's
#     `--cross-compile` builds with cargo-zigbuild, whose target suffix `.2.28` makes Zig link
#     against the symbol versions of that glibc (Zig and cargo-zigbuild: scripts/release/zig-tools.sh);
#   - the build machine's paths remapped (`--remap-path-prefix`): this checkout to `hyperlight-js`,
#     the cargo home to `cargo`, its crates.io sources to `crates.io` (the guest image the binding
#     embeds is remapped the same way by crates/hyperlight-js/build.rs);
#   - then checked: `glibc-floor.sh --release` fails when a symbol above the floor or a build path
#     is left in the binary.
#
# The Rust target stays x86_64-unknown-linux-gnu (the only one installed here); cargo puts the
# build in target/x86_64-unknown-linux-gnu/release. Extra arguments go to `napi build`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RELEASE="$ROOT/scripts/release"

fail() {
  printf 'build-native: %s\n' "$*" >&2
  exit 1
}

floor=$(bash "$RELEASE/glibc-floor.sh" --print-release-floor)
zig_bin=$(bash "$RELEASE/zig-tools.sh" bin) || exit 1
export PATH="$zig_bin:$PATH"
napi="$ROOT/node_modules/.bin/napi"
[ -x "$napi" ] || fail "$napi is missing: run pnpm install (./scripts/setup.sh does)."

# rustc applies the last matching --remap-path-prefix: most specific last. RUSTFLAGS is split at
# spaces, so a path with a space cannot be remapped this way.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
cargo_home="$(cd "$cargo_home" 2>/dev/null && pwd -P || printf '%s' "$cargo_home")"
remaps=("--remap-path-prefix=$cargo_home=cargo")
for index in "$cargo_home"/registry/src/*/; do
  [ -d "$index" ] && remaps+=("--remap-path-prefix=${index%/}=crates.io")
done
remaps+=("--remap-path-prefix=$(cd "$ROOT" && pwd -P)=hyperlight-js")
for flag in "${remaps[@]}"; do
  case "$flag" in *" "*) fail "cannot remap a path with a space in RUSTFLAGS: $flag" ;; esac
done
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }${remaps[*]}"

echo "build-native: release build against glibc $floor with Zig $(zig version) and $(cargo-zigbuild --version)"
(
  cd "$ROOT/crates/js-host-api"
  "$napi" build --platform --release --strip \
    --cross-compile --target "x86_64-unknown-linux-gnu.$floor" \
    --output-dir ../../packages/js-host-api-linux-x64-gnu \
    --js ../../crates/js-host-api/index.js --dts ../../crates/js-host-api/index.d.ts "$@"
)
bash "$RELEASE/glibc-floor.sh" --release
