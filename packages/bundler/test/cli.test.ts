import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createStackMapper } from '../src/index';
import { fixture, loadBundle } from './helpers';

// The CLI as users run it: the built bin (dist/cli.js) in a child process.

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const temps: string[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the CLI fixture project in a temporary folder. */
function project(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hl-bundle-cli-'));
  temps.push(dir);
  cpSync(fixture('cli'), dir, { recursive: true });
  return dir;
}

function run(args: string[], cwd: string) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

describe('hyperlight-bundle', () => {
  it('writes modules, maps, the declaration and a manifest that load into a micro-VM', async () => {
    const dir = project();
    const result = run(['.', '--out', 'dist-guest'], dir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^handler\s+size\s+gzip/);
    expect(result.stdout).toMatch(/\nwrote 6 files to dist-guest in \d+ ms\n$/);
    const out = path.join(dir, 'dist-guest');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.handlers)).toEqual(['hello', 'sum']);
    expect(manifest.handlers.hello).toMatchObject({
      module: 'hello.js',
      map: 'hello.js.map',
      entry: 'src/handlers/hello.ts',
    });
    expect(readFileSync(path.join(out, 'handlers.d.ts'), 'utf8')).toContain(
      '  hello(event: { name: string }): { message: string };\n',
    );
    const code = readFileSync(path.join(out, 'hello.js'), 'utf8');
    expect(code.trimEnd().endsWith('//# sourceMappingURL=hello.js.map')).toBe(true);
    const handlers = Object.fromEntries(
      Object.entries(manifest.handlers as Record<string, { module: string; map: string }>).map(
        ([k, h]) => [
          k,
          {
            name: k,
            code: readFileSync(path.join(out, h.module), 'utf8'),
            map: readFileSync(path.join(out, h.map), 'utf8'),
          },
        ],
      ),
    );
    const loaded = await loadBundle({ handlers } as never);
    try {
      expect(await loaded.callHandler('hello', { name: 'CLI' })).toEqual({
        message: 'Hello, CLI!',
      });
      expect(await loaded.callHandler('sum', { values: [1, 2, 3] })).toBe(6);
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
    // The written map is the one the stack mapper takes.
    const mapper = createStackMapper({ sum: handlers.sum?.map as string });
    expect(mapper('    at handler (handler/sum:2:10)')).toMatch(
      /at handler \(src\/handlers\/sum\.ts:\d+:\d+\)/,
    );
  }, 60_000);

  it('--watch rebuilds when a source changes, and survives a broken edit', async () => {
    const dir = project();
    const child = spawn(process.execPath, [cli, '.', '--out', 'out', '--watch'], { cwd: dir });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    await expect.poll(() => stdout.includes('watching'), { timeout: 30_000 }).toBe(true);
    const lib = path.join(dir, 'src/lib/greeting.ts');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source written to a file.
    writeFileSync(lib, 'export const greeting = (name: string) => `Hi ${name}`;\n');
    await expect
      .poll(() => readFileSync(path.join(dir, 'out/hello.js'), 'utf8').includes('Hi '), {
        timeout: 30_000,
      })
      .toBe(true);
    expect(stdout).toContain('change: src/lib/greeting.ts');
    writeFileSync(lib, 'export const greeting = (name: string) => {;\n');
    await expect
      .poll(() => stderr.includes('error ERR_BUNDLE_BUILD'), { timeout: 30_000 })
      .toBe(true);
    expect(child.exitCode).toBeNull();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source written to a file.
    writeFileSync(lib, 'export const greeting = (name: string) => `Hey ${name}`;\n');
    await expect
      .poll(() => readFileSync(path.join(dir, 'out/hello.js'), 'utf8').includes('Hey '), {
        timeout: 30_000,
      })
      .toBe(true);
  }, 120_000);

  it('fails with exit 1 and the error on a build error; exit 2 on bad usage', () => {
    const dir = project();
    writeFileSync(
      path.join(dir, 'src/handlers/bad.ts'),
      "import 'net';\nexport default () => 1;\n",
    );
    const broken = run(['.', '--out', 'out'], dir);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain(
      'error ERR_BUNDLE_BUILD: bundle(): the handler "bad" (src/handlers/bad.ts) did not build',
    );
    expect(broken.stderr).toContain(
      'src/handlers/bad.ts imports "net", a Node.js built-in module the guest does not have',
    );
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
    expect(run(['.'], dir)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('--out is required'),
    });
    expect(run([], dir)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('expected one project folder'),
    });
    expect(run(['.', '--out', 'o', '--bogus'], dir)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining("Unknown option '--bogus'"),
    });
    expect(run(['.', '--out', 'o', '--max-bytes', 'lots'], dir)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('--max-bytes takes a positive integer'),
    });
    expect(run(['nope', '--out', 'o'], dir)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('no such folder'),
    });
    expect(run(['.', '--out', 'o', '--handlers', 'missing'], dir)).toMatchObject({
      status: 1,
      stderr: expect.stringContaining('no handlers folder: missing'),
    });
    expect(run(['--help'], dir)).toMatchObject({
      status: 0,
      stdout: expect.stringContaining('usage: hyperlight-bundle'),
    });
  }, 60_000);

  it('--max-bytes, --minify, --no-declaration, --typecheck', () => {
    const dir = project();
    const small = run(['.', '--out', 'out', '--minify', '--no-declaration', '--typecheck'], dir);
    expect(small.status).toBe(0);
    expect(existsSync(path.join(dir, 'out/handlers.d.ts'))).toBe(false);
    const over = run(['.', '--out', 'out2', '--max-bytes', '10'], dir);
    expect(over.status).toBe(1);
    expect(over.stderr).toContain('error ERR_BUNDLE_TOO_LARGE');
  }, 60_000);
});
