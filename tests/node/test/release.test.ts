// The release scripts (scripts/release/, docs/releasing.md) on copies of the real manifests:
// the prepack guard refuses a package without its build outputs, the Cargo version check
// catches drift, the glibc floor check passes the binding the tests load and fails a library
// linked against a newer glibc, the repository URL check, the changelog's commit links. `pnpm release:dry-run` itself runs in ./scripts/dev.sh test (phase release-dry-run).
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
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

describe('glibc floor (scripts/release/glibc-floor.sh)', () => {
  const floorScript = path.join(repo, 'scripts/release/glibc-floor.sh');
  const floor = (args: string[]) => spawnSync('bash', [floorScript, ...args], { encoding: 'utf8' });

  it('passes the binding these tests load: the platform package file, built at the floor without build paths', () => {
    // The loader takes HYPERLIGHT_JS_NATIVE_PATH first; unset, it loads the platform package,
    // into which pnpm run build:native (scripts/release/build-native.sh) writes.
    expect(process.env.HYPERLIGHT_JS_NATIVE_PATH).toBeUndefined();
    const requireFromMain = createRequire(path.join(repo, 'packages/js-host-api/package.json'));
    const file = requireFromMain.resolve('@hyperlight/js-host-api-linux-x64-gnu');
    expect(realpathSync(file)).toBe(
      realpathSync(
        path.join(repo, 'packages/js-host-api-linux-x64-gnu/js-host-api.linux-x64-gnu.node'),
      ),
    );
    const r = floor([file, '--release']);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('needs glibc 2.');
    expect(r.stdout).toContain('absolute build paths in the binary: 0');
  });

  it('fails a library linked against this machine’s newer glibc, and one holding a build path', () => {
    // A shared object built here with the system C compiler: pthread_create binds at the build
    // machine's glibc (2.34 or later on Debian 12), above the 2.28 floor; it also keeps the
    // checkout's path as a string.
    const dir = mkdtempSync(path.join(scratch, 'floor-'));
    const src = path.join(dir, 'probe.c');
    writeFileSync(
      src,
      `#include <pthread.h>\n__attribute__((used)) const char *where = "${repo}probe.c";\n` +
        'static void *run(void *a) { return a; }\n' +
        'int probe(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }\n',
    );
    const so = path.join(dir, 'probe.so');
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', so, src, '-lpthread'], {
      encoding: 'utf8',
    });
    expect(cc.status, `cc (gcc) is needed for this test: ${cc.stderr}`).toBe(0);
    const release = floor([so, '--release']);
    expect(release.status).toBe(1);
    expect(release.stderr).toMatch(
      /FAILED: the binding needs glibc 2\.(29|[3-9]\d), above the allowed 2\.28/,
    );
    expect(release.stderr).toContain('FAILED: 1 absolute build paths in the binary');
    expect(release.stdout).toMatch(/pthread_create@2\.(3\d)/);
    // Without --release it only reports; with a higher --max and no path check it passes.
    expect(floor([so]).status).toBe(0);
    expect(floor([so, '--max', '9.99']).status).toBe(0);
  });

  it('defines the release floor as 2.28', () => {
    const r = floor(['--print-release-floor']);
    expect(r.stdout.trim()).toBe('2.28');
  });
});

describe('repository URL (scripts/release/repository-check.mjs)', () => {
  const script = path.join(repo, 'scripts/release/repository-check.mjs');

  /** A copy of the manifests the check reads. */
  function manifests(): string {
    const root = mkdtempSync(path.join(scratch, 'repo-'));
    for (const f of ['package.json', 'Cargo.toml']) cpSync(path.join(repo, f), path.join(root, f));
    cpSync(path.join(repo, '.changeset'), path.join(root, '.changeset'), { recursive: true });
    for (const pkg of readdirSync(path.join(repo, 'packages'))) {
      for (const f of ['package.json', 'README.md']) {
        const from = path.join(repo, 'packages', pkg, f);
        if (!existsSync(from)) continue;
        mkdirSync(path.join(root, 'packages', pkg), { recursive: true });
        cpSync(from, path.join(root, 'packages', pkg, f));
      }
    }
    return root;
  }

  it('passes on the repository and names every place that differs', () => {
    expect(node([script], repo).status).toBe(0);
    const root = manifests();
    const cargo = path.join(root, 'Cargo.toml');
    writeFileSync(
      cargo,
      readFileSync(cargo, 'utf8').replace(
        /^repository = ".*"$/m,
        'repository = "https://example.invalid/hyperlight-js"',
      ),
    );
    const monitors = path.join(root, 'packages/monitors/package.json');
    const m = JSON.parse(readFileSync(monitors, 'utf8'));
    m.bugs.url = 'https://github.com/someone-else/hyperlight-js/issues';
    writeFileSync(monitors, JSON.stringify(m));
    const r = node([script, root], repo);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'Cargo.toml [workspace.package] repository is https://example.invalid/hyperlight-js',
    );
    expect(r.stderr).toContain(
      'packages/monitors/package.json: bugs.url is https://github.com/someone-else',
    );
  });
});

describe('changelog lines (.changeset/changelog.cjs)', () => {
  const requireHere = createRequire(import.meta.url);
  const changelog = requireHere(path.join(repo, '.changeset/changelog.cjs')).default;
  const repoOption = { repo: 'https://github.com/hyperlight-js/hyperlight-js' };
  const sha = '0123456789abcdef0123456789abcdef01234567';

  it('links the commit of the changeset, without a token', async () => {
    const line = await changelog.getReleaseLine(
      { id: 'x', summary: 'First line\nsecond line', releases: [], commit: sha },
      'patch',
      repoOption,
    );
    expect(line).toBe(
      `- [0123456](https://github.com/hyperlight-js/hyperlight-js/commit/${sha}): First line\n  second line`,
    );
    const deps = await changelog.getDependencyReleaseLine(
      [{ id: 'x', summary: 's', releases: [], commit: sha }],
      [{ name: '@hyperlight/js-host-api', newVersion: '1.2.3' }],
      repoOption,
    );
    expect(deps).toBe(
      `- Updated dependencies [0123456](https://github.com/hyperlight-js/hyperlight-js/commit/${sha})\n  - @hyperlight/js-host-api@1.2.3`,
    );
  });

  it('writes no link when changesets found no commit, and needs the repo option', async () => {
    const line = await changelog.getReleaseLine(
      { id: 'x', summary: 'Text', releases: [] },
      'minor',
      repoOption,
    );
    expect(line).toBe('- Text');
    await expect(
      changelog.getReleaseLine(
        { id: 'x', summary: 'Text', releases: [], commit: sha },
        'minor',
        null,
      ),
    ).rejects.toThrow('needs the repository URL as an option');
  });
});
