import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, createStackMapper } from '@hyperlight/bundler';
import {
  declareHostModules,
  defineHostModule,
  envModule,
  hostFunction,
} from '@hyperlight/host-modules';
import { ERR_HANDLER, isHyperlightError } from '@hyperlight/js-host-api';
import { createSandbox, defineSandbox } from '@hyperlight/sandbox';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

// The TypeScript layers together, as a user combines them: host modules from
// @hyperlight/host-modules and handlers from @hyperlight/bundler in a @hyperlight/sandbox
// definition, with the generated handler map typing call() and the bundle's source maps
// mapping guest stacks.

const here = fileURLToPath(new URL('..', import.meta.url));
const project = path.join(here, 'temp', 'sdk-layers');

const users = defineHostModule('users', {
  lookup: hostFunction({
    args: [z.string().regex(/^u\d+$/)],
    params: ['id'],
    returns: z.object({ name: z.string() }),
    handler: async (id) => ({ name: `user ${id.slice(1)}` }),
  }),
});
const env = envModule({ values: { REGION: 'eu-west-1' } });

const GREET = `import { defineHandler } from '@hyperlight/bundler/guest';
import { get } from 'host:env';
import { lookup } from 'host:users';

export default defineHandler<{ id: string }, { name: string; region: string | null }>((event) => ({
  name: lookup(event.id).name,
  region: get('REGION') as string | null,
}));
`;
const FAIL = `function check(n: number): number {
  if (n > 1) throw new RangeError('too big: ' + n);
  return n;
}
export function handler(event: { n: number }): number {
  return check(event.n);
}
`;

let out: Awaited<ReturnType<typeof bundle>>;

beforeAll(async () => {
  rmSync(project, { recursive: true, force: true });
  mkdirSync(path.join(project, 'src'), { recursive: true });
  writeFileSync(path.join(project, 'src', 'greet.ts'), GREET);
  writeFileSync(path.join(project, 'src', 'fail.ts'), FAIL);
  writeFileSync(path.join(project, 'src', 'host-modules.d.ts'), declareHostModules([users, env]));
  out = await bundle({
    root: project,
    handlers: { greet: 'src/greet.ts', fail: 'src/fail.ts' },
    typecheck: true,
  });
  writeFileSync(path.join(project, 'handlers.d.ts'), out.declaration ?? '');
}, 120_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('host-modules + bundler + sandbox', () => {
  it('a definition with bundled handlers, host modules and mapStack runs, validates and maps', async () => {
    const sandbox = await createSandbox(
      defineSandbox({
        handlers: out.sources,
        hostModules: [users, env],
        mapStack: createStackMapper(out),
      }),
    );
    try {
      expect(await sandbox.call('greet', { id: 'u42' })).toEqual({
        name: 'user 42',
        region: 'eu-west-1',
      });
      const invalid = await sandbox.call('greet', { id: 'admin' }).catch((e: unknown) => e);
      expect(isHyperlightError(invalid, ERR_HANDLER)).toBe(true);
      expect((invalid as { guestMessage: string }).guestMessage).toMatch(
        /^host:users\.lookup: 1 invalid argument \(ERR_HOST_ARGUMENTS\)\n {2}arguments\[0\]: /,
      );
      const failed = (await sandbox.call('fail', { n: 5 }).catch((e: unknown) => e)) as {
        guestStack: string;
      };
      expect(failed.guestStack).toMatch(/at check \(src\/fail\.ts:2:\d+\)/);
      expect(failed.guestStack).toMatch(/at handler \(src\/fail\.ts:6:\d+\)/);
    } finally {
      await sandbox.close();
    }
  }, 60_000);

  it('the generated handler map types sandbox.call()', () => {
    const check = path.join(project, 'check.ts');
    writeFileSync(
      check,
      [
        "import { createSandbox, defineSandbox } from '@hyperlight/sandbox';",
        "import type { Handlers } from './handlers';",
        'declare const sources: { greet: string; fail: string };',
        'export async function run() {',
        '  const sandbox = await createSandbox(defineSandbox<Handlers>({ handlers: sources }));',
        "  const greeting: { name: string; region: string | null } = await sandbox.call('greet', { id: 'u1' });",
        "  const n: number = await sandbox.call('fail', { n: 1 });",
        "  await sandbox.call('greet', { id: 1 });",
        "  await sandbox.call('nope', {});",
        '  return [greeting, n];',
        '}',
      ].join('\n'),
    );
    const program = ts.createProgram([check], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: [],
      skipLibCheck: true,
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map((d) => (d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0));
    expect(errors).toEqual([8, 9]);
  }, 60_000);
});
