#!/usr/bin/env bash
# The README's two commands.
#
#   ./scripts/dev.sh demo   set up and build everything, then run examples/simple.js
#   ./scripts/dev.sh test   set up and build everything, run the KVM preflight, then every check
#                           and test: Rust format and clippy, the guest ELF check, TypeScript lint, types, API
#                           reports, docs, the release dry run (changesets, publint, are-the-types-wrong,
#                           `pnpm publish --dry-run` of every package), `cargo test --workspace`, vitest,
#                           test262, the hostile-guest suite (tests/hostile)
#
# Exits non-zero when anything fails. Setup is scripts/setup.sh (idempotent, quick when done).
set -euo pipefail

# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$HL_ROOT"

RESULTS_DIR="$HL_ROOT/temp/test-results"

usage() {
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

run_demo() {
  node examples/simple.js
}

kvm_preflight() {
  "$HL_ROOT/target/debug/kvm-preflight"
}

rust_tests() {
  cargo test --workspace --no-fail-fast 2>&1 | tee "$RESULTS_DIR/cargo-test.log"
  return "${PIPESTATUS[0]}"
}

# The Rust crate's examples run too (they print; a failure exits non-zero).
rust_examples() {
  cargo run -q -p hyperlight-js --example custom_monitor &&
    cargo run -q -p hyperlight-js --example prometheus_metrics >/dev/null
}

# test262 through the public API, checked against crates/test262-runner/expected-failures.txt
# (the whole suite: about 5 minutes on two cores; see crates/test262-runner/README.md).
test262() {
  cargo run -q --release -p test262-runner
}

ts_tests() {
  HYPERLIGHT_TEST_COUNTS="$RESULTS_DIR/vitest-counts.json" \
    pnpm exec vitest run --reporter=default --reporter=./tooling/vitest-counts.reporter.ts
}

# The hostile-guest suite (tests/hostile): each case in its own child process with a timeout.
hostile_tests() {
  HYPERLIGHT_HOSTILE_COUNTS="$RESULTS_DIR/hostile-counts.json" node tests/hostile/run.mjs
}

# "tests: N passed, N failed, N skipped" over cargo test, vitest and the hostile suite, from their
# own reports.
print_test_totals() {
  local cargo_counts vitest_counts hostile_counts
  cargo_counts=$(awk '/^test result:/ {
      for (i = 1; i <= NF; i++) {
        if ($(i) ~ /^passed;?$/) p += $(i - 1)
        if ($(i) ~ /^failed;?$/) f += $(i - 1)
        if ($(i) ~ /^ignored;?$/) s += $(i - 1)
      }
    } END { printf "%d %d %d", p, f, s }' "$RESULTS_DIR/cargo-test.log" 2>/dev/null || echo "0 0 0")
  vitest_counts=$(node -e '
      try {
        const c = require(process.argv[1]);
        console.log(c.passed, c.failed, c.skipped);
      } catch { console.log("0 0 0"); }' "$RESULTS_DIR/vitest-counts.json")
  hostile_counts=$(node -e '
      try {
        const c = require(process.argv[1]);
        console.log(c.passed, c.failed, c.skipped);
      } catch { console.log("0 0 0"); }' "$RESULTS_DIR/hostile-counts.json")
  read -r cp cf cs <<<"$cargo_counts"
  read -r vp vf vs <<<"$vitest_counts"
  read -r hp hf hs <<<"$hostile_counts"
  log "cargo test: $cp passed, $cf failed, $cs ignored; vitest: $vp passed, $vf failed, $vs skipped; hostile: $hp passed, $hf failed, $hs skipped"
  printf 'tests: %d passed, %d failed, %d skipped\n' $((cp + vp + hp)) $((cf + vf + hf)) $((cs + vs + hs))
}

run_tests() {
  must kvm-preflight kvm_preflight
  rm -rf "$RESULTS_DIR" && mkdir -p "$RESULTS_DIR"
  # Every check runs even when an earlier one failed, so one run shows every problem.
  phase rust-format cargo fmt --all --check || true
  phase rust-clippy cargo clippy --workspace --all-targets -- -D warnings || true
  phase guest-elf bash crates/hyperlight-js-guest/check-elf.sh \
    "$HL_ROOT/target/guest/x86_64-unknown-linux-gnu/release/hyperlight-js-guest" || true
  phase ts-lint pnpm exec biome ci . || true
  phase ts-types pnpm run typecheck || true
  phase ts-api pnpm run api:check || true
  phase ts-docs pnpm run docs:check || true
  # The release dry run runs every published package's check:package (publint, attw) itself.
  phase release-dry-run pnpm run --silent release:dry-run || true
  phase deploy-lint bash scripts/lint-deploy.sh || true
  phase rust-tests rust_tests || true
  phase rust-examples rust_examples || true
  phase ts-tests ts_tests || true
  phase test262 test262 || true
  phase hostile-tests hostile_tests || true
  print_phase_report
  log "total time: $(elapsed_since "$START")s"
  if [ "${#FAILED_PHASES[@]}" -gt 0 ]; then
    log "FAILED: ${FAILED_PHASES[*]}"
  else
    log "all checks and tests passed"
  fi
  print_test_totals
  [ "${#FAILED_PHASES[@]}" -eq 0 ]
}

START=$(now)

main() {
  case "${1:-}" in
    demo)
      setup_main
      must demo run_demo
      print_phase_report
      log "total time: $(elapsed_since "$START")s"
      ;;
    test)
      setup_main
      run_tests || exit 1
      ;;
    -h | --help)
      usage
      return 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
