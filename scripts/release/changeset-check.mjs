#!/usr/bin/env node
// Fails when a change to a published package has no changeset: `changeset status --since=<base>`,
// where the base is the merge base of HEAD with the branch the change goes into.
//
// The base is, in this order: $HYPERLIGHT_CHANGESET_BASE (any git ref); on a GitHub pull request,
// the merge base with origin/$GITHUB_BASE_REF; otherwise the merge base with `main` (or
// `origin/main`). On main itself (HEAD is that merge base) and in a clone without main or history
// (a shallow clone) there is nothing to compare: it says so and passes, because every change
// that landed on main was checked on its branch before it landed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './packages.mjs';

function git(...args) {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function log(message) {
  console.log(`[changeset-check] ${message}`);
}

let target = process.env.HYPERLIGHT_CHANGESET_BASE || null;
if (!target && process.env.GITHUB_BASE_REF) target = `origin/${process.env.GITHUB_BASE_REF}`;
if (!target)
  target = ['main', 'origin/main'].find((ref) => git('rev-parse', '--verify', '-q', ref)) ?? null;

const head = git('rev-parse', 'HEAD');
if (!target || !head) {
  log(
    `no base to compare with (no ${target ?? 'main branch'}${head ? '' : ', no HEAD'}): nothing to check`,
  );
  process.exit(0);
}
const base = git('merge-base', 'HEAD', target);
if (!base) {
  log(`HEAD and ${target} have no merge base here (a shallow clone?): nothing to check`);
  process.exit(0);
}
if (base === head) {
  log(`HEAD is ${target} (or behind it): no change to check; changes are checked on their branch`);
  process.exit(0);
}
log(`changes since the merge base with ${target} (${base.slice(0, 12)}):`);
const r = spawnSync(path.join(ROOT, 'node_modules/.bin/changeset'), ['status', `--since=${base}`], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error(
    '[changeset-check] a published package changed without a changeset: run `pnpm changeset`, ' +
      'pick the packages, describe the change for users, and commit the file (see .changeset/README.md).',
  );
}
process.exit(r.status ?? 1);
