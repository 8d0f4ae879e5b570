#!/usr/bin/env bash
# The real release: publishes every published package to npm, dependencies first, with npm
# provenance. Run by a maintainer only (`pnpm release:publish`), from a clean checkout of main
# after the "version packages" commit (`pnpm release:version`, reviewed and landed).
#
#   pnpm release:publish
#
# Provenance (`--provenance`) needs an OIDC identity from a supported CI: run this in a GitHub
# Actions job with `permissions: id-token: write` and NODE_AUTH_TOKEN / an npm token with publish
# rights for the @hyperlight scope. Elsewhere npm refuses to publish with provenance, which is what
# we want: no release without provenance.
#
# Steps: refuse a dirty tree or a branch other than main; build everything (./scripts/setup.sh,
# which skips an up-to-date binding); the release dry run (changesets, Cargo versions, publint,
# are-the-types-wrong, `pnpm publish --dry-run`); then `pnpm publish` of each package in
# dependency order (a version already on the registry is skipped by pnpm); then tags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

die() {
  printf '[release] ERROR: %s\n' "$*" >&2
  exit 1
}

[ -z "$(git status --porcelain)" ] || die "the working tree is not clean; publish from a clean checkout of main."
[ "$(git rev-parse --abbrev-ref HEAD)" = main ] || die "publish from main (HEAD is $(git rev-parse --abbrev-ref HEAD))."
if ls .changeset/*.md 2>/dev/null | grep -qv README.md; then
  die "unreleased changesets are present: run \`pnpm release:version\`, review and land the result, then publish."
fi

./scripts/setup.sh
pnpm run release:dry-run

# pnpm publishes the workspace's non-private packages in topological order, replaces workspace:
# ranges with the versions, skips versions already published, runs each package's prepack guard.
NPM_CONFIG_PROVENANCE=true pnpm publish --recursive --filter './packages/*' --access public --no-git-checks

# One tag per published version (changesets' format: @scope/name@x.y.z).
node --input-type=module -e '
  import { publishedPackages } from "./scripts/release/packages.mjs";
  for (const p of publishedPackages()) console.log(`${p.name}@${p.version}`);
' | while read -r tag; do
  git rev-parse -q --verify "refs/tags/$tag" >/dev/null || git tag "$tag"
done
printf '[release] published; push the tags with: git push --follow-tags origin main\n'
