import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ERR_CONSUMED, ERR_INVALID_ARG, SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { expectRejectCode, expectThrowCode } from './helpers';

/** The module tree the Rust tests use (lib/format.js imports ../math.js and ./util/...). */
const FIXTURES = resolve(__dirname, '../../../crates/hyperlight-js/tests/fixtures/modules');

async function runtime() {
  const proto = await new SandboxBuilder().build();
  return proto.loadRuntime();
}

describe('module directories and relative imports', () => {
  it('loads a tree of modules with nested relative imports, JSON and import()', async () => {
    const sandbox = await runtime();
    sandbox.setModuleDirectory(FIXTURES);
    sandbox.addHandler(
      'sum',
      `import { sum } from './lib/format.js';
       import config from './data/config.json' with { type: 'json' };
       export async function handler(e) {
         const dynamic = await import('./lib/' + e.module);
         return [sum(e.a, e.b), dynamic.sum(1, 1), config.primes];
       }`,
    );
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('sum', { a: 2, b: 3, module: 'format.js' })).toEqual([
      '2 + 3 = 5!',
      '1 + 1 = 2!',
      [2, 3, 5, 7],
    ]);
    // The directory is kept by unload().
    const again = await loaded.unload();
    again.addHandler(
      'add',
      "import { add } from './math.js'; function handler() { return add(1, 2); }",
    );
    const reloaded = await again.getLoadedSandbox();
    expect(await reloaded.callHandler('add', {})).toBe(3);
    await reloaded[Symbol.asyncDispose]();
  });

  it('refuses escapes and names the importer of a missing module', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'hl-modules-'));
    try {
      writeFileSync(join(scratch, 'secret.js'), "export default 'secret';");
      const root = join(scratch, 'root');
      mkdirSync(root);
      symlinkSync('../secret.js', join(root, 'out.js'));
      const cases: [string, string][] = [
        ["import s from '../secret.js'; function handler() { return s; }", 'climbs above the root'],
        [
          "import s from './out.js'; function handler() { return s; }",
          'outside the module directory',
        ],
        [
          "import s from './missing.js'; function handler() { return s; }",
          "imported by handler 'h'",
        ],
      ];
      for (const [code, message] of cases) {
        const sandbox = await runtime();
        sandbox.setModuleDirectory(root);
        sandbox.addHandler('h', code);
        const error = await expectRejectCode(sandbox.getLoadedSandbox(), ERR_INVALID_ARG);
        expect(error.message).toContain(message);
        expect(error.message).not.toContain(scratch);
        await sandbox[Symbol.asyncDispose]();
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('checks its arguments and refuses a call after getLoadedSandbox()', async () => {
    const sandbox = await runtime();
    expectThrowCode(() => sandbox.setModuleDirectory('/nonexistent/hyperlight'), ERR_INVALID_ARG);
    const set = sandbox.setModuleDirectory.bind(sandbox) as (d: unknown, n?: unknown) => void;
    expectThrowCode(() => set(42), ERR_INVALID_ARG);
    expectThrowCode(() => set(FIXTURES, 'host'), ERR_INVALID_ARG);
    sandbox.setModuleDirectory(FIXTURES, 'lib');
    sandbox.addHandler(
      'h',
      "import { add } from 'lib:math.js'; function handler() { return add(2, 2); }",
    );
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('h', {})).toBe(4);
    expectThrowCode(() => sandbox.setModuleDirectory(FIXTURES), ERR_CONSUMED);
    await loaded[Symbol.asyncDispose]();
  });
});
