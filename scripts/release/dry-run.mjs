#!/usr/bin/env node
// `pnpm release:dry-run`: everything a release does, without publishing and without touching the
// working tree. Run by `./scripts/dev.sh test` (phase release-dry-run) and so by CI.
//
//   1. changeset status: a change to a published package since the merge base with main has a
//      changeset (see changeset-check.mjs; on main itself there is no base and it says so); one
//      repository URL everywhere (repository-check.mjs).
//   2. `changeset version` + the Cargo version sync in a temporary copy of the repository's
//      manifests and changesets: prints each package's version before and after, and checks the
//      crates follow the binding. The working tree is never modified.
//   3. The build outputs are there (the `prepack` guard of each package: `dist/`, the `.node`).
//      Nothing is rebuilt: ./scripts/setup.sh builds them (and skips an up-to-date binding).
//   4. publint and are-the-types-wrong on every published package (its `check:package` script).
//   5. `pnpm publish --dry-run --no-git-checks` of each published package, dependencies first.
//   6. The native binding is at the glibc release floor (2.28) with no absolute build path left in
//      it (`glibc-floor.sh --release`; docs/releasing.md, "glibc floor"): fails otherwise.
//
// Exits 1 at the end when any step failed, naming them; every step runs even after a failure.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { publishedPackages, ROOT } from './packages.mjs';

const failed = [];
const started = performance.now();

function log(message) {
  console.log(`[release] ${message}`);
}

/** Runs a command (inherits stdio); records a failure under `step`. */
function run(step, cmd, args, cwd = ROOT) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: process.env });
  const ok = r.status === 0;
  log(`${ok ? 'ok' : 'FAILED'}: ${step} (${((performance.now() - t) / 1000).toFixed(1)}s)`);
  if (!ok) failed.push(step);
  return ok;
}

const packages = publishedPackages();
log(`published packages, dependencies first: ${packages.map((p) => p.name).join(', ')}`);

// 1. Every change to a published package has a changeset.
run('changeset status', process.execPath, [path.join(ROOT, 'scripts/release/changeset-check.mjs')]);

// One repository URL in Cargo.toml, the changelog and every published package.
run('repository URL', process.execPath, [path.join(ROOT, 'scripts/release/repository-check.mjs')]);

// 2. changeset version in a temporary copy.
const copy = mkdtempSync(path.join(tmpdir(), 'hyperlight-release-'));
try {
  const workspaceDirs = ['packages', 'examples', 'benchmarks', 'tests/node'];
  const files = ['package.json', 'pnpm-workspace.yaml', 'Cargo.toml', 'Cargo.lock'];
  for (const f of files) cpSync(path.join(ROOT, f), path.join(copy, f));
  cpSync(path.join(ROOT, '.changeset'), path.join(copy, '.changeset'), { recursive: true });
  const manifestDirs = [
    ...readdirSync(path.join(ROOT, 'packages')).map((d) => `packages/${d}`),
    ...workspaceDirs.filter((d) => d !== 'packages'),
    ...readdirSync(path.join(ROOT, 'crates')).map((d) => `crates/${d}`),
  ];
  for (const d of manifestDirs) {
    for (const f of ['package.json', 'CHANGELOG.md', 'Cargo.toml']) {
      if (existsSync(path.join(ROOT, d, f))) {
        mkdirSync(path.join(copy, d), { recursive: true });
        cpSync(path.join(ROOT, d, f), path.join(copy, d, f));
      }
    }
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const changeset = path.join(ROOT, 'node_modules/.bin/changeset');
  if (run('changeset version (in a temporary copy)', changeset, ['version'], copy)) {
    run('cargo version sync (in the copy)', process.execPath, [
      path.join(ROOT, 'scripts/release/cargo-version.mjs'),
      copy,
    ]);
    run('cargo version check (in the copy)', process.execPath, [
      path.join(ROOT, 'scripts/release/cargo-version.mjs'),
      '--check',
      copy,
    ]);
    log('versions a release would publish now:');
    for (const p of packages) {
      const rel = path.relative(ROOT, p.dir);
      const next = JSON.parse(readFileSync(path.join(copy, rel, 'package.json'), 'utf8')).version;
      log(
        `  ${p.name.padEnd(40)} ${p.version} -> ${next}${next === p.version ? ' (unchanged)' : ''}`,
      );
    }
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}
run('cargo version check (working tree)', process.execPath, [
  path.join(ROOT, 'scripts/release/cargo-version.mjs'),
  '--check',
]);

// 3-5. Per package: build outputs present, publint + attw, publish dry run.
for (const p of packages) {
  const guard = path.join(ROOT, 'scripts/release/prepack-guard.mjs');
  if (!run(`${p.name}: build outputs (prepack guard)`, process.execPath, [guard], p.dir)) continue;
  run(
    `${p.name}: publint + are-the-types-wrong`,
    'pnpm',
    ['run', '--silent', 'check:package'],
    p.dir,
  );
  run(
    `${p.name}: pnpm publish --dry-run`,
    'pnpm',
    ['publish', '--dry-run', '--no-git-checks'],
    p.dir,
  );
}

// 6. The native binding is at the glibc release floor, without build paths (docs/releasing.md).
run('glibc floor and build paths of the native binding', 'bash', [
  path.join(ROOT, 'scripts/release/glibc-floor.sh'),
  '--release',
]);

const took = ((performance.now() - started) / 1000).toFixed(1);
if (failed.length > 0) {
  log(`release dry run FAILED in ${took}s: ${failed.join('; ')}`);
  process.exit(1);
}
log(`release dry run ok in ${took}s: ${packages.length} packages would publish`);
