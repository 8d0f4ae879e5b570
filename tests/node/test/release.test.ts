// The release scripts (scripts/release/, docs/releasing.md) on copies of the real manifests:
// the prepack guard refuses a package without its build outputs, the Cargo version check
// catches drift. `pnpm release:dry-run` itself runs in ./scripts/dev.sh test (phase release-dry-run).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), 'hyperlight-release-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a package's manifest alone (no build outputs) in a fresh directory. */
function manifestOnly(pkg: string): string {
  const dir = mkdtempSync(path.join(scratch, `${pkg}-`));
  cpSync(path.join(repo, 'packages', pkg, 'package.json'), path.join(dir, 'package.json'));
  return dir;
}

function node(args: string[], cwd: string) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
}

const guard = path.join(repo, 'scripts/release/prepack-guard.mjs');

describe('prepack guard', () => {
  it('refuses a TypeScript package without dist/, naming the files and the build command', () => {
    const r = node([guard], manifestOnly('sandbox'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('refusing to pack @hyperlight/sandbox@');
    expect(r.stderr).toContain('./dist/index.js is missing');
    expect(r.stderr).toContain('pnpm run build');
  });

  it('refuses the platform package without its .node, and with a .node that is not ELF', () => {
    const dir = manifestOnly('js-host-api-linux-x64-gnu');
    writeFileSync(path.join(dir, 'README.md'), '# readme\n');
    let r = node([guard], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('js-host-api.linux-x64-gnu.node is missing');
    expect(r.stderr).toContain('pnpm run build:native');
    writeFileSync(path.join(dir, 'js-host-api.linux-x64-gnu.node'), 'not a binary');
    r = node([guard], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not an ELF shared object');
  });

  it('is the prepack script of every published package', () => {
    for (const pkg of [
      'js-host-api',
      'js-host-api-linux-x64-gnu',
      'monitors',
      'sandbox',
      'host-modules',
      'bundler',
    ]) {
      const m = JSON.parse(readFileSync(path.join(repo, 'packages', pkg, 'package.json'), 'utf8'));
      expect(m.scripts?.prepack, pkg).toBe('node ../../scripts/release/prepack-guard.mjs');
      for (const field of ['repository', 'homepage', 'bugs', 'keywords', 'engines', 'type']) {
        expect(m[field], `${pkg}: ${field}`).toBeDefined();
      }
      expect(m.repository.directory, pkg).toBe(`packages/${pkg}`);
    }
  });
});

describe('cargo version sync', () => {
  it('fails on a crate version that drifted from the binding, and the sync fixes it', () => {
    const root = mkdtempSync(path.join(scratch, 'cargo-'));
    cpSync(path.join(repo, 'Cargo.toml'), path.join(root, 'Cargo.toml'));
    cpSync(path.join(repo, 'Cargo.lock'), path.join(root, 'Cargo.lock'));
    cpSync(path.join(repo, 'crates'), path.join(root, 'crates'), {
      recursive: true,
      // Judged on the path inside crates/ (the checkout's own path may contain "/tests").
      filter: (src) =>
        !path
          .relative(path.join(repo, 'crates'), src)
          .split(path.sep)
          .some((part) => part === 'src' || part === 'tests' || part === 'node_modules'),
    });
    mkdirSync(path.join(root, 'packages/js-host-api'), { recursive: true });
    writeFileSync(
      path.join(root, 'packages/js-host-api/package.json'),
      JSON.stringify({ version: '9.8.7' }),
    );
    const script = path.join(repo, 'scripts/release/cargo-version.mjs');
    let r = node([script, '--check', root], repo);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('drifted from @hyperlight/js-host-api 9.8.7');
    r = node([script, root], repo);
    expect(r.status).toBe(0);
    r = node([script, '--check', root], repo);
    expect(r.status, r.stderr).toBe(0);
    const toml = readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
    expect(toml).toMatch(/\[workspace\.package\]\nversion = "9\.8\.7"/);
    expect(readFileSync(path.join(root, 'Cargo.lock'), 'utf8')).toContain(
      'name = "js-host-api"\nversion = "9.8.7"',
    );
  });
});
